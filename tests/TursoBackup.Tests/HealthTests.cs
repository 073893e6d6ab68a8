using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Health;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Verification;
using TursoBackup.Engine.Wal;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests;

/// <summary>Get-TursoBackupHealth's engine on real vaults: real backups, real Test-Backup records, a real WAL archive, an injected clock.</summary>
public sealed class HealthTests : TempFolderTest
{
    private static readonly DateTimeOffset T0 = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private DateTimeOffset now = T0;

    private string Vault => P("vault");

    private string MakeDatabase(string name, int rows = 200)
    {
        string path = P(name + ".db");
        using var c = SqliteFile.OpenOrCreate(path);
        Exec(c, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB);");
        Exec(c, $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < {rows}) INSERT INTO t SELECT i, randomblob(200) FROM n;");
        return path;
    }

    private BackupInfo Backup(string db) => new SnapshotBackup(() => now).Run(new BackupRequest { SourcePath = db, VaultPath = Vault });

    private BackupTestResult Verify(BackupInfo b) => new BackupVerifier(() => now) { ScratchRoot = P("") }.Test(b);

    private HealthReport Health(string database = null, HealthThresholds thresholds = null) =>
        Assert.Single(new BackupHealth(() => now).Check(Vault, database, thresholds));

    private static HealthFinding Only(HealthReport r, string code)
    {
        var f = Assert.Single(r.Details);
        Assert.Equal(code, f.Code);
        Assert.Equal(f.Message, Assert.Single(r.Findings));
        Assert.Equal(f.Severity, r.Status);
        return f;
    }

    /// <summary>A database backed up and verified a moment ago.</summary>
    private BackupInfo Protected(string name)
    {
        var b = Backup(MakeDatabase(name));
        Assert.True(Verify(b).Passed);
        return b;
    }

    [Fact]
    public void FreshVerifiedBackupIsHealthy()
    {
        var b = Protected("shop");
        now = T0.AddMinutes(10);
        var r = Health();
        Assert.Equal(HealthStatus.Healthy, r.Status);
        Assert.Empty(r.Findings);
        Assert.Equal("shop", r.Database);
        Assert.Equal(Path.GetFullPath(Vault), r.Vault);
        Assert.Equal(T0, r.LastBackupAt);
        Assert.Equal(TimeSpan.FromMinutes(10), r.LastBackupAge);
        Assert.True(r.RpoMet);
        Assert.Equal(b.Id, r.LastBackup.Id);
        Assert.Equal(1, r.BackupCount);
        Assert.Equal(T0, r.LastVerifiedAt);
        Assert.True(r.LastVerificationPassed);
        Assert.Equal(b.Id, r.LastVerifiedBackupId);
        Assert.True(r.RtoMet); // default RTO 4 h
        Assert.Equal(TimeSpan.FromHours(1), r.RecoveryPointObjective);
        Assert.Null(r.RestoreWindow);
        Assert.Null(r.ArchiveLag);
        Assert.True(r.StorageBytes >= b.StoredBytes);
        Assert.Equal("shop: Healthy", r.ToString());
    }

    [Fact]
    public void NewestBackupOlderThanRpoIsCritical()
    {
        Protected("shop");
        now = T0.AddHours(26);
        var f = Only(Health(thresholds: new HealthThresholds { RecoveryPointObjective = TimeSpan.FromHours(24) }), BackupHealth.RpoMissed);
        Assert.Equal(HealthStatus.Critical, f.Severity);
        Assert.Equal("The newest backup of 'shop' is 26 h old, over the RPO of 24 h: run Backup-TursoDatabase or check the scheduled task.", f.Message);

        // Default RPO is 1 h: 59 min is fine, 61 min is not.
        now = T0.AddMinutes(59);
        Assert.Equal(HealthStatus.Healthy, Health().Status);
        now = T0.AddMinutes(61);
        var r = Health();
        Assert.False(r.RpoMet);
        Assert.Contains("over the RPO of 1 h", Only(r, BackupHealth.RpoMissed).Message);

        // A new backup makes it healthy again (the older verification still counts).
        Backup(P("shop.db"));
        Assert.Equal(HealthStatus.Healthy, Health().Status);
        Assert.Equal(2, Health().BackupCount);
    }

    [Fact]
    public void NoBackupAtAllIsCritical()
    {
        Protected("shop");
        var r = Health("never");
        Assert.Equal("never", r.Database);
        Assert.Null(r.LastBackupAt);
        Assert.False(r.RpoMet);
        Assert.Equal(0, r.StorageBytes);
        var f = Only(r, BackupHealth.NoBackup);
        Assert.Equal(HealthStatus.Critical, f.Severity);
        Assert.StartsWith("'never' has no backup in vault", f.Message);
        Assert.Contains("run Backup-TursoDatabase", f.Message);
    }

    [Fact]
    public void FailedNewestVerificationIsCriticalUntilATestPasses()
    {
        var b = Backup(MakeDatabase("shop"));
        Assert.True(Verify(b).Passed);
        // The stored artifact is damaged: the next test fails.
        byte[] bytes = File.ReadAllBytes(b.Location);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(b.Location, bytes);
        now = T0.AddMinutes(5);
        Assert.False(Verify(b).Passed);

        var r = Health();
        Assert.False(r.LastVerificationPassed);
        Assert.Equal(now, r.LastVerifiedAt);
        var f = Only(r, BackupHealth.VerificationFailed);
        Assert.Equal(HealthStatus.Critical, f.Severity);
        Assert.Contains($"The newest test of 'shop' (backup {b.Id}", f.Message);
        Assert.Contains("FAILED (Checksum", f.Message);

        // A fresh backup that passes its test: healthy again.
        now = T0.AddMinutes(10);
        Assert.True(Verify(Backup(P("shop.db"))).Passed);
        Assert.Equal(HealthStatus.Healthy, Health().Status);
    }

    [Fact]
    public void NoVerificationForThirtyDaysIsAWarning()
    {
        Protected("shop");
        var lax = new HealthThresholds { RecoveryPointObjective = TimeSpan.FromDays(365) };
        now = T0.AddDays(29);
        Assert.Equal(HealthStatus.Healthy, Health(thresholds: lax).Status);
        now = T0.AddDays(31);
        var f = Only(Health(thresholds: lax), BackupHealth.VerificationStale);
        Assert.Equal(HealthStatus.Warning, f.Severity);
        Assert.Equal("'shop' was last verified 31 days ago, over the limit of 30 days: run Test-Backup on its newest backup (or schedule a recovery drill that does).", f.Message);

        // A shorter limit is honoured.
        now = T0.AddDays(8);
        Only(Health(thresholds: new HealthThresholds { RecoveryPointObjective = TimeSpan.FromDays(365), MaxVerificationAge = TimeSpan.FromDays(7) }), BackupHealth.VerificationStale);
    }

    [Fact]
    public void BackupsNeverVerifiedAreAWarning()
    {
        Backup(MakeDatabase("shop"));
        var r = Health();
        Assert.Null(r.LastVerifiedAt);
        Assert.Null(r.LastVerificationPassed);
        Assert.Null(r.RtoMet);
        var f = Only(r, BackupHealth.NeverVerified);
        Assert.Equal(HealthStatus.Warning, f.Severity);
        Assert.StartsWith("No backup of 'shop' has ever been verified", f.Message);
    }

    [Fact]
    public void RestoreTimeOverRtoIsAWarning()
    {
        Protected("shop");
        var measured = VerificationLog.Read(Vault, "shop").Single().RestoreDuration;
        var r = Health(thresholds: new HealthThresholds { RecoveryTimeObjective = TimeSpan.FromTicks(1) });
        Assert.Equal(measured, r.LastRestoreDuration);
        Assert.False(r.RtoMet);
        var f = Only(r, BackupHealth.RtoMissed);
        Assert.Equal(HealthStatus.Warning, f.Severity);
        Assert.StartsWith("Restoring 'shop' took ", f.Message);
        Assert.Contains("over the RTO of ", f.Message);

        // No RTO: not judged.
        r = Health(thresholds: new HealthThresholds { RecoveryTimeObjective = null });
        Assert.Null(r.RtoMet);
        Assert.Null(r.RecoveryTimeObjective);
        Assert.Equal(HealthStatus.Healthy, r.Status);
    }

    [Fact]
    public void StorageAgainstQuota()
    {
        Protected("shop");
        long used = Health().StorageBytes;
        Assert.True(used > 0);

        var over = Health(thresholds: new HealthThresholds { StorageQuota = used - 1 });
        Assert.Equal(used - 1, over.StorageQuota);
        var f = Only(over, BackupHealth.StorageQuotaExceeded);
        Assert.Equal(HealthStatus.Critical, f.Severity);
        Assert.Contains("'shop' uses ", f.Message);
        Assert.Contains("Invoke-TursoBackupRetention", f.Message);

        var near = Only(Health(thresholds: new HealthThresholds { StorageQuota = used * 10 / 9 }), BackupHealth.StorageQuotaNear); // 90 %
        Assert.Equal(HealthStatus.Warning, near.Severity);
        Assert.Contains("90 % of its quota", near.Message);

        Assert.Equal(HealthStatus.Healthy, Health(thresholds: new HealthThresholds { StorageQuota = used * 2 }).Status); // 50 %
        Only(Health(thresholds: new HealthThresholds { StorageQuota = used * 2, StorageWarningRatio = 0.4 }), BackupHealth.StorageQuotaNear);
    }

    [Fact]
    public void WalArchiveLagAndRestoreWindow()
    {
        string db = MakeDatabase("orders");
        using (var archiver = new WalArchiver(db, Vault, clock: () => now))
        {
            archiver.Sync();
            using var c = SqliteFile.OpenOrCreate(db);
            Exec(c, "INSERT INTO t(payload) VALUES (randomblob(10));");
            now = T0.AddSeconds(5);
            archiver.Sync();
        }
        var archivedBytes = new DirectoryInfo(Path.Combine(Vault, WalArchiveLayout.Folder, "orders")).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

        // Only a WAL archive, synced 30 s ago: healthy; the archive is the recovery point.
        now = T0.AddSeconds(35);
        var r = Health();
        Assert.Equal("orders", r.Database);
        Assert.Equal(HealthStatus.Healthy, r.Status);
        Assert.Equal(TimeSpan.FromSeconds(30), r.ArchiveLag);
        Assert.Equal(T0.AddSeconds(5), r.LastBackupAt);
        Assert.True(r.RpoMet);
        Assert.Null(r.LastBackup);
        Assert.NotNull(r.RestoreWindow);
        Assert.Equal(T0, r.RestoreWindow.Earliest);
        Assert.Equal(T0.AddSeconds(5), r.RestoreWindow.Latest);
        // The health check's daily verification of the archive recorded its result there too (verify.json).
        Assert.Equal(archivedBytes + new FileInfo(Path.Combine(Vault, WalArchiveLayout.Folder, "orders", "verify.json")).Length, r.StorageBytes);

        // The archiver stopped 5 min ago: a warning, the RPO still holds.
        now = T0.AddMinutes(5).AddSeconds(5);
        var f = Only(Health(), BackupHealth.ArchiveLagging);
        Assert.Equal(HealthStatus.Warning, f.Severity);
        Assert.Equal("The WAL archive of 'orders' was last synced 5 min ago, over the limit of 1 min: check that Start-TursoWalArchive (or the scheduled Sync-TursoWalArchive) is running.", f.Message);

        // Stopped for 2 h: the RPO is missed too.
        now = T0.AddHours(2).AddSeconds(5);
        r = Health();
        Assert.Equal(HealthStatus.Critical, r.Status);
        Assert.Equal(new[] { BackupHealth.RpoMissed, BackupHealth.ArchiveLagging }, r.Details.Select(d => d.Code));
        Assert.Contains("Start-TursoWalArchive", r.Findings[0]);

        // A looser lag limit.
        now = T0.AddMinutes(5).AddSeconds(5);
        Assert.Equal(HealthStatus.Healthy, Health(thresholds: new HealthThresholds { MaxArchiveLag = TimeSpan.FromMinutes(10) }).Status);
    }

    /// <summary>The archive keeps the RPO on its own, but a backup older than a day means long replays: a warning.</summary>
    [Fact]
    public void AnArchiveKeepsTheRpoButAStaleSnapshotIsAWarning()
    {
        string db = MakeDatabase("ledger");
        var b = Backup(db);
        Verify(b);
        now = T0.AddHours(30);
        using (var archiver = new WalArchiver(db, Vault, clock: () => now))
        {
            archiver.Sync();
            using var c = SqliteFile.OpenOrCreate(db);
            Exec(c, "INSERT INTO t(payload) VALUES (randomblob(10));");
            now = T0.AddHours(30).AddSeconds(5);
            archiver.Sync();
        }
        now = T0.AddHours(30).AddSeconds(20);
        var r = Health(thresholds: new HealthThresholds { MaxVerificationAge = TimeSpan.FromDays(30) });
        Assert.True(r.RpoMet);
        var f = Only(r, BackupHealth.SnapshotStale);
        Assert.Equal(HealthStatus.Warning, f.Severity);
        Assert.Contains("over 24 h", f.Message);
        Assert.Equal(HealthStatus.Warning, r.Status);
    }

    [Fact]
    public void SeveralDatabasesAreReportedSeparately()
    {
        Protected("blog");
        now = T0.AddHours(3);
        Protected("shop");
        Backup(MakeDatabase("wiki"));
        now = T0.AddHours(3).AddMinutes(1);

        var reports = new BackupHealth(() => now).Check(Vault);
        Assert.Equal(new[] { "blog", "shop", "wiki" }, reports.Select(r => r.Database));
        Assert.Equal(BackupHealth.RpoMissed, Assert.Single(reports[0].Details).Code);
        Assert.Contains("'blog' is 3 h old", reports[0].Findings[0]);
        Assert.Equal(HealthStatus.Critical, reports[0].Status);
        Assert.Equal(HealthStatus.Healthy, reports[1].Status);
        Assert.Equal(HealthStatus.Warning, reports[2].Status);
        Assert.Equal(BackupHealth.NeverVerified, Assert.Single(reports[2].Details).Code);
        Assert.All(reports, r => Assert.True(r.StorageBytes > 0));

        // The filter picks one.
        Assert.Equal(HealthStatus.Healthy, Health("shop").Status);
    }

    [Fact]
    public void DurationsAndSizesReadNaturally()
    {
        Assert.Equal("45 s", BackupHealth.Span(TimeSpan.FromSeconds(45)));
        Assert.Equal("1 min", BackupHealth.Span(TimeSpan.FromSeconds(60)));
        Assert.Equal("90 s", BackupHealth.Span(TimeSpan.FromSeconds(90)));
        Assert.Equal("1 h", BackupHealth.Span(TimeSpan.FromHours(1)));
        Assert.Equal("26.5 h", BackupHealth.Span(TimeSpan.FromHours(26.5)));
        Assert.Equal("24 h", BackupHealth.Span(TimeSpan.FromDays(1)));
        Assert.Equal("2 days", BackupHealth.Span(TimeSpan.FromDays(2)));
        Assert.Equal("3.5 days", BackupHealth.Span(TimeSpan.FromDays(3.5)));
        Assert.Equal("0.1 s", BackupHealth.Span(TimeSpan.FromMilliseconds(120)));
        Assert.Equal("512 bytes", BackupHealth.Bytes(512));
        Assert.Equal("1.5 KB", BackupHealth.Bytes(1536));
        Assert.Equal("2 GB", BackupHealth.Bytes(2L << 30));
    }
}
