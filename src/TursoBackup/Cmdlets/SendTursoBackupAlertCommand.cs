using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using TursoBackup.Engine.Alerts;
using TursoBackup.Engine.Errors;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Posts health reports or Test-Backup results that are not healthy (or all of them, with -All) to a webhook, as one
    /// message that Slack and Microsoft Teams incoming webhooks accept. Retries on network errors, 429 and 5xx.
    /// </summary>
    [Cmdlet(VerbsCommunications.Send, "TursoBackupAlert", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(AlertSendResult))]
    public sealed class SendTursoBackupAlertCommand : TursoCmdlet
    {
        private readonly List<AlertItem> items = new List<AlertItem>();
        private int seen;

        /// <summary>A HealthReport (Get-TursoBackupHealth), a BackupTestResult (Test-Backup) or an ErrorRecord (a failed command), from the pipeline.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNull]
        public PSObject InputObject { get; set; }

        /// <summary>The incoming-webhook URL (Slack, Teams, or any endpoint that takes JSON). It is a secret: it never shows in messages.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string WebhookUrl { get; set; }

        /// <summary>Also send healthy reports and passed tests (a daily "all is well").</summary>
        [Parameter]
        public SwitchParameter All { get; set; }

        /// <summary>The payload: Auto (by the webhook's host), Slack, Teams, TeamsWorkflow or Generic (fields both Slack and Teams accept).</summary>
        [Parameter]
        public AlertFormat Format { get; set; } = AlertFormat.Auto;

        /// <summary>Returns the send result (status code, attempts).</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            seen++;
            switch (InputObject.BaseObject)
            {
                case HealthReport h:
                    if (All || h.Status != HealthStatus.Healthy)
                        items.Add(new AlertItem(h.Database, h.Status.ToString(), h.Findings));
                    break;
                case BackupTestResult t:
                    if (All || !t.Passed)
                        items.Add(new AlertItem(t.Database, t.Passed ? "Healthy" : "Critical",
                            t.Passed ? new[] { $"Backup {t.Backup?.Id} passed all {t.Checks.Length} checks; restore took {t.RestoreDuration.TotalSeconds:F1} s." }
                                     : t.Checks.Where(c => !c.Passed).Select(c => $"Backup {t.Backup?.Id}: {c.Name} failed — {c.Detail}").ToArray()));
                    break;
                case ErrorRecord e:
                    // A command that failed (a runbook's -ErrorVariable): always news, whatever -All says.
                    items.Add(new AlertItem(ErrorSubject(e), HealthStatus.Critical.ToString(), new[] { ErrorText(e) }));
                    break;
                default:
                    WriteFailure(new TursoBackupException(FailureKind.InvalidArgument,
                        $"Send-TursoBackupAlert takes HealthReport (Get-TursoBackupHealth), BackupTestResult (Test-Backup) or ErrorRecord ($Error, -ErrorVariable) objects, not {InputObject.BaseObject?.GetType().Name}.", InputObject) { ErrorId = ErrorIds.UnexpectedInput });
                    break;
            }
        }

        /// <summary>What a failed command was about: the database of its target (a backup, a file, a name), else the command.</summary>
        private static string ErrorSubject(ErrorRecord e)
        {
            object target = e.TargetObject is PSObject p ? p.BaseObject : e.TargetObject;
            switch (target)
            {
                case BackupInfo b: return b.Database;
                case System.IO.FileSystemInfo f: return System.IO.Path.GetFileNameWithoutExtension(f.Name);
                case string s when s.Length > 0:
                    return s.IndexOfAny(new[] { '/', '\\' }) >= 0 ? System.IO.Path.GetFileNameWithoutExtension(s) : s;
            }
            return e.InvocationInfo?.MyCommand?.Name ?? "(a command)";
        }

        private static string ErrorText(ErrorRecord e)
        {
            string command = e.InvocationInfo?.MyCommand?.Name;
            string text = e.ErrorDetails?.Message ?? e.Exception?.Message ?? e.ToString();
            return command != null ? $"{command} failed: {text}" : text;
        }

        protected override void EndProcessing()
        {
            if (items.Count == 0)
            {
                WriteVerbose($"Nothing to send: {seen} input(s), none unhealthy (use -All to send healthy ones too).");
                base.EndProcessing();
                return;
            }
            var message = new AlertMessage { Items = items, At = DateTimeOffset.UtcNow, Source = Environment.MachineName };
            string where = Uri.TryCreate(WebhookUrl, UriKind.Absolute, out var parsed) ? WebhookAlertSender.DisplayUrl(parsed) : "(the webhook)";
            if (ShouldProcessUnattended(where, $"Post an alert about {items.Count} database(s) ({message.EffectiveStatus})", "Posting to", "post it", "sent"))
            {
                AlertSendResult result = null;
                bool ok = TryRun(() =>
                {
                    var sender = new WebhookAlertSender(WebhookUrl, Format) { Log = VerboseFromAnyThread };
                    result = sender.Send(message, Cancellation);
                }, where);
                FlushVerbose();
                if (ok && PassThru) WriteObject(result);
            }
            base.EndProcessing();
        }
    }
}
