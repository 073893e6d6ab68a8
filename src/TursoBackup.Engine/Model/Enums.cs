namespace TursoBackup
{
    /// <summary>What a backup artifact holds.</summary>
    public enum BackupKind
    {
        /// <summary>A consistent SQLite database file made with SQLite's online backup API.</summary>
        Snapshot,
        /// <summary>SQL text that sqlite3 can load.</summary>
        Dump,
        /// <summary>
        /// A page map (every page's SHA-256) over the database's page store in the vault: pages stored once and shared by
        /// every Incremental backup that holds them; each backup restores on its own (docs/vault-format.md, "Incremental").
        /// </summary>
        Incremental,
    }

    /// <summary>How a stored artifact is compressed.</summary>
    public enum CompressionKind
    {
        None,
        Gzip,
        Zstd,
    }

    /// <summary>How much a database matters; later layers use it for defaults and alerts.</summary>
    public enum BackupTier
    {
        Critical,
        Important,
        General,
    }
}
