using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Engine.Wal
{
    /// <summary>
    /// Local branches: a consistent copy of a database as of now, or a point-in-time restore from a vault's WAL archive,
    /// written next to a small &lt;name&gt;.db.branch.json that says where it came from. The source is only read.
    /// </summary>
    public static class LocalBranches
    {
        public const string SidecarSuffix = ".branch.json";

        public static string DefaultName(DateTimeOffset? timestamp, DateTimeOffset now) =>
            timestamp.HasValue
                ? "pitr-" + timestamp.Value.ToUniversalTime().ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)
                : "backup-" + now.ToUniversalTime().ToString("yyyyMMdd", CultureInfo.InvariantCulture);

        public static TursoBranch Create(string sourcePath, string directory, string name, string vaultRoot, string database,
            DateTimeOffset? timestamp, DateTimeOffset now, TimeSpan lockTimeout, Action<string> log, CancellationToken cancel, Crypto.DecryptionKeys keys = null)
        {
            string source = Path.GetFullPath(sourcePath);
            name = BackupVault.ValidateDatabaseName(name ?? DefaultName(timestamp, now), "Choose another -Name for the branch.");
            string dir = Path.GetFullPath(directory ?? Path.GetDirectoryName(source));
            string target = Path.Combine(dir, name + ".db");
            if (File.Exists(target) || File.Exists(target + SidecarSuffix))
            {
                throw new TursoBackupException(FailureKind.AlreadyExists,
                    $"A branch named '{name}' already exists in '{dir}'. Choose another -Name, or remove it first with Get-TursoBranch -Directory '{dir}' | Where-Object Name -eq '{name}' | Remove-TursoBranch.", target) { ErrorId = "BranchExists" };
            }
            DateTimeOffset pointInTime;
            if (timestamp.HasValue)
            {
                var result = WalRestore.Restore(vaultRoot, database, timestamp.Value, target, false, null, now, log, cancel, false, keys);
                pointInTime = result.PointInTime;
            }
            else
            {
                log?.Invoke($"Branching '{source}' as of now into '{target}'.");
                pointInTime = DateTimeOffset.UtcNow;
                SnapshotBackup.CopyDatabase(source, target, lockTimeout, cancel, "branch");
                OwnerOnly.File(target);
            }
            var branch = new TursoBranch
            {
                Name = name,
                Source = source,
                PointInTime = pointInTime,
                Location = target,
                CreatedAt = now,
                Provider = "Local",
            };
            DurableFile.WriteAllText(target + SidecarSuffix, Json.Write(new Dictionary<string, object>
            {
                ["format"] = "tursobackup-branch",
                ["name"] = branch.Name,
                ["source"] = branch.Source,
                ["pointInTime"] = BackupManifest.Time(branch.PointInTime),
                ["createdAt"] = BackupManifest.Time(branch.CreatedAt),
            }));
            return branch;
        }

        public static List<TursoBranch> List(string directory)
        {
            var list = new List<TursoBranch>();
            string dir = Path.GetFullPath(directory);
            if (!Directory.Exists(dir))
            {
                throw new TursoBackupException(FailureKind.NotFound, $"Folder '{dir}' does not exist.", dir);
            }
            foreach (var sidecar in Directory.GetFiles(dir, "*.db" + SidecarSuffix).OrderBy(f => f, StringComparer.Ordinal))
            {
                try
                {
                    var d = (Dictionary<string, object>)Json.Parse(File.ReadAllText(sidecar));
                    string location = sidecar.Substring(0, sidecar.Length - SidecarSuffix.Length);
                    if (!File.Exists(location)) continue;
                    list.Add(new TursoBranch
                    {
                        Name = (string)d["name"],
                        Source = (string)d["source"],
                        PointInTime = BackupManifest.ParseTime((string)d["pointInTime"]),
                        CreatedAt = BackupManifest.ParseTime((string)d["createdAt"]),
                        Location = location,
                        Provider = "Local",
                    });
                }
                catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is KeyNotFoundException) { }
            }
            return list;
        }

        public static void Remove(TursoBranch branch)
        {
            if (!File.Exists(branch.Location + SidecarSuffix))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{branch.Location}' is not a branch made by New-TursoBranch (it has no {SidecarSuffix}); it is left alone.", branch.Location);
            }
            foreach (var suffix in new[] { "-wal", "-shm", "-journal", "" }) DurableFile.TryDelete(branch.Location + suffix);
            if (File.Exists(branch.Location))
            {
                throw new TursoBackupException(FailureKind.PermissionDenied, $"'{branch.Location}' could not be removed (is it open?).", branch.Location);
            }
            File.Delete(branch.Location + SidecarSuffix);
        }
    }
}
