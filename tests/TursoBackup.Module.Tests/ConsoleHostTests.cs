namespace TursoBackup.Module.Tests;

/// <summary>
/// The console host (tbhost) references only the PowerShell engine: running the Quickstart through it proves the
/// module loads its own SQLite natives from out/TursoBackup/dependencies/&lt;rid&gt;/, as in an admin's pwsh.
/// </summary>
public sealed class ConsoleHostTests
{
    private static (int Code, string Stdout, string Stderr) Host(params string[] args) =>
        Peers.Run("dotnet", new[] { Repo.HostDll }.Concat(args), env: new Dictionary<string, string> { ["NO_COLOR"] = "1" });

    [SkippableFact]
    public void QuickstartRunsEndToEnd()
    {
        Peers.Require("sqlite3");
        using var dir = new TempDir();
        var (code, stdout, stderr) = Host("-File", Path.Combine(Repo.Root, "examples", "Quickstart.ps1"), "-WorkDir", dir.Path);
        Assert.True(code == 0, $"exit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.Contains("Checksum", stdout);
        Assert.Contains("RowCounts", stdout);
        Assert.Contains("True", stdout);
        Assert.Contains("False", stdout); // the damaged copy fails
        Assert.Contains("Quickstart finished", stdout);
    }

    [Fact]
    public void HostLoadsTheModulesOwnNativeSqlite()
    {
        var (code, stdout, stderr) = Host("-Command", "$n = [TursoBackup.BackupInfo].Assembly.GetType('TursoBackup.Engine.Sqlite.NativeSqlite', $true); $n::EnsureInitialized(); $n::LoadedFrom");
        Assert.True(code == 0, stderr);
        Assert.Contains(Path.Combine("out", "TursoBackup", "dependencies", TursoRid(), OperatingSystem.IsWindows() ? "e_sqlite3.dll" : "libe_sqlite3.so"), stdout);
    }

    [Fact]
    public void ErrorsGoToStderrAndSetExitCodeOne()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr) = Host("-Command", $"Backup-TursoDatabase -Path '{dir["missing.db"]}' -Vault '{dir["vault"]}'");
        Assert.Equal(1, code);
        Assert.Contains("does not exist", stderr);
        Assert.DoesNotContain("does not exist", stdout);
    }

    [Fact]
    public void ScriptExitCodeIsPassedThrough()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["exit3.ps1"], "'before'; exit 3");
        var (code, stdout, _) = Host("-File", dir["exit3.ps1"]);
        Assert.Equal(3, code);
        Assert.Contains("before", stdout);
    }

    private static string TursoRid() =>
        (OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux") + "-" +
        System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
}
