using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Tests;

/// <summary>The per-database index is a cache of the manifests: rebuilt when missing or damaged, never trusted over them.</summary>
public sealed class IndexTests : TempFolderTest
{
    private (BackupVault Vault, List<BackupInfo> Backups) VaultWithBackups(int n)
    {
        Directory.CreateDirectory(dir);
        string db = TestDb.Create(P("app.db"), "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
        var list = Enumerable.Range(0, n).Select(_ => new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = Path.Combine(dir, "vault") })).ToList();
        return (BackupVault.OpenExisting(Path.Combine(dir, "vault")), list);
    }

    private string IndexPath => Path.Combine(dir, "vault", "databases", "app", BackupIndex.FileName);

    [Fact]
    public void ListingWritesTheIndexAndRebuildsItWhenMissingOrDamaged()
    {
        var (vault, backups) = VaultWithBackups(3);
        Assert.False(File.Exists(IndexPath));
        Assert.Equal(3, vault.List().Count);
        Assert.True(File.Exists(IndexPath));
        File.Delete(IndexPath);
        Assert.Equal(backups.Select(b => b.Id).Reverse(), vault.List().Select(b => b.Id));
        File.WriteAllText(IndexPath, "{ damaged");
        Assert.Equal(3, vault.List().Count);
        Assert.Contains("tursobackup-index", File.ReadAllText(IndexPath));
    }

    [Fact]
    public void TheIndexFollowsNewRemovedAndEditedManifests()
    {
        var (vault, backups) = VaultWithBackups(2);
        vault.List();
        // Removed behind the index's back.
        Directory.Delete(Path.GetDirectoryName(backups[0].Location)!, true);
        Assert.Equal(new[] { backups[1].Id }, vault.List().Select(b => b.Id));
        Assert.DoesNotContain(backups[0].Id, File.ReadAllText(IndexPath));
        // Edited: the manifest wins.
        string manifest = Path.Combine(Path.GetDirectoryName(backups[1].Location)!, BackupManifest.FileName);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"tier\": \"General\"", "\"tier\": \"Critical\""));
        File.SetLastWriteTimeUtc(manifest, DateTime.UtcNow.AddMinutes(1));
        Assert.Equal(BackupTier.Critical, vault.List().Single().Tier);
    }

    [Fact]
    public void AnUnchangedManifestIsServedFromTheIndex()
    {
        var (vault, backups) = VaultWithBackups(1);
        vault.List();
        string manifest = Path.Combine(Path.GetDirectoryName(backups[0].Location)!, BackupManifest.FileName);
        var stamp = File.GetLastWriteTimeUtc(manifest);
        string text = File.ReadAllText(manifest);
        // Same size, same time, different content: only the index can still say "General".
        File.WriteAllText(manifest, text.Replace("\"tier\": \"General\"", "\"tier\": \"Generab\""));
        File.SetLastWriteTimeUtc(manifest, stamp);
        Assert.Equal(BackupTier.General, vault.List().Single().Tier);
    }
}
