using System;
using System.Linq;
using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Retention;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Verification;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Applies grandfather-father-son retention to a vault: decides per backup (RetentionPlanner), returns every
    /// decision with its reason, and removes the others under ShouldProcess (-WhatIf shows the plan).
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "TursoBackupRetention", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(RetentionDecision))]
    public sealed class InvokeTursoBackupRetentionCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter(Position = 1)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[] Database { get; set; }

        [Parameter]
        [ValidateRange(0, 10000)]
        public int Daily { get; set; } = 7;

        [Parameter]
        [ValidateRange(0, 10000)]
        public int Weekly { get; set; } = 4;

        [Parameter]
        [ValidateRange(0, 10000)]
        public int Monthly { get; set; } = 12;

        [Parameter]
        [ValidateRange(0, 100000)]
        public int KeepLast { get; set; }

        /// <summary>Backups younger than this are never removed.</summary>
        [Parameter]
        public TimeSpan MinimumAge { get; set; } = TimeSpan.Zero;

        protected override void ProcessRecord()
        {
            BackupVault vault;
            var policy = new RetentionPolicy(Daily, Weekly, Monthly, KeepLast) { MinimumAge = MinimumAge };
            try
            {
                policy.Validate();
                vault = BackupVault.OpenExisting(ResolveNewPath(Vault));
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
                return;
            }
            if (policy.KeepsOnlyProtected)
            {
                WriteWarning("Every retention rule is 0: only the newest backup, the newest verified one and pinned ones are kept (and the newest emergency backup).");
            }
            var patterns = (Database ?? new[] { "*" }).Select(d => new WildcardPattern(d, WildcardOptions.IgnoreCase)).ToArray();
            var now = DateTimeOffset.UtcNow;
            foreach (var database in vault.DatabaseNames().Where(n => patterns.Any(p => p.IsMatch(n))))
            {
                var backups = vault.List(database, (manifest, ex) => WriteFailure(new TursoBackupException(FailureKind.InvalidData,
                    UnreadableBackup(manifest, ex) + " Retention leaves that folder alone. Inspect it; repair its manifest or remove it.", manifest, ex)));
                var verified = VerificationLog.PassedBackupIds(vault.Root, database);
                WriteVerbose($"'{database}': {backups.Count} backup(s), {verified.Count} with a passing Test-Backup; policy {policy}.");
                foreach (var decision in RetentionPlanner.Plan(backups, policy, now, verified))
                {
                    if (!decision.Keep && ShouldProcessUnattended($"{decision.Database}/{decision.Id} ({decision.CreatedAt:u})", "Remove backup (" + decision.Reason + ")",
                            "Removing backup", "apply retention", "removed"))
                    {
                        decision.Removed = TryRun(() => vault.Remove(decision.Backup), decision.Id);
                    }
                    WriteObject(decision);
                }
            }
        }
    }
}
