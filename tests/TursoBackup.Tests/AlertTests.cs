using System.Net;
using System.Text;
using TursoBackup.Engine.Alerts;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using static TursoBackup.TestSupport.WebhookServer;

namespace TursoBackup.Tests;

/// <summary>
/// <see cref="WebhookAlertSender"/> against a real HTTP listener on 127.0.0.1 standing in for a Slack or Teams webhook.
/// The webhook's path imitates a Slack one: it is the credential and must never show in messages, logs or results.
/// </summary>
public sealed class AlertTests : IDisposable
{
    private const string SecretPath = "/services/T0A1B2C3D4/B0E5F6G7H8/q9SecretToken1234567890x";

    private readonly List<TimeSpan> waits = new List<TimeSpan>();
    private readonly List<string> log = new List<string>();
    private readonly List<IDisposable> owned = new List<IDisposable>();

    public void Dispose()
    {
        foreach (var d in owned) d.Dispose();
    }

    private static AlertMessage Message() => new AlertMessage
    {
        Title = "Backup health on db-host-01",
        Items =
        {
            new AlertItem("orders", "Critical", new[] { "The last backup is 3 days old, past the RPO of 24 hours.", "The last verification failed: integrity_check <> ok & 2 errors." }),
            new AlertItem("users", "Warning", new[] { "The WAL archive lags 45 minutes behind." }),
            new AlertItem("audit", "Healthy"),
        },
        At = new DateTimeOffset(2025, 3, 14, 12, 0, 0, TimeSpan.Zero),
        Source = "db-host-01",
    };

    private WebhookServer Server(params Func<HttpListenerContext, Task>[] answers)
    {
        var server = new WebhookServer(answers);
        owned.Add(server);
        return server;
    }

    private WebhookAlertSender Sender(string url, AlertFormat format = AlertFormat.Auto, int maxAttempts = 4)
    {
        var sender = new WebhookAlertSender(url, format, delay: (wait, _) => { lock (waits) waits.Add(wait); return Task.CompletedTask; })
        {
            MaxAttempts = maxAttempts,
            RequestTimeout = TimeSpan.FromSeconds(10),
        };
        sender.Log = line => { lock (log) log.Add(line); };
        owned.Add(sender);
        return sender;
    }

    private void AssertNoSecret(string text)
    {
        Assert.DoesNotContain("services", text ?? "", StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("SecretToken", text ?? "", StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("T0A1B2C3D4", text ?? "", StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("B0E5F6G7H8", text ?? "", StringComparison.OrdinalIgnoreCase);
    }

    private void AssertLogClean()
    {
        lock (log) foreach (var line in log) AssertNoSecret(line);
    }

    private static Dictionary<string, object> Obj(object o) => Assert.IsType<Dictionary<string, object>>(o);

    private static List<object> Arr(object o) => Assert.IsType<List<object>>(o);

    [Fact]
    public void Combined_payload_is_json_with_slack_text_and_teams_messagecard_fields_and_every_database()
    {
        var server = Server(Answer(200, "1"));
        var sender = Sender(server.BaseUrl + SecretPath);
        Assert.Equal(AlertFormat.Generic, sender.Format); // 127.0.0.1 is neither Slack nor Teams

        var result = sender.Send(Message());

        Assert.Equal(200, result.StatusCode);
        Assert.Equal(1, result.Attempts);
        Assert.Equal(AlertFormat.Generic, result.Format);
        var request = Assert.Single(server.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal(SecretPath, request.Path);
        Assert.StartsWith("application/json", request.ContentType);
        Assert.Equal(result.BytesSent, Encoding.UTF8.GetByteCount(request.Body));

        var body = Obj(Json.Parse(request.Body));
        // Slack: a top-level text with the whole report.
        string text = Assert.IsType<string>(body["text"]);
        // Teams connector: the MessageCard fields.
        Assert.Equal("MessageCard", body["@type"]);
        Assert.Equal("https://schema.org/extensions", body["@context"]);
        Assert.Equal("Backup health on db-host-01", body["summary"]);
        Assert.Equal("D13438", body["themeColor"]); // Critical is the worst status
        Assert.StartsWith("Backup health on db-host-01", text);
        Assert.Contains("orders: Critical", text);
        Assert.Contains("users: Warning", text);
        Assert.Contains("audit: Healthy", text);
        Assert.Contains("3 databases: 1 Critical, 1 Warning, 1 Healthy.", text);
        Assert.Contains("The last backup is 3 days old, past the RPO of 24 hours.", text);
        Assert.Contains("integrity_check &lt;&gt; ok &amp; 2 errors.", text); // Slack mrkdwn's control characters escaped
        Assert.Contains("The WAL archive lags 45 minutes behind.", text);
        Assert.Contains("db-host-01 at 2025-03-14 12:00:00 UTC", text);
        Assert.Empty(waits);

        AssertNoSecret(result.ToString());
        AssertNoSecret(sender.ToString());
        Assert.Equal(server.BaseUrl + "/…", result.Destination);
        AssertLogClean();
    }

    [Fact]
    public void Slack_payload_has_text_and_blocks_for_every_database()
    {
        var server = Server(Answer(200, "ok"));
        var sender = Sender(server.BaseUrl + SecretPath, AlertFormat.Slack);

        sender.Send(Message());

        var body = Obj(Json.Parse(Assert.Single(server.Requests).Body));
        string text = Assert.IsType<string>(body["text"]);
        Assert.Contains("orders: Critical", text);
        Assert.Contains("The WAL archive lags 45 minutes behind.", text);
        var blocks = Arr(body["blocks"]).Select(Obj).ToList();
        Assert.Equal("header", blocks[0]["type"]);
        Assert.Equal("plain_text", Obj(blocks[0]["text"])["type"]);
        var sections = blocks.Where(b => (string)b["type"] == "section").Select(b => (string)Obj(b["text"])["text"]).ToList();
        Assert.Contains(sections, s => s.StartsWith("*orders*: Critical") && s.Contains("• The last backup is 3 days old"));
        Assert.Contains(sections, s => s.StartsWith("*users*: Warning") && s.Contains("• The WAL archive lags"));
        Assert.Contains(sections, s => s.StartsWith("*audit*: Healthy"));
        Assert.Equal("context", blocks[^1]["type"]);
        Assert.False(body.ContainsKey("@type"));
    }

    [Fact]
    public void Teams_payload_is_a_messagecard_with_a_section_per_database()
    {
        var server = Server(Answer(200, "1"));
        var sender = Sender(server.BaseUrl + SecretPath, AlertFormat.Teams);

        sender.Send(Message());

        var body = Obj(Json.Parse(Assert.Single(server.Requests).Body));
        Assert.Equal("MessageCard", body["@type"]);
        Assert.Equal("https://schema.org/extensions", body["@context"]);
        Assert.Equal("Backup health on db-host-01", body["title"]);
        Assert.Equal("Backup health on db-host-01", body["summary"]);
        Assert.Equal("D13438", body["themeColor"]);
        Assert.Contains("3 databases", (string)body["text"]);
        var sections = Arr(body["sections"]).Select(Obj).ToList();
        Assert.Equal(3, sections.Count);
        Assert.Equal("**orders**: Critical", sections[0]["activityTitle"]);
        Assert.Contains("The last backup is 3 days old", (string)sections[0]["text"]);
        Assert.Equal("Warning", Obj(Arr(sections[1]["facts"])[0])["value"]);
        Assert.Contains("The WAL archive lags 45 minutes behind.", (string)sections[1]["text"]);
        Assert.False(sections[2].ContainsKey("text")); // a healthy database has no findings
    }

    [Fact]
    public void Teams_workflow_payload_is_an_adaptive_card_message()
    {
        var body = Obj(Json.Parse(Json.Write(WebhookAlertSender.BuildPayload(Message(), AlertFormat.TeamsWorkflow))));
        Assert.Equal("message", body["type"]);
        var attachment = Obj(Assert.Single(Arr(body["attachments"])));
        Assert.Equal("application/vnd.microsoft.card.adaptive", attachment["contentType"]);
        var card = Obj(attachment["content"]);
        Assert.Equal("AdaptiveCard", card["type"]);
        var texts = Arr(card["body"]).Select(b => (string)Obj(b)["text"]).ToList();
        Assert.Contains("orders: Critical", texts);
        Assert.Contains("• The last verification failed: integrity_check <> ok & 2 errors.", texts); // no entities in cards
        Assert.Contains("users: Warning", texts);
    }

    [Theory]
    [InlineData("https://hooks.slack.com/services/T000/B000/XXXX", AlertFormat.Slack)]
    [InlineData("https://contoso.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d", AlertFormat.Teams)]
    [InlineData("https://outlook.office.com/webhook/a@b/IncomingWebhook/c/d", AlertFormat.Teams)]
    [InlineData("https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x", AlertFormat.TeamsWorkflow)]
    [InlineData("https://default0123.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/abc", AlertFormat.TeamsWorkflow)]
    [InlineData("https://alerts.example.com/hook", AlertFormat.Generic)]
    public void Auto_picks_the_format_by_host(string url, AlertFormat expected)
    {
        Assert.Equal(expected, WebhookAlertSender.ResolveFormat(new Uri(url), AlertFormat.Auto));
        Assert.Equal(AlertFormat.Slack, WebhookAlertSender.ResolveFormat(new Uri(url), AlertFormat.Slack));
        using var sender = new WebhookAlertSender(url);
        Assert.Equal(expected, sender.Format);
        Assert.DoesNotContain(new Uri(url).AbsolutePath, sender.ToString());
    }

    [Fact]
    public void Rate_limit_with_retry_after_is_honoured_then_sent()
    {
        var server = Server(Answer(429, "rate_limited", retryAfter: "7"), Answer(200, "ok"));
        var sender = Sender(server.BaseUrl + SecretPath);

        var result = sender.Send(Message());

        Assert.Equal(200, result.StatusCode);
        Assert.Equal(2, result.Attempts);
        Assert.Equal(new[] { TimeSpan.FromSeconds(7) }, waits);
        Assert.Equal(2, server.Requests.Count);
        Assert.Equal(server.Requests[0].Body, server.Requests[1].Body);
        AssertLogClean();
    }

    [Fact]
    public void Server_errors_are_retried_with_backoff()
    {
        var server = Server(Answer(500, "boom"), Answer(503, "unavailable"), Answer(200, "ok"));
        var sender = Sender(server.BaseUrl + SecretPath);

        var result = sender.Send(Message());

        Assert.Equal(200, result.StatusCode);
        Assert.Equal(3, result.Attempts);
        Assert.Equal(new[] { TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2) }, waits);
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public void Server_errors_every_time_fail_after_the_last_attempt()
    {
        var server = Server(Answer(500), Answer(500), Answer(500));
        var sender = Sender(server.BaseUrl + SecretPath, maxAttempts: 3);

        var ex = Assert.Throws<TursoBackupException>(() => sender.Send(Message()));

        Assert.Equal(FailureKind.Busy, ex.Kind);
        Assert.Contains("3 times", ex.Message);
        Assert.Contains("HTTP 500", ex.Message);
        Assert.Equal(3, server.Requests.Count);
        Assert.Equal(2, waits.Count);
        AssertNoSecret(ex.Message);
    }

    [Fact]
    public void Bad_request_fails_at_once_with_a_clear_error_that_hides_the_path()
    {
        // The server echoes the address it was called at, as some proxies do: the message still must not show it.
        var server = Server(ctx => Answer(400, "invalid_payload for " + ctx.Request.Url.AbsoluteUri)(ctx));
        var sender = Sender(server.BaseUrl + SecretPath);

        var ex = Assert.Throws<TursoBackupException>(() => sender.Send(Message()));

        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        Assert.Contains("rejected the alert", ex.Message);
        Assert.Contains("HTTP 400", ex.Message);
        Assert.Contains("invalid_payload", ex.Message);
        Assert.Contains("-Format", ex.Message);
        Assert.Contains(server.BaseUrl + "/…", ex.Message);
        Assert.Single(server.Requests);
        Assert.Empty(waits);
        AssertNoSecret(ex.Message);
        AssertNoSecret(ex.Target?.ToString());
        AssertLogClean();
    }

    [Theory]
    [InlineData(403, FailureKind.PermissionDenied, "revoked")]
    [InlineData(404, FailureKind.NotFound, "no webhook")]
    public void Refusals_name_the_cause(int status, FailureKind kind, string words)
    {
        var server = Server(Answer(status, "no_service"));
        var sender = Sender(server.BaseUrl + SecretPath);

        var ex = Assert.Throws<TursoBackupException>(() => sender.Send(Message()));

        Assert.Equal(kind, ex.Kind);
        Assert.Contains(words, ex.Message);
        Assert.Single(server.Requests);
        AssertNoSecret(ex.Message);
    }

    [Fact]
    public void Connection_refused_fails_clearly_after_the_retries()
    {
        int port = Ports.Free(); // nothing listens there
        var sender = Sender($"http://127.0.0.1:{port}{SecretPath}", maxAttempts: 3);

        var ex = Assert.Throws<TursoBackupException>(() => sender.Send(Message()));

        Assert.Equal(FailureKind.Busy, ex.Kind);
        Assert.Contains("could not be reached", ex.Message);
        Assert.Contains("3 times", ex.Message);
        Assert.Contains($"http://127.0.0.1:{port}/…", ex.Message);
        Assert.Equal(new[] { TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2) }, waits);
        AssertNoSecret(ex.Message);
        AssertNoSecret(ex.ToString());
        AssertLogClean();
    }

    [Fact]
    public void A_slow_webhook_times_out_and_is_retried()
    {
        // The timeout leaves the quick second answer room on a loaded machine (at 0.3 s it timed out too under a full test run).
        var server = Server(async ctx => { await Task.Delay(6000); try { ctx.Response.Abort(); } catch { } }, Answer(200, "ok"));
        var sender = Sender(server.BaseUrl + SecretPath);
        sender.RequestTimeout = TimeSpan.FromMilliseconds(1500);

        var result = sender.Send(Message());

        Assert.Equal(2, result.Attempts);
        Assert.Single(waits);
        lock (log) Assert.Contains(log, l => l.Contains("no answer within 1.5 s"));
    }

    [Fact]
    public void Retry_after_longer_than_allowed_fails_at_once()
    {
        var server = Server(Answer(429, "rate_limited", retryAfter: "3600"));
        var sender = Sender(server.BaseUrl + SecretPath);

        var ex = Assert.Throws<TursoBackupException>(() => sender.Send(Message()));

        Assert.Equal(FailureKind.Busy, ex.Kind);
        Assert.Contains("3600 s", ex.Message);
        Assert.Empty(waits);
        AssertNoSecret(ex.Message);
    }

    [Fact]
    public void Bad_addresses_are_refused_without_echoing_them()
    {
        var ex = Assert.Throws<TursoBackupException>(() => new WebhookAlertSender("hooks.slack.com" + SecretPath));
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        AssertNoSecret(ex.Message);

        ex = Assert.Throws<TursoBackupException>(() => new WebhookAlertSender("http://alerts.example.com" + SecretPath));
        Assert.Contains("http://alerts.example.com/…", ex.Message);
        Assert.Contains("https://", ex.Message);
        AssertNoSecret(ex.Message);

        Assert.Throws<TursoBackupException>(() => new WebhookAlertSender("  "));
    }

    [Fact]
    public void Worst_status_decides_when_none_is_given()
    {
        var m = Message();
        Assert.Equal("Critical", m.EffectiveStatus);
        m.Items.RemoveAt(0);
        Assert.Equal("Warning", m.EffectiveStatus);
        m.Title = null;
        Assert.Equal("TursoBackup on db-host-01: Warning", m.EffectiveTitle);
        Assert.Equal("Healthy", new AlertMessage().EffectiveStatus);
    }
}
