using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Recovery;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Tests.Recovery;

public class TableRecoveryTests : TempFolderTest
{
    private const string Schema = @"
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, created TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), total REAL);
CREATE TABLE audit (at TEXT, what TEXT);
CREATE INDEX customers_name ON customers(name);
CREATE INDEX customers_created ON customers(created DESC);
CREATE TRIGGER customers_audit AFTER UPDATE OF email ON customers BEGIN INSERT INTO audit VALUES ('now', 'email of ' || NEW.id); END;";

    private (string Prod, string Branch) Scenario()
    {
        string prod = TestDb.Create(P("prod.db"), Schema + @"
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
INSERT INTO customers SELECT i, 'customer ' || i, CASE WHEN i % 9 = 0 THEN NULL ELSE 'c' || i || '@x' END, '2024-01-' || (i % 28 + 1) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 900)
INSERT INTO orders SELECT i, (i - 1) / 3 + 1, i * 0.5 FROM n;");
        string branch = P("branch.db");
        using (var c = SqliteFile.OpenReadWrite(prod)) TestDb.Exec(c, $"VACUUM INTO '{branch}'");
        return (prod, branch);
    }

    /// <summary>A broken migration: the email column dropped, names mangled, the index and trigger gone.</summary>
    private static void BreakMigration(string prod) => TestDb.Exec(prod, @"
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE customers_new (id INTEGER PRIMARY KEY, name TEXT, created TEXT);
INSERT INTO customers_new SELECT id, upper(substr(name, 1, 3)), created FROM customers;
DROP TABLE customers;
ALTER TABLE customers_new RENAME TO customers;
COMMIT;");

    private TableRecoveryRequest Request(string prod, string branch, string newName = null) => new TableRecoveryRequest
    {
        SourcePath = branch, DestinationPath = prod, Table = "customers", NewName = newName, Reason = "migration 42 broke it",
        VaultPath = P("vault"), LockTimeout = TimeSpan.FromSeconds(1),
    };

    [Fact]
    public void Broken_migration_the_table_is_replaced_from_the_branch_with_its_indexes_and_triggers_and_undo_puts_it_back()
    {
        var (prod, branch) = Scenario();
        string original = RowRecoveryTests.Checksum(prod);
        BreakMigration(prod);
        string broken = RowRecoveryTests.Checksum(prod);

        var result = TableRecovery.Restore(Request(prod, branch));

        Assert.Equal(("customers", "customers", 300L, 2, 1, true), (result.Table, result.NewName, result.Rows, result.Indexes, result.Triggers, result.Replaced));
        Assert.Equal(original, RowRecoveryTests.Checksum(prod));
        Assert.Equal(0L, TestDb.Long(prod, "SELECT count(*) FROM pragma_foreign_key_check"));
        TestDb.Exec(prod, "UPDATE customers SET email = 'new@x' WHERE id = 1; DELETE FROM audit;"); // the trigger fires
        TestDb.Exec(prod, "UPDATE customers SET email = 'c1@x' WHERE id = 1;");
        Assert.Equal(1L, TestDb.Count(prod, "audit"));
        TestDb.Exec(prod, "DELETE FROM audit");

        var entry = RecoveryJournal.Read(P("vault"), "prod").Single();
        Assert.Equal(("TableRecovery", "Succeeded", 300L, result.Id), (entry.Action, entry.Result, entry.Rows.Value, entry.UndoId));

        var undo = RecoveryUndo.Undo(P("vault"), result.Id);
        Assert.Equal("Succeeded", undo.Result);
        Assert.Equal(broken, RowRecoveryTests.Checksum(prod));
    }

    [Fact]
    public void NewName_puts_the_table_beside_with_renamed_indexes_and_triggers_and_undo_drops_it()
    {
        var (prod, branch) = Scenario();
        BreakMigration(prod);
        string broken = RowRecoveryTests.Checksum(prod);
        var result = TableRecovery.Restore(Request(prod, branch, "customers_restored"));
        Assert.Equal(("customers_restored", 300L, 2, 1, false), (result.NewName, result.Rows, result.Indexes, result.Triggers, result.Replaced));
        Assert.Equal(300L, TestDb.Count(prod, "customers_restored"));
        Assert.Equal(2L, TestDb.Long(prod, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers_restored' AND name LIKE 'customers_restored_%'"));
        Assert.Equal("customers_restored", TestDb.Scalar(prod, "SELECT tbl_name FROM sqlite_master WHERE name = 'customers_restored_audit'"));
        Assert.Equal("CUS", TestDb.Scalar(prod, "SELECT name FROM customers WHERE id = 5"));
        Assert.Equal("customer 5", TestDb.Scalar(prod, "SELECT name FROM customers_restored WHERE id = 5"));

        var ex = Assert.Throws<TursoBackupException>(() => TableRecovery.Restore(Request(prod, branch, "customers_restored")));
        Assert.Equal("NewNameExists", ex.ErrorId);
        ex = Assert.Throws<TursoBackupException>(() => TableRecovery.Restore(Request(prod, branch, "orders")));
        Assert.Equal("NewNameExists", ex.ErrorId);

        RecoveryUndo.Undo(P("vault"), result.Id);
        Assert.Equal(broken, RowRecoveryTests.Checksum(prod));
    }

    [Fact]
    public void A_table_missing_in_the_source_is_a_clear_error_and_nothing_is_written()
    {
        var (prod, branch) = Scenario();
        string before = RowRecoveryTests.Checksum(prod);
        var req = Request(prod, branch);
        req.Table = "nowhere";
        var ex = Assert.Throws<TursoBackupException>(() => TableRecovery.Restore(req));
        Assert.Equal(("TableNotFound", FailureKind.NotFound), (ex.ErrorId, ex.Kind));
        Assert.Equal(before, RowRecoveryTests.Checksum(prod));
        Assert.StartsWith("Failed:", RecoveryJournal.Read(P("vault")).Single().Result);
    }

    [Fact]
    public void A_table_dropped_in_production_comes_back_and_undo_drops_it_again()
    {
        var (prod, branch) = Scenario();
        TestDb.Exec(prod, "PRAGMA foreign_keys = OFF; DROP TABLE orders;");
        string dropped = RowRecoveryTests.Checksum(prod);
        var req = Request(prod, branch);
        req.Table = "ORDERS";
        var result = TableRecovery.Restore(req);
        Assert.Equal(("orders", 900L, false), (result.NewName, result.Rows, result.Replaced));
        RecoveryUndo.Undo(P("vault"), result.Id);
        Assert.Equal(dropped, RowRecoveryTests.Checksum(prod));
    }

    [Fact]
    public void A_foreign_key_violation_after_the_swap_aborts_and_nothing_is_written()
    {
        var (prod, branch) = Scenario();
        // Production gained orders of customers the branch does not have: replacing customers would orphan them.
        TestDb.Exec(prod, "INSERT INTO customers VALUES (301, 'late', 'late@x', NULL); INSERT INTO orders VALUES (901, 301, 1.0);");
        string before = RowRecoveryTests.Checksum(prod);
        var ex = Assert.Throws<TursoBackupException>(() => TableRecovery.Restore(Request(prod, branch)));
        Assert.Equal("ForeignKeyViolation", ex.ErrorId);
        Assert.Contains("orders", ex.Message);
        Assert.Equal(before, RowRecoveryTests.Checksum(prod));
        Assert.Empty(Directory.GetFiles(Path.Combine(P("vault"), "recovery", "undo")));
    }

    [Fact]
    public void Undo_refuses_a_table_changed_since_unless_forced()
    {
        var (prod, branch) = Scenario();
        BreakMigration(prod);
        string broken = RowRecoveryTests.Checksum(prod);
        var result = TableRecovery.Restore(Request(prod, branch));
        TestDb.Exec(prod, "INSERT INTO customers VALUES (1000, 'new after recovery', NULL, NULL)");
        string changed = RowRecoveryTests.Checksum(prod);
        var ex = Assert.Throws<TursoBackupException>(() => RecoveryUndo.Undo(P("vault"), result.Id));
        Assert.Equal("DestinationChangedSinceRecovery", ex.ErrorId);
        Assert.Equal(changed, RowRecoveryTests.Checksum(prod));
        RecoveryUndo.Undo(P("vault"), result.Id, force: true);
        Assert.Equal(broken, RowRecoveryTests.Checksum(prod));
    }

    [Fact]
    public void A_destination_locked_by_a_writer_is_a_clear_error()
    {
        var (prod, branch) = Scenario();
        BreakMigration(prod);
        string before = RowRecoveryTests.Checksum(prod);
        using (var writer = SqliteFile.OpenReadWrite(prod))
        {
            TestDb.Exec(writer, "BEGIN IMMEDIATE");
            var ex = Assert.Throws<TursoBackupException>(() => TableRecovery.Restore(Request(prod, branch)));
            Assert.Equal("DestinationLocked", ex.ErrorId);
            TestDb.Exec(writer, "ROLLBACK");
        }
        Assert.Equal(before, RowRecoveryTests.Checksum(prod));
    }

    [Fact]
    public void Without_rowid_and_rowid_tables_without_a_key_keep_their_rows_and_rowids()
    {
        string schema = "CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID; CREATE TABLE log (line TEXT, n INTEGER); CREATE INDEX log_n ON log(n);";
        string branch = TestDb.Create(P("branch.db"), schema + "INSERT INTO kv VALUES ('a', x'00'), ('b', NULL); INSERT INTO log VALUES ('x', 1), ('y', NULL), ('z', 3); DELETE FROM log WHERE line = 'y';");
        string prod = TestDb.Create(P("prod.db"), schema + "INSERT INTO kv VALUES ('a', x'ff'); INSERT INTO log VALUES ('q', 9);");
        string before = RowRecoveryTests.Checksum(prod);
        foreach (var t in new[] { "kv", "log" })
        {
            var req = Request(prod, branch);
            req.Table = t;
            TableRecovery.Restore(req);
        }
        Assert.Equal(RowRecoveryTests.Checksum(branch), RowRecoveryTests.Checksum(prod));
        Assert.Equal(3L, TestDb.Long(prod, "SELECT rowid FROM log WHERE line = 'z'"));
        foreach (var e in RecoveryJournal.Read(P("vault")).Reverse().ToList()) RecoveryUndo.Undo(P("vault"), e.Id);
        Assert.Equal(before, RowRecoveryTests.Checksum(prod));
    }

    [Fact]
    public void CreateSql_renames_by_tokens()
    {
        Assert.Equal("CREATE TABLE IF NOT EXISTS \"b\" (x)", CreateSql.RenameTable("CREATE TABLE IF NOT EXISTS main.\"a\" (x)", "b"));
        Assert.Equal("CREATE UNIQUE INDEX \"i2\" ON \"b\"(x) WHERE x > 'a ON c'", CreateSql.RenameIndex("CREATE UNIQUE INDEX [i] ON a(x) WHERE x > 'a ON c'", "i2", "b"));
        Assert.Equal("CREATE TRIGGER \"t2\" AFTER UPDATE OF \"on\" ON \"b\" BEGIN SELECT 1; END",
            CreateSql.RenameTrigger("CREATE TRIGGER t AFTER UPDATE OF \"on\" ON a BEGIN SELECT 1; END", "t2", "b"));
    }
}
