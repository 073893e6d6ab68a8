using System;
using System.Collections.Generic;

namespace TursoBackup.Engine.Alerts
{
    /// <summary>
    /// What an alert says, independent of where it goes: a title, an overall status, one <see cref="AlertItem"/> per
    /// database, when and from which host. <c>Send-TursoBackupAlert</c> builds it from <c>HealthReport</c>s (and
    /// <c>BackupTestResult</c>s); <see cref="WebhookAlertSender"/> turns it into a Slack, Teams or combined payload.
    /// </summary>
    public sealed class AlertMessage
    {
        /// <summary>The headline; when null or empty, <c>TursoBackup on {Source}: {Status}</c>.</summary>
        public string Title { get; set; }

        /// <summary>
        /// The overall status (<c>Healthy</c>, <c>Warning</c>, <c>Critical</c>); when null or empty, the worst status of
        /// <see cref="Items"/> (see <see cref="WorstStatus"/>).
        /// </summary>
        public string Status { get; set; }

        /// <summary>One entry per database, in the order they are to be shown.</summary>
        public IList<AlertItem> Items { get; set; } = new List<AlertItem>();

        /// <summary>When the reports were made.</summary>
        public DateTimeOffset At { get; set; } = DateTimeOffset.UtcNow;

        /// <summary>The host that sends the alert (e.g. <c>Environment.MachineName</c>).</summary>
        public string Source { get; set; }

        /// <summary><see cref="Status"/>, or the worst status of the items when it is not set.</summary>
        public string EffectiveStatus =>
            !string.IsNullOrWhiteSpace(Status) ? Status.Trim() : WorstStatus(Items);

        /// <summary><see cref="Title"/>, or the default headline when it is not set.</summary>
        public string EffectiveTitle
        {
            get
            {
                if (!string.IsNullOrWhiteSpace(Title)) return Title.Trim();
                string from = string.IsNullOrWhiteSpace(Source) ? "" : " on " + Source.Trim();
                return "TursoBackup" + from + ": " + EffectiveStatus;
            }
        }

        /// <summary>
        /// How severe a status is: 2 for <c>Critical</c> (also <c>Failed</c>, <c>Error</c>), 1 for <c>Warning</c>, 0 for
        /// <c>Healthy</c> (also <c>Passed</c>, <c>OK</c>), -1 for anything else (case-insensitive).
        /// </summary>
        public static int Severity(string status)
        {
            switch ((status ?? "").Trim().ToLowerInvariant())
            {
                case "critical":
                case "failed":
                case "error":
                    return 2;
                case "warning":
                    return 1;
                case "healthy":
                case "passed":
                case "ok":
                    return 0;
                default:
                    return -1;
            }
        }

        /// <summary>The most severe status among the items (<c>Healthy</c> when there are none).</summary>
        public static string WorstStatus(IEnumerable<AlertItem> items)
        {
            string worst = null;
            int worstRank = int.MinValue;
            if (items != null)
            {
                foreach (var item in items)
                {
                    if (item == null) continue;
                    int rank = Severity(item.Status);
                    if (rank > worstRank) { worstRank = rank; worst = item.Status; }
                }
            }
            return string.IsNullOrWhiteSpace(worst) ? "Healthy" : worst.Trim();
        }
    }

    /// <summary>One database in an <see cref="AlertMessage"/>: its status and the findings behind it (one sentence each).</summary>
    public sealed class AlertItem
    {
        public AlertItem() { }

        public AlertItem(string database, string status, IEnumerable<string> findings = null)
        {
            Database = database;
            Status = status;
            Findings = findings == null ? new List<string>() : new List<string>(findings);
        }

        public string Database { get; set; }

        /// <summary><c>Healthy</c>, <c>Warning</c> or <c>Critical</c> (a health report's status).</summary>
        public string Status { get; set; }

        public IList<string> Findings { get; set; } = new List<string>();

        public override string ToString() => $"{Database}: {Status}";
    }

    /// <summary>The payload shape a webhook is sent.</summary>
    public enum AlertFormat
    {
        /// <summary>Chosen by the webhook's host: Slack, Teams, Teams Workflows, or else <see cref="Generic"/>.</summary>
        Auto,

        /// <summary>A Slack incoming webhook: <c>text</c> (mrkdwn) plus Block Kit <c>blocks</c>.</summary>
        Slack,

        /// <summary>A Teams incoming webhook (Microsoft 365 / Office 365 connector): a legacy <c>MessageCard</c>.</summary>
        Teams,

        /// <summary>
        /// A Teams webhook created with the Workflows app ("When a Teams webhook request is received"), which accepts only
        /// Adaptive Cards: <c>{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive",…}]}</c>.
        /// </summary>
        TeamsWorkflow,

        /// <summary>
        /// One payload both Slack and Teams connectors accept: a top-level <c>text</c> holding the whole report plus the
        /// MessageCard fields (<c>@type</c>, <c>@context</c>, <c>summary</c>, <c>themeColor</c>).
        /// </summary>
        Generic,
    }

    /// <summary>What <see cref="WebhookAlertSender.Send"/> did.</summary>
    public sealed class AlertSendResult
    {
        /// <summary>The HTTP status of the answer that accepted the alert.</summary>
        public int StatusCode { get; set; }

        /// <summary>Requests made, the successful one included.</summary>
        public int Attempts { get; set; }

        /// <summary>The size of the JSON body, in UTF-8 bytes.</summary>
        public long BytesSent { get; set; }

        /// <summary>The payload shape sent (never <see cref="AlertFormat.Auto"/>).</summary>
        public AlertFormat Format { get; set; }

        /// <summary>The webhook as <c>scheme://host/…</c>: its path is a secret and never shown.</summary>
        public string Destination { get; set; }

        public override string ToString() => $"{Format} alert to {Destination}: HTTP {StatusCode} after {Attempts} attempt(s), {BytesSent} bytes";
    }
}
