using System.Net;
using System.Text;

namespace TursoBackup.Module.Tests;

/// <summary>Send-TursoBackupAlert in the hosted runspace, posting to a real HTTP listener on 127.0.0.1.</summary>
public sealed class AlertCmdletTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public AlertCmdletTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    [SkippableFact]
    public void UnhealthyReportsArePostedOnceAndHealthyOnesOnlyWithAll()
    {
        using var dir = new TempDir();
        string good = SampleDatabases.CreateShop(dir["good.db"]);
        string bad = SampleDatabases.CreateShop(dir["bad.db"]);
        session.Run("""
            Backup-TursoDatabase -Path $good, $bad -Vault $vault | Out-Null
            Get-TursoBackup -Vault $vault -Database good | Test-Backup | Out-Null
            $b = Get-TursoBackup -Vault $vault -Database bad
            $bytes = [IO.File]::ReadAllBytes($b.Location); $bytes[100] = $bytes[100] -bxor 0x5A; [IO.File]::WriteAllBytes($b.Location, $bytes)
            $b | Test-Backup | Out-Null
            """, Vars(("good", good), ("bad", bad), ("vault", dir["vault"]))).NoErrors();

        using var webhook = new WebhookServer();
        {
            string hook = webhook.Url();
            // -WhatIf posts nothing.
            session.Run("Get-TursoBackupHealth -Vault $vault | Send-TursoBackupAlert -WebhookUrl $hook -WhatIf", Vars(("vault", dir["vault"]), ("hook", hook))).NoErrors();
            Assert.Empty(webhook.Bodies);
            // The unhealthy database only, in one message that carries Slack's text and Teams' MessageCard fields.
            var r = session.Run("Get-TursoBackupHealth -Vault $vault | Send-TursoBackupAlert -WebhookUrl $hook -PassThru -Verbose",
                Vars(("vault", dir["vault"]), ("hook", hook))).NoErrors();
            Assert.Single(webhook.Bodies);
            Assert.Contains("\"text\"", webhook.Bodies[0]);
            Assert.Contains("MessageCard", webhook.Bodies[0]);
            Assert.Contains("bad", webhook.Bodies[0]);
            Assert.Contains("Critical", webhook.Bodies[0]);
            Assert.DoesNotContain("good", webhook.Bodies[0]);
            Assert.DoesNotContain(r.Verbose.Concat(r.Output.Select(o => o.ToString())), t => t.Contains("secret-part", StringComparison.Ordinal));
            // -All includes the healthy one; failed Test-Backup results can be posted directly too.
            session.Run("Get-TursoBackupHealth -Vault $vault | Send-TursoBackupAlert -WebhookUrl $hook -All", Vars(("vault", dir["vault"]), ("hook", hook))).NoErrors();
            Assert.Contains("good", webhook.Bodies[1]);
            session.Run("Get-TursoBackup -Vault $vault | Test-Backup | Send-TursoBackupAlert -WebhookUrl $hook", Vars(("vault", dir["vault"]), ("hook", hook))).NoErrors();
            Assert.Contains("Checksum", webhook.Bodies[2]);
            // All healthy: nothing is sent.
            session.Run("Get-TursoBackupHealth -Vault $vault -Database good | Send-TursoBackupAlert -WebhookUrl $hook", Vars(("vault", dir["vault"]), ("hook", hook))).NoErrors();
            Assert.Equal(3, webhook.Bodies.Count);
        }
    }
}
