using System;
using System.Diagnostics;
using System.IO;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Restore
{
    /// <summary>
    /// Restores a backup (snapshot or dump) to a database file: extract under a temporary name beside the destination (checksum
    /// verified while reading), fsync, then rename into place. An existing destination is replaced only when the
    /// caller allows it, and only after an emergency backup of it succeeded.
    /// </summary>
    public sealed class BackupRestore
    {
        public Action<string> Log { get; set; }

        public Action<long, long> Progress { get; set; }

        /// <summary>Where a restore of <paramref name="backup"/> to <paramref name="destination"/> lands (a folder gets &lt;database&gt;.db).</summary>
        public static string ResolveDestination(BackupInfo backup, string destination) => RestoreTarget.Resolve(destination, backup.Database);

        /// <param name="overwrite">Replace an existing destination (the cmdlet's -Force after confirmation).</param>
        /// <param name="takeEmergencyBackup">Backs up the existing destination before it is replaced; must throw on failure.</param>
        public RestoreResult Restore(BackupInfo backup, string destination, bool overwrite, Func<string, BackupInfo> takeEmergencyBackup)
        {
            var watch = Stopwatch.StartNew();
            string target = ResolveDestination(backup, destination);
            bool exists = RestoreTarget.CheckOverwrite(target, overwrite);
            if (!File.Exists(backup.Location))
            {
                throw new TursoBackupException(FailureKind.NotFound,
                    $"The artifact of backup {backup.Id} is missing ('{backup.Location}'). The vault is damaged; restore another backup.", backup.Location);
            }
            string dir = Path.GetDirectoryName(target);
            Directory.CreateDirectory(dir);
            string temp = Path.Combine(dir, "." + Path.GetFileName(target) + ".restore-" + Guid.NewGuid().ToString("N").Substring(0, 8) + ".partial");
            try
            {
                Log?.Invoke($"Extracting backup {backup.Id} to a temporary file beside '{target}'.");
                var extracted = Extract(backup, temp, Progress, target);
                if (!SqliteFile.HasSqliteHeader(temp))
                {
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"Backup {backup.Id} did not restore to a SQLite database. The vault is damaged; restore another backup.", backup.Id);
                }
                BackupInfo emergency = null;
                if (exists)
                {
                    Log?.Invoke($"Taking an emergency backup of '{target}' before replacing it.");
                    emergency = takeEmergencyBackup(target);
                    // Old WAL/SHM/journal files belong to the old database; left behind, they would be applied to the
                    // restored one. They are in the emergency backup.
                    foreach (var suffix in new[] { "-wal", "-shm", "-journal" })
                    {
                        if (File.Exists(target + suffix)) File.Delete(target + suffix);
                    }
                }
                DurableFile.ReplaceFile(temp, target);
                DurableFile.FlushDirectory(dir);
                Log?.Invoke($"Restored '{target}' ({extracted:N0} bytes) from backup {backup.Id} in {watch.Elapsed.TotalSeconds:F2} s.");
                return new RestoreResult
                {
                    Destination = target,
                    Database = backup.Database,
                    Source = backup,
                    PointInTime = backup.PointInTime,
                    Duration = watch.Elapsed,
                    Bytes = extracted,
                    EmergencyBackup = emergency,
                };
            }
            catch (IOException ex) when (DiskSpace.IsFull(ex))
            {
                throw new TursoBackupException(FailureKind.WriteFailed,
                    $"The disk of '{target}' is full: {ex.Message} Free space and try again; the destination was not changed.", target, ex);
            }
            finally
            {
                DurableFile.TryDelete(temp);
            }
        }

        /// <summary>Turns a backup into a new database file and checks the stored checksum; returns the bytes written.</summary>
        public static long Extract(BackupInfo backup, string file, Action<long, long> progress, string destination = null)
        {
            var (sha, bytes) = BackupMaterializer.Materialize(backup, file, progress, default(System.Threading.CancellationToken), destination);
            if (!string.Equals(sha, backup.Sha256, StringComparison.OrdinalIgnoreCase)) throw BackupMaterializer.Damaged(backup, sha, destination);
            return bytes;
        }
    }
}
