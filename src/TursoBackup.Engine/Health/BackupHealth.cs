using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Verification;
using TursoBackup.Engine.Wal;

namespace TursoBackup.Engine.Health
{
    /// <summary>What <see cref="BackupHealth"/> judges against (the defaults are Get-TursoBackupHealth's).</summary>
    public sealed class HealthThresholds
    {
        /// <summary>The newest recovery point may be at most this old (default 1 h).</summary>
        public TimeSpan RecoveryPointObjective { get; set; } = TimeSpan.FromHours(1);
        /// <summary>The newest verification's restore may take at most this long (default 4 h); null = not judged.</summary>
        public TimeSpan? RecoveryTimeObjective { get; set; } = TimeSpan.FromHours(4);
        /// <summary>The newest verification may be at most this old (default 30 days).</summary>
        public TimeSpan MaxVerificationAge { get; set; } = TimeSpan.FromDays(30);
        /// <summary>The WAL archive's last sync may be at most this old (default 60 s).</summary>
        public TimeSpan MaxArchiveLag { get; set; } = TimeSpan.FromSeconds(60);
        /// <summary>The newest backup (snapshot or dump) should be younger than this even when the WAL archive keeps the RPO (default 24 h).</summary>
        public TimeSpan MaxSnapshotAge { get; set; } = TimeSpan.FromHours(24);
        /// <summary>Bytes each database's backups and WAL archive may use in the vault; null = no quota.</summary>
        public long? StorageQuota { get; set; }
        /// <summary>Share of <see cref="StorageQuota"/> from which a Warning is given (default 0.8 = 80 %).</summary>
        public double StorageWarningRatio { get; set; } = 0.8;
        /// <summary>How old the newest copy at an offsite destination may be (default 25 hours: a daily copy, with an hour's slack).</summary>
        public TimeSpan OffsiteRecoveryPointObjective { get; set; } = TimeSpan.FromHours(25);
        /// <summary>The WAL archive is read in full (every snapshot and segment) when its last verification is older than this (default 1 day).</summary>
        public TimeSpan ArchiveVerificationInterval { get; set; } = TimeSpan.FromDays(1);
    }

    /// <summary>
    /// The health of the databases in a vault (the engine of Get-TursoBackupHealth): one <see cref="HealthReport"/> per
    /// database, each finding one plain-English sentence that says what is wrong and what to do. It only reads the vault.
    /// <para><b>Critical</b> (data may be lost or cannot be restored):</para>
    /// <list type="bullet">
    /// <item><see cref="NoBackup"/>: the database has no backup and no WAL archive in the vault.</item>
    /// <item><see cref="RpoMissed"/>: the newest recovery point (newest backup, or the WAL archive's last sync if newer) is
    /// older than the RPO.</item>
    /// <item><see cref="VerificationFailed"/>: the newest recorded Test-Backup failed.</item>
    /// <item><see cref="StorageQuotaExceeded"/>: the database's backups and WAL archive use the whole quota or more.</item>
    /// </list>
    /// <para><b>Warning</b> (protection holds but is unproven or degrading):</para>
    /// <list type="bullet">
    /// <item><see cref="NeverVerified"/>: backups exist but none was ever tested with Test-Backup.</item>
    /// <item><see cref="VerificationStale"/>: the newest Test-Backup is older than MaxVerificationAge.</item>
    /// <item><see cref="RtoMissed"/>: the newest Test-Backup's restore took longer than the RTO (when one is given).</item>
    /// <item><see cref="ArchiveLagging"/>: the WAL archive's last sync is older than MaxArchiveLag.</item>
    /// <item><see cref="RestoreWindowGap"/>: the WAL archive's restore window has gaps (within the window, or from its end on).</item>
    /// <item><see cref="StorageQuotaNear"/>: storage at or over StorageWarningRatio of the quota.</item>
    /// <item><see cref="DamagedManifests"/>: some backups' manifests cannot be read (those backups are left out).</item>
    /// <item><see cref="OrphanedBackupFolders"/>: some backup folders have no manifest (their artifacts are left out).</item>
    /// </list>
    /// <para>Status is the worst severity found (Healthy when nothing is); findings are listed Critical first.</para>
    /// </summary>
    public sealed class BackupHealth
    {
        public const string NoBackup = "NoBackup";
        public const string RpoMissed = "RpoMissed";
        public const string VerificationFailed = "VerificationFailed";
        public const string StorageQuotaExceeded = "StorageQuotaExceeded";
        public const string NeverVerified = "NeverVerified";
        public const string VerificationStale = "VerificationStale";
        public const string RtoMissed = "RtoMissed";
        public const string ArchiveLagging = "ArchiveLagging";
        public const string RestoreWindowGap = "RestoreWindowGap";
        public const string StorageQuotaNear = "StorageQuotaNear";
        public const string DamagedManifests = "DamagedManifests";
        public const string SnapshotStale = "SnapshotStale";
        public const string OrphanedBackupFolders = "OrphanedBackupFolders";
        public const string OffsiteStale = "OffsiteStale";
        public const string OffsiteMissing = "OffsiteMissing";
        public const string OffsiteSyncFailed = "OffsiteSyncFailed";
        public const string OffsiteVerificationFailed = "OffsiteVerificationFailed";

        private readonly Func<DateTimeOffset> clock;

        public BackupHealth(Func<DateTimeOffset> clock = null)
        {
            this.clock = clock ?? (() => DateTimeOffset.UtcNow);
        }

        /// <summary>
        /// One report per database of the vault (those with backups and those with only a WAL archive), ordered by name.
        /// With <paramref name="database"/>, only that one (exact name) — and a database the vault does not hold is
        /// reported Critical (no backup), so a monitor notices a database that was never backed up.
        /// </summary>
        /// <exception cref="Errors.TursoBackupException">The vault does not exist or is not a vault.</exception>
        public List<HealthReport> Check(string vaultRoot, string database = null, HealthThresholds thresholds = null)
        {
            var vault = BackupVault.OpenExisting(vaultRoot);
            thresholds = thresholds ?? new HealthThresholds();
            IEnumerable<string> names = database != null ? new[] { BackupVault.ValidateDatabaseName(database) } : DatabaseNames(vault.Root);
            var now = clock();
            return names.Select(n => CheckDatabase(vault, n, thresholds, now)).ToList();
        }

        /// <summary>Databases with a backup folder or a WAL archive, ordered by name.</summary>
        public static List<string> DatabaseNames(string vaultRoot)
        {
            var names = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var folder in new[] { Path.Combine(vaultRoot, BackupVault.DatabasesFolder), Path.Combine(vaultRoot, WalArchiveLayout.Folder) })
            {
                if (!Directory.Exists(folder)) continue;
                foreach (var d in Directory.GetDirectories(folder))
                {
                    string name = Path.GetFileName(d);
                    if (BackupVault.IsPlainName(name)) names.Add(name);
                }
            }
            return names.ToList();
        }

        private HealthReport CheckDatabase(BackupVault vault, string database, HealthThresholds t, DateTimeOffset now)
        {
            var findings = new List<HealthFinding>();
            void Add(HealthStatus severity, string code, string message) => findings.Add(new HealthFinding(severity, code, message));

            var report = new HealthReport
            {
                Database = database,
                Vault = vault.Root,
                CheckedAt = now,
                RecoveryPointObjective = t.RecoveryPointObjective,
                RecoveryTimeObjective = t.RecoveryTimeObjective,
                StorageQuota = t.StorageQuota,
            };

            // Backups.
            int damaged = 0;
            var orphans = new List<string>();
            var backups = vault.List(database, (path, ex) =>
            {
                if (ex is FileNotFoundException) orphans.Add(Path.GetFileName(Path.GetDirectoryName(path)));
                else damaged++;
            });
            report.BackupCount = backups.Count;
            // An emergency backup (of a file a restore or import replaced) is no recovery point of the database.
            report.LastBackup = backups.FirstOrDefault(b => b.Emergency == null);
            DateTimeOffset? lastBackupAt = report.LastBackup?.CreatedAt;

            // WAL archive.
            var layout = new WalArchiveLayout(vault.Root, database);
            bool hasArchive = Directory.Exists(layout.Root) && (File.Exists(layout.StatePath) || layout.Generations().Count > 0);
            if (hasArchive)
            {
                // The daily check: damage inside the files is invisible to the listing until they are read.
                layout.RecordedDamage(out var verifiedAt);
                if (!verifiedAt.HasValue || now - verifiedAt.Value >= t.ArchiveVerificationInterval)
                {
                    try { WalRestore.Verify(vault.Root, database, now); }
                    catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { } // a read-only vault: judged from the listing
                }
                var window = WalRestore.Window(vault.Root, database);
                report.RestoreWindow = window;
                var state = WalArchiveState.Load(layout.StatePath);
                DateTimeOffset? lastSync = state != null ? state.LastSyncAt : window.Latest;
                if (lastSync.HasValue)
                {
                    report.ArchiveLag = NonNegative(now - lastSync.Value);
                    if (!lastBackupAt.HasValue || lastSync.Value > lastBackupAt.Value) lastBackupAt = lastSync;
                }
            }

            // Offsite copies, as the last sync to each destination found them.
            report.Offsite = Offsite.OffsiteLog.Read(vault.Root, now, t.OffsiteRecoveryPointObjective).Where(o => o.Database == database).ToArray();
            foreach (var o in report.Offsite)
            {
                if (o.LastError != null)
                {
                    Add(HealthStatus.Warning, OffsiteSyncFailed, $"The last copy of '{database}' to {o.Destination} failed ({o.LastError}); fix the cause and run Sync-TursoVault -Source '{vault.Root}' -Destination '{o.Destination}'.");
                }
                if (o.NewestCopyAge.HasValue && !o.RpoMet)
                {
                    Add(HealthStatus.Warning, OffsiteStale, $"The newest copy of '{database}' at {o.Destination} is {Span(o.NewestCopyAge.Value)} old, over the offsite RPO of {Span(o.RecoveryPointObjective)}: run Sync-TursoVault (the daily runbook does) or check its schedule.");
                }
                else if (!o.NewestCopyAge.HasValue)
                {
                    Add(HealthStatus.Warning, OffsiteStale, $"{o.Destination} holds no copy of '{database}': run Sync-TursoVault -Source '{vault.Root}' -Destination '{o.Destination}'.");
                }
                if (o.Missing > 0)
                {
                    Add(HealthStatus.Warning, OffsiteMissing, $"{o.Missing} backup(s) of '{database}' were not at {o.Destination} after the last sync: run Sync-TursoVault again and read its errors.");
                }
                if (o.LastVerificationPassed == false)
                {
                    Add(HealthStatus.Warning, OffsiteVerificationFailed, $"The newest restore test from {o.Destination} of '{database}' failed: run Test-Backup -Vault '{o.Destination}' -Database '{database}' -Verbose.");
                }
            }

            // Recovery point.
            report.LastBackupAt = lastBackupAt;
            if (lastBackupAt.HasValue)
            {
                report.LastBackupAge = NonNegative(now - lastBackupAt.Value);
                report.RpoMet = report.LastBackupAge.Value <= t.RecoveryPointObjective;
                if (!report.RpoMet)
                {
                    Add(HealthStatus.Critical, RpoMissed,
                        $"The newest backup of '{database}' is {Span(report.LastBackupAge.Value)} old, over the RPO of {Span(t.RecoveryPointObjective)}: " +
                        (hasArchive
                            ? "check that Start-TursoWalArchive (or the scheduled Sync-TursoWalArchive) is running, or run Backup-TursoDatabase."
                            : "run Backup-TursoDatabase or check the scheduled task."));
                }
            }
            // The archive can keep the RPO on its own, but a restore then replays everything since the last backup.
            if (hasArchive && report.RpoMet == true && report.LastBackup != null && now - report.LastBackup.CreatedAt > t.MaxSnapshotAge)
            {
                Add(HealthStatus.Warning, SnapshotStale,
                    $"The newest backup of '{database}' is {Span(NonNegative(now - report.LastBackup.CreatedAt))} old, over {Span(t.MaxSnapshotAge)}: the WAL archive covers the time since, " +
                    "but a restore replays all of it; schedule Backup-TursoDatabase daily.");
            }
            if (!lastBackupAt.HasValue)
            {
                Add(HealthStatus.Critical, NoBackup,
                    $"'{database}' has no backup in vault '{vault.Root}': run Backup-TursoDatabase -Vault '{vault.Root}' and schedule it.");
            }

            // Verification.
            var records = VerificationLog.Read(vault.Root, database);
            var newest = records.OrderBy(r => r.TestedAt).LastOrDefault();
            if (newest != null)
            {
                report.LastVerifiedAt = newest.TestedAt;
                report.LastVerificationPassed = newest.Passed;
                report.LastVerifiedBackupId = newest.BackupId;
                report.LastRestoreDuration = newest.RestoreDuration;
                if (!newest.Passed)
                {
                    string failed = newest.FailedChecks != null && newest.FailedChecks.Length > 0 ? " (" + string.Join(", ", newest.FailedChecks) + ")" : "";
                    Add(HealthStatus.Critical, VerificationFailed,
                        $"The newest test of '{database}' (backup {newest.BackupId}, {Span(NonNegative(now - newest.TestedAt))} ago) FAILED{failed}: " +
                        "find out why with Test-Backup, then make a fresh backup with Backup-TursoDatabase and test it.");
                }
                var age = NonNegative(now - newest.TestedAt);
                if (age > t.MaxVerificationAge)
                {
                    Add(HealthStatus.Warning, VerificationStale,
                        $"'{database}' was last verified {Span(age)} ago, over the limit of {Span(t.MaxVerificationAge)}: " +
                        "run Test-Backup on its newest backup (or schedule a recovery drill that does).");
                }
                if (t.RecoveryTimeObjective.HasValue)
                {
                    report.RtoMet = newest.RestoreDuration <= t.RecoveryTimeObjective.Value;
                    if (report.RtoMet == false)
                    {
                        Add(HealthStatus.Warning, RtoMissed,
                            $"Restoring '{database}' took {Span(newest.RestoreDuration)} in its newest test, over the RTO of {Span(t.RecoveryTimeObjective.Value)}: " +
                            "use faster storage or lighter compression for its backups, or agree on a longer RTO.");
                    }
                }
            }
            else if (backups.Count > 0)
            {
                Add(HealthStatus.Warning, NeverVerified,
                    $"No backup of '{database}' has ever been verified: run Test-Backup on its newest backup (or schedule a recovery drill that does).");
            }

            // WAL archive lag and window.
            if (report.ArchiveLag.HasValue && report.ArchiveLag.Value > t.MaxArchiveLag)
            {
                Add(HealthStatus.Warning, ArchiveLagging,
                    $"The WAL archive of '{database}' was last synced {Span(report.ArchiveLag.Value)} ago, over the limit of {Span(t.MaxArchiveLag)}: " +
                    "check that Start-TursoWalArchive (or the scheduled Sync-TursoWalArchive) is running.");
            }
            if (report.RestoreWindow != null && report.RestoreWindow.Earliest.HasValue)
            {
                var w = report.RestoreWindow;
                var gaps = w.Gaps.Where(g => g.To > w.Earliest.Value).ToList();
                if (gaps.Count > 0)
                {
                    var g = gaps.Last();
                    string to = g.To == DateTimeOffset.MaxValue ? "now" : Stamp(g.To);
                    Add(HealthStatus.Warning, RestoreWindowGap,
                        $"The restore window of '{database}' has {gaps.Count} gap{(gaps.Count == 1 ? "" : "s")} (the latest from {Stamp(g.From)} to {to}: {g.Reason}): " +
                        "times inside cannot be restored to; see Get-TursoRestorePoint and keep Start-TursoWalArchive running without interruption.");
                }
            }

            // Storage.
            report.StorageBytes = FolderBytes(Path.Combine(vault.DatabasesPath, database)) + FolderBytes(layout.Root);
            if (t.StorageQuota.HasValue && t.StorageQuota.Value > 0)
            {
                long quota = t.StorageQuota.Value;
                double share = (double)report.StorageBytes / quota;
                string used = $"'{database}' uses {Bytes(report.StorageBytes)} in the vault, {Math.Floor(share * 100).ToString(CultureInfo.InvariantCulture)} % of its quota of {Bytes(quota)}";
                if (report.StorageBytes >= quota)
                {
                    Add(HealthStatus.Critical, StorageQuotaExceeded,
                        used + ": remove old backups with Invoke-TursoBackupRetention or raise the quota before backups fail.");
                }
                else if (share >= t.StorageWarningRatio)
                {
                    Add(HealthStatus.Warning, StorageQuotaNear,
                        used + ": tighten retention with Invoke-TursoBackupRetention or raise the quota.");
                }
            }

            if (damaged > 0)
            {
                Add(HealthStatus.Warning, DamagedManifests,
                    $"{damaged} backup{(damaged == 1 ? "" : "s")} of '{database}' cannot be read (damaged manifest{(damaged == 1 ? "" : "s")}) and {(damaged == 1 ? "was" : "were")} left out: " +
                    $"list them with Get-TursoBackup -Vault '{vault.Root}' -Database '{database}' -Verbose and remove or repair them.");
            }

            if (orphans.Count > 0)
            {
                Add(HealthStatus.Warning, OrphanedBackupFolders,
                    $"{orphans.Count} backup folder{(orphans.Count == 1 ? "" : "s")} of '{database}' {(orphans.Count == 1 ? "has" : "have")} no manifest ({string.Join(", ", orphans.OrderBy(o => o, StringComparer.Ordinal))}) and {(orphans.Count == 1 ? "was" : "were")} left out: " +
                    $"restore the manifest from a copy of the vault, or remove the folder{(orphans.Count == 1 ? "" : "s")} under '{Path.Combine(vault.DatabasesPath, database)}'.");
            }

            var ordered = findings.OrderByDescending(f => f.Severity).ToArray(); // stable: rule order within a severity
            report.Details = ordered;
            report.Findings = ordered.Select(f => f.Message).ToArray();
            report.Status = ordered.Length == 0 ? HealthStatus.Healthy : ordered.Max(f => f.Severity);
            return report;
        }

        private static TimeSpan NonNegative(TimeSpan t) => t < TimeSpan.Zero ? TimeSpan.Zero : t;

        private static long FolderBytes(string folder)
        {
            long total = 0;
            if (!Directory.Exists(folder)) return 0;
            try
            {
                foreach (var f in new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories))
                {
                    try { total += f.Length; }
                    catch (IOException) { } // removed meanwhile (a running archiver packs segments)
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { }
            return total;
        }

        private static string Stamp(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

        /// <summary>A duration as people say it: "45 s", "12 min", "26 h" (below 48 h), "3 days" (one decimal where it matters).</summary>
        public static string Span(TimeSpan t)
        {
            string N(double v) => Math.Round(v, 1).ToString("0.#", CultureInfo.InvariantCulture);
            // A whole number of a large unit reads best in it: 1 h, not 60 min; 30 days, not 720 h.
            if (t >= TimeSpan.FromDays(2) && t.Ticks % TimeSpan.TicksPerDay == 0) return N(t.TotalDays) + " days";
            if (t >= TimeSpan.FromHours(1) && t.Ticks % TimeSpan.TicksPerHour == 0 && t.TotalHours < 48) return N(t.TotalHours) + " h";
            if (t >= TimeSpan.FromMinutes(1) && t.Ticks % TimeSpan.TicksPerMinute == 0 && t.TotalMinutes < 120) return N(t.TotalMinutes) + " min";
            if (t.TotalSeconds < 120) return N(t.TotalSeconds) + " s";
            if (t.TotalMinutes < 120) return N(t.TotalMinutes) + " min";
            if (t.TotalHours < 48) return N(t.TotalHours) + " h";
            return N(t.TotalDays) + " days";
        }

        /// <summary>A byte count as people read it: "512 bytes", "1.5 KB", "2.3 GB" (binary units).</summary>
        public static string Bytes(long n)
        {
            string[] units = { "KB", "MB", "GB", "TB", "PB" };
            if (n < 1024) return n.ToString(CultureInfo.InvariantCulture) + " bytes";
            double v = n;
            int u = -1;
            while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
            return v.ToString("0.#", CultureInfo.InvariantCulture) + " " + units[u];
        }
    }
}
