using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Engine.Verification
{
    /// <summary>One recorded Test-Backup outcome.</summary>
    public sealed class VerificationRecord
    {
        public string BackupId { get; set; }
        public DateTimeOffset TestedAt { get; set; }
        public bool Passed { get; set; }
        public TimeSpan RestoreDuration { get; set; }
        public TimeSpan? RecoveryTimeObjective { get; set; }
        public string[] FailedChecks { get; set; } = new string[0];
    }

    /// <summary>
    /// The vault's verification log: databases/&lt;database&gt;/verifications.jsonl, one JSON object per line, appended
    /// by every Test-Backup of a vault backup. Retention reads it (it never removes the newest backup that passed) and
    /// so will the health report.
    /// </summary>
    public static class VerificationLog
    {
        public const string FileName = "verifications.jsonl";

        public static string PathFor(string vaultRoot, string database) =>
            Path.Combine(vaultRoot, BackupVault.DatabasesFolder, database, FileName);

        public static void Append(BackupTestResult result)
        {
            var b = result.Backup;
            if (b?.Vault == null || b.Id == null) return;
            string dir = Path.Combine(b.Vault, BackupVault.DatabasesFolder, b.Database);
            if (!Directory.Exists(dir)) return;
            JsonLines.Append(Path.Combine(dir, FileName), new Dictionary<string, object>
            {
                ["backupId"] = b.Id,
                ["testedAt"] = BackupManifest.Time(result.TestedAt),
                ["passed"] = result.Passed,
                ["restoreMs"] = (long)result.RestoreDuration.TotalMilliseconds,
                ["rtoMs"] = result.RecoveryTimeObjective.HasValue ? (object)(long)result.RecoveryTimeObjective.Value.TotalMilliseconds : null,
                ["failed"] = (result.Checks ?? new CheckResult[0]).Where(c => !c.Passed).Select(c => (object)c.Name).ToList(),
            });
        }

        /// <summary>Every readable record for a database, oldest first; damaged lines are skipped.</summary>
        public static List<VerificationRecord> Read(string vaultRoot, string database)
        {
            var list = new List<VerificationRecord>();
            foreach (var d in JsonLines.Read(PathFor(vaultRoot, database)))
            {
                try
                {
                    list.Add(new VerificationRecord
                    {
                        BackupId = (string)d["backupId"],
                        TestedAt = BackupManifest.ParseTime((string)d["testedAt"]),
                        Passed = (bool)d["passed"],
                        RestoreDuration = TimeSpan.FromMilliseconds(Convert.ToDouble(d["restoreMs"], CultureInfo.InvariantCulture)),
                        RecoveryTimeObjective = d.TryGetValue("rtoMs", out var rto) && rto != null ? TimeSpan.FromMilliseconds(Convert.ToDouble(rto, CultureInfo.InvariantCulture)) : (TimeSpan?)null,
                        FailedChecks = d.TryGetValue("failed", out var f) && f is List<object> l ? l.Select(x => Convert.ToString(x, CultureInfo.InvariantCulture)).ToArray() : new string[0],
                    });
                }
                catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is KeyNotFoundException)
                {
                    // A line of another shape (a hand edit): skip it.
                }
            }
            return list;
        }

        /// <summary>Ids of backups whose newest recorded test passed.</summary>
        public static HashSet<string> PassedBackupIds(string vaultRoot, string database) =>
            new HashSet<string>(Read(vaultRoot, database)
                .GroupBy(r => r.BackupId)
                .Where(g => g.OrderBy(r => r.TestedAt).Last().Passed)
                .Select(g => g.Key), StringComparer.Ordinal);
    }
}
