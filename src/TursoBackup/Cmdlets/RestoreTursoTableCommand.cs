using System;
using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Recovery;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Brings one table back from a source (a branch, a backup, a point in time) into a destination database with its
    /// indexes and triggers, atomically: replacing the destination's table (saved first in the vault, so
    /// Undo-TursoRecovery puts it back), or side by side under -NewName. Journaled with -Reason.
    /// </summary>
    [Cmdlet(VerbsData.Restore, "TursoTable", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(TableRecoveryResult))]
    public sealed class RestoreTursoTableCommand : RecoveryWriteCmdlet
    {
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string Table { get; set; }

        /// <summary>Restore beside the destination's table under this name (its indexes and triggers renamed too) instead of replacing it.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string NewName { get; set; }

        protected override void ProcessRecord() => WithSource(source =>
        {
            if (IsUrl(Destination))
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"Restore-TursoTable writes local database files; '{Destination}' is a remote database. Bring its rows back with Restore-TursoRow -Destination '{Destination}' -Table {Table}, or restore the whole database into Turso Cloud with Restore-TursoBackup -NewDatabase.", Destination) { ErrorId = "RemoteDestination" };
            string destination = ResolveExistingFile(Destination, "-Destination");
            string action = NewName == null ? $"Replace the table '{Table}' with the one of {source.Description} (the current one is saved for Undo-TursoRecovery)"
                                            : $"Restore the table '{Table}' of {source.Description} as '{NewName}'";
            bool go = NewName == null
                ? ShouldOverwrite(destination, action, "Replace a table")
                : ShouldProcessUnattended(destination, action, "Restoring a table into", "restore it", "written", terminating: false);
            if (!go) return;
            WriteObject(TableRecovery.Restore(new TableRecoveryRequest
            {
                SourcePath = source.Path,
                DestinationPath = destination,
                Table = Table,
                NewName = NewName,
                Reason = Reason,
                VaultPath = VaultRoot(),
                LockTimeout = LockTimeout,
                Log = VerboseFromAnyThread,
            }));
        });
    }
}
