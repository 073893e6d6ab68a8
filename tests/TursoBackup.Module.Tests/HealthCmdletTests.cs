namespace TursoBackup.Module.Tests;

/// <summary>Get-TursoBackupHealth in the hosted runspace, over a real vault: one report per database, findings as sentences.</summary>
public sealed class HealthCmdletTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public HealthCmdletTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    [SkippableFact]
    public void AVerifiedFreshBackupIsHealthyAndADamagedOneIsCriticalWithItsReason()
    {
        using var dir = new TempDir();
        string good = SampleDatabases.CreateShop(dir["good.db"]);
        string bad = SampleDatabases.CreateShop(dir["bad.db"]);
        var r = session.Run("""
            Backup-TursoDatabase -Path $good, $bad -Vault $vault | Out-Null
            Get-TursoBackup -Vault $vault -Database good | Test-Backup | Out-Null
            $b = Get-TursoBackup -Vault $vault -Database bad
            $bytes = [IO.File]::ReadAllBytes($b.Location); $bytes[[int]($bytes.Length / 2)] = $bytes[[int]($bytes.Length / 2)] -bxor 0x5A; [IO.File]::WriteAllBytes($b.Location, $bytes)
            $b | Test-Backup | Out-Null
            Get-TursoBackupHealth -Vault $vault -RecoveryTimeObjective '00:10:00'
            """, Vars(("good", good), ("bad", bad), ("vault", dir["vault"]))).NoErrors();
        var reports = r.All<HealthReport>().ToDictionary(h => h.Database);
        Assert.Equal(HealthStatus.Healthy, reports["good"].Status);
        Assert.True(reports["good"].RpoMet);
        Assert.True(reports["good"].LastVerificationPassed);
        Assert.Empty(reports["good"].Findings);
        Assert.Equal(HealthStatus.Critical, reports["bad"].Status);
        Assert.False(reports["bad"].LastVerificationPassed);
        Assert.Contains(reports["bad"].Findings, f => f.Contains("bad", StringComparison.Ordinal) && f.Contains("Test-Backup", StringComparison.OrdinalIgnoreCase));

        // A tight RPO and a quota: the same vault, judged stricter, says why.
        var strict = session.Run("Get-TursoBackupHealth -Vault $vault -Database good -RecoveryPointObjective '00:00:00.001' -StorageQuota 1000",
            Vars(("vault", dir["vault"]))).NoErrors().Single<HealthReport>();
        Assert.Equal(HealthStatus.Critical, strict.Status);
        Assert.False(strict.RpoMet);
        Assert.True(strict.Findings.Length >= 2, string.Join(" | ", strict.Findings));
        // A database the vault does not hold is reported, not silently skipped.
        var missing = session.Run("Get-TursoBackupHealth -Vault $vault -Database nosuch", Vars(("vault", dir["vault"]))).NoErrors().Single<HealthReport>();
        Assert.Equal(HealthStatus.Critical, missing.Status);
    }
}
