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
public sealed class StagingSafetyTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "tb-staging-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly List<Process> holders = new List<Process>();

    public StagingSafetyTests() => Directory.CreateDirectory(dir);

    public void Dispose()
    {
        foreach (var p in holders)
        {
            try { if (!p.HasExited) { p.Kill(entireProcessTree: true); p.WaitForExit(); } } catch (InvalidOperationException) { }
            p.Dispose();
        }
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    private string P(string name) => Path.Combine(dir, name);

    private string MakeDatabase(string name, int rows = 200)
    {
        string path = P(name);
        using var c = SqliteFile.OpenOrCreate(path);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);" +
                          $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < {rows}) INSERT INTO t SELECT i, 'row ' || i FROM n;";
        cmd.ExecuteNonQuery();
        return path;
    }

    private static bool InCi => Environment.GetEnvironmentVariable("CI") == "true";

    /// <summary>
    /// util-linux flock(1) holds <paramref name="lockPath"/> exactly as the engine's OwnerLock does (flock LOCK_EX),
    /// from a process in a PID namespace of its own (as a backup in a container, or on another host, would be).
    /// </summary>
    private Process HoldInAnotherPidNamespace(string lockPath)
    {
        Skip.If(OperatingSystem.IsWindows(), "PID namespaces and flock(1) are Linux");
        var psi = new ProcessStartInfo("unshare", $"-rpf --mount-proc flock -x \"{lockPath}\" sleep 120")
        {
            UseShellExecute = false, RedirectStandardError = true,
        };
        var holder = Process.Start(psi)!;
        holders.Add(holder);
        var until = DateTime.UtcNow.AddSeconds(10);
        while (!OwnerLock.IsHeld(lockPath) && DateTime.UtcNow < until && !holder.HasExited) Thread.Sleep(20);
        if (holder.HasExited && !InCi) Skip.If(true, "this machine does not allow unprivileged PID namespaces: " + holder.StandardError.ReadToEnd());
        Assert.True(OwnerLock.IsHeld(lockPath), "the other process must hold the lock");
        return holder;
    }

    private static void KillHard(Process p)
    {
        p.Kill(entireProcessTree: true); // SIGKILL: no cleanup of its own runs
        p.WaitForExit();
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

        KillHard(holder);
        new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = vault.Root });
        Assert.False(Directory.Exists(theirs), "the folder of a killed owner must be removed by the next backup");
        Assert.False(File.Exists(theirLock), "and its lock file with it");
        Assert.Empty(Directory.GetFileSystemEntries(vault.StagingPath));
    }
}

public sealed class LockedFolderRaceTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "tb-lockrace-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

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

public sealed class ScratchSafetyTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "tb-scratch-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly List<Process> holders = new List<Process>();

    public ScratchSafetyTests() => Directory.CreateDirectory(dir);

    public void Dispose()
    {
        foreach (var p in holders)
        {
            try { if (!p.HasExited) { p.Kill(entireProcessTree: true); p.WaitForExit(); } } catch (InvalidOperationException) { }
            p.Dispose();
        }
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    private string P(string name) => Path.Combine(dir, name);

    private string MakeDatabase(string name)
    {
        string path = P(name);
        using var c = SqliteFile.OpenOrCreate(path);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);" +
                          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000) INSERT INTO t SELECT i, zeroblob(3000) FROM n;";
        cmd.ExecuteNonQuery();
        return path;
    }

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
        Assert.True(largestScratch >= info.SourceBytes / 2, "the uncompressed copy is made in the scratch folder");
        Assert.Empty(Directory.GetFileSystemEntries(scratch));
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
        var holder = Process.Start(new ProcessStartInfo("unshare", $"-rpf --mount-proc flock -x \"{theirLock}\" sleep 120") { UseShellExecute = false })!;
        holders.Add(holder);
        var until = DateTime.UtcNow.AddSeconds(10);
        while (!OwnerLock.IsHeld(theirLock) && DateTime.UtcNow < until) Thread.Sleep(20);
        Assert.True(OwnerLock.IsHeld(theirLock));
        Directory.CreateDirectory(theirs);
        File.WriteAllText(Path.Combine(theirs, "snapshot.db.partial"), "theirs");
        // Things in a scratch folder that are not ours are never touched, however old.
        string unrelated = Path.Combine(scratch, "someone-elses-folder");
        Directory.CreateDirectory(unrelated);
        Directory.SetLastWriteTimeUtc(unrelated, DateTime.UtcNow.AddDays(-30));

        var request = new BackupRequest { SourcePath = db, VaultPath = P("vault"), ScratchPath = scratch };
        new SnapshotBackup().Run(request);
        Assert.True(File.Exists(Path.Combine(theirs, "snapshot.db.partial")), "a backup removed the scratch copy of a live backup");

        holder.Kill(entireProcessTree: true);
        holder.WaitForExit();
        new SnapshotBackup().Run(request);
        Assert.False(Directory.Exists(theirs));
        Assert.False(File.Exists(theirLock));
        Assert.Equal(new[] { unrelated }, Directory.GetFileSystemEntries(scratch));
    }
}
