using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Incremental;
using TursoBackup.Engine.Offsite;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Verification;
using TursoBackup.Tests.Offsite;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests.Incremental;

/// <summary>
/// Incremental backups offsite: a sync copies the packs the destination lacks (and only those), each pack's index after
/// the pack and every manifest after the indexes, so a destination never lists a backup whose pages it does not hold —
/// even when the sync dies half-way. The destination restores and tests on its own; a mirror fetches the packs.
/// </summary>
public sealed class IncrementalOffsiteTests : IncrementalTest
{
    private string MakeDatabase() => MakeDatabase(10000, indexed: false);

    [Fact]
    public void ASyncCopiesOnlyTheMissingPacksAndTheDestinationRestoresOnItsOwn()
    {
        string db = MakeDatabase();
        var first = Backup(db);
        TouchRows(db, 100);
        var second = Backup(db);
        var dest = new DirectoryStore(P("dest"));
        var sync = new VaultSync(new DirectoryStore(P("vault")), dest).Run();
        Assert.Equal(0, sync.Failed);
        Assert.Contains(sync.Items, i => i.Key == $"pages/app/{first.Pages.Packs[0]}.pack" && i.Action == VaultSyncAction.Copied);

        // Another change: the next sync sends that backup's new pack, its index, map and manifest — no older pack.
        TouchRows(db, 100);
        var third = Backup(db);
        var again = new VaultSync(new DirectoryStore(P("vault")), dest).Run();
        Assert.Equal(0, again.Failed);
        var copiedPages = again.Items.Where(i => i.Action == VaultSyncAction.Copied && i.Key.StartsWith("pages/", StringComparison.Ordinal)).Select(i => i.Key).OrderBy(k => k).ToList();
        Assert.Equal(third.Pages.Packs.SelectMany(p => new[] { $"pages/app/{p}.idx", $"pages/app/{p}.pack" }).OrderBy(k => k), copiedPages);
        long sent = again.Items.Where(i => i.Action == VaultSyncAction.Copied).Sum(i => i.Bytes);
        Assert.True(sent < first.Pages.NewBytes / 3, $"the second sync sent {sent} bytes; the whole store is {first.Pages.NewBytes}");

        // The destination alone, as a vault: every backup restores to the same bytes and passes Test-Backup.
        var there = BackupVault.OpenExisting(P("dest")).List("app").OrderBy(b => b.Id, StringComparer.Ordinal).ToList();
        Assert.Equal(new[] { first.Id, second.Id, third.Id }, there.Select(b => b.Id));
        foreach (var (here, copy) in new[] { first, second, third }.Zip(there))
        {
            Assert.Equal(RestoreTo(here, here.Id + "-here.db"), RestoreTo(copy, here.Id + "-there.db"));
            var test = new BackupVerifier().Test(copy);
            Assert.True(test.Passed, string.Join("; ", test.Checks.Where(c => !c.Passed).Select(c => c.Name + ": " + c.Detail)));
        }

        // Read through a mirror of the destination (as Restore-TursoBackup -Vault <remote> does): the packs come on demand.
        using var offsite = OffsiteVault.ForTests(new DirectoryStore(P("dest")), P("cache"));
        offsite.Refresh();
        var mirrored = BackupVault.OpenExisting(offsite.CacheRoot).List("app").Single(b => b.Id == third.Id);
        offsite.FetchBackup(mirrored);
        Assert.Equal(RestoreTo(third, "third-here.db"), RestoreTo(mirrored, "third-mirror.db"));
    }

    /// <summary>Copy-TursoBackup names one backup's folder: an Incremental one goes with the packs it needs.</summary>
    [Fact]
    public void CopyingOneIncrementalBackupTakesItsPagesAlong()
    {
        string db = MakeDatabase();
        Backup(db);
        TouchRows(db, 20);
        var second = Backup(db);
        string unit = $"databases/app/{second.Id}/";
        var result = new VaultSync(new DirectoryStore(P("vault")), new DirectoryStore(P("dest"))) { Filter = k => k.StartsWith(unit, StringComparison.Ordinal) || k == "vault.json" }.Run();
        Assert.Equal(0, result.Failed);
        var copy = Assert.Single(BackupVault.OpenExisting(P("dest")).List("app"));
        Assert.Equal(second.Id, copy.Id);
        Assert.True(new BackupVerifier().Test(copy).Passed);
        Assert.Equal(RestoreTo(second, "here.db"), RestoreTo(copy, "there.db"));
    }

    [Fact]
    public void ASyncThatDiesHalfWayNeverListsABackupWhosePagesAreMissing()
    {
        string db = MakeDatabase();
        Backup(db);
        var dest = new DirectoryStore(P("dest"));
        Assert.Equal(0, new VaultSync(new DirectoryStore(P("vault")), dest).Run().Failed);
        TouchRows(db, 20);
        var next = Backup(db);

        // The destination dies at the first object of the next sync (the new backup's pack or map, largest first).
        var faulty = new FaultyStore(dest) { DieAtPut = 0 };
        Assert.ThrowsAny<Exception>(() => new VaultSync(new DirectoryStore(P("vault")), faulty) { Transfers = 1 }.Run());
        Assert.DoesNotContain(BackupVault.OpenExisting(P("dest")).List("app"), b => b.Id == next.Id);
        Assert.False(File.Exists(Path.Combine(P("dest"), "pages", "app", next.Pages.Packs[0] + PageStore.IndexExtension)));

        // The next sync completes it.
        Assert.Equal(0, new VaultSync(new DirectoryStore(P("vault")), dest).Run().Failed);
        var copy = BackupVault.OpenExisting(P("dest")).List("app").Single(b => b.Id == next.Id);
        Assert.True(new BackupVerifier().Test(copy).Passed);
    }

    [Fact]
    public void EncryptingOnTheWayNeverSendsIncrementalPagesInTheClear()
    {
        string db = MakeDatabase();
        var incremental = Backup(db);
        var snapshot = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = P("vault") });
        var view = new EncryptingView(new DirectoryStore(P("vault")), "dest", new Engine.Crypto.EncryptionKeys { Passphrase = Secure("pass phrase") });
        view.Prepare(null, CancellationToken.None);
        var result = new VaultSync(view, new DirectoryStore(P("dest"))).Run();
        Assert.Contains(view.Problems, p => p.Key == "pages/app" && p.Value.Contains("not encrypted on the way"));
        Assert.Contains(view.Problems, p => p.Key == "databases/app/" + incremental.Id);
        Assert.False(Directory.Exists(Path.Combine(P("dest"), "pages")));
        Assert.DoesNotContain(BackupVault.OpenExisting(P("dest")).List("app"), b => b.Id == incremental.Id);
        Assert.Contains(BackupVault.OpenExisting(P("dest")).List("app"), b => b.Id == snapshot.Id && b.Encrypted);
    }

    private static System.Security.SecureString Secure(string s)
    {
        var secure = new System.Security.SecureString();
        foreach (char ch in s) secure.AppendChar(ch);
        secure.MakeReadOnly();
        return secure;
    }
}
