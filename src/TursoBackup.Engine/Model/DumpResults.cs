using System;

namespace TursoBackup
{
    /// <summary>What Export-TursoDatabase wrote: one SQL dump file.</summary>
    public sealed class ExportResult
    {
        /// <summary>The database dumped: a local file's full path or a remote URL.</summary>
        public string Source { get; set; }

        /// <summary>The dump file written (binds to Import-TursoDatabase -InFile by property name).</summary>
        public string OutFile { get; set; }

        /// <summary>None, Gzip or Zstd, from the file's extension.</summary>
        public string Compression { get; set; }

        public int Tables { get; set; }
        public long Rows { get; set; }

        /// <summary>The dump file's size on disk.</summary>
        public long Bytes { get; set; }

        public TimeSpan Duration { get; set; }

        /// <summary>For a remote database: how the dump was made consistent (one transaction, or verified by re-reading).</summary>
        public string Consistency { get; set; }
    }

    /// <summary>What Import-TursoDatabase made: one database file.</summary>
    public sealed class ImportResult
    {
        /// <summary>The database written (binds to Backup-TursoDatabase -Path by property name).</summary>
        public string Path { get; set; }

        /// <summary>The dump it was loaded from.</summary>
        public string InFile { get; set; }

        public int Tables { get; set; }
        public long Statements { get; set; }
        public long RowsInserted { get; set; }

        /// <summary>The new database file's size.</summary>
        public long Bytes { get; set; }

        public TimeSpan Duration { get; set; }

        /// <summary>Whether an existing database was replaced (-Force).</summary>
        public bool Replaced { get; set; }

        /// <summary>The emergency backup of the replaced database, when it went into a vault (-Vault).</summary>
        public BackupInfo EmergencyBackup { get; set; }

        /// <summary>Where the replaced database's previous content was kept beside it, else null.</summary>
        public string ReplacedFileKeptAt { get; set; }
    }
}
