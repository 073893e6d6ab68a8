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
    public sealed class RestoreTursoTableCommand : RecoveryCmdlet
    {
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNull]
        [DatabaseSourceTransformation]
        public DatabaseSource Source { get; set; }

        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string Destination { get; set; }

        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string Table { get; set; }

        /// <summary>Restore beside the destination's table under this name (its indexes and triggers renamed too) instead of replacing it.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string NewName { get; set; }

        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Reason { get; set; }

        [Parameter]
        public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(10);

        protected override void ProcessRecord()
        {
            SourceDatabase source = null;
            try
            {
                source = OpenSource(Source, "-Source");
                string destination = ResolveExistingFile(Destination, "-Destination");
                string action = NewName == null ? $"Replace the table '{Table}' with the one of {source.Description} (the current one is saved for Undo-TursoRecovery)"
                                                : $"Restore the table '{Table}' of {source.Description} as '{NewName}'";
                bool go = NewName == null
                    ? ShouldOverwrite(destination, action, "Replace a table")
                    : ShouldProcessUnattended(destination, action, "Restoring a table into", "restore it", "written", terminating: false);
                if (!go) return;
                var result = TableRecovery.Restore(new TableRecoveryRequest
                {
                    SourcePath = source.Path,
                    DestinationPath = destination,
                    Table = Table,
                    NewName = NewName,
                    Reason = Reason,
                    VaultPath = Engine.Vault.BackupVault.OpenOrCreate(ResolveNewPath(Vault)).Root,
                    LockTimeout = LockTimeout,
                    Log = VerboseFromAnyThread,
                });
                WriteObject(result);
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
            }
            finally
            {
                source?.Dispose();
            }
        }
    }
}
