using System.Management.Automation;
using TursoBackup.Engine.Vault;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Removes backups from their vault.</summary>
    [Cmdlet(VerbsCommon.Remove, "TursoBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(BackupInfo))]
    public sealed class RemoveTursoBackupCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNull]
        public BackupInfo[] InputObject { get; set; }

        /// <summary>Also write each removed backup to the pipeline.</summary>
        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            foreach (var backup in InputObject)
            {
                if (!ShouldProcessUnattended($"{backup.Database}/{backup.Id} in {backup.Vault}", "Remove backup", "Removing backup", "remove it", "removed")) continue;
                bool ok = TryRun(() => BackupVault.OpenExisting(backup.Vault).Remove(backup, log: WriteVerbose), backup.Id);
                if (!ok) continue;
                WriteVerbose($"Removed backup {backup.Id} of '{backup.Database}' from '{backup.Vault}'.");
                if (PassThru) WriteObject(backup);
            }
        }
    }
}
