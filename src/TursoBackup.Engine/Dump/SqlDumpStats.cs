using System;
using System.Collections.Generic;

namespace TursoBackup.Engine.Dump
{
    /// <summary>What <see cref="SqlDumpWriter.Write"/> wrote.</summary>
    public sealed class SqlDumpStats
    {
        /// <summary>Ordinary tables whose CREATE TABLE and rows were written (virtual tables' shadow tables included, sqlite_* tables not).</summary>
        public int Tables { get; set; }

        /// <summary>Virtual tables (FTS5, R-Tree...) written as sqlite_master rows (their data is in their shadow tables).</summary>
        public int VirtualTables { get; set; }

        public int Indexes { get; set; }

        public int Views { get; set; }

        public int Triggers { get; set; }

        /// <summary>Rows written, all tables together (sqlite_sequence and sqlite_stat1 rows included).</summary>
        public long Rows { get; set; }

        /// <summary>Rows per table, in dump order (user tables only), read in the caller's transaction.</summary>
        public List<TableRowCount> TableRows { get; set; } = new List<TableRowCount>();

        /// <summary>Characters handed to the TextWriter.</summary>
        public long CharsWritten { get; set; }

        /// <summary>What the text takes in UTF-8 (no BOM): the file size when the TextWriter encodes UTF-8 uncompressed.</summary>
        public long Utf8Bytes { get; set; }

        public TimeSpan Duration { get; set; }
    }

    /// <summary>What <see cref="SqlDumpImporter.Import"/> did.</summary>
    public sealed class SqlImportStats
    {
        /// <summary>The full path of the database file that was written.</summary>
        public string Target { get; set; }

        /// <summary>SQL statements executed (the dump's own BEGIN/COMMIT, which are skipped, are not counted).</summary>
        public long Statements { get; set; }

        /// <summary>Tables in the new database (not sqlite_* tables; virtual tables and their shadow tables are counted).</summary>
        public int Tables { get; set; }

        /// <summary>Rows inserted by top-level INSERT/REPLACE statements (rows inserted by WITH ... INSERT are not counted).</summary>
        public long RowsInserted { get; set; }

        /// <summary>Characters read from the TextReader.</summary>
        public long CharsRead { get; set; }

        /// <summary>The SQL text's size in UTF-8: the dump file's size when it is uncompressed UTF-8 without a BOM.</summary>
        public long Utf8BytesRead { get; set; }

        /// <summary>Size of the new database file.</summary>
        public long TargetBytes { get; set; }

        /// <summary>Whether an existing file was replaced.</summary>
        public bool Replaced { get; set; }

        /// <summary>The emergency backup of the replaced database, when it went into a vault.</summary>
        public BackupInfo EmergencyBackup { get; set; }

        /// <summary>Where the replaced database's previous content (or a damaged file) was kept beside it, else null.</summary>
        public string ReplacedFileKeptAt { get; set; }

        public TimeSpan Duration { get; set; }
    }
}
