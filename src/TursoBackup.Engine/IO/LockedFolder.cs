using System;
using System.Globalization;
using System.IO;
using System.Linq;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.IO
{
    /// <summary>
    /// A work folder (a vault's staging or removal folder, a backup's scratch folder) owned by whoever holds its
    /// <see cref="OwnerLock"/>: the hidden sibling <c>.&lt;name&gt;.lock</c>, taken before the folder exists and released only
    /// after it is gone. <see cref="CleanAbandoned"/> removes a folder only when it can take that lock — the owner is
    /// gone, however it ended (kill -9 included) and whichever PID namespace or host it ran in. A process id is never
    /// evidence.
    /// </summary>
    public sealed class LockedFolder : IDisposable
    {
        /// <summary>
        /// How long a folder without a lock file (made by a version before the locks, or whose lock file was deleted by
        /// hand) must have had nothing written in it before cleanup removes it.
        /// </summary>
        public static readonly TimeSpan UnlockedAge = TimeSpan.FromHours(24);

        private OwnerLock ownerLock;

        private LockedFolder(string path, OwnerLock ownerLock)
        {
            Path = path;
            this.ownerLock = ownerLock;
        }

        /// <summary>The folder.</summary>
        public string Path { get; }

        /// <summary>
        /// Takes the lock of <paramref name="parent"/>/<paramref name="name"/> and, when <paramref name="create"/>, makes the
        /// folder (owner-only). Without <paramref name="create"/> the caller brings the folder into being itself (a rename
        /// into the reserved name). <paramref name="description"/> says who holds it, for people looking at the lock file.
        /// </summary>
        public static LockedFolder Take(string parent, string name, string description, bool create = true)
        {
            OwnerOnly.CreateDirectory(parent);
            string path = System.IO.Path.Combine(System.IO.Path.GetFullPath(parent), name);
            string lockPath = OwnerLock.PathFor(path);
            OwnerLock held = null;
            // The name is new, so nobody owns it; but a cleaner in another process may be probing the fresh lock file
            // for an instant (between our open and our lock, or just before): try again for a moment.
            for (int attempt = 0; held == null && attempt < 50; attempt++)
            {
                if (attempt > 0) System.Threading.Thread.Sleep(Math.Min(100, 5 * attempt));
                try
                {
                    held = OwnerLock.TryAcquire(lockPath);
                }
                catch (IOException ex) when (attempt < 49 && !DiskSpace.IsFull(ex))
                {
                }
            }
            if (held == null || Directory.Exists(path))
            {
                held?.Release(deleteFile: false);
                throw new TursoBackupException(FailureKind.AlreadyExists,
                    $"The work folder '{path}' is already in use by another process. Run the command again (a new folder name is chosen each time).", path);
            }
            try
            {
                held.Describe(string.Format(CultureInfo.InvariantCulture, "{0}; process {1} on {2}, since {3:yyyy-MM-ddTHH:mm:ssZ}\n",
                    description, System.Diagnostics.Process.GetCurrentProcess().Id, Environment.MachineName, DateTimeOffset.UtcNow));
                if (create) OwnerOnly.CreateDirectory(path);
            }
            catch
            {
                held.Release();
                throw;
            }
            return new LockedFolder(path, held);
        }

        /// <summary>
        /// Deletes the folder (if it is still there: a published staging folder was renamed away) and releases the lock.
        /// When the folder cannot be deleted, the lock file stays (unlocked) so the next cleanup removes the folder.
        /// </summary>
        public void Dispose()
        {
            if (ownerLock == null) return;
            DurableFile.TryDeleteDirectory(Path);
            ownerLock.Release(deleteFile: !Directory.Exists(Path));
            ownerLock = null;
        }

        /// <summary>
        /// Removes the folders in <paramref name="parent"/> whose names start with <paramref name="prefix"/> and whose owner
        /// is gone: those whose lock file can be taken, and those without a lock file in which nothing was written for
        /// <see cref="UnlockedAge"/>. Lock files left without their folder are removed when they can be taken and were not written for 10 minutes (an owner is between taking its lock and making its folder only for an instant). Folders of
        /// live owners, symbolic links and anything not named with <paramref name="prefix"/> are never touched. Returns
        /// the number of folders removed.
        /// </summary>
        public static int CleanAbandoned(string parent, string prefix = "", Func<DateTime> utcNow = null)
        {
            if (!Directory.Exists(parent)) return 0;
            DateTime now = (utcNow ?? (() => DateTime.UtcNow))();
            int removed = 0;
            string[] folders, locks;
            try
            {
                folders = Directory.GetDirectories(parent, prefix + "*");
                locks = Directory.GetFiles(parent, "." + prefix + "*.lock");
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return 0;
            }
            foreach (string folder in folders)
            {
                string name = System.IO.Path.GetFileName(folder);
                if (name.StartsWith(".", StringComparison.Ordinal) || IsLink(folder)) continue;
                string lockPath = OwnerLock.PathFor(folder);
                if (File.Exists(lockPath))
                {
                    if (IsLink(lockPath)) continue;
                    var taken = TryTake(lockPath);
                    if (taken == null) continue; // its owner lives (or is just releasing it)
                    DurableFile.TryDeleteDirectory(folder);
                    bool gone = !Directory.Exists(folder);
                    taken.Release(deleteFile: gone);
                    if (gone) removed++;
                }
                else if (NewestWrite(folder) is DateTime newest && now - newest >= UnlockedAge)
                {
                    // No lock file: made before folders had locks (a name ending .pid<N>), or its lock file was removed.
                    // Its owner may live (an older version in another PID namespace), so only a day without writes counts.
                    if (File.Exists(lockPath)) continue; // an owner appeared meanwhile
                    DurableFile.TryDeleteDirectory(folder);
                    if (!Directory.Exists(folder)) removed++;
                }
            }
            foreach (string lockPath in locks)
            {
                string lockName = System.IO.Path.GetFileName(lockPath);
                string folder = System.IO.Path.Combine(parent, lockName.Substring(1, lockName.Length - 1 - ".lock".Length));
                if (Directory.Exists(folder) || IsLink(lockPath)) continue;
                // Its owner may be between taking the lock and making the folder, or even between creating the lock
                // file and locking it: only a lock file that has not been written for a while and that we can take is stale.
                if (!(LastWrite(lockPath) is DateTime written) || now - written < OrphanLockAge) continue;
                var taken = TryTake(lockPath);
                if (taken == null) continue;
                taken.Release(deleteFile: !Directory.Exists(folder));
            }
            return removed;
        }

        /// <summary>How long a lock file without its folder must be unwritten before cleanup may take and remove it.</summary>
        private static readonly TimeSpan OrphanLockAge = TimeSpan.FromMinutes(10);

        /// <summary>The lock of a folder we found, or null when it is held (or vanished while we looked: its owner just released it).</summary>
        private static OwnerLock TryTake(string lockPath)
        {
            try { return OwnerLock.TryAcquire(lockPath); }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { return null; }
        }

        private static DateTime? LastWrite(string path)
        {
            try { return File.Exists(path) ? File.GetLastWriteTimeUtc(path) : (DateTime?)null; }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { return null; }
        }

        /// <summary>The newest write time of the folder and everything in it; null when it cannot be read (or is gone).</summary>
        private static DateTime? NewestWrite(string folder)
        {
            try
            {
                var info = new DirectoryInfo(folder);
                if (!info.Exists) return null;
                DateTime newest = info.LastWriteTimeUtc;
                foreach (var entry in info.EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
                {
                    if (entry.LastWriteTimeUtc > newest) newest = entry.LastWriteTimeUtc;
                }
                return newest;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                return null;
            }
        }

        private static bool IsLink(string path)
        {
            try { return (File.GetAttributes(path) & FileAttributes.ReparsePoint) != 0; }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { return true; }
        }
    }
}
