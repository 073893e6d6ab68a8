using System;
using System.IO;
using System.Runtime.InteropServices;

namespace TursoBackup.Engine.Files
{
    /// <summary>
    /// Reads a database file through a plain libc descriptor on Unix: no .NET FileStream, whose open takes a flock
    /// (emulated by fcntl locks on NFS), and a descriptor whose close the caller times — closing any descriptor of a file
    /// drops every POSIX lock this process holds on it, SQLite's included (decision 19), so it is closed only after the
    /// SQLite connection that holds the locks. On Windows a FileStream (locks there are per handle).
    /// </summary>
    internal sealed class RawFileReader : IDisposable
    {
        private static readonly bool Windows = RuntimeInformation.IsOSPlatform(OSPlatform.Windows);
        private int fd = -1;
        private FileStream stream;

        private RawFileReader() { }

        public static RawFileReader Open(string path)
        {
            var reader = new RawFileReader();
            if (Windows)
            {
                reader.stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1);
                return reader;
            }
            reader.fd = open(path, 0 /* O_RDONLY */);
            if (reader.fd < 0) throw new IOException($"Cannot open '{path}' for reading (errno {Marshal.GetLastWin32Error()}).");
            return reader;
        }

        /// <summary>Copies the whole file to <paramref name="output"/> (1 MiB reads); returns the bytes copied.</summary>
        public long CopyTo(Stream output, System.Threading.CancellationToken cancel)
        {
            var buffer = new byte[1 << 20];
            long offset = 0;
            while (true)
            {
                cancel.ThrowIfCancellationRequested();
                int n = ReadAt(offset, buffer, buffer.Length);
                if (n <= 0) return offset;
                output.Write(buffer, 0, n);
                offset += n;
            }
        }

        private int ReadAt(long offset, byte[] buffer, int count)
        {
            if (stream != null)
            {
                stream.Position = offset;
                return stream.Read(buffer, 0, count);
            }
            var handle = GCHandle.Alloc(buffer, GCHandleType.Pinned);
            try
            {
                long n = (long)pread(fd, handle.AddrOfPinnedObject(), (IntPtr)count, offset);
                if (n < 0) throw new IOException($"Reading the database failed (errno {Marshal.GetLastWin32Error()}).");
                return (int)n;
            }
            finally
            {
                handle.Free();
            }
        }

        public void Dispose()
        {
            stream?.Dispose();
            stream = null;
            if (fd >= 0) close(fd);
            fd = -1;
        }

        [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)]
        private static extern int open(string path, int flags);

        [DllImport("libc", SetLastError = true)]
        private static extern IntPtr pread(int fd, IntPtr buffer, IntPtr count, long offset);

        [DllImport("libc", SetLastError = true)]
        private static extern int close(int fd);
    }
}
