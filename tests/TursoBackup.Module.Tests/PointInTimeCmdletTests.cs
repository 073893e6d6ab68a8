using System.Diagnostics;
using System.Management.Automation;

namespace TursoBackup.Module.Tests;

/// <summary>Layer 2 cmdlets in the hosted runspace: a real sqlite3 writer process, the archiver, restores by timestamp.</summary>
public sealed class PointInTimeCmdletTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public PointInTimeCmdletTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    [SkippableFact]
    public void TestBackupChecksARestorePointFromTheWalArchive()
    {
        using var dir = new TempDir();
        string db = dir["points.db"];
        Peers.Sqlite3(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('one'), ('two');");
        session.Run("Sync-TursoWalArchive -Path $db -Vault $vault | Out-Null", Vars(("db", db), ("vault", dir["vault"]))).NoErrors();
        Peers.Sqlite3(db, "INSERT INTO t(v) VALUES ('three');");
        session.Run("Sync-TursoWalArchive -Path $db -Vault $vault | Out-Null", Vars(("db", db), ("vault", dir["vault"]))).NoErrors();
        var r = session.Run("Test-Backup -Vault $vault -Database points -Timestamp ([DateTimeOffset]::UtcNow) -Query @{ 'three rows' = 'SELECT count(*) = 3 FROM t' } -RecoveryTimeObjective '00:01:00'",
            Vars(("vault", dir["vault"]))).NoErrors().Single<BackupTestResult>();
        Assert.True(r.Passed, string.Join("; ", r.Checks.Where(c => !c.Passed).Select(c => c.Name + ": " + c.Detail)));
        Assert.Contains(r.Checks, c => c.Name == "IntegrityCheck" && c.Passed);
        Assert.Contains(r.Checks, c => c.Name == "three rows" && c.Passed);
        // A time before the archive began is a failed check with the reason, not an exception.
        var old = session.Run("Test-Backup -Vault $vault -Database points -Timestamp '2001-01-01T00:00:00Z'", Vars(("vault", dir["vault"]))).NoErrors().Single<BackupTestResult>();
        Assert.False(old.Passed);
        Assert.Contains(old.Checks, c => !c.Passed && c.Detail.Contains("Timestamp too old", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void ArchiveWhileAnotherProcessWritesThenRestoreToATimestamp()
    {
        using var dir = new TempDir();
        string db = dir["live.db"];
        Peers.Sqlite3(db, "PRAGMA journal_mode=WAL; CREATE TABLE ev(id INTEGER PRIMARY KEY, at TEXT);");
        // One long sqlite3 session (as an application keeps its database open): a row every ~20 ms for ~3 s. It waits
        // with `.shell sleep` (a CPU-bound pause took far longer than the archiver's -Duration on a loaded machine, and the
        // rows written after the archiver ended were then missing).
        var script = new System.Text.StringBuilder();
        for (int i = 1; i <= 120; i++) script.Append("INSERT INTO ev(at) VALUES (strftime('%Y-%m-%dT%H:%M:%fZ','now'));\n.shell sleep 0.02\n");
        Peers.Require("sqlite3");
        var archive = Task.Run(() => session.Run("Start-TursoWalArchive -Path $db -Vault $vault -Duration '00:00:15' -SyncInterval '00:00:00.1'", Vars(("db", db), ("vault", dir["vault"]))));
        Thread.Sleep(500);
        using (var writer = Peers.Sqlite3Session(db))
        {
            writer.StandardInput.Write(script.ToString());
            writer.StandardInput.Close();
            writer.StandardOutput.ReadToEnd();
            writer.WaitForExit();
        }
        var run = archive.Result.NoErrors();
        var status = run.All<WalArchiveStatus>().Last();
        Assert.True(status.FramesCaptured > 0);

        var window = session.Run("Get-TursoRestorePoint -Vault $vault -Database live", Vars(("vault", dir["vault"]))).NoErrors().Single<RestoreWindow>();
        Assert.Empty(window.Gaps);
        Assert.True(window.Segments > 1);

        // Restore to the moment of row 60 (its own timestamp): rows up to 60 at most, and nothing after it.
        string at60 = Peers.Sqlite3(db, "SELECT at FROM ev WHERE id = 60;").Trim();
        var r = session.Run("Restore-TursoPointInTime -Vault $vault -Database live -Timestamp $t -Destination $d -Confirm:$false",
            Vars(("vault", dir["vault"]), ("t", at60), ("d", dir["at60.db"]))).NoErrors().Single<RestoreResult>();
        long max = long.Parse(Peers.Sqlite3(dir["at60.db"], "SELECT max(id) FROM ev;").Trim());
        Assert.InRange(max, 40, 60);
        Assert.True(r.PointInTime <= DateTimeOffset.Parse(at60));
        Assert.Equal("ok\n", Peers.Sqlite3(dir["at60.db"], "PRAGMA integrity_check;"));

        var latest = session.Run("Restore-TursoPointInTime -Vault $vault -Database live -Timestamp ([DateTimeOffset]::UtcNow) -Destination $d -Confirm:$false",
            Vars(("vault", dir["vault"]), ("d", dir["now.db"]))).NoErrors();
        Assert.Equal("120\n", Peers.Sqlite3(dir["now.db"], "SELECT count(*) FROM ev;"));
    }

    [SkippableFact]
    public void TimestampErrorsAreTerminatingAndWriteNothing()
    {
        using var dir = new TempDir();
        string db = dir["t.db"];
        Peers.Sqlite3(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x);");
        session.Run("Sync-TursoWalArchive -Path $db -Vault $vault", Vars(("db", db), ("vault", dir["vault"]))).NoErrors();
        foreach (var (t, expected) in new[]
        {
            ("2099-01-01T00:00:00Z", "in the future"),
            ("2001-01-01", "Timestamp too old: the earliest restore point of 't' is "),
            ("yesterday at noon", "Invalid timestamp format: use ISO 8601 such as 2024-01-15T10:30:00Z"),
        })
        {
            // try/catch sees terminating errors only (non-terminating ones would be silenced by -ErrorAction).
            var r = session.Run("try { Restore-TursoPointInTime -Vault $vault -Database t -Timestamp $ts -Destination $d -Confirm:$false -ErrorAction SilentlyContinue; 'no error' } catch { 'TERMINATING: ' + $_.Exception.Message }",
                Vars(("vault", dir["vault"]), ("ts", t), ("d", dir["out.db"])));
            string said = r.Output.Single().ToString();
            Assert.StartsWith("TERMINATING: ", said);
            Assert.Contains(expected, said);
            Assert.False(File.Exists(dir["out.db"]));
        }
        var notWal = dir["rollback.db"];
        Peers.Sqlite3(notWal, "CREATE TABLE t(x);");
        var e = session.Run("Sync-TursoWalArchive -Path $db -Vault $vault", Vars(("db", notWal), ("vault", dir["vault"])));
        Assert.Equal(ErrorCategory.NotEnabled, Assert.Single(e.Errors).CategoryInfo.Category);
    }

    [SkippableFact]
    public void BranchesOfNowAndOfATimestampLeaveTheSourceUntouched()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]), ("branches", dir["branches"]));
        session.Run("Sync-TursoWalArchive -Path $db -Vault $vault", vars).NoErrors();
        Thread.Sleep(1100);
        var t = DateTimeOffset.UtcNow;
        Thread.Sleep(1100);
        // Nothing changed since t, and a sync proves it: t stays restorable even though the sqlite3 shell below
        // checkpoints its WAL away on exit while no archiver holds it (that starts a new generation, after a gap).
        session.Run("Sync-TursoWalArchive -Path $db -Vault $vault", vars).NoErrors();
        Peers.Sqlite3(db, "DELETE FROM items;");
        session.Run("Sync-TursoWalArchive -Path $db -Vault $vault", vars).NoErrors();
        var before = File.ReadAllBytes(db);
        vars["t"] = t;

        var r = session.Run("""
            New-TursoBranch -Path $db -Destination $branches
            New-TursoBranch -Path $db -Vault $vault -Timestamp $t -Destination $branches
            """, vars).NoErrors();
        var branches = r.All<TursoBranch>();
        Assert.Equal("backup-" + DateTime.UtcNow.ToString("yyyyMMdd"), branches[0].Name);
        Assert.Equal("pitr-" + t.ToUniversalTime().ToString("yyyyMMdd'T'HHmmss'Z'"), branches[1].Name);
        Assert.All(branches, b => Assert.Equal("Local", b.Provider));
        Assert.Equal(before, File.ReadAllBytes(db));
        Assert.Equal("0\n", Peers.Sqlite3(branches[0].Location, "SELECT count(*) FROM items;"));
        Assert.Equal("3000\n", Peers.Sqlite3(branches[1].Location, "SELECT count(*) FROM items;"));

        var listed = session.Run("Get-TursoBranch -Directory $branches", vars).NoErrors().All<TursoBranch>();
        Assert.Equal(2, listed.Count);
        var again = session.Run("New-TursoBranch -Path $db -Destination $branches", vars);
        Assert.Equal(ErrorCategory.ResourceExists, Assert.Single(again.Errors).CategoryInfo.Category);

        session.Run("Get-TursoBranch -Directory $branches | Remove-TursoBranch -WhatIf", vars).NoErrors();
        Assert.Equal(2, Directory.GetFiles(dir["branches"], "*.db").Length);
        session.Run("Get-TursoBranch -Directory $branches | Remove-TursoBranch -Confirm:$false", vars).NoErrors();
        Assert.Empty(Directory.GetFiles(dir["branches"]));
        Assert.Equal(before, File.ReadAllBytes(db));
    }

    /// <summary>
    /// A writer in another process (inserts, updates, deletes, a schema change, its own checkpoints of every mode)
    /// while the archiver runs in a third process, which is killed with SIGKILL half-way and started again.
    /// Restores at many timestamps are consistent prefixes of the writer's transactions; nothing archived before the
    /// kill is lost.
    /// </summary>
    [SkippableFact]
    public void ArchiverKilledMidRunAndRestartedLosesNothingArchived()
    {
        Skip.If(OperatingSystem.IsWindows(), "SIGKILL");
        using var dir = new TempDir();
        string db = dir["app.db"];
        Peers.Sqlite3(db, "PRAGMA journal_mode=WAL; CREATE TABLE log(id INTEGER PRIMARY KEY, at TEXT); CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER); INSERT INTO acct SELECT value, 100 FROM generate_series(1, 50);");
        var sql = new System.Text.StringBuilder(".timeout 100\n");
        string[] modes = { "PASSIVE", "FULL", "RESTART", "TRUNCATE" };
        for (int i = 1; i <= 400; i++)
        {
            sql.Append($"BEGIN; INSERT INTO log(id, at) VALUES ({i}, strftime('%Y-%m-%dT%H:%M:%fZ','now')); UPDATE acct SET bal = bal - 1 WHERE id = {1 + i % 50}; UPDATE acct SET bal = bal + 1 WHERE id = {1 + (i * 7) % 50};");
            if (i % 25 == 0) sql.Append($" DELETE FROM acct WHERE id = 1000; INSERT INTO acct VALUES (1000, 0);");
            if (i == 200) sql.Append(" ALTER TABLE log ADD COLUMN note TEXT;");
            sql.Append(" COMMIT;\n");
            if (i % 50 == 0) sql.Append($"PRAGMA wal_checkpoint({modes[i / 50 % 4]});\n");
            sql.Append("SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 30000) SELECT x FROM c);\n");
        }
        Process StartArchiver() => Peers.StartPwsh($"Start-TursoWalArchive -Path '{db}' -Vault '{dir["vault"]}' -Duration '00:01:00' -SyncInterval '00:00:00.05'");
        var archiver = StartArchiver();
        // Wait for the archive to start (its first snapshot), not a fixed time: under a loaded CI machine pwsh
        // alone can take seconds to start.
        var started = System.Diagnostics.Stopwatch.StartNew();
        string generations = Path.Combine(dir["vault"], "wal", "app", "generations");
        while (!(Directory.Exists(generations) && Directory.EnumerateFiles(generations, "snapshot.json", SearchOption.AllDirectories).Any()))
        {
            if (archiver.HasExited) Assert.Fail("the archiver exited: " + archiver.StandardError.ReadToEnd());
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(90), "the archiver did not start within 90 s");
            Thread.Sleep(50);
        }
        Thread.Sleep(300);
        var writer = Peers.Sqlite3Session(db);
        var feed = Task.Run(() => { writer.StandardInput.Write(sql.ToString()); writer.StandardInput.Close(); });
        var drain = writer.StandardOutput.ReadToEndAsync();
        Thread.Sleep(1500);
        archiver.Kill(); // SIGKILL
        archiver.WaitForExit();
        var killedAt = DateTimeOffset.UtcNow;
        var archivedBeforeKill = session.Run("(Get-TursoRestorePoint -Vault $v -Database app).Latest", Vars(("v", dir["vault"]))).NoErrors().Output.Single().BaseObject;
        Thread.Sleep(500);
        archiver = StartArchiver();
        writer.WaitForExit(120_000);
        drain.Wait();
        // Let the restarted archiver catch up with the writer (it may still be starting on a loaded machine), then kill it.
        var writerDone = DateTimeOffset.UtcNow;
        var catchingUp = System.Diagnostics.Stopwatch.StartNew();
        string statePath = Path.Combine(dir["vault"], "wal", "app", "state.json");
        while (catchingUp.Elapsed < TimeSpan.FromSeconds(90))
        {
            // A sync that began after the writer finished has seen all of it (idle syncs save the state every 10 s).
            var state = TursoBackup.Engine.Wal.WalArchiveState.Load(statePath);
            if (state != null && state.LastSyncAt > writerDone) break;
            Assert.False(archiver.HasExited, "the restarted archiver exited");
            Thread.Sleep(200);
        }
        archiver.Kill(); // a second crash, at the end: what was archived stays restorable
        archiver.WaitForExit();

        var window = session.Run("Get-TursoRestorePoint -Vault $v -Database app", Vars(("v", dir["vault"]))).NoErrors().Single<RestoreWindow>();
        Assert.True(window.Segments > 2, $"{window.Segments} segments");
        var latest = window.Latest!.Value;
        // Everything archived before the kill is still restorable, with every row captured by then.
        var atKill = (DateTimeOffset)archivedBeforeKill;
        var k = session.Run("Restore-TursoPointInTime -Vault $v -Database app -Timestamp $t -Destination $d -Confirm:$false",
            Vars(("v", dir["vault"]), ("t", atKill), ("d", dir["at-kill.db"]))).NoErrors().Single<RestoreResult>();
        Assert.True(k.PointInTime >= atKill.AddMilliseconds(-1));
        int restores = 0;
        for (var t = window.Earliest!.Value; t <= latest; t = t.AddMilliseconds(300))
        {
            if (window.Gaps.Any(g => t > g.From && t < g.To)) continue;
            string target = dir[$"r{restores++}.db"];
            session.Run("Restore-TursoPointInTime -Vault $v -Database app -Timestamp $t -Destination $d -Confirm:$false",
                Vars(("v", dir["vault"]), ("t", t), ("d", target))).NoErrors();
            Assert.Equal("ok\n", Peers.Sqlite3(target, "PRAGMA integrity_check;"));
            // A consistent prefix: ids 1..n without holes, money conserved, no row stamped after the timestamp.
            var facts = Peers.Sqlite3(target, "SELECT count(*), coalesce(max(id), 0), (SELECT sum(bal) FROM acct WHERE id <= 50), coalesce(max(at), '') FROM log;").Trim().Split('|');
            Assert.Equal(facts[0], facts[1]);
            Assert.Equal("5000", facts[2]);
            if (facts[3].Length > 0) Assert.True(DateTimeOffset.Parse(facts[3]) <= t.AddMilliseconds(5), $"row at {facts[3]} restored for {t:O}");
        }
        Assert.True(restores > 3);
        // Nothing archived is lost: the end of the archive holds every one of the 400 transactions.
        session.Run("Restore-TursoPointInTime -Vault $v -Database app -Timestamp ([DateTimeOffset]::UtcNow) -Destination $d -Confirm:$false | Out-Null",
            Vars(("v", dir["vault"]), ("d", dir["at-end.db"]))).NoErrors();
        Assert.Equal("400|400", Peers.Sqlite3(dir["at-end.db"], "SELECT count(*), max(id) FROM log;").Trim());
    }
}
