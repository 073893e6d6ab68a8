using System.Diagnostics;
using System.Management.Automation;

namespace TursoBackup.Module.Tests;

/// <summary>Backup → Get → Test → Restore through real pipelines in a hosted runspace, on real SQLite files.</summary>
public sealed class BackupSliceTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public BackupSliceTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    [SkippableTheory]
    [InlineData("wal", "Gzip")]
    [InlineData("wal", "None")]
    [InlineData("delete", "Gzip")]
    public void RoundTripRestoresAnEqualDatabase(string journalMode, string compression)
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"], journalMode);
        var r = session.Run("""
            $b = Backup-TursoDatabase -Path $db -Vault $vault -Compression $compression
            $b
            $b | Test-Backup
            $b | Restore-TursoBackup -Destination $restored -Confirm:$false
            """, Vars(("db", db), ("vault", dir["vault"]), ("compression", compression), ("restored", dir["restored.db"]))).NoErrors();

        var backup = r.Single<BackupInfo>();
        Assert.Equal("shop", backup.Database);
        Assert.Equal(BackupKind.Snapshot, backup.Kind);
        Assert.Equal(compression, backup.Compression.ToString());
        Assert.Equal(64, backup.Sha256.Length);
        Assert.Equal(200, backup.Tables.Single(t => t.Name == "customers").Rows);
        Assert.Equal(1000, backup.Tables.Single(t => t.Name == "orders").Rows);
        Assert.Equal(3000, backup.Tables.Single(t => t.Name == "items").Rows);
        Assert.True(backup.PageSize > 0 && backup.PageCount > 0);
        Assert.True(File.Exists(backup.Location));
        Assert.StartsWith(Path.Combine(dir["vault"], "databases", "shop") + Path.DirectorySeparatorChar, backup.Location);

        var test = r.Single<BackupTestResult>();
        Assert.True(test.Passed, test.FailedChecks);
        Assert.Equal(new[] { "Checksum", "Decompression", "IntegrityCheck", "ForeignKeyCheck", "RowCounts", "SchemaHash", "PageFormat", "RestoreTime" }, test.Checks.Select(c => c.Name));

        var restore = r.Single<RestoreResult>();
        Assert.Equal(dir["restored.db"], restore.Destination);
        Assert.Null(restore.EmergencyBackup);
        Assert.Equal(Peers.TableContents(db), Peers.TableContents(dir["restored.db"]));
        Assert.Equal("ok\n", Peers.Sqlite3(dir["restored.db"], "PRAGMA integrity_check;"));
        // Nothing was left behind next to the restored file.
        Assert.Equal(new[] { "restored.db", "shop.db", "shop.db-shm", "shop.db-wal", "vault" }.Intersect(Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName)).Count(),
            Directory.GetFileSystemEntries(dir.Path).Length);
    }

    [SkippableFact]
    public void ManyDatabasesBackUpInOnePipelineByValueAndByProperty()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["data"]);
        foreach (var name in new[] { "alpha", "beta", "gamma" }) SampleDatabases.CreateShop(Path.Combine(dir["data"], name + ".db"));
        var r = session.Run("""
            # by property FullName (FileInfo objects, as Get-ChildItem emits them)
            [System.IO.DirectoryInfo]::new($data).GetFiles('*.db') | Backup-TursoDatabase -Vault $vault
            # by value (strings) and by property Path
            "$data/alpha.db" | Backup-TursoDatabase -Vault $vault -Tag byvalue
            [pscustomobject]@{ Path = "$data/beta.db" } | Backup-TursoDatabase -Vault $vault -Name beta-by-path
            # wildcards
            Backup-TursoDatabase -Path "$data/g*.db" -Vault $vault -Tier Critical
            """, Vars(("data", dir["data"]), ("vault", dir["vault"]))).NoErrors();
        var backups = r.All<BackupInfo>();
        // Databases from the pipeline are backed up in parallel: output is in completion order.
        Assert.Equal(new[] { "alpha", "alpha", "beta", "beta-by-path", "gamma", "gamma" }, backups.Select(b => b.Database).OrderBy(n => n));
        Assert.Equal(new[] { "byvalue" }, backups.Single(b => b.Tags.Length > 0).Tags);
        Assert.Equal(BackupTier.Critical, backups.Last().Tier);

        var listed = session.Run("Get-TursoBackup -Vault $vault", Vars(("vault", dir["vault"]))).NoErrors().All<BackupInfo>();
        Assert.Equal(6, listed.Count);
        Assert.True(listed.Zip(listed.Skip(1)).All(p => p.First.CreatedAt >= p.Second.CreatedAt), "newest first");
        var latest = session.Run("Get-TursoBackup -Vault $vault -Latest", Vars(("vault", dir["vault"]))).NoErrors().All<BackupInfo>();
        Assert.Equal(new[] { "alpha", "beta", "beta-by-path", "gamma" }, latest.Select(b => b.Database).OrderBy(n => n));
        Assert.Equal(backups.Single(b => b.Tags.Contains("byvalue")).Id, latest.Single(b => b.Database == "alpha").Id);
        var one = session.Run("Get-TursoBackup -Vault $vault -Id $id", Vars(("vault", dir["vault"]), ("id", backups.First(b => b.Database == "alpha").Id))).NoErrors().Single<BackupInfo>();
        Assert.Equal("alpha", one.Database);
        var byName = session.Run("Get-TursoBackup -Vault $vault -Database 'g*'", Vars(("vault", dir["vault"]))).NoErrors().All<BackupInfo>();
        Assert.Equal(2, byName.Count);
    }

    [SkippableTheory]
    [InlineData("wal")]
    [InlineData("delete")]
    public void BackupsTakenWhileAnotherProcessWritesAreConsistent(string journalMode)
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["busy.db"], journalMode);
        // A writer in another process: thousands of small transactions that insert, update and delete, each
        // keeping orders.total's sum equal to ledger's, and foreign keys intact.
        Peers.Sqlite3(db, "CREATE TABLE ledger(id INTEGER PRIMARY KEY, amount REAL); INSERT INTO ledger(amount) SELECT sum(total) FROM orders;");
        var sql = new System.Text.StringBuilder(".timeout 60000\nPRAGMA foreign_keys=ON;\n");
        for (int i = 0; i < 20000; i++)
        {
            sql.Append($"BEGIN IMMEDIATE; INSERT INTO orders(customer_id, total, placed_at, big) VALUES ({1 + i % 200}, {i}.5, datetime('now'), {i}); ");
            sql.Append($"UPDATE ledger SET amount = amount + {i}.5; ");
            if (i % 3 == 0) sql.Append($"DELETE FROM items WHERE order_id = {1 + i % 1000}; ");
            sql.Append("COMMIT;\n");
        }
        using var writer = Peers.Sqlite3Session(db);
        var feed = Task.Run(() => { writer.StandardInput.Write(sql.ToString()); writer.StandardInput.Close(); });
        var errors = writer.StandardError.ReadToEndAsync();
        int backupsTaken = 0;
        var watch = Stopwatch.StartNew();
        // Back up for as long as the writer writes (at least 3 backups, at most 20 s of writing).
        while ((!writer.HasExited || backupsTaken < 3) && watch.Elapsed < TimeSpan.FromMinutes(3) && !(backupsTaken >= 3 && watch.Elapsed > TimeSpan.FromSeconds(20)))
        {
            var r = session.Run("""
                $b = Backup-TursoDatabase -Path $db -Vault $vault -LockTimeout '00:01:00'
                $b | Test-Backup -Query @{ 'ledger matches orders' = 'SELECT abs((SELECT amount FROM ledger) - (SELECT sum(total) FROM orders)) < 0.001' }
                """, Vars(("db", db), ("vault", dir["vault"]))).NoErrors();
            var result = r.Single<BackupTestResult>();
            Assert.True(result.Passed, $"backup {backupsTaken}: {result.FailedChecks} " + string.Join("; ", result.Checks.Where(c => !c.Passed).Select(c => c.Detail)));
            backupsTaken++;
        }
        if (!writer.HasExited) writer.Kill();
        writer.WaitForExit();
        Assert.True(writer.ExitCode == 0 || watch.Elapsed > TimeSpan.FromSeconds(20), "writer failed: " + errors.Result);
        Assert.True(backupsTaken >= 3);
        // The writer really was writing during the backups: the backups hold different order counts.
        var counts = session.Run("Get-TursoBackup -Vault $vault | ForEach-Object { ($_.Tables | Where-Object Name -eq 'orders').Rows }", Vars(("vault", dir["vault"]))).NoErrors()
            .Output.Select(o => (long)o.BaseObject).Distinct().Count();
        Assert.True(counts >= 2, "backups did not overlap the writer");
    }

    [SkippableFact]
    public void AFlippedByteIsCaughtAndNamed()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        foreach (var compression in new[] { "Gzip", "None" })
        {
            var backup = session.Run("Backup-TursoDatabase -Path $db -Vault $vault -Compression $c", Vars(("db", db), ("vault", dir["vault"]), ("c", compression))).NoErrors().Single<BackupInfo>();
            var bytes = File.ReadAllBytes(backup.Location);
            bytes[bytes.Length / 2] ^= 0x5A;
            File.WriteAllBytes(backup.Location, bytes);
            var r = session.Run("Get-TursoBackup -Vault $vault -Id $id | Test-Backup", Vars(("vault", dir["vault"]), ("id", backup.Id))).NoErrors();
            var result = r.Single<BackupTestResult>();
            Assert.False(result.Passed);
            var checksum = result.Checks.Single(c => c.Name == "Checksum");
            Assert.False(checksum.Passed);
            Assert.Equal(backup.Sha256, checksum.Expected);
            Assert.NotEqual(backup.Sha256, checksum.Actual);
            Assert.Contains("Checksum", result.FailedChecks);

            // Restoring the damaged backup refuses and writes nothing.
            string target = dir["from-damaged-" + compression + ".db"];
            var restore = session.Run("Get-TursoBackup -Vault $vault -Id $id | Restore-TursoBackup -Destination $t -Confirm:$false", Vars(("vault", dir["vault"]), ("id", backup.Id), ("t", target)));
            var error = Assert.Single(restore.Errors);
            Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
            Assert.False(File.Exists(target));
            Assert.Empty(Directory.GetFiles(dir.Path, "*.partial", SearchOption.AllDirectories));
        }
    }

    [SkippableFact]
    public void ARowDeletedAfterTheManifestWasWrittenFailsRowCounts()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var backup = session.Run("Backup-TursoDatabase -Path $db -Vault $vault -Compression None", Vars(("db", db), ("vault", dir["vault"]))).NoErrors().Single<BackupInfo>();
        // Tamper with the artifact behind the manifest's back, then make its checksum match again.
        Peers.Sqlite3(backup.Location, "DELETE FROM items WHERE sku = 'SKU-5';");
        string manifest = Path.Combine(Path.GetDirectoryName(backup.Location)!, "manifest.json");
        string newSha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(backup.Location)));
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace(backup.Sha256, newSha));
        var result = session.Run("Get-TursoBackup -Vault $vault | Test-Backup", Vars(("vault", dir["vault"]))).NoErrors().Single<BackupTestResult>();
        Assert.False(result.Passed);
        Assert.Equal("RowCounts", result.FailedChecks);
        Assert.Contains("items: 3000 rows in the manifest, 2999 restored", result.Checks.Single(c => c.Name == "RowCounts").Detail);
    }

    [SkippableFact]
    public void QueriesAndRecoveryTimeObjectiveAreChecks()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var r = session.Run("""
            $b = Backup-TursoDatabase -Path $db -Vault $vault
            $b | Test-Backup -Query @{ 'has orders' = 'SELECT count(*) > 0 FROM orders'; 'no refunds' = 'SELECT count(*) = 0 FROM orders WHERE total < 0'; 'impossible' = 'SELECT 0' } -RecoveryTimeObjective '00:10:00'
            $b | Test-Backup -RecoveryTimeObjective ([timespan]::FromTicks(1)) -KeepRestored $keep
            """, Vars(("db", db), ("vault", dir["vault"]), ("keep", dir["kept"]))).NoErrors();
        var results = r.All<BackupTestResult>();
        Assert.False(results[0].Passed);
        Assert.Equal("impossible", results[0].FailedChecks);
        Assert.True(results[0].Checks.Single(c => c.Name == "has orders").Passed);
        Assert.True(results[0].RtoMet);
        Assert.False(results[1].Passed);
        Assert.False(results[1].RtoMet);
        Assert.Equal("RestoreTime", results[1].FailedChecks);
        Assert.True(File.Exists(results[1].RestoredPath));
        Assert.StartsWith(dir["kept"], results[1].RestoredPath);
    }

    [SkippableFact]
    public void RestoreOverAnExistingFileNeedsForceAndTakesAnEmergencyBackup()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]));
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors();
        Peers.Sqlite3(db, "DELETE FROM items; DELETE FROM orders WHERE id > 10;"); // the "accident"
        var damaged = Peers.TableContents(db);

        var refused = session.Run("Get-TursoBackup -Vault $vault -Database shop -Latest | Restore-TursoBackup -Destination $db -Confirm:$false", vars);
        Assert.Equal(ErrorCategory.ResourceExists, Assert.Single(refused.Errors).CategoryInfo.Category);
        Assert.Contains("-Force", refused.Errors[0].Exception.Message);
        Assert.Equal(damaged, Peers.TableContents(db));

        var whatIf = session.Run("Restore-TursoBackup -Vault $vault -Database shop -Destination $db -Force -WhatIf", vars).NoErrors();
        Assert.Empty(whatIf.Output);
        Assert.Equal(damaged, Peers.TableContents(db));

        var r = session.Run("Restore-TursoBackup -Vault $vault -Database shop -Destination $db -Force -Confirm:$false", vars).NoErrors();
        var result = r.Single<RestoreResult>();
        Assert.NotNull(result.EmergencyBackup);
        Assert.Contains("emergency", result.EmergencyBackup.Tags);
        Assert.Equal(1000, Peers.TableContents(db)["orders"].Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal("ok\n", Peers.Sqlite3(db, "PRAGMA integrity_check;"));

        // The emergency backup holds the state that was replaced.
        var back = session.Run("Get-TursoBackup -Vault $vault -Id $id | Restore-TursoBackup -Destination $t -Confirm:$false",
            Vars(("vault", dir["vault"]), ("id", result.EmergencyBackup.Id), ("t", dir["before-restore.db"]))).NoErrors();
        Assert.Equal(damaged, Peers.TableContents(dir["before-restore.db"]));
    }

    [SkippableTheory]
    [InlineData("Zstd", "zstd -d -c")]
    [InlineData("Gzip", "gunzip -c")]
    [InlineData("None", "cat")]
    public void AVaultBackupRestoresWithStandardToolsAlone(string compression, string decompress)
    {
        // docs/vault-format.md: sha256sum, zstd or gunzip, and sqlite3 are enough.
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var backup = session.Run("Backup-TursoDatabase -Path $db -Vault $vault -Compression $c", Vars(("db", db), ("vault", dir["vault"]), ("c", compression))).NoErrors().Single<BackupInfo>();
        var (code, sha, _) = Peers.Run(Peers.Require("sha256sum"), new[] { backup.Location });
        Assert.Equal(0, code);
        Assert.StartsWith(backup.Sha256 + " ", sha);
        Assert.Contains("\"sha256\": \"" + backup.Sha256 + "\"", File.ReadAllText(Path.Combine(Path.GetDirectoryName(backup.Location)!, "manifest.json")));
        Peers.Require(decompress.Split(' ')[0]);
        var (rc, _, err) = Peers.Run("/bin/sh", new[] { "-c", $"{decompress} '{backup.Location}' > '{dir["by-hand.db"]}'" });
        Assert.True(rc == 0, err);
        Assert.Equal("ok\n", Peers.Sqlite3(dir["by-hand.db"], "PRAGMA integrity_check;"));
        Assert.Equal(Peers.TableContents(db), Peers.TableContents(dir["by-hand.db"]));
    }

    [SkippableFact]
    public void WhatIfWritesNothing()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var r = session.Run("Backup-TursoDatabase -Path $db -Vault $vault -WhatIf", Vars(("db", db), ("vault", dir["vault"]))).NoErrors();
        Assert.Empty(r.Output);
        Assert.False(Directory.Exists(dir["vault"]));

        // Listing brings the vault's index up to date (a cache, docs/vault-format.md): list once before comparing.
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault; Get-TursoBackup -Vault $vault | Out-Null", Vars(("db", db), ("vault", dir["vault"]))).NoErrors();
        var before = Directory.GetFileSystemEntries(dir.Path, "*", SearchOption.AllDirectories).OrderBy(x => x).ToList();
        session.Run("Get-TursoBackup -Vault $vault | Restore-TursoBackup -Destination $t -WhatIf; Backup-TursoDatabase -Path $db -Vault $vault -WhatIf",
            Vars(("db", db), ("vault", dir["vault"]), ("t", dir["new.db"]))).NoErrors();
        Assert.Equal(before, Directory.GetFileSystemEntries(dir.Path, "*", SearchOption.AllDirectories).OrderBy(x => x).ToList());
    }
}
