using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Verification;

namespace TursoBackup.Tests.Verification;

/// <summary>Test-Backup's measured restore time (held against the RTO) is the restore's work, not the host's drawing of progress.</summary>
public sealed class RestoreTimeTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "tb-rto-" + Guid.NewGuid().ToString("N")[..8]);

    public RestoreTimeTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, true);

    /// <summary>
    /// Issue 12: with a host that takes 40 ms to draw each progress record (a slow console), the restore time was the
    /// restore plus every drawing. Now the time spent in the progress callback is left out.
    /// </summary>
    [Fact]
    public void TimeSpentDrawingProgressIsNotPartOfTheRestoreTime()
    {
        string db = Path.Combine(dir, "big.db");
        using (var c = SqliteFile.OpenOrCreate(db))
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) INSERT INTO t SELECT i, randomblob(4000) FROM n;";
            cmd.ExecuteNonQuery();
        }
        var backup = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = Path.Combine(dir, "vault") });

        int calls = 0;
        var drawing = TimeSpan.FromMilliseconds(40);
        var slowHost = new BackupVerifier { ScratchRoot = dir, Progress = (done, total) => { calls++; Thread.Sleep(drawing); } };
        var result = slowHost.Test(backup);
        Assert.True(result.Passed, string.Join("; ", result.Checks.Where(c => !c.Passed)));
        Assert.True(calls >= 5, $"only {calls} progress calls: the test needs a restore that reports progress several times");
        var quiet = new BackupVerifier { ScratchRoot = dir }.Test(backup);
        // Drawing took calls × 40 ms; the measured restore must not include it (a generous margin for a loaded machine).
        Assert.True(result.RestoreDuration < quiet.RestoreDuration + TimeSpan.FromMilliseconds(calls * 40 / 2),
            $"restore measured {result.RestoreDuration.TotalMilliseconds:F0} ms with {calls} drawings of 40 ms, {quiet.RestoreDuration.TotalMilliseconds:F0} ms without");
    }
}
