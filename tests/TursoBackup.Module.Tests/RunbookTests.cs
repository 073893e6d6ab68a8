using System.Diagnostics;
using System.Net;
using System.Text;

namespace TursoBackup.Module.Tests;

/// <summary>
/// The runbooks shipped in module/Runbooks, run as an admin would: the drill from the console host (exit codes, a real
/// webhook listener on 127.0.0.1), the daily backup in the hosted runspace. Same runbooks as tests/Pester/Runbooks.Tests.ps1.
/// </summary>
public sealed class RunbookTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public RunbookTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    private static string Runbook(string name) => Path.Combine(Repo.Root, "out", "TursoBackup", "Runbooks", name);

    private static (int Code, string Out, string Err) Host(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Repo.HostDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(300_000), "the console host did not finish");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [SkippableFact]
    public void TheDrillExitsZeroOnAHealthyVaultAndOneWithAnAlertOnADamagedOne()
    {
        using var dir = new TempDir();
        session.Run("Backup-TursoDatabase -Path $a, $b -Vault $vault | Out-Null",
            Vars(("a", SampleDatabases.CreateShop(dir["alpha.db"])), ("b", SampleDatabases.CreateShop(dir["beta.db"])), ("vault", dir["vault"]))).NoErrors();
        using var webhook = new WebhookListener();
        {
            string hook = webhook.Url("hook");
            var healthy = Host("-File", Runbook("Invoke-RecoveryDrill.ps1"), "-Vault", dir["vault"], "-WebhookUrl", hook, "-RecoveryTimeObjective", "00:05:00");
            Assert.True(healthy.Code == 0, healthy.Out + healthy.Err);
            Assert.Contains("alpha", healthy.Out);
            Assert.Contains("passed", healthy.Out);
            Assert.Empty(webhook.Bodies);

            // Damage beta's newest backup: the drill fails, says which, alerts, exits 1.
            session.Run("$b = Get-TursoBackup -Vault $vault -Database beta -Latest; $x = [IO.File]::ReadAllBytes($b.Location); $x[200] = $x[200] -bxor 0x5A; [IO.File]::WriteAllBytes($b.Location, $x)",
                Vars(("vault", dir["vault"]))).NoErrors();
            var damaged = Host("-File", Runbook("Invoke-RecoveryDrill.ps1"), "-Vault", dir["vault"], "-WebhookUrl", hook);
            Assert.Equal(1, damaged.Code);
            Assert.Contains("FAILED", damaged.Out);
            Assert.Single(webhook.Bodies);
            Assert.Contains("beta", webhook.Bodies[0]);
            Assert.DoesNotContain("alpha", webhook.Bodies[0]);
            // The drill recorded its results: the health report now knows beta's newest verification failed.
            var health = session.Run("Get-TursoBackupHealth -Vault $vault -Database beta", Vars(("vault", dir["vault"]))).NoErrors().Single<HealthReport>();
            Assert.False(health.LastVerificationPassed);
        }
    }

    [SkippableFact]
    public void TheDailyBackupBacksUpAFolderAppliesRetentionAndReportsHealth()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["data"]);
        SampleDatabases.CreateShop(Path.Combine(dir["data"], "one.db"));
        SampleDatabases.CreateShop(Path.Combine(dir["data"], "two.db"));
        var r = session.Run("& $runbook -Path $data -Vault $vault; $LASTEXITCODE",
            Vars(("runbook", Runbook("Invoke-DailyBackup.ps1")), ("data", dir["data"]), ("vault", dir["vault"]))).NoErrors();
        var reports = r.All<HealthReport>();
        Assert.Equal(new[] { "one", "two" }, reports.Select(h => h.Database).OrderBy(n => n));
        Assert.All(reports, h => Assert.True(h.RpoMet));
        Assert.Equal(0, Convert.ToInt32(r.Output.Last().BaseObject));
        Assert.Equal(2, session.Run("Get-TursoBackup -Vault $vault", Vars(("vault", dir["vault"]))).NoErrors().All<BackupInfo>().Count);
    }
}
