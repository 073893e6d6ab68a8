using System.Security.Cryptography;
using System.Text;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Recovery;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Tests.Recovery;

/// <summary>
/// Compare-TursoDatabase's engine on real files, with sqldiff (sqlite3-tools) as the peer: per table, our Added /
/// Removed / Changed equal the INSERT INTO / DELETE FROM / UPDATE statements of `sqldiff --primarykey ref diff`
/// (the SQL that turns the reference into the difference; --primarykey: matched by the declared key, as we do).
/// </summary>
// LargeTableStreamsInFlatMemory measures the process's managed heap: the class runs alone (the DumpMemory collection).
[Collection("DumpMemory")]
public sealed class CompareTests : TempFolderTest
{
    // ------------------------------------------------------------------ helpers

    /// <summary>The reference from <paramref name="schemaAndRows"/>, the difference a copy of it with <paramref name="changes"/> applied.</summary>
    private (string Ref, string Diff) Pair(string schemaAndRows, string changes, string name = "db")
    {
        string a = TestDb.Create(P(name + "-ref.db"), schemaAndRows);
        string b = P(name + "-diff.db");
        File.Copy(a, b);
        if (!string.IsNullOrEmpty(changes)) TestDb.Exec(b, changes);
        return (a, b);
    }

    private static IList<TableComparison> Compare(string a, string b, IEnumerable<string> tables = null, Action<RowDifference> onRow = null) =>
        new DatabaseComparer().Compare(a, b, tables, onRow);

    /// <summary>Per table: INSERT INTO, DELETE FROM and UPDATE statements of sqldiff's output.</summary>
    private static Dictionary<string, (long Inserts, long Deletes, long Updates, bool Dropped)> Sqldiff(string a, string b)
    {
        string sqldiff = Peers.Require("sqldiff");
        var (code, stdout, stderr) = Peers.Run(sqldiff, new[] { "--primarykey", a, b });
        Assert.True(code == 0, "sqldiff failed: " + stderr);
        var counts = new Dictionary<string, (long Inserts, long Deletes, long Updates, bool Dropped)>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in stdout.Split('\n'))
        {
            string rest;
            int kind;
            if (line.StartsWith("INSERT INTO ", StringComparison.Ordinal)) { kind = 0; rest = line.Substring(12); }
            else if (line.StartsWith("DELETE FROM ", StringComparison.Ordinal)) { kind = 1; rest = line.Substring(12); }
            else if (line.StartsWith("UPDATE ", StringComparison.Ordinal)) { kind = 2; rest = line.Substring(7); }
            else if (line.StartsWith("DROP TABLE ", StringComparison.Ordinal)) { kind = 3; rest = line.Substring(11); }
            else continue;
            string table = Identifier(rest);
            counts.TryGetValue(table, out var c);
            if (kind == 0) c.Inserts++;
            else if (kind == 1) c.Deletes++;
            else if (kind == 2) c.Updates++;
            else c.Dropped = true;
            counts[table] = c;
        }
        return counts;
    }

    private static string Identifier(string s)
    {
        if (s.StartsWith('"'))
        {
            var sb = new StringBuilder();
            for (int i = 1; i < s.Length; i++)
            {
                if (s[i] == '"')
                {
                    if (i + 1 < s.Length && s[i + 1] == '"') { sb.Append('"'); i++; continue; }
                    break;
                }
                sb.Append(s[i]);
            }
            return sb.ToString();
        }
        int end = s.IndexOfAny(new[] { '(', ' ', ';' });
        return end < 0 ? s : s.Substring(0, end);
    }

    /// <summary>Our counts equal sqldiff's for every table we compared, and sqldiff has no table we left out (but SQLite's own).</summary>
    private static IList<TableComparison> AssertSameAsSqldiff(string a, string b, IList<TableComparison> ours = null)
    {
        ours ??= Compare(a, b);
        var peer = Sqldiff(a, b);
        foreach (var t in ours.Where(t => t.Type == "table"))
        {
            peer.TryGetValue(t.Table, out var p);
            if (p.Dropped)
            {
                // sqldiff drops a table that is only in the reference (no DELETEs): all its rows are removed.
                Assert.Contains("the table is only in the reference", t.SchemaDifferences);
                Assert.Equal(t.ReferenceRows, t.Removed);
                Assert.Equal((0L, 0L), (t.Added, t.Changed));
                continue;
            }
            Assert.True((p.Inserts, p.Deletes, p.Updates) == (t.Added, t.Removed, t.Changed),
                $"{t.Table}: sqldiff {p.Inserts} inserts, {p.Deletes} deletes, {p.Updates} updates; ours {t}");
        }
        foreach (var name in peer.Keys)
        {
            if (name.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase)) continue;
            Assert.Contains(ours, t => string.Equals(t.Table, name, StringComparison.OrdinalIgnoreCase));
        }
        return ours;
    }

    private static TableComparison Only(IList<TableComparison> results, string table) =>
        Assert.Single(results, t => string.Equals(t.Table, table, StringComparison.OrdinalIgnoreCase));

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private const string Numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {0})";

    private static string N(int count) => string.Format(Numbers, count);

    // ------------------------------------------------------------------ keys

    [SkippableFact]
    public void IntegerPrimaryKey()
    {
        var (a, b) = Pair(
            "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INT);" + N(1000) + " INSERT INTO items SELECT i, 'item ' || i, i % 7 FROM n;",
            "UPDATE items SET qty = qty + 1 WHERE id % 50 = 0; DELETE FROM items WHERE id % 97 = 0; INSERT INTO items VALUES (2001, 'new', 1), (2002, 'new', 2);");
        var t = Only(AssertSameAsSqldiff(a, b), "items");
        Assert.Equal((2L, 10L, 20L), (t.Added, t.Removed, t.Changed));
        Assert.Equal(new[] { "id" }, t.KeyColumns);
        Assert.Equal(1000, t.ReferenceRows);
        Assert.Equal(1000 - 10 + 2, t.DifferenceRows);
        Assert.False(t.SchemaDiffers);
        Assert.False(t.Identical);
    }

    [SkippableFact]
    public void CompositePrimaryKeyInKeyOrder()
    {
        var (a, b) = Pair(
            "CREATE TABLE stock(v REAL, store TEXT, sku INT, PRIMARY KEY (sku, store));" + N(600) +
            " INSERT INTO stock SELECT i * 1.5, 'store ' || (i % 3), i / 3 FROM n;",
            "UPDATE stock SET v = -v WHERE sku % 10 = 0; DELETE FROM stock WHERE store = 'store 1' AND sku < 20; INSERT INTO stock VALUES (1, 'store 9', 1);");
        var t = Only(AssertSameAsSqldiff(a, b), "stock");
        Assert.Equal(new[] { "sku", "store" }, t.KeyColumns);
        Assert.Equal(1, t.Added);
        Assert.True(t.Removed > 0 && t.Changed > 0);
    }

    [SkippableFact]
    public void WithoutRowidTable()
    {
        var (a, b) = Pair(
            "CREATE TABLE kv(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;" + N(500) + " INSERT INTO kv SELECT printf('key%05d', i), randomblob(20) FROM n;",
            "UPDATE kv SET v = randomblob(20) WHERE k LIKE '%7'; DELETE FROM kv WHERE k LIKE '%3'; INSERT INTO kv VALUES ('zzz', x'00');");
        var t = Only(AssertSameAsSqldiff(a, b), "kv");
        Assert.Equal((1L, 50L, 50L), (t.Added, t.Removed, t.Changed));
        Assert.Equal(new[] { "k" }, t.KeyColumns);
    }

    [SkippableFact]
    public void NoPrimaryKeyComparesByRowid()
    {
        var (a, b) = Pair(
            "CREATE TABLE log(at TEXT, msg TEXT);" + N(300) + " INSERT INTO log SELECT 'day ' || i, 'message ' || i FROM n;",
            "UPDATE log SET msg = 'edited' WHERE rowid % 30 = 0; DELETE FROM log WHERE rowid > 290; INSERT INTO log VALUES ('x', 'y');");
        var t = Only(AssertSameAsSqldiff(a, b), "log");
        Assert.Equal(new[] { "rowid" }, t.KeyColumns);
        // rowid 291 is reused by the insert after the delete: it counts as changed, not added (sqldiff agrees).
        Assert.Equal((0L, 9L, 10L), (t.Added, t.Removed, t.Changed));
    }

    [SkippableFact]
    public void UnicodeTextKeysAndTableName()
    {
        var (a, b) = Pair(
            "CREATE TABLE \"Wörter ü\"(k TEXT PRIMARY KEY, v TEXT);" +
            "INSERT INTO \"Wörter ü\" VALUES ('straße', 'a'), ('Straße', 'b'), ('日本語', 'c'), ('🦆', 'd'), ('e\u0301', 'e'), ('é', 'f'), ('', 'g');",
            "UPDATE \"Wörter ü\" SET v = 'B' WHERE k = 'Straße'; DELETE FROM \"Wörter ü\" WHERE k = 'é'; INSERT INTO \"Wörter ü\" VALUES ('ÉÉ', 'h'), ('🦆🦆', 'i'); UPDATE \"Wörter ü\" SET v = '日本' WHERE k = '日本語';");
        var t = Only(AssertSameAsSqldiff(a, b), "Wörter ü");
        Assert.Equal((2L, 1L, 2L), (t.Added, t.Removed, t.Changed));
    }

    [SkippableFact]
    public void BlobKeysAndValues()
    {
        var (a, b) = Pair(
            "CREATE TABLE blobs(k BLOB PRIMARY KEY, v BLOB);" + N(200) + " INSERT INTO blobs SELECT randomblob(16), randomblob(i * 10) FROM n; INSERT INTO blobs VALUES (x'', x'00'), (x'00', x'');",
            "UPDATE blobs SET v = v || x'01' WHERE rowid % 20 = 0; DELETE FROM blobs WHERE rowid % 33 = 0; INSERT INTO blobs VALUES (x'0000', randomblob(5000)); UPDATE blobs SET v = x'0000' WHERE k = x'00';");
        var t = Only(AssertSameAsSqldiff(a, b), "blobs");
        Assert.Equal(1, t.Added);
        Assert.Equal(6, t.Removed);
        Assert.True(t.Changed >= 10);
    }

    // ------------------------------------------------------------------ values

    [SkippableFact]
    public void NullsInValues()
    {
        var (a, b) = Pair(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w INT); INSERT INTO t VALUES (1, NULL, NULL), (2, 'x', NULL), (3, NULL, 5), (4, 'y', 6), (5, NULL, NULL);",
            "UPDATE t SET v = 'now' WHERE id = 1; UPDATE t SET v = NULL WHERE id = 2; UPDATE t SET w = NULL WHERE id = 4; UPDATE t SET v = NULL WHERE id = 5;");
        var t = Only(AssertSameAsSqldiff(a, b), "t");
        Assert.Equal((0L, 0L, 3L), (t.Added, t.Removed, t.Changed)); // NULL → NULL (row 5) is no change
    }

    [SkippableFact]
    public void BigIntegersCompareExactly()
    {
        var (a, b) = Pair(
            "CREATE TABLE big(id INTEGER PRIMARY KEY, v INTEGER, u); INSERT INTO big VALUES " +
            "(4611686018427387904, 4611686018427387904, 1), (4611686018427387905, 9007199254740993, 2), (-9223372036854775808, 9223372036854775807, 3), (1, 1, 4);",
            "UPDATE big SET v = 4611686018427387905 WHERE id = 4611686018427387904; UPDATE big SET v = 9007199254740992 WHERE id = 4611686018427387905; " +
            "INSERT INTO big VALUES (9223372036854775807, 0, 0); UPDATE big SET u = 9223372036854775807 WHERE id = -9223372036854775808;");
        var t = Only(AssertSameAsSqldiff(a, b), "big");
        // 2^62 vs 2^62+1 and 2^53+1 vs 2^53 differ (they would be equal as doubles).
        Assert.Equal((1L, 0L, 3L), (t.Added, t.Removed, t.Changed));
    }

    [SkippableFact]
    public void RealValues()
    {
        var (a, b) = Pair(
            "CREATE TABLE r(id INTEGER PRIMARY KEY, x REAL, y); INSERT INTO r VALUES (1, 1.5, 1), (2, 0.1, 2.0), (3, 1e300, 'a'), (4, -0.0, 3), (5, 2.5, 4);",
            // 1.5 → 1.5000000000000002 (one ulp): changed. y 1 → 1.0 and 2.0 → 2: INTEGER and REAL of the same value are equal
            // (sqldiff agrees). 'a' → x'61': text and blob differ. -0.0 → 0.0: equal.
            "UPDATE r SET x = 1.5000000000000002 WHERE id = 1; UPDATE r SET y = 1.0 WHERE id = 1; UPDATE r SET y = 2 WHERE id = 2; " +
            "UPDATE r SET y = x'61' WHERE id = 3; UPDATE r SET x = 0.0 WHERE id = 4; UPDATE r SET x = 2.5 WHERE id = 5;");
        var t = Only(AssertSameAsSqldiff(a, b), "r");
        Assert.Equal((0L, 0L, 2L), (t.Added, t.Removed, t.Changed));
        var rows = new List<RowDifference>();
        Compare(a, b, onRow: rows.Add);
        Assert.Equal(new[] { "x" }, rows.Single(r => (long)r.Key["id"] == 1).ChangedColumns);
        Assert.Equal(1.5000000000000002, (double)rows.Single(r => (long)r.Key["id"] == 1).After["x"]);
    }

    // ------------------------------------------------------------------ schema

    [SkippableFact]
    public void TableOnOneSideOnly()
    {
        var (a, b) = Pair(
            "CREATE TABLE kept(id INTEGER PRIMARY KEY); INSERT INTO kept VALUES (1); CREATE TABLE gone(id INTEGER PRIMARY KEY, v); " + N(40) + " INSERT INTO gone SELECT i, i FROM n;",
            "DROP TABLE gone; CREATE TABLE fresh(k TEXT PRIMARY KEY, v); " + N(25) + " INSERT INTO fresh SELECT 'k' || i, i FROM n;");
        var results = AssertSameAsSqldiff(a, b);
        var gone = Only(results, "gone");
        Assert.Equal((40L, 0L, 40L, 0L), (gone.ReferenceRows, gone.DifferenceRows, gone.Removed, gone.Added));
        Assert.Equal(new[] { "the table is only in the reference" }, gone.SchemaDifferences);
        var fresh = Only(results, "fresh");
        Assert.Equal((0L, 25L, 25L, 0L), (fresh.ReferenceRows, fresh.DifferenceRows, fresh.Added, fresh.Removed));
        Assert.True(fresh.SchemaDiffers);
        Assert.Equal(new[] { "the table is only in the difference" }, fresh.SchemaDifferences);
        Assert.True(Only(results, "kept").Identical);

        var rows = new List<RowDifference>();
        Compare(a, b, onRow: rows.Add);
        Assert.Equal(40, rows.Count(r => r.Table == "gone" && r.Kind == RowChange.Removed && r.After == null && r.Before.Count == 2));
        Assert.Equal(25, rows.Count(r => r.Table == "fresh" && r.Kind == RowChange.Added && r.Before == null && (string)r.Key["k"] == (string)r.After["k"]));
    }

    [SkippableFact]
    public void AddedColumnComparesTheCommonColumns()
    {
        var (a, b) = Pair(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);" + N(100) + " INSERT INTO t SELECT i, 'v' || i FROM n;",
            "ALTER TABLE t ADD COLUMN note TEXT; UPDATE t SET v = 'changed' WHERE id <= 5; INSERT INTO t VALUES (500, 'new', 'with a note');");
        var t = Only(AssertSameAsSqldiff(a, b), "t");
        Assert.Equal((1L, 0L, 5L), (t.Added, t.Removed, t.Changed));
        Assert.True(t.SchemaDiffers);
        Assert.Contains("column 'note' is only in the difference", t.SchemaDifferences);

        // A value only in the new column is not a change of the common columns (sqldiff, which adds the column to the
        // reference, would count it as an UPDATE).
        TestDb.Exec(b, "UPDATE t SET note = 'n' WHERE id = 50");
        Assert.Equal(5, Only(Compare(a, b), "t").Changed);

        var rows = new List<RowDifference>();
        Compare(a, b, onRow: rows.Add);
        var added = rows.Single(r => r.Kind == RowChange.Added);
        Assert.Equal("with a note", added.After["note"]);
        var changed = rows.First(r => r.Kind == RowChange.Changed);
        Assert.False(changed.Before.Contains("note"));
        Assert.True(changed.After.Contains("note"));
    }

    [SkippableFact]
    public void IdenticalDatabases()
    {
        var (a, b) = Pair(
            "CREATE TABLE x(id INTEGER PRIMARY KEY, v); CREATE TABLE y(k TEXT PRIMARY KEY, v) WITHOUT ROWID; CREATE TABLE z(a, b);" +
            "CREATE INDEX xv ON x(v); CREATE VIEW vx AS SELECT * FROM x; CREATE TRIGGER tx AFTER INSERT ON x BEGIN SELECT 1; END;" +
            N(100) + " INSERT INTO x SELECT i, i * 2 FROM n; INSERT INTO y SELECT 'k' || i, randomblob(3) FROM (SELECT value AS i FROM json_each('[1,2,3]')); INSERT INTO z VALUES (NULL, NULL);",
            null);
        var results = AssertSameAsSqldiff(a, b);
        Assert.Equal(new[] { "x", "y", "z" }, results.Select(r => r.Table));
        Assert.All(results, r => Assert.True(r.Identical, r.ToString()));
        Assert.Empty(Sqldiff(a, b));
        Assert.Equal(100, Only(results, "x").ReferenceRows);
        Assert.Contains("identical", Only(results, "x").ToString());
        // The same file on both sides.
        Assert.All(Compare(a, a), r => Assert.True(r.Identical));
    }

    [SkippableFact]
    public void IndexTriggerAndViewDifferences()
    {
        var (a, b) = Pair(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v, w); INSERT INTO t VALUES (1, 2, 3);" +
            "CREATE TRIGGER tr AFTER UPDATE ON t BEGIN SELECT 1; END; CREATE INDEX same ON t(w);" +
            "CREATE VIEW v1 AS SELECT id FROM t; CREATE VIEW v2 AS SELECT v FROM t; CREATE VIEW gone AS SELECT 1;",
            "CREATE INDEX tv ON t(v); DROP TRIGGER tr; CREATE TRIGGER tr AFTER UPDATE ON t BEGIN SELECT 2; END;" +
            "DROP VIEW v1; CREATE VIEW v1 AS SELECT id, v FROM t; DROP VIEW v2; CREATE   VIEW v2 AS   select v   FROM t; DROP VIEW gone; CREATE VIEW added AS SELECT 2;");
        var results = Compare(a, b);
        var t = Only(results, "t");
        Assert.True(t.SchemaDiffers);
        Assert.False(t.Identical);
        Assert.Equal((0L, 0L, 0L), (t.Added, t.Removed, t.Changed));
        Assert.Equal(new[] { "index 'tv' is only in the difference", "trigger 'tr' differs" }, t.SchemaDifferences);

        // Views: an entry of their own, only when they differ (v2 differs in white space and case only: the same).
        var views = results.Where(r => r.Type == "view").ToList();
        Assert.Equal(new[] { "added", "gone", "v1" }, views.Select(v => v.Table));
        Assert.Equal("view 'v1' differs", Assert.Single(Only(results, "v1").SchemaDifferences));
        Assert.Equal("view 'gone' is only in the reference", Assert.Single(Only(results, "gone").SchemaDifferences));
        Assert.Equal("view 'added' is only in the difference", Assert.Single(Only(results, "added").SchemaDifferences));
        Assert.All(views, v => Assert.True(v.SchemaDiffers && !v.Identical && v.ReferenceRows == 0 && v.DifferenceRows == 0));
    }

    [SkippableFact]
    public void ColumnTypeAndKeyDifferences()
    {
        string a = TestDb.Create(P("a.db"), "CREATE TABLE t(id INTEGER PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1), (2, 2); CREATE TABLE k(id INTEGER PRIMARY KEY, v); INSERT INTO k VALUES (1, 1);");
        string b = TestDb.Create(P("b.db"), "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL DEFAULT 'x'); INSERT INTO t VALUES (1, 1), (2, 'two'); CREATE TABLE k(id, v); INSERT INTO k VALUES (1, 1);");
        var results = Compare(a, b);
        var t = Only(results, "t");
        Assert.Equal("column 'v' is declared 'INT' in the reference and 'TEXT NOT NULL DEFAULT 'x'' in the difference", Assert.Single(t.SchemaDifferences));
        Assert.Equal(1, t.Changed);
        var k = Only(results, "k");
        Assert.Contains(k.SchemaDifferences, s => s.StartsWith("the primary key differs ((id) in the reference, rowid in the difference)"));
        Assert.Equal((1L, 1L, 0L), (k.Added, k.Removed, k.Changed));
    }

    [SkippableFact]
    public void NocaseTextThatChangedCaseCountsAsChanged()
    {
        var (a, b) = Pair(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE); INSERT INTO t VALUES (1, 'alice'), (2, 'bob');",
            "UPDATE t SET name = 'Alice' WHERE id = 1;");
        // sqldiff compares with the column's collation and sees no change; a backup tool must see it.
        Assert.Empty(Sqldiff(a, b));
        Assert.Equal(1, Only(Compare(a, b), "t").Changed);

        // A NOCASE key whose case changed matches its row (by "=" in the key's collation) and the key column counts as changed.
        var (c, d) = Pair("CREATE TABLE k(name TEXT PRIMARY KEY COLLATE NOCASE, v) WITHOUT ROWID; INSERT INTO k VALUES ('abc', 1), ('def', 2);",
                          "UPDATE k SET name = 'ABC' WHERE name = 'abc';", "nocase-key");
        var rows = new List<RowDifference>();
        var k = Only(new DatabaseComparer().Compare(c, d, null, rows.Add), "k");
        Assert.Equal((0L, 0L, 1L), (k.Added, k.Removed, k.Changed));
        Assert.Equal(new[] { "name" }, Assert.Single(rows).ChangedColumns);
        Assert.Equal("ABC", rows[0].After["name"]);
    }

    [SkippableFact]
    public void VirtualShadowAndInternalTablesAreSkipped()
    {
        var (a, b) = Pair(
            "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT); CREATE VIRTUAL TABLE docs USING fts5(body);" +
            "INSERT INTO t(body) VALUES ('one'), ('two'); INSERT INTO docs VALUES ('hello world');",
            "INSERT INTO t(body) VALUES ('three'); INSERT INTO docs VALUES ('another document');");
        var logs = new List<string>();
        var results = new DatabaseComparer { Log = logs.Add }.Compare(a, b);
        Assert.Equal(new[] { "t" }, results.Select(r => r.Table));
        Assert.Equal(1, results[0].Added);
        Assert.Contains(logs, l => l.Contains("docs_data") && l.Contains("sqlite_sequence") && l.Contains("docs,"));
        var ex = Assert.Throws<TursoBackupException>(() => Compare(a, b, new[] { "docs_data" }));
        Assert.Equal("TableNotFound", ex.ErrorId);
        Assert.Contains("virtual, shadow or internal", ex.Message);
    }

    // ------------------------------------------------------------------ filter, errors

    [SkippableFact]
    public void TableFilterAndUnknownTable()
    {
        var (a, b) = Pair("CREATE TABLE one(id INTEGER PRIMARY KEY); CREATE TABLE two(id INTEGER PRIMARY KEY); CREATE VIEW v AS SELECT 1;",
                          "INSERT INTO one VALUES (1); INSERT INTO two VALUES (1); CREATE TABLE three(x);");
        var results = Compare(a, b, new[] { "TWO", "three" });
        Assert.Equal(new[] { "two", "three" }.OrderBy(x => x), results.Select(r => r.Table).OrderBy(x => x));
        var ex = Assert.Throws<TursoBackupException>(() => Compare(a, b, new[] { "two", "nope", "neither" }));
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        Assert.Equal("TableNotFound", ex.ErrorId);
        Assert.Contains("'nope', 'neither'", ex.Message);
        Assert.Contains("The tables are: one, three, two.", ex.Message);
    }

    [Fact]
    public void MissingOrNonDatabaseFilesAreClearErrors()
    {
        string a = TestDb.Create(P("a.db"), "CREATE TABLE t(x);");
        var missing = Assert.Throws<TursoBackupException>(() => Compare(a, P("nope.db")));
        Assert.Equal(FailureKind.NotFound, missing.Kind);
        File.WriteAllText(P("text.db"), "not a database at all, just some text here");
        Assert.Equal(FailureKind.InvalidData, Assert.Throws<TursoBackupException>(() => Compare(P("text.db"), a)).Kind);
        Assert.False(File.Exists(P("nope.db")));
    }

    // ------------------------------------------------------------------ safety

    [Fact]
    public void BothFilesAreLeftUnchanged()
    {
        var (a, b) = Pair("CREATE TABLE t(id INTEGER PRIMARY KEY, v);" + N(1000) + " INSERT INTO t SELECT i, i FROM n;",
                          "UPDATE t SET v = 0 WHERE id < 100; PRAGMA journal_mode = WAL;");
        // An application holds the difference open with a commit in its WAL (not checkpointed while it is open).
        using var app = SqliteFile.OpenReadWrite(b);
        TestDb.Exec(app, "PRAGMA wal_autocheckpoint = 0; INSERT INTO t VALUES (5000, 1);");
        string ha = Hash(a), hb = Hash(b), hw = Hash(b + "-wal");
        long rows = 0;
        Compare(a, b, onRow: _ => rows++);
        Compare(a, b);
        Assert.Equal(100, rows);
        Assert.Equal((ha, hb, hw), (Hash(a), Hash(b), Hash(b + "-wal")));
        Assert.False(File.Exists(a + "-journal") || File.Exists(a + "-wal"));
    }

    [Fact]
    public void SeesOneSnapshotWhileTheDifferenceIsWritten()
    {
        var (a, b) = Pair("CREATE TABLE first(id INTEGER PRIMARY KEY); CREATE TABLE second(id INTEGER PRIMARY KEY);" + N(100) +
                          " INSERT INTO first SELECT i FROM n; INSERT INTO second SELECT id FROM first;",
                          "PRAGMA journal_mode = WAL; DELETE FROM first WHERE id <= 3;");
        using var writer = SqliteFile.OpenReadWrite(b);
        bool wrote = false;
        var results = Compare(a, b, onRow: r =>
        {
            if (wrote) return;
            wrote = true;
            // An application commits to the difference while the comparison is on its first table.
            TestDb.Exec(writer, "INSERT INTO second VALUES (1000), (1001); DELETE FROM second WHERE id = 50;");
        });
        Assert.True(wrote);
        Assert.Equal(3, Only(results, "first").Removed);
        Assert.True(Only(results, "second").Identical, "the comparison saw a commit made after it started");
        Assert.Equal(101, TestDb.Count(b, "second"));
    }

    [Fact]
    public void CancellationStopsTheComparison()
    {
        var (a, b) = Pair("CREATE TABLE t(id INTEGER PRIMARY KEY, v);" + N(20000) + " INSERT INTO t SELECT i, i FROM n;", "UPDATE t SET v = -v;");
        using var cts = new CancellationTokenSource();
        long seen = 0;
        Assert.ThrowsAny<OperationCanceledException>(() => new DatabaseComparer().Compare(a, b, null, _ => { if (++seen == 10) cts.Cancel(); }, cts.Token));
        Assert.True(seen < 2000, $"{seen} rows after the cancel");
        // Without rows (the aggregate queries), SQLite itself is interrupted.
        using var cancelled = new CancellationTokenSource();
        var comparer = new DatabaseComparer { Progress = (_, n) => { if (n == 0) cancelled.Cancel(); } };
        Assert.ThrowsAny<OperationCanceledException>(() => comparer.Compare(a, b, null, null, cancelled.Token));
    }

    // ------------------------------------------------------------------ rows

    [SkippableFact]
    public void RowDifferenceContents()
    {
        var (a, b) = Pair(
            "CREATE TABLE p(region TEXT, id INT, name TEXT, price REAL, photo BLOB, PRIMARY KEY (region, id));" +
            "INSERT INTO p VALUES ('eu', 1, 'chair', 10.5, x'0102'), ('eu', 2, 'desk', 99.0, NULL), ('us', 1, 'lamp', 5.25, x'ff');" +
            "CREATE TABLE plain(a, b); INSERT INTO plain VALUES ('x', 1), ('y', 2);",
            "UPDATE p SET price = 11.0, photo = NULL WHERE region = 'eu' AND id = 1; DELETE FROM p WHERE region = 'eu' AND id = 2;" +
            "INSERT INTO p VALUES ('us', 2, 'rug', NULL, x''); UPDATE plain SET b = 20 WHERE a = 'y'; INSERT INTO plain VALUES ('z', 3);");
        var rows = new List<RowDifference>();
        var results = AssertSameAsSqldiff(a, b, new DatabaseComparer().Compare(a, b, null, rows.Add));
        Assert.Equal(new[] { "p", "plain" }, results.Select(r => r.Table));

        var changed = rows.Single(r => r.Table == "p" && r.Kind == RowChange.Changed);
        Assert.Equal(new object[] { "region", "id" }, changed.Key.Keys.Cast<object>().ToArray());
        Assert.Equal(new object[] { "eu", 1L }, changed.Key.Values.Cast<object>().ToArray());
        Assert.Equal(new[] { "price", "photo" }, changed.ChangedColumns);
        Assert.Equal(10.5, changed.Before["price"]);
        Assert.Equal(new byte[] { 1, 2 }, (byte[])changed.Before["photo"]);
        Assert.Equal(11.0, changed.After["PRICE"]); // names without regard to case
        Assert.Null(changed.After["photo"]);
        Assert.Equal(new object[] { "region", "id", "name", "price", "photo" }, changed.After.Keys.Cast<object>().ToArray());

        var removed = rows.Single(r => r.Table == "p" && r.Kind == RowChange.Removed);
        Assert.Equal(new object[] { "eu", 2L }, removed.Key.Values.Cast<object>().ToArray());
        Assert.Null(removed.After);
        Assert.Equal("desk", removed.Before["name"]);
        Assert.Empty(removed.ChangedColumns);

        var added = rows.Single(r => r.Table == "p" && r.Kind == RowChange.Added);
        Assert.Null(added.Before);
        Assert.Equal(new object[] { "us", 2L }, added.Key.Values.Cast<object>().ToArray());
        Assert.Equal(Array.Empty<byte>(), (byte[])added.After["photo"]);
        Assert.Null(added.After["price"]);

        var plainChanged = rows.Single(r => r.Table == "plain" && r.Kind == RowChange.Changed);
        Assert.Equal(2L, plainChanged.Key["rowid"]);
        Assert.Equal(new[] { "b" }, plainChanged.ChangedColumns);
        Assert.Equal(3L, rows.Single(r => r.Table == "plain" && r.Kind == RowChange.Added).Key["rowid"]);
        Assert.Contains("p Changed region='eu', id=1: price, photo", changed.ToString());
    }

    [SkippableFact]
    public void LargeTableStreamsInFlatMemory()
    {
        const int rows = 200_000;
        var (a, b) = Pair(
            "CREATE TABLE big(id INTEGER PRIMARY KEY, name TEXT, qty INT, data BLOB);" + N(rows) +
            " INSERT INTO big SELECT i, 'name ' || i, i % 1000, randomblob(100) FROM n;",
            // 1 %: 1,000 changed, 500 removed, 500 added.
            "UPDATE big SET qty = -1 WHERE id % 200 = 0; DELETE FROM big WHERE id % 400 = 1; INSERT INTO big SELECT id + 1000000, name, qty, data FROM big WHERE id % 400 = 2;");
        var progress = new List<(string, long)>();
        var comparer = new DatabaseComparer { Progress = (t, n) => progress.Add((t, n)) };
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long baseline = GC.GetTotalMemory(true), peak = 0, seen = 0;
        var results = comparer.Compare(a, b, null, r =>
        {
            seen++;
            if (seen % 50 == 0) peak = Math.Max(peak, GC.GetTotalMemory(false));
        });
        var t = Only(results, "big");
        Assert.Equal((500L, 500L, 1000L), (t.Added, t.Removed, t.Changed));
        Assert.Equal(2000, seen);
        Assert.True(peak - baseline < 16 * 1024 * 1024, $"managed memory grew by {(peak - baseline) / 1048576.0:F1} MiB while streaming");
        Assert.Equal(("big", (long)rows + rows), progress[^1]);
        AssertSameAsSqldiff(a, b, comparer.Compare(a, b));
    }
}
