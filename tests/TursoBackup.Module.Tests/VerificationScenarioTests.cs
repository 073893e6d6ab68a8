using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace TursoBackup.Module.Tests;

/// <summary>
/// Issue 6's vault: one good backup, one with a flipped byte, one with a row deleted after the manifest was written,
/// one whose -Query fails, one over its RTO. Test-Backup reports each correctly, and the health report and the alert
/// (posted to a real listener on 127.0.0.1) say why, database by database.
/// </summary>
public sealed class VerificationScenarioTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public VerificationScenarioTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    [SkippableFact]
    public void EachKindOfBadBackupIsReportedWithItsReasonByTestBackupHealthAndAlert()
    {
        using var dir = new TempDir();
        var names = new[] { "good", "flipped", "deleted", "query", "slow" };
        foreach (var n in names) SampleDatabases.CreateShop(dir[n + ".db"]);
        // "query": data the -Query rejects (an order with no customer).
        Peers.Sqlite3(dir["query.db"], "PRAGMA foreign_keys=OFF; INSERT INTO orders(customer_id, total, placed_at, big) SELECT 999999, 1, datetime('now'), 0;");
        session.Run("$paths | Backup-TursoDatabase -Vault $vault -Compression None | Out-Null",
            Vars(("paths", names.Select(n => dir[n + ".db"]).ToArray()), ("vault", dir["vault"]))).NoErrors();
        string Location(string db) => (string)session.Run("(Get-TursoBackup -Vault $vault -Database $db -Latest).Location", Vars(("vault", dir["vault"]), ("db", db))).NoErrors().Output.Single().BaseObject;

        // flipped: one byte of the stored artifact.
        var bytes = File.ReadAllBytes(Location("flipped"));
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(Location("flipped"), bytes);
        // deleted: a row removed from the artifact and its checksum rewritten in the manifest, as a careless edit
        // would: the checksum passes, the row counts do not.
        string deleted = Location("deleted");
        string manifest = Path.Combine(Path.GetDirectoryName(deleted)!, "manifest.json");
        string oldSha = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(deleted))).ToLowerInvariant();
        Peers.Sqlite3(deleted, "PRAGMA journal_mode=DELETE; DELETE FROM items WHERE (order_id, sku) = (SELECT order_id, sku FROM items ORDER BY order_id DESC, sku DESC LIMIT 1);");
        string newSha = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(deleted))).ToLowerInvariant();
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace(oldSha, newSha));
        foreach (var index in Directory.GetFiles(dir["vault"], "index.json", SearchOption.AllDirectories)) File.Delete(index);

        var query = "@{ 'every order has a customer' = 'SELECT count(*) = 0 FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL' }";
        var results = session.Run($"""
            Get-TursoBackup -Vault $vault | Where-Object Database -ne 'slow' | Test-Backup -Query {query} -RecoveryTimeObjective '00:10:00'
            Get-TursoBackup -Vault $vault -Database slow | Test-Backup -Query {query} -RecoveryTimeObjective ([TimeSpan]::FromTicks(1))
            """, Vars(("vault", dir["vault"]))).NoErrors().All<BackupTestResult>().ToDictionary(r => r.Database);
        string Failed(string db) => string.Join(",", results[db].Checks.Where(c => !c.Passed).Select(c => c.Name));
        Assert.True(results["good"].Passed, Failed("good"));
        Assert.StartsWith("Checksum", Failed("flipped"));
        Assert.Equal("RowCounts", Failed("deleted"));
        Assert.Equal("every order has a customer", Failed("query").Replace("ForeignKeyCheck,", ""));
        Assert.Equal("RestoreTime", Failed("slow"));
        Assert.False(results["slow"].RtoMet);

        var health = session.Run("Get-TursoBackupHealth -Vault $vault -RecoveryTimeObjective '00:10:00'", Vars(("vault", dir["vault"]))).NoErrors()
            .All<HealthReport>().ToDictionary(h => h.Database);
        Assert.Equal(HealthStatus.Healthy, health["good"].Status);
        foreach (var bad in names.Skip(1))
        {
            Assert.Equal(HealthStatus.Critical, health[bad].Status);
            Assert.Contains(health[bad].Findings, f => f.Contains($"'{bad}'", StringComparison.Ordinal) && f.Contains("FAILED", StringComparison.Ordinal));
        }
        Assert.Contains(health["deleted"].Findings, f => f.Contains("RowCounts", StringComparison.Ordinal));
        Assert.Contains(health["slow"].Findings, f => f.Contains("RestoreTime", StringComparison.Ordinal));

        using var webhook = new WebhookServer();
        {
            session.Run("Get-TursoBackupHealth -Vault $vault -RecoveryTimeObjective '00:10:00' | Send-TursoBackupAlert -WebhookUrl $hook",
                Vars(("vault", dir["vault"]), ("hook", webhook.Url()))).NoErrors();
            string body = Assert.Single(webhook.Bodies);
            foreach (var bad in names.Skip(1)) Assert.Contains(bad, body);
            Assert.Contains("RowCounts", body);
            Assert.Contains("RestoreTime", body);
            Assert.DoesNotContain("'good'", body);
        }
    }
}
