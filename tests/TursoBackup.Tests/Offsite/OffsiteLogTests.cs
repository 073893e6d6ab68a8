using TursoBackup.Engine.Offsite;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Wal;

namespace TursoBackup.Tests.Offsite;

/// <summary><see cref="OffsiteLog"/>: what a local vault records of its offsite copies (offsite.json) and reads back.</summary>
public sealed class OffsiteLogTests : TempFolderTest
{
    private static readonly TimeSpan Rpo = TimeSpan.FromDays(1);

    private static VaultSyncResult SyncAndRecord(SourceVault src, IObjectStore dest, Func<string, bool> filter = null)
    {
        var result = new VaultSync(src.Store(), dest) { Filter = filter }.Run();
        OffsiteLog.Record(src.Root, dest, result, CancellationToken.None);
        return result;
    }

    private static DateTimeOffset IdTime(string id) =>
        DateTimeOffset.ParseExact(id.Substring(0, 20), "yyyyMMdd'T'HHmmss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);

    [Fact]
    public void Record_then_Read_gives_the_newest_copy_missing_backups_verification_and_wal_shipped()
    {
        var src = SourceVault.Make(P("src"), walSyncs: 1);
        var dest = new DirectoryStore(P("dest"));
        var before = DateTimeOffset.UtcNow;
        var result = SyncAndRecord(src, dest);
        Assert.Equal(0, result.Failed);
        Assert.True(File.Exists(OffsiteLog.PathFor(src.Root)));
        Assert.DoesNotContain("offsite.json", VaultFiles.AllFiles(P("dest")));

        var s = Assert.Single(OffsiteLog.Read(src.Root, DateTimeOffset.UtcNow, Rpo));
        Assert.Equal(dest.DisplayName, s.Destination);
        Assert.Equal("app", s.Database);
        Assert.Null(s.LastError);
        Assert.True(s.LastSyncAt >= before.AddSeconds(-1));
        Assert.Equal(s.LastSyncAt, s.LastAttemptAt);
        Assert.Equal(src.Backups[1].Id, s.NewestCopyId);
        Assert.Equal(IdTime(src.Backups[1].Id), s.NewestCopyAt);
        Assert.Equal(0, s.Missing);
        Assert.Null(s.LastVerifiedAt);
        var state = WalArchiveState.Load(new WalArchiveLayout(src.Root, "app").StatePath);
        Assert.Equal(state.LastSyncAt, s.WalShippedAt);
        Assert.Equal(TimeSpan.Zero, s.OffsiteLag);
        Assert.True(s.RpoMet);
        Assert.True(s.NewestCopyAge < TimeSpan.FromMinutes(5));

        // Two new backups, only one of them copied; the destination's own verification log says its newest test failed.
        var b3 = src.Backup();
        var b4 = src.Backup();
        File.WriteAllText(Path.Combine(P("dest"), "databases", "app", "verifications.jsonl"),
            "{\"backupId\":\"" + src.Backups[0].Id + "\",\"testedAt\":\"2026-12-01T10:00:00.0000000Z\",\"passed\":true,\"restoreMs\":5,\"rtoMs\":null,\"failed\":[]}\n" +
            "{\"backupId\":\"" + src.Backups[1].Id + "\",\"testedAt\":\"2026-12-02T10:00:00.0000000Z\",\"passed\":false,\"restoreMs\":5,\"rtoMs\":null,\"failed\":[\"rows\"]}\n" +
            "{\"backupId\":\"" + src.Backups[1].Id + "\",\"testedAt\":\"2026-11-30T10:00:00.0000000Z\",\"passed\":true,\"restoreMs\":5,\"rtoMs\":null,\"failed\":[]}\n" +
            "{\"torn");
        SyncAndRecord(src, dest, k => !k.Contains(b4.Id));
        s = Assert.Single(OffsiteLog.Read(src.Root, DateTimeOffset.UtcNow, Rpo));
        Assert.Equal(b3.Id, s.NewestCopyId);
        Assert.Equal(1, s.Missing);
        Assert.Equal(DateTimeOffset.Parse("2026-12-02T10:00:00Z"), s.LastVerifiedAt);
        Assert.False(s.LastVerificationPassed);
        Assert.Null(s.LastError);
    }

    [Fact]
    public void Failures_are_recorded_and_the_last_success_kept()
    {
        var src = SourceVault.Make(P("src"), walSyncs: 1);
        var dest = new DirectoryStore(P("dest"));
        SyncAndRecord(src, dest);
        var ok = Assert.Single(OffsiteLog.Read(src.Root, DateTimeOffset.UtcNow, Rpo));

        // A sync with a failed item (a damaged new backup): the error is recorded, the last success stays.
        Thread.Sleep(20);
        var b3 = src.Backup();
        var bytes = File.ReadAllBytes(b3.Location);
        bytes[bytes.Length / 2] ^= 1;
        File.WriteAllBytes(b3.Location, bytes);
        var result = SyncAndRecord(src, dest);
        Assert.Equal(2, result.Failed);
        var s = Assert.Single(OffsiteLog.Read(src.Root, DateTimeOffset.UtcNow, Rpo));
        Assert.Equal(ok.LastSyncAt, s.LastSyncAt);
        Assert.True(s.LastAttemptAt > s.LastSyncAt);
        Assert.Contains(b3.Id, s.LastError);
        Assert.Equal(1, s.Missing);
        Assert.Equal(src.Backups[1].Id, s.NewestCopyId);

        // A sync that failed as a whole.
        OffsiteLog.RecordFailure(src.Root, dest.DisplayName, "the destination is unreachable (test)");
        s = Assert.Single(OffsiteLog.Read(src.Root, DateTimeOffset.UtcNow, Rpo));
        Assert.Equal("the destination is unreachable (test)", s.LastError);
        Assert.Equal(ok.LastSyncAt, s.LastSyncAt);

        // Judged against the RPO at a later "now".
        var late = OffsiteLog.Read(src.Root, DateTimeOffset.UtcNow.AddDays(2), Rpo).Single();
        Assert.False(late.RpoMet);

        // A second destination is recorded beside the first.
        SyncAndRecord(src, new DirectoryStore(P("dest2")), k => !k.Contains(b3.Id));
        Assert.Equal(2, OffsiteLog.Read(src.Root, DateTimeOffset.UtcNow, Rpo).Count);
    }

    [Fact]
    public void A_damaged_offsite_json_reads_as_nothing_recorded_and_is_rewritten()
    {
        var src = SourceVault.Make(P("src"), walSyncs: 1);
        File.WriteAllText(OffsiteLog.PathFor(src.Root), "{ not json");
        Assert.Empty(OffsiteLog.Read(src.Root, DateTimeOffset.UtcNow, Rpo));
        SyncAndRecord(src, new DirectoryStore(P("dest")));
        Assert.Single(OffsiteLog.Read(src.Root, DateTimeOffset.UtcNow, Rpo));
    }
}
