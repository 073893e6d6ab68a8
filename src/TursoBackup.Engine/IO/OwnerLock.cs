using System;
using System.IO;

namespace TursoBackup.Engine.IO
{
    /// <summary>
    /// A lock file held open with an operating-system lock for as long as its owner lives: proof of ownership that
    /// works where a process id does not (containers with their own PID namespace, two hosts sharing a vault on
    /// NFS or SMB). On Unix .NET takes <c>flock(LOCK_EX|LOCK_NB)</c> for <see cref="FileShare.None"/> (NFS maps it to
    /// a server-side byte-range lock); on Windows the share mode itself excludes every other opener. The kernel
    /// releases the lock when the owner exits in any way, kill -9 included, so "the lock can be taken" means "the
    /// owner is gone". Never decide abandonment by a PID alone.
    /// </summary>
    public sealed class OwnerLock : IDisposable
    {
        private FileStream stream;

        private OwnerLock(string path, FileStream stream)
        {
            Path = path;
            this.stream = stream;
        }

        /// <summary>The lock file.</summary>
        public string Path { get; }

        /// <summary>The lock file that guards <paramref name="fileOrFolder"/>: a hidden sibling named after it.</summary>
        public static string PathFor(string fileOrFolder)
        {
            string full = System.IO.Path.GetFullPath(fileOrFolder).TrimEnd(System.IO.Path.DirectorySeparatorChar, System.IO.Path.AltDirectorySeparatorChar);
            string name = System.IO.Path.GetFileName(full);
            return System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full), (name.StartsWith(".", StringComparison.Ordinal) ? "" : ".") + name + ".lock");
        }

        /// <summary>Takes the lock at <paramref name="lockPath"/> (creating the file owner-only), or returns null when another holder has it.</summary>
        public static OwnerLock TryAcquire(string lockPath)
        {
            for (int attempt = 0; attempt < 3; attempt++)
            {
                FileStream fs;
                try
                {
                    fs = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
                }
                catch (IOException) when (File.Exists(lockPath))
                {
                    return null; // held by someone else
                }
                catch (UnauthorizedAccessException) when (File.Exists(lockPath))
                {
                    return null; // Windows reports a sharing violation on some file systems this way
                }
                catch (IOException)
                {
                    continue; // the file vanished while we probed it (its holder released it): look again
                }
                // A releaser may have deleted the file between our open and our lock: a lock on an unlinked file
                // guards nothing. Only keep the lock when the path still names the file we locked.
                if (StillNamesOurFile(lockPath, fs))
                {
                    OwnerOnly.File(lockPath);
                    return new OwnerLock(lockPath, fs);
                }
                fs.Dispose();
            }
            return null;
        }

        /// <summary>Takes the lock, waiting up to <paramref name="timeout"/>; null when it stayed held.</summary>
        public static OwnerLock Acquire(string lockPath, TimeSpan timeout, System.Threading.CancellationToken cancel = default(System.Threading.CancellationToken))
        {
            var until = DateTime.UtcNow + timeout;
            int wait = 10;
            while (true)
            {
                var held = TryAcquire(lockPath);
                if (held != null) return held;
                if (DateTime.UtcNow >= until) return null;
                cancel.WaitHandle.WaitOne(wait);
                cancel.ThrowIfCancellationRequested();
                wait = Math.Min(200, wait * 2);
            }
        }

        /// <summary>Whether a live owner holds the lock at <paramref name="lockPath"/> (a missing file is not held).</summary>
        public static bool IsHeld(string lockPath)
        {
            if (!File.Exists(lockPath)) return false;
            try
            {
                using (new FileStream(lockPath, FileMode.Open, FileAccess.Read, FileShare.None, 1, FileOptions.None)) return false;
            }
            catch (FileNotFoundException) { return false; }
            catch (DirectoryNotFoundException) { return false; }
            catch (IOException) { return true; }
            catch (UnauthorizedAccessException) { return File.Exists(lockPath); }
        }

        /// <summary>Writes a line about the holder into the lock file (who, for messages naming the holder); best effort.</summary>
        public void Describe(string text)
        {
            try
            {
                var bytes = new System.Text.UTF8Encoding(false).GetBytes(text);
                stream.SetLength(0);
                stream.Position = 0;
                stream.Write(bytes, 0, bytes.Length);
                stream.Flush();
            }
            catch (IOException) { }
        }

        /// <summary>What the holder of <paramref name="lockPath"/> wrote about itself (empty when unreadable).</summary>
        public static string ReadDescription(string lockPath)
        {
            // The holder's share mode refuses every opener on Windows; on Unix a read through libc takes no flock.
            if (Windows) return "";
            var bytes = ReadWithoutLocking(lockPath, 4096);
            return bytes == null ? "" : new System.Text.UTF8Encoding(false).GetString(bytes).Trim();
        }

        /// <summary>Releases the lock; <paramref name="deleteFile"/> also removes the lock file (only its holder may).</summary>
        public void Release(bool deleteFile = true)
        {
            if (stream == null) return;
            // Delete while still holding it, so nobody can take a lock on the file we are about to unlink and think it
            // guards anything (TryAcquire re-checks the path after locking).
            if (deleteFile && !Windows) DurableFile.TryDelete(Path);
            stream.Dispose();
            stream = null;
            if (deleteFile && Windows) DurableFile.TryDelete(Path);
        }

        public void Dispose() => Release();

        private static readonly bool Windows = System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Windows);

        /// <summary>
        /// After locking, whether <paramref name="lockPath"/> still names the file we locked: a token written through
        /// our handle must read back through the path (a file unlinked and re-created by others reads differently).
        /// Windows allows no unlink of a file open without FileShare.Delete, so the check is not needed there.
        /// </summary>
        private static bool StillNamesOurFile(string lockPath, FileStream fs)
        {
            if (Windows) return true;
            var token = System.Text.Encoding.ASCII.GetBytes("owner " + Guid.NewGuid().ToString("N") + "\n");
            fs.SetLength(0);
            fs.Position = 0;
            fs.Write(token, 0, token.Length);
            fs.Flush();
            var seen = ReadWithoutLocking(lockPath, token.Length + 1);
            if (seen == null || seen.Length != token.Length) return false;
            for (int i = 0; i < token.Length; i++) if (seen[i] != token[i]) return false;
            return true;
        }

        /// <summary>
        /// Reads up to <paramref name="max"/> bytes through libc: every .NET FileStream open takes a flock (LOCK_SH for
        /// shared modes), which our own exclusive lock would refuse. Null when the file cannot be read.
        /// </summary>
        private static byte[] ReadWithoutLocking(string path, int max)
        {
            try
            {
                int fd = Native.open(path, 0 /* O_RDONLY */);
                if (fd < 0) return null;
                try
                {
                    var buffer = new byte[max];
                    int total = 0;
                    while (total < max)
                    {
                        long n = (long)Native.read(fd, buffer, total, (IntPtr)(max - total));
                        if (n <= 0) break;
                        total += (int)n;
                    }
                    Array.Resize(ref buffer, total);
                    return buffer;
                }
                finally { Native.close(fd); }
            }
            catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException)
            {
                return null;
            }
        }

        private static class Native
        {
            [System.Runtime.InteropServices.DllImport("libc", SetLastError = true, CharSet = System.Runtime.InteropServices.CharSet.Ansi)]
            public static extern int open(string path, int flags);

            public static IntPtr read(int fd, byte[] buffer, int offset, IntPtr count)
            {
                var handle = System.Runtime.InteropServices.GCHandle.Alloc(buffer, System.Runtime.InteropServices.GCHandleType.Pinned);
                try { return readRaw(fd, handle.AddrOfPinnedObject() + offset, count); }
                finally { handle.Free(); }
            }

            [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "read", SetLastError = true)]
            private static extern IntPtr readRaw(int fd, IntPtr buffer, IntPtr count);

            [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
            public static extern int close(int fd);
        }
    }
}
