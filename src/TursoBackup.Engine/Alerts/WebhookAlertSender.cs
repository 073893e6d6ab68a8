using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Alerts
{
    /// <summary>
    /// Posts an <see cref="AlertMessage"/> as JSON to a chat webhook: a Slack incoming webhook, a Microsoft Teams incoming
    /// webhook (Microsoft 365 connector, MessageCard), a Teams Workflows webhook (Adaptive Card), or any endpoint that takes
    /// the combined payload (<see cref="AlertFormat.Generic"/>: Slack's <c>text</c> plus the MessageCard fields).
    /// <para>
    /// Network failures, timeouts, 429 (honouring <c>Retry-After</c>) and 5xx are retried with exponential backoff, at most
    /// <see cref="MaxAttempts"/> requests in all; any other answer outside 2xx fails at once. Every failure is a
    /// <see cref="TursoBackupException"/> that says what happened and what to do.
    /// </para>
    /// The webhook's address is a credential (a Slack webhook's path <em>is</em> its secret; a Workflows URL carries a
    /// <c>sig</c>): messages, <see cref="Log"/> lines, results and <see cref="ToString"/> show only <c>scheme://host/…</c>.
    /// </summary>
    public sealed class WebhookAlertSender : IDisposable
    {
        internal const string MessageCardContext = "https://schema.org/extensions";
        internal const string AdaptiveCardContentType = "application/vnd.microsoft.card.adaptive";

        /// <summary>Slack: header text ≤ 150 characters, section text ≤ 3000, ≤ 50 blocks per message.</summary>
        private const int SlackHeaderMax = 150, SlackSectionMax = 3000, SlackDatabaseBlocksMax = 45, TextMax = 38000;

        /// <summary>Teams connector cards are limited to about 28 KB; this many sections keeps a report well inside it.</summary>
        private const int TeamsSectionsMax = 40;

        private readonly HttpClient http;
        private readonly Uri url;
        private readonly RetryingHttpSender sender;
        private readonly string[] secrets;

        static WebhookAlertSender()
        {
            // Windows PowerShell 5.1 (.NET Framework) may still default to TLS 1.0/1.1, which Slack and Microsoft refuse.
            try
            {
                if (System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.Ordinal))
                {
                    ServicePointManager.SecurityProtocol |= SecurityProtocolType.Tls12;
                }
            }
            catch (NotSupportedException) { }
        }

        /// <param name="webhookUrl">The webhook's address (https; plain http only for a loopback address).</param>
        /// <param name="format">The payload shape; <see cref="AlertFormat.Auto"/> picks it by the address's host.</param>
        /// <param name="handler">The HTTP handler to send through (not disposed); a new one (no redirects) when null.</param>
        /// <param name="delay">How to wait between attempts; <c>Task.Delay</c> when null (tests record the waits instead).</param>
        public WebhookAlertSender(string webhookUrl, AlertFormat format = AlertFormat.Auto, HttpMessageHandler handler = null,
            Func<TimeSpan, CancellationToken, Task> delay = null)
        {
            if (string.IsNullOrWhiteSpace(webhookUrl))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    "No webhook address was given. Pass -WebhookUrl with the incoming webhook's address from Slack or Microsoft Teams.");
            }
            // The text is never echoed: a malformed address may still hold the secret.
            if (!Uri.TryCreate(webhookUrl.Trim(), UriKind.Absolute, out var parsed)
                || (parsed.Scheme != Uri.UriSchemeHttps && parsed.Scheme != Uri.UriSchemeHttp))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    "The webhook address is not an absolute http(s) URL. Copy the whole address from the webhook's settings in Slack or Microsoft Teams (it starts with https://).");
            }
            url = parsed;
            Destination = DisplayUrl(url);
            if (url.Scheme == Uri.UriSchemeHttp && !url.IsLoopback)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"The webhook address {Destination} is plain http, which would send the webhook's secret address and the alert unencrypted. Use its https:// address.", Destination);
            }
            if (!Enum.IsDefined(typeof(AlertFormat), format))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{format}' is not an alert format. Use Auto, Slack, Teams, TeamsWorkflow or Generic.", format);
            }
            secrets = SecretParts(webhookUrl.Trim(), url);
            RequestedFormat = format;
            Format = ResolveFormat(url, format);
            http = handler == null
                ? new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }, disposeHandler: true)
                : new HttpClient(handler, disposeHandler: false);
            sender = new RetryingHttpSender(http, delay, Redact)
            {
                Name = "Webhook " + Destination, MaxAttempts = 4, RequestTimeout = TimeSpan.FromSeconds(30), AlsoRetry = new[] { 408 },
                Clock = () => Clock(), Log = line => Log?.Invoke(line),
            };
            http.Timeout = Timeout.InfiniteTimeSpan; // per attempt: RequestTimeout
            string version = typeof(WebhookAlertSender).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
            http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("TursoBackup", version));
        }

        /// <summary>The format asked for (may be <see cref="AlertFormat.Auto"/>).</summary>
        public AlertFormat RequestedFormat { get; }

        /// <summary>The payload shape that is sent (never <see cref="AlertFormat.Auto"/>).</summary>
        public AlertFormat Format { get; }

        /// <summary>The webhook as <c>scheme://host[:port]/…</c>, safe to show.</summary>
        public string Destination { get; }

        /// <summary>Verbose narration (attempts, waits, results). Never given the webhook's path.</summary>
        public Action<string> Log { get; set; }

        /// <summary>Requests per alert, the first included, before a 429/5xx/unreachable webhook is reported (default 4).</summary>
        public int MaxAttempts { get => sender.MaxAttempts; set => sender.MaxAttempts = value; }

        /// <summary>The first wait of the backoff when there is no Retry-After (default 1 s, then 2, 4, …).</summary>
        public TimeSpan InitialBackoff { get => sender.InitialBackoff; set => sender.InitialBackoff = value; }

        /// <summary>The longest backoff wait (default 30 s).</summary>
        public TimeSpan MaxBackoff { get => sender.MaxBackoff; set => sender.MaxBackoff = value; }

        /// <summary>The longest Retry-After honoured; a longer one is reported at once (default 2 min).</summary>
        public TimeSpan MaxRetryAfter { get => sender.MaxRetryAfter; set => sender.MaxRetryAfter = value; }

        /// <summary>How long one request may take before it counts as failed and is retried (default 30 s).</summary>
        public TimeSpan RequestTimeout { get => sender.RequestTimeout; set => sender.RequestTimeout = value; }

        /// <summary>The clock (for HTTP-date Retry-After values); tests may replace it.</summary>
        public Func<DateTimeOffset> Clock { get; set; } = () => DateTimeOffset.UtcNow;

        public override string ToString() => $"{Format} webhook {Destination}";

        public void Dispose() => http.Dispose();

        // ------------------------------------------------------------------ addresses

        /// <summary>
        /// The format for a webhook: <paramref name="requested"/> unless it is <see cref="AlertFormat.Auto"/>; then
        /// <c>hooks.slack.com</c> → Slack; <c>*.webhook.office.com</c>, <c>outlook.office.com</c>,
        /// <c>outlook.office365.com</c> → Teams; <c>*.logic.azure.com</c>, <c>*.powerautomate.com</c>,
        /// <c>*.powerplatform.com</c> → TeamsWorkflow; anything else → Generic.
        /// </summary>
        public static AlertFormat ResolveFormat(Uri webhook, AlertFormat requested)
        {
            if (requested != AlertFormat.Auto) return requested;
            string host = (webhook?.Host ?? "").TrimEnd('.').ToLowerInvariant();
            if (host == "hooks.slack.com" || host == "hooks.slack-gov.com") return AlertFormat.Slack;
            if (host == "webhook.office.com" || host.EndsWith(".webhook.office.com", StringComparison.Ordinal)
                || host == "outlook.office.com" || host == "outlook.office365.com")
            {
                return AlertFormat.Teams;
            }
            if (host.EndsWith(".logic.azure.com", StringComparison.Ordinal) || host.EndsWith(".powerautomate.com", StringComparison.Ordinal)
                || host.EndsWith(".powerplatform.com", StringComparison.Ordinal))
            {
                return AlertFormat.TeamsWorkflow;
            }
            return AlertFormat.Generic;
        }

        /// <summary><c>scheme://host[:port]/…</c>: the address without user info, path or query, which may be secret.</summary>
        public static string DisplayUrl(Uri webhook)
        {
            if (webhook == null || !webhook.IsAbsoluteUri) return "(webhook)";
            return webhook.Scheme + "://" + webhook.Host + (webhook.IsDefaultPort ? "" : ":" + webhook.Port.ToString(CultureInfo.InvariantCulture)) + "/…";
        }

        /// <summary>The pieces of the address that must never be shown: the whole of it, its path, query and long segments.</summary>
        private static string[] SecretParts(string original, Uri u)
        {
            var parts = new List<string> { original, u.OriginalString, u.AbsoluteUri, u.PathAndQuery, u.Query.TrimStart('?') };
            if (u.AbsolutePath.Length > 1) parts.Add(u.AbsolutePath);
            if (!string.IsNullOrEmpty(u.UserInfo)) parts.Add(u.UserInfo);
            foreach (var piece in u.AbsolutePath.Split('/').Concat(u.Query.TrimStart('?').Split('&', '=')))
            {
                // Tokens and ids (Slack's T…/B…/secret, Teams' GUIDs, a Workflows sig): anything long or with a digit.
                if (piece.Length >= 16 || (piece.Length >= 6 && piece.Any(char.IsDigit))) parts.Add(piece);
            }
            var all = new List<string>();
            foreach (var p in parts.Where(p => !string.IsNullOrEmpty(p) && p != "/"))
            {
                all.Add(p);
                string decoded = Uri.UnescapeDataString(p);
                if (decoded != p) all.Add(decoded);
            }
            return all.Distinct(StringComparer.Ordinal).OrderByDescending(p => p.Length).ToArray();
        }

        /// <summary>Removes every secret part of the address from a text (an error, a server's answer, a log line).</summary>
        internal string Redact(string text)
        {
            if (string.IsNullOrEmpty(text)) return text;
            foreach (var secret in secrets)
            {
                int at;
                while ((at = text.IndexOf(secret, StringComparison.OrdinalIgnoreCase)) >= 0)
                {
                    text = text.Substring(0, at) + "…" + text.Substring(at + secret.Length);
                }
            }
            return text;
        }

        // ------------------------------------------------------------------ sending

        /// <summary>Posts the alert; returns what was sent, or throws a <see cref="TursoBackupException"/>.</summary>
        public AlertSendResult Send(AlertMessage message, CancellationToken cancel = default) =>
            Task.Run(() => SendAsync(message, cancel)).GetAwaiter().GetResult();

        public Task<AlertSendResult> SendAsync(AlertMessage message, CancellationToken cancel = default)
        {
            if (message == null) throw new ArgumentNullException(nameof(message));
            string json = Json.WriteCompact(BuildPayload(message, Format));
            byte[] body = new UTF8Encoding(false).GetBytes(json);
            return sender.SendAsync(new HttpSend<AlertSendResult>
            {
                Describe = $"POST {Format} alert ({body.Length} bytes) to {Destination}",
                Request = () =>
                {
                    var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
                    request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                    return request;
                },
                Accepted = answer =>
                {
                    // A Teams connector may answer 200 with "Webhook message delivery failed with error: … HTTP error 429".
                    if (answer.Text.IndexOf("delivery failed", StringComparison.OrdinalIgnoreCase) < 0)
                    {
                        Say($"{Destination} accepted the alert: HTTP {answer.Status}.");
                        return HttpOutcome<AlertSendResult>.Done(new AlertSendResult
                        {
                            StatusCode = answer.Status, Attempts = answer.Attempt, BytesSent = body.Length, Format = Format, Destination = Destination,
                        });
                    }
                    string said = Excerpt(answer.Text);
                    if (answer.Text.IndexOf("429", StringComparison.Ordinal) < 0)
                    {
                        throw new TursoBackupException(FailureKind.WriteFailed,
                            $"The webhook at {Destination} answered HTTP {answer.Status} but did not deliver the alert ({said}). Check the webhook's channel still exists and send it again.", Destination);
                    }
                    return HttpOutcome<AlertSendResult>.RetryAs(429, $"HTTP 429 (rate-limited, reported as: {said})");
                },
                TransientText = answer =>
                {
                    string said = Excerpt(answer.Text);
                    return $"HTTP {answer.Status} ({Describe(answer.Status)})" + (said.Length > 0 ? $": {said}" : "");
                },
                Refused = answer => Refused(answer.Status, Excerpt(answer.Text), answer.Headers.Location),
                GaveUp = (failure, attempts) => GiveUp(failure.Status, failure.Text, attempts),
                WaitTooLong = (failure, wait) => new TursoBackupException(FailureKind.Busy, Redact(
                    $"The webhook at {Destination} did not take the alert ({failure.Text}) and asked to wait {Seconds(wait)} before trying again, longer than this command waits. Send it again after {Iso(Clock() + wait)}."), Destination),
            }, cancel);
        }

        private TursoBackupException Refused(int status, string said, Uri location)
        {
            string answer = $"HTTP {status}" + (said.Length > 0 ? $": {said}" : "");
            string message;
            FailureKind kind;
            if (status >= 300 && status < 400)
            {
                kind = FailureKind.InvalidArgument;
                string to = location != null && location.IsAbsoluteUri ? " to " + DisplayUrl(location) : "";
                message = $"The webhook at {Destination} answered with a redirect ({answer}){to}, so the alert was not delivered. Pass the webhook's final https address to -WebhookUrl.";
            }
            else if (status == 401 || status == 403)
            {
                kind = FailureKind.PermissionDenied;
                message = $"The webhook at {Destination} refused the alert ({answer}): it was revoked or disabled, or may no longer post to its channel. Create a new incoming webhook and pass its address to -WebhookUrl.";
            }
            else if (status == 404 || status == 410)
            {
                kind = FailureKind.NotFound;
                message = $"There is no webhook at {Destination} with that address ({answer}): it was deleted, or the address was copied incompletely. Copy the whole address from the webhook's settings and pass it to -WebhookUrl.";
            }
            else if (status == 413)
            {
                kind = FailureKind.InvalidArgument;
                message = $"The webhook at {Destination} refused the alert as too large ({answer}). Send fewer reports at once.";
            }
            else if (status >= 400 && status < 500)
            {
                kind = FailureKind.InvalidArgument;
                message = $"The webhook at {Destination} rejected the alert ({answer}). The {FormatName(Format)} payload may not be what this webhook takes: pass -Format Slack, Teams, TeamsWorkflow or Generic to match it.";
            }
            else
            {
                kind = FailureKind.WriteFailed;
                message = $"The webhook at {Destination} did not take the alert ({answer}).";
            }
            return new TursoBackupException(kind, Redact(message), Destination);
        }

        private TursoBackupException GiveUp(int status, string transient, int attempts)
        {
            string tries = attempts == 1 ? "once" : attempts + " times";
            string message;
            if (status == 429)
            {
                message = $"The webhook at {Destination} is rate-limiting (HTTP 429) and refused the alert {tries}. Wait a minute and send it again, or send fewer alerts at once.";
            }
            else if (status >= 500)
            {
                message = $"The webhook service at {Destination} failed to take the alert, {tries}, last with {transient}. The problem is on the service's side: check its status page and send the alert again later.";
            }
            else
            {
                message = $"The webhook at {Destination} could not be reached ({tries}; last: {transient}). Check the network, any proxy, and the address given to -WebhookUrl.";
            }
            return new TursoBackupException(FailureKind.Busy, Redact(message), Destination);
        }

        private string Excerpt(string text)
        {
            string trimmed = (text ?? "").Trim().Replace("\r", " ").Replace("\n", " ");
            if (trimmed.Length > 200) trimmed = trimmed.Substring(0, 200) + "…";
            return Redact(trimmed);
        }

        private void Say(string line) => Log?.Invoke(Redact(line));

        // ------------------------------------------------------------------ payloads

        /// <summary>
        /// The JSON object (for <see cref="Json.Write"/>) that carries the alert in <paramref name="format"/>
        /// (<see cref="AlertFormat.Auto"/> counts as <see cref="AlertFormat.Generic"/>).
        /// </summary>
        public static Dictionary<string, object> BuildPayload(AlertMessage message, AlertFormat format)
        {
            if (message == null) throw new ArgumentNullException(nameof(message));
            switch (format)
            {
                case AlertFormat.Slack: return SlackPayload(message);
                case AlertFormat.Teams: return MessageCardPayload(message);
                case AlertFormat.TeamsWorkflow: return AdaptiveCardPayload(message);
                default: return CombinedPayload(message);
            }
        }

        /// <summary>Slack: <c>text</c> (the notification and fallback) and Block Kit <c>blocks</c> (header, sections, context).</summary>
        private static Dictionary<string, object> SlackPayload(AlertMessage m)
        {
            var items = Items(m);
            var lines = new List<string> { Esc(m.EffectiveTitle), Esc(Counts(items)) };
            foreach (var item in items)
            {
                lines.Add(Esc(Name(item) + ": " + StatusOf(item)));
                lines.AddRange(Findings(item).Select(f => "  • " + Esc(f)));
            }
            lines.Add(Esc(Footer(m)));

            var blocks = new List<object>
            {
                Obj("type", "header", "text", Obj("type", "plain_text", "text", Cut(m.EffectiveTitle, SlackHeaderMax), "emoji", true)),
                Obj("type", "section", "text", Obj("type", "mrkdwn", "text", Cut(Esc(Counts(items)), SlackSectionMax))),
            };
            foreach (var item in items.Take(SlackDatabaseBlocksMax))
            {
                var sb = new StringBuilder();
                sb.Append('*').Append(Esc(Name(item))).Append("*: ").Append(Esc(StatusOf(item)));
                foreach (var f in Findings(item)) sb.Append("\n• ").Append(Esc(f));
                blocks.Add(Obj("type", "section", "text", Obj("type", "mrkdwn", "text", Cut(sb.ToString(), SlackSectionMax))));
            }
            if (items.Count > SlackDatabaseBlocksMax)
            {
                blocks.Add(Obj("type", "context", "elements", new List<object> { Obj("type", "mrkdwn", "text", $"…and {items.Count - SlackDatabaseBlocksMax} more databases (see the text of this message).") }));
            }
            blocks.Add(Obj("type", "context", "elements", new List<object> { Obj("type", "mrkdwn", "text", Cut(Esc(Footer(m)), SlackSectionMax)) }));

            return Obj("text", Cut(string.Join("\n", lines), TextMax), "blocks", blocks);
        }

        /// <summary>Teams (Microsoft 365 connector): a MessageCard with one section per database.</summary>
        private static Dictionary<string, object> MessageCardPayload(AlertMessage m)
        {
            var items = Items(m);
            var sections = new List<object>();
            foreach (var item in items.Take(TeamsSectionsMax))
            {
                var section = Obj(
                    "activityTitle", "**" + Esc(Name(item)) + "**: " + Esc(StatusOf(item)),
                    "facts", new List<object> { Obj("name", "Status", "value", Esc(StatusOf(item))) },
                    "markdown", true);
                var findings = Findings(item);
                if (findings.Count > 0) section["text"] = string.Join("\n\n", findings.Select(f => "• " + Esc(f)));
                sections.Add(section);
            }
            if (items.Count > TeamsSectionsMax)
            {
                sections.Add(Obj("text", $"…and {items.Count - TeamsSectionsMax} more databases.", "markdown", true));
            }
            return Obj(
                "@type", "MessageCard",
                "@context", MessageCardContext,
                "summary", Cut(m.EffectiveTitle, 200),
                "themeColor", Color(m.EffectiveStatus),
                "title", Esc(m.EffectiveTitle),
                "text", Esc(Counts(items)) + "\n\n" + Esc(Footer(m)),
                "sections", sections);
        }

        /// <summary>Teams Workflows: a message with one Adaptive Card attachment.</summary>
        private static Dictionary<string, object> AdaptiveCardPayload(AlertMessage m)
        {
            var items = Items(m);
            var body = new List<object>
            {
                Obj("type", "TextBlock", "text", m.EffectiveTitle, "size", "Large", "weight", "Bolder", "color", CardColor(m.EffectiveStatus), "wrap", true),
                Obj("type", "TextBlock", "text", Counts(items), "wrap", true),
            };
            foreach (var item in items)
            {
                body.Add(Obj("type", "TextBlock", "text", Name(item) + ": " + StatusOf(item), "weight", "Bolder",
                    "color", CardColor(StatusOf(item)), "wrap", true, "separator", true, "spacing", "Medium"));
                foreach (var f in Findings(item)) body.Add(Obj("type", "TextBlock", "text", "• " + f, "wrap", true, "spacing", "None"));
            }
            body.Add(Obj("type", "TextBlock", "text", Footer(m), "isSubtle", true, "size", "Small", "wrap", true));
            var card = Obj(
                "$schema", "http://adaptivecards.io/schemas/adaptive-card.json",
                "type", "AdaptiveCard",
                "version", "1.4",
                "msteams", Obj("width", "Full"),
                "body", body);
            return Obj(
                "type", "message",
                "summary", m.EffectiveTitle,
                "attachments", new List<object> { Obj("contentType", AdaptiveCardContentType, "content", card) });
        }

        /// <summary>
        /// For both Slack and Teams connectors: Slack reads only <c>text</c> (the whole report, so it starts with the title);
        /// Teams renders the MessageCard with that same <c>text</c> (paragraphs split by blank lines, which Teams needs) and
        /// colours it by status. No <c>title</c> or <c>sections</c>, which would repeat the text in Teams.
        /// </summary>
        private static Dictionary<string, object> CombinedPayload(AlertMessage m)
        {
            var items = Items(m);
            var paragraphs = new List<string> { Esc(m.EffectiveTitle), Esc(Counts(items)) };
            foreach (var item in items)
            {
                paragraphs.Add(Esc(Name(item) + ": " + StatusOf(item)));
                paragraphs.AddRange(Findings(item).Select(f => "• " + Esc(f)));
            }
            paragraphs.Add(Esc(Footer(m)));
            return Obj(
                "text", Cut(string.Join("\n\n", paragraphs), TextMax),
                "@type", "MessageCard",
                "@context", MessageCardContext,
                "summary", Cut(m.EffectiveTitle, 200),
                "themeColor", Color(m.EffectiveStatus));
        }

        private static List<AlertItem> Items(AlertMessage m) => (m.Items ?? new List<AlertItem>()).Where(i => i != null).ToList();

        private static string Name(AlertItem item) => string.IsNullOrWhiteSpace(item.Database) ? "(unnamed database)" : item.Database.Trim();

        private static string StatusOf(AlertItem item) => string.IsNullOrWhiteSpace(item.Status) ? "Unknown" : item.Status.Trim();

        private static List<string> Findings(AlertItem item) =>
            (item.Findings ?? new List<string>()).Where(f => !string.IsNullOrWhiteSpace(f)).Select(f => f.Trim()).ToList();

        /// <summary>"3 databases: 1 Critical, 1 Warning, 1 Healthy."</summary>
        private static string Counts(List<AlertItem> items)
        {
            if (items.Count == 0) return "No databases reported.";
            var groups = items.GroupBy(StatusOf, StringComparer.OrdinalIgnoreCase)
                .OrderByDescending(g => AlertMessage.Severity(g.Key))
                .Select(g => g.Count().ToString(CultureInfo.InvariantCulture) + " " + StatusOf(g.First()));
            return (items.Count == 1 ? "1 database: " : items.Count.ToString(CultureInfo.InvariantCulture) + " databases: ") + string.Join(", ", groups) + ".";
        }

        private static string Footer(AlertMessage m)
        {
            string from = string.IsNullOrWhiteSpace(m.Source) ? "" : " from " + m.Source.Trim();
            return "TursoBackup" + from + " at " + m.At.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " UTC";
        }

        /// <summary>A MessageCard themeColor (hex, no '#').</summary>
        private static string Color(string status)
        {
            switch (AlertMessage.Severity(status))
            {
                case 2: return "D13438";
                case 1: return "FFB900";
                case 0: return "107C10";
                default: return "808080";
            }
        }

        private static string CardColor(string status)
        {
            switch (AlertMessage.Severity(status))
            {
                case 2: return "Attention";
                case 1: return "Warning";
                case 0: return "Good";
                default: return "Default";
            }
        }

        /// <summary>Slack mrkdwn (and Teams markdown) control characters: &amp;, &lt; and &gt; as entities.</summary>
        private static string Esc(string text) =>
            (text ?? "").Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

        private static string Cut(string text, int max) =>
            text.Length <= max ? text : text.Substring(0, max - 1) + "…";

        private static Dictionary<string, object> Obj(params object[] keysAndValues)
        {
            var d = new Dictionary<string, object>(StringComparer.Ordinal);
            for (int i = 0; i < keysAndValues.Length; i += 2) d[(string)keysAndValues[i]] = keysAndValues[i + 1];
            return d;
        }

        private static string FormatName(AlertFormat format)
        {
            switch (format)
            {
                case AlertFormat.Slack: return "Slack";
                case AlertFormat.Teams: return "Teams MessageCard";
                case AlertFormat.TeamsWorkflow: return "Teams Workflows (Adaptive Card)";
                default: return "combined Slack/Teams";
            }
        }

        private static string Seconds(TimeSpan t) => RetryingHttpSender.Seconds(t);

        private static string Iso(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

        private static string Describe(int status)
        {
            switch (status)
            {
                case 408: return "request timeout";
                case 429: return "too many requests";
                case 500: return "internal server error";
                case 502: return "bad gateway";
                case 503: return "service unavailable";
                case 504: return "gateway timeout";
                default: return "server error";
            }
        }
    }
}
