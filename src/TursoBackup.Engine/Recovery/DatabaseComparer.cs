using System;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Recovery
{
    /// <summary>
    /// Compare-TursoDatabase's engine: the rows and the schema of a Reference database against a Difference database
    /// (a branch, a restored copy) table by table.
    /// <para>Both files are opened read-only (mode=ro URIs, query_only) and read inside one read transaction, so each
    /// side is one consistent snapshot even while applications write to it. The Difference is ATTACHed to the
    /// Reference's connection and SQLite does the set logic: per table, one pass over the Reference LEFT JOINed to the
    /// Difference by key finds the removed and the changed rows, one pass over the Difference with NOT EXISTS finds the
    /// added ones. Rows stream through a reader one at a time; nothing is collected in memory.</para>
    /// <para>Rows are matched by the declared PRIMARY KEY (composite keys in key order; WITHOUT ROWID tables by theirs),
    /// or by rowid when the table declares none — sqldiff's --primarykey matching. Key values match with "=", so a NULL
    /// in a declared key (possible in a rowid table) never matches: such a row is removed and added, as in sqldiff.
    /// A row is changed when some common column is "IS NOT" the other side's, with text compared byte for byte
    /// (COLLATE BINARY): NULL equals NULL, BLOBs compare by bytes, integers exactly (2^62 and 2^62+1 differ), an
    /// INTEGER and a REAL of the same value are equal (1 and 1.0, as in sqldiff and SQL), text and numbers are never
    /// equal in a column without affinity. Unlike sqldiff, a NOCASE column whose letter case changed counts as changed.</para>
    /// <para>Skipped, as sqldiff does without --vtab: virtual tables (FTS, R*Tree …) and, further than sqldiff, their
    /// shadow tables (an FTS index's _data, _idx …: they change whenever the indexed table does) and SQLite's own
    /// sqlite_% tables (sqlite_sequence, sqlite_stat1). Views hold no rows: a view that differs, or is on one side only,
    /// gets an entry of its own (Type "view", row counts 0, SchemaDiffers); identical views are not listed.</para>
    /// </summary>
    public sealed class DatabaseComparer
    {
        private const string Main = "main";
        private const string Diff = "difference";

        /// <summary>Informational messages (what was skipped, how long each table took).</summary>
        public Action<string> Log { get; set; }

        /// <summary>(table, rows of that table compared so far): at a table's start and after each pass over it.</summary>
        public Action<string, long> Progress { get; set; }

        /// <summary>Rows between cancellation checks inside SQLite (as virtual machine steps: a row is tens of them).</summary>
        internal int CancelCheckInstructions { get; set; } = 100_000;

        /// <summary>
        /// Compares every table (or the <paramref name="tables"/> named) of <paramref name="referencePath"/> with
        /// <paramref name="differencePath"/>. With <paramref name="onRow"/>, every row that differs is handed to it as
        /// it is read (Compare-TursoDatabase -IncludeRows).
        /// </summary>
        public IList<TableComparison> Compare(string referencePath, string differencePath, IEnumerable<string> tables = null,
                                              Action<RowDifference> onRow = null, CancellationToken cancel = default(CancellationToken))
        {
            if (string.IsNullOrEmpty(referencePath)) throw new ArgumentNullException(nameof(referencePath));
            if (string.IsNullOrEmpty(differencePath)) throw new ArgumentNullException(nameof(differencePath));
            SqliteFile.RequireDatabaseFile(referencePath);
            SqliteFile.RequireDatabaseFile(differencePath);
            cancel.ThrowIfCancellationRequested();

            using (var connection = OpenReadOnly(referencePath))
            {
                using (var cmd = connection.CreateCommand())
                {
                    cmd.CommandText = "ATTACH DATABASE @uri AS " + SqliteFile.QuoteIdentifier(Diff);
                    cmd.Parameters.AddWithValue("@uri", ReadOnlyUri(differencePath));
                    cmd.ExecuteNonQuery();
                }
                SQLitePCL.raw.sqlite3_progress_handler(connection.Handle, CancelCheckInstructions,
                    _ => cancel.IsCancellationRequested ? 1 : 0, null);
                try
                {
                    using (var tx = connection.BeginTransaction(deferred: true))
                    {
                        // The first read of each schema takes its read lock (pins its WAL snapshot) for the whole comparison.
                        var reference = SideCatalog.Read(connection, tx, Main);
                        var difference = SideCatalog.Read(connection, tx, Diff);
                        var run = new Run(this, connection, tx, reference, difference, onRow, cancel);
                        var results = run.CompareAll(tables);
                        tx.Commit();
                        return results;
                    }
                }
                catch (SqliteException ex) when (ex.SqliteErrorCode == 9 /* SQLITE_INTERRUPT */ && cancel.IsCancellationRequested)
                {
                    throw new OperationCanceledException("The comparison was stopped.", ex, cancel);
                }
                finally
                {
                    SQLitePCL.raw.sqlite3_progress_handler(connection.Handle, 0, null, null);
                }
            }
        }

        private static SqliteConnection OpenReadOnly(string path)
        {
            NativeSqlite.EnsureInitialized();
            var csb = new SqliteConnectionStringBuilder
            {
                DataSource = ReadOnlyUri(path),
                Mode = SqliteOpenMode.ReadOnly,
                Pooling = false,
                DefaultTimeout = Math.Max(1, (int)SqliteFile.BusyTimeout.TotalSeconds),
            };
            var connection = new SqliteConnection(csb.ToString());
            connection.Open();
            try
            {
                using (var cmd = connection.CreateCommand())
                {
                    cmd.CommandText = "PRAGMA busy_timeout = " + (int)SqliteFile.BusyTimeout.TotalMilliseconds + "; PRAGMA query_only = 1;";
                    cmd.ExecuteNonQuery();
                }
                return connection;
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }

        /// <summary>A file: URI that opens <paramref name="path"/> read-only (ATTACH takes it too: the main connection is opened by URI).</summary>
        internal static string ReadOnlyUri(string path)
        {
            string full = Path.GetFullPath(path).Replace('\\', '/');
            if (!full.StartsWith("/", StringComparison.Ordinal)) full = "/" + full; // C:/x -> /C:/x
            var sb = new StringBuilder("file://");
            foreach (char c in full)
            {
                if (c == '%' || c == '?' || c == '#' || c == ' ' || c == ';' || c == '"' || c == '\'' || c == '=' || c == '&') sb.Append('%').Append(((int)c).ToString("X2"));
                else sb.Append(c);
            }
            return sb.Append("?mode=ro").ToString();
        }

        /// <summary>One comparison: the open connection, both catalogs and the caller's callbacks.</summary>
        private sealed class Run
        {
            private readonly DatabaseComparer owner;
            private readonly SqliteConnection connection;
            private readonly SqliteTransaction tx;
            private readonly SideCatalog reference, difference;
            private readonly Action<RowDifference> onRow;
            private readonly CancellationToken cancel;

            public Run(DatabaseComparer owner, SqliteConnection connection, SqliteTransaction tx, SideCatalog reference,
                       SideCatalog difference, Action<RowDifference> onRow, CancellationToken cancel)
            {
                this.owner = owner;
                this.connection = connection;
                this.tx = tx;
                this.reference = reference;
                this.difference = difference;
                this.onRow = onRow;
                this.cancel = cancel;
            }

            private static bool Internal(string name) => name.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase);

            private static bool Comparable(SchemaObject table) => table.Kind == "table" && !Internal(table.Name);

            public IList<TableComparison> CompareAll(IEnumerable<string> filter)
            {
                var tableNames = Names(reference, difference, "table", Comparable);
                var viewNames = Names(reference, difference, "view", v => !Internal(v.Name));
                var skipped = reference.OfType("table").Concat(difference.OfType("table"))
                                       .Where(t => !Comparable(t)).Select(t => t.Name)
                                       .Distinct(StringComparer.OrdinalIgnoreCase).OrderBy(n => n, StringComparer.OrdinalIgnoreCase).ToList();
                if (filter != null)
                {
                    var wanted = filter.Where(n => !string.IsNullOrEmpty(n)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
                    var unknown = wanted.Where(n => !tableNames.Contains(n, StringComparer.OrdinalIgnoreCase) && !viewNames.Contains(n, StringComparer.OrdinalIgnoreCase)).ToList();
                    if (unknown.Count > 0) throw NotFound(unknown, tableNames, skipped);
                    tableNames = tableNames.Where(n => wanted.Contains(n, StringComparer.OrdinalIgnoreCase)).ToList();
                    viewNames = viewNames.Where(n => wanted.Contains(n, StringComparer.OrdinalIgnoreCase)).ToList();
                }
                else if (skipped.Count > 0)
                {
                    owner.Log?.Invoke("Not compared (virtual tables, their shadow tables and SQLite's own tables): " + string.Join(", ", skipped) + ".");
                }
                var results = new List<TableComparison>();
                foreach (var name in tableNames)
                {
                    cancel.ThrowIfCancellationRequested();
                    results.Add(CompareTable(name));
                }
                foreach (var name in viewNames)
                {
                    var view = CompareView(name);
                    if (view != null) results.Add(view);
                }
                return results;
            }

            private TursoBackupException NotFound(List<string> unknown, List<string> tables, List<string> skipped)
            {
                var sb = new StringBuilder();
                sb.Append(unknown.Count == 1 ? "Table '" + unknown[0] + "' is" : "Tables '" + string.Join("', '", unknown) + "' are")
                  .Append(" in neither database. ");
                var notCompared = unknown.Where(u => skipped.Contains(u, StringComparer.OrdinalIgnoreCase)).ToList();
                if (notCompared.Count > 0)
                {
                    sb.Append("'").Append(string.Join("', '", notCompared)).Append("' ")
                      .Append(notCompared.Count == 1 ? "is a virtual, shadow or internal table" : "are virtual, shadow or internal tables")
                      .Append(", which are not compared. ");
                }
                sb.Append(tables.Count == 0 ? "Neither database has a table to compare." : "The tables are: " + string.Join(", ", tables) + ".");
                return new TursoBackupException(FailureKind.InvalidArgument, sb.ToString(), string.Join(", ", unknown)) { ErrorId = "TableNotFound" };
            }

            private static List<string> Names(SideCatalog a, SideCatalog b, string type, Func<SchemaObject, bool> keep)
            {
                var names = new List<string>();
                foreach (var o in a.OfType(type).Concat(b.OfType(type)))
                {
                    if (keep(o) && !names.Contains(o.Name, StringComparer.OrdinalIgnoreCase)) names.Add(o.Name);
                }
                names.Sort(StringComparer.OrdinalIgnoreCase);
                return names;
            }

            // ---------------------------------------------------------------- views

            private TableComparison CompareView(string name)
            {
                var a = reference.View(name);
                var b = difference.View(name);
                string sentence;
                if (a == null) sentence = "view '" + b.Name + "' is only in the difference";
                else if (b == null) sentence = "view '" + a.Name + "' is only in the reference";
                else if (SideCatalog.NormalizedSql(a.Sql) != SideCatalog.NormalizedSql(b.Sql)) sentence = "view '" + a.Name + "' differs";
                else return null;
                return new TableComparison
                {
                    Table = (a ?? b).Name,
                    Type = "view",
                    SchemaDiffers = true,
                    SchemaDifferences = new[] { sentence },
                };
            }

            // ---------------------------------------------------------------- tables

            private TableComparison CompareTable(string name)
            {
                var watch = Stopwatch.StartNew();
                var aObj = reference.Table(name);
                var bObj = difference.Table(name);
                // A table of the same name that is virtual on the other side counts as missing there.
                if (aObj != null && !Comparable(aObj)) aObj = null;
                if (bObj != null && !Comparable(bObj)) bObj = null;
                var a = aObj == null ? null : reference.ReadTable(connection, tx, aObj);
                var b = bObj == null ? null : difference.ReadTable(connection, tx, bObj);
                var result = new TableComparison { Table = (a ?? b).Name };
                var sentences = new List<string>();
                owner.Progress?.Invoke(result.Table, 0);

                if (a != null) result.ReferenceRows = Count(a);
                if (b != null) result.DifferenceRows = Count(b);

                if (a == null || b == null)
                {
                    sentences.Add(a == null ? "the table is only in the difference" : "the table is only in the reference");
                    var only = a ?? b;
                    string alias = RowidAlias(only, null);
                    result.KeyColumns = KeyOf(only, alias);
                    if (a != null) result.Removed = OneSide(a, alias, RowChange.Removed);
                    else result.Added = OneSide(b, alias, RowChange.Added);
                    owner.Progress?.Invoke(result.Table, result.ReferenceRows + result.DifferenceRows);
                }
                else
                {
                    DescribeTable(a, b, sentences);
                    string[] keyA = a.DeclaredKey, keyB = b.DeclaredKey;
                    bool sameKey = keyA.Length == keyB.Length && keyA.Zip(keyB, (x, y) => string.Equals(x, y, StringComparison.OrdinalIgnoreCase)).All(e => e);
                    if (sameKey)
                    {
                        string alias = keyA.Length == 0 ? RowidAlias(a, b) : null;
                        if (keyA.Length == 0 && alias == null)
                        {
                            throw new TursoBackupException(FailureKind.InvalidData,
                                $"Table '{a.Name}' has no PRIMARY KEY and columns named rowid, _rowid_ and oid, so its rows have no key to be matched by. Leave it out (-Table), or compare it by hand.", a.Name)
                            { ErrorId = "NoRowKey" };
                        }
                        result.KeyColumns = KeyOf(a, alias);
                        var counts = BothSides(a, b, alias, result.Table, result.ReferenceRows);
                        result.Removed = counts.Removed;
                        result.Changed = counts.Changed;
                        result.Added = counts.Added;
                    }
                    else
                    {
                        sentences.Add($"the primary key differs ({Describe(keyA)} in the reference, {Describe(keyB)} in the difference): rows cannot be matched, so every row counts as removed and added");
                        string aliasA = RowidAlias(a, null), aliasB = RowidAlias(b, null);
                        result.KeyColumns = KeyOf(a, aliasA);
                        result.Removed = OneSide(a, aliasA, RowChange.Removed);
                        owner.Progress?.Invoke(result.Table, result.ReferenceRows);
                        result.Added = OneSide(b, aliasB, RowChange.Added);
                    }
                    owner.Progress?.Invoke(result.Table, result.ReferenceRows + result.DifferenceRows);
                    Dependents("index", a, b, sentences);
                    Dependents("trigger", a, b, sentences);
                }
                result.SchemaDifferences = sentences.ToArray();
                result.SchemaDiffers = sentences.Count > 0;
                result.Identical = !result.SchemaDiffers && result.Added == 0 && result.Removed == 0 && result.Changed == 0;
                owner.Log?.Invoke($"{result} [{watch.Elapsed.TotalSeconds:F2} s]");
                return result;
            }

            private static string Describe(string[] key) => key.Length == 0 ? "rowid" : "(" + string.Join(", ", key) + ")";

            private static string[] KeyOf(CompareTable t, string alias)
            {
                var key = t.DeclaredKey;
                return key.Length > 0 ? key : new[] { alias ?? "rowid" };
            }

            /// <summary>The first of rowid, _rowid_, oid that no column of either table is named (sqldiff's rule), or null.</summary>
            private static string RowidAlias(CompareTable a, CompareTable b)
            {
                if (a.WithoutRowid) return null;
                foreach (var alias in new[] { "rowid", "_rowid_", "oid" })
                {
                    if (a.Find(alias) == null && (b == null || b.Find(alias) == null)) return alias;
                }
                return null;
            }

            private void DescribeTable(CompareTable a, CompareTable b, List<string> sentences)
            {
                int before = sentences.Count;
                foreach (var c in a.Columns) if (b.Find(c.Name) == null) sentences.Add($"column '{c.Name}' is only in the reference");
                foreach (var c in b.Columns) if (a.Find(c.Name) == null) sentences.Add($"column '{c.Name}' is only in the difference");
                foreach (var c in a.Columns)
                {
                    var d = b.Find(c.Name);
                    if (d == null) continue;
                    string x = c.Declaration(), y = d.Declaration();
                    if (SideCatalog.NormalizedSql(x) != SideCatalog.NormalizedSql(y))
                        sentences.Add($"column '{c.Name}' is declared '{x}' in the reference and '{y}' in the difference");
                }
                var commonA = a.Columns.Where(c => b.Find(c.Name) != null).Select(c => c.Name).ToList();
                var commonB = b.Columns.Where(c => a.Find(c.Name) != null).Select(c => c.Name).ToList();
                if (!commonA.SequenceEqual(commonB, StringComparer.OrdinalIgnoreCase)) sentences.Add("the columns are in another order");
                if (a.WithoutRowid != b.WithoutRowid)
                    sentences.Add("the table is WITHOUT ROWID only in the " + (a.WithoutRowid ? "reference" : "difference"));
                if (sentences.Count == before && SideCatalog.NormalizedSql(a.Sql) != SideCatalog.NormalizedSql(b.Sql))
                    sentences.Add("the CREATE TABLE statement differs (constraints or options)");
            }

            private void Dependents(string type, CompareTable a, CompareTable b, List<string> sentences)
            {
                var left = reference.Dependents(type, a.Name);
                var right = difference.Dependents(type, b.Name);
                foreach (var o in left)
                {
                    var other = right.FirstOrDefault(x => string.Equals(x.Name, o.Name, StringComparison.OrdinalIgnoreCase));
                    if (other == null) sentences.Add($"{type} '{o.Name}' is only in the reference");
                    else if (SideCatalog.NormalizedSql(o.Sql) != SideCatalog.NormalizedSql(other.Sql)) sentences.Add($"{type} '{o.Name}' differs");
                }
                foreach (var o in right)
                {
                    if (!left.Any(x => string.Equals(x.Name, o.Name, StringComparison.OrdinalIgnoreCase))) sentences.Add($"{type} '{o.Name}' is only in the difference");
                }
            }

            // ---------------------------------------------------------------- SQL

            private static string Q(string identifier) => SqliteFile.QuoteIdentifier(identifier);

            private static string From(CompareTable t) => Q(t.Schema) + "." + Q(t.Name);

            private SqliteCommand Command(string sql)
            {
                var cmd = connection.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = sql;
                cmd.CommandTimeout = 0;
                return cmd;
            }

            private long Count(CompareTable t)
            {
                using (var cmd = Command("SELECT count(*) FROM " + From(t)))
                {
                    return Convert.ToInt64(cmd.ExecuteScalar());
                }
            }

            /// <summary>Every row of a table that is on one side only (or whose key differs): all removed, or all added.</summary>
            private long OneSide(CompareTable t, string alias, RowChange kind)
            {
                if (onRow == null) return Count(t);
                var key = t.DeclaredKey;
                var select = new List<string>();
                if (key.Length == 0) select.Add("x." + (alias ?? throw NoKey(t)));
                select.AddRange(t.Columns.Select(c => "x." + Q(c.Name)));
                long n = 0;
                using (var cmd = Command("SELECT " + string.Join(", ", select) + " FROM " + From(t) + " AS x"))
                using (var r = cmd.ExecuteReader())
                {
                    int offset = key.Length == 0 ? 1 : 0;
                    while (r.Read())
                    {
                        var values = Values(r, t, offset);
                        var row = new RowDifference
                        {
                            Table = t.Name,
                            Kind = kind,
                            Key = KeyValues(r, t, key, alias, 0, values),
                            Before = kind == RowChange.Removed ? values : null,
                            After = kind == RowChange.Added ? values : null,
                        };
                        n++;
                        onRow(row);
                        if ((n & 1023) == 0) cancel.ThrowIfCancellationRequested();
                    }
                }
                return n;
            }

            private static TursoBackupException NoKey(CompareTable t) =>
                new TursoBackupException(FailureKind.InvalidData,
                    $"Table '{t.Name}' has no PRIMARY KEY and columns named rowid, _rowid_ and oid, so its rows have no key to be matched by. Leave it out (-Table), or compare it by hand.", t.Name)
                { ErrorId = "NoRowKey" };

            /// <summary>The table on both sides with the same key: removed and changed rows in one pass, added rows in another.</summary>
            private (long Removed, long Changed, long Added) BothSides(CompareTable a, CompareTable b, string alias, string table, long referenceRows)
            {
                var key = a.DeclaredKey;
                string[] keyA = key.Length == 0 ? new[] { "a." + alias } : key.Select(k => "a." + Q(k)).ToArray();
                string[] keyB = key.Length == 0 ? new[] { "b." + alias } : key.Select(k => "b." + Q(b.Find(k).Name)).ToArray();
                string join = string.Join(" AND ", keyA.Zip(keyB, (x, y) => x + " = " + y));
                string missing = keyB[0] + " IS NULL";
                // The common columns, by name, in the reference's order; key columns too (a NOCASE key that matched may differ in case).
                // An integer, real or numeric key column that matched by "=" holds the same value on both sides: not checked again.
                var common = a.Columns.Where(c => b.Find(c.Name) != null && !(c.Pk > 0 && NumericAffinity(c.Type)))
                              .Select(c => (A: c.Name, B: b.Find(c.Name).Name)).ToList();
                var differs = common.Select(c => "a." + Q(c.A) + " IS NOT b." + Q(c.B) + " COLLATE BINARY").ToList();
                string anyDiffers = differs.Count == 0 ? "0" : "(" + string.Join(" OR ", differs) + ")";
                string fromA = From(a) + " AS a LEFT JOIN " + From(b) + " AS b ON " + join;
                string notInA = " FROM " + From(b) + " AS b WHERE NOT EXISTS (SELECT 1 FROM " + From(a) + " AS a WHERE " + join + ")";
                long removed = 0, changed = 0, added = 0;

                if (onRow == null)
                {
                    // Filtered first, then counted: the sums only see the rows that differ (a third faster than summing over every row).
                    using (var cmd = Command("SELECT count(*), coalesce(sum(" + missing + "), 0) FROM " + fromA + " WHERE " + missing + " OR " + anyDiffers))
                    using (var r = cmd.ExecuteReader())
                    {
                        r.Read();
                        removed = r.GetInt64(1);
                        changed = r.GetInt64(0) - removed;
                    }
                    owner.Progress?.Invoke(table, referenceRows);
                    using (var cmd = Command("SELECT count(*)" + notInA))
                    {
                        added = Convert.ToInt64(cmd.ExecuteScalar());
                    }
                    return (removed, changed, added);
                }

                // Reference pass: [missing] [flag per common column] [rowid] a.* b.*
                var select = new List<string> { missing };
                select.AddRange(differs);
                if (key.Length == 0) select.Add("a." + alias);
                select.AddRange(a.Columns.Select(c => "a." + Q(c.Name)));
                select.AddRange(b.Columns.Select(c => "b." + Q(c.Name)));
                int flags = 1, rowidAt = 1 + differs.Count, aAt = rowidAt + (key.Length == 0 ? 1 : 0), bAt = aAt + a.Columns.Count;
                using (var cmd = Command("SELECT " + string.Join(", ", select) + " FROM " + fromA + " WHERE " + missing + " OR " + anyDiffers))
                using (var r = cmd.ExecuteReader())
                {
                    long n = 0;
                    while (r.Read())
                    {
                        var before = Values(r, a, aAt);
                        var row = new RowDifference { Table = a.Name, Key = KeyValues(r, a, key, alias, rowidAt, before), Before = before };
                        if (r.GetInt64(0) != 0)
                        {
                            row.Kind = RowChange.Removed;
                            removed++;
                        }
                        else
                        {
                            row.Kind = RowChange.Changed;
                            row.After = Values(r, b, bAt);
                            var changedColumns = new List<string>();
                            for (int i = 0; i < common.Count; i++) if (r.GetInt64(flags + i) != 0) changedColumns.Add(common[i].A);
                            row.ChangedColumns = changedColumns.ToArray();
                            changed++;
                        }
                        onRow(row);
                        if ((++n & 1023) == 0) cancel.ThrowIfCancellationRequested();
                    }
                }
                owner.Progress?.Invoke(table, referenceRows);

                // Difference pass: [rowid] b.*
                select.Clear();
                if (key.Length == 0) select.Add("b." + alias);
                select.AddRange(b.Columns.Select(c => "b." + Q(c.Name)));
                using (var cmd = Command("SELECT " + string.Join(", ", select) + notInA))
                using (var r = cmd.ExecuteReader())
                {
                    int offset = key.Length == 0 ? 1 : 0;
                    while (r.Read())
                    {
                        var after = Values(r, b, offset);
                        onRow(new RowDifference { Table = b.Name, Kind = RowChange.Added, Key = KeyValues(r, b, key, alias, 0, after), After = after });
                        if ((++added & 1023) == 0) cancel.ThrowIfCancellationRequested();
                    }
                }
                return (removed, changed, added);
            }

            /// <summary>SQLite's affinity rules 1, 4 and 5: a declared type that gives INTEGER, REAL or NUMERIC affinity.</summary>
            private static bool NumericAffinity(string type)
            {
                string t = (type ?? "").ToUpperInvariant();
                if (t.Contains("INT")) return true;
                if (t.Contains("CHAR") || t.Contains("CLOB") || t.Contains("TEXT") || t.Contains("BLOB") || t.Length == 0) return false;
                return true;
            }

            private static OrderedDictionary Values(SqliteDataReader r, CompareTable t, int offset)
            {
                var values = new OrderedDictionary(t.Columns.Count, StringComparer.OrdinalIgnoreCase);
                for (int i = 0; i < t.Columns.Count; i++) values[t.Columns[i].Name] = Value(r, offset + i);
                return values;
            }

            private static OrderedDictionary KeyValues(SqliteDataReader r, CompareTable t, string[] key, string alias, int rowidAt, OrderedDictionary values)
            {
                var k = new OrderedDictionary(Math.Max(1, key.Length), StringComparer.OrdinalIgnoreCase);
                if (key.Length == 0) k[alias] = Value(r, rowidAt);
                else foreach (var name in key) k[t.Find(name).Name] = values[name];
                return k;
            }

            private static object Value(SqliteDataReader r, int i)
            {
                object v = r.GetValue(i);
                return v is DBNull ? null : v;
            }
        }
    }
}
