using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Recovery;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Puts a destination back as it was before a row or table recovery, from the undo data that recovery recorded in the
    /// vault; refuses when the destination changed since (unless -Force). Journaled.
    /// </summary>
    [Cmdlet(VerbsCommon.Undo, "TursoRecovery", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(RecoveryLogEntry))]
    public sealed class UndoTursoRecoveryCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        /// <summary>The recovery to undo (RowRecoveryResult.Id / TableRecoveryResult.Id, or Get-TursoRecoveryHistory's Id).</summary>
        [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Id { get; set; }

        /// <summary>Undo even though the destination's rows changed since the recovery.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Reason { get; set; }

        /// <summary>The token for a recovery that wrote into a remote libSQL database (default: $env:TURSO_AUTH_TOKEN).</summary>
        [Parameter]
        [SecretTransformation]
        public System.Security.SecureString AuthToken { get; set; }

        protected override void ProcessRecord()
        {
            string root = null;
            if (!TryRun(() => root = Engine.Vault.BackupVault.OpenExisting(ResolveNewPath(Vault)).Root, Vault)) return;
            if (!ShouldProcessUnattended(Id, "Undo the recovery (put its destination back as it was)", "Undoing the recovery", "undo it", "changed", terminating: false)) return;
            RecoveryLogEntry entry = null;
            if (TryRun(() => entry = RecoveryUndo.Undo(root, Id, null, Force, Reason, null, VerboseFromAnyThread, RemoteAuth.Token(AuthToken)), Id)) WriteObject(entry);
        }
    }
}
