using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;
using TursoBackup.Engine.Dump;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Remote
{
    /// <summary>
    /// Writes a remote libSQL database (Turso Cloud, sqld, tursodb --sync-server) as SQL text of the same shape as
    /// <see cref="SqlDumpWriter"/> (sqlite3 .dump, rowids kept), which <see cref="SqlDumpImporter"/> and the sqlite3
    /// shell load into an equal database. The schema comes from sqlite_master; every table is read page by page with
    /// keyset pagination (<see cref="HranaStream.ReadPages"/>), so memory does not grow with the database.
    /// <para>
    /// Consistency (<see cref="Consistency"/> says which way was taken):
    /// <list type="bullet">
    /// <item>When the server keeps Hrana streams (it returns a baton), everything runs inside one read transaction
    /// (BEGIN ... COMMIT) on one stream: one snapshot.</item>
    /// <item>When it does not (tursodb --sync-server 0.7.0 returns no baton and runs every client's requests on one
    /// shared connection), no transaction is opened — a BEGIN there would hold every other client's writes and fail
    /// their own BEGINs until the dump ends, and would stay open forever if this process died. Instead every page's
    /// request also reads <c>total_changes()</c> (atomically with the page), and the schema is read again at the end;
    /// any change fails the dump with <see cref="FailureKind.Busy"/> rather than write a dump that mixes two states.</item>
    /// </list>
    /// </para>
    /// </summary>
    public sealed class RemoteDumpWriter
    {
        public const string ConsistencyTransaction = "one read transaction on one Hrana stream (baton)";

        public const string ConsistencyVerified =
            "no read transaction: the server keeps no Hrana streams (no baton), so requests cannot share one; instead every page was read together with the server connection's total_changes(), which stayed the same, and the schema was unchanged at the end (a write through the server during the dump would have failed it)";

        public const string ConsistencyUnverified =
            "none: the server keeps no Hrana streams (no baton) and has no total_changes(); the dump is consistent only if nothing wrote to the database while it ran";

        /// <summary>Keep the rowid of rowid tables without INTEGER PRIMARY KEY (see <see cref="SqlDumpWriter.PreserveRowids"/>). Default true.</summary>
        public bool PreserveRowids { get; set; } = true;

        /// <summary>Rows per INSERT statement (1, the default, is what sqlite3 .dump writes).</summary>
        public int RowsPerInsert { get; set; } = 1;

        /// <summary>Rows between two calls of the progress callback.</summary>
        public int ProgressInterval { get; set; } = 10000;

        /// <summary>Most rows per request (pages are smaller when rows are large: about 4 MB of JSON each).</summary>
        public int PageRows { get; set; } = 5000;

        /// <summary>How the last <see cref="Write"/> got (or did not get) a consistent snapshot.</summary>
        public string Consistency { get; private set; }

        /// <summary>Diagnostics for -Verbose.</summary>
        public Action<string> Log { get; set; }

        /// <summary>
        /// Writes the remote database to <paramref name="output"/> (not flushed or closed).
        /// </summary>
        /// <param name="progress">Called every <see cref="ProgressInterval"/> rows and at the end with the rows written so far.</param>
        /// <exception cref="TursoBackupException">Server unreachable, token refused, a statement refused, or (no-baton servers) the database changed during the dump (Busy).</exception>
        /// <exception cref="OperationCanceledException">When cancelled.</exception>
        public SqlDumpStats Write(HranaClient client, TextWriter output, Action<long> progress = null,
                                  CancellationToken cancellationToken = default(CancellationToken))
        {
            if (client == null) throw new ArgumentNullException(nameof(client));
            if (output == null) throw new ArgumentNullException(nameof(output));
            Sqlite.NativeSqlite.EnsureInitialized(); // SqlText.Name asks SQLite for its keyword list
            Consistency = null;
            using (var stream = client.OpenStream())
            {
                var session = new Session(this, stream, output, progress, cancellationToken);
                return session.Run();
            }
        }

        private sealed class SchemaEntry : IEquatable<SchemaEntry>
        {
            public string Type, Name, TableName, Sql;

            public bool Equals(SchemaEntry other) =>
                other != null && Type == other.Type && Name == other.Name && TableName == other.TableName && Sql == other.Sql;

            public override bool Equals(object obj) => Equals(obj as SchemaEntry);

            public override int GetHashCode() => (Name ?? string.Empty).GetHashCode();
        }

        private sealed class Session
        {
            private const string SchemaSql =
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL AND type IN ('table','index','view','trigger')";

            private readonly RemoteDumpWriter owner;
            private readonly HranaStream stream;
            private readonly HranaClient client;
            private readonly DumpTextBuffer text;
            private readonly Action<long> progress;
            private readonly CancellationToken cancel;
            private readonly int rowsPerInsert;
            private readonly int progressInterval;
            private long rows;
            private long nextProgress;

            private bool transaction;      // BEGIN ran on a server stream
            private bool changeCheck;      // total_changes() is compared on every page
            private long baselineChanges;
            private bool orderByRowid = true;
            private bool loggedInternal;

            public Session(RemoteDumpWriter owner, HranaStream stream, TextWriter output, Action<long> progress, CancellationToken cancel)
            {
                this.owner = owner;
                this.stream = stream;
                client = stream.Client;
                text = new DumpTextBuffer(output);
                this.progress = progress;
                this.cancel = cancel;
                rowsPerInsert = Math.Max(1, owner.RowsPerInsert);
                progressInterval = Math.Max(1, owner.ProgressInterval);
                nextProgress = progressInterval;
            }

            private void Log(string message) => owner.Log?.Invoke(message);

            public SqlDumpStats Run()
            {
                var watch = Stopwatch.StartNew();
                var stats = new SqlDumpStats();
                bool committed = false;
                try
                {
                    // The first request shows whether the server keeps streams (a baton comes back).
                    stream.Execute("SELECT 1", cancellationToken: cancel);
                    if (stream.IsServerStream)
                    {
                        stream.Execute("BEGIN", cancellationToken: cancel);
                        transaction = true;
                        owner.Consistency = ConsistencyTransaction;
                        Log($"Dumping {client.Url} inside one read transaction on one Hrana stream.");
                    }
                    else
                    {
                        changeCheck = TryReadChanges(out baselineChanges);
                        owner.Consistency = changeCheck ? ConsistencyVerified : ConsistencyUnverified;
                        Log(changeCheck
                            ? $"The server at {client.Url} keeps no Hrana streams (no baton): no transaction; every page is checked against total_changes() = {baselineChanges}."
                            : $"The server at {client.Url} keeps no Hrana streams and has no total_changes(): the dump cannot be checked for consistency.");
                    }

                    var entries = ReadSchema();
                    long userVersion = ScalarPragma("user_version");
                    long applicationId = ScalarPragma("application_id");
                    CheckUnchanged();

                    text.WriteAscii("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n");
                    bool writableSchema = false;
                    bool hasAutoincrement = false;
                    foreach (var e in entries)
                    {
                        if (e.Type == "table" && e.Sql.IndexOf("AUTOINCREMENT", StringComparison.OrdinalIgnoreCase) >= 0) hasAutoincrement = true;
                    }

                    var tables = new List<SchemaEntry>();
                    foreach (var e in entries) if (e.Type == "table" && !IsSequence(e.Name)) tables.Add(e);
                    foreach (var e in entries) if (e.Type == "table" && IsSequence(e.Name)) tables.Add(e);

                    foreach (var t in tables)
                    {
                        cancel.ThrowIfCancellationRequested();
                        if (IsSequence(t.Name))
                        {
                            bool hasRows = Scalar("SELECT count(*) FROM (SELECT 1 FROM sqlite_sequence LIMIT 1)", "read sqlite_sequence") is long n && n > 0;
                            if (!hasRows && !hasAutoincrement) continue;
                            text.WriteAscii("DELETE FROM sqlite_sequence;\n");
                            DumpRows(t, internalTable: true);
                        }
                        else if (string.Equals(t.Name, "sqlite_stat1", StringComparison.OrdinalIgnoreCase))
                        {
                            text.WriteAscii("ANALYZE sqlite_master;\n");
                            DumpRows(t, internalTable: true);
                        }
                        else if (t.Name.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase))
                        {
                            // sqlite_stat2/3/4 and other internal tables: skipped like sqlite3 .dump does.
                        }
                        else if (IsVirtual(t.Sql))
                        {
                            if (!writableSchema)
                            {
                                text.WriteAscii("PRAGMA writable_schema=ON;\n");
                                writableSchema = true;
                            }
                            text.WriteAscii("INSERT INTO sqlite_master(type,name,tbl_name,rootpage,sql)VALUES('table',");
                            text.WriteText(t.Name);
                            text.Put(',');
                            text.WriteText(t.TableName);
                            text.WriteAscii(",0,");
                            text.WriteText(t.Sql);
                            text.WriteAscii(");\n");
                            stats.VirtualTables++;
                        }
                        else
                        {
                            text.WriteSchemaSql(t.Sql);
                            long before = rows;
                            DumpRows(t, internalTable: false);
                            stats.Tables++;
                            stats.TableRows.Add(new TableRowCount(t.Name, rows - before));
                        }
                    }

                    foreach (var e in entries)
                    {
                        if (e.Type == "table") continue;
                        cancel.ThrowIfCancellationRequested();
                        text.WriteSchemaSql(e.Sql);
                        if (e.Type == "index") stats.Indexes++;
                        else if (e.Type == "view") stats.Views++;
                        else if (e.Type == "trigger") stats.Triggers++;
                    }

                    if (writableSchema) text.WriteAscii("PRAGMA writable_schema=OFF;\n");
                    if (userVersion != 0)
                    {
                        text.WriteAscii("PRAGMA user_version=");
                        text.WriteInt64(userVersion);
                        text.WriteAscii(";\n");
                    }
                    if (applicationId != 0)
                    {
                        text.WriteAscii("PRAGMA application_id=");
                        text.WriteInt64(applicationId);
                        text.WriteAscii(";\n");
                    }

                    if (transaction)
                    {
                        stream.Execute("COMMIT", cancellationToken: cancel);
                        committed = true;
                    }
                    else if (changeCheck)
                    {
                        // The last word: nothing wrote through the server, and the schema is the one that was dumped.
                        CheckUnchanged();
                        var after = ReadSchema();
                        if (!SameSchema(entries, after))
                        {
                            throw Changed("its schema changed (a table, index, view or trigger was created, dropped or altered)");
                        }
                    }

                    text.WriteAscii("COMMIT;\n");
                    text.Flush();
                    progress?.Invoke(rows);
                }
                finally
                {
                    if (transaction && !committed)
                    {
                        // A read-only transaction: COMMIT and ROLLBACK end it alike. Best effort; the server also
                        // drops the stream when it is closed or left idle.
                        try
                        {
                            if (stream.IsServerStream) stream.Execute("COMMIT");
                        }
                        catch (Exception)
                        {
                            // the original failure matters more
                        }
                    }
                }
                stats.Rows = rows;
                stats.CharsWritten = text.Flushed;
                stats.Utf8Bytes = text.Flushed + text.Utf8Extra;
                stats.Duration = watch.Elapsed;
                Log($"Dumped {stats.Tables} tables, {rows:N0} rows from {client.Url} in {stats.Duration.TotalSeconds:F2} s ({owner.Consistency}).");
                return stats;
            }

            // ---- consistency ---------------------------------------------------------------------------------

            private static readonly HranaStatement ChangesStatement = new HranaStatement("SELECT total_changes()");

            private bool TryReadChanges(out long value)
            {
                value = 0;
                try
                {
                    var r = stream.Execute(ChangesStatement, cancel);
                    if (r.Scalar is long v)
                    {
                        value = v;
                        return true;
                    }
                    return false;
                }
                catch (TursoBackupException ex) when (ex.Kind == FailureKind.InvalidArgument)
                {
                    return false; // no such function
                }
            }

            private void CheckUnchanged()
            {
                if (!changeCheck) return;
                var r = stream.Execute(ChangesStatement, cancel);
                OnChanges(r);
            }

            private void OnChanges(HranaResult r)
            {
                if (r.Scalar is long v && v != baselineChanges)
                {
                    throw Changed($"{v - baselineChanges} row change(s) were written through the server while it ran");
                }
            }

            private TursoBackupException Changed(string what) =>
                new TursoBackupException(FailureKind.Busy,
                    $"The database at {client.Url} was written during the dump: {what}. This server keeps no transactions across requests (no Hrana baton), so the dump would mix two states and was stopped. Run it again when writes pause (or against a server that keeps streams, such as sqld or Turso Cloud).", client.Url);

            private static bool SameSchema(List<SchemaEntry> a, List<SchemaEntry> b)
            {
                if (a.Count != b.Count) return false;
                for (int i = 0; i < a.Count; i++) if (!a[i].Equals(b[i])) return false;
                return true;
            }

            // ---- schema ----------------------------------------------------------------------------------------

            private List<SchemaEntry> ReadSchema()
            {
                HranaResult r;
                if (orderByRowid)
                {
                    try
                    {
                        r = stream.Execute(SchemaSql + " ORDER BY rowid", cancellationToken: cancel);
                    }
                    catch (TursoBackupException ex) when (ex.Kind == FailureKind.InvalidArgument)
                    {
                        orderByRowid = false; // no rowid on this server's schema table: its natural order is the creation order
                        r = null;
                    }
                }
                else
                {
                    r = null;
                }
                if (r == null) r = Execute(SchemaSql, "read the schema");
                var list = new List<SchemaEntry>(r.Rows.Count);
                foreach (var row in r.Rows)
                {
                    list.Add(new SchemaEntry
                    {
                        Type = row[0] as string,
                        Name = row[1] as string,
                        TableName = row[2] as string,
                        Sql = row[3] as string,
                    });
                }
                // Turso keeps its own bookkeeping in sqlite_master (AUTOINCREMENT state lives in
                // "__turso_internal_seq_..." tables); it is not SQLite schema and would only clutter the copy.
                int removed = list.RemoveAll(e => IsTursoInternal(e.Name) || IsTursoInternal(e.TableName));
                if (removed > 0 && !loggedInternal)
                {
                    loggedInternal = true;
                    Log($"Left out {removed} Turso-internal schema object(s) (__turso_internal_*).");
                }
                return list;
            }

            private long ScalarPragma(string name)
            {
                try
                {
                    return stream.Execute("PRAGMA " + name, cancellationToken: cancel).Scalar is long v ? v : 0;
                }
                catch (TursoBackupException ex) when (ex.Kind == FailureKind.InvalidArgument)
                {
                    Log($"The server does not answer PRAGMA {name}; it is left out of the dump.");
                    return 0;
                }
            }

            private HranaResult Execute(string sql, string what, IReadOnlyList<object> args = null)
            {
                try
                {
                    return stream.Execute(sql, args, cancellationToken: cancel);
                }
                catch (TursoBackupException ex) when (ex.Data.Contains("HranaMessage"))
                {
                    var wrapped = new TursoBackupException(ex.Kind, $"Could not {what}: {ex.Message}", ex.Target, ex);
                    foreach (System.Collections.DictionaryEntry d in ex.Data) wrapped.Data[d.Key] = d.Value;
                    throw wrapped;
                }
            }

            private object Scalar(string sql, string what) => Execute(sql, what).Scalar;

            private static bool IsTursoInternal(string name) =>
                name != null && name.StartsWith("__turso_internal", StringComparison.OrdinalIgnoreCase);

            private static bool IsSequence(string name) => string.Equals(name, "sqlite_sequence", StringComparison.OrdinalIgnoreCase);

            private static bool IsVirtual(string sql)
            {
                int i = 0;
                while (i < sql.Length && char.IsWhiteSpace(sql[i])) i++;
                return string.Compare(sql, i, "CREATE VIRTUAL TABLE", 0, 20, StringComparison.OrdinalIgnoreCase) == 0;
            }

            // ---- rows ------------------------------------------------------------------------------------------

            private void DumpRows(SchemaEntry entry, bool internalTable)
            {
                string table = entry.Name;
                var info = RemoteTable.Load(stream, table, entry.Sql, cancel);
                var insertColumns = info.InsertableColumns();
                if (insertColumns.Count == 0) return;

                bool preserve = false;
                if (info.RowidName != null && owner.PreserveRowids && !internalTable)
                {
                    var pk = info.PrimaryKey();
                    bool integerPrimaryKey = pk.Count == 1 && string.Equals(pk[0].Type, "INTEGER", StringComparison.OrdinalIgnoreCase)
                                             && !HasPrimaryKeyIndex(table); // INTEGER PRIMARY KEY DESC is not a rowid alias
                    preserve = !integerPrimaryKey;
                }
                if (preserve)
                {
                    // Rowids exactly 1..N come back by themselves when rows are inserted in rowid order.
                    string q = RemoteTable.Quote(table);
                    var r = Execute("SELECT min(" + info.RowidName + "), max(" + info.RowidName + "), count(*) FROM " + q, $"read table '{table}'");
                    var row = r.Rows.Count > 0 ? r.Rows[0] : null;
                    if (row != null && row[0] is long min && min == 1 && row[1] is long max && row[2] is long count && max == count) preserve = false;
                }

                var prefix = new StringBuilder("INSERT INTO ").Append(SqlText.Name(table));
                if (preserve)
                {
                    prefix.Append('(').Append(info.RowidName);
                    foreach (var c in insertColumns) prefix.Append(',').Append(SqlText.Name(c.Name));
                    prefix.Append(')');
                }
                prefix.Append(" VALUES(");
                string insertPrefix = prefix.ToString();
                long prefixExtra = DumpTextBuffer.Utf8ExtraOf(insertPrefix);

                var plan = info.Plan(insertColumns.ConvertAll(c => c.Name));
                if (plan.KeyExprs.Count == 0)
                {
                    Log($"Table '{table}' has no usable rowid name or key; it is read with LIMIT/OFFSET.");
                }
                // The rowid is the first key value when the table is read by rowid; it is written when preserved.
                int skip = plan.KeyExprs.Count - (preserve ? 1 : 0);
                var options = new PageOptions { MaxPageRows = Math.Max(1, owner.PageRows) };
                if (changeCheck)
                {
                    options.Extra = ChangesStatement;
                    options.OnExtra = OnChanges;
                }

                int inStatement = 0;
                long statementStart = 0;
                foreach (var row in stream.ReadPages(plan, options, cancel))
                {
                    if (inStatement == 0)
                    {
                        statementStart = text.Written;
                        text.WriteRaw(insertPrefix, prefixExtra);
                    }
                    else
                    {
                        text.WriteAscii(",\n(");
                    }
                    for (int i = skip; i < row.Length; i++)
                    {
                        if (i > skip) text.Put(',');
                        text.WriteValue(row[i]);
                    }
                    text.Put(')');
                    if (++inStatement >= rowsPerInsert || text.Written - statementStart > (1 << 20))
                    {
                        text.WriteAscii(";\n");
                        inStatement = 0;
                    }
                    rows++;
                    if (rows >= nextProgress)
                    {
                        nextProgress = rows + progressInterval;
                        progress?.Invoke(rows);
                    }
                }
                if (inStatement > 0) text.WriteAscii(";\n");
            }

            private bool HasPrimaryKeyIndex(string table)
            {
                HranaResult r;
                try
                {
                    r = stream.Execute("PRAGMA index_list(" + RemoteTable.Literal(table) + ")", cancellationToken: cancel);
                }
                catch (TursoBackupException ex) when (ex.Kind == FailureKind.InvalidArgument)
                {
                    return false;
                }
                int origin = -1;
                for (int i = 0; i < r.Columns.Count; i++) if (r.Columns[i].Name == "origin") origin = i;
                if (origin < 0) return false;
                foreach (var row in r.Rows) if (row[origin] as string == "pk") return true;
                return false;
            }
        }
    }
}
