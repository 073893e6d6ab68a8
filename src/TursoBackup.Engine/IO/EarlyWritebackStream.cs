using System;
using System.IO;
using System.Runtime.InteropServices;

namespace TursoBackup.Engine.IO
{
    /// <summary>
    /// Passes writes to a file and, on Linux, asks the kernel to start writing each completed 16 MiB range to disk
    /// (sync_file_range with SYNC_FILE_RANGE_WRITE, which does not wait). The final fsync then has little left to do,
    /// so durability overlaps the copy instead of following it. Elsewhere it is a plain pass-through.
    /// </summary>
    public sealed class EarlyWritebackStream : ForwardOnlyStream
    {
        private const long Range = 16L << 20;
        private const uint SYNC_FILE_RANGE_WRITE = 2;
        private static bool supported = RuntimeInformation.IsOSPlatform(OSPlatform.Linux);
        private readonly FileStream inner;
        private long startedUpTo;

        public EarlyWritebackStream(FileStream inner)
        {
            this.inner = inner;
        }

        public override bool CanWrite => true;

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Count += count;
            if (supported && Count - startedUpTo >= Range)
            {
                inner.Flush(false);
                try
                {
                    int fd = (int)inner.SafeFileHandle.DangerousGetHandle();
                    if (sync_file_range(fd, startedUpTo, Count - startedUpTo, SYNC_FILE_RANGE_WRITE) != 0) supported = false;
                }
                catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException)
                {
                    supported = false;
                }
                startedUpTo = Count;
            }
        }

        public override void Flush() => inner.Flush();

        [DllImport("libc", SetLastError = true)]
        private static extern int sync_file_range(int fd, long offset, long nbytes, uint flags);
    }
}
