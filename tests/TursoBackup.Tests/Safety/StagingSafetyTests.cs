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
