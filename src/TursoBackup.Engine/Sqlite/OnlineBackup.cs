using System;
using System.Threading;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Sqlite
{
    /// <summary>
    /// Copies a live database with SQLite's online backup API. The source connection holds one read transaction
    /// for the whole copy, so the copy is one consistent snapshot even while other connections and processes
    /// write (WAL mode: writers go on; rollback-journal mode: writers wait for the copy), and the backup never
    /// restarts however busy the source is.
    /// </summary>
    public static class OnlineBackup
    {
        /// <summary>Pages copied per backup step (between progress reports and cancellation checks).</summary>
        public const int PagesPerStep = 4096;

        /// <summary>
        /// Copies <paramref name="source"/> (already inside a read transaction) into a new file at
        /// <paramref name="destinationPath"/>. Returns the number of pages copied.
        /// </summary>
        public static long Copy(SqliteConnection source, string destinationPath, Action<long, long> onProgress, CancellationToken cancel)
        {
            using (var destination = SqliteFile.OpenOrCreate(destinationPath))
            {
                // The copy is a scratch file until it is checksummed and published: no journal, no per-page syncs.
                // Durability comes from one fsync of the finished file by the caller.
                using (var cmd = destination.CreateCommand())
                {
                    cmd.CommandText = "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;";
                    cmd.ExecuteNonQuery();
                }
                var backup = raw.sqlite3_backup_init(destination.Handle, "main", source.Handle, "main");
                if (backup == null || backup.IsInvalid)
                {
                    throw Fail(destination.Handle, "start the online backup");
                }
                long total = 0;
                try
                {
                    while (true)
                    {
                        cancel.ThrowIfCancellationRequested();
                        int rc = raw.sqlite3_backup_step(backup, PagesPerStep);
                        total = raw.sqlite3_backup_pagecount(backup);
                        long remaining = raw.sqlite3_backup_remaining(backup);
                        onProgress?.Invoke(total - remaining, total);
                        if (rc == raw.SQLITE_DONE) break;
                        if (rc == raw.SQLITE_OK) continue;
                        if (rc == raw.SQLITE_BUSY || rc == raw.SQLITE_LOCKED)
                        {
                            // The source is write-locked by another process; the read transaction should prevent
                            // this, but a destination lock could still be busy. Wait briefly and go on.
                            Thread.Sleep(50);
                            continue;
                        }
                        throw Translate(rc, raw.sqlite3_errmsg(destination.Handle).utf8_to_string(), "copy the database");
                    }
                }
                finally
                {
                    raw.sqlite3_backup_finish(backup);
                }
                return total;
            }
        }

        private static TursoBackupException Fail(sqlite3 db, string what) =>
            Translate(raw.sqlite3_errcode(db), raw.sqlite3_errmsg(db).utf8_to_string(), what);

        /// <summary>Maps a SQLite result code to an admin-facing failure.</summary>
        /// <param name="written">The file being written, when there is one: a full disk is named as the disk that holds it.</param>
        public static TursoBackupException Translate(int rc, string message, string what, string written = null)
        {
            int primary = rc & 0xff;
            switch (primary)
            {
                case 5: // SQLITE_BUSY
                case 6: // SQLITE_LOCKED
                    return new TursoBackupException(FailureKind.Busy,
                        $"Could not {what}: the database stayed locked by another process ({message}). Try again when the writer is idle (Backup-TursoDatabase can wait longer with -LockTimeout).");
                case 11: // SQLITE_CORRUPT
                case 26: // SQLITE_NOTADB
                    return new TursoBackupException(FailureKind.InvalidData,
                        $"Could not {what}: the database is damaged or not a database ({message}). Restore it from a backup that passes Test-Backup.");
                case 13: // SQLITE_FULL
                    return written != null
                        ? new TursoBackupException(FailureKind.WriteFailed,
                            $"The disk that holds '{written}' is full: could not {what} ({message}). Free space there (or choose another destination) and try again; '{written}' was not changed.", written)
                        : new TursoBackupException(FailureKind.WriteFailed,
                            $"Could not {what}: the disk is full ({message}). Free space on the disk being written (the vault's, for a backup) and try again; nothing was published.");
                case 10: // SQLITE_IOERR
                case 14: // SQLITE_CANTOPEN
                    return new TursoBackupException(FailureKind.WriteFailed, $"Could not {what}: an I/O error occurred ({message}). Check the disk and its free space.");
                case 8: // SQLITE_READONLY
                case 3: // SQLITE_PERM
                    return new TursoBackupException(FailureKind.PermissionDenied, $"Could not {what}: permission denied ({message}).");
                default:
                    return new TursoBackupException(FailureKind.WriteFailed, $"Could not {what}: SQLite error {rc} ({message}).");
            }
        }
    }
}
