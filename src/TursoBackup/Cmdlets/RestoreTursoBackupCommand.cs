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
    [OutputType(typeof(RestoreResult))]
    public sealed class RestoreTursoBackupCommand : DecryptingCmdlet
    {
        private const string ByObject = "InputObject";
        private const string ByName = "Vault";

        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ByObject)]
        [ValidateNotNull]
        public BackupInfo InputObject { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = ByName)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = ByName)]
        [ValidateNotNullOrEmpty]
        public string Database { get; set; }

        [Parameter(ParameterSetName = ByName)]
        [ValidateNotNullOrEmpty]
        public string Id { get; set; }

        /// <summary>-Vault -Database without -Id: may pick an emergency backup (by default the newest that is not one).</summary>
        [Parameter(ParameterSetName = ByName)]
        public SwitchParameter IncludeEmergency { get; set; }

        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Destination { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Permission bits of a new destination file, in octal (Unix; default 0600). A replaced database keeps its own.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Mode { get; set; }

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
            bool ok = TryRun(() => result = engine.Restore(backup, target, exists, EmergencyFiler(backup.Vault, "before-restore-" + backup.Id, KeysForEmergency), Cancellation), target);
            CompleteProgress(ActivityId, activity);
            if (!ok) return;
            if (result.ReplacedFileKeptAt != null && result.EmergencyBackup == null)
            {
                WriteWarning($"'{target}' could not be backed up before it was replaced; the old file is kept as '{result.ReplacedFileKeptAt}'.");
            }
            WriteObject(result);
        }
    }
}
