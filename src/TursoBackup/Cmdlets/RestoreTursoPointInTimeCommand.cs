using System;
using System.IO;
using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Restore;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Wal;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Restores a database as of a timestamp from a vault's WAL archive, to a new file.</summary>
    [Cmdlet(VerbsData.Restore, "TursoPointInTime", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(RestoreResult))]
    public sealed class RestoreTursoPointInTimeCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string Database { get; set; }

        /// <summary>A DateTimeOffset, DateTime or ISO 8601 text ("2024-01-15T10:30:00Z", or "2024-01-15" for the start of that day, UTC).</summary>
        [Parameter(Mandatory = true, Position = 2)]
        [ValidateNotNull]
        public object Timestamp { get; set; }

        [Parameter(Mandatory = true, Position = 3)]
        [ValidateNotNullOrEmpty]
        public string Destination { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Also runs PRAGMA quick_check on the restored file (a full read of it) before it replaces anything.</summary>
        [Parameter]
        public SwitchParameter Check { get; set; }

        protected override void ProcessRecord()
        {
            DateTimeOffset at = default(DateTimeOffset);
            BackupVault vault = null;
            try
            {
                at = ParseTimestamp(Timestamp);
                vault = BackupVault.OpenExisting(ResolveNewPath(Vault));
            }
            catch (TursoBackupException ex)
            {
                ThrowFailure(ex);
            }
            string target = RestoreTarget.Resolve(ResolveNewPath(Destination), Database);
            bool exists = false;
            try
            {
                exists = RestoreTarget.CheckOverwrite(target, Force);
            }
            catch (TursoBackupException ex)
            {
                ThrowFailure(ex);
            }
            if (!ShouldProcess(target, $"Restore '{Database}' as of {at:yyyy-MM-ddTHH:mm:ssZ}")) return;
            RestoreResult result = null;
            try
            {
                result = WalRestore.Restore(vault.Root, Database, at, target, exists, existing => EmergencyBackup(existing, vault.Root, "before-pitr"),
                    DateTimeOffset.UtcNow, WriteVerbose, Cancellation, Check);
            }
            catch (TursoBackupException ex)
            {
                // The contract: timestamp errors (future, too old, format, gap) are terminating and write nothing.
                ThrowFailure(ex);
            }
            WriteObject(result);
        }
    }
}
