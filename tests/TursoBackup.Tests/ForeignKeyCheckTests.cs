using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Verification;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests;

/// <summary>The fast foreign-key check finds exactly what PRAGMA foreign_key_check finds, whatever the key's shape.</summary>
public sealed class ForeignKeyCheckTests : TempFolderTest
{
    private static List<string> Pragma(string db)
    {
        using var c = SqliteFile.OpenReadOnly(db);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA foreign_key_check";
        var list = new List<string>();
        using var r = cmd.ExecuteReader();
        while (r.Read()) list.Add($"{r.GetString(0)} rowid {(r.IsDBNull(1) ? "?" : r.GetValue(1))} → {r.GetString(2)}");
        list.Sort(StringComparer.Ordinal);
        return list;
    }

    private static List<string> Ours(string db, List<string> log)
    {
        using var c = SqliteFile.OpenReadOnly(db);
        var list = ForeignKeys.Run(c, log.Add).Select(v => v.ToString()).ToList();
        list.Sort(StringComparer.Ordinal);
        return list;
    }

    [Fact]
    public void EveryShapeGivesWhatThePragmaGives()
    {
        string db = Create(P("fk.db"), @"PRAGMA foreign_keys = OFF;
CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT UNIQUE, region TEXT, code INTEGER, UNIQUE (region, code));
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers (id), note TEXT);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE TABLE loose (id INTEGER PRIMARY KEY, customer_ref REFERENCES customers);                 -- no affinity, implicit parent key
CREATE TABLE texty (id INTEGER PRIMARY KEY, customer_ref TEXT REFERENCES customers (id));       -- TEXT affinity child
CREATE TABLE by_email (id INTEGER PRIMARY KEY, email TEXT REFERENCES customers (email));        -- a UNIQUE column: the pragma
CREATE TABLE by_pair (id INTEGER PRIMARY KEY, region TEXT, code INTEGER, FOREIGN KEY (region, code) REFERENCES customers (region, code));
CREATE TABLE wr (k TEXT PRIMARY KEY, customer_id INTEGER REFERENCES customers (id)) WITHOUT ROWID;
CREATE TABLE ghost (id INTEGER PRIMARY KEY, x INTEGER REFERENCES missing_parent (id));
CREATE TABLE two (id INTEGER PRIMARY KEY, a INTEGER REFERENCES customers (id), b INTEGER REFERENCES orders (id));
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
INSERT INTO customers (id, email, region, code) SELECT i, 'c' || i || '@x', 'r' || (i % 7), i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
INSERT INTO orders SELECT i, CASE WHEN i % 97 = 0 THEN 9000 + i WHEN i % 101 = 0 THEN NULL ELSE 1 + i % 500 END, 'n' FROM n;
INSERT INTO orders VALUES (5001, 7.0, 'a real that is an integer'), (5002, 7.5, 'a real that is not'), (5003, '8', 'text that is a number'), (5004, 'abc', 'text'), (5005, x'01', 'blob');
INSERT INTO loose VALUES (1, 3), (2, '4'), (3, 'nope'), (4, 600), (5, NULL), (6, 2.0);
INSERT INTO texty VALUES (1, '3'), (2, '03'), (3, 'x'), (4, 700), (5, ' 5');
INSERT INTO by_email VALUES (1, 'c1@x'), (2, 'nobody@x'), (3, NULL);
INSERT INTO by_pair VALUES (1, 'r1', 1), (2, 'r1', 2), (3, NULL, 5), (4, 'r9', 9);
INSERT INTO wr VALUES ('a', 1), ('b', 9999), ('c', NULL);
INSERT INTO ghost VALUES (1, 1), (2, NULL);
INSERT INTO two VALUES (1, 1, 1), (2, 999, 1), (3, 1, 99999), (4, 998, 99998);
");
        var log = new List<string>();
        var ours = Ours(db, log);
        var pragma = Pragma(db);
        Assert.Equal(pragma, ours);
        Assert.True(ours.Count > 40, string.Join("\n", ours));
        Assert.Contains(log, l => l.Contains("by ordered anti-join") && !l.StartsWith("Foreign keys checked: 0 table"));
    }

    [Fact]
    public void ACleanDatabaseHasNone()
    {
        string db = Create(P("clean.db"), @"
CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INTEGER NOT NULL REFERENCES p (id));
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) INSERT INTO p SELECT i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) INSERT INTO c SELECT i, 1 + i % 100 FROM n;");
        Assert.Empty(Ours(db, new List<string>()));
        Assert.Empty(Pragma(db));
    }
}
