using System;
using System.Collections.Concurrent;
using System.IO;
using System.Security.Cryptography;
using System.Threading;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.IO
{
    /// <summary>
    /// A write-only stream that writes to an inner stream and computes the SHA-256 of everything written on a second
    /// thread, so hashing overlaps reading and writing instead of following them. Memory is bounded: at most
    /// <see cref="MaxQueued"/> chunks wait for the hasher.
    /// </summary>
    public sealed class ParallelHashStream : Stream
    {
        private const int MaxQueued = 4;
        private readonly Stream inner;
        private readonly BlockingCollection<ArraySegment<byte>> queue = new BlockingCollection<ArraySegment<byte>>(MaxQueued);
        private readonly ConcurrentBag<byte[]> pool = new ConcurrentBag<byte[]>();
        private readonly Thread hasher;
        private readonly SHA256 sha = SHA256.Create();
        private Exception hasherError;
        private string hash;
        private long length;

        public ParallelHashStream(Stream inner)
        {
            this.inner = inner;
            hasher = new Thread(HashLoop) { IsBackground = true, Name = "TursoBackup SHA-256" };
            hasher.Start();
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => length;
        public override long Position { get => length; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (hash != null) throw new InvalidOperationException("The stream is finished.");
            inner.Write(buffer, offset, count);
            if (!pool.TryTake(out var copy) || copy.Length < count) copy = new byte[Math.Max(count, ArtifactStreams.BufferSize)];
            Buffer.BlockCopy(buffer, offset, copy, 0, count);
            queue.Add(new ArraySegment<byte>(copy, 0, count));
            length += count;
        }

        /// <summary>Waits for the hasher and returns the SHA-256 (lowercase hex) of all bytes written.</summary>
        public string Finish()
        {
            if (hash != null) return hash;
            queue.CompleteAdding();
            hasher.Join();
            if (hasherError != null) throw new IOException("Hashing failed: " + hasherError.Message, hasherError);
            sha.TransformFinalBlock(new byte[0], 0, 0);
            hash = Hex.Of(sha.Hash);
            return hash;
        }

        private void HashLoop()
        {
            try
            {
                foreach (var chunk in queue.GetConsumingEnumerable())
                {
                    sha.TransformBlock(chunk.Array, chunk.Offset, chunk.Count, null, 0);
                    pool.Add(chunk.Array);
                }
            }
            catch (Exception ex)
            {
                hasherError = ex;
                // Keep draining so the writer never blocks on a full queue.
                foreach (var _ in queue.GetConsumingEnumerable()) { }
            }
        }

        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                if (!queue.IsAddingCompleted) queue.CompleteAdding();
                if (hasher.IsAlive) hasher.Join();
                queue.Dispose();
                sha.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
