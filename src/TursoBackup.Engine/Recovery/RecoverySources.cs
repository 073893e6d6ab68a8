using System;
using System.IO;
using System.Threading;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Crypto;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Recovery
{
    /// <summary>
    /// A database a recovery reads from, as a local file: the file itself, or one made in a private scratch folder
    /// (outside any vault, held by its lock, removed on Dispose) from a backup, a point in time of a WAL archive or a
    /// remote libSQL database. The source it came from is never changed.
    /// </summary>
    public sealed class SourceDatabase : IDisposable
    {
        private readonly LockedFolder scratch;

        internal SourceDatabase(string path, string description, LockedFolder scratch, DateTimeOffset? pointInTime = null)
        {
            Path = path;
            Description = description;
            this.scratch = scratch;
            PointInTime = pointInTime;
        }

        /// <summary>The local file to read.</summary>
        public string Path { get; }

        /// <summary>What it is, for messages and the journal: the file, "backup X of 'main'", "'main' as of …", the URL.</summary>
        public string Description { get; }

        /// <summary>The moment the data is of, when known (a backup's point in time, the restore point).</summary>
        public DateTimeOffset? PointInTime { get; }

        /// <summary>True when the file is a scratch copy (removed on Dispose).</summary>
        public bool IsCopy => scratch != null;

        public void Dispose()
        {
            if (scratch == null) return;
            SqliteConnection.ClearAllPools();
            scratch.Dispose();
        }
    }

    /// <summary>Makes <see cref="SourceDatabase"/>s.</summary>
    public static class RecoverySources
    {
        private const string Prefix = "tursobackup-recovery-";

        /// <summary>A local database file, read where it is.</summary>
        public static SourceDatabase Local(string path)
        {
            string full = System.IO.Path.GetFullPath(path);
            SqliteFile.RequireDatabaseFile(full);
            return new SourceDatabase(full, "'" + full + "'", null);
        }

        /// <summary>A backup, restored into scratch space (checksum verified, decrypted with <paramref name="keys"/> when encrypted).</summary>
        public static SourceDatabase FromBackup(BackupInfo backup, DecryptionKeys keys, string scratchRoot = null, Action<long, long> progress = null, CancellationToken cancel = default(CancellationToken))
        {
            var folder = Scratch(scratchRoot, $"backup {backup.Id} of '{backup.Database}'");
            try
            {
                string file = System.IO.Path.Combine(folder.Path, backup.Database + ".db");
                Restore.BackupRestore.Extract(backup, file, progress, cancel, null, keys);
                return new SourceDatabase(file, Restore.BackupMaterializer.Describe(backup), folder, backup.PointInTime);
            }
            catch
            {
                folder.Dispose();
                throw;
            }
        }

        /// <summary>The state of <paramref name="database"/> as of <paramref name="timestamp"/>, restored from the vault's WAL archive into scratch space.</summary>
        public static SourceDatabase AtTime(string vaultRoot, string database, DateTimeOffset timestamp, DecryptionKeys keys, string scratchRoot = null,
            Action<string> log = null, CancellationToken cancel = default(CancellationToken))
        {
            var folder = Scratch(scratchRoot, $"'{database}' as of {timestamp.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}");
            try
            {
                string file = System.IO.Path.Combine(folder.Path, database + ".db");
                var r = Wal.WalRestore.Restore(vaultRoot, database, timestamp, file, false, null, DateTimeOffset.UtcNow, log, cancel, false, keys);
                return new SourceDatabase(file, $"'{database}' as of {r.PointInTime.ToUniversalTime():yyyy-MM-ddTHH:mm:ss.fffZ} (vault '{vaultRoot}')", folder, r.PointInTime);
            }
            catch
            {
                folder.Dispose();
                throw;
            }
        }

        /// <summary>A remote libSQL / Turso database, read as a SQL dump over the remote protocol and loaded into a scratch database.</summary>
        public static SourceDatabase FromRemote(string url, string authToken, string scratchRoot = null, Action<string> log = null, CancellationToken cancel = default(CancellationToken))
        {
            string normalized = Remote.LibsqlUrl.Normalize(url);
            var folder = Scratch(scratchRoot, "'" + normalized + "'");
            try
            {
                string dump = System.IO.Path.Combine(folder.Path, "remote.sql");
                string file = System.IO.Path.Combine(folder.Path, "remote.db");
                var started = DateTimeOffset.UtcNow;
                Dump.DumpFiles.ExportRemote(normalized, authToken, dump, false, null, cancel, out _, log);
                Dump.DumpFiles.Import(dump, file, false, null, null, cancel);
                File.Delete(dump);
                return new SourceDatabase(file, "'" + normalized + "'", folder, started);
            }
            catch
            {
                folder.Dispose();
                throw;
            }
        }

        /// <summary>The names of a database's tables (not SQLite's own), for expanding -Table wildcards.</summary>
        public static System.Collections.Generic.List<string> TableNames(string path)
        {
            var names = new System.Collections.Generic.List<string>();
            using (var c = SqliteFile.OpenReadOnly(path))
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
                using (var r = cmd.ExecuteReader()) while (r.Read()) names.Add(r.GetString(0));
            }
            return names;
        }

        private static LockedFolder Scratch(string scratchRoot, string what)
        {
            string parent = System.IO.Path.GetFullPath(scratchRoot ?? System.IO.Path.GetTempPath());
            try
            {
                LockedFolder.CleanAbandoned(parent, Prefix);
                return LockedFolder.Take(parent, Prefix + Guid.NewGuid().ToString("N"), "scratch copy of " + what + " for a recovery");
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new TursoBackupException(FailureKind.PermissionDenied,
                    $"No scratch folder can be made in '{parent}' for a copy of {what}: {ex.Message} Set TMPDIR (TEMP on Windows) to a folder this account can write to.", parent, ex);
            }
        }
    }
}
