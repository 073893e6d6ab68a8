using System.Diagnostics;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Offsite;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Wal;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests.Offsite;

/// <summary>
/// <see cref="WalShipper"/> beside a real <see cref="WalArchiver"/> on a WAL database being written: what is archived
/// reaches the destination, which restores to the latest point on its own.
/// </summary>
public sealed class WalShipperTests : TempFolderTest
{
    private string MakeDb()
    {
        string db = P("app.db");
        using var c = SqliteFile.OpenOrCreate(db);
        Exec(c, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);");
        return db;
    }

    /// <summary>Writes a row, syncs the archiver and tells the shipper, <paramref name="n"/> times; the rows archived at each sync.</summary>
    private static List<(long Rows, DateTimeOffset At)> Write(WalArchiver archiver, SqliteConnection w, WalShipper shipper, int n, int pauseMs, ref long rows)
    {
        var points = new List<(long, DateTimeOffset)>();
        for (int i = 0; i < n; i++)
        {
            Exec(w, "INSERT INTO t(v) VALUES (randomblob(500));");
            rows++;
            var status = archiver.Sync();
            points.Add((rows, status.LastSyncAt));
            shipper.Notify(status.LastSyncAt);
            Thread.Sleep(pauseMs);
        }
        return points;
    }

    private static void WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < timeout, "timed out waiting for " + what);
            Thread.Sleep(20);
        }
    }

    [Fact]
    public void Everything_archived_is_shipped_and_the_destination_restores_to_the_latest_point()
    {
        string db = MakeDb();
        Directory.CreateDirectory(P("dest"));
        var dest = new FaultyStore(new DirectoryStore(P("dest")));
        long rows = 0;
        List<(long Rows, DateTimeOffset At)> points;
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using (var archiver = new WalArchiver(db, P("vault"), "app") { CheckpointFrames = 20, CheckpointInterval = TimeSpan.Zero, PackFanIn = 4 })
        using (var shipper = new WalShipper(P("vault"), "app", dest) { Interval = TimeSpan.FromMilliseconds(100), Log = log.Enqueue })
        {
            Assert.Null(shipper.ShippedThrough);
            archiver.Sync();
            shipper.Start();
            using (var w = SqliteFile.OpenReadWrite(db, TimeSpan.FromSeconds(10)))
            {
                points = Write(archiver, w, shipper, 40, 15, ref rows);
            }
            WaitFor(() => shipper.ShippedThrough.HasValue, TimeSpan.FromSeconds(20), "a first shipment");
            archiver.Seal();
            var sealedAt = WalArchiveState.Load(new WalArchiveLayout(P("vault"), "app").StatePath).LastSyncAt;
            shipper.Notify(DateTimeOffset.UtcNow);
            Assert.True(shipper.Finish(TimeSpan.FromSeconds(30)));
            Assert.Equal(TimeSpan.Zero, shipper.Lag);
            Assert.Null(shipper.LastError);
            Assert.True(shipper.ErrorVersion == 0, string.Join("\n", log.Where(l => l.Contains("failed"))));
            Assert.True(shipper.ShippedThrough >= sealedAt);
        }
        SqliteConnection.ClearAllPools();

        // The destination holds the archive whole (compaction's packs included) and restores on its own.
        Assert.True(File.Exists(P("dest/vault.json")));
        Assert.DoesNotContain(VaultFiles.AllFiles(P("dest")), f => f.StartsWith("databases/"));
        string latest = P("latest.db");
        WalRestore.Restore(P("dest"), "app", DateTimeOffset.UtcNow, latest, false, null, DateTimeOffset.UtcNow);
        Assert.Equal(40L, Count(latest, "t"));
        foreach (var (n, at) in points.Where((p, i) => i % 9 == 0))
        {
            string target = P($"pitr-{n}.db");
            WalRestore.Restore(P("dest"), "app", at, target, false, null, DateTimeOffset.UtcNow);
            Assert.Equal(n, Count(target, "t"));
        }
        // Only the first run listed the destination: later ones went by what was sent.
        Assert.Equal(1, dest.Lists);

        // The local vault's record says it: no lag.
        var s = Assert.Single(OffsiteLog.Read(P("vault"), DateTimeOffset.UtcNow, TimeSpan.FromDays(1)));
        Assert.Equal(dest.DisplayName, s.Destination);
        Assert.Null(s.LastError);
        Assert.Equal(TimeSpan.Zero, s.OffsiteLag);
    }

    [Fact]
    public void A_destination_down_for_a_while_is_caught_up_and_warned_about_once()
    {
        string db = MakeDb();
        var dest = new FaultyStore(new DirectoryStore(P("dest"))) { Down = true };
        Directory.CreateDirectory(P("dest"));
        long rows = 0;
        using (var archiver = new WalArchiver(db, P("vault"), "app") { CheckpointFrames = 20, CheckpointInterval = TimeSpan.Zero })
        using (var shipper = new WalShipper(P("vault"), "app", dest) { Interval = TimeSpan.FromMilliseconds(100) })
        using (var w = SqliteFile.OpenReadWrite(db, TimeSpan.FromSeconds(10)))
        {
            archiver.Sync();
            shipper.Start();
            Write(archiver, w, shipper, 5, 20, ref rows);
            WaitFor(() => shipper.LastError != null, TimeSpan.FromSeconds(20), "the first failure");
            Assert.Contains("unreachable", shipper.LastError);
            Write(archiver, w, shipper, 20, 50, ref rows);
            Assert.Equal(1, shipper.ErrorVersion);
            Assert.True(shipper.Lag > TimeSpan.Zero);
            Assert.Null(shipper.ShippedThrough);
            var down = Assert.Single(OffsiteLog.Read(P("vault"), DateTimeOffset.UtcNow, TimeSpan.FromDays(1)));
            Assert.Contains("unreachable", down.LastError);

            dest.Down = false;
            WaitFor(() => shipper.LastError == null, TimeSpan.FromSeconds(60), "the recovery");
            Assert.Equal(1, shipper.ErrorVersion);
            Write(archiver, w, shipper, 5, 20, ref rows);
            archiver.Seal();
            shipper.Notify(DateTimeOffset.UtcNow);
            Assert.True(shipper.Finish(TimeSpan.FromSeconds(30)));
            Assert.Equal(TimeSpan.Zero, shipper.Lag);
            Assert.Equal(1, shipper.ErrorVersion);
        }
        SqliteConnection.ClearAllPools();
        string latest = P("latest.db");
        WalRestore.Restore(P("dest"), "app", DateTimeOffset.UtcNow, latest, false, null, DateTimeOffset.UtcNow);
        Assert.Equal(30L, Count(latest, "t"));
        var s = Assert.Single(OffsiteLog.Read(P("vault"), DateTimeOffset.UtcNow, TimeSpan.FromDays(1)));
        Assert.Null(s.LastError);
    }

    /// <summary>
    /// However often the archiver reports, the destination is not called more than once per Interval — nor, while it
    /// fails, more than once per back-off.
    /// </summary>
    [Fact]
    public void Shipments_are_at_most_one_per_interval_and_a_failing_destination_is_not_hammered()
    {
        string db = MakeDb();
        Directory.CreateDirectory(P("dest"));
        var dest = new FaultyStore(new DirectoryStore(P("dest")));
        long rows = 0;
        using (var archiver = new WalArchiver(db, P("vault"), "app") { CheckpointInterval = TimeSpan.FromHours(1) })
        using (var shipper = new WalShipper(P("vault"), "app", dest) { Interval = TimeSpan.FromSeconds(2) })
        using (var w = SqliteFile.OpenReadWrite(db, TimeSpan.FromSeconds(10)))
        {
            archiver.Sync();
            shipper.Start();
            var watch = Stopwatch.StartNew();
            Write(archiver, w, shipper, 1, 0, ref rows);
            WaitFor(() => dest.Probes >= 1, TimeSpan.FromSeconds(10), "the first shipment");
            while (watch.Elapsed < TimeSpan.FromSeconds(1.2)) Write(archiver, w, shipper, 1, 30, ref rows);
            Assert.True(dest.Probes <= 1, $"{dest.Probes} shipments within {watch.Elapsed.TotalSeconds:F1} s at an interval of 2 s");

            // Failing: the back-off holds even though the archiver keeps reporting.
            WaitFor(() => dest.Probes >= 2, TimeSpan.FromSeconds(10), "the second shipment");
            dest.Down = true;
            Write(archiver, w, shipper, 1, 0, ref rows);
            WaitFor(() => shipper.LastError != null, TimeSpan.FromSeconds(10), "the failure");
            int afterFailure = dest.Probes;
            watch.Restart();
            while (watch.Elapsed < TimeSpan.FromSeconds(1.5)) Write(archiver, w, shipper, 1, 30, ref rows);
            Assert.True(dest.Probes <= afterFailure + 1, $"{dest.Probes - afterFailure} retries within 1.5 s");
            Assert.Equal(1, shipper.ErrorVersion);
            dest.Down = false;
            archiver.Seal();
            shipper.Notify(DateTimeOffset.UtcNow);
            Assert.True(shipper.Finish(TimeSpan.FromSeconds(30)));
            Assert.Null(shipper.LastError);
        }
    }

    /// <summary>
    /// The destination's own retention removes an old generation (snapshot.json first) while the shipper runs: the
    /// shipper does not put that snapshot.json back, which would list a generation whose snapshot is gone.
    /// </summary>
    [Fact]
    public void A_generation_removed_at_the_destination_is_not_brought_back_without_its_snapshot()
    {
        string db = MakeDb();
        Directory.CreateDirectory(P("dest"));
        var dest = new FaultyStore(new DirectoryStore(P("dest")));
        long rows = 0;
        using (var archiver = new WalArchiver(db, P("vault"), "app") { CheckpointInterval = TimeSpan.FromHours(1) })
        using (var shipper = new WalShipper(P("vault"), "app", dest) { Interval = TimeSpan.FromMilliseconds(50) })
        using (var w = SqliteFile.OpenReadWrite(db, TimeSpan.FromSeconds(10)))
        {
            archiver.Sync();
            shipper.Start();
            Write(archiver, w, shipper, 3, 20, ref rows);
            archiver.SnapshotInterval = TimeSpan.FromMilliseconds(1); // the next sync starts a second generation
            Write(archiver, w, shipper, 1, 0, ref rows);
            archiver.SnapshotInterval = TimeSpan.FromDays(1);
            var layout = new WalArchiveLayout(P("dest"), "app");
            WaitFor(() => layout.Generations().Count == 2 && shipper.Lag == TimeSpan.Zero, TimeSpan.FromSeconds(20), "both generations shipped");

            string old = layout.Generations()[0];
            string unit = "wal/app/generations/" + old + "/";
            VaultUnits.Remove(new DirectoryStore(P("dest")), unit, unit + "snapshot.json", CancellationToken.None);
            int puts = dest.Puts;
            Write(archiver, w, shipper, 3, 20, ref rows);
            WaitFor(() => dest.Puts > puts && shipper.Lag == TimeSpan.Zero, TimeSpan.FromSeconds(20), "a shipment after the removal");
            archiver.Seal();
            shipper.Notify(DateTimeOffset.UtcNow);
            Assert.True(shipper.Finish(TimeSpan.FromSeconds(30)));
            Assert.DoesNotContain(unit + "snapshot.json", dest.PutKeys.Skip(puts));
        }
        SqliteConnection.ClearAllPools();
        VaultFiles.AssertWhole(P("dest"), "after the destination removed a generation");
        string latest = P("latest.db");
        WalRestore.Restore(P("dest"), "app", DateTimeOffset.UtcNow, latest, false, null, DateTimeOffset.UtcNow);
        Assert.Equal(rows, Count(latest, "t"));
    }
}
