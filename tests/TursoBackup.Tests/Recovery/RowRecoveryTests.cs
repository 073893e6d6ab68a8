using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Recovery;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Tests.Recovery;

public class RowRecoveryTests : TempFolderTest
{
    private const string Schema = @"
PRAGMA journal_mode = WAL;
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, photo BLOB);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), total REAL, note TEXT);
CREATE INDEX orders_customer ON orders(customer_id);";

    /// <summary>A production database with 200 customers and 3 orders each, and a branch copy of it.</summary>
    private (string Prod, string Branch) Scenario()
    {
        string prod = TestDb.Create(P("prod.db"), Schema + @"
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO customers SELECT i, 'customer ' || i, CASE WHEN i % 7 = 0 THEN NULL ELSE 'c' || i || '@example.com' END,
  CASE WHEN i % 5 = 0 THEN randomblob(64) ELSE NULL END FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
INSERT INTO orders SELECT i, (i - 1) / 3 + 1, i * 1.25, CASE WHEN i % 4 = 0 THEN NULL ELSE 'o''' || i END FROM n;");
        string branch = P("branch.db");
        using (var c = SqliteFile.OpenReadWrite(prod)) TestDb.Exec(c, $"VACUUM INTO '{branch}'");
        return (prod, branch);
    }

    private static readonly string Ids = string.Join(", ", Enumerable.Range(0, 40).Select(i => 10 + i * 3));

    private void DeleteCustomers(string prod) =>
        TestDb.Exec(prod, $"DELETE FROM orders WHERE customer_id IN ({Ids}); DELETE FROM customers WHERE id IN ({Ids});");

    private RowRecoveryRequest Request(string prod, string branch, ConflictAction action = ConflictAction.Abort, string where = null) => new RowRecoveryRequest
    {
        SourcePath = branch, DestinationPath = prod, Tables = new[] { "orders", "customers" },
        TableWhere = new Dictionary<string, string> { ["customers"] = $"id IN ({Ids})", ["orders"] = $"customer_id IN ({Ids})" },
        Where = where, ConflictAction = action, Reason = "ticket 123", VaultPath = P("vault"), LockTimeout = TimeSpan.FromSeconds(1),
    };

    /// <summary>A checksum of every table's rows (with rowids), to prove a database came back exactly.</summary>
    internal static string Checksum(string db)
    {
        using var c = SqliteFile.OpenReadOnly(db);
        var sb = new System.Text.StringBuilder();
        var tables = new List<string>();
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name";
            using var r = cmd.ExecuteReader();
            while (r.Read()) { sb.Append(r.GetString(0)).Append(r.IsDBNull(1) ? "" : r.GetString(1)).Append('\n'); }
        }
        using (var cmd = c.CreateCommand())
        {
            cmd.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name";
            using var r = cmd.ExecuteReader();
            while (r.Read()) tables.Add(r.GetString(0));
        }
        foreach (var t in tables)
        {
            bool withoutRowid;
            try { SqliteFile.Scalar(c, $"SELECT rowid FROM \"{t}\" LIMIT 0"); withoutRowid = false; } catch (SqliteException) { withoutRowid = true; }
            using var cmd = c.CreateCommand();
            cmd.CommandText = withoutRowid ? $"SELECT * FROM \"{t}\" ORDER BY 1, 2" : $"SELECT rowid, * FROM \"{t}\" ORDER BY rowid";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                for (int i = 0; i < r.FieldCount; i++)
                {
                    var v = r.GetValue(i);
                    sb.Append(v is byte[] b ? Convert.ToHexString(b) : v.GetType().Name + ":" + Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)).Append('|');
                }
                sb.Append('\n');
            }
        }
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private IEnumerable<string> UndoFiles()
    {
        string undo = Path.Combine(P("vault"), "recovery", "undo");
        return Directory.Exists(undo) ? Directory.GetFiles(undo) : Array.Empty<string>();
    }

    [Fact]
    public void Accidental_delete_customers_and_orders_come_back_and_undo_puts_production_back_exactly()
    {
        var (prod, branch) = Scenario();
        string original = Checksum(prod);
        DeleteCustomers(prod);
        string afterDelete = Checksum(prod);
        Assert.Equal(160, TestDb.Count(prod, "customers"));
        Assert.Equal(480, TestDb.Count(prod, "orders"));

        var results = RowRecovery.Restore(Request(prod, branch));

        Assert.Equal(new[] { "customers", "orders" }, results.Select(r => r.Table)); // parents first
        Assert.Equal((40L, 40L, 0L, 0L), (results[0].Matched, results[0].Inserted, results[0].Replaced, results[0].Skipped));
        Assert.Equal((120L, 120L, 0L, 0L), (results[1].Matched, results[1].Inserted, results[1].Replaced, results[1].Skipped));
        Assert.All(results, r => Assert.True(r.UndoAvailable));
        Assert.Equal(original, Checksum(prod));
        Assert.Equal(0L, TestDb.Long(prod, "SELECT count(*) FROM pragma_foreign_key_check"));

        var entry = RecoveryJournal.Read(P("vault"), "prod").Single();
        Assert.Equal(("RowRecovery", "Succeeded", 160L, "ticket 123"), (entry.Action, entry.Result, entry.Rows.Value, entry.Reason));
        Assert.Equal(results[0].Id, entry.Id);
        Assert.Equal(entry.Id, entry.UndoId);
        Assert.True(File.Exists(RecoveryUndo.PathOf(P("vault"), entry.Id)));

        // Running it again finds everything there: all skipped, nothing written.
        var again = RowRecovery.Restore(Request(prod, branch));
        Assert.All(again, r => Assert.Equal(r.Matched, r.Skipped));

        RecoveryUndo.Undo(P("vault"), again[0].Id);
        var undo = RecoveryUndo.Undo(P("vault"), entry.Id, reason: "wrong rows");
        Assert.Equal(("Undo", "Succeeded", 160L, entry.Id), (undo.Action, undo.Result, undo.Rows.Value, undo.UndoId));
        Assert.Equal(afterDelete, Checksum(prod));
        var ex = Assert.Throws<TursoBackupException>(() => RecoveryUndo.Undo(P("vault"), entry.Id));
        Assert.Equal("AlreadyUndone", ex.ErrorId);
        // A refused undo of an id without undo data names no database: it is not journaled.
        Assert.Equal(new[] { "RowRecovery", "RowRecovery", "Undo", "Undo" }, RecoveryJournal.Read(P("vault")).Select(e => e.Action));
    }

    [SkippableFact]
    public void Undo_result_matches_sqlite3_dump_of_a_copy()
    {
        string sqlite3 = Peers.Require("sqlite3");
        var (prod, branch) = Scenario();
        DeleteCustomers(prod);
        string Dump(string db) => Peers.Run(sqlite3, new[] { db, ".dump" }).Stdout;
        string before = Dump(prod);
        var results = RowRecovery.Restore(Request(prod, branch));
        Assert.NotEqual(before, Dump(prod));
        RecoveryUndo.Undo(P("vault"), results[0].Id);
        Assert.Equal(before, Dump(prod));
    }

    [Fact]
    public void Conflicts_ignore_replace_and_abort()
    {
        var (prod, branch) = Scenario();
        DeleteCustomers(prod);
        // Rows 13 and 16 came back meanwhile with other values; 19 came back identical.
        using (var b = SqliteFile.OpenReadOnly(branch)) { }
        TestDb.Exec(prod, "INSERT INTO customers VALUES (13, 'changed', NULL, NULL), (16, 'customer 16', 'other@x', NULL);" +
            "INSERT INTO customers SELECT * FROM (SELECT 19, 'customer 19', 'c19@example.com', NULL);");
        string before = Checksum(prod);
        var req = Request(prod, branch);
        req.Tables = new[] { "customers" };

        var abort = Assert.Throws<TursoBackupException>(() => RowRecovery.Restore(req));
        Assert.Equal("RowConflict", abort.ErrorId);
        Assert.Contains("id=13", abort.Message);
        Assert.Equal(before, Checksum(prod));
        Assert.StartsWith("Failed:", RecoveryJournal.Read(P("vault")).Last().Result);

        req.ConflictAction = ConflictAction.Ignore;
        var ignored = RowRecovery.Restore(req).Single();
        Assert.Equal((40L, 37L, 0L, 3L), (ignored.Matched, ignored.Inserted, ignored.Replaced, ignored.Skipped));
        Assert.Equal("changed", TestDb.Scalar(prod, "SELECT name FROM customers WHERE id = 13"));

        req.ConflictAction = ConflictAction.Replace;
        var replaced = RowRecovery.Restore(req).Single();
        Assert.Equal((40L, 0L, 2L, 38L), (replaced.Matched, replaced.Inserted, replaced.Replaced, replaced.Skipped));
        Assert.Equal("customer 13", TestDb.Scalar(prod, "SELECT name FROM customers WHERE id = 13"));
        Assert.Equal("c16@example.com", TestDb.Scalar(prod, "SELECT email FROM customers WHERE id = 16"));

        // Undo the Replace: the two rows get their values of before.
        RecoveryUndo.Undo(P("vault"), replaced.Id);
        Assert.Equal("changed", TestDb.Scalar(prod, "SELECT name FROM customers WHERE id = 13"));
        Assert.Equal("other@x", TestDb.Scalar(prod, "SELECT email FROM customers WHERE id = 16"));
        RecoveryUndo.Undo(P("vault"), ignored.Id);
        Assert.Equal(before, Checksum(prod));
    }

    [Fact]
    public void Undo_refuses_when_the_destination_changed_since_unless_forced()
    {
        var (prod, branch) = Scenario();
        DeleteCustomers(prod);
        var results = RowRecovery.Restore(Request(prod, branch));
        TestDb.Exec(prod, "UPDATE orders SET note = 'edited after the recovery' WHERE id = 28");
        string changed = Checksum(prod);
        var ex = Assert.Throws<TursoBackupException>(() => RecoveryUndo.Undo(P("vault"), results[0].Id));
        Assert.Equal("DestinationChangedSinceRecovery", ex.ErrorId);
        Assert.Contains("id=28", ex.Message);
        Assert.Equal(changed, Checksum(prod));
        RecoveryUndo.Undo(P("vault"), results[0].Id, force: true);
        Assert.Equal(160L, TestDb.Count(prod, "customers"));
        Assert.Equal(480L, TestDb.Count(prod, "orders"));
    }

    [Theory]
    [InlineData("id = 1;", "';'")]
    [InlineData("1; DROP TABLE customers", "';'")]
    [InlineData("id = 1 -- and more", "comment")]
    [InlineData("id = 1 /* hidden */", "comment")]
    [InlineData("DROP TABLE customers", "not a valid SQL expression")]
    [InlineData("1) OR (1", "')' without")]
    [InlineData("name = 'open", "never closed")]
    [InlineData("no_such_column = 1", "no such column")]
    [InlineData("  ", "empty")]
    public void A_bad_predicate_is_refused_and_nothing_is_written(string where, string expected)
    {
        var (prod, branch) = Scenario();
        DeleteCustomers(prod);
        string before = Checksum(prod);
        var req = Request(prod, branch, where: where);
        req.Tables = new[] { "customers" };
        req.TableWhere = null;
        var ex = Assert.Throws<TursoBackupException>(() => RowRecovery.Restore(req));
        Assert.Equal("InvalidPredicate", ex.ErrorId);
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        Assert.Contains(expected, ex.Message);
        Assert.Equal(before, Checksum(prod));
        Assert.Equal(2L, TestDb.Long(prod, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"));
        var journaled = RecoveryJournal.Read(P("vault")).Single();
        Assert.Equal(("RowRecovery", 0L), (journaled.Action, journaled.Rows.Value));
        Assert.Contains("-Where predicate is refused", journaled.Result);
    }

    [Fact]
    public void Semicolons_and_dashes_inside_literals_and_quoted_identifiers_are_fine()
    {
        SqlPredicate.Validate("name = 'a;b -- c /* d */' AND \"we;ird\" = 1 AND [x--y] IS NULL AND `a;` = 'it''s'");
    }

    [Fact]
    public void A_table_missing_on_one_side_or_a_column_mismatch_is_a_clear_error_and_nothing_is_written()
    {
        var (prod, branch) = Scenario();
        DeleteCustomers(prod);
        TestDb.Exec(branch, "CREATE TABLE only_in_branch (id INTEGER PRIMARY KEY)");
        string before = Checksum(prod);
        var req = Request(prod, branch);
        req.Tables = new[] { "customers", "only_in_branch" };
        var ex = Assert.Throws<TursoBackupException>(() => RowRecovery.Restore(req));
        Assert.Equal("TableNotFound", ex.ErrorId);
        Assert.Contains("only_in_branch", ex.Message);
        req.Tables = new[] { "customers", "nowhere" };
        Assert.Contains("not in the source", Assert.Throws<TursoBackupException>(() => RowRecovery.Restore(req)).Message);

        // A column of the source that the destination lacks (production dropped 'email').
        TestDb.Exec(prod, "ALTER TABLE customers DROP COLUMN email");
        before = Checksum(prod);
        req.Tables = new[] { "customers" };
        ex = Assert.Throws<TursoBackupException>(() => RowRecovery.Restore(req));
        Assert.Equal("SchemaMismatch", ex.ErrorId);
        Assert.Contains("'email'", ex.Message);
        Assert.Equal(before, Checksum(prod));
        Assert.Empty(UndoFiles());
    }

    [Fact]
    public void A_destination_locked_by_a_writer_is_a_clear_error_after_the_timeout_and_nothing_is_written()
    {
        var (prod, branch) = Scenario();
        DeleteCustomers(prod);
        string before = Checksum(prod);
        using (var writer = SqliteFile.OpenReadWrite(prod))
        {
            TestDb.Exec(writer, "BEGIN IMMEDIATE");
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var ex = Assert.Throws<TursoBackupException>(() => RowRecovery.Restore(Request(prod, branch)));
            Assert.Equal("DestinationLocked", ex.ErrorId);
            Assert.Equal(FailureKind.Busy, ex.Kind);
            Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(0.9), sw.Elapsed.ToString());
            TestDb.Exec(writer, "ROLLBACK");
        }
        Assert.Equal(before, Checksum(prod));
        Assert.StartsWith("Failed:", RecoveryJournal.Read(P("vault")).Single().Result);
    }

    [Fact]
    public void Orphans_without_their_parents_break_the_foreign_key_and_nothing_is_written()
    {
        var (prod, branch) = Scenario();
        DeleteCustomers(prod);
        string before = Checksum(prod);
        var req = Request(prod, branch);
        req.Tables = new[] { "orders" };
        var ex = Assert.Throws<TursoBackupException>(() => RowRecovery.Restore(req));
        Assert.Equal("ForeignKeyViolation", ex.ErrorId);
        Assert.Equal(before, Checksum(prod));
        Assert.Empty(UndoFiles());
    }

    [Fact]
    public void Composite_keys_without_rowid_blobs_nulls_and_tables_without_a_key()
    {
        string schema = @"
CREATE TABLE stock (warehouse TEXT, sku TEXT, qty INTEGER, pic BLOB, PRIMARY KEY (warehouse, sku)) WITHOUT ROWID;
CREATE TABLE events (at TEXT, what TEXT, payload BLOB);
CREATE TABLE pairs (a INTEGER, b TEXT, c REAL, PRIMARY KEY (b, a));";
        string branch = TestDb.Create(P("branch.db"), schema + @"
INSERT INTO stock VALUES ('w1', 'a', 1, x'00ff00'), ('w1', 'b', NULL, NULL), ('w2', 'a', 3, x''), ('w2', 'b', 4, x'deadbeef');
INSERT INTO events VALUES ('t1', 'x', NULL), ('t2', NULL, x'01'), ('t3', 'z', x'0203');
INSERT INTO pairs VALUES (1, 'x', 1.5), (2, 'x', NULL), (1, 'y', -0.0);");
        string prod = TestDb.Create(P("prod.db"), schema + @"
INSERT INTO stock VALUES ('w1', 'a', 1, x'00ff00'), ('w2', 'a', 99, x'');
INSERT INTO events VALUES ('t1', 'x', NULL);
INSERT INTO pairs VALUES (1, 'x', 1.5);");
        // The branch's events row 1 has rowid 1 like production's: the same row.
        string before = Checksum(prod);
        var req = new RowRecoveryRequest
        {
            SourcePath = branch, DestinationPath = prod, Tables = new[] { "stock", "events", "pairs" },
            ConflictAction = ConflictAction.Replace, VaultPath = P("vault"),
        };
        var plan = RowRecovery.Plan(req);
        Assert.Equal((4L, 2L, 1L, 1L), (plan[0].Matched, plan[0].WouldInsert, plan[0].WouldReplace, plan[0].WouldSkip));
        Assert.Contains(plan[0].Sample, s => s.Contains("X'DEADBEEF'") && s.StartsWith("INSERT INTO \"stock\""));
        Assert.Contains(plan[0].Sample, s => s.StartsWith("UPDATE \"stock\" SET \"qty\" = 3"));
        Assert.Contains(plan[0].Sample, s => s.Contains("NULL"));
        Assert.Equal(before, Checksum(prod));

        var results = RowRecovery.Restore(req);
        var byTable = results.ToDictionary(r => r.Table);
        Assert.Equal((2L, 1L, 1L), (byTable["stock"].Inserted, byTable["stock"].Replaced, byTable["stock"].Skipped));
        Assert.Equal((2L, 0L, 1L), (byTable["events"].Inserted, byTable["events"].Replaced, byTable["events"].Skipped));
        Assert.Equal((2L, 0L, 1L), (byTable["pairs"].Inserted, byTable["pairs"].Replaced, byTable["pairs"].Skipped));
        Assert.Equal(Checksum(branch), Checksum(prod));
        Assert.Equal("blob", TestDb.Scalar(prod, "SELECT typeof(pic) FROM stock WHERE warehouse = 'w2' AND sku = 'a'"));
        RecoveryUndo.Undo(P("vault"), results[0].Id);
        Assert.Equal(before, Checksum(prod));
    }

    [Fact]
    public void WhatIf_plan_counts_and_samples_and_writes_nothing()
    {
        var (prod, branch) = Scenario();
        DeleteCustomers(prod);
        TestDb.Exec(prod, "INSERT INTO customers VALUES (13, 'changed', NULL, NULL)");
        string before = Checksum(prod);
        var req = Request(prod, branch);
        req.VaultPath = null;
        var plans = RowRecovery.Plan(req);
        Assert.Equal("customers", plans[0].Table);
        Assert.Equal((40L, 39L, 0L, 1L, 1L), (plans[0].Matched, plans[0].WouldInsert, plans[0].WouldReplace, plans[0].WouldSkip, plans[0].Conflicts));
        Assert.Equal("id=13", plans[0].FirstConflict);
        Assert.Equal(5, plans[0].Sample.Length);
        Assert.StartsWith("INSERT INTO \"customers\" (\"id\", \"name\", \"email\", \"photo\") VALUES (10, 'customer 10', 'c10@example.com', X'", plans[0].Sample[0]);
        Assert.Contains(plans[1].Sample, s => s.Contains("'o''"));
        Assert.Equal(before, Checksum(prod));
        Assert.False(Directory.Exists(P("vault")));
    }

    [Fact]
    public void A_foreign_key_cycle_is_an_error()
    {
        string schema = "CREATE TABLE a (id INTEGER PRIMARY KEY, b_id REFERENCES b(id)); CREATE TABLE b (id INTEGER PRIMARY KEY, a_id REFERENCES a(id));";
        string prod = TestDb.Create(P("prod.db"), schema);
        string branch = TestDb.Create(P("branch.db"), schema + "INSERT INTO a VALUES (1, NULL);");
        var ex = Assert.Throws<TursoBackupException>(() => RowRecovery.Restore(new RowRecoveryRequest
        {
            SourcePath = branch, DestinationPath = prod, Tables = new[] { "a", "b" }, VaultPath = P("vault"),
        }));
        Assert.Equal("ForeignKeyCycle", ex.ErrorId);
        Assert.Equal(0L, TestDb.Count(prod, "a"));
    }

    [Fact]
    public void The_vault_is_required()
    {
        var (prod, branch) = Scenario();
        var req = Request(prod, branch);
        req.VaultPath = null;
        Assert.Equal("VaultRequired", Assert.Throws<TursoBackupException>(() => RowRecovery.Restore(req)).ErrorId);
    }
}
