using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Wal;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests;

/// <summary>
/// The archiver's own checkpoint must never be what makes a clean WAL restart look like lost frames. Found as rare
/// false gaps under CPU load in <see cref="WalArchiveTests"/>: after a seal, a sync still saw the old (fully archived,
/// fully checkpointed) WAL and started a checkpoint; a writer restarted the WAL before the checkpoint moved the read
/// snapshot, so the checkpoint copied the new WAL's frames into the database file before any sync had seen the
/// restart — and the next sync, seeing new salts and a database file changed since the seal, recorded a gap.
/// The clock callback puts the writer's commit exactly into that window, so the race happens every run.
/// </summary>
public sealed class WalCheckpointRaceTests : TempFolderTest
{
    private const string Restarted = "the WAL was restarted before all its frames were archived";

    private static long Rows(string db) => Long(db, "SELECT count(*) FROM t");

    private string RestoreNow(string name, string file)
    {
        var result = WalRestore.Restore(P("vault"), name, DateTimeOffset.UtcNow, P(file), false, null, DateTimeOffset.UtcNow);
        return result.Destination;
    }

    /// <summary>The archive of <paramref name="name"/> is one generation without a gap, and restores to <paramref name="rows"/> rows now.</summary>
    private void AssertOneGenerationWithoutGaps(string name, long rows)
    {
        var window = WalRestore.Window(P("vault"), name);
        Assert.Empty(window.Gaps);
        Assert.Equal(1, window.Generations);
        Assert.Equal(rows, Rows(RestoreNow(name, name + "-restored.db")));
    }

    /// <summary>
    /// A seal (as every scheduled Sync-TursoWalArchive run ends) right after the previous one: its sync reads the old
    /// WAL, then a writer restarts the WAL, then the seal's checkpoint runs. The restart lost nothing: no gap, one
    /// generation, and the row the writer added is archived.
    /// </summary>
    [Fact]
    public void AWalRestartedJustBeforeTheSealsCheckpointIsNoGap()
    {
        string db = P("seal.db");
        using var writer = SqliteFile.OpenOrCreate(db);
        Exec(writer, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB);");
        int armed = 0;
        bool landed = false;
        DateTimeOffset Clock()
        {
            // The second clock reading of an armed sync comes right after it read the WAL.
            if (armed > 0 && ++armed == 3)
            {
                Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
                landed = true;
            }
            return DateTimeOffset.UtcNow;
        }
        using (var archiver = new WalArchiver(db, P("vault"), "seal", Clock))
        {
            for (int i = 0; i < 20; i++) Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
            archiver.Seal(); // everything archived and checkpointed: the next writer restarts the WAL
            armed = 1;
            archiver.Seal();
            Assert.True(landed); // the writer's commit did land inside the seal's sync
            var status = archiver.Sync();
            Assert.Null(status.NewGenerationReason);
            Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
            Assert.Null(archiver.Sync().NewGenerationReason);
            archiver.Seal();
        }
        AssertOneGenerationWithoutGaps("seal", 22L);
    }

    /// <summary>
    /// The same window in continuous archiving: the sync after a seal still sees the old WAL (long enough for a
    /// checkpoint) and the background checkpoint starts while a writer restarts the WAL. Repeated, with syncs every
    /// few commits: never a new generation, and every row is archived.
    /// </summary>
    [Fact]
    public void ABackgroundCheckpointAfterASealNeverTurnsARestartIntoAGap()
    {
        string db = P("bg.db");
        using var writer = SqliteFile.OpenOrCreate(db);
        Exec(writer, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB);");
        bool commitAfterRead = false;
        int calls = 0;
        long rows = 0;
        DateTimeOffset Clock()
        {
            if (commitAfterRead && ++calls == 2)
            {
                Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
                rows++;
            }
            return DateTimeOffset.UtcNow;
        }
        using (var archiver = new WalArchiver(db, P("vault"), "bg", Clock) { CheckpointFrames = 20, CheckpointInterval = TimeSpan.Zero })
        {
            archiver.Sync();
            for (int round = 0; round < 15; round++)
            {
                for (int i = 0; i < 25; i++)
                {
                    Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
                    rows++;
                }
                archiver.Seal(); // sealed: the WAL is fully archived and checkpointed, and still long
                calls = 0;
                commitAfterRead = true; // the next sync reads the old WAL, then a writer restarts it
                var status = archiver.Sync();
                commitAfterRead = false;
                Assert.Null(status.NewGenerationReason);
                // A checkpoint that started beside that sync runs into the restarted WAL before the next sync sees it.
                archiver.WaitForBackgroundWork();
                for (int k = 0; k < 3; k++)
                {
                    status = archiver.Sync();
                    Assert.True(status.NewGenerationReason == null, $"round {round}: {status.NewGenerationReason}");
                }
            }
            archiver.Seal();
        }
        AssertOneGenerationWithoutGaps("bg", rows);
    }

    /// <summary>
    /// The application checkpoints while the archiver seals: SQLite refuses the archiver's checkpoint at once (the
    /// checkpoint lock is taken, and no busy handler is asked), while the application's copies the WAL back fully. A WAL
    /// fully archived and copied back must still be recorded sealed: else the snapshot the archiver takes next (on a WAL
    /// fully copied back, it reads the database file alone) does not stop the next writer from restarting the WAL, and
    /// that restart looks like lost frames. Sealed, the next write restarts the WAL, and nothing is a gap.
    /// </summary>
    [Fact]
    public void ASealBesideTheApplicationsCheckpointIsStillASeal()
    {
        string db = P("app.db");
        using var writer = SqliteFile.OpenOrCreate(db);
        Exec(writer, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB);");
        int calls = -1;
        Thread? appCheckpoint = null;
        DateTimeOffset Clock()
        {
            if (calls >= 0) calls++;
            if (calls == 2) Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));"); // right after the seal's sync read the WAL
            if (calls == 3)
            {
                // The seal archives that row (writers blocked): now the application's FULL checkpoint takes the
                // checkpoint lock and waits for the writer lock the seal holds, then copies back without it.
                using var started = new ManualResetEventSlim();
                appCheckpoint = new Thread(() =>
                {
                    using var app = SqliteFile.OpenReadWrite(db);
                    Exec(app, "PRAGMA busy_timeout = 400;");
                    started.Set();
                    Exec(app, "PRAGMA wal_checkpoint(FULL);");
                });
                appCheckpoint.Start();
                Assert.True(started.Wait(TimeSpan.FromSeconds(10)));
                Thread.Sleep(100); // it holds the checkpoint lock now, waiting for the writer lock
            }
            return DateTimeOffset.UtcNow;
        }
        uint saltAfterSeal;
        using (var archiver = new WalArchiver(db, P("vault"), "app", Clock))
        {
            for (int i = 0; i < 20; i++) Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
            archiver.Sync();
            Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));"); // the seal's sync reads the WAL
            calls = 0;
            archiver.Seal();
            Assert.True(calls >= 3, "the seal archived the row written after its sync");
            appCheckpoint!.Join();
            saltAfterSeal = WalFile.HeaderOnly(db + "-wal").Salt1;
            Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
            Assert.True(WalFile.HeaderOnly(db + "-wal").Salt1 != saltAfterSeal, "the write after the seal restarted the WAL (it was sealed)");
            Assert.Null(archiver.Sync().NewGenerationReason);
            archiver.Seal();
        }
        AssertOneGenerationWithoutGaps("app", 23L);
    }

    /// <summary>
    /// A seal that could not copy everything back (an application reader held older frames) leaves the WAL unsealed;
    /// then the application's own checkpoint copies it back fully. The next checkpoint must keep holding the WAL until
    /// it has sealed it: a snapshot taken on a WAL fully copied back reads the database file alone, and a writer
    /// would restart the unsealed WAL — lost frames as far as the archive can tell. The writer commits between the
    /// checkpoint's phases; nothing is a gap, and its row is archived.
    /// </summary>
    [Fact]
    public void AWalCopiedBackByTheApplicationStaysHeldUntilSealed()
    {
        string db = P("reader.db");
        using var writer = SqliteFile.OpenOrCreate(db);
        Exec(writer, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB);");
        for (int i = 0; i < 5; i++) Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
        using (var archiver = new WalArchiver(db, P("vault"), "reader"))
        {
            archiver.Sync();
            using (var reader = SqliteFile.OpenReadWrite(db))
            {
                using var tx = SqliteFile.BeginReadSnapshot(reader); // an application's long read
                for (int i = 0; i < 20; i++) Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
                archiver.Seal(); // copies back only what the reader allows: not sealed
            }
            Exec(writer, "PRAGMA wal_checkpoint(PASSIVE);"); // the application copies the rest back
            bool wrote = false;
            archiver.BeforeSealing = () =>
            {
                if (wrote) return;
                wrote = true;
                Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
            };
            archiver.Seal();
            Assert.True(wrote);
            archiver.BeforeSealing = null;
            Assert.Null(archiver.Sync().NewGenerationReason);
            Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
            Assert.Null(archiver.Sync().NewGenerationReason);
            archiver.Seal();
        }
        AssertOneGenerationWithoutGaps("reader", 27L);
    }

    /// <summary>
    /// Packing runs beside the syncs and must leave alone the segments the syncs write meanwhile: under load the
    /// compaction listed a segment a sync had just renamed into place, packed it (it completed a set) and removed it,
    /// and the sync then failed reading its size (FileNotFoundException in WalArchiveTests' chain test). Here two syncs
    /// write segments 3 and 4 while the compaction that segment 2 started begins: it packs 1–2 only.
    /// </summary>
    [Fact]
    public void PackingBesideTheSyncsLeavesTheSegmentsWrittenMeanwhileAlone()
    {
        string db = P("pack.db");
        using var writer = SqliteFile.OpenOrCreate(db);
        Exec(writer, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB);");
        var layout = new WalArchiveLayout(P("vault"), "pack");
        using (var archiver = new WalArchiver(db, P("vault"), "pack") { PackFanIn = 2, CheckpointFrames = 100000 })
        {
            archiver.Sync();
            int compactions = 0;
            archiver.BeforeCompacting = () =>
            {
                if (compactions++ > 0) return;
                for (int i = 0; i < 2; i++)
                {
                    Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(100));");
                    archiver.Sync();
                }
            };
            for (int i = 0; i < 2; i++)
            {
                Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(100));");
                Assert.Null(archiver.Sync().NewGenerationReason); // the second starts packing segments 1 and 2
            }
            archiver.WaitForBackgroundWork();
            Assert.Equal(1, compactions);
            string generation = layout.Generations().Single();
            var names = layout.SegmentFiles(generation).Select(Path.GetFileName).ToList();
            Assert.Equal(new[] { "0000000001-0000000002.pack", "0000000003.seg", "0000000004.seg" }, names);
            archiver.BeforeCompacting = null;
            Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(100));");
            Assert.Null(archiver.Sync().NewGenerationReason);
            archiver.Seal();
        }
        var window = WalRestore.Window(P("vault"), "pack");
        Assert.Empty(window.Gaps);
        Assert.Equal(5, window.Segments);
        Assert.Equal(5L, Rows(RestoreNow("pack", "pack-restored.db")));
    }

    /// <summary>
    /// The first sync past the snapshot interval (once a day by default) waits for a checkpoint running beside the
    /// syncs before it copies the snapshot; that checkpoint takes the syncs' lock for its phases, so the sync must not
    /// hold it while waiting — it did, and the archiver hung for good. Here the checkpoint is already waiting for that
    /// lock when the sync looks at the interval: the sync ends with a new generation, and nothing is a gap.
    /// </summary>
    [Fact]
    public void TheDailySnapshotBesideARunningCheckpointDoesNotHang()
    {
        string db = P("daily.db");
        using var writer = SqliteFile.OpenOrCreate(db);
        Exec(writer, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB);");
        var offset = TimeSpan.Zero;
        bool pause = false;
        DateTimeOffset Clock()
        {
            if (pause)
            {
                pause = false;
                offset = TimeSpan.FromDays(2); // this sync is past the snapshot interval…
                Thread.Sleep(1500); // …and the checkpoint the last one started reaches the syncs' lock meanwhile
            }
            return DateTimeOffset.UtcNow + offset;
        }
        var archiver = new WalArchiver(db, P("vault"), "daily", Clock) { CheckpointFrames = 20, CheckpointInterval = TimeSpan.Zero, Retention = TimeSpan.Zero };
        archiver.Sync();
        for (int i = 0; i < 25; i++) Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
        Assert.Null(archiver.Sync().NewGenerationReason); // starts a checkpoint beside the syncs
        pause = true;
        var daily = Task.Run(() => archiver.Sync());
        // A hung archiver is left behind (disposing it would hang too): the test fails, the process ends anyway.
        Assert.True(daily.Wait(TimeSpan.FromSeconds(30)), "the sync past the snapshot interval hung waiting for the checkpoint");
        Assert.Equal("snapshot interval", daily.Result.NewGenerationReason);
        Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
        Assert.Null(archiver.Sync().NewGenerationReason);
        archiver.Seal();
        archiver.Dispose();
        var window = WalRestore.Window(P("vault"), "daily");
        Assert.Empty(window.Gaps);
        Assert.Equal(2, window.Generations);
        var later = DateTimeOffset.UtcNow + TimeSpan.FromDays(3); // the archive's clock ran two days ahead
        var restored = WalRestore.Restore(P("vault"), "daily", later, P("daily-restored.db"), false, null, later);
        Assert.Equal(26L, Rows(restored.Destination));
    }

    /// <summary>
    /// An archive that starts on a WAL the application has fully copied back (but not truncated): the archiver's
    /// snapshot then reads the database file alone and does not keep the next writer from restarting the WAL. That
    /// restart loses nothing — the snapshot holds everything — so it continues the generation without a gap.
    /// </summary>
    [Fact]
    public void ARestartRightAfterTheArchiveStartsIsNoGap()
    {
        string db = P("fresh.db");
        using var writer = SqliteFile.OpenOrCreate(db);
        Exec(writer, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB);");
        for (int i = 0; i < 10; i++) Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
        Exec(writer, "PRAGMA wal_checkpoint(PASSIVE);"); // copied back, the WAL file stays
        uint before = WalFile.HeaderOnly(db + "-wal").Salt1;
        using (var archiver = new WalArchiver(db, P("vault"), "fresh"))
        {
            Assert.Equal("the archive starts", archiver.Sync().NewGenerationReason);
            Exec(writer, "INSERT INTO t(payload) VALUES (randomblob(3000));");
            Assert.NotEqual(before, WalFile.HeaderOnly(db + "-wal").Salt1); // the write restarted the WAL
            Assert.Null(archiver.Sync().NewGenerationReason);
            archiver.Seal();
        }
        AssertOneGenerationWithoutGaps("fresh", 11L);
    }
}
