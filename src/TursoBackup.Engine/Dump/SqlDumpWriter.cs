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
            private const int BufferSize = 1 << 16;
            private const int StatementLimit = 1 << 20;

            // "R" is the shortest round-trip form on .NET Core 3.0+; .NET Framework's "R" is known to be wrong for
            // some values, so there it is checked and replaced by "G17" when it does not parse back to the same bits.
            private static readonly bool VerifyRoundTrip =
                RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.OrdinalIgnoreCase);

            private static readonly char[] HexDigits = "0123456789abcdef".ToCharArray();

            // Marker characters for control characters inside replace(): the first one the text does not contain.
            private const string MarkerCandidates = "\\~^`|#@$%&!?";

            private readonly sqlite3 db;
            private readonly TextWriter output;
            private readonly int rowsPerInsert;
            private readonly bool preserveRowids;
            private readonly int progressInterval;
            private readonly Action<long> progress;
            private readonly CancellationToken cancel;
            private readonly char[] buf = new char[BufferSize];
            private readonly char[] digits = new char[24];
            private int pos;
            private long flushed;
            private long utf8Extra; // UTF-8 bytes minus UTF-16 chars of what was written
            private long rows;
            private long nextProgress;
            private bool utf8Database = true;
            private readonly ByteBuffer scratch = new ByteBuffer();

            public Session(sqlite3 db, TextWriter output, int rowsPerInsert, bool preserveRowids, int progressInterval,
                           Action<long> progress, CancellationToken cancel)
            {
                this.db = db;
                this.output = output;
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

                    WriteAscii("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n");
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
                stats.CharsWritten = flushed;
                stats.Utf8Bytes = flushed + utf8Extra;
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
                        statementStart = flushed + pos;
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
                    if (++inStatement >= rowsPerInsert || flushed + pos - statementStart > StatementLimit)
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

            // ---- output buffer ------------------------------------------------------------------------------------

            private void Flush()
            {
                if (pos == 0) return;
                output.Write(buf, 0, pos);
                flushed += pos;
                pos = 0;
            }

            private void Put(char c)
            {
                if (pos == buf.Length) Flush();
                buf[pos++] = c;
            }

            private void WriteAscii(string s)
            {
                if (pos + s.Length > buf.Length)
                {
                    Flush();
                    if (s.Length > buf.Length)
                    {
                        output.Write(s);
                        flushed += s.Length;
                        return;
                    }
                }
                s.CopyTo(0, buf, pos, s.Length);
                pos += s.Length;
            }

            /// <summary>Schema SQL as stored, then ';' (on a new line when the last line has a comment that would swallow it).</summary>
            private void WriteSchemaSql(string sql)
            {
                WriteAscii(sql); // not ASCII-only, but written as is: count its UTF-8 size for the stats
                utf8Extra += Encoding.UTF8.GetByteCount(sql) - sql.Length;
                int lastLine = sql.LastIndexOf('\n') + 1;
                WriteAscii(sql.IndexOf("--", lastLine, StringComparison.Ordinal) >= 0 ? "\n;\n" : ";\n");
            }

            private void WriteStringLiteral(string s)
            {
                WriteText(new ReadOnlySpan<byte>(Encoding.UTF8.GetBytes(s)));
            }

            private void WriteInt64(long v)
            {
                if (pos + 20 > buf.Length) Flush();
                if (v < 0)
                {
                    if (v == long.MinValue)
                    {
                        WriteAscii("-9223372036854775808");
                        return;
                    }
                    buf[pos++] = '-';
                    v = -v;
                }
                int d = digits.Length;
                do
                {
                    long q = v / 10;
                    digits[--d] = (char)('0' + (int)(v - q * 10));
                    v = q;
                } while (v != 0);
                int len = digits.Length - d;
                Array.Copy(digits, d, buf, pos, len);
                pos += len;
            }

            /// <summary>
            /// A REAL literal that parses back to the same bits and stays REAL: 1.0 (never 1), 1e999/-1e999 for the
            /// infinities, the shortest round-trip digits otherwise.
            /// </summary>
            private void WriteDouble(double d)
            {
                long bits = BitConverter.DoubleToInt64Bits(d);
                if (double.IsNaN(d)) { WriteAscii("NULL"); return; } // SQLite never stores NaN (it becomes NULL)
                if (bits == 0x7FF0000000000000L) { WriteAscii("1e999"); return; }
                if (bits == unchecked((long)0xFFF0000000000000UL)) { WriteAscii("-1e999"); return; }
                if (d >= -1e15 && d <= 1e15)
                {
                    long l = (long)d;
                    if (l == d)
                    {
                        if (l == 0 && bits < 0) WriteAscii("-0.0");
                        else
                        {
                            WriteInt64(l);
                            WriteAscii(".0");
                        }
                        return;
                    }
                }
                if (TryWriteShortDecimal(d)) return;
                string s = d.ToString("R", CultureInfo.InvariantCulture);
                if (VerifyRoundTrip && BitConverter.DoubleToInt64Bits(double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)) != bits)
                {
                    s = d.ToString("G17", CultureInfo.InvariantCulture);
                }
                WriteAscii(s);
                if (s.IndexOf('.') < 0 && s.IndexOf('E') < 0 && s.IndexOf('e') < 0) WriteAscii(".0");
            }

            private static readonly double[] Pow10 =
            {
                1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
            };

            /// <summary>
            /// Writes d as I.F with the fewest fraction digits (up to 15) such that m/10^k, m &lt; 2^53, is d: a
            /// correctly rounding parser turns that text into m/10^k rounded, which is the IEEE quotient, which is d.
            /// Most stored reals (prices, measurements) take this path, which avoids double.ToString.
            /// </summary>
            private bool TryWriteShortDecimal(double d)
            {
                double a = Math.Abs(d);
                if (!(a >= 1e-4 && a < 1e15)) return false; // smaller ones read better as 1.5E-07
                for (int k = 1; k <= 15; k++)
                {
                    double scaled = a * Pow10[k];
                    if (scaled >= 9007199254740992.0) return false;
                    double m = Math.Round(scaled);
                    if (m / Pow10[k] != a) continue;
                    long mi = (long)m, div = (long)Pow10[k];
                    if (d < 0) Put('-');
                    WriteInt64(mi / div);
                    Put('.');
                    long frac = mi % div;
                    if (pos + 16 > buf.Length) Flush();
                    for (int j = k - 1; j >= 0; j--)
                    {
                        buf[pos + j] = (char)('0' + (int)(frac % 10));
                        frac /= 10;
                    }
                    pos += k;
                    return true;
                }
                return false;
            }

            private void WriteBlob(ReadOnlySpan<byte> b, string open, string close)
            {
                WriteAscii(open);
                int i = 0;
                while (i < b.Length)
                {
                    if (buf.Length - pos < 2) Flush();
                    int take = Math.Min(b.Length - i, (buf.Length - pos) / 2);
                    int p = pos;
                    for (int k = 0; k < take; k++)
                    {
                        byte x = b[i + k];
                        buf[p] = HexDigits[x >> 4];
                        buf[p + 1] = HexDigits[x & 15];
                        p += 2;
                    }
                    pos = p;
                    i += take;
                }
                WriteAscii(close);
            }

            /// <summary>
            /// A TEXT value given as UTF-8 bytes: '...' with quotes doubled; control characters other than tab (they
            /// would not survive line-based readers: sqlite3 drops a CR before LF, Windows text mode stops at Ctrl-Z)
            /// are written as markers inside the literal and turned back by nested replace() calls, like sqlite3 .dump
            /// does for CR and LF: replace('a\nb','\n',char(10)). Text that is not valid UTF-8 is written as
            /// CAST(X'..' AS TEXT), which gives back the same bytes.
            /// </summary>
            private void WriteText(ReadOnlySpan<byte> s)
            {
                bool nonAscii = false;
                uint controls = 0;
                for (int i = 0; i < s.Length; i++)
                {
                    byte b = s[i];
                    if (b < 0x20)
                    {
                        if (b != 9) controls |= 1u << b;
                    }
                    else if (b >= 0x80)
                    {
                        nonAscii = true;
                    }
                }
                if (nonAscii && !SqlText.IsValidUtf8(s))
                {
                    WriteBlob(s, "CAST(X'", "' AS TEXT)");
                    return;
                }
                if (controls == 0)
                {
                    Put('\'');
                    WriteBody(s, '\0');
                    Put('\'');
                    return;
                }

                char marker = '\0';
                foreach (char m in MarkerCandidates)
                {
                    if (s.IndexOf((byte)m) < 0)
                    {
                        marker = m;
                        break;
                    }
                }
                if (marker == '\0')
                {
                    WriteBlob(s, "CAST(X'", "' AS TEXT)"); // contains every marker candidate: give up on readability
                    return;
                }
                for (int c = 0; c < 32; c++)
                {
                    if ((controls & (1u << c)) != 0) WriteAscii("replace(");
                }
                Put('\'');
                WriteBody(s, marker);
                Put('\'');
                for (int c = 0; c < 32; c++)
                {
                    if ((controls & (1u << c)) == 0) continue;
                    WriteAscii(",'");
                    WriteMarker(marker, c);
                    WriteAscii("',char(");
                    WriteInt64(c);
                    WriteAscii("))");
                }
            }

            private void WriteMarker(char marker, int c)
            {
                if (buf.Length - pos < 8) Flush();
                buf[pos++] = marker;
                if (c == 10) buf[pos++] = 'n';
                else if (c == 13) buf[pos++] = 'r';
                else
                {
                    buf[pos++] = 'x';
                    buf[pos++] = HexDigits[c >> 4];
                    buf[pos++] = HexDigits[c & 15];
                }
            }

            /// <summary>The inside of a text literal from valid UTF-8: quotes doubled, control characters as markers.</summary>
            private void WriteBody(ReadOnlySpan<byte> s, char marker)
            {
                int limit = buf.Length - 8;
                int i = 0, n = s.Length;
                long extra = 0;
                while (i < n)
                {
                    if (pos >= limit) Flush();
                    byte b = s[i];
                    if (b < 0x80)
                    {
                        if (b >= 0x20)
                        {
                            buf[pos++] = (char)b;
                            if (b == '\'') buf[pos++] = '\'';
                        }
                        else if (b == 9 || marker == '\0')
                        {
                            buf[pos++] = (char)b;
                        }
                        else
                        {
                            WriteMarker(marker, b);
                        }
                        i++;
                    }
                    else if (b < 0xE0)
                    {
                        buf[pos++] = (char)(((b & 0x1F) << 6) | (s[i + 1] & 0x3F));
                        i += 2;
                        extra += 1;
                    }
                    else if (b < 0xF0)
                    {
                        buf[pos++] = (char)(((b & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F));
                        i += 3;
                        extra += 2;
                    }
                    else
                    {
                        int cp = ((b & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
                        cp -= 0x10000;
                        buf[pos++] = (char)(0xD800 + (cp >> 10));
                        buf[pos++] = (char)(0xDC00 + (cp & 0x3FF));
                        i += 4;
                        extra += 2;
                    }
                }
                utf8Extra += extra;
            }
        }
    }
}
