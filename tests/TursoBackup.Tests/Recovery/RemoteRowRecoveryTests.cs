using System.Globalization;
using System.Text;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Recovery;
using TursoBackup.Engine.Remote;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Tests.Remote;

namespace TursoBackup.Tests.Recovery;

/// <summary>
/// Row recovery into a remote destination: a real tursodb 0.7.0 (--sync-server on 127.0.0.1), which keeps no Hrana
/// streams (so each batch is its own transaction and a failed batch is put back), and the same server behind
/// <see cref="HranaTestHandler"/> handing out batons as sqld/Turso Cloud do (so the recovery is one transaction).
/// The classes of one collection run one at a time: the batch-size settings are static.
/// </summary>
[Collection("RemoteRowRecovery")]
public class RemoteRowRecoveryTests : TempFolderTest
{
    private const string Schema = @"
PRAGMA journal_mode = WAL;
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, photo BLOB, balance INTEGER);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), total REAL, note TEXT);
CREATE TABLE lines (order_id INTEGER NOT NULL, line INTEGER NOT NULL, sku TEXT, PRIMARY KEY (order_id, line));
CREATE TABLE audit (at TEXT, what TEXT);";

    private static readonly string Ids = string.Join(", ", Enumerable.Range(0, 40).Select(i => 10 + i * 3));

    /// <summary>Production (200 customers, 600 orders, 1,200 lines, 50 audit rows) and a branch copy of it.</summary>
    private (string Prod, string Branch) Scenario()
    {
        string prod = TestDb.Create(P("prod.db"), Schema + @"
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO customers SELECT i, 'customer ' || i, CASE WHEN i % 7 = 0 THEN NULL ELSE 'c' || i || '@example.com' END,
  CASE WHEN i % 5 = 0 THEN randomblob(64) ELSE NULL END, CASE WHEN i % 2 = 0 THEN 9223372036854775807 - i ELSE -i END FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
INSERT INTO orders SELECT i, (i - 1) / 3 + 1, i * 1.25 + 0.1, CASE WHEN i % 4 = 0 THEN NULL ELSE 'o''' || i END FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
INSERT INTO lines SELECT (i - 1) / 2 + 1, (i - 1) % 2 + 1, 'sku-' || i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
INSERT INTO audit SELECT '2026-12-0' || (i % 9 + 1), 'event ' || i FROM n;");
        string branch = P("branch.db");
        using (var c = SqliteFile.OpenReadWrite(prod)) TestDb.Exec(c, $"VACUUM INTO '{branch}'");
        return (prod, branch);
    }

    private RowRecoveryRequest Request(string branch, ConflictAction action = ConflictAction.Abort) => new RowRecoveryRequest
    {
        SourcePath = branch, Tables = new[] { "orders", "customers" },
        TableWhere = new Dictionary<string, string> { ["customers"] = $"id IN ({Ids})", ["orders"] = $"customer_id IN ({Ids})" },
        ConflictAction = action, Reason = "ticket 456", VaultPath = P("vault"), LockTimeout = TimeSpan.FromSeconds(1),
    };

    private static void DeleteRemote(HranaClient c) =>
        c.Batch(new (string, IReadOnlyList<object>)[]
        {
            ($"DELETE FROM orders WHERE customer_id IN ({Ids})", null),
            ($"DELETE FROM customers WHERE id IN ({Ids})", null),
        });

    /// <summary>Every row of the tables (rowid and values, typed) over Hrana, as text.</summary>
    private static string RemoteContent(HranaClient c, params string[] tables)
    {
        var sb = new StringBuilder();
        foreach (var t in tables)
        {
            bool composite = t == "lines";
            var r = c.Execute(composite ? $"SELECT * FROM {t} ORDER BY 1, 2" : $"SELECT rowid, * FROM {t} ORDER BY rowid");
            foreach (var row in r.Rows) { foreach (var v in row) sb.Append(Text(v)).Append('|'); sb.Append('\n'); }
        }
        return sb.ToString();
    }

    /// <summary>The same as <see cref="RemoteContent"/> for a local file.</summary>
    private static string LocalContent(string db, params string[] tables)
    {
        using var c = SqliteFile.OpenReadOnly(db);
        var sb = new StringBuilder();
        foreach (var t in tables)
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = t == "lines" ? $"SELECT * FROM {t} ORDER BY 1, 2" : $"SELECT rowid, * FROM {t} ORDER BY rowid";
            using var r = cmd.ExecuteReader();
            while (r.Read()) { for (int i = 0; i < r.FieldCount; i++) sb.Append(Text(r.GetValue(i) is DBNull ? null : r.GetValue(i))).Append('|'); sb.Append('\n'); }
        }
        return sb.ToString();
    }

    private static string Text(object v) => v switch
    {
        null => "N",
        byte[] b => "B" + Convert.ToHexString(b),
        long l => "I" + l.ToString(CultureInfo.InvariantCulture),
        double d => "R" + d.ToString("R", CultureInfo.InvariantCulture),
        _ => "T" + v,
    };

    private IEnumerable<string> UndoFiles()
    {
        string undo = Path.Combine(P("vault"), "recovery", "undo");
        return Directory.Exists(undo) ? Directory.GetFiles(undo) : Array.Empty<string>();
    }

    private static void WithBatches(int statements, int keys, Action body)
    {
        int s = RemoteRowRecovery.StatementsPerBatch, k = RemoteRowRecovery.KeysPerLookup, n = RemoteRowRecovery.RowsPerInsert;
        RemoteRowRecovery.RowsPerInsert = 6;
        RemoteRowRecovery.StatementsPerBatch = statements;
        RemoteRowRecovery.KeysPerLookup = keys;
        try { body(); }
        finally
        {
            RemoteRowRecovery.StatementsPerBatch = s;
            RemoteRowRecovery.KeysPerLookup = k;
            RemoteRowRecovery.RowsPerInsert = n;
            RemoteRowRecovery.FailAfterBatches = null;
            RemoteRowRecovery.BeforeWrites = null;
        }
    }

    [SkippableFact]
    public void Accidental_delete_in_tursodb_comes_back_in_batches_and_undo_puts_it_back()
    {
        var (prod, branch) = Scenario();
        using var server = TursodbServer.Start(prod);
        using var client = new HranaClient(server.Url);
        string original = RemoteContent(client, "customers", "orders");
        Assert.Equal(LocalContent(branch, "customers", "orders"), original);
        DeleteRemote(client);
        string afterDelete = RemoteContent(client, "customers", "orders");
        Assert.Equal(160L, client.Execute("SELECT count(*) FROM customers").Scalar);

        IList<RowRecoveryResult> results = null;
        var log = new List<string>();
        WithBatches(7, 16, () =>
        {
            var req = Request(branch);
            req.Log = log.Add;
            results = RemoteRowRecovery.Restore(req, client);
        });

        Assert.Equal(new[] { "customers", "orders" }, results.Select(r => r.Table)); // parents first
        Assert.Equal((40L, 40L, 0L, 0L), (results[0].Matched, results[0].Inserted, results[0].Replaced, results[0].Skipped));
        Assert.Equal((120L, 120L, 0L, 0L), (results[1].Matched, results[1].Inserted, results[1].Replaced, results[1].Skipped));
        Assert.All(results, r => Assert.Equal(server.Url, r.Destination));
        Assert.Equal(original, RemoteContent(client, "customers", "orders")); // BLOBs, NULLs, 64-bit integers, REALs exact
        Assert.Contains(log, l => l.Contains("keeps no streams"));
        Assert.True(log.Count(l => l.StartsWith("Sent batch")) > 1);

        var entry = RecoveryJournal.Read(P("vault")).Single();
        Assert.Equal(("RowRecovery", "Succeeded", 160L, "ticket 456", server.Url), (entry.Action, entry.Result, entry.Rows.Value, entry.Reason, entry.Target));
        Assert.Equal("127.0.0.1:" + server.Port, entry.Database);

        // Again: every row is there, nothing to write.
        var again = RemoteRowRecovery.Restore(Request(branch), client);
        Assert.All(again, r => Assert.Equal(r.Matched, r.Skipped));

        WithBatches(9, 16, () => RecoveryUndo.Undo(P("vault"), entry.Id, reason: "wrong rows"));
        Assert.Equal(afterDelete, RemoteContent(client, "customers", "orders"));
        Assert.Equal("AlreadyUndone", Assert.Throws<TursoBackupException>(() => RecoveryUndo.Undo(P("vault"), entry.Id)).ErrorId);
        var undo = RecoveryJournal.Read(P("vault")).Last();
        Assert.Equal(("Undo", "Succeeded", server.Url), (undo.Action, undo.Result, undo.Target));
    }

    [SkippableFact]
    public void Conflicts_abort_or_replace_and_undo_brings_the_old_values_back()
    {
        var (prod, branch) = Scenario();
        using var server = TursodbServer.Start(prod);
        using var client = new HranaClient(server.Url);
        // A broken update: 30 customers renamed, 5 of them also deleted with their orders.
        client.Execute("UPDATE customers SET name = 'oops', photo = NULL WHERE id BETWEEN 1 AND 30");
        client.Execute("DELETE FROM orders WHERE customer_id BETWEEN 26 AND 30");
        client.Execute("DELETE FROM customers WHERE id BETWEEN 26 AND 30");
        string broken = RemoteContent(client, "customers", "orders");
        var req = new RowRecoveryRequest
        {
            SourcePath = branch, Tables = new[] { "customers" }, Where = "id <= 30", VaultPath = P("vault"), Reason = "bad update",
        };

        var ex = Assert.Throws<TursoBackupException>(() => RemoteRowRecovery.Restore(req, client));
        Assert.Equal("RowConflict", ex.ErrorId);
        Assert.Contains("id=1", ex.Message);
        Assert.Equal(broken, RemoteContent(client, "customers", "orders"));
        Assert.Empty(UndoFiles());

        var plan = RemoteRowRecovery.Plan(new RowRecoveryRequest { SourcePath = branch, Tables = new[] { "customers" }, Where = "id <= 30", ConflictAction = ConflictAction.Replace }, client).Single();
        Assert.Equal((30L, 5L, 25L, 0L), (plan.Matched, plan.WouldInsert, plan.WouldReplace, plan.WouldSkip));
        Assert.NotEmpty(plan.Sample);

        req.ConflictAction = ConflictAction.Ignore;
        var ignored = RemoteRowRecovery.Restore(req, client).Single();
        Assert.Equal((30L, 5L, 0L, 25L), (ignored.Matched, ignored.Inserted, ignored.Replaced, ignored.Skipped));
        Assert.Equal("oops", client.Execute("SELECT name FROM customers WHERE id = 1").Scalar);
        RecoveryUndo.Undo(P("vault"), ignored.Id);
        Assert.Equal(broken, RemoteContent(client, "customers", "orders"));

        req.ConflictAction = ConflictAction.Replace;
        RowRecoveryResult replaced = null;
        WithBatches(6, 8, () => replaced = RemoteRowRecovery.Restore(req, client).Single());
        Assert.Equal((30L, 5L, 25L, 0L), (replaced.Matched, replaced.Inserted, replaced.Replaced, replaced.Skipped));
        string customers = LocalContent(branch, "customers");
        Assert.Equal(customers, RemoteContent(client, "customers"));

        // Someone changes a recovered row afterwards: undo refuses (nothing written), -Force undoes anyway.
        client.Execute("UPDATE customers SET email = 'new@example.com' WHERE id = 3");
        var refused = Assert.Throws<TursoBackupException>(() => RecoveryUndo.Undo(P("vault"), replaced.Id));
        Assert.Equal("DestinationChangedSinceRecovery", refused.ErrorId);
        Assert.Equal("new@example.com", client.Execute("SELECT email FROM customers WHERE id = 3").Scalar);
        Assert.Equal("customer 1", client.Execute("SELECT name FROM customers WHERE id = 1").Scalar);
        client.Execute("UPDATE customers SET email = (SELECT 'c3@example.com') WHERE id = 3");
        RecoveryUndo.Undo(P("vault"), replaced.Id);
        Assert.Equal(broken, RemoteContent(client, "customers", "orders"));
    }

    [SkippableFact]
    public void A_failure_after_some_batches_puts_them_back_and_leaves_no_undo_data()
    {
        var (prod, branch) = Scenario();
        using var server = TursodbServer.Start(prod);
        using var client = new HranaClient(server.Url);
        DeleteRemote(client);
        string afterDelete = RemoteContent(client, "customers", "orders");

        TursoBackupException ex = null;
        WithBatches(5, 50, () =>
        {
            RemoteRowRecovery.FailAfterBatches = 3;
            ex = Assert.Throws<TursoBackupException>(() => RemoteRowRecovery.Restore(Request(branch), client));
        });
        Assert.Contains("3 batch(es) already written were put back", ex.Message);
        Assert.Equal(afterDelete, RemoteContent(client, "customers", "orders"));
        Assert.Empty(UndoFiles());
        var entry = RecoveryJournal.Read(P("vault")).Single();
        Assert.StartsWith("Failed: ", entry.Result);
        Assert.Equal(0L, entry.Rows);
    }

    [SkippableFact]
    public void A_row_another_client_changes_before_the_write_is_not_overwritten()
    {
        var (prod, branch) = Scenario();
        using var server = TursodbServer.Start(prod);
        using var client = new HranaClient(server.Url);
        client.Execute("UPDATE customers SET name = 'oops' WHERE id <= 20");
        client.Execute("DELETE FROM orders WHERE customer_id BETWEEN 21 AND 40");
        client.Execute("DELETE FROM customers WHERE id BETWEEN 21 AND 40");
        var req = new RowRecoveryRequest { SourcePath = branch, Tables = new[] { "customers" }, Where = "id <= 40", ConflictAction = ConflictAction.Replace, VaultPath = P("vault") };
        TursoBackupException ex = null;
        WithBatches(4, 50, () =>
        {
            // Between the read and the writes, another client edits row 17 (its 'oops' is what the recovery would replace).
            RemoteRowRecovery.BeforeWrites = () => { using var other = new HranaClient(server.Url); other.Execute("UPDATE customers SET name = 'edited meanwhile' WHERE id = 17"); };
            ex = Assert.Throws<TursoBackupException>(() => RemoteRowRecovery.Restore(req, client));
        });
        Assert.Equal("DestinationChangedDuringRecovery", ex.ErrorId);
        Assert.Contains("id=17", ex.Message);
        Assert.Equal("edited meanwhile", client.Execute("SELECT name FROM customers WHERE id = 17").Scalar);
        Assert.Equal(0L, client.Execute("SELECT count(*) FROM customers WHERE id BETWEEN 21 AND 40").Scalar); // inserts put back
        Assert.Equal(19L, client.Execute("SELECT count(*) FROM customers WHERE id <= 20 AND name = 'oops'").Scalar);
        Assert.Empty(UndoFiles());
    }

    [SkippableFact]
    public void Behind_a_server_that_keeps_streams_the_recovery_is_one_transaction()
    {
        var (prod, branch) = Scenario();
        using var server = TursodbServer.Start(prod);
        var handler = new HranaTestHandler { AddBatons = true };
        using var client = new HranaClient(server.Url, handler: handler);
        using (var plain = new HranaClient(server.Url)) DeleteRemote(plain);
        string afterDelete;
        using (var plain = new HranaClient(server.Url)) afterDelete = RemoteContent(plain, "customers", "orders");

        // A failure in the middle rolls the one transaction back.
        WithBatches(5, 50, () =>
        {
            RemoteRowRecovery.FailAfterBatches = 4;
            Assert.Throws<TursoBackupException>(() => RemoteRowRecovery.Restore(Request(branch), client));
        });
        using (var plain = new HranaClient(server.Url)) Assert.Equal(afterDelete, RemoteContent(plain, "customers", "orders"));
        Assert.Empty(UndoFiles());
        Assert.Contains(handler.SqlSent(), s => s == "ROLLBACK");

        handler.Bodies.Clear();
        var log = new List<string>();
        WithBatches(5, 50, () =>
        {
            var req = Request(branch);
            req.Log = log.Add;
            RemoteRowRecovery.Restore(req, client);
        });
        Assert.Contains(log, l => l.Contains("one transaction"));
        var sent = handler.SqlSent();
        Assert.Equal(1, sent.Count(s => s == "BEGIN IMMEDIATE"));
        Assert.Equal(1, sent.Count(s => s == "COMMIT"));
        Assert.Empty(handler.BatonErrors);
        using (var plain = new HranaClient(server.Url)) Assert.Equal(LocalContent(branch, "customers", "orders"), RemoteContent(plain, "customers", "orders"));
    }

    [SkippableFact]
    public void Composite_keys_and_rowid_tables_come_back_exactly()
    {
        var (prod, branch) = Scenario();
        using var server = TursodbServer.Start(prod);
        using var client = new HranaClient(server.Url);
        client.Execute("DELETE FROM lines WHERE order_id % 10 = 3");
        client.Execute("DELETE FROM audit WHERE rowid % 4 = 1");
        client.Execute("UPDATE audit SET what = 'changed' WHERE rowid = 2");
        var req = new RowRecoveryRequest { SourcePath = branch, Tables = new[] { "lines", "audit" }, ConflictAction = ConflictAction.Replace, VaultPath = P("vault") };
        var results = RemoteRowRecovery.Restore(req, client);
        Assert.Equal(120L, results.Single(r => r.Table == "lines").Inserted);
        var audit = results.Single(r => r.Table == "audit");
        Assert.Equal((13L, 1L), (audit.Inserted, audit.Replaced));
        Assert.Equal(LocalContent(branch, "lines", "audit"), RemoteContent(client, "lines", "audit"));
    }

    [SkippableFact]
    public void Bad_input_is_refused_with_nothing_written()
    {
        var (prod, branch) = Scenario();
        using var server = TursodbServer.Start(prod);
        using var client = new HranaClient(server.Url);
        DeleteRemote(client);
        string afterDelete = RemoteContent(client, "customers", "orders");

        // Orders without their customers: the foreign key is checked before anything is sent.
        var fk = Assert.Throws<TursoBackupException>(() => RemoteRowRecovery.Restore(new RowRecoveryRequest
        {
            SourcePath = branch, Tables = new[] { "orders" }, Where = $"customer_id IN ({Ids})", VaultPath = P("vault"),
        }, client));
        Assert.True(fk.ErrorId == "ForeignKeyViolation", fk.Message);

        var missing = Assert.Throws<TursoBackupException>(() => RemoteRowRecovery.Restore(new RowRecoveryRequest { SourcePath = branch, Tables = new[] { "nosuch" }, VaultPath = P("vault") }, client));
        Assert.Equal("TableNotFound", missing.ErrorId);

        var bad = Assert.Throws<TursoBackupException>(() => RemoteRowRecovery.Restore(new RowRecoveryRequest { SourcePath = branch, Tables = new[] { "customers" }, Where = "1; DROP TABLE customers", VaultPath = P("vault") }, client));
        Assert.Equal("InvalidPredicate", bad.ErrorId);

        client.Execute("CREATE TABLE narrow (id INTEGER PRIMARY KEY)");
        TestDb.Exec(branch, "CREATE TABLE narrow (id INTEGER PRIMARY KEY, extra TEXT); INSERT INTO narrow VALUES (1, 'x');");
        var schema = Assert.Throws<TursoBackupException>(() => RemoteRowRecovery.Restore(new RowRecoveryRequest { SourcePath = branch, Tables = new[] { "narrow" }, VaultPath = P("vault") }, client));
        Assert.Equal("SchemaMismatch", schema.ErrorId);

        // Another client holds a write transaction on the server.
        using (var other = new HranaClient(server.Url))
        {
            other.Execute("BEGIN IMMEDIATE");
            try
            {
                var locked = Assert.Throws<TursoBackupException>(() => RemoteRowRecovery.Restore(Request(branch), client));
                Assert.Equal("DestinationLocked", locked.ErrorId);
            }
            finally
            {
                other.Execute("ROLLBACK");
            }
        }
        Assert.Equal(afterDelete, RemoteContent(client, "customers", "orders"));
        Assert.Empty(UndoFiles());
        Assert.All(RecoveryJournal.Read(P("vault")), e => Assert.StartsWith("Failed: ", e.Result));
    }
}
