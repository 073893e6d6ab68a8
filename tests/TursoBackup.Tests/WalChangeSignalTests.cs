using System.Diagnostics;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Wal;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests;

/// <summary>The archiver's look at the -wal file: a commit wakes it long before its interval would.</summary>
public sealed class WalChangeSignalTests : TempFolderTest
{
    [Fact]
    public void ACommitWakesTheWaitAndSilenceWaitsTheCeiling()
    {
        string db = P("app.db");
        using var w = SqliteFile.OpenOrCreate(db);
        Exec(w, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);");
        using var signal = new WalChangeSignal(db);
        // Silence waits the whole ceiling.
        var quiet = Stopwatch.StartNew();
        Assert.False(signal.Wait(TimeSpan.FromMilliseconds(300), TimeSpan.Zero, DateTime.UtcNow, CancellationToken.None));
        Assert.True(quiet.ElapsedMilliseconds >= 250);

        var writer = Task.Run(() => { Thread.Sleep(100); Exec(w, "INSERT INTO t(v) VALUES ('a commit')"); });
        var woke = Stopwatch.StartNew();
        Assert.True(signal.Wait(TimeSpan.FromSeconds(30), TimeSpan.Zero, DateTime.UtcNow, CancellationToken.None));
        Assert.True(woke.Elapsed < TimeSpan.FromSeconds(10), $"woke after {woke.Elapsed}");
        writer.Wait();

        using var stop = new CancellationTokenSource();
        stop.Cancel();
        Assert.False(signal.Wait(TimeSpan.FromSeconds(30), TimeSpan.Zero, DateTime.UtcNow, stop.Token));
    }

    [Fact]
    public void TheFloorSpacesSyncsInABurst()
    {
        string db = P("burst.db");
        using var w = SqliteFile.OpenOrCreate(db);
        Exec(w, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);");
        using var signal = new WalChangeSignal(db);
        Exec(w, "INSERT INTO t(v) VALUES ('x')");
        var since = DateTime.UtcNow;
        var sw = Stopwatch.StartNew();
        Assert.True(signal.Wait(TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(150), since, CancellationToken.None));
        Assert.True(sw.ElapsedMilliseconds >= 120, $"returned after {sw.ElapsedMilliseconds} ms, inside the floor");
    }
}
