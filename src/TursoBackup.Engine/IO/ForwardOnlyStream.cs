using System;
using System.IO;

namespace TursoBackup.Engine.IO
{
    /// <summary>
    /// Base of the engine's pass-through streams: not seekable, one direction. Derived streams override Read or Write
    /// (and Flush when they hold an inner stream); everything else is not supported.
    /// </summary>
    public abstract class ForwardOnlyStream : Stream
    {
        protected long Count;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => Count;
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
