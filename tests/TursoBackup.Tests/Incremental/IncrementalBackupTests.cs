using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Incremental;
using TursoBackup.Engine.Restore;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Verification;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests.Incremental;

/// <summary>
/// Incremental backups (docs/vault-format.md, "Incremental"): pages stored once in the database's page store by SHA-256,
/// each backup a page map that restores on its own; removal collects what no backup references, and no interruption
/// loses a page a kept backup needs. Real SQLite files throughout; restored files compared byte for byte with the source.
/// </summary>
public sealed class IncrementalBackupTests : IncrementalTest
{
    private const int Rows = 20000;

    /// <summary>A WAL database of about 12 MiB (4 KiB pages), checkpointed, with rows spread over many pages.</summary>
    private string MakeDatabase() => MakeDatabase(Rows, indexed: true);

    /// <summary>The database's content as a file now (checkpointed first, so the file alone is the database).</summary>
    private static string FileSha(string db)
    {
        using (var c = SqliteFile.OpenReadWrite(db)) Exec(c, "PRAGMA wal_checkpoint(TRUNCATE)");
        return Sha(db);
    }

    [Fact]
    public void ASecondBackupStoresOnlyTheChangedPagesAndEachRestoresOnItsOwn()
    {
        string db = MakeDatabase();
        string before = FileSha(db);
        var first = Backup(db);
        Assert.Equal(BackupKind.Incremental, first.Kind);
        Assert.True(first.Pages.NewPages > first.PageCount * 0.95, $"the first backup stores (nearly) every page: {first.Pages.NewPages} of {first.PageCount}");

        // About 1 % of the rows (and so of the table's pages, plus the index pages their new values move to).
        TouchRows(db, 100);
        string after = FileSha(db);
        var second = Backup(db);
        Assert.Equal(first.PageCount, second.PageCount);
        Assert.True(second.Pages.NewPages < second.PageCount * 0.15, $"only the changed pages are stored: {second.Pages.NewPages} of {second.PageCount}");
        Assert.True(second.Pages.NewBytes < first.Pages.NewBytes / 5, $"{second.Pages.NewBytes} bytes added, the first took {first.Pages.NewBytes}");

        // The manifest says what it holds; listing reads it back.
        var listed = BackupVault.OpenExisting(P("vault")).List("app").Single(b => b.Id == second.Id);
        Assert.Equal(second.Pages.NewPages, listed.Pages.NewPages);
        Assert.Equal(second.Pages.Packs, listed.Pages.Packs);

        Assert.Equal(before, RestoreTo(first, "first.db"));
        Assert.Equal(after, RestoreTo(second, "second.db"));
        Assert.Equal(Rows, Count(P("second.db"), "t"));
        Assert.Equal("ok", Scalar(P("second.db"), "PRAGMA integrity_check"));

        // An unchanged database adds nothing but its map.
        var third = Backup(db);
        Assert.Equal(0, third.Pages.NewPages);
        Assert.Empty(third.Pages.Packs);
    }

    [Fact]
    public void TestBackupProvesEveryPageAndFindsADamagedOrMissingPack()
    {
        string db = MakeDatabase();
        var first = Backup(db);
        TouchRows(db, 50);
        var second = Backup(db);
        var test = new BackupVerifier().Test(second);
        Assert.True(test.Passed, string.Join("; ", test.Checks.Where(c => !c.Passed).Select(c => c.Name + ": " + c.Detail)));
        Assert.Contains(test.Checks, c => c.Name == BackupVerifier.Pages && c.Passed);

        // One byte flipped inside a frame of the second backup's own pack: that backup fails, and says which page.
        var store = new PageStore(P("vault"), "app");
        string pack = store.PackPath(second.Pages.Packs[0]);
        var bytes = File.ReadAllBytes(pack);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(pack, bytes);
        var damaged = new BackupVerifier().Test(second);
        Assert.False(damaged.Passed);
        var pages = damaged.Checks.Single(c => c.Name == BackupVerifier.Pages);
        Assert.False(pages.Passed);
        Assert.Contains("damaged", pages.Detail);
        // The first backup does not use that pack and stays good.
        Assert.True(new BackupVerifier().Test(first).Passed);

        // The first backup's pack lost: both fail, naming a page no pack holds; a restore refuses and leaves nothing.
        File.Delete(store.IndexPath(first.Pages.Packs[0]));
        var lost = new BackupVerifier().Test(first);
        Assert.False(lost.Passed);
        Assert.Contains("which no pack of the page store", lost.Checks.Single(c => c.Name == BackupVerifier.Pages).Detail);
        var ex = Assert.Throws<TursoBackupException>(() => new BackupRestore().Restore(first, P("never.db"), false, null));
        Assert.Equal(FailureKind.InvalidData, ex.Kind);
        Assert.False(File.Exists(P("never.db")));
    }

    /// <summary>A damaged pack index does not stop the next backups: they store the pages it listed again, and the store heals.</summary>
    [Fact]
    public void ADamagedIndexIsLeftOutAndTheNextBackupStoresItsPagesAgain()
    {
        string db = MakeDatabase();
        var first = Backup(db);
        var store = new PageStore(P("vault"), "app");
        var idx = store.IndexPath(first.Pages.Packs[0]);
        var bytes = File.ReadAllBytes(idx);
        bytes[100] ^= 1;
        File.WriteAllBytes(idx, bytes);
        var log = new List<string>();
        var second = new SnapshotBackup { Log = log.Add }.Run(new BackupRequest { SourcePath = db, VaultPath = P("vault"), Kind = BackupKind.Incremental });
        Assert.Contains(log, m => m.Contains("is damaged") && m.Contains("stores the pages it lists again"));
        Assert.True(second.Pages.NewPages > second.PageCount * 0.95);
        Assert.True(new BackupVerifier().Test(second).Passed);
        // The first backup's pages are the same pages: found again in the second's pack, it restores too.
        Assert.True(new BackupVerifier().Test(first).Passed);
    }

    [Fact]
    public void RemovingBackupsCollectsOnlyWhatNoKeptBackupHolds()
    {
        string db = MakeDatabase();
        var first = Backup(db);
        TouchRows(db, 100);
        var second = Backup(db);
        string secondSha = RestoreTo(second, "expected.db");
        var store = new PageStore(P("vault"), "app");
        var vault = BackupVault.OpenExisting(P("vault"));
        long StoreBytes() => Directory.GetFiles(store.Root).Sum(f => new FileInfo(f).Length);
        long full = StoreBytes();

        // The first backup goes: almost all of its pages are the second's too, so its pack stays; the second restores.
        vault.Remove(first);
        Assert.Contains(first.Pages.Packs[0], store.Packs());
        Assert.Equal(secondSha, RestoreTo(second, "after-first-removed.db"));
        Assert.True(StoreBytes() <= full);

        // More changes, a third backup; then the second goes: the pages only it held are collected (its own pack had
        // only pages the third replaced again, so the whole pack goes), and the third still restores.
        TouchRows(db, 100);
        var third = Backup(db);
        string thirdSha = RestoreTo(third, "third-expected.db");
        vault.Remove(second);
        Assert.DoesNotContain(second.Pages.Packs[0], store.Packs());
        Assert.Equal(thirdSha, RestoreTo(third, "after-second-removed.db"));

        // The last one goes: the store is empty.
        vault.Remove(third);
        Assert.Empty(store.Packs());
    }

    [Fact]
    public void APackMostlyUnreferencedIsRewrittenWithItsLivePagesOnly()
    {
        string db = MakeDatabase();
        var first = Backup(db);
        // Most rows rewritten: the second backup shares few pages with the first.
        using (var c = SqliteFile.OpenReadWrite(db)) Exec(c, "UPDATE t SET body = randomblob(500) WHERE id % 4 <> 0");
        var second = Backup(db);
        string expected = RestoreTo(second, "expected.db");
        var store = new PageStore(P("vault"), "app");
        long before = new FileInfo(store.PackPath(first.Pages.Packs[0])).Length;
        BackupVault.OpenExisting(P("vault")).Remove(first);
        Assert.DoesNotContain(first.Pages.Packs[0], store.Packs()); // rewritten under a new name
        long after = store.Packs().Where(p => !second.Pages.Packs.Contains(p)).Sum(p => new FileInfo(store.PackPath(p)).Length);
        Assert.True(after < before / 2, $"the rewritten pack holds the live pages only: {after} of {before} bytes");
        Assert.Equal(expected, RestoreTo(second, "after.db"));
        Assert.True(new BackupVerifier().Test(second).Passed);
    }

    /// <summary>
    /// Every state an interruption can leave (kill -9 between any two file operations) restores every kept backup, and
    /// the next collection clears the rest: a backup killed after its pack was committed but before its manifest; a
    /// pack still .partial; a rewrite killed after the new pack was committed, before the old one went; a removal
    /// killed after the old index went, before its pack.
    /// </summary>
    [Fact]
    public void NoInterruptionLosesAPageAKeptBackupNeeds()
    {
        string db = MakeDatabase();
        var kept = Backup(db);
        string keptSha = RestoreTo(kept, "expected.db");
        var store = new PageStore(P("vault"), "app");

        // A backup killed after committing its pack (its staging folder is gone with the process; its manifest never
        // written): that pack is referenced by nothing.
        TouchRows(db, 10);
        var orphan = Backup(db);
        string orphanFolder = Path.GetDirectoryName(orphan.Location)!;
        Directory.Delete(orphanFolder, true); // as if it was never published
        // A pack still being written, and a removal killed between the index and its pack.
        File.WriteAllBytes(Path.Combine(store.Root, "x-0.pack.partial"), new byte[100]);
        File.Copy(store.PackPath(orphan.Pages.Packs[0]), Path.Combine(store.Root, "y-0.pack"));
        // A rewrite killed after its new pack was committed: the kept pages are in two complete packs.
        File.Copy(store.PackPath(kept.Pages.Packs[0]), store.PackPath("z-0"));
        File.Copy(store.IndexPath(kept.Pages.Packs[0]), store.IndexPath("z-0"));

        Assert.Equal(keptSha, RestoreTo(kept, "during.db"));
        var result = PageStore.CollectUnreferenced(P("vault"), "app", TimeSpan.FromSeconds(5), null, CancellationToken.None)!;
        Assert.Equal(2, result.LeftoversRemoved); // the .partial and the pack without an index
        Assert.DoesNotContain(orphan.Pages.Packs[0], store.Packs()); // the unpublished backup's pack is collected
        Assert.Single(store.Packs()); // of the two copies of the kept pages, one is left
        Assert.Equal(keptSha, RestoreTo(kept, "after.db"));
        Assert.True(new BackupVerifier().Test(kept).Passed);
    }

    [Fact]
    public void ACollectionWaitsForARunningBackupOfTheStore()
    {
        string db = MakeDatabase();
        var first = Backup(db);
        var store = new PageStore(P("vault"), "app");
        using (store.Lock(TimeSpan.FromSeconds(1), "test: a backup running", CancellationToken.None))
        {
            var ex = Assert.Throws<TursoBackupException>(() => PageStore.CollectUnreferenced(P("vault"), "app", TimeSpan.FromMilliseconds(200), null, CancellationToken.None));
            Assert.Equal(FailureKind.Busy, ex.Kind);
            Assert.Contains("test: a backup running", ex.Message);
            // An Incremental backup meanwhile waits for the lock too (and gives up after its -LockTimeout).
            var busy = Assert.Throws<TursoBackupException>(() => new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = P("vault"), Kind = BackupKind.Incremental, LockTimeout = TimeSpan.FromMilliseconds(200) }));
            Assert.Equal(FailureKind.Busy, busy.Kind);
        }
        Assert.True(new BackupVerifier().Test(first).Passed);
    }

    [Fact]
    public void AnEncryptedIncrementalBackupIsRefusedWithTheWayOut()
    {
        string db = MakeDatabase();
        var ex = Assert.Throws<TursoBackupException>(() => new SnapshotBackup().Run(new BackupRequest
        {
            SourcePath = db, VaultPath = P("vault"), Kind = BackupKind.Incremental,
            Encryption = new Engine.Crypto.EncryptionKeys { Recipients = { "unused: refused before any key is read" } },
        }));
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        Assert.Contains("-Kind Snapshot", ex.Message);
        Assert.False(Directory.Exists(Path.Combine(P("vault"), PageStore.Folder, "app")) && Directory.GetFiles(Path.Combine(P("vault"), PageStore.Folder, "app")).Any(f => f.EndsWith(".pack")));
    }
}
