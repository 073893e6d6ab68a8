using System;

namespace TursoBackup
{
    /// <summary>What one WAL archive sync did, and where the archive stands.</summary>
    public sealed class WalArchiveStatus
    {
        public string Database { get; set; }
        public string Vault { get; set; }
        public string Generation { get; set; }
        public DateTimeOffset LastSyncAt { get; set; }
        /// <summary>Frames captured by this sync (or, from Start-TursoWalArchive, since it started).</summary>
        public long FramesCaptured { get; set; }
        /// <summary>Stored (compressed) bytes written by this sync (or since start).</summary>
        public long BytesCaptured { get; set; }
        /// <summary>Upper bound of the time the oldest committed but unarchived transaction waited (zero when nothing was pending).</summary>
        public TimeSpan Lag { get; set; }
        /// <summary>Snapshots (generation starts) in the archive.</summary>
        public int Snapshots { get; set; }
        /// <summary>Why a new generation was started by this sync, if it was.</summary>
        public string NewGenerationReason { get; set; }
        public int Segments { get; set; }
        /// <summary>The offsite vaults the archive is shipped to (Start-TursoWalArchive -Offsite); empty without.</summary>
        public string[] Offsite { get; set; } = new string[0];
        /// <summary>How far the slowest offsite vault trails this archive (its offsite RPO now); null without -Offsite.</summary>
        public TimeSpan? OffsiteLag { get; set; }
    }

    /// <summary>An interval that cannot be restored to.</summary>
    public sealed class RestoreGap
    {
        public DateTimeOffset From { get; set; }
        public DateTimeOffset To { get; set; }
        public string Reason { get; set; }

        public override string ToString() => $"{From:u} – {To:u}: {Reason}";
    }

    /// <summary>The times a database can be restored to from a vault's WAL archive.</summary>
    public sealed class RestoreWindow
    {
        public string Database { get; set; }
        public string Vault { get; set; }
        public DateTimeOffset? Earliest { get; set; }
        public DateTimeOffset? Latest { get; set; }
        public int Generations { get; set; }
        public int Snapshots { get; set; }
        public int Segments { get; set; }
        public RestoreGap[] Gaps { get; set; } = new RestoreGap[0];
        /// <summary>When every snapshot and segment of the archive was last read and checked (null: never).</summary>
        public DateTimeOffset? VerifiedAt { get; set; }

        /// <summary>How it reads where it is a property of another object (a RestoreResult's Source): its span, not its type.</summary>
        public override string ToString() => Earliest.HasValue && Latest.HasValue
            ? $"WAL archive of {Database}: {Earliest.Value.UtcDateTime:yyyy-MM-dd HH:mm:ss} – {Latest.Value.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC" + (Gaps.Length == 0 ? "" : $", {Gaps.Length} gap(s)")
            : $"WAL archive of {Database} (empty)";
    }
}

namespace TursoBackup
{
    /// <summary>A database made from another one as of now or as of a past timestamp; the source is never changed.</summary>
    public sealed class TursoBranch
    {
        public string Name { get; set; }
        /// <summary>The source database (a path for local branches, a database name for Turso Cloud).</summary>
        public string Source { get; set; }
        public DateTimeOffset PointInTime { get; set; }
        /// <summary>Path (local) or URL (cloud) of the branch.</summary>
        public string Location { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
        /// <summary>Local or Cloud.</summary>
        public string Provider { get; set; }

        /// <summary>True for a Turso Cloud branch (a database of an organization), false for a local file.</summary>
        public bool IsCloud => string.Equals(Provider, "Cloud", StringComparison.OrdinalIgnoreCase);
        /// <summary>
        /// Cloud: the URL to connect to, <c>libsql://&lt;Hostname&gt;</c> (<c>http://</c> for a loopback hostname, i.e. a local
        /// libSQL server standing in for Turso in tests). Null for local branches. Equal to <see cref="Location"/> for cloud branches.
        /// </summary>
        public string Url { get; set; }
        /// <summary>Cloud: the database's hostname as the Platform API reports it.</summary>
        public string Hostname { get; set; }
        /// <summary>Cloud: the branch database's UUID.</summary>
        public string DbId { get; set; }
        /// <summary>Cloud: the group the branch was created in.</summary>
        public string Group { get; set; }
        /// <summary>Cloud: the organization (slug) the branch belongs to.</summary>
        public string Organization { get; set; }
        /// <summary>The timestamp the branch was requested at (UTC, whole seconds); null for a branch of "now".</summary>
        public DateTimeOffset? Timestamp { get; set; }

        /// <summary>
        /// Cloud: a read-only database token for <see cref="Url"/> (minted by New-TursoBranch), so the branch can be
        /// piped into Test-Backup, Export-TursoDatabase or Backup-TursoDatabase (bound to -AuthToken by name). A
        /// SecureString: it never shows in output.
        /// </summary>
        public System.Security.SecureString AuthToken { get; set; }

        public override string ToString() => Name;
    }
}
