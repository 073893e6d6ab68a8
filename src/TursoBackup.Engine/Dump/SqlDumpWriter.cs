using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Dump
{
    /// <summary>
    /// Writes a database as SQL text that the sqlite3 shell loads (<c>sqlite3 new.db &lt; dump.sql</c>) into an equal
    /// database, in the shape of <c>sqlite3 .dump</c>:
    /// <code>
    /// PRAGMA foreign_keys=OFF;
    /// PRAGMA page_size=...; PRAGMA auto_vacuum=...;     -- when not 4096 / NONE
    /// BEGIN TRANSACTION;
    /// CREATE TABLE ...; INSERT INTO "t" VALUES(...);     -- each table, then its rows
    /// DELETE FROM sqlite_sequence; INSERT INTO "sqlite_sequence" VALUES(...);
    /// CREATE INDEX / CREATE VIEW / CREATE TRIGGER ...;    -- after the data, in sqlite_master order
    /// PRAGMA user_version=...; PRAGMA application_id=...; -- when not 0
    /// COMMIT;
    /// </code>
    /// Rows are read with the native statement API and formatted into one reused character buffer that is handed to
    /// the TextWriter in 64K-character blocks: memory does not grow with the database (only with its largest value).
    /// </summary>
    public sealed class SqlDumpWriter
    {
        private const long DefaultPageSize = 4096;

        /// <summary>
        /// Keep the rowid of rowid tables that have no INTEGER PRIMARY KEY (INSERT INTO "t"(rowid,...) VALUES(...)).
        /// sqlite3 .dump does not by default, so such rows get new rowids when there were gaps; FTS external-content
        /// tables and anything else that refers to rowids then points at the wrong rows. Default true.
        /// </summary>
        public bool PreserveRowids { get; set; } = true;

        /// <summary>
        /// Rows per INSERT statement. 1 (default) is what sqlite3 .dump writes; more writes
        /// <c>INSERT INTO "t" VALUES(...),\n(...),...;</c>, a smaller file that loads faster
        /// (a statement is also closed once it passes 1 MB of text).
        /// </summary>
        public int RowsPerInsert { get; set; } = 1;

        /// <summary>Rows between two calls of the progress callback.</summary>
        public int ProgressInterval { get; set; } = 10000;

        /// <summary>
        /// Writes the main database of <paramref name="connection"/> to <paramref name="output"/>. Call it inside a read
        /// transaction (BeginTransaction) so that the dump is one consistent snapshot; when the connection is in
        /// autocommit mode, a read transaction is opened (and ended) here. The writer is not flushed or closed.
        /// </summary>
        /// <param name="progress">Called every <see cref="ProgressInterval"/> rows and at the end with the rows written so far.</param>
        /// <exception cref="OperationCanceledException">When <paramref name="cancellationToken"/> is cancelled.</exception>
        /// <exception cref="TursoBackupException">When SQLite fails to read the database.</exception>
        public SqlDumpStats Write(SqliteConnection connection, TextWriter output, Action<long> progress = null,
                                  CancellationToken cancellationToken = default(CancellationToken))
        {
            if (connection == null) throw new ArgumentNullException(nameof(connection));
            if (output == null) throw new ArgumentNullException(nameof(output));
            if (connection.State != System.Data.ConnectionState.Open)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, "The connection to dump must be open.");
            }
            var session = new Session(connection.Handle, output, Math.Max(1, RowsPerInsert), PreserveRowids,
                                      Math.Max(1, ProgressInterval), progress, cancellationToken);
            return session.Run();
        }

        private sealed class SchemaEntry
        {
            public string Type, Name, TableName, Sql;
        }

        private sealed class Session
        {
            private const int StatementLimit = 1 << 20;

            private readonly sqlite3 db;
            private readonly TextWriter output;
            private readonly int rowsPerInsert;
            private readonly bool preserveRowids;
            private readonly int progressInterval;
            private readonly Action<long> progress;
            private readonly CancellationToken cancel;
            private readonly DumpTextBuffer text;
            private long rows;
            private long nextProgress;
            private bool utf8Database = true;
            private readonly ByteBuffer scratch = new ByteBuffer();

            public Session(sqlite3 db, TextWriter output, int rowsPerInsert, bool preserveRowids, int progressInterval,
                           Action<long> progress, CancellationToken cancel)
            {
                this.db = db;
                this.output = output;
                text = new DumpTextBuffer(output);
                this.rowsPerInsert = rowsPerInsert;
                this.preserveRowids = preserveRowids;
                this.progressInterval = progressInterval;
                this.progress = progress;
                this.cancel = cancel;
                nextProgress = progressInterval;
            }

            public SqlDumpStats Run()
            {
                var watch = Stopwatch.StartNew();
                var stats = new SqlDumpStats();
                bool ownTransaction = raw.sqlite3_get_autocommit(db) != 0;
                if (ownTransaction) SqlText.Exec(db, "BEGIN", "start a read transaction for the dump");
                try
                {
                    cancel.ThrowIfCancellationRequested();
                    string encoding = SqlText.ScalarText(db, "PRAGMA main.encoding", "read the database encoding");
                    utf8Database = string.Equals(encoding, "UTF-8", StringComparison.OrdinalIgnoreCase);
                    var entries = ReadSchema();
                    long userVersion = SqlText.ScalarInt64(db, "PRAGMA main.user_version", "read user_version");
                    long applicationId = SqlText.ScalarInt64(db, "PRAGMA main.application_id", "read application_id");

                    long pageSize = SqlText.ScalarInt64(db, "PRAGMA main.page_size", "read the page size");
                    long autoVacuum = SqlText.ScalarInt64(db, "PRAGMA main.auto_vacuum", "read auto_vacuum");

                    WriteAscii("PRAGMA foreign_keys=OFF;\n");
                    // The page format, before the first table (when it differs from SQLite's defaults): sqlite3 and our
                    // importer both apply it to the new, still empty database.
                    if (pageSize != DefaultPageSize && pageSize > 0)
                    {
                        WriteAscii("PRAGMA page_size=");
                        WriteInt64(pageSize);
                        WriteAscii(";\n");
                    }
                    if (autoVacuum == 1 || autoVacuum == 2) WriteAscii(autoVacuum == 1 ? "PRAGMA auto_vacuum=FULL;\n" : "PRAGMA auto_vacuum=INCREMENTAL;\n");
                    WriteAscii("BEGIN TRANSACTION;\n");
                    bool writableSchema = false;
                    bool hasAutoincrement = false;
                    foreach (var e in entries)
                    {
                        if (e.Type == "table" && e.Sql.IndexOf("AUTOINCREMENT", StringComparison.OrdinalIgnoreCase) >= 0) hasAutoincrement = true;
                    }

                    // Tables, sqlite_sequence last (as sqlite3 .dump orders them).
                    var tables = StableSequenceLast(entries);
                    foreach (var t in tables)
                    {
                        cancel.ThrowIfCancellationRequested();
                        if (IsSequence(t.Name))
                        {
                            bool hasRows = SqlText.ScalarInt64(db, "SELECT count(*) FROM (SELECT 1 FROM main.sqlite_sequence LIMIT 1)", "read sqlite_sequence") > 0;
                            if (!hasRows && !hasAutoincrement) continue; // the loader would have no sqlite_sequence to DELETE from
                            WriteAscii("DELETE FROM sqlite_sequence;\n");
                            DumpRows(t.Name, internalTable: true);
                        }
                        else if (string.Equals(t.Name, "sqlite_stat1", StringComparison.OrdinalIgnoreCase))
                        {
                            WriteAscii("ANALYZE sqlite_master;\n"); // creates an empty sqlite_stat1 in the new database
                            DumpRows(t.Name, internalTable: true);
                        }
                        else if (t.Name.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase))
                        {
                            // sqlite_stat2/3/4: skipped like sqlite3 .dump does; ANALYZE rebuilds them.
                        }
                        else if (IsVirtual(t.Sql))
                        {
                            if (!writableSchema)
                            {
                                WriteAscii("PRAGMA writable_schema=ON;\n");
                                writableSchema = true;
                            }
                            WriteAscii("INSERT INTO sqlite_master(type,name,tbl_name,rootpage,sql)VALUES('table',");
                            WriteStringLiteral(t.Name);
                            Put(',');
                            WriteStringLiteral(t.TableName);
                            WriteAscii(",0,");
                            WriteStringLiteral(t.Sql);
                            WriteAscii(");\n");
                            stats.VirtualTables++;
                        }
                        else
                        {
                            WriteSchemaSql(t.Sql);
                            long before = rows;
                            DumpRows(t.Name, internalTable: false);
                            stats.Tables++;
                            stats.TableRows.Add(new TableRowCount(t.Name, rows - before));
                        }
                    }

                    foreach (var e in entries)
                    {
                        if (e.Type == "table") continue;
                        cancel.ThrowIfCancellationRequested();
                        WriteSchemaSql(e.Sql);
                        if (e.Type == "index") stats.Indexes++;
                        else if (e.Type == "view") stats.Views++;
                        else if (e.Type == "trigger") stats.Triggers++;
                    }

                    if (writableSchema) WriteAscii("PRAGMA writable_schema=OFF;\n");
                    if (userVersion != 0)
                    {
                        WriteAscii("PRAGMA user_version=");
                        WriteInt64(userVersion);
                        WriteAscii(";\n");
                    }
                    if (applicationId != 0)
                    {
                        WriteAscii("PRAGMA application_id=");
                        WriteInt64(applicationId);
                        WriteAscii(";\n");
                    }
                    WriteAscii("COMMIT;\n");
                    Flush();
                    progress?.Invoke(rows);
                }
                finally
                {
                    if (ownTransaction) raw.sqlite3_exec(db, "ROLLBACK");
                }
                stats.Rows = rows;
                stats.CharsWritten = text.Flushed;
                stats.Utf8Bytes = text.Flushed + text.Utf8Extra;
                stats.Duration = watch.Elapsed;
                return stats;
            }

            private static bool IsSequence(string name) => string.Equals(name, "sqlite_sequence", StringComparison.OrdinalIgnoreCase);

            private static List<SchemaEntry> StableSequenceLast(List<SchemaEntry> entries)
            {
                var result = new List<SchemaEntry>();
                foreach (var e in entries) if (e.Type == "table" && !IsSequence(e.Name)) result.Add(e);
                foreach (var e in entries) if (e.Type == "table" && IsSequence(e.Name)) result.Add(e);
                return result;
            }

            private static bool IsVirtual(string sql)
            {
                int i = 0;
                while (i < sql.Length && char.IsWhiteSpace(sql[i])) i++;
                return string.Compare(sql, i, "CREATE VIRTUAL TABLE", 0, 20, StringComparison.OrdinalIgnoreCase) == 0;
            }

            private List<SchemaEntry> ReadSchema()
            {
                var list = new List<SchemaEntry>();
                using (var stmt = SqlText.Prepare(db,
                    "SELECT type, name, tbl_name, sql FROM main.sqlite_master WHERE sql NOT NULL AND type IN ('table','index','view','trigger') ORDER BY rowid",
                    "read the schema"))
                {
                    int rc;
                    while ((rc = raw.sqlite3_step(stmt)) == SqlText.SQLITE_ROW)
                    {
                        list.Add(new SchemaEntry
                        {
                            Type = raw.sqlite3_column_text(stmt, 0).utf8_to_string(),
                            Name = raw.sqlite3_column_text(stmt, 1).utf8_to_string(),
                            TableName = raw.sqlite3_column_text(stmt, 2).utf8_to_string(),
                            Sql = raw.sqlite3_column_text(stmt, 3).utf8_to_string(),
                        });
                    }
                    if (rc != SqlText.SQLITE_DONE) throw SqlText.Wrap(rc, db, "read the schema");
                }
                return list;
            }

            private sealed class ColumnInfo
            {
                public string Name, Type;
                public int Pk, Hidden;
            }

            private List<ColumnInfo> Columns(string table)
            {
                var list = new List<ColumnInfo>();
                using (var stmt = SqlText.Prepare(db, "PRAGMA main.table_xinfo(" + SqlText.Literal(table) + ")", $"read the columns of '{table}'"))
                {
                    int rc;
                    while ((rc = raw.sqlite3_step(stmt)) == SqlText.SQLITE_ROW)
                    {
                        list.Add(new ColumnInfo
                        {
                            Name = raw.sqlite3_column_text(stmt, 1).utf8_to_string(),
                            Type = raw.sqlite3_column_text(stmt, 2).utf8_to_string() ?? string.Empty,
                            Pk = raw.sqlite3_column_int(stmt, 5),
                            Hidden = raw.sqlite3_column_int(stmt, 6),
                        });
                    }
                    if (rc != SqlText.SQLITE_DONE) throw SqlText.Wrap(rc, db, $"read the columns of '{table}'");
                }
                return list;
            }

            private bool HasPrimaryKeyIndex(string table)
            {
                using (var stmt = SqlText.Prepare(db, "PRAGMA main.index_list(" + SqlText.Literal(table) + ")", $"read the indexes of '{table}'"))
                {
                    int rc;
                    while ((rc = raw.sqlite3_step(stmt)) == SqlText.SQLITE_ROW)
                    {
                        if (raw.sqlite3_column_text(stmt, 3).utf8_to_string() == "pk") return true;
                    }
                    if (rc != SqlText.SQLITE_DONE) throw SqlText.Wrap(rc, db, $"read the indexes of '{table}'");
                }
                return false;
            }

            private bool CanPrepare(string sql)
            {
                int rc = raw.sqlite3_prepare_v2(db, sql, out sqlite3_stmt stmt);
                stmt?.Dispose();
                return rc == SqlText.SQLITE_OK;
            }

            /// <summary>Writes the INSERT statements of one table, reading it in table order (NOT INDEXED).</summary>
            private void DumpRows(string table, bool internalTable)
            {
                string qtable = SqliteFile.QuoteIdentifier(table);
                var columns = Columns(table);
                var insertColumns = columns.FindAll(c => c.Hidden != 2 && c.Hidden != 3); // not generated columns
                if (insertColumns.Count == 0) return;

                string rowidName = null;
                foreach (var candidate in new[] { "rowid", "_rowid_", "oid" })
                {
                    if (!columns.Exists(c => string.Equals(c.Name, candidate, StringComparison.OrdinalIgnoreCase)))
                    {
                        rowidName = candidate;
                        break;
                    }
                }
                bool hasRowid = rowidName != null && CanPrepare("SELECT " + rowidName + " FROM main." + qtable);
                bool preserve = false;
                if (hasRowid && preserveRowids && !internalTable)
                {
                    var pk = columns.FindAll(c => c.Pk > 0);
                    bool integerPrimaryKey = pk.Count == 1 && string.Equals(pk[0].Type, "INTEGER", StringComparison.OrdinalIgnoreCase)
                                             && !HasPrimaryKeyIndex(table); // INTEGER PRIMARY KEY DESC is not a rowid alias
                    preserve = !integerPrimaryKey;
                }

                if (preserve)
                {
                    // Rowids exactly 1..N come back by themselves when the rows are inserted in rowid order: then the
                    // INSERTs need no column list (like sqlite3 .dump), and the file is smaller.
                    // Separate queries: min() and max() alone are b-tree seeks, count(*) counts the smallest index.
                    string what = $"read table '{table}'";
                    long min = SqlText.ScalarInt64(db, "SELECT min(" + rowidName + ") FROM main." + qtable, what);
                    if (min == 1)
                    {
                        long max = SqlText.ScalarInt64(db, "SELECT max(" + rowidName + ") FROM main." + qtable, what);
                        if (max == SqlText.ScalarInt64(db, "SELECT count(*) FROM main." + qtable, what)) preserve = false;
                    }
                }

                var select = new StringBuilder("SELECT ");
                var prefix = new StringBuilder("INSERT INTO ").Append(SqlText.Name(table));
                if (preserve)
                {
                    select.Append(rowidName).Append(',');
                    prefix.Append('(').Append(rowidName);
                    foreach (var c in insertColumns) prefix.Append(',').Append(SqlText.Name(c.Name));
                    prefix.Append(')');
                }
                for (int i = 0; i < insertColumns.Count; i++)
                {
                    if (i > 0) select.Append(',');
                    select.Append(SqliteFile.QuoteIdentifier(insertColumns[i].Name));
                }
                select.Append(" FROM main.").Append(qtable).Append(" NOT INDEXED");
                if (hasRowid) select.Append(" ORDER BY ").Append(rowidName);
                prefix.Append(" VALUES(");
                string insertPrefix = prefix.ToString();
                int n = insertColumns.Count + (preserve ? 1 : 0);

                using (var stmt = SqlText.Prepare(db, select.ToString(), $"read table '{table}'"))
                {
                    int rc = DirectRowReader.Available
                        ? RowLoop(new DirectRowReader(stmt.DangerousGetHandle(), scratch), n, insertPrefix)
                        : RowLoop(new PclRowReader(stmt, utf8Database), n, insertPrefix);
                    if (rc != SqlText.SQLITE_DONE) throw SqlText.Wrap(rc, db, $"read table '{table}'");
                }
            }

            /// <summary>Steps through the rows and writes them; returns the last step's result code.</summary>
            private int RowLoop<TRows>(TRows reader, int n, string insertPrefix) where TRows : struct, IRowReader
            {
                int rc;
                int inStatement = 0;
                long statementStart = 0;
                while ((rc = reader.Step()) == SqlText.SQLITE_ROW)
                {
                    if (inStatement == 0)
                    {
                        statementStart = text.Written;
                        WriteAscii(insertPrefix);
                    }
                    else
                    {
                        WriteAscii(",\n(");
                    }
                    for (int i = 0; i < n; i++)
                    {
                        if (i > 0) Put(',');
                        switch (reader.Type(i))
                        {
                            case raw.SQLITE_INTEGER:
                                WriteInt64(reader.Int64(i));
                                break;
                            case raw.SQLITE_FLOAT:
                                WriteDouble(reader.Double(i));
                                break;
                            case raw.SQLITE_TEXT:
                                WriteText(reader.Text(i));
                                break;
                            case raw.SQLITE_BLOB:
                                WriteBlob(reader.Blob(i), "X'", "'");
                                break;
                            default:
                                WriteAscii("NULL");
                                break;
                        }
                    }
                    Put(')');
                    if (++inStatement >= rowsPerInsert || text.Written - statementStart > StatementLimit)
                    {
                        WriteAscii(";\n");
                        inStatement = 0;
                    }
                    rows++;
                    if ((rows & 1023) == 0) cancel.ThrowIfCancellationRequested();
                    if (rows >= nextProgress)
                    {
                        nextProgress = rows + progressInterval;
                        progress?.Invoke(rows);
                    }
                }
                if (inStatement > 0) WriteAscii(";\n");
                return rc;
            }

            // ---- output: the one SQL text writer both dumps share (DumpTextBuffer) ----------------------------------

            private void Flush() => text.Flush();

            private void Put(char c) => text.Put(c);

            private void WriteAscii(string s) => text.WriteAscii(s);

            /// <summary>Schema SQL as stored, then ';' (on a new line when the last line has a comment that would swallow it).</summary>
            private void WriteSchemaSql(string sql) => text.WriteSchemaSql(sql);

            private void WriteStringLiteral(string s) => text.WriteTextUtf8(new ReadOnlySpan<byte>(Encoding.UTF8.GetBytes(s)));

            private void WriteInt64(long v) => text.WriteInt64(v);

            private void WriteDouble(double d) => text.WriteDouble(d);

            private void WriteBlob(ReadOnlySpan<byte> b, string open, string close) => text.WriteBlob(b, open, close);

            private void WriteText(ReadOnlySpan<byte> s) => text.WriteTextUtf8(s);
        }
    }
}
