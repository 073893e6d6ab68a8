using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Restore;
using TursoBackup.Engine.Vault;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Restores a snapshot backup to a database file.</summary>
    [Cmdlet(VerbsData.Restore, "TursoBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = ByObject)]
    [OutputType(typeof(RestoreResult), typeof(TursoDatabase))]
    public sealed class RestoreTursoBackupCommand : DecryptingCmdlet
    {
        private const string ByObject = "InputObject";
        private const string ByName = "Vault";
        private const string ByObjectToCloud = "InputObjectToCloud";
        private const string ByNameToCloud = "VaultToCloud";

        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ByObject)]
        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ByObjectToCloud)]
        [ValidateNotNull]
        public BackupInfo InputObject { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = ByName)]
        [Parameter(Mandatory = true, ParameterSetName = ByNameToCloud)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = ByName)]
        [Parameter(Mandatory = true, ParameterSetName = ByNameToCloud)]
        [ValidateNotNullOrEmpty]
        public string Database { get; set; }

        [Parameter(ParameterSetName = ByName)]
        [Parameter(ParameterSetName = ByNameToCloud)]
        [ValidateNotNullOrEmpty]
        public string Id { get; set; }

        /// <summary>-Vault -Database without -Id: may pick an emergency backup (by default the newest that is not one).</summary>
        [Parameter(ParameterSetName = ByName)]
        [Parameter(ParameterSetName = ByNameToCloud)]
        public SwitchParameter IncludeEmergency { get; set; }

        [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByObject)]
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByName)]
        [ValidateNotNullOrEmpty]
        public string Destination { get; set; }

        [Parameter(ParameterSetName = ByObject)]
        [Parameter(ParameterSetName = ByName)]
        public SwitchParameter Force { get; set; }

        /// <summary>Permission bits of a new destination file, in octal (Unix; default 0600). A replaced database keeps its own.</summary>
        [Parameter(ParameterSetName = ByObject)]
        [Parameter(ParameterSetName = ByName)]
        [ValidateNotNullOrEmpty]
        public string Mode { get; set; }

        /// <summary>Restores into a NEW Turso Cloud database of this name (seed database_upload) instead of a file.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ByObjectToCloud)]
        [Parameter(Mandatory = true, ParameterSetName = ByNameToCloud)]
        [ValidateNotNullOrEmpty]
        public string NewDatabase { get; set; }

        /// <summary>The group of -NewDatabase (default: "default").</summary>
        [Parameter(ParameterSetName = ByObjectToCloud)]
        [Parameter(ParameterSetName = ByNameToCloud)]
        [ValidateNotNullOrEmpty]
        public string Group { get; set; }

        /// <summary>Why (a ticket number): recorded in the vault's recovery journal (Get-TursoRecoveryHistory).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Reason { get; set; }

        protected override void ProcessRecord()
        {
            BackupInfo backup;
            try
            {
                backup = InputObject != null ? ReloadBackup(InputObject) : FindBackup(Vault, Database, Id, IncludeEmergency);
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
                return;
            }
            if (NewDatabase != null)
            {
                RestoreToCloud(backup);
                return;
            }
            string target = BackupRestore.ResolveDestination(backup, ResolveNewPath(Destination));
            if (!ShouldWriteDatabase(target, Force, $"Restore backup {backup.Id} of '{backup.Database}'",
                    $"Replace the existing database with backup {backup.Id} of '{backup.Database}' (an emergency backup of it is taken first)", out bool exists)) return;
            int? mode = null;
            if (Mode != null)
            {
                try { mode = ParseMode(Mode); }
                catch (TursoBackupException ex) { WriteFailure(ex); return; }
            }

            string activity = "Restoring " + backup.Database + " to " + target;
            var engine = new BackupRestore
            {
                Log = WriteVerbose,
                Mode = mode,
                Keys = Keys,
                Progress = (done, total) => ShowProgress(ActivityId, activity, $"{done:N0} of {total:N0} bytes", total > 0 ? (int)(done * 100 / total) : 0),
            };
            RestoreResult result = null;
            string failure = null;
            bool ok = TryRun(() =>
            {
                try { result = engine.Restore(backup, target, exists, EmergencyFiler(backup.Vault, "before-restore-" + backup.Id, KeysForEmergency), Cancellation); }
                catch (Exception ex) { failure = ex.Message; throw; }
            }, target);
            CompleteProgress(ActivityId, activity);
            Journal(backup.Vault, new RecoveryLogEntry
            {
                Action = "Restore", Database = backup.Database, PointInTime = backup.PointInTime, Target = target,
                Source = Engine.Restore.BackupMaterializer.Describe(backup), Result = ok ? "Succeeded" : "Failed: " + failure, Reason = Reason,
                Bytes = result?.Bytes ?? 0,
            });
            if (!ok) return;
            if (result.ReplacedFileKeptAt != null && result.EmergencyBackup == null)
            {
                WriteWarning($"'{target}' could not be backed up before it was replaced; the old file is kept as '{result.ReplacedFileKeptAt}'.");
            }
            WriteObject(result);
        }
    

        /// <summary>The backup restored into scratch space (checksum verified, decrypted), then uploaded as a new cloud database.</summary>
        private void RestoreToCloud(BackupInfo backup)
        {
            if (!ShouldProcessUnattended(NewDatabase, $"Create the Turso Cloud database '{NewDatabase}' from backup {backup.Id} of '{backup.Database}'", "Creating the cloud database", "create it", "created")) return;
            TursoDatabase created = null;
            string failure = null;
            bool ok = TryRun(() =>
            {
                try
                {
                    using (var copy = Engine.Recovery.RecoverySources.FromBackup(backup, Keys, null, null, Cancellation))
                    {
                        created = UploadToCloud(copy.Path, NewDatabase, Group, $"Uploading backup {backup.Id} of '{backup.Database}' as '{NewDatabase}'");
                    }
                }
                catch (Exception ex) { failure = ex.Message; throw; }
            }, NewDatabase);
            Journal(backup.Vault, new RecoveryLogEntry
            {
                Action = "RestoreToCloud", Database = backup.Database, PointInTime = backup.PointInTime, Target = NewDatabase,
                Source = Engine.Restore.BackupMaterializer.Describe(backup), Result = ok ? "Succeeded" : "Failed: " + failure, Reason = Reason,
            });
            if (ok) WriteObject(created);
        }
    }
}
