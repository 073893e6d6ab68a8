using System;

namespace TursoBackup
{
    /// <summary>
    /// How one database stands at one offsite destination (Get-TursoBackupHealth's Offsite), as the last sync from
    /// this vault found it: the newest copy there and its age, backups not copied, the last verified restore from it,
    /// and how far behind its WAL archive is.
    /// </summary>
    public sealed class OffsiteStatus
    {
        /// <summary>The destination's address (no secret).</summary>
        public string Destination { get; set; }
        public string Database { get; set; }
        /// <summary>When a sync to it last succeeded; null if none ever did.</summary>
        public DateTimeOffset? LastSyncAt { get; set; }
        /// <summary>When a sync to it was last tried.</summary>
        public DateTimeOffset? LastAttemptAt { get; set; }
        /// <summary>Why the last attempt failed; null when it succeeded.</summary>
        public string LastError { get; set; }
        /// <summary>The newest backup of the database there.</summary>
        public string NewestCopyId { get; set; }
        public DateTimeOffset? NewestCopyAt { get; set; }
        /// <summary>Age of the newest recovery point there (the newest backup, or the WAL shipped, whichever is newer).</summary>
        public TimeSpan? NewestCopyAge { get; set; }
        /// <summary>The offsite RPO it was judged against.</summary>
        public TimeSpan RecoveryPointObjective { get; set; }
        public bool RpoMet { get; set; }
        /// <summary>Backups of this vault that were not there after the last sync.</summary>
        public int Missing { get; set; }
        /// <summary>The newest Test-Backup recorded in that vault (a restore from it), and whether it passed.</summary>
        public DateTimeOffset? LastVerifiedAt { get; set; }
        public bool? LastVerificationPassed { get; set; }
        /// <summary>The WAL archive's last sync that has reached the destination; null without a WAL archive there.</summary>
        public DateTimeOffset? WalShippedAt { get; set; }
        /// <summary>How far the destination's WAL archive is behind this vault's (0 when all is shipped); null without one.</summary>
        public TimeSpan? OffsiteLag { get; set; }

        public override string ToString() => Destination + " " + Database;
    }
}
