using System.Diagnostics;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Tests;

public sealed class VaultTests : TempFolderTest
{
    [Fact]
    public void BackupIdsSortByTime()
    {
        var t = new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.Zero);
        var ids = Enumerable.Range(0, 50).Select(i => BackupVault.NewBackupId(t.AddMilliseconds(i * 997))).ToList();
        Assert.Equal(ids, ids.OrderBy(i => i, StringComparer.Ordinal));
        Assert.StartsWith("20260102T030405.678Z-", ids[0]);
    }

    [Theory]
    [InlineData("main", true)]
    [InlineData("orders-2026_v1.2", true)]
    [InlineData("Ünïcødé", true)]
    [InlineData("", false)]
    [InlineData(".hidden", false)]
    [InlineData("..", false)]
    [InlineData("a/b", false)]
    [InlineData("a\\b", false)]
    [InlineData("c:", false)]
    public void DatabaseNamesMustBeSafeFolderNames(string name, bool ok)
    {
        if (ok) Assert.Equal(name, BackupVault.ValidateDatabaseName(name));
        else Assert.Equal(FailureKind.InvalidArgument, Assert.Throws<TursoBackupException>(() => BackupVault.ValidateDatabaseName(name)).Kind);
    }

    [Fact]
    public void AbandonedStagingIsDecidedByItsLockNeverByAProcessId()
    {
        var vault = BackupVault.OpenOrCreate(dir);
        using var mine = vault.CreateStaging("x", "test");
        Assert.True(OwnerLock.IsHeld(OwnerLock.PathFor(mine.Path)));
        // A folder whose lock file is free: its owner is gone (whatever PID its name might carry).
        string dead = Path.Combine(vault.StagingPath, "z");
        Directory.CreateDirectory(dead);
        File.WriteAllText(OwnerLock.PathFor(dead), "");
        File.WriteAllText(Path.Combine(dead, "snapshot.db.partial"), "half");
        // Old-style folders without a lock file: a fresh one may belong to a live older version; a stale one does not.
        using var sleeper = Peers.Start("sleep", "30");
        string freshLegacy = Path.Combine(vault.StagingPath, "y.pid" + int.MaxValue);
        string staleLegacy = Path.Combine(vault.StagingPath, "w.pid" + sleeper.Id);
        foreach (var d in new[] { freshLegacy, staleLegacy }) Directory.CreateDirectory(d);
        File.WriteAllText(Path.Combine(staleLegacy, "f"), "old");
        var longAgo = DateTime.UtcNow - LockedFolder.UnlockedAge - TimeSpan.FromMinutes(1);
        File.SetLastWriteTimeUtc(Path.Combine(staleLegacy, "f"), longAgo);
        Directory.SetLastWriteTimeUtc(staleLegacy, longAgo);
        // A lock file whose owner died before making its folder.
        string orphanLock = OwnerLock.PathFor(Path.Combine(vault.StagingPath, "v"));
        File.WriteAllText(orphanLock, "");
        File.SetLastWriteTimeUtc(orphanLock, DateTime.UtcNow.AddHours(-1));
        string freshOrphanLock = OwnerLock.PathFor(Path.Combine(vault.StagingPath, "u")); // an owner about to make its folder
        File.WriteAllText(freshOrphanLock, "");

        Assert.Equal(2, vault.CleanAbandonedStaging());
        Assert.True(Directory.Exists(mine.Path));
        Assert.False(Directory.Exists(dead));
        Assert.False(File.Exists(OwnerLock.PathFor(dead)));
        Assert.True(Directory.Exists(freshLegacy));
        Assert.False(Directory.Exists(staleLegacy), "a folder without a lock, untouched for a day, goes even if a process has its PID");
        Assert.False(File.Exists(orphanLock));
        Assert.True(File.Exists(freshOrphanLock));
        sleeper.Kill();

        string path = mine.Path;
        mine.Dispose();
        Assert.False(Directory.Exists(path));
        Assert.False(File.Exists(OwnerLock.PathFor(path)));
    }

    [Fact]
    public void ManifestRoundTripsAndRejectsNewerFormats()
    {
        var info = new BackupInfo
        {
            Id = "20260102T030405.678Z-abcdef", Database = "main", Kind = BackupKind.Snapshot,
            CreatedAt = DateTimeOffset.Parse("2026-01-02T03:04:05.678Z"), PointInTime = DateTimeOffset.Parse("2026-01-02T03:04:05.6781234Z"),
            SourcePath = "/data/main \"quoted\".db", SourceBytes = 1L << 40, StoredBytes = 123, Compression = CompressionKind.Gzip,
            Sha256 = new string('a', 64), PageSize = 4096, PageCount = 268435456, SchemaHash = new string('b', 64),
            Tables = new[] { new TableRowCount("t\nwith newline", long.MaxValue) }, Duration = TimeSpan.FromMilliseconds(1234),
            Tier = BackupTier.Critical, Tags = new[] { "a", "ü" }, JournalMode = "wal", SqliteVersion = "3.46.1",
        };
        string json = BackupManifest.ToJson(info, "main.db.gz", "0.1.0");
        var back = BackupManifest.FromJson(json, "/vault", "/vault/databases/main/x");
        Assert.Equal(info.PointInTime, back.PointInTime);
        Assert.Equal(info.SourcePath, back.SourcePath);
        Assert.Equal(info.SourceBytes, back.SourceBytes);
        Assert.Equal(long.MaxValue, back.Tables[0].Rows);
        Assert.Equal("t\nwith newline", back.Tables[0].Name);
        Assert.Equal(info.Tags, back.Tags);
        Assert.Equal(BackupTier.Critical, back.Tier);
        Assert.Equal(Path.Combine("/vault/databases/main/x", "main.db.gz"), back.Location);

        var newer = json.Replace("\"formatVersion\": 1", "\"formatVersion\": 99");
        Assert.Contains("Update the module", Assert.Throws<FormatException>(() => BackupManifest.FromJson(newer, "/v", "/v/x")).Message);
        var escaping = json.Replace("\"main.db.gz\"", "\"../../evil.db\"");
        Assert.Throws<FormatException>(() => BackupManifest.FromJson(escaping, "/v", "/v/x"));
    }

    [Fact]
    public void JsonParsesWhatItWritesAndRejectsGarbage()
    {
        var doc = new Dictionary<string, object> { ["s"] = "a\"b\\c\u0001é", ["n"] = -42L, ["d"] = 1.5, ["b"] = true, ["z"] = null, ["l"] = new List<object> { 1L, "x" } };
        var back = (Dictionary<string, object>)Json.Parse(Json.Write(doc));
        Assert.Equal(doc["s"], back["s"]);
        Assert.Equal(-42L, back["n"]);
        Assert.Equal(1.5, back["d"]);
        Assert.Equal(true, back["b"]);
        Assert.Null(back["z"]);
        Assert.Equal(new List<object> { 1L, "x" }, back["l"]);
        Assert.Throws<FormatException>(() => Json.Parse("{ \"a\": "));
        // Compact lines keep values intact (double spaces, newlines) and parse back equal.
        var compact = Json.WriteCompact(new Dictionary<string, object> { ["r"] = "two  spaces\nand a line", ["n"] = new List<object> { 1L, 2L } });
        Assert.DoesNotContain("\n", compact);
        Assert.Equal("two  spaces\nand a line", ((Dictionary<string, object>)Json.Parse(compact))["r"]);
        Assert.Throws<FormatException>(() => Json.Parse("{} trailing"));
    }

    [Fact]
    public void ManyWritersCreatingOneVaultAtOnceAllSucceed()
    {
        for (int round = 0; round < 20; round++)
        {
            string root = Path.Combine(dir, "race" + round);
            Parallel.For(0, 8, _ => BackupVault.OpenOrCreate(root));
            Assert.True(File.Exists(Path.Combine(root, BackupVault.MarkerFile)));
        }
    }

    [Fact]
    public void DurableWriteReplacesAtomically()
    {
        Directory.CreateDirectory(dir);
        string f = Path.Combine(dir, "x.json");
        DurableFile.WriteAllText(f, "one");
        DurableFile.WriteAllText(f, "two");
        Assert.Equal("two", File.ReadAllText(f));
        Assert.Single(Directory.GetFiles(dir));
        if (!OperatingSystem.IsWindows()) Assert.True(DurableFile.FlushDirectory(dir), "the directory fsync did not run (libc not found?)");
    }
}
