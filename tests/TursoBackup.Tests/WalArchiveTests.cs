using System.Diagnostics;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Wal;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests;

/// <summary>WAL archiving and point-in-time restore, against a real writer that also checkpoints.</summary>
public sealed class WalArchiveTests : TempFolderTest
{
    private sealed record Commit(long Id, DateTimeOffset Before, DateTimeOffset After);

    /// <summary>
    /// A writer commits hundreds of transactions (inserts, updates, deletes, a schema change) and runs checkpoints of
    /// every mode while the archiver syncs; restores to many timestamps hold exactly the transactions captured by then.
    /// </summary>
    [Fact]
    public async Task RestoresHoldExactlyTheTransactionsCapturedByTheTimestamp()
    {
        string db = P("app.db");
        using (var setup = SqliteFile.OpenOrCreate(db))
        {
            Exec(setup, "PRAGMA journal_mode=WAL; CREATE TABLE tx(id INTEGER PRIMARY KEY, payload BLOB); CREATE TABLE counter(n INTEGER); INSERT INTO counter VALUES (0);");
        }
        var syncInterval = TimeSpan.FromMilliseconds(50);
        var commits = new List<Commit>();
        // Checkpoints as often as the WAL allows and packs of four: both run beside the syncs, as in production.
        using var archiver = new WalArchiver(db, P("vault")) { CheckpointFrames = 200, CheckpointInterval = TimeSpan.Zero, PackFanIn = 4 };
        archiver.Sync();
        using var stop = new CancellationTokenSource();
        var archiving = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                archiver.Sync();
                Thread.Sleep(syncInterval);
            }
        });
        using (var w = SqliteFile.OpenReadWrite(db, TimeSpan.FromSeconds(10)))
        {
            string[] modes = { "PASSIVE", "FULL", "RESTART", "TRUNCATE" };
            for (int i = 1; i <= 600; i++)
            {
                var before = DateTimeOffset.UtcNow;
                Exec(w, $"BEGIN IMMEDIATE; INSERT INTO tx(id, payload) VALUES ({i}, randomblob({100 + i % 3000})); UPDATE counter SET n = n + 1;"
                        + (i % 10 == 0 ? $" DELETE FROM tx WHERE id = {i - 5};" : "")
                        + (i == 300 ? " ALTER TABLE tx ADD COLUMN note TEXT;" : "") + " COMMIT;");
                commits.Add(new Commit(i, before, DateTimeOffset.UtcNow));
                if (i % 40 == 0)
                {
                    // The application's own checkpoints: the archiver's read transaction must stop them from
                    // discarding frames it has not archived (RESTART/TRUNCATE give up busy after the timeout).
                    using var cmd = w.CreateCommand();
                    cmd.CommandText = $"PRAGMA busy_timeout=20; PRAGMA wal_checkpoint({modes[i / 40 % 4]}); PRAGMA busy_timeout=10000;";
                    cmd.ExecuteNonQuery();
                }
                if (i % 7 == 0) Thread.Sleep(3);
            }
        }
        Thread.Sleep(200);
        stop.Cancel();
        await archiving;
        archiver.Seal();

        var window = WalRestore.Window(P("vault"), "app");
        Assert.Empty(window.Gaps);
        Assert.Equal(1, window.Generations);
        var start = commits.First().Before;
        var end = commits.Last().After;
        int restores = 0;
        for (var t = start; t <= end.AddMilliseconds(300); t = t.AddMilliseconds(97))
        {
            string target = P($"r{restores++}.db");
            var result = WalRestore.Restore(P("vault"), "app", t, target, false, null, DateTimeOffset.UtcNow);
            Assert.True(result.PointInTime <= t);
            using var r = SqliteFile.OpenReadOnly(target);
            long n = (long)SqliteFile.Scalar(r, "SELECT n FROM counter");
            var present = commits.Take((int)n).ToList();
            // Exactly a prefix of the transactions: the counter says how many, and the rows agree.
            Assert.Equal(n == 0 ? 0L : commits[(int)n - 1].Id, (long)(SqliteFile.Scalar(r, "SELECT coalesce(max(id), 0) FROM tx")));
            // None committed after the timestamp…
            Assert.All(present, c => Assert.True(c.Before <= t, $"tx {c.Id} began committing at {c.Before:O}, after {t:O}"));
            // …and every one committed more than a sync interval before it. The slack covers a sync's own time and
            // a busy 2-core test machine; the lag itself is measured by the benchmark, not asserted here.
            Assert.All(commits.Where(c => c.After <= t - syncInterval - TimeSpan.FromSeconds(3)), c => Assert.True(c.Id <= n, $"tx {c.Id} ({c.After:O}) missing at {t:O}"));
            Assert.Equal("ok", SqliteFile.Scalar(r, "PRAGMA integrity_check"));
            bool hasNote = (long)SqliteFile.Scalar(r, "SELECT count(*) FROM pragma_table_info('tx') WHERE name = 'note'") == 1;
            Assert.Equal(n >= 300, hasNote);
        }
        Assert.True(restores > 5);
        // After the final seal everything is archived.
        var all = WalRestore.Restore(P("vault"), "app", DateTimeOffset.UtcNow, P("final.db"), false, null, DateTimeOffset.UtcNow);
        using (var f = SqliteFile.OpenReadOnly(all.Destination)) Assert.Equal(600L, (long)SqliteFile.Scalar(f, "SELECT n FROM counter"));
    }

    /// <summary>
    /// A long chain of small segments is packed level by level (4 segment files → a level-1 pack, 4 of those → level 2,
    /// …) beside the syncs; every segment's capture time stays a restore point, a compaction interrupted before it
    /// removed its sources changes nothing, and a damaged pack ends the restorable window where it starts.
    /// </summary>
    [Fact]
    public void LongChainsArePackedAndEverySegmentStaysARestorePoint()
    {
        string db = P("chain.db");
        using (var setup = SqliteFile.OpenOrCreate(db))
        {
            Exec(setup, "PRAGMA journal_mode=WAL; CREATE TABLE tx(id INTEGER PRIMARY KEY, payload BLOB);");
        }
        var captured = new List<(long Rows, DateTimeOffset At)>();
        using (var archiver = new WalArchiver(db, P("vault"), "chain") { PackFanIn = 4, CheckpointFrames = 50, CheckpointInterval = TimeSpan.Zero })
        using (var w = SqliteFile.OpenReadWrite(db, TimeSpan.FromSeconds(10)))
        {
            archiver.Sync();
            for (int i = 1; i <= 150; i++)
            {
                Exec(w, $"INSERT INTO tx(id, payload) VALUES ({i}, randomblob({200 + i * 13 % 5000}));");
                Thread.Sleep(2); // distinct capture times
                var status = archiver.Sync();
                Assert.Null(status.NewGenerationReason);
                captured.Add((i, status.LastSyncAt));
            }
            archiver.Seal();
        }
        var layout = new WalArchiveLayout(P("vault"), "chain");
        string generation = layout.Generations().Single();
        var files = layout.SegmentFiles(generation);
        var sizes = files.Select(f => WalArchiveLayout.SequenceRange(f)).Select(r => r.Last - r.First + 1).ToList();
        Assert.True(sizes.Contains(64) && sizes.Contains(16), "packs of 64 and 16 segments expected: " + string.Join(", ", files.Select(Path.GetFileName)));
        Assert.True(files.Count < 20, $"{files.Count} files");
        var window = WalRestore.Window(P("vault"), "chain");
        Assert.Empty(window.Gaps);
        Assert.True(window.Segments >= 150);

        void RestoreEvery(int upTo)
        {
            foreach (var (rows, at) in captured.Where(c => c.Rows <= upTo).Where((c, k) => k % 7 == 0 || c.Rows == upTo))
            {
                string target = P($"chain-{rows}-{Guid.NewGuid():N}.db");
                WalRestore.Restore(P("vault"), "chain", at, target, false, null, DateTimeOffset.UtcNow);
                using var r = SqliteFile.OpenReadOnly(target);
                Assert.Equal(rows, (long)SqliteFile.Scalar(r, "SELECT count(*) FROM tx"));
                Assert.Equal("ok", SqliteFile.Scalar(r, "PRAGMA integrity_check"));
            }
        }
        RestoreEvery(150);

        // An interrupted compaction: a segment file its pack already holds is back — ignored, then removed.
        string pack = files.First(f => WalArchiveLayout.SequenceRange(f).Last - WalArchiveLayout.SequenceRange(f).First + 1 == 64);
        string leftover = layout.SegmentPath(generation, 3);
        File.WriteAllBytes(leftover, new byte[] { 1, 2, 3 }); // not even a valid segment: it must not be read
        Assert.Empty(WalRestore.Window(P("vault"), "chain").Gaps);
        RestoreEvery(40);

        // A flipped byte inside the pack's frames: restores before it work, after it fail with a clear message.
        var bytes = File.ReadAllBytes(pack);
        bytes[bytes.Length - 100] ^= 0x55;
        File.WriteAllBytes(pack, bytes);
        var before = captured.First();
        string ok = P("before-damage.db");
        var packSegments = WalSegment.ReadFile(pack);
        Assert.NotNull(packSegments);
        var firstInPack = packSegments.First().CaptureTime;
        var beforePack = captured.Where(c => c.At < firstInPack).ToList();
        if (beforePack.Count > 0)
        {
            WalRestore.Restore(P("vault"), "chain", beforePack.Last().At, ok, false, null, DateTimeOffset.UtcNow);
        }
        var ex = Assert.Throws<TursoBackupException>(() => WalRestore.Restore(P("vault"), "chain", captured.Last().At, P("after-damage.db"), false, null, DateTimeOffset.UtcNow));
        Assert.Contains("damaged", ex.Message);
        Assert.False(File.Exists(P("after-damage.db")));
    }

    /// <summary>
    /// A transaction that commits between the sync's clock reading and the snapshot's copy is in the snapshot, so the
    /// snapshot must be stamped after the copy: a restore to its stamp never holds anything committed later.
    /// (Found by the SIGKILL test under load: a new generation's snapshot held rows stamped after its time.)
    /// </summary>
    [Fact]
    public void ASnapshotIsStampedAfterItsCopy()
    {
        string db = P("stamp.db");
        using var writer = SqliteFile.OpenOrCreate(db);
        Exec(writer, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, at INTEGER);");
        int calls = 0;
        DateTimeOffset Clock()
        {
            var now = DateTimeOffset.UtcNow;
            if (++calls == 2)
            {
                // Right after the sync read the clock: a commit lands before the snapshot copy starts.
                Thread.Sleep(20);
                Exec(writer, $"INSERT INTO t(at) VALUES ({DateTimeOffset.UtcNow.UtcTicks});");
            }
            return now;
        }
        using (var archiver = new WalArchiver(db, P("vault"), "stamp", Clock)) archiver.Sync();
        var window = WalRestore.Window(P("vault"), "stamp");
        var result = WalRestore.Restore(P("vault"), "stamp", window.Earliest!.Value, P("stamp-restored.db"), false, null, DateTimeOffset.UtcNow);
        using var r = SqliteFile.OpenReadOnly(result.Destination);
        foreach (var at in new[] { SqliteFile.Scalar(r, "SELECT max(at) FROM t") }.Where(v => v is long).Cast<long>())
        {
            Assert.True(at <= window.Earliest!.Value.UtcTicks, $"a row committed at {new DateTime(at):O} is in the snapshot stamped {window.Earliest:O}");
        }
        Assert.True(calls >= 3);
    }

    [Fact]
    public void ADatabaseNotInWalModeIsAClearError()
    {
        string db = P("rollback.db");
        using (var c = SqliteFile.OpenOrCreate(db)) Exec(c, "CREATE TABLE t(x);");
        using var archiver = new WalArchiver(db, P("vault"));
        var ex = Assert.Throws<TursoBackupException>(() => archiver.Sync());
        Assert.Equal(FailureKind.NotEnabled, ex.Kind);
        Assert.Contains("PRAGMA journal_mode=WAL", ex.Message);
    }

    [Fact]
    public void ACheckpointWhileNobodyHeldTheWalStartsANewGenerationAndShowsTheGap()
    {
        string db = P("gap.db");
        using var w = SqliteFile.OpenOrCreate(db);
        Exec(w, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(x);");
        using (var a = new WalArchiver(db, P("vault"))) { a.Sync(); Exec(w, "INSERT INTO t VALUES (1);"); a.Sync(); }
        // The archiver is gone: the application writes, checkpoints and truncates; those frames are never archived.
        Exec(w, "INSERT INTO t VALUES (2); PRAGMA wal_checkpoint(TRUNCATE); INSERT INTO t VALUES (3);");
        using (var a = new WalArchiver(db, P("vault")))
        {
            var status = a.Sync();
            Assert.NotNull(status.NewGenerationReason);
        }
        var window = WalRestore.Window(P("vault"), "gap");
        Assert.Equal(2, window.Generations);
        var gap = Assert.Single(window.Gaps);
        Assert.Contains("before", gap.Reason);
        var inGap = gap.From + TimeSpan.FromTicks((gap.To - gap.From).Ticks / 2);
        var err = Assert.Throws<TursoBackupException>(() => WalRestore.Restore(P("vault"), "gap", inGap, P("x.db"), false, null, DateTimeOffset.UtcNow));
        Assert.Contains("gap", err.Message);
        Assert.False(File.Exists(P("x.db")));
    }

    [Fact]
    public void TimestampsParseAndTheirErrorsAreTheContracts()
    {
        Assert.Equal(new DateTimeOffset(2024, 1, 15, 10, 30, 0, TimeSpan.Zero), Timestamps.Parse("2024-01-15T10:30:00Z"));
        Assert.Equal(new DateTimeOffset(2024, 1, 15, 8, 30, 0, TimeSpan.Zero), Timestamps.Parse("2024-01-15T10:30:00+02:00"));
        Assert.Equal(new DateTimeOffset(2024, 1, 15, 0, 0, 0, TimeSpan.Zero), Timestamps.Parse("2024-01-15"));
        Assert.Equal("Invalid timestamp format: use ISO 8601 such as 2024-01-15T10:30:00Z ('15/01/2024' is not one).",
            Assert.Throws<TursoBackupException>(() => Timestamps.Parse("15/01/2024")).Message);

        string db = P("t.db");
        using var w = SqliteFile.OpenOrCreate(db);
        Exec(w, "PRAGMA journal_mode=WAL; CREATE TABLE t(x);");
        using (var a = new WalArchiver(db, P("vault"))) a.Seal();
        var now = DateTimeOffset.UtcNow;
        Assert.Contains("in the future", Assert.Throws<TursoBackupException>(() => WalRestore.Restore(P("vault"), "t", now.AddHours(1), P("f.db"), false, null, now)).Message);
        Assert.StartsWith("Timestamp too old: the earliest restore point of 't' is ",
            Assert.Throws<TursoBackupException>(() => WalRestore.Restore(P("vault"), "t", now.AddDays(-1), P("f.db"), false, null, now)).Message);
        Assert.False(File.Exists(P("f.db")));
    }

    /// <summary>
    /// Machine-crash simulation: archive files cut at random points. Restores before the damage still work and pass
    /// integrity_check; the damage shows as a gap; nothing is papered over.
    /// </summary>
    [Fact]
    public void TruncatedArchiveFilesAreReportedAsGapsAndEarlierPointsStillRestore()
    {
        string db = P("crash.db");
        using var w = SqliteFile.OpenOrCreate(db);
        Exec(w, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);");
        var times = new List<DateTimeOffset>();
        using (var a = new WalArchiver(db, P("vault")) { CheckpointFrames = 50 })
        {
            a.Sync();
            for (int i = 1; i <= 40; i++)
            {
                Exec(w, $"INSERT INTO t(id, v) VALUES ({i}, randomblob(3000));");
                a.Sync();
                times.Add(DateTimeOffset.UtcNow);
                Thread.Sleep(5);
            }
            a.Seal();
        }
        var layout = new WalArchiveLayout(P("vault"), "crash");
        string generation = layout.Generations().Single();
        var segments = layout.SegmentFiles(generation);
        Assert.True(segments.Count >= 40);
        var rnd = new Random(42);
        int victim = 25;
        var bytes = File.ReadAllBytes(segments[victim]);
        File.WriteAllBytes(segments[victim], bytes.Take(rnd.Next(20, bytes.Length - 1)).ToArray());

        var window = WalRestore.Window(P("vault"), "crash");
        var gap = Assert.Single(window.Gaps);
        var lastGood = WalSegment.ReadHeader(segments[victim - 1])?.CaptureTime;
        Assert.NotNull(lastGood);
        // Before the damage: restores, consistent, with exactly the rows captured by then.
        var before = WalRestore.Restore(P("vault"), "crash", lastGood.Value, P("before.db"), false, null, DateTimeOffset.UtcNow);
        using (var r = SqliteFile.OpenReadOnly(before.Destination))
        {
            Assert.Equal("ok", SqliteFile.Scalar(r, "PRAGMA integrity_check"));
            long n = (long)SqliteFile.Scalar(r, "SELECT count(*) FROM t");
            Assert.Equal(n, (long)SqliteFile.Scalar(r, "SELECT max(id) FROM t"));
            Assert.True(n >= victim - 1);
        }
        // After it: refused, nothing written.
        var ex = Assert.Throws<TursoBackupException>(() => WalRestore.Restore(P("vault"), "crash", times.Last(), P("after.db"), false, null, DateTimeOffset.UtcNow));
        Assert.Contains("damaged", ex.Message);
        Assert.False(File.Exists(P("after.db")));
    }

    /// <summary>A sync that finds nothing new reads nothing and writes nothing.</summary>
    [Fact]
    public void AnIdleSyncIsCheap()
    {
        string db = P("idle.db");
        using var w = SqliteFile.OpenOrCreate(db);
        Exec(w, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);");
        using var a = new WalArchiver(db, P("vault"));
        a.Sync();
        a.Sync();
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < 200; i++) Assert.Equal(0, a.Sync().FramesCaptured);
        // 200 idle syncs: a stat of the WAL and a small state write each; well under a millisecond-scale budget each
        // on any machine is not asserted here (benchmark), only that nothing is captured and no segment appears.
        Assert.Empty(new WalArchiveLayout(P("vault"), "idle").SegmentFiles(new WalArchiveLayout(P("vault"), "idle").Generations().Single()));
    }

    [Fact]
    public void SnapshotIntervalStartsGenerationsWithoutGapsAndRetentionPrunesOldOnes()
    {
        string db = P("gen.db");
        using var w = SqliteFile.OpenOrCreate(db);
        Exec(w, "PRAGMA journal_mode=WAL; CREATE TABLE t(x);");
        var now = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        using (var a = new WalArchiver(db, P("vault"), clock: () => now) { SnapshotInterval = TimeSpan.FromHours(1), Retention = TimeSpan.FromHours(3) })
        {
            for (int h = 0; h < 10; h++)
            {
                for (int m = 0; m < 4; m++)
                {
                    Exec(w, $"INSERT INTO t VALUES ({h * 10 + m});");
                    a.Sync();
                    now = now.AddMinutes(15);
                }
            }
        }
        var window = WalRestore.Window(P("vault"), "gen");
        Assert.Empty(window.Gaps);
        // Generations older than the retention window are gone, but the window's start is still covered.
        Assert.InRange(window.Generations, 3, 5);
        Assert.True(window.Earliest <= now - TimeSpan.FromHours(3));
    }
}
