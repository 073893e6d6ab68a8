using System.Diagnostics;
using System.Management.Automation;

namespace TursoBackup.Module.Tests;

/// <summary>Bad input gives a clear error with the right category, and nothing is written.</summary>
public sealed class BadInputTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public BadInputTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    [Fact]
    public void AMissingPathIsObjectNotFoundAndWritesNothing()
    {
        using var dir = new TempDir();
        var r = session.Run("Backup-TursoDatabase -Path $p -Vault $vault", Vars(("p", dir["missing.db"]), ("vault", dir["vault"])));
        var error = Assert.Single(r.Errors);
        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
        Assert.Contains("does not exist", error.Exception.Message);
        Assert.Empty(r.Output);
        Assert.False(Directory.Exists(dir["vault"]));
    }

    [SkippableFact]
    public void OneMissingDatabaseDoesNotStopTheOthers()
    {
        using var dir = new TempDir();
        string good = SampleDatabases.CreateShop(dir["good.db"]);
        var r = session.Run("$p1, $p2 | Backup-TursoDatabase -Vault $vault", Vars(("p1", dir["missing.db"]), ("p2", good), ("vault", dir["vault"])));
        Assert.Equal(ErrorCategory.ObjectNotFound, Assert.Single(r.Errors).CategoryInfo.Category);
        Assert.Equal("good", r.Single<BackupInfo>().Database);
    }

    [Theory]
    [InlineData("text")]
    [InlineData("empty")]
    [InlineData("truncated-header")]
    public void AFileThatIsNotSqliteIsInvalidData(string kind)
    {
        using var dir = new TempDir();
        string path = dir["notes.db"];
        switch (kind)
        {
            case "text": File.WriteAllText(path, "these are my notes, not a database\n"); break;
            case "empty": File.WriteAllBytes(path, Array.Empty<byte>()); break;
            default: File.WriteAllText(path, "SQLite for"); break;
        }
        var r = session.Run("Backup-TursoDatabase -Path $p -Vault $vault", Vars(("p", path), ("vault", dir["vault"])));
        var error = Assert.Single(r.Errors);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Contains("not a SQLite database", error.Exception.Message);
        Assert.False(Directory.Exists(dir["vault"]));
    }

    [SkippableFact]
    public void AnUnwritableVaultIsPermissionDeniedAndWritesNothing()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        // Root ignores file modes, so use places no account can write: under a regular file, and under /proc.
        File.WriteAllText(dir["a-file"], "x");
        var vaults = new List<string> { Path.Combine(dir["a-file"], "vault") };
        if (OperatingSystem.IsLinux()) vaults.Add("/proc/tursobackup-vault-" + Guid.NewGuid().ToString("N")[..6]);
        if (Environment.UserName != "root" && !OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(dir["readonly"]);
            File.SetUnixFileMode(dir["readonly"], UnixFileMode.UserRead | UnixFileMode.UserExecute);
            vaults.Add(Path.Combine(dir["readonly"], "vault"));
        }
        foreach (var vault in vaults)
        {
            var r = session.Run("Backup-TursoDatabase -Path $p -Vault $vault", Vars(("p", db), ("vault", vault)));
            var error = Assert.Single(r.Errors);
            Assert.Equal(ErrorCategory.PermissionDenied, error.CategoryInfo.Category);
            Assert.Contains("not writable", error.Exception.Message);
            Assert.False(Directory.Exists(vault));
        }
    }

    [Fact]
    public void AVaultThatIsAFileOrMissingIsAClearError()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["file"], "x");
        var missing = session.Run("Get-TursoBackup -Vault $v", Vars(("v", dir["nowhere"])));
        Assert.Equal(ErrorCategory.ObjectNotFound, Assert.Single(missing.Errors).CategoryInfo.Category);
        var file = session.Run("Get-TursoBackup -Vault $v", Vars(("v", dir["file"])));
        Assert.Equal(ErrorCategory.InvalidArgument, Assert.Single(file.Errors).CategoryInfo.Category);
        Assert.False(Directory.Exists(dir["nowhere"]));
    }

    [SkippableFact]
    public void AnUnknownBackupIdOrDatabaseIsObjectNotFound()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("p", db), ("vault", dir["vault"]), ("t", dir["x.db"]));
        session.Run("Backup-TursoDatabase -Path $p -Vault $vault", vars).NoErrors();
        foreach (var script in new[]
        {
            "Get-TursoBackup -Vault $vault -Id 20990101T000000.000Z-000000",
            "Get-TursoBackup -Vault $vault -Database nosuch",
            "Restore-TursoBackup -Vault $vault -Database nosuch -Destination $t -Confirm:$false",
            "Test-Backup -Vault $vault -Database shop -Id nosuch",
        })
        {
            var r = session.Run(script, vars);
            Assert.True(r.Errors.Count == 1, script);
            Assert.Equal(ErrorCategory.ObjectNotFound, r.Errors[0].CategoryInfo.Category);
            Assert.Contains("Get-TursoBackup -Vault", r.Errors[0].Exception.Message);
        }
        Assert.False(File.Exists(dir["x.db"]));
    }

    [SkippableFact]
    public void ExportToAnExistingFileNeedsForceAndRetentionNeedsAVault()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        File.WriteAllText(dir["taken.sql"], "precious");
        var r = session.Run("Export-TursoDatabase -Path $p -OutFile $o", Vars(("p", db), ("o", dir["taken.sql"])));
        Assert.Equal(ErrorCategory.ResourceExists, Assert.Single(r.Errors).CategoryInfo.Category);
        Assert.Equal("precious", File.ReadAllText(dir["taken.sql"]));
        session.Run("Export-TursoDatabase -Path $p -OutFile $o -Force -Confirm:$false", Vars(("p", db), ("o", dir["taken.sql"]))).NoErrors();
        Assert.StartsWith("PRAGMA foreign_keys=OFF;", File.ReadAllText(dir["taken.sql"]));

        var missing = session.Run("Invoke-TursoBackupRetention -Vault $v -Confirm:$false", Vars(("v", dir["no-vault"])));
        Assert.Equal(ErrorCategory.ObjectNotFound, Assert.Single(missing.Errors).CategoryInfo.Category);
        var notDb = session.Run("Export-TursoDatabase -Path $p -OutFile $o", Vars(("p", dir["taken.sql"]), ("o", dir["x.sql"])));
        Assert.Equal(ErrorCategory.InvalidData, Assert.Single(notDb.Errors).CategoryInfo.Category);
        Assert.False(File.Exists(dir["x.sql"]));
        var noDump = session.Run("Import-TursoDatabase -InFile $i -Path $p", Vars(("i", dir["nothing.sql"]), ("p", dir["y.db"])));
        Assert.Equal(ErrorCategory.ObjectNotFound, Assert.Single(noDump.Errors).CategoryInfo.Category);
        Assert.False(File.Exists(dir["y.db"]));
    }

    [SkippableFact]
    public void ACorruptManifestIsReportedAndSkipped()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("p", db), ("vault", dir["vault"]));
        var first = session.Run("Backup-TursoDatabase -Path $p -Vault $vault", vars).NoErrors().Single<BackupInfo>();
        session.Run("Backup-TursoDatabase -Path $p -Vault $vault", vars).NoErrors();
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(first.Location)!, "manifest.json"), "{ not json");
        var r = session.Run("Get-TursoBackup -Vault $vault", vars);
        Assert.Equal(ErrorCategory.InvalidData, Assert.Single(r.Errors).CategoryInfo.Category);
        Assert.Single(r.All<BackupInfo>());
    }

    [SkippableFact]
    public void ABackupKilledMidwayLeavesNothingListedAndNoStrayFilesAfterTheNextRun()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateLarge(dir["large.db"], 300);
        string vault = dir["vault"];
        using (var p = Peers.StartPwsh($"Backup-TursoDatabase -Path '{db}' -Vault '{vault}' -Compression Gzip"))
        {
            // Kill it once it is writing into its staging folder.
            var watch = Stopwatch.StartNew();
            string staging = Path.Combine(vault, ".staging");
            while (watch.Elapsed < TimeSpan.FromSeconds(60) && !p.HasExited)
            {
                if (Directory.Exists(staging) && Directory.GetFiles(staging, "*", SearchOption.AllDirectories).Any(f => new FileInfo(f).Length > 1_000_000)) break;
                Thread.Sleep(5);
            }
            Assert.False(p.HasExited, "the backup finished before it could be killed; make the database larger");
            p.Kill(true);
            p.WaitForExit();
        }
        Assert.NotEmpty(Directory.GetFileSystemEntries(Path.Combine(vault, ".staging")));
        var listed = session.Run("Get-TursoBackup -Vault $vault", Vars(("vault", vault))).NoErrors();
        Assert.Empty(listed.Output);

        string small = SampleDatabases.CreateShop(dir["small.db"]);
        session.Run("Backup-TursoDatabase -Path $p -Vault $vault", Vars(("p", small), ("vault", vault))).NoErrors();
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(vault, ".staging")));
        Assert.Equal("small", session.Run("Get-TursoBackup -Vault $vault", Vars(("vault", vault))).NoErrors().Single<BackupInfo>().Database);
    }
}
