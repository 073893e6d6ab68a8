using System;
using System.Collections.Concurrent;
using System.IO;
using System.Security.Cryptography;
using System.Threading;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.IO
{
    /// <summary>
    /// SHA-256 computed on a second thread, so hashing overlaps reading and writing instead of following them.
    /// Memory is bounded: at most <see cref="MaxQueued"/> chunks wait for the hasher.
    /// </summary>
    public sealed class BackgroundSha256 : IDisposable
    {
        private const int MaxQueued = 4;
        private readonly BlockingCollection<ArraySegment<byte>> queue = new BlockingCollection<ArraySegment<byte>>(MaxQueued);
        private readonly ConcurrentBag<byte[]> pool = new ConcurrentBag<byte[]>();
        private readonly Thread thread;
        private readonly SHA256 sha = SHA256.Create();
        private Exception error;
        private string hash;

        public BackgroundSha256()
        {
            thread = new Thread(Loop) { IsBackground = true, Name = "TursoBackup SHA-256" };
            thread.Start();
        }

        /// <summary>Queues a copy of the bytes for hashing (blocks only when the hasher is 4 chunks behind).</summary>
        public void Add(byte[] buffer, int offset, int count)
        {
            if (count <= 0) return;
            if (hash != null) throw new InvalidOperationException("The hash is finished.");
            if (!pool.TryTake(out var copy) || copy.Length < count) copy = new byte[Math.Max(count, ArtifactStreams.BufferSize)];
            Buffer.BlockCopy(buffer, offset, copy, 0, count);
            queue.Add(new ArraySegment<byte>(copy, 0, count));
        }

        /// <summary>Waits for the hasher; the SHA-256 (lowercase hex) of everything added.</summary>
        public string Finish()
        {
            if (hash != null) return hash;
            queue.CompleteAdding();
            thread.Join();
            if (error != null) throw new IOException("Hashing failed: " + error.Message, error);
            sha.TransformFinalBlock(new byte[0], 0, 0);
            hash = Hex.Of(sha.Hash);
            return hash;
        }

        private void Loop()
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
                error = ex;
                foreach (var _ in queue.GetConsumingEnumerable()) { } // never leave the producer blocked
            }
        }

        public void Dispose()
        {
            if (!queue.IsAddingCompleted) queue.CompleteAdding();
            if (thread.IsAlive) thread.Join();
            queue.Dispose();
            sha.Dispose();
        }
    }

    /// <summary>A write-only stream that writes to an inner stream and hashes what it writes on a second thread.</summary>
    public sealed class ParallelHashStream : ForwardOnlyStream
    {
        private readonly Stream inner;
        private readonly BackgroundSha256 hasher = new BackgroundSha256();

        public ParallelHashStream(Stream inner)
        {
            this.inner = inner;
        }

        public override bool CanWrite => true;

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            hasher.Add(buffer, offset, count);
            Count += count;
        }

        /// <summary>Waits for the hasher and returns the SHA-256 (lowercase hex) of all bytes written.</summary>
        public string Finish() => hasher.Finish();

        public override void Flush() => inner.Flush();

        protected override void Dispose(bool disposing)
        {
            if (disposing) hasher.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>A read-only stream that reads from an inner stream and hashes what it reads on a second thread.</summary>
    public sealed class ParallelHashReadStream : ForwardOnlyStream
    {
        private readonly Stream inner;
        private readonly BackgroundSha256 hasher = new BackgroundSha256();

        public ParallelHashReadStream(Stream inner)
        {
            this.inner = inner;
        }

        public override bool CanRead => true;

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, count);
            hasher.Add(buffer, offset, n);
            Count += n;
            return n;
        }

        /// <summary>Reads the rest of the inner stream, waits for the hasher and returns the SHA-256 of every byte read.</summary>
        public string Finish()
        {
            var rest = new byte[ArtifactStreams.BufferSize];
            while (Read(rest, 0, rest.Length) > 0) { }
            return hasher.Finish();
        }


        protected override void Dispose(bool disposing)
        {
            if (disposing) hasher.Dispose();
            base.Dispose(disposing);
        }
    }
}
