using System.Diagnostics;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Tests.Safety;

/// <summary>
/// Work folders (the vault's staging and removal folders, a backup's scratch copy) belong to whoever holds their lock:
/// real other processes hold them, in another PID namespace too, and real kills free them.
/// </summary>
public sealed class StagingSafetyTests : TempFolderTest
{
    private readonly List<Process> holders = new List<Process>();

    public override void Dispose()
    {
        foreach (var p in holders)
        {
            Peers.Kill(p);
            p.Dispose();
        }
        base.Dispose();
    }

    private string MakeDatabase(string name, int rows = 200) =>
        TestDb.Create(P(name), "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);" +
                               $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < {rows}) INSERT INTO t SELECT i, 'row ' || i FROM n;");

    /// <summary>
    /// util-linux flock(1) holds <paramref name="lockPath"/> exactly as the engine's OwnerLock does (flock LOCK_EX),
    /// from a process in a PID namespace of its own (as a backup in a container, or on another host, would be).
    /// </summary>
    private Process HoldInAnotherPidNamespace(string lockPath)
    {
        var holder = Peers.HoldLock(lockPath, inAnotherPidNamespace: true);
        holders.Add(holder);
        return holder;
    }

    [SkippableTheory]
    [InlineData("20260101T000000.000Z-abcdef")]           // a backup's staging folder
    [InlineData("removing-20260101T000000.000Z-abcdef")]  // a removal's folder (the backup renamed away before deleting)
    public void AFolderWhoseOwnerLivesInAnotherPidNamespaceSurvivesABackupAndGoesOnceTheOwnerIsKilled(string folderName)
    {
        string db = MakeDatabase("app.db");
        var vault = BackupVault.OpenOrCreate(P("vault"));
        string theirs = Path.Combine(vault.StagingPath, folderName);
        string theirLock = OwnerLock.PathFor(theirs);
        File.WriteAllText(theirLock, "");
        var holder = HoldInAnotherPidNamespace(theirLock);
        Directory.CreateDirectory(theirs);
        File.WriteAllText(Path.Combine(theirs, "snapshot.db.zst"), "half written by the other process");

        var mine = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = vault.Root });

        Assert.True(File.Exists(Path.Combine(theirs, "snapshot.db.zst")), "a backup removed the live work of another process");
        Assert.True(File.Exists(mine.Location));

        Peers.Kill(holder); // SIGKILL: no cleanup of its own runs
        new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = vault.Root });
        Assert.False(Directory.Exists(theirs), "the folder of a killed owner must be removed by the next backup");
        Assert.False(File.Exists(theirLock), "and its lock file with it");
        Assert.Empty(Directory.GetFileSystemEntries(vault.StagingPath));
    }
}

public sealed class LockedFolderRaceTests : TempFolderTest
{
    /// <summary>
    /// Owners coming and going while others clean the same parent (parallel backups into one vault): no owner fails to
    /// take its folder, and no live owner's folder is removed.
    /// </summary>
    [Fact]
    public void OwnersAndCleanersInTheSameParentNeverTripEachOther()
    {
        Directory.CreateDirectory(dir);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var until = DateTime.UtcNow.AddSeconds(3);
        var workers = Enumerable.Range(0, 6).Select(w => Task.Run(() =>
        {
            while (DateTime.UtcNow < until)
            {
                try
                {
                    using var mine = LockedFolder.Take(dir, $"{w}-" + Guid.NewGuid().ToString("N"), "race test");
                    File.WriteAllText(Path.Combine(mine.Path, "work"), "x");
                    LockedFolder.CleanAbandoned(dir);
                    if (!File.Exists(Path.Combine(mine.Path, "work"))) failures.Enqueue("a cleaner removed a live owner's folder");
                }
                catch (Exception ex)
                {
                    failures.Enqueue(ex.GetType().Name + ": " + ex.Message);
                }
            }
        })).ToArray();
        Task.WaitAll(workers);
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(5)));
        Assert.Empty(Directory.GetFileSystemEntries(dir));
    }
}

public sealed class ScratchSafetyTests : TempFolderTest
{
    private readonly List<Process> holders = new List<Process>();

    public override void Dispose()
    {
        foreach (var p in holders)
        {
            Peers.Kill(p);
            p.Dispose();
        }
        base.Dispose();
    }

    private string MakeDatabase(string name) =>
        TestDb.Create(P(name), "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);" +
                               "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000) INSERT INTO t SELECT i, zeroblob(3000) FROM n;");

    [Theory]
    [InlineData(SnapshotMethod.PageCopy)]
    [InlineData(SnapshotMethod.BackupApi)]
    public void ACompressedSnapshotStagesInTheVaultOnlyWhatIsStored(SnapshotMethod method)
    {
        string db = MakeDatabase("app.db");
        string vault = P("vault");
        string scratch = P("scratch");
        long largestStaged = 0, largestScratch = 0;
        var backup = new SnapshotBackup
        {
            Progress = _ =>
            {
                string staging = Path.Combine(vault, BackupVault.StagingFolder);
                if (Directory.Exists(staging))
                    largestStaged = Math.Max(largestStaged, Directory.GetFiles(staging, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length));
                if (Directory.Exists(scratch))
                    largestScratch = Math.Max(largestScratch, Directory.GetFiles(scratch, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length));
            },
        };
        var info = backup.Run(new BackupRequest { SourcePath = db, VaultPath = vault, ScratchPath = scratch, Method = method });
        Assert.Equal(2000, info.Tables.Single().Rows);
        Assert.True(info.StoredBytes < info.SourceBytes / 20, $"stored {info.StoredBytes} of {info.SourceBytes}");
        Assert.True(largestStaged <= info.StoredBytes + 4096, $"the vault's staging held {largestStaged} bytes for a backup that stores {info.StoredBytes}");
        if (method == SnapshotMethod.BackupApi)
            Assert.True(largestScratch >= info.SourceBytes / 2, "the uncompressed copy is made in the scratch folder");
        else
            Assert.Equal(0, largestScratch); // the page copy profiles the source in its own read transaction: no uncompressed copy at all
        Assert.True(!Directory.Exists(scratch) || Directory.GetFileSystemEntries(scratch).Length == 0, "the scratch folder is left empty");
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(vault, BackupVault.StagingFolder)));
        Assert.True(new TursoBackup.Engine.Verification.BackupVerifier().Test(info).Passed);
    }

    [SkippableFact]
    public void TheScratchFolderOfALiveBackupInAnotherPidNamespaceIsKeptAndAKilledOnesRemoved()
    {
        Skip.If(OperatingSystem.IsWindows(), "PID namespaces and flock(1) are Linux");
        string db = MakeDatabase("app.db");
        string scratch = P("scratch");
        Directory.CreateDirectory(scratch);
        string theirs = Path.Combine(scratch, "tursobackup-scratch-0123456789abcdef");
        string theirLock = OwnerLock.PathFor(theirs);
        File.WriteAllText(theirLock, "");
        var holder = Peers.HoldLock(theirLock, inAnotherPidNamespace: true);
        holders.Add(holder);
        Assert.True(OwnerLock.IsHeld(theirLock));
        Directory.CreateDirectory(theirs);
        File.WriteAllText(Path.Combine(theirs, "snapshot.db.partial"), "theirs");
        // Things in a scratch folder that are not ours are never touched, however old.
        string unrelated = Path.Combine(scratch, "someone-elses-folder");
        Directory.CreateDirectory(unrelated);
        Directory.SetLastWriteTimeUtc(unrelated, DateTime.UtcNow.AddDays(-30));

        // The backup API method makes an uncompressed scratch copy (the page copy needs none).
        var request = new BackupRequest { SourcePath = db, VaultPath = P("vault"), ScratchPath = scratch, Method = SnapshotMethod.BackupApi };
        new SnapshotBackup().Run(request);
        Assert.True(File.Exists(Path.Combine(theirs, "snapshot.db.partial")), "a backup removed the scratch copy of a live backup");

        Peers.Kill(holder);
        new SnapshotBackup().Run(request);
        Assert.False(Directory.Exists(theirs));
        Assert.False(File.Exists(theirLock));
        Assert.Equal(new[] { unrelated }, Directory.GetFileSystemEntries(scratch));
    }
}
