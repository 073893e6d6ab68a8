using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace TursoBackup.Module.Tests;

/// <summary>
/// Test-Backup never throws for a bad backup or database: it returns Passed = $false with the reason, warns when it
/// cannot record the result, keeps its scratch folder owner-only and removes it even when stopped.
/// </summary>
public sealed class TestBackupSafetyTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public TestBackupSafetyTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    [SkippableTheory]
    [InlineData("Snapshot")]
    [InlineData("Dump")]
    public void ATruncatedGzipArtifactFailsItsChecksInsteadOfThrowing(string kind)
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]), ("kind", kind));
        var backup = session.Run("Backup-TursoDatabase -Path $db -Vault $vault -Compression Gzip -Kind $kind", vars).NoErrors().Single<BackupInfo>();
        byte[] artifact = File.ReadAllBytes(backup.Location);
        File.WriteAllBytes(backup.Location, artifact[..(artifact.Length / 2)]);

        var r = session.Run("Test-Backup -Vault $vault -Database shop", vars);
        r.NoErrors();
        var result = r.Single<BackupTestResult>();
        Assert.False(result.Passed);
        var checksum = result.Checks.Single(c => c.Name == "Checksum");
        Assert.False(checksum.Passed);
        Assert.Contains("damaged", checksum.Detail);
        Assert.Contains(dir["vault"], checksum.Detail);
        // A dump whose checksum differs is never loaded: nothing after the checksum can pass.
        if (kind == "Dump") Assert.All(result.Checks.Where(c => c.Name != "RestoreTime"), c => Assert.False(c.Passed));
        else Assert.False(result.Checks.Single(c => c.Name == "IntegrityCheck").Passed);
    }

    /// <summary>A copy of <paramref name="db"/> (rollback journal) taken while sqlite3 was half way through a write: the copy has a hot journal.</summary>
    private static string MakeHotJournal(string db, string copy)
    {
        using var p = Peers.Sqlite3Session(db);
        // A tiny cache: the changed pages spill into the database file while the journal holds the originals.
        p.StandardInput.WriteLine("PRAGMA cache_size=2; BEGIN IMMEDIATE; UPDATE items SET photo = randomblob(64); UPDATE customers SET note = 'half done'; SELECT 'ready';");
        p.StandardInput.Flush();
        Assert.Equal("ready", p.StandardOutput.ReadLine());
        Assert.True(File.Exists(db + "-journal"));
        File.Copy(db, copy);
        File.Copy(db + "-journal", copy + "-journal");
        p.StandardInput.WriteLine("ROLLBACK;");
        p.StandardInput.Close();
        p.WaitForExit();
        return copy;
    }

    [SkippableFact]
    public void ALiveDatabaseWithAHotJournalIsAFailedCheckNotAnException()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"], "delete");
        string hot = MakeHotJournal(db, dir["hot.db"]);
        byte[] before = File.ReadAllBytes(hot);
        byte[] journal = File.ReadAllBytes(hot + "-journal");

        var r = session.Run("Test-Backup -Path $p", Vars(("p", hot)));
        r.NoErrors();
        var result = r.Single<BackupTestResult>();
        Assert.False(result.Passed);
        var copy = result.Checks.Single(c => c.Name == "Copy");
        Assert.False(copy.Passed);
        Assert.Contains("hot journal", copy.Detail);
        Assert.Contains(hot + "-journal", copy.Detail);
        // Test-Backup only reads: the database and its journal are as they were.
        Assert.Equal(before, File.ReadAllBytes(hot));
        Assert.Equal(journal, File.ReadAllBytes(hot + "-journal"));
    }

    [SkippableFact]
    public void AReadOnlyVaultReturnsTheResultAndWarnsThatItWasNotRecorded()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "a read-only bind mount in a user and mount namespace (unshare)");
        Peers.Require("unshare");
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault", Vars(("db", db), ("vault", dir["vault"]))).NoErrors();
        string log = Path.Combine(dir["vault"], "databases", "shop", "verifications.jsonl");
        bool logBefore = File.Exists(log);

        // pwsh in its own mount namespace, where the vault is mounted read-only (EROFS, as on a read-only share).
        string vault = dir["vault"];
        string script = $"$r = Test-Backup -Vault '{vault}' -Database shop; 'PASSED=' + $r.Passed; 'CHECKS=' + $r.Checks.Count";
        string shell = $"mount --bind '{vault}' '{vault}' && mount -o remount,bind,ro '{vault}' && exec {Peers.PwshShellLine(script)}";
        var (code, stdout, stderr) = Peers.Run("unshare", new[] { "-rm", "/bin/sh", "-c", shell },
            env: new Dictionary<string, string> { ["NO_COLOR"] = "1" });
        Assert.True(code == 0, $"exit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.Contains("PASSED=True", stdout);
        string all = stdout + stderr;
        Assert.Contains("was not recorded", all);
        Assert.Contains(log, all);
        Assert.Contains("Read-only file system", all);
        Assert.DoesNotContain("Exception", stderr);
        Assert.Equal(logBefore, File.Exists(log));
    }

    [SkippableFact]
    public void AStoppedTestBackupLeavesNoScratchFolderAndItsScratchIsOwnerOnly()
    {
        Skip.If(OperatingSystem.IsWindows(), "checks the Unix mode of the scratch folder");
        using var dir = new TempDir();
        // A unique name: the scratch folder holds <database>.db, which tells it apart from other tests' folders.
        string name = "stopme" + Guid.NewGuid().ToString("N")[..8];
        string db = SampleDatabases.CreateLarge(dir[name + ".db"], 120);
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault -Kind Dump", Vars(("db", db), ("vault", dir["vault"]))).NoErrors();

        var iss = InitialSessionState.CreateDefault2();
        iss.ImportPSModule(new[] { session.ModulePath });
        using var runspace = RunspaceFactory.CreateRunspace(iss);
        runspace.Open();
        using var ps = PowerShell.Create(runspace);
        ps.AddCommand("Test-Backup").AddParameter("Vault", dir["vault"]).AddParameter("Database", name);
        var async = ps.BeginInvoke();

        string scratch = null;
        var until = DateTime.UtcNow.AddSeconds(60);
        while (scratch == null && DateTime.UtcNow < until && !async.IsCompleted)
        {
            scratch = Directory.GetDirectories(Path.GetTempPath(), "tursobackup-test-*")
                .FirstOrDefault(d => Directory.EnumerateFileSystemEntries(d, "*" + name + "*").Any());
            if (scratch == null) Thread.Sleep(10);
        }
        Assert.True(scratch != null, "the test finished or never made its scratch folder before it could be stopped");
        var mode = File.GetUnixFileMode(scratch);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, mode);
        Thread.Sleep(300); // well inside the load of the dump
        var watch = Stopwatch.StartNew();
        ps.Stop();
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"Stop took {watch.Elapsed}");
        Assert.True(async.IsCompleted);
        Assert.Throws<PipelineStoppedException>(() => ps.EndInvoke(async));
        Assert.False(Directory.Exists(scratch), $"the scratch folder '{scratch}' was left behind");
    }
}
