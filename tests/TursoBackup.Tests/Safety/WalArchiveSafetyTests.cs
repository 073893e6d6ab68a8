using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Health;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Wal;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests.Safety;

/// <summary>
/// The WAL archive must not lose, hide or break: a lost state file, a clean restart, a second archiver and damaged
/// archive files — each through real database files, a real sqlite3 writer process and a real vault.
/// </summary>
public sealed class WalArchiveSafetyTests : TempFolderTest
{
    private static long Count(string db, string sql = "SELECT count(*) FROM t") => Long(db, sql);

    private RestoreResult RestoreNow(string database, string name) =>
        WalRestore.Restore(P("vault"), database, DateTimeOffset.UtcNow, P(name), false, null, DateTimeOffset.UtcNow);

    /// <summary>
    /// Issue 11 #19: a run ends cleanly (sealed; the last connection's close removes the WAL), nothing is written, the
    /// next run attaches before the writer starts — the writer's fresh WAL (checkpoint sequence 0, random salts) must
    /// continue the generation: the database file is exactly as sealed, so no frame went unarchived.
    /// </summary>
    [SkippableFact]
    public void ACleanRestartContinuesTheGenerationWithoutAGap()
    {
        Peers.Require("sqlite3");
        string db = P("svc.db");
        Peers.Sqlite3Files(new[] { db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);" });
        using (var a = new WalArchiver(db, P("vault")))
        {
            a.Sync();
            Peers.Sqlite3Files(new[] { db, "INSERT INTO t VALUES (2);" });
            a.Sync();
            a.Seal();
        }
        for (int restart = 0; restart < 3; restart++)
        {
            using var a = new WalArchiver(db, P("vault"));
            Assert.Null(a.Sync().NewGenerationReason);
            Peers.Sqlite3Files(new[] { db, $"INSERT INTO t VALUES ({3 + restart});" });
            var status = a.Sync();
            Assert.Null(status.NewGenerationReason);
            Assert.True(status.FramesCaptured > 0);
            a.Seal();
        }
        var window = WalRestore.Window(P("vault"), "svc");
        Assert.Empty(window.Gaps);
        Assert.Equal(1, window.Generations);
        Assert.Equal(5L, Count(RestoreNow("svc", "svc-now.db").Destination));
    }

    /// <summary>
    /// The clean-restart rule must not continue a WAL that follows frames nobody archived: after the seal the
    /// application writes, checkpoints (the database file changes) and writes again — that is a gap, not a continuation.
    /// </summary>
    [SkippableFact]
    public void ACheckpointBetweenRunsIsStillAGap()
    {
        Peers.Require("sqlite3");
        string db = P("hole.db");
        Peers.Sqlite3Files(new[] { db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);" });
        using (var a = new WalArchiver(db, P("vault"))) { a.Sync(); a.Seal(); }
        Peers.Sqlite3Files(new[] { db, "INSERT INTO t VALUES (2); PRAGMA wal_checkpoint(RESTART); INSERT INTO t VALUES (3);" });
        using (var a = new WalArchiver(db, P("vault")))
        {
            // The sqlite3 shell removed its WAL on exit after checkpointing it: a new WAL, a changed database file.
            Peers.Sqlite3Files(new[] { db, "INSERT INTO t VALUES (4);" });
            Assert.NotNull(a.Sync().NewGenerationReason);
        }
        var window = WalRestore.Window(P("vault"), "hole");
        Assert.Single(window.Gaps);
        Assert.Equal(2, window.Generations);
    }

    /// <summary>
    /// Issue 11 #6: a damaged or missing state.json is rebuilt from the segments. When the WAL still continues the last
    /// segment, nothing is lost and no gap is made; when it does not, the hole is a recorded gap and a restore inside
    /// it is refused (before: "the archive starts", no gap, and a restore into the hole returned older data).
    /// </summary>
    [Theory]
    [InlineData("garbage")]
    [InlineData("missing")]
    [InlineData("valid but stale")]
    public void ALostStateIsRebuiltFromTheSegmentsAndAHoleIsAGap(string damage)
    {
        string db = P("st.db");
        using var w = SqliteFile.OpenOrCreate(db);
        Exec(w, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(x);");
        var layout = new WalArchiveLayout(P("vault"), "st");
        string stale = null;
        void DamageState()
        {
            if (damage == "garbage") File.WriteAllText(layout.StatePath, "{\"generation\": 12, trunc");
            else if (damage == "missing") File.Delete(layout.StatePath);
            else File.WriteAllText(layout.StatePath, stale);
        }
        using (var a = new WalArchiver(db, P("vault")))
        {
            a.Sync();
            stale = File.ReadAllText(layout.StatePath);
            for (int i = 1; i <= 3; i++) { Exec(w, $"INSERT INTO t VALUES ({i});"); a.Sync(); }
        }
        // 1. The WAL still holds everything after the last segment: rebuilt, continued, nothing lost.
        DamageState();
        Exec(w, "INSERT INTO t VALUES (4);");
        using (var a = new WalArchiver(db, P("vault")))
        {
            var status = a.Sync();
            Assert.Null(status.NewGenerationReason);
            Assert.True(status.FramesCaptured > 0);
        }
        Assert.Empty(WalRestore.Window(P("vault"), "st").Gaps);
        Assert.Equal(4L, Count(RestoreNow("st", "st-1.db").Destination));
        var lastArchived = WalRestore.Window(P("vault"), "st").Latest!.Value;

        // 2. While nobody archived (and the state is lost), the application writes and checkpoints its WAL away.
        DamageState();
        Thread.Sleep(50);
        Exec(w, "INSERT INTO t VALUES (5); PRAGMA wal_checkpoint(TRUNCATE); INSERT INTO t VALUES (6);");
        var holeTime = DateTimeOffset.UtcNow;
        Thread.Sleep(50);
        using (var a = new WalArchiver(db, P("vault")))
        {
            var status = a.Sync();
            Assert.NotNull(status.NewGenerationReason);
            Assert.DoesNotContain("the archive starts", status.NewGenerationReason);
        }
        var window = WalRestore.Window(P("vault"), "st");
        var gap = Assert.Single(window.Gaps);
        Assert.True(gap.From <= lastArchived.AddMilliseconds(1) && gap.To > holeTime, $"gap {gap} must cover {lastArchived:O} – {holeTime:O}");
        var ex = Assert.Throws<TursoBackupException>(() => WalRestore.Restore(P("vault"), "st", holeTime, P("st-hole.db"), false, null, DateTimeOffset.UtcNow));
        Assert.Contains("gap", ex.Message);
        Assert.False(File.Exists(P("st-hole.db")));
        Assert.Equal(6L, Count(RestoreNow("st", "st-2.db").Destination));
    }

    /// <summary>Issue 11 #8 (engine side): a second archiver of the same archive is refused, naming the first.</summary>
    [Fact]
    public void ASecondArchiverOfTheSameArchiveIsRefusedNamingTheFirst()
    {
        string db = P("two.db");
        using var w = SqliteFile.OpenOrCreate(db);
        Exec(w, "PRAGMA journal_mode=WAL; CREATE TABLE t(x);");
        using (var first = new WalArchiver(db, P("vault")) { Owner = "Start-TursoWalArchive" })
        {
            first.Sync();
            using var second = new WalArchiver(db, P("vault"));
            var ex = Assert.Throws<TursoBackupException>(() => second.Sync());
            Assert.Equal(FailureKind.Busy, ex.Kind);
            Assert.Contains($"pid {Environment.ProcessId}", ex.Message);
            Assert.Contains(Environment.MachineName, ex.Message);
            Assert.Contains("Start-TursoWalArchive", ex.Message);
            Exec(w, "INSERT INTO t VALUES (1);");
            first.Sync();
        }
        using (var again = new WalArchiver(db, P("vault")))
        {
            Assert.Null(again.Sync().NewGenerationReason);
        }
        Assert.Empty(WalRestore.Window(P("vault"), "two").Gaps);
    }

    private static void Flip(string file, long offsetFromEnd)
    {
        var bytes = File.ReadAllBytes(file);
        bytes[bytes.Length - offsetFromEnd] ^= 0x5A;
        File.WriteAllBytes(file, bytes);
    }

    /// <summary>
    /// Issue 11 #11: flipped bytes inside a segment's frames, a pack or a generation's snapshot are invisible to the
    /// listing (headers and trailers still hold). Verify reads every segment and snapshot and reports the damaged
    /// intervals as gaps; the result is recorded (verify.json), so the plain window and a restore see it too, and the
    /// health check verifies once a day.
    /// </summary>
    [Fact]
    public void DamageInsideSegmentsPacksAndSnapshotsIsFoundByVerification()
    {
        string db = P("dmg.db");
        using var w = SqliteFile.OpenOrCreate(db);
        Exec(w, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);");
        var now = DateTimeOffset.UtcNow.AddHours(-3);
        var captures = new List<DateTimeOffset>();
        using (var a = new WalArchiver(db, P("vault"), clock: () => now) { PackFanIn = 4, SnapshotInterval = TimeSpan.FromHours(1), Retention = TimeSpan.Zero })
        {
            for (int i = 1; i <= 24; i++)
            {
                Exec(w, $"INSERT INTO t(id, v) VALUES ({i}, randomblob(2000));");
                captures.Add(a.Sync().LastSyncAt);
                now = now.AddMinutes(7); // a new generation every ~9 syncs
            }
            a.Seal();
        }
        var layout = new WalArchiveLayout(P("vault"), "dmg");
        var generations = layout.Generations();
        Assert.True(generations.Count >= 3, $"{generations.Count} generations");
        var clean = WalRestore.Verify(P("vault"), "dmg", DateTimeOffset.UtcNow);
        Assert.Empty(clean.Gaps);
        Assert.NotNull(clean.VerifiedAt);
        File.Delete(layout.VerifyPath); // as if the last verification were more than a day old

        // Generation 0: a pack's frames. Generation 1: its last segment file's (or pack's) frames. Generation 2: its snapshot.
        string pack = layout.SegmentFiles(generations[0]).First(f => f.EndsWith(".pack"));
        Flip(pack, 40);
        var seg = layout.SegmentFiles(generations[1]).Last();
        Flip(seg, 30);
        Flip(layout.SnapshotPath(generations[2]), 50);
        // Invisible to the listing…
        Assert.Empty(WalRestore.Window(P("vault"), "dmg").Gaps);
        var health = new BackupHealth().Check(P("vault"), "dmg").Single();
        // …but the health check's daily verification finds it and says so.
        Assert.Contains(health.Details, f => f.Code == BackupHealth.RestoreWindowGap && f.Message.Contains("damaged"));
        Assert.True(File.Exists(layout.VerifyPath));

        var verified = WalRestore.Verify(P("vault"), "dmg", DateTimeOffset.UtcNow);
        Assert.Equal(3, verified.Gaps.Length);
        var g0 = verified.Gaps.Single(g => g.Reason.Contains(Path.GetFileName(pack)));
        var g1 = verified.Gaps.Single(g => g.Reason.Contains(Path.GetFileName(seg)));
        var g2 = verified.Gaps.Single(g => g.Reason.Contains("snapshot"));
        var start1 = WalRestore.SnapshotTime(layout, generations[1])!.Value;
        var start2 = WalRestore.SnapshotTime(layout, generations[2])!.Value;
        Assert.Equal(start1, g0.To);
        Assert.Equal(start2, g1.To);
        Assert.True(g2.From < start2 && g2.To >= (generations.Count > 3 ? WalRestore.SnapshotTime(layout, generations[3])!.Value : DateTimeOffset.MaxValue));
        // The recorded result: the plain window shows it, and restores inside a damaged interval are refused up front.
        var window = WalRestore.Window(P("vault"), "dmg");
        Assert.Equal(3, window.Gaps.Length);
        foreach (var g in new[] { g0, g1 })
        {
            var inside = g.From + TimeSpan.FromTicks((g.To - g.From).Ticks / 2);
            var ex = Assert.Throws<TursoBackupException>(() => WalRestore.Restore(P("vault"), "dmg", inside, P("in-damage.db"), false, null, DateTimeOffset.UtcNow));
            Assert.Contains("damaged", ex.Message);
        }
        Assert.False(File.Exists(P("in-damage.db")));
        // A time before the damage in generation 1 still restores, with the rows captured by then.
        var ok = WalRestore.Restore(P("vault"), "dmg", g1.From, P("before-damage.db"), false, null, DateTimeOffset.UtcNow);
        Assert.Equal("ok", SqliteFile.Scalar(SqliteFile.OpenReadOnly(ok.Destination), "PRAGMA integrity_check"));
        Assert.Equal(captures.Count(c => c <= g1.From), Count(ok.Destination));
    }

    /// <summary>The health check verifies the archive only when the last verification is older than a day.</summary>
    [Fact]
    public void TheHealthCheckVerifiesTheArchiveOnceADay()
    {
        string db = P("daily.db");
        using var w = SqliteFile.OpenOrCreate(db);
        Exec(w, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);");
        using (var a = new WalArchiver(db, P("vault"))) { a.Sync(); Exec(w, "INSERT INTO t VALUES (2);"); a.Sync(); a.Seal(); }
        var layout = new WalArchiveLayout(P("vault"), "daily");
        var now = DateTimeOffset.UtcNow;
        new BackupHealth(() => now).Check(P("vault"), "daily");
        var first = File.ReadAllText(layout.VerifyPath);
        // Damage now: an hour later the recorded verification still stands (no re-read)…
        Flip(layout.SnapshotPath(layout.Generations().Single()), 20);
        var later = new BackupHealth(() => now.AddHours(1)).Check(P("vault"), "daily").Single();
        Assert.Equal(first, File.ReadAllText(layout.VerifyPath));
        Assert.DoesNotContain(later.Details, f => f.Code == BackupHealth.RestoreWindowGap);
        // …a day later it is verified again and the damage is reported.
        var next = new BackupHealth(() => now.AddHours(25)).Check(P("vault"), "daily").Single();
        Assert.NotEqual(first, File.ReadAllText(layout.VerifyPath));
        Assert.Contains(next.Details, f => f.Code == BackupHealth.RestoreWindowGap && f.Message.Contains("snapshot"));
    }
}
