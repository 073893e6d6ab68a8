using System;
using System.Linq;
using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Recovery;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>The vault's recovery journal: every restore, point-in-time restore, branch, row/table recovery and undo, oldest first.</summary>
    [Cmdlet(VerbsCommon.Get, "TursoRecoveryHistory")]
    [OutputType(typeof(RecoveryLogEntry))]
    public sealed class GetTursoRecoveryHistoryCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string Database { get; set; }

        /// <summary>Only entries at or after this time.</summary>
        [Parameter]
        public DateTimeOffset? After { get; set; }

        /// <summary>Only entries of these actions (Restore, PointInTimeRestore, Branch, RowRecovery, TableRecovery, Undo).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] Action { get; set; }

        protected override void ProcessRecord()
        {
            string root = null;
            if (!TryRun(() => root = Engine.Vault.BackupVault.OpenExisting(ResolveNewPath(Vault)).Root, Vault)) return;
            var pattern = Database == null ? null : new WildcardPattern(Database, WildcardOptions.IgnoreCase);
            TryRun(() =>
            {
                foreach (var e in RecoveryJournal.Read(root))
                {
                    if (pattern != null && (e.Database == null || !pattern.IsMatch(e.Database))) continue;
                    if (After.HasValue && e.At < After.Value) continue;
                    if (Action != null && !Action.Any(a => string.Equals(a, e.Action, StringComparison.OrdinalIgnoreCase))) continue;
                    WriteObject(e);
                }
            }, root);
        }
    }
}
