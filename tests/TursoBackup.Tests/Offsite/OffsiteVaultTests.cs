using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Offsite;
using TursoBackup.Engine.Restore;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Wal;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests.Offsite;

/// <summary>
/// <see cref="OffsiteVault"/>, the local mirror of a remote vault, over a folder standing in for the remote store
/// (the mirror logic is the same for every store).
/// </summary>
public sealed class OffsiteVaultTests : TempFolderTest
{
    private (SourceVault Src, string Remote, OffsiteVault Vault) Remote(int walSyncs = 2)
    {
        var src = SourceVault.Make(P("src"), walSyncs);
        Assert.Equal(0, new VaultSync(src.Store(), new DirectoryStore(P("remote"))).Run().Failed);
        return (src, P("remote"), OffsiteVault.ForTests(new DirectoryStore(P("remote")), P("cache")));
    }

    [Fact]
    public void Refresh_mirrors_the_metadata_only_and_FetchBackup_brings_a_checked_artifact()
    {
        var (src, remote, vault) = Remote();
        using var _ = vault;
        vault.Refresh();
        Assert.StartsWith(P("cache"), vault.CacheRoot);
        var mirrored = VaultFiles.AllFiles(vault.CacheRoot).Where(k => !k.EndsWith("index.json")).ToList();
        Assert.Contains("vault.json", mirrored);
        Assert.Contains("wal/app/state.json", mirrored);
        Assert.Equal(src.Backups.Select(b => src.Unit(b) + "manifest.json"), mirrored.Where(k => k.StartsWith("databases/")));
        Assert.DoesNotContain(mirrored, k => k.EndsWith(".zst") || k.EndsWith(".seg") || k.EndsWith(".pack"));
        Assert.Single(mirrored, k => k.EndsWith("/snapshot.json"));

        var listed = BackupVault.OpenExisting(vault.CacheRoot).List().OrderBy(b => b.Id, StringComparer.Ordinal).ToList();
        Assert.Equal(src.Backups.Select(b => (b.Id, b.Sha256)), listed.Select(b => (b.Id, b.Sha256)));
        Assert.All(listed, b => Assert.False(File.Exists(b.Location)));

        var progress = new List<(long, long)>();
        vault.FetchBackup(listed[1], (d, t) => progress.Add((d, t)));
        Assert.True(File.Exists(listed[1].Location));
        Assert.False(File.Exists(listed[0].Location));
        Assert.Equal(listed[1].StoredBytes, progress.Last().Item1);
        var restored = new BackupRestore().Restore(listed[1], P("restored.db"), false, null);
        Assert.Equal(src.Backups[1].Tables.Single(t => t.Name == "t").Rows, Count(restored.Destination, "t"));

        // Refreshing again fetches no artifact and keeps the fetched one.
        vault.Refresh();
        Assert.True(File.Exists(listed[1].Location));
    }

    [Fact]
    public void A_mirrored_artifact_damaged_after_it_was_fetched_is_fetched_again()
    {
        var (src, remote, vault) = Remote(walSyncs: 1);
        using var _ = vault;
        vault.Refresh();
        var listed = BackupVault.OpenExisting(vault.CacheRoot).List().Single(x => x.Id == src.Backups[0].Id);
        vault.FetchBackup(listed);
        var bytes = File.ReadAllBytes(listed.Location);
        bytes[bytes.Length / 2] ^= 0x01; // the mirror's disk damaged it: same length, other bytes
        File.WriteAllBytes(listed.Location, bytes);

        vault.FetchBackup(listed);
        Assert.Equal(listed.Sha256, DirectoryStore.Sha256Of(listed.Location));
        var restored = new BackupRestore().Restore(listed, P("again.db"), false, null);
        Assert.Equal(src.Backups[0].Tables.Single(t => t.Name == "t").Rows, Count(restored.Destination, "t"));
    }

    [Fact]
    public void A_damaged_remote_artifact_is_OffsiteCopyDamaged_and_is_not_used()
    {
        var (src, remote, vault) = Remote(walSyncs: 1);
        using var _ = vault;
        var b = src.Backups[0];
        string remoteArtifact = Path.Combine(remote, src.ArtifactKey(b));
        var bytes = File.ReadAllBytes(remoteArtifact);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(remoteArtifact, bytes);

        vault.Refresh();
        var listed = BackupVault.OpenExisting(vault.CacheRoot).List().Single(x => x.Id == b.Id);
        var ex = Assert.Throws<TursoBackupException>(() => vault.FetchBackup(listed));
        Assert.Equal(FailureKind.InvalidData, ex.Kind);
        Assert.Equal("OffsiteCopyDamaged", ex.ErrorId);
        Assert.Contains(src.ArtifactKey(b), ex.Message);
        Assert.Contains(b.Sha256, ex.Message);
        Assert.Contains("Sync-TursoVault", ex.Message);
        Assert.False(File.Exists(listed.Location));
        Assert.DoesNotContain(VaultFiles.AllFiles(vault.CacheRoot), f => f.EndsWith(".partial"));

        // A damaged WAL snapshot likewise.
        string gen = new WalArchiveLayout(remote, "app").Generations().Single();
        string snap = new WalArchiveLayout(remote, "app").SnapshotPath(gen);
        bytes = File.ReadAllBytes(snap);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(snap, bytes);
        var wex = Assert.Throws<TursoBackupException>(() => vault.FetchWal("app"));
        Assert.Equal("OffsiteCopyDamaged", wex.ErrorId);
        Assert.False(File.Exists(new WalArchiveLayout(vault.CacheRoot, "app").SnapshotPath(gen)));
    }

    [Fact]
    public void Refresh_removes_what_the_remote_no_longer_holds()
    {
        var (src, remote, vault) = Remote(walSyncs: 1);
        using var _ = vault;
        vault.Refresh();
        var gone = BackupVault.OpenExisting(vault.CacheRoot).List().Single(x => x.Id == src.Backups[0].Id);
        vault.FetchBackup(gone);
        Assert.True(File.Exists(gone.Location));

        VaultUnits.Remove(new DirectoryStore(remote), src.Unit(src.Backups[0]), src.Unit(src.Backups[0]) + "manifest.json", CancellationToken.None);
        vault.Refresh();
        Assert.Equal(new[] { src.Backups[1].Id }, BackupVault.OpenExisting(vault.CacheRoot).List().Select(x => x.Id));
        Assert.False(File.Exists(gone.Location));
        Assert.False(Directory.Exists(Path.GetDirectoryName(gone.Location)));
    }

    [Fact]
    public void FetchWal_then_point_in_time_restore_works_from_the_mirror()
    {
        var (src, remote, vault) = Remote(walSyncs: 3);
        using var _ = vault;
        vault.Refresh();
        Assert.DoesNotContain(VaultFiles.AllFiles(vault.CacheRoot), k => k.EndsWith(".seg") || k.EndsWith(".pack") || k.EndsWith(".zst"));
        vault.FetchWal("app");
        foreach (var (rows, at) in src.Points)
        {
            string target = P($"pitr-{rows}.db");
            WalRestore.Restore(vault.CacheRoot, "app", at, target, false, null, DateTimeOffset.UtcNow);
            Assert.Equal(rows, Count(target, "t"));
        }
        SqliteConnection.ClearAllPools();
        Assert.Throws<TursoBackupException>(() => vault.FetchWal("../etc"));
    }

    /// <summary>A Test-Backup of a backup of the mirror is recorded in the remote vault, and the local vault's offsite record reads it there.</summary>
    [Fact]
    public void A_test_of_an_offsite_backup_is_pushed_to_the_remote_and_read_back_by_the_offsite_log()
    {
        var (src, remote, vault) = Remote(walSyncs: 1);
        using var _ = vault;
        vault.Refresh();
        var b = BackupVault.OpenExisting(vault.CacheRoot).List().Single(x => x.Id == src.Backups[1].Id);
        vault.FetchBackup(b);
        var test = new Engine.Verification.BackupVerifier().Test(b);
        Assert.True(test.Passed, test.FailedChecks);
        vault.PushVerifications("app");
        Assert.True(File.Exists(Path.Combine(remote, "databases", "app", "verifications.jsonl")));
        Assert.False(File.Exists(Path.Combine(src.Root, "databases", "app", "verifications.jsonl")));

        var store = new DirectoryStore(remote);
        var result = new VaultSync(src.Store(), store).Run();
        Assert.Equal(0, result.Copied);
        OffsiteLog.Record(src.Root, store, result, CancellationToken.None);
        var s = Assert.Single(OffsiteLog.Read(src.Root, DateTimeOffset.UtcNow, TimeSpan.FromDays(1)));
        Assert.True(s.LastVerificationPassed);
        Assert.Equal(BackupManifest.ParseTime(BackupManifest.Time(test.TestedAt)), s.LastVerifiedAt);

        // A refresh keeps the remote's log in the mirror.
        vault.Refresh();
        Assert.Single(Engine.Verification.VerificationLog.Read(vault.CacheRoot, "app"));
    }

    [Fact]
    public void A_remote_without_a_vault_is_VaultNotFound()
    {
        Directory.CreateDirectory(P("empty"));
        File.WriteAllText(P("empty/readme.txt"), "no vault here");
        using var vault = OffsiteVault.ForTests(new DirectoryStore(P("empty")), P("cache"));
        var ex = Assert.Throws<TursoBackupException>(() => vault.Refresh());
        Assert.Equal(FailureKind.NotFound, ex.Kind);
        Assert.Equal("VaultNotFound", ex.ErrorId);
        Assert.Contains("Sync-TursoVault", ex.Message);
    }
}
