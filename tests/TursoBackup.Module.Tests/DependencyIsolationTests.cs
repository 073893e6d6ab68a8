namespace TursoBackup.Module.Tests;

/// <summary>
/// Runs tests/Pester/DependencyIsolation.Tests.ps1 under real pwsh (Pester 5.7.1, downloaded by this project), so the
/// README's test command and CI run it too: another binary module with an older Microsoft.Data.Sqlite / SQLitePCLRaw
/// and TursoBackup in one pwsh process, in both orders, each on its own copies.
/// </summary>
public sealed class DependencyIsolationTests
{
    [SkippableFact]
    public void PesterSuitePassesInRealPwsh()
    {
        var (program, args) = Peers.Pwsh();
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(packages)) packages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string pester = Path.Combine(packages, "pester", "5.7.1", "tools", "Pester.psd1");
        Assert.True(File.Exists(pester), pester + " is missing: restore tests/TursoBackup.Module.Tests (PackageDownload Pester 5.7.1).");
        string suite = Path.Combine(Repo.Root, "tests", "Pester", "DependencyIsolation.Tests.ps1");
        string script = $"$PSStyle.OutputRendering = 'PlainText'; Import-Module '{pester}'; " +
                        $"$r = Invoke-Pester -Path '{suite}' -Output Detailed -PassThru; " +
                        "\"RESULT passed=$($r.PassedCount) failed=$($r.FailedCount) skipped=$($r.SkippedCount) notrun=$($r.NotRunCount) containers=$($r.FailedContainersCount)\"";
        var (code, stdout, stderr) = Peers.Run(program, args.Concat(new[] { "-NoProfile", "-NonInteractive", "-Command", script }),
            env: new Dictionary<string, string> { ["NO_COLOR"] = "1" }, workingDirectory: Repo.Root);
        var result = System.Text.RegularExpressions.Regex.Match(stdout, @"RESULT passed=(\d+) failed=(\d+) skipped=(\d+) notrun=(\d+) containers=(\d+)");
        Assert.True(code == 0 && result.Success, $"pwsh exited {code}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.True(result.Groups[2].Value == "0" && result.Groups[5].Value == "0", "Pester failures:\n" + stdout);
        Assert.True(int.Parse(result.Groups[1].Value) >= 13, "too few Pester tests ran:\n" + stdout);
        Assert.True(!OperatingSystem.IsLinux() || result.Groups[3].Value == "0", "a Pester test was skipped on Linux:\n" + stdout);
    }
}
