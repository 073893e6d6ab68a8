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
    [Cmdlet(VerbsData.Restore, "TursoPointInTime", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = Local)]
    [OutputType(typeof(RestoreResult), ParameterSetName = new[] { Local })]
    [OutputType(typeof(TursoBranch), ParameterSetName = new[] { Cloud })]
    public sealed class RestoreTursoPointInTimeCommand : DecryptingCmdlet
    {
        private const string Local = "Local";
        private const string Cloud = "Cloud";

        [Parameter(Mandatory = true, Position = 0, ParameterSetName = Local)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        /// <summary>Local: the database's name in the vault. Cloud: the Turso database to restore from.</summary>
        [Parameter(Mandatory = true, Position = 1, ParameterSetName = Local)]
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = Cloud)]
        [ValidateNotNullOrEmpty]
        public string Database { get; set; }

        /// <summary>A DateTimeOffset, DateTime or ISO 8601 text ("2024-01-15T10:30:00Z", or "2024-01-15" for the start of that day, UTC).</summary>
        [Parameter(Mandatory = true, Position = 2, ParameterSetName = Local)]
        [Parameter(Mandatory = true, Position = 1, ParameterSetName = Cloud)]
        [TimestampTransformation]
        public DateTimeOffset Timestamp { get; set; }

        [Parameter(Mandatory = true, Position = 3, ParameterSetName = Local)]
        [ValidateNotNullOrEmpty]
        public string Destination { get; set; }

        /// <summary>Cloud: the name of the new database the point in time is restored into (the source is never touched).</summary>
        [Parameter(Mandatory = true, ParameterSetName = Cloud)]
        [ValidateNotNullOrEmpty]
        public string NewDatabase { get; set; }

        /// <summary>Cloud: the group of the new database (default: the source's group).</summary>
        [Parameter(ParameterSetName = Cloud)]
        [ValidateNotNullOrEmpty]
        public string Group { get; set; }

        [Parameter(ParameterSetName = Local)]
        public SwitchParameter Force { get; set; }

        /// <summary>Also runs PRAGMA quick_check on the restored file (a full read of it) before it replaces anything.</summary>
        [Parameter(ParameterSetName = Local)]
        public SwitchParameter Check { get; set; }

        /// <summary>Why (a ticket number): recorded in the vault's recovery journal (Get-TursoRecoveryHistory).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Reason { get; set; }

        protected override void ProcessRecord()
        {
            if (ParameterSetName == Cloud)
            {
                CloudBranches.Create(this, Database, NewDatabase, Timestamp, Group);
                return;
            }
            DateTimeOffset at = Timestamp;
            BackupVault vault = null;
            try
            {
                vault = BackupVault.OpenExisting(ResolveVaultForRead(Vault, Database));
            }
            catch (TursoBackupException ex)
            {
                ThrowFailure(ex);
            }
            string target = Engine.Files.DatabaseWriter.Resolve(ResolveNewPath(Destination), Database);
            // Writing a new file asks nothing; replacing an existing one needs -Force and a confirmation (-Confirm:$false
            // skips it), and an emergency backup is taken first — one rule for every cmdlet (TursoCmdlet.ShouldWriteDatabase).
            if (!ShouldWriteDatabase(target, Force, $"Restore '{Database}' as of {at:yyyy-MM-ddTHH:mm:ssZ}",
                    $"Replace the existing database with '{Database}' as of {at:yyyy-MM-ddTHH:mm:ssZ} (an emergency backup of it is taken first)", out bool exists)) return;
            RestoreResult result = null;
            try
            {
                result = WalRestore.Restore(vault.Root, Database, at, target, exists, EmergencyFiler(vault.Root, "before-pitr", KeysForEmergency),
                    DateTimeOffset.UtcNow, WriteVerbose, Cancellation, Check, Keys);
            }
            catch (TursoBackupException ex)
            {
                Journal(vault.Root, new RecoveryLogEntry { Action = "PointInTimeRestore", Database = Database, PointInTime = at, Target = target, Source = vault.Root, Result = "Failed: " + ex.Message, Reason = Reason });
                // The contract: timestamp errors (future, too old, format, gap) are terminating and write nothing.
                ThrowFailure(ex);
            }
            Journal(vault.Root, new RecoveryLogEntry
            {
                Action = "PointInTimeRestore", Database = Database, PointInTime = result.PointInTime, Target = target, Source = vault.Root,
                Result = "Succeeded", Reason = Reason, Bytes = result.Bytes,
            });
            WriteObject(result);
        }
    }
}
