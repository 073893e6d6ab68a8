using System.Management.Automation;

namespace TursoBackup.Module.Tests;

/// <summary>
/// Issue 12: unattended runs never prompt where nothing is destroyed, an empty listing is silence, the archiver's
/// permanent failures are one error, -LiteralPath beside -Path, a typed -Timestamp, and a stable error ID per failure.
/// </summary>
public sealed class CmdletIdiomTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public CmdletIdiomTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    private static string Id(ErrorRecord e) => e.FullyQualifiedErrorId.Split(',')[0];

    /// <summary>Issue 12 #2: a filter that matches nothing says nothing; a database without any backup is an error.</summary>
    [SkippableFact]
    public void AFilterThatMatchesNothingIsSilenceAndADatabaseWithoutBackupsIsAnError()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]));
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors();

        var none = session.Run("Get-TursoBackup -Vault $vault -Database shop -Before ([DateTimeOffset]::UtcNow.AddDays(-90)) -Kind Dump", vars).NoErrors();
        Assert.Empty(none.Output);
        var noTag = session.Run("Get-TursoBackup -Vault $vault -Database shop -Tag nosuch -Latest", vars).NoErrors();
        Assert.Empty(noTag.Output);

        var missing = session.Run("Get-TursoBackup -Vault $vault -Database nosuch", vars);
        var error = Assert.Single(missing.Errors);
        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
        Assert.Equal("BackupNotFound", Id(error));
        Assert.Contains("has no backups of 'nosuch'", error.Exception.Message);

        // Several names: the one without backups is named, the other one is listed.
        var mixed = session.Run("Get-TursoBackup -Vault $vault -Database shop, nosuch", vars);
        Assert.Equal("shop", mixed.Single<BackupInfo>().Database);
        Assert.Contains("'nosuch'", Assert.Single(mixed.Errors).Exception.Message);
        Assert.DoesNotContain("'shop'", mixed.Errors[0].Exception.Message);

        var noId = session.Run("Get-TursoBackup -Vault $vault -Id 20000101T000000Z-none", vars);
        Assert.Equal("BackupNotFound", Id(Assert.Single(noId.Errors)));
    }

    /// <summary>Issue 12 #3: Start-TursoWalArchive on a rollback-journal database: one error, no status object.</summary>
    [SkippableFact]
    public void StartWalArchiveOnANonWalDatabaseIsOneErrorAndNoObject()
    {
        using var dir = new TempDir();
        string db = dir["rollback.db"];
        Peers.Sqlite3(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
        var r = session.Run("Start-TursoWalArchive -Path $db -Vault $vault -Duration '00:00:08' -SyncInterval '00:00:00.1'",
            Vars(("db", db), ("vault", dir["vault"])));
        var errors = r.Errors.ToList();
        if (r.Terminating is IContainsErrorRecord t) errors.Add(t.ErrorRecord);
        var error = Assert.Single(errors);
        Assert.Equal(ErrorCategory.NotEnabled, error.CategoryInfo.Category);
        Assert.Equal("NotWalMode", Id(error));
        Assert.Contains("not in WAL mode", error.Exception.Message);
        Assert.Empty(r.Output);
    }

    /// <summary>Issue 12 #4: -LiteralPath never expands, -Path expands through the provider, FileInfo still pipes.</summary>
    [SkippableFact]
    public void LiteralPathNeverExpandsAndPathExpandsThroughTheProvider()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["odd"]);
        string odd = SampleDatabases.CreateShop(Path.Combine(dir["odd"], "shop[1].db"), "delete"); // the folder holds only this file
        SampleDatabases.CreateShop(dir["a.db"]);
        SampleDatabases.CreateShop(dir["b.db"]);
        var vars = Vars(("odd", odd), ("oddDir", dir["odd"]), ("dir", dir.Path), ("vault", dir["vault"]), ("out", dir["odd.sql"]),
            ("any", dir["*.db"]), ("one", dir["?.db"]), ("a", dir["a.db"]), ("nomatch", dir["*.nomatch"]));

        // A name with wildcard characters: -LiteralPath takes it as it is (Export, Test-Backup, Backup with -Name).
        session.Run("Export-TursoDatabase -LiteralPath $odd -OutFile $out", vars).NoErrors();
        Assert.StartsWith("PRAGMA foreign_keys=OFF;", File.ReadAllText(dir["odd.sql"]));
        Assert.True(session.Run("Test-Backup -LiteralPath $odd", vars).NoErrors().Single<BackupTestResult>().Passed);
        Assert.Equal("odd", session.Run("Backup-TursoDatabase -LiteralPath $odd -Vault $vault -Name odd", vars).NoErrors().Single<BackupInfo>().Database);

        // FileInfo binds -LiteralPath by FullName (Get-ChildItem's also by PSPath): the odd name works through the pipeline too
        // (the real pwsh suite tests/Pester/Unattended.Tests.ps1 pipes Get-ChildItem itself).
        File.Delete(dir["odd.sql"]);
        session.Run("[IO.DirectoryInfo]::new($oddDir).GetFiles() | Export-TursoDatabase -OutFile $out", vars).NoErrors();
        Assert.True(File.Exists(dir["odd.sql"]));
        var piped = session.Run("[IO.DirectoryInfo]::new($dir).GetFiles('*.db') | Backup-TursoDatabase -Vault $vault", vars).NoErrors().All<BackupInfo>();
        Assert.Equal(new[] { "a", "b" }, piped.Select(b => b.Database).OrderBy(n => n));
        // A string from the pipeline is still -Path (by value), and an object's Path property (PathInfo) too.
        Assert.Single(session.Run("$a | Backup-TursoDatabase -Vault $vault", vars).NoErrors().All<BackupInfo>());
        Assert.Equal(2, session.Run("$ExecutionContext.SessionState.Path.GetResolvedPSPathFromPSPath($any) | Backup-TursoDatabase -Vault $vault", vars).NoErrors().All<BackupInfo>().Count);

        // -Path expands wildcards; a wildcard that matches nothing is an ItemNotFound error, not silence.
        Assert.Equal(2, session.Run("Backup-TursoDatabase -Path $one -Vault $vault", vars).NoErrors().All<BackupInfo>().Count);
        var nothing = session.Run("Backup-TursoDatabase -Path $nomatch -Vault $vault", vars);
        var miss = Assert.Single(nothing.Errors);
        Assert.Equal(ErrorCategory.ObjectNotFound, miss.CategoryInfo.Category);
        Assert.Equal("ItemNotFound", Id(miss));
        // -LiteralPath never expands: '?.db' is a file name that does not exist.
        var literal = session.Run("Backup-TursoDatabase -LiteralPath $one -Vault $vault", vars);
        var notThere = Assert.Single(literal.Errors);
        Assert.Equal("PathNotFound", Id(notThere));
        Assert.Contains("?.db", notThere.Exception.Message);
        Assert.Empty(literal.Output);

        // Start-TursoWalArchive and New-TursoBranch take one database: a wildcard matching several is an error.
        var several = session.Run("New-TursoBranch -Path $one -Destination $oddDir", vars);
        Assert.Equal(ErrorCategory.InvalidArgument, Assert.Single(several.Errors.Concat(several.Terminating is IContainsErrorRecord t ? new[] { t.ErrorRecord } : new ErrorRecord[0])).CategoryInfo.Category);
        var branch = session.Run("New-TursoBranch -LiteralPath $odd -Name copy", vars).NoErrors().Single<TursoBranch>();
        Assert.Equal(Path.Combine(dir["odd"], "copy.db"), branch.Location);
    }

    /// <summary>Issue 12 #4: -Timestamp is a DateTimeOffset made by one transformation; each failure has its own error ID.</summary>
    [SkippableFact]
    public void TimestampIsTypedAndEachFailureHasItsOwnErrorId()
    {
        foreach (var (command, parameter) in new[] { ("Restore-TursoPointInTime", "Timestamp"), ("New-TursoBranch", "Timestamp"), ("Test-Backup", "Timestamp") })
        {
            var type = session.Run($"(Get-Command {command}).Parameters['{parameter}'].ParameterType", null).NoErrors().Single<Type>();
            Assert.Equal(typeof(DateTimeOffset), type);
        }
        using var dir = new TempDir();
        string db = dir["t.db"];
        Peers.Sqlite3(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x);");
        var vars = Vars(("db", db), ("vault", dir["vault"]), ("d", dir["out.db"]));
        session.Run("Sync-TursoWalArchive -Path $db -Vault $vault", vars).NoErrors();
        Thread.Sleep(1100); // ISO text to the second below must not fall before the archive's first capture

        string Terminating(string ts)
        {
            var r = session.Run("try { Restore-TursoPointInTime -Vault $vault -Database t -Timestamp " + ts + " -Destination $d -ErrorAction SilentlyContinue; 'no error' } catch { $_.FullyQualifiedErrorId + '|' + $_.Exception.Message + '|' + $_.Exception.InnerException.InnerException.ErrorId }", vars);
            return r.Output.Single().ToString();
        }
        Assert.StartsWith("TimestampInFuture,TursoBackup.Cmdlets.RestoreTursoPointInTimeCommand|", Terminating("'2099-01-01T00:00:00Z'"));
        Assert.StartsWith("TimestampTooOld,TursoBackup.Cmdlets.RestoreTursoPointInTimeCommand|Timestamp too old", Terminating("'2001-01-01'"));
        // A malformed timestamp fails parameter binding (PowerShell's own ID), with our message; the cause carries TimestampFormat.
        string format = Terminating("'yesterday at noon'");
        Assert.StartsWith("ParameterArgumentTransformationError,", format);
        Assert.Contains("Invalid timestamp format: use ISO 8601 such as 2024-01-15T10:30:00Z", format);
        Assert.EndsWith("|TimestampFormat", format);
        Assert.False(File.Exists(dir["out.db"]));

        // Every accepted form: DateTimeOffset, DateTime (local and UTC), ISO text with an offset, a date alone (start of day UTC).
        foreach (var ts in new[] { "([DateTimeOffset]::UtcNow)", "([DateTime]::Now)", "([DateTime]::UtcNow)", "([DateTimeOffset]::UtcNow.ToString('yyyy-MM-ddTHH:mm:sszzz'))" })
        {
            File.Delete(dir["out.db"]);
            session.Run("Restore-TursoPointInTime -Vault $vault -Database t -Timestamp " + ts + " -Destination $d", vars).NoErrors();
            Assert.True(File.Exists(dir["out.db"]), ts);
        }
    }

    /// <summary>Issue 12 #4: a few more stable IDs (the prefix of FullyQualifiedErrorId), and the overwrite rule's errors.</summary>
    [SkippableFact]
    public void FailuresHaveStableErrorIds()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]), ("d", dir["restored.db"]), ("nowhere", dir["nowhere"]), ("out", dir["shop.sql"]));
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors();
        session.Run("Restore-TursoBackup -Vault $vault -Database shop -Destination $d", vars).NoErrors();
        string before = Peers.Sqlite3(dir["restored.db"], "SELECT count(*) FROM orders;");

        Assert.Equal("DatabaseExists", Id(Assert.Single(session.Run("Restore-TursoBackup -Vault $vault -Database shop -Destination $d", vars).Errors)));
        // The hosted runspace cannot prompt: replacing needs -Confirm:$false, says so, and writes nothing.
        var ask = Assert.Single(session.Run("Restore-TursoBackup -Vault $vault -Database shop -Destination $d -Force", vars).Errors);
        Assert.Equal("ConfirmationRequired", Id(ask));
        Assert.Contains("-Confirm:$false", ask.Exception.Message);
        Assert.Equal(before, Peers.Sqlite3(dir["restored.db"], "SELECT count(*) FROM orders;"));
        Assert.Equal("BackupNotFound", Id(Assert.Single(session.Run("Restore-TursoBackup -Vault $vault -Database nosuch -Destination $d", vars).Errors)));
        Assert.Equal("VaultNotFound", Id(Assert.Single(session.Run("Get-TursoBackup -Vault $nowhere", vars).Errors)));
        Assert.Equal("NoWalArchive", Id(Assert.Single(session.Run("Get-TursoRestorePoint -Vault $vault -Database shop", vars).Errors)));

        // Export over an existing dump overwrites: -Force, then a confirmation (-Confirm:$false), like any overwrite.
        File.WriteAllText(dir["shop.sql"], "precious");
        Assert.Equal("FileExists", Id(Assert.Single(session.Run("Export-TursoDatabase -Path $db -OutFile $out", vars).Errors)));
        Assert.Equal("ConfirmationRequired", Id(Assert.Single(session.Run("Export-TursoDatabase -Path $db -OutFile $out -Force", vars).Errors)));
        Assert.Equal("precious", File.ReadAllText(dir["shop.sql"]));
        session.Run("Export-TursoDatabase -Path $db -OutFile $out -Force -Confirm:$false", vars).NoErrors();
        Assert.StartsWith("PRAGMA foreign_keys=OFF;", File.ReadAllText(dir["shop.sql"]));

        // Remove-TursoBackup (ConfirmImpact High) in a session that cannot prompt: our error, not the host's, and nothing removed.
        var remove = session.Run("Get-TursoBackup -Vault $vault -Database shop | Remove-TursoBackup", vars);
        var refused = remove.Terminating is IContainsErrorRecord t ? t.ErrorRecord : Assert.Single(remove.Errors);
        Assert.Equal("ConfirmationRequired", Id(refused));
        Assert.Contains("-Confirm:$false", refused.Exception.Message);
        Assert.Single(session.Run("Get-TursoBackup -Vault $vault -Database shop", vars).NoErrors().All<BackupInfo>());
    }
}
