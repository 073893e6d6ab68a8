using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Health;
using TursoBackup.Engine.Restore;
using TursoBackup.Engine.Retention;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Tests.Safety;

/// <summary>
/// The vault's integrity rules on real vaults (issue 11 items 2, 3, 9, 10, 21): emergency backups are marked and never
/// the newest by name, deletion goes only by the folder a backup was found in, names read from manifests are plain
/// folder names that match their folders, orphaned folders are reported, and the manifest wins over the index.
/// </summary>
public sealed class VaultSafetyTests : TempFolderTest
{
    private string VaultPath => P("vault");
    private string Databases => Path.Combine(VaultPath, "databases");

    private string MakeDatabase(string name, int rows = 10) =>
        TestDb.Create(P(name + ".db"), $"CREATE TABLE IF NOT EXISTS t(x); DELETE FROM t; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < {rows}) INSERT INTO t SELECT i FROM n;");

    private BackupInfo Backup(string db, EmergencyInfo emergency = null, string[] tags = null)
    {
        var b = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = VaultPath, Emergency = emergency, Tags = tags ?? new string[0] });
        Thread.Sleep(5); // distinct creation times
        return b;
    }

    private static string Folder(BackupInfo b) => Path.GetDirectoryName(b.Location)!;
    private static string ManifestOf(BackupInfo b) => Path.Combine(Folder(b), BackupManifest.FileName);

    private List<string> Tree() =>
        Directory.GetFileSystemEntries(Databases, "*", SearchOption.AllDirectories)
            .Where(p => !Path.GetFileName(p).Contains("index.json")).OrderBy(p => p, StringComparer.Ordinal).ToList();

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }

    // ------------------------------------------------------------------ item 3: deletion by the folder found

    [Fact]
    public void RemoveOfACopiedManifestDeletesNothing()
    {
        string db = MakeDatabase("app");
        var original = Backup(db);
        string copy = Path.Combine(Databases, "other", "20200101T000000.000Z-aaaaaa");
        CopyFolder(Folder(original), copy);
        var vault = BackupVault.OpenExisting(VaultPath);
        var damaged = new List<(string Path, Exception Error)>();
        var listed = vault.List(null, (p, ex) => damaged.Add((p, ex)));
        // The copy is not listed: its manifest names a backup of another folder.
        Assert.Equal(new[] { original.Id }, listed.Select(b => b.Id));
        var (path, error) = Assert.Single(damaged);
        Assert.Equal(Path.Combine(copy, BackupManifest.FileName), path);
        Assert.Contains(original.Id, error.Message);

        // A BackupInfo pointing at the copy (as the old listing produced) is refused by Remove.
        var before = Tree();
        var atCopy = BackupManifest.FromJson(File.ReadAllText(Path.Combine(copy, BackupManifest.FileName)), vault.Root, copy);
        var ex = Assert.Throws<TursoBackupException>(() => vault.Remove(atCopy));
        Assert.Equal(FailureKind.InvalidData, ex.Kind);
        Assert.Contains(copy, ex.Message);
        Assert.Contains("Nothing was removed", ex.Message);
        Assert.Equal(before, Tree());
    }

    [Fact]
    public void RemoveOfACraftedDotManifestDeletesNothing()
    {
        string db = MakeDatabase("app");
        var real = Backup(db);
        Backup(MakeDatabase("second"));
        string crafted = Path.Combine(Databases, "evil", "x1");
        CopyFolder(Folder(real), crafted);
        string m = Path.Combine(crafted, BackupManifest.FileName);
        File.WriteAllText(m, Regex.Replace(Regex.Replace(File.ReadAllText(m), "\"id\": \"[^\"]*\"", "\"id\": \".\""), "\"database\": \"[^\"]*\"", "\"database\": \".\""));
        var vault = BackupVault.OpenExisting(VaultPath);
        var damaged = new List<string>();
        Assert.Equal(2, vault.List(null, (p, _) => damaged.Add(p)).Count);
        Assert.Equal(new[] { m }, damaged);

        var before = Tree();
        var dot = new BackupInfo { Vault = vault.Root, Database = ".", Id = ".", Location = Path.Combine(crafted, Path.GetFileName(real.Location)) };
        Assert.Equal(FailureKind.InvalidData, Assert.Throws<TursoBackupException>(() => vault.Remove(dot)).Kind);
        // The same names on a listed backup's object: its folder's manifest does not name them.
        var edited = BackupManifest.FromJson(File.ReadAllText(ManifestOf(real)), vault.Root, Folder(real));
        edited.Database = ".";
        edited.Id = ".";
        Assert.Equal(FailureKind.InvalidData, Assert.Throws<TursoBackupException>(() => vault.Remove(edited)).Kind);
        Assert.True(Directory.Exists(Databases));
        Assert.Equal(before, Tree());
    }

    [Fact]
    public void RemoveRefusesABackupOutsideTheVaultsDatabaseFolders()
    {
        var real = Backup(MakeDatabase("app"));
        var vault = BackupVault.OpenExisting(VaultPath);
        // A copy of the vault elsewhere: the same names, another place.
        string elsewhere = P("copy-of-vault");
        CopyFolder(Folder(real), Path.Combine(elsewhere, "databases", "app", real.Id));
        var outside = BackupManifest.FromJson(File.ReadAllText(ManifestOf(real)), vault.Root, Path.Combine(elsewhere, "databases", "app", real.Id));
        var ex = Assert.Throws<TursoBackupException>(() => vault.Remove(outside));
        Assert.Equal(FailureKind.InvalidData, ex.Kind);
        Assert.Contains(vault.DatabasesPath, ex.Message);
        Assert.True(File.Exists(real.Location));
        Assert.True(Directory.Exists(Path.Combine(elsewhere, "databases", "app", real.Id)));
        // A backup folder straight under databases/ (no database folder) is refused too.
        var shallow = BackupManifest.FromJson(File.ReadAllText(ManifestOf(real)), vault.Root, Path.Combine(Databases, "app"));
        Assert.Equal(FailureKind.InvalidData, Assert.Throws<TursoBackupException>(() => vault.Remove(shallow)).Kind);
        Assert.True(File.Exists(real.Location));
        // Without a location nothing is guessed.
        var nowhere = new BackupInfo { Vault = vault.Root, Database = "app", Id = real.Id };
        Assert.Equal(FailureKind.InvalidArgument, Assert.Throws<TursoBackupException>(() => vault.Remove(nowhere)).Kind);
        Assert.True(File.Exists(real.Location));
        // The real one goes.
        vault.Remove(vault.List("app").Single());
        Assert.False(Directory.Exists(Folder(real)));
    }

    [Theory]
    [InlineData("database", ".")]
    [InlineData("database", "..")]
    [InlineData("database", "../app")]
    [InlineData("database", "a/b")]
    [InlineData("database", "a\\\\b")]
    [InlineData("id", ".")]
    [InlineData("id", "..")]
    [InlineData("id", "x/../..")]
    [InlineData("id", "")]
    public void NamesReadFromManifestsArePlainFolderNames(string field, string value)
    {
        var real = Backup(MakeDatabase("app"));
        string m = ManifestOf(real);
        File.WriteAllText(m, Regex.Replace(File.ReadAllText(m), $"\"{field}\": \"[^\"]*\"", $"\"{field}\": \"{value}\""));
        var damaged = new List<Exception>();
        Assert.Empty(BackupVault.OpenExisting(VaultPath).List(null, (_, ex) => damaged.Add(ex)));
        Assert.IsType<FormatException>(Assert.Single(damaged));
        Assert.Throws<FormatException>(() => BackupManifest.FromJson(File.ReadAllText(m), VaultPath, Folder(real)));
    }

    [Fact]
    public void AListingByANameThatIsNotAFolderNameIsRefused()
    {
        Backup(MakeDatabase("app"));
        var vault = BackupVault.OpenExisting(VaultPath);
        foreach (var name in new[] { ".", "..", "../vault/databases/app", "app/.." })
        {
            Assert.Equal(FailureKind.InvalidArgument, Assert.Throws<TursoBackupException>(() => vault.List(name)).Kind);
        }
    }

    // ------------------------------------------------------------------ item 9: what cannot be read is reported

    [Fact]
    public void AnOrphanedArtifactFolderIsReported()
    {
        string db = MakeDatabase("app");
        var kept = Backup(db);
        var orphan = Backup(db);
        var vault = BackupVault.OpenExisting(VaultPath);
        vault.List(); // the index holds both
        File.Delete(ManifestOf(orphan));
        var damaged = new List<(string Path, Exception Error)>();
        Assert.Equal(new[] { kept.Id }, vault.List("app", (p, ex) => damaged.Add((p, ex))).Select(b => b.Id));
        var (path, error) = Assert.Single(damaged);
        Assert.Equal(ManifestOf(orphan), path);
        Assert.IsType<FileNotFoundException>(error);
        Assert.Contains(Folder(orphan), error.Message);

        var report = new BackupHealth().Check(VaultPath, "app").Single();
        var finding = Assert.Single(report.Details, f => f.Code == BackupHealth.OrphanedBackupFolders);
        Assert.Equal(HealthStatus.Warning, finding.Severity);
        Assert.Contains(orphan.Id, finding.Message);
        Assert.DoesNotContain(report.Details, f => f.Code == BackupHealth.DamagedManifests);
    }

    [Fact]
    public void SelectionReportsEveryUnreadableBackupOfThatDatabaseOnly()
    {
        string db = MakeDatabase("app");
        var older = Backup(db);
        var damagedOne = Backup(db);
        var orphan = Backup(db);
        var otherDb = Backup(MakeDatabase("other"));
        File.WriteAllText(ManifestOf(damagedOne), "{ damaged");
        File.Delete(ManifestOf(orphan));
        File.WriteAllText(ManifestOf(otherDb), "{ damaged too");
        var reported = new List<string>();
        var chosen = BackupVault.OpenExisting(VaultPath).Select("app", null, false, (p, _) => reported.Add(p));
        Assert.Equal(older.Id, chosen.Id);
        Assert.Equal(new[] { ManifestOf(damagedOne), ManifestOf(orphan) }.OrderBy(x => x), reported.OrderBy(x => x));
    }

    // ------------------------------------------------------------------ item 10: the manifest over the index

    [Fact]
    public void AWrongHashInTheIndexIsCorrectedFromTheManifest()
    {
        var backup = Backup(MakeDatabase("app"));
        var vault = BackupVault.OpenExisting(VaultPath);
        vault.List();
        string index = Path.Combine(Databases, "app", BackupIndex.FileName);
        string text = File.ReadAllText(index);
        File.WriteAllText(index, text.Replace(backup.Sha256, new string('0', 64)));
        // Listing trusts an unchanged manifest's index entry (that is what the cache is for)...
        var listed = vault.List("app").Single();
        Assert.Equal(new string('0', 64), listed.Sha256);
        // ...but using a backup reads its manifest, and a disagreement rebuilds the index.
        var reloaded = vault.Reload(listed);
        Assert.Equal(backup.Sha256, reloaded.Sha256);
        Assert.Contains(backup.Sha256, File.ReadAllText(index));
        Assert.DoesNotContain(new string('0', 64), File.ReadAllText(index));

        File.WriteAllText(index, text.Replace(backup.Sha256, new string('0', 64)));
        var selected = vault.Select("app", null, false, null);
        Assert.Equal(backup.Sha256, selected.Sha256);
        var restored = new BackupRestore().Restore(selected, P("restored.db"), overwrite: false, fileEmergency: (_, _) => throw new InvalidOperationException());
        Assert.True(File.Exists(restored.Destination));
    }

    [Fact]
    public void AnIndexEntryHoldingAnotherFoldersManifestIsReadAgainFromDisk()
    {
        string db = MakeDatabase("app");
        var a = Backup(db);
        var b = Backup(db);
        var vault = BackupVault.OpenExisting(VaultPath);
        vault.List();
        // The index swaps the manifests of the two folders (stamps unchanged).
        string index = Path.Combine(Databases, "app", BackupIndex.FileName);
        var doc = (Dictionary<string, object>)TursoBackup.Engine.IO.Json.Parse(File.ReadAllText(index));
        var entries = ((List<object>)doc["backups"]).Cast<Dictionary<string, object>>().ToList();
        (entries[0]["manifest"], entries[1]["manifest"]) = (entries[1]["manifest"], entries[0]["manifest"]);
        File.WriteAllText(index, TursoBackup.Engine.IO.Json.Write(doc));
        var damaged = new List<string>();
        var listed = vault.List("app", (p, _) => damaged.Add(p));
        Assert.Empty(damaged);
        Assert.Equal(new[] { b.Id, a.Id }, listed.Select(x => x.Id));
        Assert.All(listed, x => Assert.Equal(x.Id, Path.GetFileName(Path.GetDirectoryName(x.Location))));
        Assert.Equal(new[] { b.Sha256, a.Sha256 }, listed.Select(x => x.Sha256));
    }

    // ------------------------------------------------------------------ items 2, 21: emergency backups

    [Fact]
    public void AnEmergencyBackupIsMarkedInItsManifestAndNeverTheNewestByName()
    {
        string db = MakeDatabase("app");
        var regular = Backup(db);
        var emergency = Backup(db, new EmergencyInfo { Replaced = "/data/app.db", Reason = "before-restore-" + regular.Id });
        Assert.Equal("/data/app.db", emergency.Emergency.Replaced);
        Assert.Contains("emergency", emergency.Tags); // for readers that only know the tag
        string json = File.ReadAllText(ManifestOf(emergency));
        Assert.Contains("\"emergency\": {", json);
        Assert.Contains("\"replaced\": \"/data/app.db\"", json);
        Assert.DoesNotContain("\"emergency\": {", File.ReadAllText(ManifestOf(regular)));

        var vault = BackupVault.OpenExisting(VaultPath);
        var listed = vault.List("app");
        Assert.Equal(emergency.Id, listed[0].Id);
        Assert.Equal("before-restore-" + regular.Id, listed[0].Emergency.Reason);
        Assert.Null(listed[1].Emergency);

        Assert.Equal(regular.Id, vault.Select("app", null, false, null).Id);
        Assert.Equal(emergency.Id, vault.Select("app", null, true, null).Id);
        Assert.Equal(emergency.Id, vault.Select("app", emergency.Id, false, null).Id);
        vault.Remove(listed[1]);
        Assert.Null(vault.Select("app", null, false, null));
        Assert.Equal(emergency.Id, vault.Select("app", null, true, null).Id);
    }

    [Fact]
    public void AnOlderManifestTaggedEmergencyIsAnEmergencyBackup()
    {
        string db = MakeDatabase("app");
        var regular = Backup(db);
        var old = Backup(db, tags: new[] { "emergency", "before-restore-" + regular.Id });
        Assert.DoesNotContain("\"emergency\": {", File.ReadAllText(ManifestOf(old)));
        var vault = BackupVault.OpenExisting(VaultPath);
        var listed = vault.List("app").First();
        Assert.Equal(old.Id, listed.Id);
        Assert.Equal("before-restore-" + regular.Id, listed.Emergency.Reason);
        Assert.Equal(db, listed.Emergency.Replaced);
        Assert.Equal(regular.Id, vault.Select("app", null, false, null).Id);
    }

    [Fact]
    public void TheHealthReportsNewestBackupIsNotAnEmergencyBackup()
    {
        string db = MakeDatabase("app");
        var regular = Backup(db);
        Backup(db, new EmergencyInfo { Replaced = db, Reason = "before-import" });
        var report = new BackupHealth().Check(VaultPath, "app").Single();
        Assert.Equal(regular.Id, report.LastBackup.Id);
        Assert.Equal(regular.CreatedAt, report.LastBackupAt);
    }

    [Fact]
    public void RetentionPlansEmergencyBackupsAsASeriesOfTheirOwn()
    {
        var t = new DateTimeOffset(2026, 2, 2, 0, 0, 0, TimeSpan.Zero);
        BackupInfo B(int hour, string suffix, bool emergency = false) => new BackupInfo
        {
            Id = t.AddHours(hour).UtcDateTime.ToString("yyyyMMdd'T'HHmmss.fff'Z'") + "-" + suffix, Database = "main", CreatedAt = t.AddHours(hour),
            Emergency = emergency ? new EmergencyInfo { Reason = "before-restore-x", Replaced = "/data/main.db" } : null,
        };
        var yesterday = B(-2, "aaaaaa");
        var today = B(10, "bbbbbb");
        var emergencyOld = B(11, "cccccc", emergency: true);
        var emergencyNew = B(12, "dddddd", emergency: true);
        var plan = RetentionPlanner.Plan(new[] { yesterday, today, emergencyOld, emergencyNew }, new RetentionPolicy(daily: 1, weekly: 0, monthly: 0), t.AddHours(13),
            verifiedPassedIds: new HashSet<string> { yesterday.Id, emergencyNew.Id });
        var byId = plan.ToDictionary(d => d.Id);
        // The emergency backups take neither "newest" nor today's slot from today's real backup.
        Assert.Equal("newest; daily 2026-02-02", byId[today.Id].Reason);
        Assert.True(byId[yesterday.Id].Keep); // newest verified of the real backups
        Assert.Equal("newest verified", byId[yesterday.Id].Reason);
        Assert.Equal("emergency: newest; newest verified; daily 2026-02-02", byId[emergencyNew.Id].Reason);
        Assert.False(byId[emergencyOld.Id].Keep);
        // Newest first, as before.
        Assert.Equal(new[] { emergencyNew.Id, emergencyOld.Id, today.Id, yesterday.Id }, plan.Select(d => d.Id));
    }
}
