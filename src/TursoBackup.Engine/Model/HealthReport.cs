using System;

namespace TursoBackup
{
    /// <summary>How healthy a database's protection is; the worst of its findings.</summary>
    public enum HealthStatus
    {
        /// <summary>Nothing found.</summary>
        Healthy,
        /// <summary>Protection holds but is degrading or unproven (not verified lately, slow restore, archive lagging, storage filling up).</summary>
        Warning,
        /// <summary>Data may be lost or cannot be restored (no backup, RPO missed, newest test failed, storage quota used up).</summary>
        Critical,
    }

    /// <summary>One thing wrong with a database's protection: a plain-English sentence saying what is wrong and what to do.</summary>
    public sealed class HealthFinding
    {
        public HealthFinding() { }

        public HealthFinding(HealthStatus severity, string code, string message)
        {
            Severity = severity;
            Code = code;
            Message = message;
        }

        /// <summary>Warning or Critical.</summary>
        public HealthStatus Severity { get; set; }
        /// <summary>A stable name of the rule that fired (see <c>BackupHealth</c>'s constants), for scripts and alerts.</summary>
        public string Code { get; set; }
        public string Message { get; set; }

        public override string ToString() => Severity + ": " + Message;
    }

    /// <summary>
    /// The health of one database in a vault (Get-TursoBackupHealth): how old its newest backup is against the recovery
    /// point objective, whether its newest verification passed and how long the restore took, the WAL archive's lag and
    /// restore window, and the storage its backups use.
    /// </summary>
    public sealed class HealthReport
    {
        public string Database { get; set; }
        public string Vault { get; set; }
        public HealthStatus Status { get; set; }
        /// <summary>When the report was made (the injected clock).</summary>
        public DateTimeOffset CheckedAt { get; set; }

        /// <summary>
        /// The newest recovery point: the newest backup's creation time or, when the database has a WAL archive, its last
        /// sync if that is newer. Null when there is neither.
        /// </summary>
        public DateTimeOffset? LastBackupAt { get; set; }
        /// <summary><see cref="CheckedAt"/> − <see cref="LastBackupAt"/> (never negative); null without a backup.</summary>
        public TimeSpan? LastBackupAge { get; set; }
        public TimeSpan RecoveryPointObjective { get; set; }
        /// <summary>True when <see cref="LastBackupAge"/> is within the RPO; false otherwise (also without any backup).</summary>
        public bool RpoMet { get; set; }
        /// <summary>The newest backup in the vault (snapshot or dump); null when there is none.</summary>
        public BackupInfo LastBackup { get; set; }
        /// <summary>How many backups of the database the vault holds (the WAL archive not counted).</summary>
        public int BackupCount { get; set; }

        /// <summary>When the newest recorded Test-Backup ran; null if the database was never verified.</summary>
        public DateTimeOffset? LastVerifiedAt { get; set; }
        /// <summary>Whether the newest recorded Test-Backup passed; null if never verified.</summary>
        public bool? LastVerificationPassed { get; set; }
        /// <summary>The backup the newest Test-Backup tested.</summary>
        public string LastVerifiedBackupId { get; set; }
        /// <summary>How long the newest Test-Backup took to restore; null if never verified.</summary>
        public TimeSpan? LastRestoreDuration { get; set; }
        /// <summary>The RTO the report judged against; null when none was given (not judged).</summary>
        public TimeSpan? RecoveryTimeObjective { get; set; }
        /// <summary>Whether <see cref="LastRestoreDuration"/> is within the RTO; null when there is no RTO or no verification.</summary>
        public bool? RtoMet { get; set; }

        /// <summary>The database at each offsite destination this vault was synced to (empty when none).</summary>
        public OffsiteStatus[] Offsite { get; set; } = new OffsiteStatus[0];

        /// <summary>The WAL archive's restore window; null when the database has no WAL archive.</summary>
        public RestoreWindow RestoreWindow { get; set; }
        /// <summary>Time since the WAL archive's last sync; null when the database has no WAL archive.</summary>
        public TimeSpan? ArchiveLag { get; set; }

        /// <summary>Bytes the database's backups and WAL archive use in the vault.</summary>
        public long StorageBytes { get; set; }
        /// <summary>The per-database quota judged against, in bytes; null when none was given.</summary>
        public long? StorageQuota { get; set; }

        /// <summary>One plain-English sentence per finding, Critical ones first; empty when healthy.</summary>
        public string[] Findings { get; set; } = new string[0];
        /// <summary>The same findings with their severity and rule code.</summary>
        public HealthFinding[] Details { get; set; } = new HealthFinding[0];

        public override string ToString() => Database + ": " + Status + (Findings.Length == 0 ? "" : " (" + Findings.Length + (Findings.Length == 1 ? " finding)" : " findings)"));
    }
}
