using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Offsite;
using TursoBackup.Engine.Restore;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Wal;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests.Offsite;

/// <summary>
/// <see cref="VaultSync"/> between real vaults (made by the real engine) and folder destinations, some of them behind a
/// <see cref="FaultyStore"/> that dies mid-sync or damages bytes on the way.
/// </summary>
public sealed class VaultSyncTests : TempFolderTest
{
    private static VaultSyncResult Sync(IObjectStore from, IObjectStore to, Action<VaultSync> setup = null)
    {
        var sync = new VaultSync(from, to);
        setup?.Invoke(sync);
        return sync.Run();
    }

    [Fact]
    public void A_synced_vault_lists_the_same_backups_and_restores_the_same_data_including_point_in_time()
    {
        var src = SourceVault.Make(P("src"));
        var result = Sync(src.Store(), new DirectoryStore(P("dest")));
        Assert.Equal(0, result.Failed);
        Assert.True(result.Copied > 5, result.ToString());
        Assert.Equal(result.Items.Where(i => i.Action == VaultSyncAction.Copied).Sum(i => i.Bytes), result.Bytes);
        Assert.Equal(src.Backups.Select(b => "app/" + b.Id).OrderBy(s => s, StringComparer.Ordinal), result.Backups);
        Assert.Equal(VaultFiles.Copyable(src.Root), VaultFiles.Copyable(P("dest")));

        // The destination alone: listed, restored and tested like the source.
        var listed = BackupVault.OpenExisting(P("dest")).List();
        Assert.Equal(src.Backups.Select(b => (b.Id, b.Sha256)), listed.OrderBy(b => b.Id, StringComparer.Ordinal).Select(b => (b.Id, b.Sha256)));
        foreach (var (b, copy) in src.Backups.Zip(listed.OrderBy(b => b.Id, StringComparer.Ordinal)))
        {
            Assert.StartsWith(P("dest"), copy.Location);
            var restored = new BackupRestore().Restore(copy, P("r-" + b.Id + ".db"), false, null);
            Assert.Equal(b.Tables.Single(t => t.Name == "t").Rows, Count(restored.Destination, "t"));
        }
        var window = WalRestore.Window(P("dest"), SourceVault.Database);
        Assert.Empty(window.Gaps);
        foreach (var (rows, at) in src.Points)
        {
            string target = P($"pitr-{rows}.db");
            WalRestore.Restore(P("dest"), SourceVault.Database, at, target, false, null, DateTimeOffset.UtcNow);
            Assert.Equal(rows, Count(target, "t"));
            Assert.Equal("ok", Scalar(target, "PRAGMA integrity_check"));
        }
        Directory.Delete(src.Root, true); // nothing of the destination refers to the source
        SqliteConnection.ClearAllPools();
        string latest = P("latest.db");
        WalRestore.Restore(P("dest"), SourceVault.Database, DateTimeOffset.UtcNow, latest, false, null, DateTimeOffset.UtcNow);
        Assert.Equal(src.Points.Last().Rows, Count(latest, "t"));
    }

    [Fact]
    public void A_second_sync_copies_nothing_and_after_a_new_backup_only_its_files()
    {
        var src = SourceVault.Make(P("src"), walSyncs: 2);
        var first = Sync(src.Store(), new DirectoryStore(P("dest")));
        Assert.Equal(0, first.Failed);

        var second = Sync(src.Store(), new DirectoryStore(P("dest")));
        Assert.Equal(0, second.Copied);
        Assert.Equal(0, second.Failed);
        Assert.Equal(first.Copied, second.Skipped);
        Assert.All(second.Items, i => Assert.Equal("present", i.Reason));
        Assert.Equal(0, second.Bytes);

        var b3 = src.Backup();
        var third = Sync(src.Store(), new DirectoryStore(P("dest")));
        Assert.Equal(new[] { src.ArtifactKey(b3), src.Unit(b3) + "manifest.json" }.OrderBy(k => k, StringComparer.Ordinal),
            third.Items.Where(i => i.Action == VaultSyncAction.Copied).Select(i => i.Key));
        Assert.Equal(3, BackupVault.OpenExisting(P("dest")).List().Count);
        Assert.Equal(VaultFiles.Copyable(src.Root), VaultFiles.Copyable(P("dest")));

        // A mutable file that changed (a new gap line) is copied again, by content.
        File.AppendAllText(new WalArchiveLayout(src.Root, "app").GapsPath, "{\"from\":\"2026-01-01T00:00:00.0000000Z\",\"to\":\"2026-01-01T00:00:01.0000000Z\",\"reason\":\"test\"}\n");
        var fourth = Sync(src.Store(), new DirectoryStore(P("dest")));
        Assert.Equal(new[] { "wal/app/gaps.jsonl" }, fourth.Items.Where(i => i.Action == VaultSyncAction.Copied).Select(i => i.Key));
    }

    /// <summary>
    /// The destination dies at every Put in turn (the Put's upload breaks half-way, then everything is unreachable): a
    /// reader of it never sees a backup without its artifact or a generation without its snapshot, and the next sync
    /// completes it. Sequential (every index) and with 4 transfers at once.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void A_destination_dying_at_any_put_never_lists_a_half_backup_and_the_next_sync_completes_it(int transfers)
    {
        var src = SourceVault.Make(P("src"), walSyncs: 3);
        Directory.CreateDirectory(P("count"));
        var counting = new FaultyStore(new DirectoryStore(P("count")));
        Assert.Equal(0, Sync(src.Store(), counting, s => s.Transfers = transfers).Failed);
        int total = counting.Puts;
        Assert.Equal(VaultFiles.Copyable(src.Root).Count, total);

        for (int n = 0; n < total; n++)
        {
            string dest = P($"dest{n}");
            Directory.CreateDirectory(dest);
            var dying = new FaultyStore(new DirectoryStore(dest)) { DieAtPut = n };
            try
            {
                // The broken upload is a failed item; what comes after it finds the destination gone (unless it was the last).
                var r = Sync(src.Store(), dying, s => s.Transfers = transfers);
                Assert.True(r.Failed > 0 || dying.PutKeys.Last() == dying.PutKeys.Distinct().Last(), r.ToString());
            }
            catch (TursoBackupException ex)
            {
                Assert.Equal(FailureKind.Unreachable, ex.Kind);
            }
            VaultFiles.AssertWhole(dest, $"died at put {n} ({dying.PutKeys.Last()})");
            Assert.DoesNotContain(VaultFiles.AllFiles(dest), f => f.EndsWith(".partial"));

            var again = Sync(src.Store(), new DirectoryStore(dest), s => s.Transfers = transfers);
            Assert.Equal(0, again.Failed);
            Assert.Equal(VaultFiles.Copyable(src.Root), VaultFiles.Copyable(dest));
            Assert.Equal(2, BackupVault.OpenExisting(dest).List().Count);
        }
    }

    [Fact]
    public void A_damaged_source_artifact_is_reported_and_its_manifest_is_not_copied()
    {
        var src = SourceVault.Make(P("src"), walSyncs: 1);
        var damaged = src.Backups[0];
        Flip(damaged.Location);

        var result = Sync(src.Store(), new DirectoryStore(P("dest")));
        Assert.Equal(2, result.Failed);
        var artifact = result.FailedItems.Single(i => i.Key == src.ArtifactKey(damaged));
        Assert.Contains("is damaged", artifact.Reason);
        Assert.Contains("its manifest says " + damaged.Sha256, artifact.Reason);
        Assert.Contains("Test-Backup", artifact.Reason);
        var manifest = result.FailedItems.Single(i => i.Key == src.Unit(damaged) + "manifest.json");
        Assert.Contains("stays invisible", manifest.Reason);
        Assert.DoesNotContain("app/" + damaged.Id, result.Backups);
        Assert.Equal(new[] { src.Backups[1].Id }, BackupVault.OpenExisting(P("dest")).List().Select(b => b.Id));
        Assert.Empty(VaultFiles.AllFiles(P("dest/databases/app/" + damaged.Id)));
        VaultFiles.AssertWhole(P("dest"), "after a damaged source");

        Flip(damaged.Location); // repaired: the next sync copies it
        var again = Sync(src.Store(), new DirectoryStore(P("dest")));
        Assert.Equal(0, again.Failed);
        Assert.Equal(2, BackupVault.OpenExisting(P("dest")).List().Count);
    }

    [Fact]
    public void Damage_on_the_way_is_invalid_data_and_leaves_the_unit_invisible()
    {
        var src = SourceVault.Make(P("src"), walSyncs: 1);
        var victim = src.Backups[1];
        Directory.CreateDirectory(P("dest"));
        var store = new FaultyStore(new DirectoryStore(P("dest")))
        {
            CorruptKey = k => k == src.ArtifactKey(victim) || k.EndsWith("/snapshot.db.zst"),
        };
        var result = Sync(src.Store(), store);
        var failedArtifact = result.FailedItems.Single(i => i.Key == src.ArtifactKey(victim));
        Assert.Contains("damaged on the way", failedArtifact.Reason);
        Assert.DoesNotContain("its manifest says", failedArtifact.Reason);
        Assert.Contains(result.FailedItems, i => i.Key.EndsWith("/snapshot.db.zst"));
        Assert.Contains(result.FailedItems, i => i.Key.EndsWith("/snapshot.json"));
        Assert.Contains(result.FailedItems, i => i.Key == src.Unit(victim) + "manifest.json");
        Assert.Equal(new[] { src.Backups[0].Id }, BackupVault.OpenExisting(P("dest")).List().Select(b => b.Id));
        Assert.Empty(new WalArchiveLayout(P("dest"), "app").Generations());
        Assert.DoesNotContain(VaultFiles.AllFiles(P("dest")), f => f.EndsWith(".partial"));
        VaultFiles.AssertWhole(P("dest"), "after damage on the way");

        var again = Sync(src.Store(), new DirectoryStore(P("dest")));
        Assert.Equal(0, again.Failed);
        Assert.Equal(VaultFiles.Copyable(src.Root), VaultFiles.Copyable(P("dest")));
    }

    /// <summary>A backup whose artifact the source lacks (a damaged vault): its manifest is not copied either.</summary>
    [Fact]
    public void A_backup_whose_artifact_is_missing_at_the_source_is_not_made_visible_at_the_destination()
    {
        var src = SourceVault.Make(P("src"), walSyncs: 1);
        var broken = src.Backups[0];
        File.Delete(broken.Location);
        File.Delete(new WalArchiveLayout(src.Root, "app").SnapshotPath(new WalArchiveLayout(src.Root, "app").Generations().Single()));

        var result = Sync(src.Store(), new DirectoryStore(P("dest")));
        var manifest = result.FailedItems.Single(i => i.Key == src.Unit(broken) + "manifest.json");
        Assert.Contains(src.ArtifactKey(broken), manifest.Reason);
        Assert.Single(result.FailedItems, i => i.Key.EndsWith("/snapshot.json"));
        Assert.DoesNotContain("app/" + broken.Id, result.Backups);
        Assert.Equal(new[] { src.Backups[1].Id }, BackupVault.OpenExisting(P("dest")).List().Select(b => b.Id));
        Assert.Empty(new WalArchiveLayout(P("dest"), "app").Generations());
        VaultFiles.AssertWhole(P("dest"), "after a source missing an artifact");

        // -WhatIf says the same.
        var whatIf = Sync(src.Store(), new DirectoryStore(P("dest2")), s => s.WhatIf = true);
        Assert.Contains(whatIf.FailedItems, i => i.Key == src.Unit(broken) + "manifest.json");
    }

    [Fact]
    public void WhatIf_copies_nothing_and_lists_what_it_would_copy()
    {
        var src = SourceVault.Make(P("src"), walSyncs: 1);
        var whatIf = Sync(src.Store(), new DirectoryStore(P("dest")), s => s.WhatIf = true);
        Assert.True(whatIf.WhatIf);
        Assert.False(Directory.Exists(P("dest")));
        Assert.Equal(0, whatIf.Copied);
        Assert.Equal(0, whatIf.Bytes);
        Assert.Empty(whatIf.Backups);
        Assert.Equal(VaultFiles.Copyable(src.Root).Keys, whatIf.Items.Select(i => i.Key));
        Assert.All(whatIf.Items, i => Assert.Equal(VaultSyncAction.WouldCopy, i.Action));

        // Against a destination holding part of it: only what is missing.
        Sync(src.Store(), new DirectoryStore(P("dest")), s => s.Filter = k => k == "vault.json" || k.StartsWith("databases/"));
        var rest = Sync(src.Store(), new DirectoryStore(P("dest")), s => s.WhatIf = true);
        Assert.All(rest.Items.Where(i => i.Action == VaultSyncAction.WouldCopy), i => Assert.StartsWith("wal/", i.Key));
        Assert.All(rest.Items.Where(i => i.Key.StartsWith("databases/")), i => Assert.Equal(VaultSyncAction.Skipped, i.Action));
        Assert.False(Directory.Exists(P("dest/wal")));
    }

    [Fact]
    public void Filter_restricts_the_sync()
    {
        var src = SourceVault.Make(P("src"), walSyncs: 1);
        var one = src.Backups[1];
        var result = Sync(src.Store(), new DirectoryStore(P("dest")), s => s.Filter = k => k == "vault.json" || k.StartsWith(src.Unit(one)));
        Assert.Equal(new[] { src.ArtifactKey(one), src.Unit(one) + "manifest.json", "vault.json" }.OrderBy(k => k, StringComparer.Ordinal),
            result.Items.Select(i => i.Key));
        Assert.Equal(new[] { "app/" + one.Id }, result.Backups);
        Assert.Equal(new[] { one.Id }, BackupVault.OpenExisting(P("dest")).List().Select(b => b.Id));
        Assert.False(Directory.Exists(P("dest/wal")));
    }

    /// <summary>The cache, work in progress, locks, offsite.json and each vault's own verification log stay home.</summary>
    [Fact]
    public void Caches_work_in_progress_locks_and_the_verification_log_are_not_copied()
    {
        var src = SourceVault.Make(P("src"), walSyncs: 1);
        BackupVault.OpenExisting(src.Root).List(); // writes index.json
        Assert.True(File.Exists(Path.Combine(src.Root, "databases", "app", "index.json")));
        File.WriteAllText(Path.Combine(src.Root, "databases", "app", "verifications.jsonl"),
            "{\"backupId\":\"" + src.Backups[0].Id + "\",\"testedAt\":\"2026-12-01T00:00:00.0000000Z\",\"passed\":true,\"restoreMs\":1,\"rtoMs\":null,\"failed\":[]}\n");
        using (BackupVault.OpenExisting(src.Root).CreateStaging("20261201T000000.000Z-abcdef", "test"))
        {
            File.WriteAllText(Path.Combine(src.Root, ".staging", "20261201T000000.000Z-abcdef", "app.db.zst.partial"), "half");
            File.WriteAllText(Path.Combine(src.Root, "offsite.json"), "{}");
            string gen = new WalArchiveLayout(src.Root, "app").Generations().Single();
            File.WriteAllText(Path.Combine(src.Root, "wal", "app", "generations", gen, "segments", ".0000000099.seg.abc.partial"), "x");
            File.WriteAllText(Path.Combine(src.Root, "wal", "app", "generations", gen, "segments", "0000000098.seg.tmp"), "x");
            File.WriteAllText(Path.Combine(src.Root, "wal", "app", "archiver.lock"), "");
            File.WriteAllText(Path.Combine(src.Root, "stray.txt"), "not a vault file");

            var result = Sync(src.Store(), new DirectoryStore(P("dest")));
            Assert.Equal(0, result.Failed);
        }
        var copied = VaultFiles.AllFiles(P("dest"));
        Assert.DoesNotContain(copied, f => f.Contains("index.json") || f.Contains("verifications.jsonl") || f.Contains(".staging") || f.Contains(".lock")
                                           || f.Contains(".partial") || f.EndsWith(".tmp") || f == "offsite.json" || f == "stray.txt");
        Assert.Equal(VaultFiles.Copyable(src.Root).Keys, copied);
    }

    [Fact]
    public void A_missing_source_or_unreachable_destination_is_a_clear_error_and_copies_nothing()
    {
        var src = SourceVault.Make(P("src"), walSyncs: 1);
        var ex = Assert.Throws<TursoBackupException>(() => Sync(new DirectoryStore(P("nowhere")), new DirectoryStore(P("dest"))));
        Assert.Equal(FailureKind.NotFound, ex.Kind);
        Assert.Contains(P("nowhere"), ex.Message);

        var down = new FaultyStore(new DirectoryStore(P("dest2"))) { Down = true };
        Directory.CreateDirectory(P("dest2"));
        var ex2 = Assert.Throws<TursoBackupException>(() => Sync(src.Store(), down));
        Assert.Equal(FailureKind.Unreachable, ex2.Kind);
        Assert.Empty(VaultFiles.AllFiles(P("dest2")));
    }

    [Fact]
    public void Removing_a_unit_deletes_its_commit_key_first_and_a_stopped_removal_is_finished_by_the_next()
    {
        var src = SourceVault.Make(P("src"), walSyncs: 2);
        Sync(src.Store(), new DirectoryStore(P("dest")));
        var b = src.Backups[0];
        var recording = new FaultyStore(new DirectoryStore(P("dest")));
        VaultUnits.Remove(recording, src.Unit(b), src.Unit(b) + "manifest.json", CancellationToken.None);
        Assert.Equal(src.Unit(b) + "manifest.json", recording.Deleted.First());
        Assert.Equal(new[] { src.Unit(b) + "manifest.json", src.ArtifactKey(b) }, recording.Deleted);
        Assert.False(Directory.Exists(P("dest/databases/app/" + b.Id)));
        Assert.Equal(new[] { src.Backups[1].Id }, BackupVault.OpenExisting(P("dest")).List().Select(x => x.Id));

        // A WAL generation, stopped after its first delete: no longer listed; the next removal finishes it.
        var layout = new WalArchiveLayout(P("dest"), "app");
        string g = layout.Generations().Single();
        string unit = "wal/app/generations/" + g + "/";
        var dying = new FaultyStore(new DirectoryStore(P("dest"))) { DieAtDelete = 1 };
        Assert.Throws<TursoBackupException>(() => VaultUnits.Remove(dying, unit, unit + "snapshot.json", CancellationToken.None));
        Assert.Equal(new[] { unit + "snapshot.json" }, dying.Deleted);
        Assert.Empty(layout.Generations());
        VaultUnits.Remove(new DirectoryStore(P("dest")), unit, unit + "snapshot.json", CancellationToken.None);
        Assert.False(Directory.Exists(layout.GenerationPath(g)));
        Assert.True(File.Exists(layout.StatePath));
    }

    /// <summary>Retention removes a backup between the sync's listing and its copies: skipped, and not reported as copied.</summary>
    [Fact]
    public void A_backup_removed_at_the_source_during_the_sync_is_skipped_and_not_reported_as_copied()
    {
        var src = SourceVault.Make(P("src"), walSyncs: 1);
        var gone = src.Backups[0];
        var source = new FaultyStore(src.Store())
        {
            AfterList = () => VaultUnits.Remove(src.Store(), src.Unit(gone), src.Unit(gone) + "manifest.json", CancellationToken.None),
        };
        var result = Sync(source, new DirectoryStore(P("dest")));
        Assert.Equal(0, result.Failed);
        Assert.All(result.Items.Where(i => i.Key.StartsWith(src.Unit(gone))), i => Assert.Equal("removed from the source meanwhile", i.Reason));
        Assert.Equal(new[] { "app/" + src.Backups[1].Id }, result.Backups);
        Assert.Equal(new[] { src.Backups[1].Id }, BackupVault.OpenExisting(P("dest")).List().Select(b => b.Id));
        VaultFiles.AssertWhole(P("dest"), "after a removal during the sync");
    }

    private static void Flip(string path)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
    }
}
