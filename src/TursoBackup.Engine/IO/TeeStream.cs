using System;
using System.IO;

namespace TursoBackup.Engine.IO
{
    /// <summary>A write-only stream that writes everything to two streams.</summary>
    public sealed class TeeStream : Stream
    {
        private readonly Stream first;
        private readonly Stream second;
        private long length;

        public TeeStream(Stream first, Stream second)
        {
            this.first = first;
            this.second = second;
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => length;
        public override long Position { get => length; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count)
        {
            first.Write(buffer, offset, count);
            second.Write(buffer, offset, count);
            length += count;
        }

        public override void Flush()
        {
            first.Flush();
            second.Flush();
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
