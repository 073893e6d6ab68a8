using System;
using System.Diagnostics;
using System.IO;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Files;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Restore
{
    /// <summary>
    /// Restores a backup (snapshot or dump) to a database file: the artifact is turned into a database in the
    /// <see cref="DatabaseWriter"/>'s temporary file (checksum verified), which then installs it — a new file by
    /// rename, an existing database rewritten in place under its write lock after an emergency backup.
    /// </summary>
    public sealed class BackupRestore
    {
        public Action<string> Log { get; set; }

        public Action<long, long> Progress { get; set; }

        /// <summary>How long to wait for other connections' locks on an existing destination.</summary>
        public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>What opens an encrypted backup (-Passphrase, or -KeyFile [-KeyPassphrase]).</summary>
        public Crypto.DecryptionKeys Keys { get; set; }

        /// <summary>Permission bits of a new destination file (Unix); default 0600.</summary>
        public int? Mode { get; set; }

        /// <summary>Where a restore of <paramref name="backup"/> to <paramref name="destination"/> lands (a folder gets &lt;database&gt;.db).</summary>
        public static string ResolveDestination(BackupInfo backup, string destination) => DatabaseWriter.Resolve(destination, backup.Database);

        /// <param name="overwrite">Replace an existing destination (the cmdlet's -Force after confirmation).</param>
        /// <param name="fileEmergency">Files the consistent copy of the existing destination before it is replaced; must throw on failure.</param>
        public RestoreResult Restore(BackupInfo backup, string destination, bool overwrite, EmergencyFiler fileEmergency,
                                     System.Threading.CancellationToken cancel = default(System.Threading.CancellationToken))
        {
            var watch = Stopwatch.StartNew();
            string target = ResolveDestination(backup, destination);
            DatabaseWriter.CheckOverwrite(target, overwrite);
            if (!File.Exists(backup.Location))
            {
                throw new TursoBackupException(FailureKind.NotFound,
                    $"The artifact of backup {backup.Id} is missing ('{backup.Location}'). The vault is damaged; restore another backup ({OlderBackupsHint(backup)}).", backup.Location);
            }
            using (var writer = DatabaseWriter.Begin(target, new DatabaseWriteOptions { Overwrite = overwrite, Purpose = "restore", LockTimeout = LockTimeout, Mode = Mode, Log = Log }))
            {
                Log?.Invoke($"Extracting backup {backup.Id} to a temporary file beside '{target}'.");
                long extracted;
                try
                {
                    extracted = Extract(backup, writer.PartialPath, Progress, cancel, target, Keys);
                }
                catch (IOException ex) when (DiskSpace.IsFull(ex))
                {
                    throw DatabaseWriter.DiskFull(target, ex);
                }
                if (!SqliteFile.HasSqliteHeader(writer.PartialPath))
                {
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"Backup {backup.Id} did not restore to a SQLite database. The vault is damaged; restore another backup ({OlderBackupsHint(backup)}).", backup.Id);
                }
                Log?.Invoke($"Extracted {extracted:N0} bytes (checksum verified) in {watch.Elapsed.TotalSeconds:F2} s; installing it.");
                var written = writer.Commit(fileEmergency, cancel);
                Log?.Invoke($"Restored '{target}' ({extracted:N0} bytes) from backup {backup.Id} in {watch.Elapsed.TotalSeconds:F2} s.");
                return new RestoreResult
                {
                    Destination = target,
                    Database = backup.Database,
                    Source = backup,
                    PointInTime = backup.PointInTime,
                    Duration = watch.Elapsed,
                    Bytes = written.Bytes,
                    EmergencyBackup = written.EmergencyBackup,
                    ReplacedFileKeptAt = written.KeptAside ?? written.EmergencyCopy,
                    ReplacedInPlace = written.InPlace,
                };
            }
        }

        /// <summary>The real command that lists the other backups of the database, for messages.</summary>
        public static string OlderBackupsHint(BackupInfo backup) =>
            $"list them with Get-TursoBackup -Vault '{backup.Vault}' -Database '{backup.Database}'";

        /// <summary>Turns a backup into a new database file and checks the stored checksum; returns the bytes written.</summary>
        public static long Extract(BackupInfo backup, string file, Action<long, long> progress, System.Threading.CancellationToken cancel = default(System.Threading.CancellationToken), string destination = null,
            Crypto.DecryptionKeys keys = null)
        {
            var (sha, bytes) = BackupMaterializer.Materialize(backup, file, progress, cancel, destination, keys);
            if (!string.Equals(sha, backup.Sha256, StringComparison.OrdinalIgnoreCase)) throw BackupMaterializer.Damaged(backup, sha, destination);
            return bytes;
        }
    }
}
