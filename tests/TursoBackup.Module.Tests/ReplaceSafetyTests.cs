using System.Collections.Concurrent;
using System.Diagnostics;
using System.Management.Automation;
using System.Text;

namespace TursoBackup.Module.Tests;

/// <summary>
/// Issue 11, the faults of replacing a database file (items 1, 13, 14, 15, 16): through the real cmdlets, on real files,
/// with the application played by a real sqlite3 process.
/// </summary>
public sealed class ReplaceSafetyTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public ReplaceSafetyTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    private static int Mode(string path) => (int)File.GetUnixFileMode(path) & 0xFFF;

    private static bool IsRoot => Environment.UserName == "root";

    /// <summary>
    /// Item 1: restore -Force over a database an application keeps writing (a sqlite3 process inserting every 10 ms on
    /// one open connection). Every commit the application saw acknowledged must be in the emergency backup (made
    /// before the swap) or in the restored database (made after it): none may be acknowledged and then lost.
    /// </summary>
    [SkippableTheory]
    [InlineData("wal")]
    [InlineData("delete")]
    public void RestoreOverADatabaseInUseLosesNoAcknowledgedCommit(string journalMode)
    {
        Peers.Require("sqlite3");
        using var dir = new TempDir();
        string db = dir["app.db"];
        Peers.Sqlite3(db, $"PRAGMA journal_mode={journalMode}; CREATE TABLE log(seq INTEGER PRIMARY KEY, at TEXT); CREATE TABLE data(x); INSERT INTO data VALUES ('from the backup');");
        var vars = Vars(("db", db), ("vault", dir["vault"]));
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors();

        using var app = Peers.Sqlite3Session(db);
        var acks = new ConcurrentBag<long>();
        var errors = new StringBuilder();
        app.OutputDataReceived += (_, e) => { if (e.Data != null && e.Data.StartsWith("ack ")) acks.Add(long.Parse(e.Data[4..])); };
        app.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (errors) errors.AppendLine(e.Data); };
        app.BeginOutputReadLine();
        app.BeginErrorReadLine();
        app.StandardInput.WriteLine(".timeout 60000");
        var stop = new ManualResetEventSlim();
        long sent = 0;
        var feeder = Task.Run(() =>
        {
            for (long i = 1; !stop.IsSet; i++)
            {
                // One autocommit INSERT, then the acknowledgement the application would act on.
                app.StandardInput.WriteLine($"INSERT INTO log(seq, at) VALUES ({i}, strftime('%f','now')); SELECT 'ack ' || {i};");
                app.StandardInput.Flush();
                sent = i;
                Thread.Sleep(10);
            }
        });
        Thread.Sleep(1500);
        var r = session.Run("Restore-TursoBackup -Vault $vault -Database app -Destination $db -Force -Confirm:$false", vars).NoErrors();
        Thread.Sleep(1500);
        stop.Set();
        feeder.Wait();
        app.StandardInput.WriteLine(".quit");
        app.StandardInput.Close();
        Assert.True(app.WaitForExit(60_000), "the application did not finish");
        app.WaitForExit();

        var result = r.Single<RestoreResult>();
        Assert.True(result.ReplacedInPlace);
        Assert.NotNull(result.EmergencyBackup);
        session.Run("Get-TursoBackup -Vault $vault -Id $id | Restore-TursoBackup -Destination $t",
            Vars(("vault", dir["vault"]), ("id", result.EmergencyBackup.Id), ("t", dir["emergency.db"]))).NoErrors();
        var before = Seqs(dir["emergency.db"]);
        var after = Seqs(db);
        var acknowledged = acks.ToHashSet();
        Assert.True(before.Count > 10 && after.Count > 10, $"the restore must fall in the middle of the writes: {before.Count} before, {after.Count} after, {acknowledged.Count} acknowledged. {errors}");
        var lost = acknowledged.Where(s => !before.Contains(s) && !after.Contains(s)).OrderBy(s => s).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledged.Count} acknowledged commits are in neither the emergency backup ({before.Count}) nor the restored database ({after.Count}): {string.Join(",", lost.Take(20))}");
        Assert.True(before.Max() < after.Min(), "every commit before the swap is in the emergency backup, every later one in the restored database");
        Assert.Equal("from the backup\n", Peers.Sqlite3(db, "SELECT x FROM data;"));
        Assert.Equal("ok\n", Peers.Sqlite3(db, "PRAGMA integrity_check;"));
    }

    private static HashSet<long> Seqs(string db) =>
        Peers.Sqlite3(db, "SELECT seq FROM log;").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToHashSet();

    /// <summary>Item 1: a writer that keeps its transaction open makes the restore fail, naming the lock, with nothing changed.</summary>
    [SkippableFact]
    public void ALongWriteTransactionMakesTheRestoreFailClearlyWithNothingChanged()
    {
        Peers.Require("sqlite3");
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]));
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors();
        Peers.Sqlite3(db, "DELETE FROM items;");
        using var app = Peers.Sqlite3Session(db);
        app.StandardInput.WriteLine("BEGIN IMMEDIATE; INSERT INTO customers(id, name) VALUES (9999, 'pending'); SELECT 'locked';");
        app.StandardInput.Flush();
        Assert.Equal("locked", app.StandardOutput.ReadLine());
        try
        {
            var r = session.Run("$PSDefaultParameterValues = @{}; Restore-TursoBackup -Vault $vault -Database shop -Destination $db -Force -Confirm:$false", vars);
            var error = Assert.Single(r.Errors);
            Assert.Equal(ErrorCategory.ResourceBusy, error.CategoryInfo.Category);
            Assert.Contains("lock", error.Exception.Message);
            Assert.Contains("Nothing was changed", error.Exception.Message);
        }
        finally
        {
            app.StandardInput.WriteLine("COMMIT;");
            app.StandardInput.Close();
            app.WaitForExit();
        }
        Assert.Equal("0\n", Peers.Sqlite3(db, "SELECT count(*) FROM items;"));
        Assert.Equal("pending\n", Peers.Sqlite3(db, "SELECT name FROM customers WHERE id = 9999;"));
        Assert.Empty(Directory.GetFiles(dir.Path, ".shop.db.*partial*"));
    }

    /// <summary>Item 13: a restore killed mid-write leaves an owner-only partial, which the next restore removes (its owner's lock is gone).</summary>
    [SkippableFact]
    public void AKilledRestoreLeavesAnOwnerOnlyPartialThatTheNextRunRemoves()
    {
        Skip.If(OperatingSystem.IsWindows(), "kill -9 and Unix modes");
        Peers.Require("sqlite3");
        using var dir = new TempDir();
        string big = SampleDatabases.CreateLarge(dir["big.db"], 300);
        var vars = Vars(("db", big), ("vault", dir["vault"]), ("dest", dir["restored.db"]));
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault -Compression None", vars).NoErrors();
        using (var restore = Peers.StartPwsh($"Restore-TursoBackup -Vault '{dir["vault"]}' -Database big -Destination '{dir["restored.db"]}'"))
        {
            string partial = null;
            var until = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < until && !restore.HasExited)
            {
                partial = Directory.GetFiles(dir.Path, ".restored.db.restore-*.partial").FirstOrDefault();
                if (partial != null && new FileInfo(partial).Length > 1 << 20) break;
                Thread.Sleep(5);
            }
            Assert.False(restore.HasExited, "the restore finished before it could be killed");
            Assert.NotNull(partial);
            Assert.Equal(Convert.ToInt32("600", 8), Mode(partial)); // a partial holds a whole database: owner-only while it is written
            restore.Kill(entireProcessTree: true);
            restore.WaitForExit();
        }
        Assert.NotEmpty(Directory.GetFiles(dir.Path, ".restored.db.*.partial"));
        Assert.False(File.Exists(dir["restored.db"]));

        session.Run("Restore-TursoBackup -Vault $vault -Database big -Destination $dest", vars).NoErrors();
        Assert.Empty(Directory.GetFiles(dir.Path, ".restored.db.*"));
        Assert.Equal(Convert.ToInt32("600", 8), Mode(dir["restored.db"]));
    }

    /// <summary>Item 13: a partial whose owner is alive (its lock held by another process) is never removed.</summary>
    [SkippableFact]
    public void APartialWhoseOwnerIsAliveIsKept()
    {
        Skip.If(OperatingSystem.IsWindows(), "flock(1)");
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]), ("dest", dir["copy.db"]));
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors();
        string partial = dir[".copy.db.restore-0000live.partial"];
        File.WriteAllText(partial, "another host's restore in progress");
        File.WriteAllText(partial + ".lock", "");
        using var owner = Peers.HoldLock(partial + ".lock");
        try
        {
            session.Run("Restore-TursoBackup -Vault $vault -Database shop -Destination $dest", vars).NoErrors();
            Assert.Equal("another host's restore in progress", File.ReadAllText(partial));
        }
        finally
        {
            Peers.Kill(owner);
        }
    }

    /// <summary>Item 14: new files are 0600 (or -Mode); a replaced database keeps its mode, owner and group.</summary>
    [SkippableFact]
    public void RestoresKeepTheReplacedFilesModeAndOwnerAndCreateNewFilesOwnerOnly()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix modes");
        Peers.Require("sqlite3");
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["app.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]), ("new", dir["new.db"]), ("shared", dir["shared.db"]));
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors();

        session.Run("Restore-TursoBackup -Vault $vault -Database app -Destination $new", vars).NoErrors();
        Assert.Equal(Convert.ToInt32("600", 8), Mode(dir["new.db"]));
        session.Run("Restore-TursoBackup -Vault $vault -Database app -Destination $shared -Mode 0640", vars).NoErrors();
        Assert.Equal(Convert.ToInt32("640", 8), Mode(dir["shared.db"]));
        var bad = session.Run("Restore-TursoBackup -Vault $vault -Database app -Destination $new -Force -Mode rw -Confirm:$false", vars);
        Assert.Equal(ErrorCategory.InvalidArgument, Assert.Single(bad.Errors).CategoryInfo.Category);

        File.SetUnixFileMode(db, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        if (IsRoot) Peers.Run("chown", new[] { "4242:4243", db });
        long inode = Inode(db);
        session.Run("Restore-TursoBackup -Vault $vault -Database app -Destination $db -Force -Confirm:$false", vars).NoErrors();
        Assert.Equal(Convert.ToInt32("600", 8), Mode(db));
        Assert.Equal(inode, Inode(db));
        if (IsRoot) Assert.Equal("4242:4243", Owner(db));
    }

    private static long Inode(string path) => long.Parse(Peers.Run("stat", new[] { "-c", "%i", path }).Stdout.Trim());

    private static string Owner(string path) => Peers.Run("stat", new[] { "-c", "%u:%g", path }).Stdout.Trim();

    /// <summary>Item 15: a destination that cannot be backed up (not a database, empty, hot journal) is kept aside, not lost.</summary>
    [SkippableTheory]
    [InlineData("not-a-database")]
    [InlineData("empty")]
    [InlineData("hot-journal")]
    public void ADamagedDestinationIsKeptAsideAndReplaced(string damage)
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix modes, kill -9");
        Peers.Require("sqlite3");
        using var dir = new TempDir();
        string source = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", source), ("vault", dir["vault"]), ("dest", dir["app.db"]));
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors();
        string dest = dir["app.db"];
        byte[] original;
        switch (damage)
        {
            case "not-a-database":
                File.WriteAllText(dest, "this is a text file, not a database");
                break;
            case "empty":
                File.WriteAllBytes(dest, Array.Empty<byte>());
                break;
            default:
                MakeHotJournal(dest);
                Assert.True(new FileInfo(dest + "-journal").Length > 0, "the crashed writer left a journal");
                break;
        }
        original = File.ReadAllBytes(dest);
        File.SetUnixFileMode(dest, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        if (IsRoot) Peers.Run("chown", new[] { "4242:4243", dest });

        var r = session.Run("Restore-TursoBackup -Vault $vault -Database shop -Destination $dest -Force -Confirm:$false -WarningVariable w; $w", vars).NoErrors();
        var result = r.Single<RestoreResult>();
        Assert.Equal(Peers.TableContents(source), Peers.TableContents(dest));
        Assert.Equal(Convert.ToInt32("640", 8), Mode(dest));
        if (IsRoot) Assert.Equal("4242:4243", Owner(dest));
        Assert.False(File.Exists(dest + "-journal"));
        if (damage == "empty")
        {
            Assert.Null(result.ReplacedFileKeptAt); // nothing to keep
            return;
        }
        Assert.NotNull(result.ReplacedFileKeptAt);
        Assert.StartsWith(dest + ".replaced-", result.ReplacedFileKeptAt);
        Assert.Equal(original, File.ReadAllBytes(result.ReplacedFileKeptAt));
        Assert.Contains(r.Output.Select(o => o.BaseObject).OfType<WarningRecord>(), w => w.Message.Contains(result.ReplacedFileKeptAt));
        if (damage == "hot-journal")
        {
            // The journal went with it, so sqlite3 still recovers the file kept aside.
            Assert.True(File.Exists(result.ReplacedFileKeptAt + "-journal"));
            Assert.Equal("ok\n", Peers.Sqlite3(result.ReplacedFileKeptAt, "PRAGMA integrity_check;"));
            Assert.Equal("500\n", Peers.Sqlite3(result.ReplacedFileKeptAt, "SELECT count(*) FROM t WHERE x = 'before';"));
        }
    }

    /// <summary>A rollback-journal database whose writer was killed mid-transaction (pages already spilled): a hot journal.</summary>
    private static void MakeHotJournal(string db)
    {
        Peers.Sqlite3(db, "PRAGMA journal_mode=DELETE; CREATE TABLE t(x, pad); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500) INSERT INTO t SELECT 'before', randomblob(2000) FROM n;");
        using var writer = Peers.Sqlite3Session(db);
        writer.StandardInput.WriteLine("PRAGMA cache_size=2; BEGIN; UPDATE t SET x = 'after', pad = randomblob(2000); SELECT 'spilled';");
        writer.StandardInput.Flush();
        Assert.Equal("spilled", writer.StandardOutput.ReadLine());
        writer.Kill(true);
        writer.WaitForExit();
    }

    /// <summary>Item 16: a full destination disk names that disk (not the vault's), and the destination is unchanged.</summary>
    [SkippableFact]
    public void AFullDestinationDiskIsNamedAsSuch()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "tmpfs");
        string unshare = Peers.Require("unshare");
        using var dir = new TempDir();
        string db = SampleDatabases.CreateLarge(dir["big.db"], 12);
        var vars = Vars(("db", db), ("vault", dir["vault"]), ("sql", dir["big.sql"]));
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault; Export-TursoDatabase -Path $db -OutFile $sql", vars).NoErrors();
        Directory.CreateDirectory(dir["small-disk"]);
        string small = dir["small-disk"];
        // pwsh's exit code tells only whether its last statement failed: the failures are counted with -ErrorVariable.
        string script = $"mount -t tmpfs -o size=6m tmpfs '{small}' && " + Peers.PwshShellLine(
                        $"Restore-TursoBackup -Vault '{dir["vault"]}' -Database big -Destination '{small}/big.db' -ErrorVariable +failed; " +
                        $"Import-TursoDatabase -InFile '{dir["big.sql"]}' -Path '{small}/imported.db' -ErrorVariable +failed; " +
                        $"'failed: ' + $failed.Count; 'left: ' + @([System.IO.Directory]::GetFileSystemEntries('{small}')).Count");
        var (code, stdout, stderr) = Peers.Run(unshare, new[] { "-rm", "sh", "-c", script }, env: new Dictionary<string, string> { ["NO_COLOR"] = "1" });
        Assert.True(code == 0, $"exit {code}: {stdout} {stderr}");
        Assert.Contains("failed: 2", stdout);
        Assert.Contains($"The disk that holds '{small}/big.db' is full", stderr);
        Assert.Contains($"The disk that holds '{small}/imported.db' is full", stderr);
        Assert.DoesNotContain("vault's disk", stderr);
        Assert.DoesNotContain(".partial", stderr);
        Assert.Contains("left: 0", stdout);
    }

    /// <summary>Item 16: a damaged snapshot's message names the real vault (no placeholder); a '.hidden.db' can be replaced.</summary>
    [SkippableFact]
    public void MessagesNameTheRealVaultAndHiddenFilesCanBeReplaced()
    {
        Peers.Require("sqlite3");
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir[".hidden.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]), ("dest", dir["restored.db"]));
        var backup = session.Run("Backup-TursoDatabase -Path $db -Vault $vault -Name hidden -Compression None", vars).NoErrors().Single<BackupInfo>();

        var replaced = session.Run("Restore-TursoBackup -Vault $vault -Database hidden -Destination $db -Force -Confirm:$false", vars).NoErrors().Single<RestoreResult>();
        Assert.Equal("hidden", replaced.EmergencyBackup.Database);

        using (var fs = new FileStream(backup.Location, FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = fs.Length / 2;
            int b = fs.ReadByte();
            fs.Position = fs.Length / 2;
            fs.WriteByte((byte)(b ^ 0xff));
        }
        var r = session.Run("Get-TursoBackup -Vault $vault -Id $id | Restore-TursoBackup -Destination $dest", Vars(("vault", dir["vault"]), ("id", backup.Id), ("dest", dir["restored.db"])));
        string message = Assert.Single(r.Errors).Exception.Message;
        Assert.Contains("damaged", message);
        Assert.Contains($"'{dir["vault"]}'", message);
        Assert.DoesNotContain("<vault>", message);
        Assert.False(File.Exists(dir["restored.db"]));

        // A name that is no vault folder: the advice names no parameter the command lacks (Get-TursoBackup has no -Name).
        var odd = session.Run("Get-TursoBackup -Vault $vault -Database '.hidden'", vars);
        string oddMessage = Assert.Single(odd.Errors).Exception.Message;
        Assert.DoesNotContain("-Name", oddMessage);
        Assert.Contains("Get-TursoBackup", oddMessage);
    }
}
