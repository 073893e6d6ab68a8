using System.Diagnostics;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Verification;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests;

/// <summary>The WAL reader and the page copy, against SQLite's own view of the same files.</summary>
public sealed class PageCopyTests : TempFolderTest
{
    private SqliteConnection WalDatabase(string name, out string path)
    {
        path = Path.Combine(dir, name);
        var c = SqliteFile.OpenOrCreate(path);
        Exec(c, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, b BLOB);");
        return c;
    }

    [Fact]
    public void WalReaderCountsTheFramesSqliteSees()
    {
        using var c = WalDatabase("w.db", out string path);
        for (int i = 0; i < 50; i++) Exec(c, $"INSERT INTO t(v, b) VALUES ('row {i}', randomblob(3000));");
        var wal = WalFile.Read(path + "-wal");
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
        long logFrames;
        using (var r = cmd.ExecuteReader()) { r.Read(); logFrames = r.GetInt64(1); }
        Assert.Equal(logFrames, wal.CommittedFrames);
        Assert.Equal(4096, wal.PageSize);
        Assert.Equal((long)SqliteFile.Scalar(c, "PRAGMA page_count"), wal.DatabasePages);
    }

    [Fact]
    public void ReadingAfterTheKnownFramesGivesTheSameEndAndFallsBackWhenTheWalIsAnother()
    {
        using var c = WalDatabase("after.db", out string path);
        for (int i = 0; i < 20; i++) Exec(c, $"INSERT INTO t(v, b) VALUES ('row {i}', randomblob(3000));");
        var first = WalFile.Read(path + "-wal");
        for (int i = 0; i < 20; i++) Exec(c, $"INSERT INTO t(v, b) VALUES ('more {i}', randomblob(3000));");
        var full = WalFile.Read(path + "-wal");
        var after = WalFile.ReadAfter(path + "-wal", first.Salt1, first.Salt2, first.CheckpointSequence, first.CommittedFrames, first.CommittedChecksum0, first.CommittedChecksum1);
        Assert.Equal(full.CommittedFrames, after.CommittedFrames);
        Assert.Equal(full.CommittedChecksum0, after.CommittedChecksum0);
        Assert.Equal(full.CommittedChecksum1, after.CommittedChecksum1);
        Assert.Equal(full.DatabasePages, after.DatabasePages);
        Assert.True(after.NewestPageOffsets.Count < full.NewestPageOffsets.Count || first.CommittedFrames == 0);
        // Nothing new: the known end, with its checksum and size.
        var none = WalFile.ReadAfter(path + "-wal", full.Salt1, full.Salt2, full.CheckpointSequence, full.CommittedFrames, full.CommittedChecksum0, full.CommittedChecksum1);
        Assert.Equal(full.CommittedFrames, none.CommittedFrames);
        Assert.Equal(full.DatabasePages, none.DatabasePages);
        // A wrong seed (the WAL is not the one the archive continued) reads the whole WAL.
        var other = WalFile.ReadAfter(path + "-wal", first.Salt1, first.Salt2, first.CheckpointSequence, first.CommittedFrames, first.CommittedChecksum0 ^ 1, first.CommittedChecksum1);
        Assert.Equal(full.NewestPageOffsets.Count, other.NewestPageOffsets.Count);
        Assert.Equal(full.CommittedFrames, other.CommittedFrames);
        // After a restart (new salts) the old description falls back to the whole, shorter WAL.
        Exec(c, "PRAGMA wal_checkpoint(TRUNCATE);");
        Exec(c, "INSERT INTO t(v) VALUES ('after restart');");
        var restarted = WalFile.ReadAfter(path + "-wal", full.Salt1, full.Salt2, full.CheckpointSequence, full.CommittedFrames, full.CommittedChecksum0, full.CommittedChecksum1);
        Assert.Equal(WalFile.Read(path + "-wal").CommittedFrames, restarted.CommittedFrames);
        Assert.True(restarted.CommittedFrames < full.CommittedFrames);
    }

    /// <summary>
    /// A read transaction that began when the WAL was fully copied back holds read mark 0: checkpoints cannot write the
    /// file, but the next writer restarts the WAL and overwrites its frames. If that happens between the WAL scan and
    /// the page copy, the frames found by the scan are gone — the copy must notice and take the file alone (found as a
    /// rare "database disk image is malformed" snapshot under a busy writer).
    /// </summary>
    [Fact]
    public void AWalRestartedBetweenTheScanAndTheCopyIsNoticed()
    {
        using var w = WalDatabase("restart.db", out string path);
        for (int i = 0; i < 300; i++) Exec(w, $"INSERT INTO t(v, b) VALUES ('row {i}', randomblob(1500));");
        Exec(w, "PRAGMA wal_checkpoint(PASSIVE);"); // everything copied back, the WAL not restarted: its frames are still there
        using var reader = SqliteFile.OpenReadOnly(path);
        using var tx = reader.BeginTransaction(deferred: true);
        long expected;
        using (var cmd = reader.CreateCommand()) { cmd.Transaction = tx; cmd.CommandText = "SELECT count(*) FROM t"; expected = (long)cmd.ExecuteScalar()!; }
        bool restarted = false;
        PageCopy.AfterWalScan = copied =>
        {
            if (copied != path) return; // other tests copy other databases meanwhile
            // The next writer restarts the WAL (nothing left to copy back, no reader on a WAL frame) and overwrites it.
            Exec(w, "DELETE FROM t WHERE id % 2 = 0; UPDATE t SET v = 'overwritten', b = randomblob(1700);");
            restarted = WalFile.HeaderOnly(path + "-wal").Salt1 != 0;
        };
        string copy = Path.Combine(dir, "restart-copy.db");
        try
        {
            using var output = new FileStream(copy, FileMode.CreateNew);
            using var db = PageCopy.OpenDatabaseFile(path);
            PageCopy.Copy(db, path, true, output, null, CancellationToken.None, out _);
        }
        finally
        {
            PageCopy.AfterWalScan = null;
        }
        Assert.True(restarted);
        using var c = SqliteFile.OpenImmutable(copy);
        Assert.Equal("ok", SqliteFile.Scalar(c, "PRAGMA integrity_check"));
        Assert.Equal(expected, (long)SqliteFile.Scalar(c, "SELECT count(*) FROM t"));
        Assert.Equal(0L, (long)SqliteFile.Scalar(c, "SELECT count(*) FROM t WHERE v = 'overwritten'"));
    }

    [Fact]
    public void ATornOrDamagedFrameEndsTheWalAtTheLastCommit()
    {
        string path;
        using (var c = WalDatabase("torn.db", out path))
        {
            Exec(c, "INSERT INTO t(v) VALUES ('one');");
            Exec(c, "INSERT INTO t(v, b) VALUES ('two', randomblob(20000));"); // several frames, one commit
            var full = WalFile.Read(path + "-wal");
            string copy = Path.Combine(dir, "torn-copy-wal");
            // Cut the last transaction in the middle: only the first commit survives.
            File.Copy(path + "-wal", copy);
            using (var fs = new FileStream(copy, FileMode.Open)) fs.SetLength(fs.Length - full.FrameSize - 100);
            var torn = WalFile.Read(copy);
            Assert.True(torn.CommittedFrames < full.CommittedFrames);
            Assert.True(torn.CommittedFrames > 0);
            // A flipped byte inside the first frame invalidates everything from there.
            var bytes = File.ReadAllBytes(path + "-wal");
            bytes[WalFile.HeaderSize + WalFile.FrameHeaderSize + 10] ^= 1;
            File.WriteAllBytes(copy, bytes);
            Assert.Equal(0, WalFile.Read(copy).CommittedFrames);
            Assert.Equal(0, WalFile.Read(Path.Combine(dir, "missing-wal")).CommittedFrames);
        }
    }

    [Theory]
    [InlineData(SnapshotMethod.PageCopy)]
    [InlineData(SnapshotMethod.BackupApi)]
    public void UncheckpointedWalContentIsInTheBackup(SnapshotMethod method)
    {
        using var c = WalDatabase("live.db", out string path);
        Exec(c, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000) INSERT INTO t(v, b) SELECT 'v' || i, randomblob(500) FROM n;");
        Exec(c, "PRAGMA wal_checkpoint(TRUNCATE);");
        Exec(c, "DELETE FROM t WHERE id % 3 = 0; UPDATE t SET v = 'changed' WHERE id % 5 = 0;");
        Exec(c, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500) INSERT INTO t(v, b) SELECT 'new' || i, randomblob(900) FROM n;");
        Assert.True(new FileInfo(path + "-wal").Length > 100_000);
        var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = path, VaultPath = Path.Combine(dir, "vault"), Compression = CompressionKind.None, Method = method });
        Assert.Equal((long)SqliteFile.Scalar(c, "SELECT count(*) FROM t"), info.Tables.Single().Rows);
        Assert.True(new BackupVerifier().Test(info).Passed);
        using var copy = SqliteFile.OpenReadOnly(info.Location);
        Assert.Equal(SqliteFile.Scalar(c, "SELECT group_concat(v) FROM t"), SqliteFile.Scalar(copy, "SELECT group_concat(v) FROM t"));
        Assert.Equal(SqliteFile.Scalar(c, "SELECT sum(length(b)) FROM t"), SqliteFile.Scalar(copy, "SELECT sum(length(b)) FROM t"));
    }

    /// <summary>
    /// A writer commits transfers between accounts as fast as it can, and the application checkpoints in every mode,
    /// while backups are taken with both methods. Every backup must be a transaction boundary: integrity ok, the
    /// money conserved, the audit count equal to the number of transfers.
    /// </summary>
    [Theory]
    [InlineData(SnapshotMethod.PageCopy, "WAL")]
    [InlineData(SnapshotMethod.BackupApi, "WAL")]
    [InlineData(SnapshotMethod.PageCopy, "DELETE")]
    public async Task BackupsUnderAWriterAndCheckpointsAreTransactionBoundaries(SnapshotMethod method, string journal)
    {
        string path = Path.Combine(dir, "bank.db");
        using (var setup = SqliteFile.OpenOrCreate(path))
        {
            Exec(setup, $"PRAGMA journal_mode={journal}; CREATE TABLE account(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL); CREATE TABLE audit(id INTEGER PRIMARY KEY, note BLOB);");
            Exec(setup, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000) INSERT INTO account SELECT i, 1000 FROM n;");
        }
        using var stop = new CancellationTokenSource();
        long transfers = 0;
        var writer = Task.Run(() =>
        {
            using var w = SqliteFile.OpenReadWrite(path, TimeSpan.FromSeconds(60));
            var rnd = new Random(7);
            string[] checkpoints = { "PASSIVE", "FULL", "RESTART", "TRUNCATE" };
            for (long i = 0; !stop.IsCancellationRequested; i++)
            {
                int a = rnd.Next(1, 1001), b = rnd.Next(1, 1001), amount = rnd.Next(1, 50);
                Exec(w, $"BEGIN IMMEDIATE; UPDATE account SET balance = balance - {amount} WHERE id = {a}; UPDATE account SET balance = balance + {amount} WHERE id = {b}; INSERT INTO audit(note) VALUES (randomblob({rnd.Next(10, 3000)})); COMMIT;");
                Interlocked.Increment(ref transfers);
                if (journal == "WAL" && i % 97 == 0) Exec(w, $"PRAGMA wal_checkpoint({checkpoints[(i / 97) % 4]});");
            }
        });
        try
        {
            var vault = Path.Combine(dir, "vault");
            var audits = new HashSet<long>();
            for (int n = 0; n < 8; n++)
            {
                while (Interlocked.Read(ref transfers) < (n + 1) * 150 && !writer.IsCompleted) Thread.Sleep(5);
                var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = path, VaultPath = vault, Compression = n % 2 == 0 ? CompressionKind.None : CompressionKind.Gzip, Method = method, LockTimeout = TimeSpan.FromSeconds(60) });
                var test = new BackupVerifier().Test(info, queries: new Dictionary<string, string>
                {
                    ["money conserved"] = "SELECT sum(balance) = 1000000 FROM account",
                });
                Assert.True(test.Passed, $"backup {n}: {test.FailedChecks}: " + string.Join("; ", test.Checks.Where(c => !c.Passed).Select(c => c.Detail)));
                audits.Add(info.Tables.Single(t => t.Name == "audit").Rows);
            }
            Assert.True(audits.Count >= 4, "the backups did not overlap the writer");
        }
        finally
        {
            stop.Cancel();
            await writer;
        }
    }

    /// <summary>
    /// The POSIX-lock hazard made real: during the copy, another descriptor of the database is opened and closed in
    /// this process (dropping SQLite's SHARED lock), then another process writes. The copy must notice and refuse.
    /// </summary>
    [SkippableFact]
    public void ACopyWhoseReadLockWasLostIsRefused()
    {
        Skip.If(OperatingSystem.IsWindows(), "POSIX locks");
        string sqlite3 = Peers.Require("sqlite3");
        string path = Path.Combine(dir, "rollback.db");
        using (var c = SqliteFile.OpenOrCreate(path))
        {
            Exec(c, "PRAGMA journal_mode=DELETE; CREATE TABLE t(x BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 3000) INSERT INTO t SELECT randomblob(1000) FROM n;");
        }
        using var src = SqliteFile.OpenReadOnly(path);
        using var tx = src.BeginTransaction(deferred: true);
        using (var cmd = src.CreateCommand()) { cmd.Transaction = tx; cmd.CommandText = "SELECT count(*) FROM t"; cmd.ExecuteScalar(); }
        var sabotage = new SabotagingStream(() =>
        {
            new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite).Dispose(); // drops our SHARED lock
            var (code, _, stderr) = Peers.Run(sqlite3, new[] { path, ".timeout 5000", "INSERT INTO t VALUES (zeroblob(10));" });
            Assert.True(code == 0, stderr); // it could write: the lock really was gone
        });
        using var db = PageCopy.OpenDatabaseFile(path);
        var ex = Assert.Throws<TursoBackupException>(() => PageCopy.Copy(db, path, false, sabotage, null, CancellationToken.None, out _));
        Assert.Equal(FailureKind.Busy, ex.Kind);
    }

    private sealed class SabotagingStream : Stream
    {
        private Action once;
        public SabotagingStream(Action once) { this.once = once; }
        public override void Write(byte[] buffer, int offset, int count) { var a = once; once = null; a?.Invoke(); }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => 0;
        public override long Position { get => 0; set { } }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) { }
    }
}
