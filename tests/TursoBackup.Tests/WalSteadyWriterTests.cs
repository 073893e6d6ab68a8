using System.Diagnostics;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Wal;
using Xunit.Abstractions;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests;

/// <summary>
/// An ordinary application beside the continuous archiver for a while: a steady writer with SQLite's own
/// auto-checkpoint (1,000 pages, PASSIVE after commits) and the archiver syncing every 100 ms and checkpointing itself.
/// Found by the point-in-time benchmark (3 minutes at 50 transactions/s): the archive started a new generation every
/// few seconds, "the WAL was restarted before all its frames were archived". One generation, no gaps, every row.
/// </summary>
public sealed class WalSteadyWriterTests : TempFolderTest
{
    private readonly ITestOutputHelper output;

    public WalSteadyWriterTests(ITestOutputHelper output) => this.output = output;

    /// <summary>
    /// The held snapshot follows the syncs: once frames are archived, the application's own checkpoint can copy them back.
    /// A snapshot held still (until the archiver's next checkpoint) made every commit's auto-checkpoint walk all the
    /// frames after it — the point-in-time benchmark's flat-out writer ran at a third of its rate beside the archiver.
    /// The WAL is never restarted under the archiver meanwhile (one generation, every row).
    /// </summary>
    [Fact]
    public void AfterASyncTheApplicationsCheckpointCopiesBackWhatIsArchived()
    {
        string db = P("follow.db");
        using var writer = SqliteFile.OpenOrCreate(db);
        Exec(writer, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);");
        long rows = 0;
        using (var archiver = new WalArchiver(db, P("vault"), "follow") { CheckpointFrames = long.MaxValue })
        {
            archiver.Sync();
            for (int round = 0; round < 5; round++)
            {
                for (int i = 0; i < 50; i++, rows++) Exec(writer, "INSERT INTO t(v) VALUES (randomblob(3000))");
                archiver.Sync();
                using var cmd = writer.CreateCommand();
                cmd.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
                using var r = cmd.ExecuteReader();
                r.Read();
                long log = r.GetInt64(1), done = r.GetInt64(2);
                Assert.True(log > 0 && done == log, $"round {round}: the application's checkpoint copied back {done} of {log} frames");
            }
            Assert.Null(archiver.Sync().NewGenerationReason);
            archiver.Seal();
        }
        var window = WalRestore.Window(P("vault"), "follow");
        Assert.Empty(window.Gaps);
        Assert.Equal(1, window.Generations);
        string restored = WalRestore.Restore(P("vault"), "follow", DateTimeOffset.UtcNow, P("follow-restored.db"), false, null, DateTimeOffset.UtcNow).Destination;
        Assert.Equal(rows, Long(restored, "SELECT count(*) FROM t"));
    }

    [Fact]
    public void ASteadyWriterWithAutoCheckpointsKeepsOneGenerationWithoutGaps()
    {
        string db = P("steady.db");
        using (var setup = SqliteFile.OpenOrCreate(db))
        {
            Exec(setup, "PRAGMA journal_mode=WAL; CREATE TABLE log(id INTEGER PRIMARY KEY, at INTEGER, note TEXT); " +
                        "CREATE TABLE orders(id INTEGER PRIMARY KEY, amount INTEGER, status TEXT);" +
                        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000) " +
                        "INSERT INTO orders SELECT i, i, printf('%.60c', 'x') FROM n; PRAGMA wal_checkpoint(TRUNCATE);");
        }
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var clock = Stopwatch.StartNew();
        long committed = 0;
        var reasons = new List<string>();
        using (var stop = new CancellationTokenSource())
        {
            var writer = Task.Run(() =>
            {
                using var c = SqliteFile.OpenReadWrite(db, TimeSpan.FromSeconds(30));
                Exec(c, "PRAGMA synchronous=NORMAL");
                var random = new Random(7);
                var pace = Stopwatch.StartNew();
                for (long i = 1; !stop.IsCancellationRequested; i++)
                {
                    double wait = i * 5 - pace.Elapsed.TotalMilliseconds; // 200 transactions/s
                    if (wait > 1) Thread.Sleep((int)wait);
                    Exec(c, "BEGIN IMMEDIATE; INSERT INTO log VALUES ($i, $at, 'transaction ' || $i); " +
                            "UPDATE orders SET amount = amount + 1, status = 'touched by ' || $i WHERE id = $o; COMMIT;",
                        ("$i", i), ("$at", DateTime.UtcNow.Ticks), ("$o", 1 + random.Next(40000)));
                    Interlocked.Exchange(ref committed, i);
                }
            });
            using (var archiver = new WalArchiver(db, P("vault"), "steady") { Log = m => log.Enqueue($"{clock.ElapsedMilliseconds,6} {m}") })
            {
                while (clock.Elapsed < TimeSpan.FromSeconds(40))
                {
                    var status = archiver.Sync();
                    if (status.NewGenerationReason != null)
                    {
                        reasons.Add(status.NewGenerationReason);
                        log.Enqueue($"{clock.ElapsedMilliseconds,6} NEW GENERATION at {Interlocked.Read(ref committed)}: {status.NewGenerationReason}");
                    }
                    Thread.Sleep(100);
                }
                stop.Cancel();
                writer.Wait();
                archiver.Seal();
            }
        }
        foreach (var line in log) output.WriteLine(line);
        Assert.Equal(new[] { "the archive starts" }, reasons);
        var window = WalRestore.Window(P("vault"), "steady");
        Assert.Empty(window.Gaps);
        Assert.Equal(1, window.Generations);
        string restored = WalRestore.Restore(P("vault"), "steady", DateTimeOffset.UtcNow, P("restored.db"), false, null, DateTimeOffset.UtcNow).Destination;
        Assert.Equal(Interlocked.Read(ref committed), Long(restored, "SELECT count(*) FROM log"));
    }
}
