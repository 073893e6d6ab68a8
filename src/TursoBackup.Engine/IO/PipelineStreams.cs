using System;
using System.Collections.Concurrent;
using System.IO;
using System.Threading;

namespace TursoBackup.Engine.IO
{
    /// <summary>
    /// A write-only stream that hands what is written to a second thread, which writes it to the inner stream: the
    /// writer (a compressor) and the inner stream's work (encryption, hashing, the file) overlap. A few fixed buffers
    /// (memory stays flat); an exception of the inner stream is thrown by the next Write, Flush or Dispose.
    /// </summary>
    public sealed class WriteBehindStream : ForwardOnlyStream
    {
        private const int BufferSize = 1 << 20;
        private const int Depth = 4;
        private readonly Stream inner;
        private readonly BlockingCollection<(byte[] Buffer, int Count)> queue = new BlockingCollection<(byte[], int)>(Depth);
        private readonly BlockingCollection<byte[]> free = new BlockingCollection<byte[]>(Depth + 2);
        private readonly Thread worker;
        private byte[] current;
        private int filled;
        private Exception failure;
        private bool finished;

        public WriteBehindStream(Stream inner)
        {
            this.inner = inner;
            for (int i = 0; i < Depth + 2; i++) free.Add(new byte[BufferSize]);
            worker = new Thread(Run) { IsBackground = true, Name = "TursoBackup write-behind" };
            worker.Start();
        }

        public override bool CanWrite => true;

        private void Run()
        {
            try
            {
                foreach (var (buffer, count) in queue.GetConsumingEnumerable())
                {
                    if (failure == null)
                    {
                        try { inner.Write(buffer, 0, count); }
                        catch (Exception ex) { failure = ex; }
                    }
                    free.Add(buffer);
                }
            }
            catch (Exception ex)
            {
                failure = failure ?? ex;
            }
        }

        private void ThrowIfFailed()
        {
            var f = failure;
            if (f != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(f).Throw();
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            while (count > 0)
            {
                ThrowIfFailed();
                if (current == null) { current = free.Take(); filled = 0; }
                int n = Math.Min(count, current.Length - filled);
                Buffer.BlockCopy(buffer, offset, current, filled, n);
                filled += n; offset += n; count -= n;
                if (filled == current.Length) Hand();
            }
        }

        private void Hand()
        {
            if (current == null || filled == 0) return;
            queue.Add((current, filled));
            current = null;
            filled = 0;
        }

        /// <summary>Hands what was written on to the worker (without waiting for it: <see cref="Finish"/> does).</summary>
        public override void Flush()
        {
            ThrowIfFailed();
            Hand();
        }

        /// <summary>Writes what is left and waits for the worker; rethrows its failure.</summary>
        public void Finish()
        {
            if (finished) return;
            finished = true;
            Hand();
            queue.CompleteAdding();
            worker.Join();
            ThrowIfFailed();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                if (!finished)
                {
                    finished = true;
                    queue.CompleteAdding();
                    worker.Join();
                }
                queue.Dispose();
                free.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// A read-only stream whose inner stream is read ahead on a second thread (decryption, hashing, the file) while the
    /// reader (a decompressor) works on what came before. A few fixed buffers; an exception of the inner stream is
    /// thrown by the Read that reaches it, in order.
    /// </summary>
    public sealed class ReadAheadStream : ForwardOnlyStream
    {
        private const int BufferSize = 1 << 20;
        private const int Depth = 4;
        private readonly Stream inner;
        private readonly BlockingCollection<(byte[] Buffer, int Count, Exception Failure)> queue = new BlockingCollection<(byte[], int, Exception)>(Depth);
        private readonly BlockingCollection<byte[]> free = new BlockingCollection<byte[]>(Depth + 2);
        private readonly CancellationTokenSource stop = new CancellationTokenSource();
        private readonly Thread worker;
        private byte[] current;
        private int position, count;
        private bool ended;

        public ReadAheadStream(Stream inner)
        {
            this.inner = inner;
            for (int i = 0; i < Depth + 2; i++) free.Add(new byte[BufferSize]);
            worker = new Thread(Run) { IsBackground = true, Name = "TursoBackup read-ahead" };
            worker.Start();
        }

        public override bool CanRead => true;

        private void Run()
        {
            try
            {
                while (true)
                {
                    var buffer = free.Take(stop.Token);
                    int n;
                    try
                    {
                        n = 0;
                        while (n < buffer.Length)
                        {
                            int r = inner.Read(buffer, n, buffer.Length - n);
                            if (r <= 0) break;
                            n += r;
                        }
                    }
                    catch (Exception ex)
                    {
                        queue.Add((buffer, 0, ex), stop.Token);
                        return;
                    }
                    queue.Add((buffer, n, null), stop.Token);
                    if (n == 0) return;
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                queue.CompleteAdding();
            }
        }

        public override int Read(byte[] buffer, int offset, int wanted)
        {
            if (wanted <= 0) return 0;
            while (current == null || position == count)
            {
                if (ended) return 0;
                if (current != null) { free.Add(current); current = null; }
                if (!queue.TryTake(out var next, Timeout.Infinite)) { ended = true; return 0; }
                if (next.Failure != null)
                {
                    ended = true;
                    free.Add(next.Buffer);
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(next.Failure).Throw();
                }
                if (next.Count == 0) { ended = true; free.Add(next.Buffer); return 0; }
                current = next.Buffer;
                position = 0;
                count = next.Count;
            }
            int n = Math.Min(wanted, count - position);
            Buffer.BlockCopy(current, position, buffer, offset, n);
            position += n;
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                stop.Cancel();
                // Unblock a worker waiting for a free buffer or a queue slot.
                while (queue.TryTake(out var item)) free.TryAdd(item.Buffer);
                worker.Join();
                stop.Dispose();
                queue.Dispose();
                free.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
