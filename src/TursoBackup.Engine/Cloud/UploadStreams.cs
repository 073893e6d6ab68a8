using System;
using System.IO;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Cloud
{
    /// <summary>
    /// The bytes sent of one upload, told to a (done, total) callback at most about once a MiB and once at the end. A
    /// retried request starts again from its offset (<see cref="Restart"/>), so the count may step back.
    /// </summary>
    internal sealed class UploadProgress
    {
        private const long Step = 1024 * 1024;
        private readonly long total;
        private readonly Action<long, long> report;
        private long done, reported = -1;

        public UploadProgress(long total, Action<long, long> report)
        {
            this.total = total;
            this.report = report;
        }

        public void Restart(long offset)
        {
            done = offset;
            if (offset < reported) reported = offset - Step;
        }

        public void Add(int bytes)
        {
            done += bytes;
            if (done - reported >= Step) Tell();
        }

        public void Done()
        {
            done = total;
            if (reported != total) Tell();
        }

        private void Tell()
        {
            reported = done;
            report?.Invoke(done, total);
        }
    }

    /// <summary>
    /// Up to <c>length</c> bytes of a file from where it stands, for a request body: counts into an <see cref="UploadProgress"/>
    /// and closes the file when the request is disposed. Reads straight from the file, so memory stays flat.
    /// </summary>
    internal sealed class UploadReadStream : ForwardOnlyStream
    {
        private readonly Stream file;
        private readonly UploadProgress meter;
        private long left;

        public UploadReadStream(Stream file, long length, UploadProgress meter)
        {
            this.file = file;
            this.meter = meter;
            left = Math.Max(0, length);
        }

        public override bool CanRead => true;

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (left <= 0) return 0;
            int n = file.Read(buffer, offset, (int)Math.Min(count, left));
            if (n == 0)
            {
                throw new IOException("The file being uploaded became shorter while it was read.");
            }
            left -= n;
            Count += n;
            meter.Add(n);
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) file.Dispose();
            base.Dispose(disposing);
        }
    }
}
