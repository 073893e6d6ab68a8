using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using SQLitePCL;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Files
{
    /// <summary>How a database file is to be written.</summary>
    public sealed class DatabaseWriteOptions
    {
        /// <summary>Replace an existing database (the cmdlet's -Force, after confirmation).</summary>
        public bool Overwrite { get; set; }

        /// <summary>A word naming the work in temporary and kept-aside file names: restore, pitr, import, branch, copy, scratch.</summary>
        public string Purpose { get; set; } = "restore";

        /// <summary>Permission bits of a new file (Unix); default 0600. A replaced database keeps its own.</summary>
        public int? Mode { get; set; }

        /// <summary>How long to wait for other connections' locks on an existing database.</summary>
        public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>The sentence that tells the admin how to allow replacing an existing file.</summary>
        public string ForceHint { get; set; } = "Use -Force to replace it (an emergency backup of it is taken first), or choose another -Destination.";

        public Action<string> Log { get; set; }
    }

    /// <summary>What <see cref="DatabaseWriter.Commit"/> did.</summary>
    public sealed class DatabaseWriteResult
    {
        public string Target { get; set; }

        /// <summary>An existing file was replaced.</summary>
        public bool Replaced { get; set; }

        /// <summary>The existing database was rewritten in place under its write lock (open connections see the new content).</summary>
        public bool InPlace { get; set; }

        /// <summary>The emergency backup of the replaced database, when it was filed into a vault.</summary>
        public BackupInfo EmergencyBackup { get; set; }

        /// <summary>The replaced database's consistent copy kept beside it (when no vault took it).</summary>
        public string EmergencyCopy { get; set; }

        /// <summary>A replaced file that could not be backed up (not a database, hot journal, unreadable), renamed aside.</summary>
        public string KeptAside { get; set; }

        /// <summary>Why it was kept aside.</summary>
        public string KeptAsideReason { get; set; }

        public long Bytes { get; set; }
    }

    /// <summary>Files a consistent copy of the database about to be replaced (e.g. into the vault, marked emergency); null keeps the copy beside it.</summary>
    public delegate BackupInfo EmergencyFiler(string consistentCopy, string replacedPath);

    /// <summary>
    /// The one owner of every database file the module writes (restore, point-in-time restore, import, branches,
    /// copies, Test-Backup's scratch). <see cref="Begin"/> resolves the target, applies the overwrite rule, removes
    /// abandoned temporary files of earlier runs (by their owner lock, never by a PID) and hands out an owner-only
    /// temporary file beside the target, guarded by an <see cref="OwnerLock"/>. The caller writes the new database
    /// there and calls <see cref="Commit"/>:
    /// <list type="bullet">
    /// <item>no target: fsync, rename into place (never over a file that appeared meanwhile), directory fsync;</item>
    /// <item>an existing database: rewritten IN PLACE through SQLite's backup API, which holds the database's write lock
    /// from its first step to its commit. Inside that lock a consistent copy of the old content is taken and filed as the
    /// emergency backup, so it holds every commit acknowledged before the replacement and none can be acknowledged and
    /// then lost; connections that other processes hold open see the restored database as one more commit (a rename
    /// would leave them writing into the unlinked old file). Mode, owner and inode stay;</item>
    /// <item>an existing file that is no healthy database (not SQLite, a hot journal, unreadable): renamed aside to
    /// <c>name.replaced-&lt;time&gt;</c> with its journal, never deleted; the new file takes its mode and owner;</item>
    /// <item>an empty file: replaced by rename, keeping its mode and owner.</item>
    /// </list>
    /// Disposing removes the temporary file and its lock whatever happened.
    /// </summary>
    public sealed class DatabaseWriter : IDisposable
    {
        private readonly DatabaseWriteOptions options;
        private OwnerLock partialLock;

        private DatabaseWriter(string target, string partial, OwnerLock partialLock, DatabaseWriteOptions options)
        {
            Target = target;
            PartialPath = partial;
            this.partialLock = partialLock;
            this.options = options;
        }

        /// <summary>The database file written.</summary>
        public string Target { get; }

        /// <summary>The owner-only temporary file (created empty) into which the caller writes the new database.</summary>
        public string PartialPath { get; }

        /// <summary>Whether the target held data when <see cref="Begin"/> checked it.</summary>
        public bool TargetExists { get; private set; }

        /// <summary>The full path a restore of <paramref name="database"/> writes; a folder gets &lt;database&gt;.db.</summary>
        public static string Resolve(string destination, string database)
        {
            string full = Path.GetFullPath(destination);
            return Directory.Exists(full) ? Path.Combine(full, database + ".db") : full;
        }

        /// <summary>Whether <paramref name="target"/> holds something a write would replace (an empty file holds nothing).</summary>
        public static bool HoldsData(string target)
        {
            if (!File.Exists(target)) return false;
            return new FileInfo(target).Length > 0 || (File.Exists(target + "-wal") && new FileInfo(target + "-wal").Length > 0);
        }

        /// <summary>Throws AlreadyExists unless the target is free or replacing it is allowed; returns whether it holds data.</summary>
        public static bool CheckOverwrite(string target, bool overwrite, string forceHint = null)
        {
            if (Directory.Exists(target))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{target}' is a folder. Give the path of the database file to write, or a folder that does not hold a file of that name.", target) { ErrorId = "DestinationIsFolder" };
            }
            bool exists = HoldsData(target);
            if (exists && !overwrite)
            {
                throw new TursoBackupException(FailureKind.AlreadyExists,
                    $"'{target}' already exists. " + (forceHint ?? new DatabaseWriteOptions().ForceHint), target) { ErrorId = "DatabaseExists" };
            }
            return exists;
        }

        /// <summary>Checks the target and hands out the temporary file beside it (see the class summary).</summary>
        public static DatabaseWriter Begin(string target, DatabaseWriteOptions options = null)
        {
            options = options ?? new DatabaseWriteOptions();
            target = Path.GetFullPath(target);
            bool exists = CheckOverwrite(target, options.Overwrite, options.ForceHint);
            string dir = Path.GetDirectoryName(target);
            Directory.CreateDirectory(dir);
            int cleaned = CleanAbandoned(target);
            if (cleaned > 0) options.Log?.Invoke($"Removed {cleaned} temporary file(s) that an interrupted earlier run left beside '{target}'.");
            string partial = NewPartialPath(target, options.Purpose);
            var owner = OwnerLock.TryAcquire(partial + ".lock")
                        ?? throw new TursoBackupException(FailureKind.Busy, $"Could not lock the temporary file '{partial}'. Try again.", partial);
            owner.Describe($"TursoBackup {options.Purpose} of '{target}', pid {System.Diagnostics.Process.GetCurrentProcess().Id} on {Environment.MachineName}, since {DateTimeOffset.UtcNow:u}");
            try
            {
                using (new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite)) { }
                OwnerOnly.File(partial); // before a byte of data is written: a partial holds a whole database
            }
            catch (IOException ex) when (DiskSpace.IsFull(ex))
            {
                owner.Release();
                throw DiskFull(target, ex);
            }
            catch
            {
                owner.Release();
                throw;
            }
            return new DatabaseWriter(target, partial, owner, options) { TargetExists = exists };
        }

        private static string NewPartialPath(string target, string purpose) =>
            Path.Combine(Path.GetDirectoryName(target), "." + Path.GetFileName(target) + "." + purpose + "-" + Guid.NewGuid().ToString("N").Substring(0, 8) + ".partial");

        /// <summary>The "disk full" error for writing <paramref name="target"/>: names that disk, not the vault's.</summary>
        public static TursoBackupException DiskFull(string target, IOException ex) => DiskFull(target, null, ex);

        /// <summary>The same, from SQLite's SQLITE_FULL (<paramref name="detail"/> is not shown: it names internal files).</summary>
        public static TursoBackupException DiskFull(string target, string detail, Exception inner = null) =>
            new TursoBackupException(FailureKind.WriteFailed,
                $"The disk that holds '{target}' is full (no space left on the device). Free space there (or choose another destination) and try again; '{target}' was not changed.", target, inner);

        /// <summary>
        /// Installs the temporary file as the target (see the class summary). <paramref name="fileEmergency"/> files the
        /// consistent copy of a replaced database (into a vault); null keeps that copy beside the target instead.
        /// </summary>
        public DatabaseWriteResult Commit(EmergencyFiler fileEmergency, CancellationToken cancel = default(CancellationToken))
        {
            cancel.ThrowIfCancellationRequested();
            var result = new DatabaseWriteResult { Target = Target };
            try
            {
                DurableFile.FlushFile(PartialPath);
                if (!File.Exists(Target))
                {
                    if (options.Mode.HasValue) FileOwnership.SetMode(PartialPath, options.Mode.Value);
                    if (TryMoveNew(PartialPath, Target))
                    {
                        DurableFile.FlushDirectory(Path.GetDirectoryName(Target));
                        result.Bytes = new FileInfo(Target).Length;
                        return result;
                    }
                    // Someone created the target while we wrote: the overwrite rule decides again.
                }
                if (!options.Overwrite && HoldsData(Target))
                {
                    throw new TursoBackupException(FailureKind.AlreadyExists,
                        $"'{Target}' was created by someone else while this ran. " + options.ForceHint, Target) { ErrorId = "DatabaseExists" };
                }
                result.Replaced = true;
                string damage = Damage(Target);
                if (damage == null) ReplaceInPlace(fileEmergency, result, cancel);
                else ReplaceAside(damage, result);
                result.Bytes = new FileInfo(Target).Length;
                return result;
            }
            catch (IOException ex) when (DiskSpace.IsFull(ex))
            {
                throw DiskFull(Target, ex);
            }
        }

        /// <summary>Why the existing target cannot be backed up and rewritten in place, or null when it is a healthy database.</summary>
        /// <remarks>
        /// SQLite itself decides whether a journal is hot (it exists, is not empty, and no connection holds the
        /// RESERVED lock — a live writer's journal is not hot): a read-only connection then fails with
        /// SQLITE_READONLY_ROLLBACK instead of rolling it back. A database busy with other connections is healthy: the
        /// in-place replacement waits for their locks.
        /// </remarks>
        private static string Damage(string target)
        {
            if (!HoldsData(target)) return "it is empty";
            if (!SqliteFile.HasSqliteHeader(target)) return "it is not a SQLite database";
            try
            {
                using (var probe = SqliteFile.OpenReadOnly(target, TimeSpan.FromSeconds(5)))
                {
                    SqliteFile.Scalar(probe, "SELECT count(*) FROM sqlite_master");
                }
            }
            catch (Microsoft.Data.Sqlite.SqliteException ex) when (ex.SqliteExtendedErrorCode == SqliteReadonlyRollback)
            {
                return "it has a hot journal (an interrupted write that SQLite would roll back on the next open)";
            }
            catch (Microsoft.Data.Sqlite.SqliteException ex) when (ex.SqliteErrorCode == 11 || ex.SqliteErrorCode == 26)
            {
                return "SQLite cannot read it (" + ex.Message + ")";
            }
            catch (Microsoft.Data.Sqlite.SqliteException)
            {
                // Busy (in use: the in-place path waits for the locks) or a reason that is not the file's (no right to
                // create the -shm here): the in-place path reports its own error, with nothing changed.
                return null;
            }
            return null;
        }

        private const int SqliteReadonlyRollback = 8 | (3 << 8);

        /// <summary>
        /// Rewrites the existing database with the temporary file's pages through SQLite's backup API. Its first step
        /// opens an exclusive transaction on the destination (the WAL write lock in WAL mode, where readers go on; the
        /// EXCLUSIVE lock in rollback modes) and the API keeps it to the commit, so the emergency copy taken after that
        /// step holds every acknowledged commit. While the lock is held nothing in this process may close a descriptor of
        /// the database (that drops the POSIX locks, decision 19): in WAL mode the copy is made through SQLite, in rollback
        /// modes from a raw descriptor closed after the connection.
        /// </summary>
        private void ReplaceInPlace(EmergencyFiler fileEmergency, DatabaseWriteResult result, CancellationToken cancel)
        {
            var deadline = DateTime.UtcNow + options.LockTimeout;
            RawFileReader raw = null; // rollback modes: closed only after the connection that holds the locks
            try
            {
                ReplaceInPlace(fileEmergency, result, deadline, ref raw, cancel);
            }
            finally
            {
                raw?.Dispose();
            }
            result.InPlace = true;
            options.Log?.Invoke($"'{Target}' was rewritten in place; connections that have it open see the new content.");
        }

        private void ReplaceInPlace(EmergencyFiler fileEmergency, DatabaseWriteResult result, DateTime deadline, ref RawFileReader rawReader, CancellationToken cancel)
        {
            using (var source = SqliteFile.OpenImmutable(PartialPath))
            using (var destination = SqliteFile.OpenReadWrite(Target, options.LockTimeout))
            {
                string journalMode = Convert.ToString(SqliteFile.Scalar(destination, "PRAGMA journal_mode"), CultureInfo.InvariantCulture).ToLowerInvariant();
                long sourcePageSize = Convert.ToInt64(SqliteFile.Scalar(source, "PRAGMA page_size"), CultureInfo.InvariantCulture);
                long destinationPageSize = Convert.ToInt64(SqliteFile.Scalar(destination, "PRAGMA page_size"), CultureInfo.InvariantCulture);
                bool backToWal = false;
                if (journalMode == "wal" && sourcePageSize != destinationPageSize)
                {
                    // SQLite cannot change the page size of a WAL database in place; out of WAL mode it can, and leaving WAL
                    // mode needs every other connection closed — which is then also proof nobody else is using it.
                    string mode;
                    try { mode = Convert.ToString(SqliteFile.Scalar(destination, "PRAGMA journal_mode = DELETE"), CultureInfo.InvariantCulture); }
                    catch (Microsoft.Data.Sqlite.SqliteException) { mode = "wal"; }
                    if (!string.Equals(mode, "delete", StringComparison.OrdinalIgnoreCase))
                    {
                        throw new TursoBackupException(FailureKind.Busy,
                            $"'{Target}' is open in other connections, and the backup's page size ({sourcePageSize}) differs from the database's ({destinationPageSize}), which SQLite cannot change in place in WAL mode. Stop the application that uses it, then run the restore again; nothing was changed.", Target);
                    }
                    backToWal = true;
                    journalMode = "delete";
                }
                using (var cmd = destination.CreateCommand())
                {
                    cmd.CommandText = "PRAGMA synchronous = FULL";
                    cmd.ExecuteNonQuery();
                }
                var backup = raw.sqlite3_backup_init(destination.Handle, "main", source.Handle, "main");
                if (backup == null || backup.IsInvalid)
                {
                    throw OnlineBackup.Translate(raw.sqlite3_errcode(destination.Handle), raw.sqlite3_errmsg(destination.Handle).utf8_to_string(), $"start replacing '{Target}'");
                }
                bool finished = false;
                string copy = null;
                OwnerLock copyLock = null;
                try
                {
                    options.Log?.Invoke($"Taking the write lock of '{Target}' ({(journalMode == "wal" ? "the WAL write lock: writers wait, readers go on" : "SQLite's EXCLUSIVE lock: readers and writers wait")}) until the replacement is committed.");
                    bool wal = journalMode == "wal";
                    if (!wal) rawReader = RawFileReader.Open(Target);
                    Step(backup, 1, deadline, destination, cancel, lockHeld: false);
                    // The write lock is ours until the commit: nothing can be committed that the emergency copy misses.
                    copy = NewPartialPath(Target, "emergency");
                    copyLock = OwnerLock.TryAcquire(copy + ".lock");
                    options.Log?.Invoke($"Copying the current content of '{Target}' for the emergency backup.");
                    if (wal)
                    {
                        // Readers may read beside the WAL write lock; SQLite's own descriptors keep the locks (it defers
                        // closing a file's descriptors while the process holds locks on it).
                        using (var current = SqliteFile.OpenReadOnly(Target, options.LockTimeout))
                        using (SqliteFile.BeginReadSnapshot(current))
                        {
                            OnlineBackup.Copy(current, copy, null, cancel);
                        }
                    }
                    else
                    {
                        // The backup API holds an EXCLUSIVE lock in rollback modes: no reader can get in, and the file is
                        // exactly the last committed state (a live journal only holds the pages our first step touched,
                        // which are still unchanged in the file). Read it raw through a descriptor closed after the connection.
                        using (var output = new FileStream(copy, FileMode.Create, FileAccess.Write, FileShare.None, 1))
                        {
                            rawReader.CopyTo(output, cancel);
                        }
                    }
                    OwnerOnly.File(copy);
                    DurableFile.FlushFile(copy);
                    result.EmergencyBackup = fileEmergency?.Invoke(copy, Target);
                    if (result.EmergencyBackup == null)
                    {
                        string kept = Target + ".before-" + options.Purpose + "-" + Stamp();
                        File.Move(copy, kept);
                        DurableFile.FlushDirectory(Path.GetDirectoryName(Target));
                        result.EmergencyCopy = kept;
                        options.Log?.Invoke($"The previous content of '{Target}' is kept at '{kept}'.");
                    }
                    else
                    {
                        options.Log?.Invoke($"Emergency backup {result.EmergencyBackup.Id} of '{Target}' is in '{result.EmergencyBackup.Vault}'.");
                    }
                    options.Log?.Invoke($"Writing the new content into '{Target}'.");
                    Step(backup, -1, DateTime.UtcNow + options.LockTimeout, destination, cancel, lockHeld: true);
                    finished = true;
                }
                finally
                {
                    int rc = raw.sqlite3_backup_finish(backup); // rolls the destination back unless the last step committed
                    if (copy != null)
                    {
                        foreach (var suffix in new[] { "", "-journal", "-wal", "-shm" }) DurableFile.TryDelete(copy + suffix);
                    }
                    copyLock?.Release();
                    if (finished && rc != raw.SQLITE_OK)
                    {
                        throw OnlineBackup.Translate(rc, raw.sqlite3_errmsg(destination.Handle).utf8_to_string(), $"replace '{Target}'", Target);
                    }
                }
                if (backToWal) SqliteFile.Scalar(destination, "PRAGMA journal_mode = WAL");
                if (journalMode == "wal") SqliteFile.Scalar(destination, "PRAGMA wal_checkpoint(PASSIVE)");
            }
        }

        /// <summary>Runs backup steps until done (or one step when <paramref name="pages"/> is 1), waiting out other connections' locks until the deadline.</summary>
        private void Step(sqlite3_backup backup, int pages, DateTime deadline, Microsoft.Data.Sqlite.SqliteConnection destination, CancellationToken cancel, bool lockHeld)
        {
            while (true)
            {
                cancel.ThrowIfCancellationRequested();
                int rc = raw.sqlite3_backup_step(backup, pages < 0 ? OnlineBackup.PagesPerStep : pages);
                if (rc == raw.SQLITE_DONE) return;
                if (rc == raw.SQLITE_OK)
                {
                    if (pages > 0) return;
                    continue;
                }
                int primary = rc & 0xff;
                if (primary == raw.SQLITE_BUSY || primary == raw.SQLITE_LOCKED)
                {
                    if (DateTime.UtcNow < deadline)
                    {
                        Thread.Sleep(20);
                        continue;
                    }
                    throw new TursoBackupException(FailureKind.Busy, lockHeld
                        ? $"Other connections kept reading '{Target}' for {options.LockTimeout.TotalSeconds:F0} s, so the replacement could not be committed (SQLite needs its EXCLUSIVE lock). Nothing was changed. End the application's long reads or stop it, then run the command again."
                        : $"Another connection has held a lock on '{Target}' for {options.LockTimeout.TotalSeconds:F0} s (an open write transaction; in rollback-journal mode, a read too). Nothing was changed. Let it finish or stop the application, then run the command again.", Target);
                }
                throw OnlineBackup.Translate(rc, raw.sqlite3_errmsg(destination.Handle).utf8_to_string(), $"replace '{Target}'", Target);
            }
        }

        /// <summary>The existing file cannot be backed up: keep it (and its journal) under another name, then rename the new one in.</summary>
        private void ReplaceAside(string damage, DatabaseWriteResult result)
        {
            var ownership = FileOwnership.Of(Target);
            string dir = Path.GetDirectoryName(Target);
            if (HoldsData(Target))
            {
                string aside = Target + ".replaced-" + Stamp();
                foreach (var suffix in new[] { "-journal", "-wal", "-shm" })
                {
                    if (File.Exists(Target + suffix)) File.Move(Target + suffix, aside + suffix);
                }
                File.Move(Target, aside);
                result.KeptAside = aside;
                result.KeptAsideReason = damage;
                options.Log?.Invoke($"'{Target}' could not be backed up ({damage}); it is kept as '{aside}'.");
            }
            else
            {
                foreach (var suffix in new[] { "-journal", "-wal", "-shm" }) DurableFile.TryDelete(Target + suffix);
            }
            if (ownership != null) ownership.ApplyTo(PartialPath);
            else if (options.Mode.HasValue) FileOwnership.SetMode(PartialPath, options.Mode.Value);
            DurableFile.ReplaceFile(PartialPath, Target);
            DurableFile.FlushDirectory(dir);
        }

        private static string Stamp() => DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);

        /// <summary>Renames without ever replacing: false when the destination exists.</summary>
        private static bool TryMoveNew(string source, string destination)
        {
            try
            {
                File.Move(source, destination);
                return true;
            }
            catch (IOException) when (File.Exists(destination) && File.Exists(source))
            {
                return false;
            }
        }

        /// <summary>
        /// Removes the temporary files interrupted runs left beside <paramref name="target"/>: a partial whose owner lock
        /// can be taken has no living owner. A partial without a lock file (written by an older version) counts as
        /// abandoned once it has not changed for an hour. Returns how many were removed.
        /// </summary>
        public static int CleanAbandoned(string target)
        {
            string dir = Path.GetDirectoryName(target);
            if (!Directory.Exists(dir)) return 0;
            int removed = 0;
            string prefix = "." + Path.GetFileName(target) + ".";
            string[] partials;
            try { partials = Directory.GetFiles(dir, prefix + "*.partial"); }
            catch (IOException) { return 0; }
            catch (UnauthorizedAccessException) { return 0; }
            foreach (var partial in partials)
            {
                string lockPath = partial + ".lock";
                OwnerLock owner = null;
                if (File.Exists(lockPath))
                {
                    owner = OwnerLock.TryAcquire(lockPath);
                    if (owner == null) continue; // its owner is alive
                }
                else if (DateTime.UtcNow - File.GetLastWriteTimeUtc(partial) < TimeSpan.FromHours(1))
                {
                    continue;
                }
                try
                {
                    foreach (var suffix in new[] { "", "-journal", "-wal", "-shm" }) DurableFile.TryDelete(partial + suffix);
                    if (!File.Exists(partial)) removed++;
                }
                finally
                {
                    owner?.Release();
                }
            }
            return removed;
        }

        /// <summary>Removes the temporary file (and any SQLite files beside it) and releases its lock.</summary>
        public void Dispose()
        {
            if (partialLock == null) return;
            foreach (var suffix in new[] { "", "-journal", "-wal", "-shm" }) DurableFile.TryDelete(PartialPath + suffix);
            partialLock.Release();
            partialLock = null;
        }
    }
}
