using System.Diagnostics;
using System.Text;

namespace TursoBackup.Module.Tests;

/// <summary>
/// Backup-TursoDatabase and its work folders with real other processes: a backup in another PID namespace (a container,
/// another host on a shared vault) keeps its staging folder while this one runs; a killed one's is cleaned; a vault with
/// room only for what is stored takes a compressed backup.
/// </summary>
public sealed class StagingSafetyCmdletTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public StagingSafetyCmdletTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    /// <summary>A sqlite3 process holding an EXCLUSIVE lock on a rollback-journal database until released: readers wait.</summary>
    private sealed class ExclusiveLock : IDisposable
    {
        private readonly Process sqlite3;

        public ExclusiveLock(string db)
        {
            sqlite3 = Peers.Sqlite3Session(db);
            // .timeout: a reader's SHARED lock at this instant must not make BEGIN EXCLUSIVE fail for good; the
            // acknowledgement on stdout says the lock is held (probing with another sqlite3 raced with it).
            sqlite3.StandardInput.WriteLine(".timeout 20000");
            sqlite3.StandardInput.WriteLine("BEGIN EXCLUSIVE; SELECT 'locked';");
            sqlite3.StandardInput.Flush();
            var line = sqlite3.StandardOutput.ReadLineAsync();
            Assert.True(line.Wait(20_000) && line.Result == "locked", "sqlite3 did not take the exclusive lock");
        }

        public void Dispose()
        {
            if (sqlite3.HasExited) return;
            sqlite3.StandardInput.WriteLine("COMMIT;");
            sqlite3.StandardInput.WriteLine(".quit");
            sqlite3.StandardInput.Close();
            if (!sqlite3.WaitForExit(20_000)) sqlite3.Kill();
            sqlite3.Dispose();
        }
    }

    /// <summary>
    /// pwsh backing up <paramref name="db"/> in a PID namespace of its own, where it runs as PID 30000 (a
    /// PID that names no process out here, so a check by PID would call its work abandoned), then restore-testing it.
    /// </summary>
    private static (Process Process, StringBuilder Out, StringBuilder Err) StartBackupInAnotherPidNamespace(string db, string vault, string name)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "PID namespaces are Linux");
        string unshare = Peers.Require("unshare");
        string command = $"Backup-TursoDatabase -Path '{db}' -Vault '{vault}' -LockTimeout '00:03:00' | Out-Null; " +
                         $"'passed: ' + @(Get-TursoBackup -Vault '{vault}' -Database '{name}' | Test-Backup | Where-Object Passed).Count";
        // "; exit $?" keeps the shell from exec'ing dotnet as PID 1: dotnet (pwsh.dll) is forked after ns_last_pid was set.
        string script = $"echo 29999 > /proc/sys/kernel/ns_last_pid; {Peers.PwshShellLine(command)}; exit $?";
        var psi = new ProcessStartInfo(unshare) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-rpf", "--mount-proc", "sh", "-c", script }) psi.ArgumentList.Add(a);
        psi.Environment["NO_COLOR"] = "1";
        var p = Process.Start(psi)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (stdout) stdout.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return (p, stdout, stderr);
    }

    private static string WaitForStagingFolder(string vault, Process owner, StringBuilder err)
    {
        string staging = Path.Combine(vault, ".staging");
        var until = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < until && !owner.HasExited)
        {
            if (Directory.Exists(staging))
            {
                var found = Directory.GetDirectories(staging);
                if (found.Length == 1) return found[0];
            }
            Thread.Sleep(20);
        }
        Assert.Fail("the other backup made no staging folder: " + err);
        return null;
    }

    [SkippableFact]
    public void ABackupInAnotherPidNamespaceKeepsItsStagingFolderAndLandsIntact()
    {
        using var dir = new TempDir();
        string theirs = SampleDatabases.CreateShop(dir["theirs.db"], "delete");
        string ours = SampleDatabases.CreateShop(dir["ours.db"]);
        string vault = dir["vault"];
        session.Run("Backup-TursoDatabase -Path $p -Vault $vault", Vars(("p", ours), ("vault", vault))).NoErrors();

        var (other, otherOut, otherErr) = (default(Process), default(StringBuilder), default(StringBuilder));
        using (new ExclusiveLock(theirs)) // their backup waits for the source's lock, inside its staging folder
        {
            (other, otherOut, otherErr) = StartBackupInAnotherPidNamespace(theirs, vault, "theirs");
            string theirStaging = WaitForStagingFolder(vault, other, otherErr);

            session.Run("Backup-TursoDatabase -Path $p -Vault $vault", Vars(("p", ours), ("vault", vault))).NoErrors();

            Assert.False(other.HasExited, "the other backup must still be running: " + otherErr);
            Assert.True(Directory.Exists(theirStaging), "this backup removed the staging folder of a live backup in another PID namespace");
        }
        using (other)
        {
            Assert.True(other.WaitForExit(180_000), "the other backup did not finish");
            other.WaitForExit();
            Assert.True(other.ExitCode == 0, $"the other backup failed (exit {other.ExitCode}): {otherErr}");
            Assert.Contains("passed: 1", otherOut.ToString());
        }
        var tested = session.Run("Get-TursoBackup -Vault $vault -Latest | Test-Backup", Vars(("vault", vault))).NoErrors().Output;
        Assert.Equal(2, tested.Count);
        Assert.All(tested, t => Assert.True((bool)t.Properties["Passed"].Value));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(vault, ".staging")));
    }

    [SkippableFact]
    public void TheStagingFolderOfABackupKilledWithSigkillIsCleanedByTheNextBackup()
    {
        using var dir = new TempDir();
        string theirs = SampleDatabases.CreateShop(dir["theirs.db"], "delete");
        string ours = SampleDatabases.CreateShop(dir["ours.db"]);
        string vault = dir["vault"];
        session.Run("Backup-TursoDatabase -Path $p -Vault $vault", Vars(("p", ours), ("vault", vault))).NoErrors();
        using (new ExclusiveLock(theirs))
        {
            var (other, _, otherErr) = StartBackupInAnotherPidNamespace(theirs, vault, "theirs");
            using (other)
            {
                string theirStaging = WaitForStagingFolder(vault, other, otherErr);
                other.Kill(entireProcessTree: true); // SIGKILL to the namespace's processes: nothing of theirs cleans up
                other.WaitForExit();
                Assert.True(Directory.Exists(theirStaging), "the killed backup's staging folder is left behind");
            }
        }
        session.Run("Backup-TursoDatabase -Path $p -Vault $vault", Vars(("p", ours), ("vault", vault))).NoErrors();
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(vault, ".staging")));
        Assert.Equal(new[] { "ours" }, session.Run("Get-TursoBackup -Vault $vault", Vars(("vault", vault))).NoErrors()
            .All<BackupInfo>().Select(b => b.Database).Distinct());
    }

    /// <summary>Runs pwsh in a private mount namespace with a tmpfs of <paramref name="megabytes"/> MiB at <paramref name="mountPoint"/>.</summary>
    private static (int Code, string Stdout, string Stderr) RunOnSmallDisk(string mountPoint, int megabytes, string command)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "tmpfs");
        string unshare = Peers.Require("unshare");
        Directory.CreateDirectory(mountPoint);
        string script = $"mount -t tmpfs -o size={megabytes}m tmpfs '{mountPoint}' && {Peers.PwshShellLine(command)}";
        return Peers.Run(unshare, new[] { "-rm", "sh", "-c", script }, env: new Dictionary<string, string> { ["NO_COLOR"] = "1" });
    }

    [SkippableFact]
    public void ACompressedBackupNeedsRoomInTheVaultOnlyForWhatIsStored()
    {
        using var dir = new TempDir();
        // 25 MiB of pages that compress to almost nothing, into a vault on a 20 MiB disk.
        string db = dir["big.db"];
        Peers.Sqlite3(db, """
            PRAGMA journal_mode = wal;
            CREATE TABLE t(id INTEGER PRIMARY KEY, data BLOB);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6400) INSERT INTO t SELECT i, zeroblob(4000) FROM n;
            """);
        Assert.True(new FileInfo(db).Length > 25_000_000);
        string vault = dir["small-disk"] + "/vault";
        var (code, stdout, stderr) = RunOnSmallDisk(dir["small-disk"], 20,
            $"$b = Backup-TursoDatabase -Path '{db}' -Vault '{vault}'; 'stored: ' + $b.StoredBytes; 'rows: ' + $b.Tables[0].Rows; " +
            $"'passed: ' + (Get-TursoBackup -Vault '{vault}' | Test-Backup).Passed; " +
            $"'staging: ' + @([System.IO.Directory]::GetFileSystemEntries('{vault}/.staging')).Count");
        Assert.True(code == 0, $"exit {code}: {stdout} {stderr}");
        Assert.Contains("rows: 6400", stdout);
        Assert.Contains("passed: True", stdout);
        Assert.Contains("staging: 0", stdout);
    }

    [SkippableFact]
    public void ACompressedBackupIntoAFullVaultOrAFullScratchFolderSaysWhichIsFull()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateLarge(dir["big.db"], 12); // random blobs: zstd stores about as much as the source
        string disk = dir["small-disk"];
        // The vault on 6 MiB: the stored artifact itself does not fit.
        // pwsh's exit code tells only whether its last statement failed: the failure is counted with -ErrorVariable.
        var (code, stdout, stderr) = RunOnSmallDisk(disk, 6,
            $"Backup-TursoDatabase -Path '{db}' -Vault '{disk}/vault' -ScratchPath '{dir["scratch"]}' -ErrorVariable failed; " +
            $"'failed: ' + $failed.Count; " +
            $"'listed: ' + @(Get-TursoBackup -Vault '{disk}/vault').Count; " +
            $"'staging: ' + @([System.IO.Directory]::GetFileSystemEntries('{disk}/vault/.staging')).Count; " +
            $"'scratch: ' + $(if ([System.IO.Directory]::Exists('{dir["scratch"]}')) {{ @([System.IO.Directory]::GetFileSystemEntries('{dir["scratch"]}')).Count }} else {{ 0 }})");
        Assert.True(code == 0, $"exit {code}: {stdout} {stderr}");
        Assert.Contains("failed: 1", stdout);
        Assert.Contains("vault's disk is full", stderr);
        Assert.Contains("listed: 0", stdout);
        Assert.Contains("staging: 0", stdout);
        Assert.Contains("scratch: 0", stdout);

        // The scratch folder on 6 MiB, the vault with room: a page copy needs no uncompressed copy any more (the content
        // profile is read from the source inside the copy's own read transaction, decision 62), so the backup succeeds
        // and nothing is written to the scratch folder.
        (code, stdout, stderr) = RunOnSmallDisk(disk, 6,
            $"Backup-TursoDatabase -Path '{db}' -Vault '{dir["vault"]}' -ScratchPath '{disk}/scratch' -ErrorVariable failed; " +
            $"'failed: ' + $failed.Count; " +
            $"'listed: ' + @(Get-TursoBackup -Vault '{dir["vault"]}').Count; " +
            $"'tested: ' + (Get-TursoBackup -Vault '{dir["vault"]}' | Test-Backup).Passed; " +
            $"'scratch: ' + $(if ([System.IO.Directory]::Exists('{disk}/scratch')) {{ @([System.IO.Directory]::GetFileSystemEntries('{disk}/scratch')).Count }} else {{ 0 }})");
        Assert.True(code == 0, $"exit {code}: {stdout} {stderr}");
        Assert.Contains("failed: 0", stdout);
        Assert.Contains("listed: 1", stdout);
        Assert.Contains("tested: True", stdout);
        Assert.Contains("scratch: 0", stdout);
        // (The engine's backup API method still makes an uncompressed copy in the scratch folder: StagingSafetyTests.)
    }
}
