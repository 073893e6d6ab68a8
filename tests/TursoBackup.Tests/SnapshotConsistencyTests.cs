using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Restore;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Verification;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests;

/// <summary>
/// Issue 16: a snapshot reads its content profile from the SOURCE, in the copy's own read transaction, instead of
/// writing an uncompressed copy and reading it back. That is right only if the copy is exactly that transaction's
/// snapshot: the WAL frames up to the mxFrame the transaction pinned (read from the wal-index header), never a commit
/// that came after it.
/// </summary>
public sealed class SnapshotConsistencyTests : TempFolderTest
{
    private Microsoft.Data.Sqlite.SqliteConnection WalDatabase(string name, out string path)
    {
        path = Path.Combine(dir, name);
        var c = SqliteFile.OpenOrCreate(path);
        Exec(c, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, b BLOB);");
        return c;
    }

    [Fact]
    public void TheReadTransactionsHeaderNamesTheWalsLastCommitAndSalts()
    {
        using var w = WalDatabase("hdr.db", out string path);
        for (int i = 0; i < 40; i++) Exec(w, $"INSERT INTO t(v, b) VALUES ('row {i}', randomblob(2000));");
        using var reader = SqliteFile.OpenReadOnly(path);
        Assert.Null(WalIndexHeader.OfReadTransaction(reader)); // no read transaction yet
        WalIndexHeader hdr;
        using (SqliteFile.BeginReadSnapshot(reader, path, out hdr))
        {
            var wal = WalFile.Read(path + "-wal");
            Assert.NotNull(hdr);
            Assert.Equal(wal.CommittedFrames, hdr!.MaxFrame);
            Assert.Equal((wal.Salt1, wal.Salt2), (hdr.Salt1, hdr.Salt2));
            Assert.Equal(wal.DatabasePages, hdr.DatabasePages);
            Exec(w, "INSERT INTO t(v) VALUES ('one more')");
            Assert.True(hdr.SameAs(WalIndexHeader.OfReadTransaction(reader))); // the transaction's snapshot does not move
        }
        using (SqliteFile.BeginReadSnapshot(reader, path, out var later))
            Assert.True(later!.MaxFrame > hdr.MaxFrame);
    }

    [Fact]
    public void AWalNothingWasWrittenToSinceItWasOpenedIsTheFileAlone()
    {
        // The usual state of a database whose last connection closed: WAL mode, no -wal file. SQLite gives no snapshot
        // of it; the copy is then the file alone, and a snapshot backup still needs no scratch copy.
        string path = Create(Path.Combine(dir, "quiet.db"), "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); INSERT INTO t(v) SELECT randomblob(3000) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3);");
        Assert.False(File.Exists(path + "-wal") && new FileInfo(path + "-wal").Length > 0);
        using (var reader = SqliteFile.OpenReadOnly(path))
        using (SqliteFile.BeginReadSnapshot(reader, path, out var hdr))
        {
            Assert.NotNull(hdr);
            Assert.Equal(0u, hdr!.MaxFrame);
        }
        var log = new List<string>();
        var info = new SnapshotBackup { Log = log.Add }.Run(new BackupRequest { SourcePath = path, VaultPath = Path.Combine(dir, "vault"), ScratchPath = Path.Combine(dir, "scratch") });
        Assert.False(Directory.Exists(Path.Combine(dir, "scratch")), "no scratch copy");
        Assert.Equal(3, info.Tables.Single().Rows);
        Assert.True(new BackupVerifier().Test(info).Passed);
    }

    [Fact]
    public void PinningTheSnapshotKeepsTheReadTransactionsLockSoNoCheckpointCanResetTheWal()
    {
        // Closing any descriptor of a file drops every POSIX lock the process holds on it (SQLite's WAL read marks are
        // such locks on the -shm file): the snapshot must be pinned without opening the -shm file ourselves.
        using var w = WalDatabase("pin.db", out string path);
        for (int i = 0; i < 200; i++) Exec(w, $"INSERT INTO t(v, b) VALUES ('row {i}', randomblob(1500));");
        using var reader = SqliteFile.OpenReadOnly(path);
        using var tx = SqliteFile.BeginReadSnapshot(reader, path, out var snapshot);
        Assert.NotNull(snapshot);
        for (int i = 0; i < 20; i++) Exec(w, $"INSERT INTO t(v, b) VALUES ('later {i}', randomblob(1500));");
        // Another process's TRUNCATE must find the reader busy (its read mark is a lock on the -shm file; within one
        // process SQLite does not need the OS locks, so the checkpoint runs in sqlite3): the WAL keeps its frames.
        var check = TursoBackup.TestSupport.Peers.Run(TursoBackup.TestSupport.Peers.Require("sqlite3"), new[] { path, "PRAGMA busy_timeout = 100; PRAGMA wal_checkpoint(TRUNCATE);" });
        Assert.Equal(0, check.Code);
        Assert.StartsWith("1|", check.Stdout.Trim().Split('\n').Last());
        Assert.True(new FileInfo(path + "-wal").Length > 0);
        var wal = WalFile.Read(path + "-wal");
        Assert.Equal((wal.Salt1, wal.Salt2), (snapshot!.Salt1, snapshot.Salt2));
        Assert.True(wal.CommittedFrames > snapshot.MaxFrame);
    }

    [Theory]
    [InlineData(CompressionKind.Zstd)]
    [InlineData(CompressionKind.None)]
    public void ACommitAfterTheReadTransactionBeganIsLeftOutAndTheProfileMatchesTheCopy(CompressionKind compression)
    {
        using var w = WalDatabase("live.db", out string path);
        for (int i = 0; i < 500; i++) Exec(w, $"INSERT INTO t(v, b) VALUES ('row {i}', randomblob(1500));");
        int commits = 0;
        PageCopy.BeforeWalScan = copied =>
        {
            if (copied != path) return;
            // A writer commits after the snapshot's read transaction began and before the WAL is read.
            Exec(w, "INSERT INTO t(v, b) SELECT 'late ' || id, randomblob(1500) FROM t WHERE id <= 100; UPDATE t SET v = 'changed late' WHERE id <= 50;");
            commits++;
        };
        BackupInfo info;
        var log = new List<string>();
        try
        {
            info = new SnapshotBackup { Log = log.Add }.Run(new BackupRequest { SourcePath = path, VaultPath = Path.Combine(dir, "vault"), Compression = compression });
        }
        finally
        {
            PageCopy.BeforeWalScan = null;
        }
        Assert.Equal(1, commits);
        Assert.Equal(500, info.Tables.Single().Rows);
        Assert.Contains(log, l => l.Contains("its snapshot: WAL frame"));
        var test = new BackupVerifier().Test(info);
        Assert.True(test.Passed, string.Join("; ", test.Checks.Where(c => !c.Passed)));
        string restored = Path.Combine(dir, "restored.db");
        new BackupRestore().Restore(info, restored, false, null);
        Assert.Equal(500L, Long(restored, "SELECT count(*) FROM t"));
        Assert.Equal(0L, Long(restored, "SELECT count(*) FROM t WHERE v LIKE '%late%'"));
        Assert.Equal(600L, Long(path, "SELECT count(*) FROM t")); // the late commit is in the database, just not in this backup
    }

    [Fact]
    public void AWalRestartedBeforeTheScanMeansTheFileAloneIsTheSnapshot()
    {
        using var w = WalDatabase("restart.db", out string path);
        for (int i = 0; i < 300; i++) Exec(w, $"INSERT INTO t(v, b) VALUES ('row {i}', randomblob(1500));");
        Exec(w, "PRAGMA wal_checkpoint(PASSIVE);"); // all copied back: the next reader reads the file alone (read mark 0)
        using var reader = SqliteFile.OpenReadOnly(path);
        using var tx = SqliteFile.BeginReadSnapshot(reader, path, out var snapshot);
        Assert.NotNull(snapshot);
        PageCopy.BeforeWalScan = copied =>
        {
            if (copied != path) return;
            // The writer restarts the WAL (no reader on a WAL frame) and fills it with other content.
            Exec(w, "DELETE FROM t WHERE id % 2 = 0; UPDATE t SET v = 'overwritten', b = randomblob(1700);");
        };
        string copy = Path.Combine(dir, "copy.db");
        try
        {
            using var db = PageCopy.OpenDatabaseFile(path);
            using var output = new FileStream(copy, FileMode.CreateNew);
            PageCopy.Copy(db, path, true, output, null, CancellationToken.None, out _, snapshot);
        }
        finally
        {
            PageCopy.BeforeWalScan = null;
        }
        Assert.NotEqual(snapshot!.Salt1, WalFile.HeaderOnly(path + "-wal").Salt1);
        using var c = SqliteFile.OpenImmutable(copy);
        Assert.Equal("ok", SqliteFile.Scalar(c, "PRAGMA integrity_check"));
        Assert.Equal(300L, (long)SqliteFile.Scalar(c, "SELECT count(*) FROM t"));
        Assert.Equal(0L, (long)SqliteFile.Scalar(c, "SELECT count(*) FROM t WHERE v = 'overwritten'"));
    }
}
