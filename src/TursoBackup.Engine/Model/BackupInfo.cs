using System;

namespace TursoBackup
{
    /// <summary>The row count of one table as recorded in a backup's manifest.</summary>
    public sealed class TableRowCount
    {
        public TableRowCount() { }

        public TableRowCount(string name, long rows)
        {
            Name = name;
            Rows = rows;
        }

        public string Name { get; set; }
        public long Rows { get; set; }

        public override string ToString() => Name + "=" + Rows;
    }

    /// <summary>
    /// What makes a backup an emergency backup: the snapshot of a database taken just before a command replaced it
    /// (Restore-TursoBackup -Force, Restore-TursoPointInTime, Import-TursoDatabase -Force -Vault). Name-based
    /// selection never picks one unless asked (-IncludeEmergency, or by -Id).
    /// </summary>
    public sealed class EmergencyInfo
    {
        /// <summary>The file that was about to be replaced (the emergency backup holds its content).</summary>
        public string Replaced { get; set; }
        /// <summary>Why it was replaced, e.g. "before-restore-&lt;backup id&gt;", "before-import", "before-pitr".</summary>
        public string Reason { get; set; }

        public override string ToString() => Reason + (Replaced == null ? "" : " (" + Replaced + ")");
    }

    /// <summary>What an Incremental backup holds in the database's page store (the manifest's "pages").</summary>
    public sealed class IncrementalInfo
    {
        /// <summary>The store, relative to the vault: pages/&lt;database&gt;.</summary>
        public string Store { get; set; }
        /// <summary>Pages this backup added to the store; the others it shares with earlier backups.</summary>
        public long NewPages { get; set; }
        /// <summary>Bytes this backup added to the store (compressed pages and pack indexes), beside its page map.</summary>
        public long NewBytes { get; set; }
        /// <summary>The packs this backup added.</summary>
        public string[] Packs { get; set; } = new string[0];

        public override string ToString() => $"{NewPages:N0} new page(s), {NewBytes:N0} bytes";
    }

    /// <summary>One backup in a vault: its artifact and what its manifest says of it.</summary>
    public sealed class BackupInfo
    {
        /// <summary>Sortable by time: yyyyMMddTHHmmss.fffZ-xxxx.</summary>
        public string Id { get; set; }
        public string Database { get; set; }
        public BackupKind Kind { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
        /// <summary>The moment of the database state the backup holds (when its read transaction began).</summary>
        public DateTimeOffset PointInTime { get; set; }
        public string Vault { get; set; }
        /// <summary>Full path of the stored artifact.</summary>
        public string Location { get; set; }
        public string SourcePath { get; set; }
        public long SourceBytes { get; set; }
        public long StoredBytes { get; set; }
        public CompressionKind Compression { get; set; }
        public bool Encrypted { get; set; }
        /// <summary>How the artifact is encrypted (OpenPGP AES-256, for a passphrase and/or key ids); null when it is not.</summary>
        public EncryptionInfo Encryption { get; set; }
        /// <summary>SHA-256 of the stored artifact, lowercase hex (of the encrypted bytes when encrypted: storage is verified without the key).</summary>
        public string Sha256 { get; set; }
        /// <summary>SHA-256 of the artifact's content before encryption (the compressed database or dump); equal to <see cref="Sha256"/> when not encrypted.</summary>
        public string PlaintextSha256 { get; set; }
        public int PageSize { get; set; }
        public long PageCount { get; set; }
        /// <summary>PRAGMA auto_vacuum of the source (0 NONE, 1 FULL, 2 INCREMENTAL); null in manifests written before it was recorded.</summary>
        public int? AutoVacuum { get; set; }
        /// <summary>Bytes reserved at the end of every page (header byte 20: checksum VFS, encryption); null when not recorded.</summary>
        public int? ReservedBytes { get; set; }
        public string SchemaHash { get; set; }
        public TableRowCount[] Tables { get; set; } = new TableRowCount[0];
        public TimeSpan Duration { get; set; }
        public BackupTier Tier { get; set; } = BackupTier.General;
        public string[] Tags { get; set; } = new string[0];
        public string JournalMode { get; set; }
        /// <summary>How the backup was made consistent (for example "read transaction; page copy").</summary>
        public string Consistency { get; set; }
        public string SqliteVersion { get; set; }
        public int FormatVersion { get; set; }
        /// <summary>Set on an emergency backup (the manifest's "emergency", or an older manifest tagged "emergency"); else null.</summary>
        public EmergencyInfo Emergency { get; set; }

        /// <summary>An Incremental backup's pages in the store (how many it added, in which packs); null for the other kinds.</summary>
        public IncrementalInfo Pages { get; set; }

        /// <summary>Sum of the table row counts.</summary>
        public long TotalRows
        {
            get
            {
                long total = 0;
                foreach (var t in Tables ?? new TableRowCount[0]) total += t.Rows;
                return total;
            }
        }

        public override string ToString() => Database + "/" + Id;
    }
}
