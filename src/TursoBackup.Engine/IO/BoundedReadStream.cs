using System;
using System.IO;

namespace TursoBackup.Engine.IO
{
    /// <summary>Reads at most <c>length</c> bytes of an inner stream from where it stands (a body between a header and a trailer).</summary>
    public sealed class BoundedReadStream : ForwardOnlyStream
    {
        private readonly Stream inner;
        private long left;

        public BoundedReadStream(Stream inner, long length)
        {
            this.inner = inner;
            left = Math.Max(0, length);
        }

        public override bool CanRead => true;

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (left <= 0) return 0;
            int n = inner.Read(buffer, offset, (int)Math.Min(count, left));
            left -= n;
            return n;
        }
    }
}
