using System.Management.Automation;
using System.Text.RegularExpressions;

namespace TursoBackup.Module.Tests;

/// <summary>
/// Vault integrity through the real cmdlets (issue 11 items 2, 3, 9, 10, 21): emergency backups are never the newest by
/// name, deletion goes only by the folder a backup was found in, unreadable backups are warned about, orphaned
/// artifact folders are reported, and the manifest wins over the index.
/// </summary>
public sealed class VaultSafetyCmdletTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public VaultSafetyCmdletTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    private static string Rows(string db) => Peers.Sqlite3(db, "SELECT count(*) FROM orders;").Trim();

    /// <summary>Every folder and file under the vault's databases/ (what deletion could have touched).</summary>
    private static List<string> Tree(string vault) =>
        Directory.GetFileSystemEntries(Path.Combine(vault, "databases"), "*", SearchOption.AllDirectories)
            .Where(p => Path.GetFileName(p) != "index.json" && !Path.GetFileName(p).StartsWith(".index.json", StringComparison.Ordinal))
            .OrderBy(p => p, StringComparer.Ordinal).ToList();

    private static List<string> Warnings(ModuleSession.Result r) =>
        r.Output.Select(o => o.BaseObject).OfType<WarningRecord>().Select(w => w.Message).ToList();

    [SkippableFact]
    public void TwoForceRestoresInARowRestoreTheSameGoodBackup()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]));
        var good = session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors().Single<BackupInfo>();
        Peers.Sqlite3(db, "DELETE FROM items; DELETE FROM orders;");
        Assert.Equal("0", Rows(db));

        for (int run = 1; run <= 2; run++)
        {
            var result = session.Run("Restore-TursoBackup -Vault $vault -Database shop -Destination $db -Force -Confirm:$false", vars).NoErrors().Single<RestoreResult>();
            Assert.Equal(good.Id, ((BackupInfo)result.Source).Id);
            Assert.Equal("1000", Rows(db));
            Assert.NotNull(result.EmergencyBackup);
        }

        // Both emergency backups are listed, marked; the newest by name is still the good one.
        var all = session.Run("Get-TursoBackup -Vault $vault -Database shop", vars).NoErrors().All<BackupInfo>();
        Assert.Equal(3, all.Count);
        var emergencies = all.Where(b => b.Emergency != null).ToList();
        Assert.Equal(2, emergencies.Count);
        Assert.All(emergencies, e => Assert.Equal(db, e.Emergency.Replaced));
        Assert.All(emergencies, e => Assert.Equal("before-restore-" + good.Id, e.Emergency.Reason));
        Assert.All(emergencies, e => Assert.Contains("emergency", e.Tags)); // kept for older readers
        Assert.Contains("\"emergency\"", File.ReadAllText(Path.Combine(Path.GetDirectoryName(emergencies[0].Location)!, "manifest.json")));
        Assert.Equal(good.Id, session.Run("Get-TursoBackup -Vault $vault -Database shop -Latest", vars).NoErrors().Single<BackupInfo>().Id);
        Assert.Equal(emergencies[0].Id, session.Run("Get-TursoBackup -Vault $vault -Database shop -Latest -IncludeEmergency", vars).NoErrors().Single<BackupInfo>().Id);
        Assert.Equal(good.Id, session.Run("Test-Backup -Vault $vault -Database shop", vars).NoErrors().Single<BackupTestResult>().Backup.Id);
        Assert.Equal(emergencies[0].Id, session.Run("Test-Backup -Vault $vault -Database shop -IncludeEmergency", vars).NoErrors().Single<BackupTestResult>().Backup.Id);
        vars["old"] = emergencies[1].Id;
        Assert.Equal(emergencies[1].Id, session.Run("Test-Backup -Vault $vault -Database shop -Id $old", vars).NoErrors().Single<BackupTestResult>().Backup.Id);

        // The emergency backup is the bad state, and it is there to be restored when asked for.
        string back = dir["back.db"];
        vars["back"] = back;
        session.Run("Restore-TursoBackup -Vault $vault -Database shop -IncludeEmergency -Destination $back -Confirm:$false", vars).NoErrors();
        Assert.Equal("1000", Rows(back)); // the newest emergency backup was taken of the already restored file
        File.Delete(back);
        session.Run("Restore-TursoBackup -Vault $vault -Database shop -Id $old -Destination $back -Confirm:$false", vars).NoErrors();
        Assert.Equal("0", Rows(back));

        // The health report's newest backup is the good one (the emergency backups are no recovery point of 'shop').
        var health = session.Run("Get-TursoBackupHealth -Vault $vault -Database shop", vars).NoErrors().Single<HealthReport>();
        Assert.Equal(good.Id, health.LastBackup.Id);
        Assert.Equal(good.CreatedAt, health.LastBackupAt);

        // The 80-column table view marks them: Kind reads "Emergency" (the reason, "before-restore-<id>", is the
        // Emergency property, shown by Format-List). Rendered by real pwsh, redirected, as into a log.
        var (code, table, stderr) = Peers.RunPwsh($"Get-TursoBackup -Vault '{dir["vault"]}'", timeoutMs: 120_000);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Equal(2, table.Split('\n').Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^shop\s+\S+\s+Emergency\s")));
    }

    [SkippableFact]
    public void ImportForceIntoACopyFilesAnEmergencyBackupThatTheDrillDoesNotTest()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["prod"]);
        Directory.CreateDirectory(dir["restore"]);
        string prod = SampleDatabases.CreateShop(Path.Combine(dir["prod"], "main.db"));
        string copy = Path.Combine(dir["restore"], "main.db");
        var vars = Vars(("prod", prod), ("copy", copy), ("vault", dir["vault"]), ("dump", dir["main.sql"]),
            ("drill", Path.Combine(Repo.Root, "out", "TursoBackup", "Runbooks", "Invoke-RecoveryDrill.ps1")));
        var production = session.Run("Backup-TursoDatabase -Path $prod -Vault $vault", vars).NoErrors().Single<BackupInfo>();
        Assert.Equal("main", production.Database);
        session.Run("Restore-TursoBackup -InputObject (Get-TursoBackup -Vault $vault -Latest) -Destination $copy -Confirm:$false | Out-Null; Export-TursoDatabase -Path $prod -OutFile $dump | Out-Null", vars).NoErrors();
        Peers.Sqlite3(copy, "DELETE FROM items; DELETE FROM orders;"); // the copy is scratch; someone reloads it
        session.Run("Import-TursoDatabase -InFile $dump -Path $copy -Force -Vault $vault -Confirm:$false | Out-Null", vars).NoErrors();

        Assert.Equal(production.Id, session.Run("Get-TursoBackup -Vault $vault -Database main -Latest", vars).NoErrors().Single<BackupInfo>().Id);
        var emergency = session.Run("Get-TursoBackup -Vault $vault -Database main -Latest -IncludeEmergency", vars).NoErrors().Single<BackupInfo>();
        Assert.NotEqual(production.Id, emergency.Id);
        Assert.Equal(copy, emergency.Emergency.Replaced);
        Assert.Equal("before-import", emergency.Emergency.Reason);

        // The recovery drill tests production's backup, not the scratch copy's emergency backup.
        var drilled = session.Run("& $drill -Vault $vault", vars).NoErrors().All<BackupTestResult>();
        Assert.Equal(production.Id, Assert.Single(drilled).Backup.Id);
    }

    [SkippableFact]
    public void RemoveTursoBackupWithACopiedManifestDeletesNothingAndSaysWhy()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]));
        var a = session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors().Single<BackupInfo>();
        Thread.Sleep(20);
        var b = session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors().Single<BackupInfo>();
        // Whole backup folders copied into another database's folder, and into another folder of their own database.
        string x1 = Path.Combine(dir["vault"], "databases", "other", "20200101T000000.000Z-aaaaaa");
        string x2 = Path.Combine(dir["vault"], "databases", "other", "20200101T000000.000Z-bbbbbb");
        string sibling = Path.Combine(dir["vault"], "databases", "shop", "20200101T000000.000Z-cccccc");
        foreach (var (source, target) in new[] { (a, x1), (b, x2), (a, sibling) })
        {
            Directory.CreateDirectory(target);
            foreach (var f in Directory.GetFiles(Path.GetDirectoryName(source.Location)!)) File.Copy(f, Path.Combine(target, Path.GetFileName(f)));
        }
        var before = Tree(dir["vault"]);
        vars["a"] = Path.GetDirectoryName(a.Location);
        vars["b"] = Path.GetDirectoryName(b.Location);

        var copies = session.Run("Get-TursoBackup -Vault $vault | Where-Object { -not ($_.Location.StartsWith($a) -or $_.Location.StartsWith($b)) } | Remove-TursoBackup -Confirm:$false", vars);
        Assert.Equal(before, Tree(dir["vault"]));
        Assert.Equal(3, copies.Errors.Count);
        Assert.Contains(copies.Errors, e => e.Exception.Message.Contains(x1) && e.Exception.Message.Contains(a.Id));
        Assert.Contains(copies.Errors, e => e.Exception.Message.Contains(sibling) && e.Exception.Message.Contains(a.Id));

        // A BackupInfo pointed at the copy (by hand) is refused by Remove itself: the manifest there names another folder.
        vars["copyLocation"] = Path.Combine(sibling, Path.GetFileName(a.Location));
        vars["id"] = a.Id;
        var pointed = session.Run("$x = Get-TursoBackup -Vault $vault -Id $id 2>$null; $x.Location = $copyLocation; $x | Remove-TursoBackup -Confirm:$false", vars);
        var error = Assert.Single(pointed.Errors);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Contains(sibling, error.Exception.Message);
        Assert.Equal(before, Tree(dir["vault"]));

        // Retention over the folder with the copies decides nothing about the originals and removes nothing.
        var retention = session.Run("Invoke-TursoBackupRetention -Vault $vault -Database other -Daily 0 -Weekly 0 -Monthly 0 -Confirm:$false 3>$null", vars);
        Assert.Equal(2, retention.Errors.Count);
        Assert.DoesNotContain(retention.All<RetentionDecision>(), d => d.Removed);
        Assert.Equal(before, Tree(dir["vault"]));
        Assert.True(File.Exists(a.Location) && File.Exists(b.Location));
    }

    [SkippableFact]
    public void ACraftedDotManifestMakesRemoveAndRetentionDeleteNothing()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]));
        var real = session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors().Single<BackupInfo>();
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault -Name other | Out-Null", vars).NoErrors();
        string manifest = File.ReadAllText(Path.Combine(Path.GetDirectoryName(real.Location)!, "manifest.json"));
        // Two crafted backups in folder 'evil': one names database '.' and id '.', the other a newer one of '.'.
        string Craft(string id, string createdAt) =>
            Regex.Replace(Regex.Replace(Regex.Replace(manifest, "\"id\": \"[^\"]*\"", $"\"id\": \"{id}\""), "\"database\": \"[^\"]*\"", "\"database\": \".\""),
                "\"createdAt\": \"[^\"]*\"", $"\"createdAt\": \"{createdAt}\"");
        foreach (var (folder, id, at) in new[] { ("x1", ".", "2020-01-01T00:00:00.0000000Z"), ("x2", "x2", "2020-01-02T00:00:00.0000000Z") })
        {
            string f = Path.Combine(dir["vault"], "databases", "evil", folder);
            Directory.CreateDirectory(f);
            File.WriteAllText(Path.Combine(f, "manifest.json"), Craft(id, at));
            File.Copy(real.Location, Path.Combine(f, Path.GetFileName(real.Location)));
        }
        var before = Tree(dir["vault"]);

        var removed = session.Run("Get-TursoBackup -Vault $vault | Where-Object { $_.Id -eq '.' } | Remove-TursoBackup -Confirm:$false", vars);
        Assert.True(Directory.Exists(Path.Combine(dir["vault"], "databases")), "the vault's databases folder was deleted");
        Assert.Equal(before, Tree(dir["vault"]));
        Assert.NotEmpty(removed.Errors);

        // A listed backup edited by hand to say '.' and '.': Remove goes by its folder, which does not match.
        var edited = session.Run("$b = Get-TursoBackup -Vault $vault -Database shop -Latest; $b.Database = '.'; $b.Id = '.'; $b | Remove-TursoBackup -Confirm:$false", vars);
        Assert.Equal(ErrorCategory.InvalidData, Assert.Single(edited.Errors).CategoryInfo.Category);
        Assert.Equal(before, Tree(dir["vault"]));

        var retention = session.Run("Invoke-TursoBackupRetention -Vault $vault -Daily 0 -Weekly 0 -Monthly 0 -Confirm:$false 3>$null", vars);
        Assert.NotEmpty(retention.Errors);
        Assert.DoesNotContain(retention.All<RetentionDecision>(), d => d.Removed);
        Assert.Equal(before, Tree(dir["vault"]));
    }

    [SkippableFact]
    public void ADamagedNewestManifestIsWarnedAboutByNameBasedCommands()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]), ("out", dir["restored.db"]));
        var older = session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors().Single<BackupInfo>();
        Thread.Sleep(20);
        var newest = session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors().Single<BackupInfo>();
        session.Run("Get-TursoBackup -Vault $vault | Out-Null", vars).NoErrors(); // the index holds both
        string damagedManifest = Path.Combine(Path.GetDirectoryName(newest.Location)!, "manifest.json");
        File.WriteAllText(damagedManifest, "{ \"format\": \"tursobackup-manifest\", \"formatVer");

        var restore = session.Run("Restore-TursoBackup -Vault $vault -Database shop -Destination $out -Confirm:$false 3>&1", vars).NoErrors();
        Assert.Equal(older.Id, ((BackupInfo)restore.Single<RestoreResult>().Source).Id);
        var warning = Assert.Single(Warnings(restore));
        Assert.Contains(damagedManifest, warning);
        Assert.Contains(newest.Id, warning);
        Assert.Contains(older.Id, warning);

        var test = session.Run("Test-Backup -Vault $vault -Database shop 3>&1", vars).NoErrors();
        Assert.Equal(older.Id, test.Single<BackupTestResult>().Backup.Id);
        Assert.Contains(damagedManifest, Assert.Single(Warnings(test)));
    }

    [SkippableFact]
    public void AnOrphanedArtifactFolderIsReportedByGetTursoBackupAndTheHealthReport()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]));
        session.Run("Backup-TursoDatabase -Path $db -Vault $vault | Out-Null", vars).NoErrors();
        var orphan = session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors().Single<BackupInfo>();
        session.Run("Get-TursoBackup -Vault $vault | Out-Null", vars).NoErrors();
        string folder = Path.GetDirectoryName(orphan.Location)!;
        File.Delete(Path.Combine(folder, "manifest.json"));

        var listed = session.Run("Get-TursoBackup -Vault $vault", vars);
        Assert.Single(listed.All<BackupInfo>());
        var error = Assert.Single(listed.Errors);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Contains(folder, error.Exception.Message);
        Assert.Contains("no manifest", error.Exception.Message);

        var restore = session.Run("Test-Backup -Vault $vault -Database shop 3>&1", vars).NoErrors();
        Assert.Contains(folder, Assert.Single(Warnings(restore)));

        var health = session.Run("Get-TursoBackupHealth -Vault $vault -Database shop", vars).NoErrors().Single<HealthReport>();
        var finding = Assert.Single(health.Details, f => f.Code == "OrphanedBackupFolders");
        Assert.Contains(orphan.Id, finding.Message);
    }

    [SkippableFact]
    public void AWrongHashInTheIndexDoesNotFailARestoreOfAnIntactBackup()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]), ("a", dir["a.db"]), ("b", dir["b.db"]), ("c", dir["c.db"]));
        var backup = session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors().Single<BackupInfo>();
        session.Run("Get-TursoBackup -Vault $vault | Out-Null", vars).NoErrors();
        string index = Path.Combine(dir["vault"], "databases", "shop", "index.json");
        string text = File.ReadAllText(index);
        Assert.Contains(backup.Sha256, text);
        var stamp = File.GetLastWriteTimeUtc(index);
        File.WriteAllText(index, text.Replace(backup.Sha256, new string('0', 64)));

        var byName = session.Run("Restore-TursoBackup -Vault $vault -Database shop -Destination $a -Confirm:$false", vars).NoErrors().Single<RestoreResult>();
        Assert.Equal(backup.Sha256, ((BackupInfo)byName.Source).Sha256);
        Assert.Equal("1000", Rows(dir["a.db"]));
        // The index was rebuilt from the manifest.
        Assert.Contains(backup.Sha256, File.ReadAllText(index));

        File.WriteAllText(index, text.Replace(backup.Sha256, new string('0', 64)));
        var piped = session.Run("Get-TursoBackup -Vault $vault -Database shop -Latest | Restore-TursoBackup -Destination $b -Confirm:$false", vars).NoErrors().Single<RestoreResult>();
        Assert.Equal(backup.Sha256, ((BackupInfo)piped.Source).Sha256);
        File.WriteAllText(index, text.Replace(backup.Sha256, new string('0', 64)));
        Assert.True(session.Run("Get-TursoBackup -Vault $vault -Database shop -Latest | Test-Backup", vars).NoErrors().Single<BackupTestResult>().Passed);
    }
}
