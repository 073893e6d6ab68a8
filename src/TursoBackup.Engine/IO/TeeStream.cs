using System;
using System.IO;

namespace TursoBackup.Engine.IO
{
    /// <summary>A write-only stream that writes everything to two streams.</summary>
    public sealed class TeeStream : ForwardOnlyStream
    {
        private readonly Stream first;
        private readonly Stream second;

        public TeeStream(Stream first, Stream second)
        {
            this.first = first;
            this.second = second;
        }

        public override bool CanWrite => true;

        public override void Write(byte[] buffer, int offset, int count)
        {
            first.Write(buffer, offset, count);
            second.Write(buffer, offset, count);
            Count += count;
        }

        public override void Flush()
        {
            first.Flush();
            second.Flush();
        }

    }
}
