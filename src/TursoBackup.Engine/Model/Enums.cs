namespace TursoBackup
{
    /// <summary>What a backup artifact holds.</summary>
    public enum BackupKind
    {
        /// <summary>A consistent SQLite database file made with SQLite's online backup API.</summary>
        Snapshot,
        /// <summary>SQL text that sqlite3 can load.</summary>
        Dump,
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
