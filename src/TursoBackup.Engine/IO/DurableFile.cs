using System;
using System.IO;
using System.Runtime.InteropServices;

namespace TursoBackup.Engine.IO
{
    /// <summary>
    /// Durable-write helpers: write under a temporary name, flush to disk, then rename into place,
    /// and flush the directory so the rename itself survives a power cut.
    /// </summary>
    public static class DurableFile
    {
        /// <summary>Writes text to <paramref name="path"/> atomically (temporary name, fsync, rename).</summary>
        /// <summary>
        /// Writes <paramref name="text"/> as a NEW file (never replacing one) and fsyncs it; the folder is not flushed. For
        /// files inside a private folder that is itself published by rename (a backup's staging folder): nobody reads
        /// the file before the folder is flushed and renamed, so no temporary name is needed.
        /// </summary>
        public static void WriteNewText(string path, string text)
        {
            using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                OwnerOnly.File(path);
                var bytes = new System.Text.UTF8Encoding(false).GetBytes(text);
                fs.Write(bytes, 0, bytes.Length);
                fs.Flush(true);
            }
        }

        public static void WriteAllText(string path, string text)
        {
            string dir = Path.GetDirectoryName(Path.GetFullPath(path));
            string tmp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".tmp");
            try
            {
                using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    OwnerOnly.File(tmp);
                    var bytes = new System.Text.UTF8Encoding(false).GetBytes(text);
                    fs.Write(bytes, 0, bytes.Length);
                    fs.Flush(true);
                }
                ReplaceFile(tmp, path);
                FlushDirectory(dir);
            }
            finally
            {
                if (File.Exists(tmp)) TryDelete(tmp);
            }
        }

        /// <summary>Flushes an existing file's data to disk.</summary>
        public static void FlushFile(string path)
        {
            OwnerOnly.File(path);
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
            {
                fs.Flush(true);
            }
        }

        /// <summary>Renames <paramref name="source"/> over <paramref name="destination"/> (atomic on one volume).</summary>
        public static void ReplaceFile(string source, string destination)
        {
            if (File.Exists(destination))
            {
                // rename(2) on Unix, ReplaceFile on Windows: the destination never disappears half-way.
                File.Replace(source, destination, null, true);
            }
            else
            {
                try
                {
                    File.Move(source, destination);
                }
                catch (IOException) when (File.Exists(destination) && File.Exists(source))
                {
                    // Another writer created the destination in the meantime (two backups creating one vault).
                    File.Replace(source, destination, null, true);
                }
            }
        }

        /// <summary>
        /// fsync a directory on Unix so a rename in it is durable. Windows needs (and allows) no such step.
        /// Returns whether the directory was flushed.
        /// </summary>
        public static bool FlushDirectory(string dir)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return false;
            try
            {
                int fd = Native.open(dir, 0 /* O_RDONLY */);
                if (fd < 0) return false;
                try { return Native.fsync(fd) == 0; } finally { Native.close(fd); }
            }
            catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException)
            {
                // Best effort: a platform without these entry points still has the file data flushed.
                return false;
            }
        }

        public static void TryDelete(string path)
        {
            try { if (File.Exists(path)) File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }

        public static void TryDeleteDirectory(string path)
        {
            try { if (Directory.Exists(path)) Directory.Delete(path, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }

        private static class Native
        {
            [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)]
            public static extern int open(string path, int flags);

            [DllImport("libc", SetLastError = true)]
            public static extern int fsync(int fd);

            [DllImport("libc", SetLastError = true)]
            public static extern int close(int fd);
        }
    }
}
