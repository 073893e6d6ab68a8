using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using TursoBackup.Engine.Dump;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Restore
{
    /// <summary>
    /// Turns a stored backup back into a database file: a snapshot is decompressed into the file, a dump is
    /// decompressed and loaded into it. Returns the SHA-256 of the stored artifact as read (for the caller to compare
    /// with the manifest) and the size of the database written. A dump's stored file is checked against the manifest's
    /// SHA-256 before a byte of it is executed: a damaged or altered dump is refused as damaged, never run.
    /// </summary>
    public static class BackupMaterializer
    {
        /// <param name="restoreDestination">Where the caller restores to (named in messages, and in the advice of a damaged-backup error); null for a test restore.</param>
        /// <param name="keys">What opens an encrypted backup (a passphrase, or a secret key file); ignored for a plain one.</param>
        public static (string Sha256, long Bytes) Materialize(BackupInfo backup, string newFile, Action<long, long> progress,
            CancellationToken cancel = default(CancellationToken), string restoreDestination = null, Crypto.DecryptionKeys keys = null,
            Action<string> contentSha256 = null, bool provePages = false)
        {
            long total = backup.SourceBytes;
            if (backup.Kind == BackupKind.Incremental)
            {
                // The map is checked against the manifest first; then every frame by zstd's checksum, or (Test-Backup) every page by its SHA-256.
                var rebuilt = Incremental.IncrementalRestore.Rebuild(backup, newFile, progress, cancel, provePages);
                contentSha256?.Invoke(rebuilt.MapSha256);
                return (rebuilt.MapSha256, new FileInfo(newFile).Length);
            }
            if (backup.Kind == BackupKind.Dump)
            {
                string stored = ArtifactStreams.HashFile(backup.Location);
                if (!string.Equals(stored, backup.Sha256, StringComparison.OrdinalIgnoreCase)) throw Damaged(backup, stored, restoreDestination);
            }
            string sha = ArtifactStreams.ReadArtifact(backup.Location, backup.Compression, content =>
            {
                if (backup.Kind == BackupKind.Dump)
                {
                    using (var reader = new StreamReader(content, new UTF8Encoding(false, true), false, 1 << 16, leaveOpen: true))
                    {
                        var importer = new SqlDumpImporter
                        {
                            // The page format the manifest recorded (dumps written before it was in the dump text need this).
                            PageSize = backup.PageSize > 0 ? backup.PageSize : (int?)null,
                            AutoVacuum = backup.AutoVacuum,
                            ReservedBytes = backup.ReservedBytes,
                        };
                        importer.LoadInto(reader, newFile, restoreDestination ?? newFile, (statements, chars) => progress?.Invoke(chars, 0), cancel);
                    }
                }
                else
                {
                    ArtifactStreams.WriteNewFile(content, newFile, done => progress?.Invoke(done, total));
                }
            }, Decryption(backup, keys), Describe(backup), contentSha256);
            return (sha, new FileInfo(newFile).Length);
        }

        /// <summary>The keys to read <paramref name="backup"/> with: null for a plain backup, never null for an encrypted one (a missing key is then a clear error).</summary>
        public static Crypto.DecryptionKeys Decryption(BackupInfo backup, Crypto.DecryptionKeys keys) =>
            backup.Encrypted ? keys ?? new Crypto.DecryptionKeys() : null;

        /// <summary>How errors name a backup: "backup X of 'main'".</summary>
        public static string Describe(BackupInfo backup) => $"backup {backup.Id} of '{backup.Database}'";

        /// <summary>
        /// The error for a stored artifact whose SHA-256 differs from its manifest's: names the backup, its file and
        /// vault, and gives the command for the next older backup (or for a new backup when there is none).
        /// </summary>
        public static TursoBackupException Damaged(BackupInfo backup, string actualSha256, string restoreDestination = null)
        {
            var sb = new StringBuilder();
            sb.Append($"Backup {backup.Id} of '{backup.Database}'");
            if (backup.Vault != null) sb.Append($" in the vault '{backup.Vault}'");
            sb.Append($" is damaged: the SHA-256 of its stored file '{backup.Location}' is {actualSha256 ?? "(unreadable)"}, but its manifest says {backup.Sha256}. ");
            sb.Append("The file was changed or corrupted after it was written, so none of it was used. ");
            sb.Append(Advice(backup, restoreDestination));
            return new TursoBackupException(FailureKind.InvalidData, sb.ToString(), backup.Location);
        }

        private static string Advice(BackupInfo backup, string restoreDestination)
        {
            if (backup.Vault == null) return "Use another copy of the backup.";
            string v = Q(backup.Vault), db = Q(backup.Database);
            BackupInfo older = null;
            try
            {
                older = Vault.BackupVault.OpenExisting(backup.Vault).List(backup.Database)
                    .FirstOrDefault(b => b.CreatedAt < backup.CreatedAt && !string.Equals(b.Id, backup.Id, StringComparison.Ordinal));
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is TursoBackupException || ex is FormatException)
            {
                return $"List the other backups with Get-TursoBackup -Vault {v} -Database {db} and restore an older one.";
            }
            if (older != null)
            {
                return restoreDestination != null
                    ? $"Restore the next older one: Restore-TursoBackup -Vault {v} -Database {db} -Id {older.Id} -Destination {Q(restoreDestination)}"
                    : $"Test the next older one with Test-Backup -Vault {v} -Database {db} -Id {older.Id}, and restore that one with Restore-TursoBackup -Vault {v} -Database {db} -Id {older.Id} and your -Destination.";
            }
            string source = backup.SourcePath;
            bool remote = source != null && source.IndexOf("://", StringComparison.Ordinal) > 0;
            return source == null
                ? $"The vault has no older backup of '{backup.Database}': back the database up again now with Backup-TursoDatabase -Vault {v}."
                : $"The vault has no older backup of '{backup.Database}': back it up again now: Backup-TursoDatabase {(remote ? "-Url" : "-Path")} {Q(source)} -Vault {v}";
        }

        /// <summary>A PowerShell single-quoted string.</summary>
        private static string Q(string s) => "'" + (s ?? "").Replace("'", "''") + "'";
    }
}
