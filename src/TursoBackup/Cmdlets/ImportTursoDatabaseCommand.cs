using System;
using System.IO;
using System.Management.Automation;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Dump;
using TursoBackup.Engine.Errors;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Loads a SQL dump (ours or a sqlite3 .dump; plain, .gz or .zst) into a new database.</summary>
    [Cmdlet(VerbsData.Import, "TursoDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(FileInfo))]
    public sealed class ImportTursoDatabaseCommand : TursoCmdlet
    {

        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        [ValidateNotNullOrEmpty]
        public string InFile { get; set; }

        /// <summary>The database file to create.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>Replace an existing non-empty database (after an emergency backup of it).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>Where the emergency backup of a replaced database goes; without it, a copy is kept beside the database.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        protected override void ProcessRecord()
        {
            string target = ResolveNewPath(Path);
            string inFile = ResolveNewPath(InFile);
            bool exists = File.Exists(target) && new FileInfo(target).Length > 0;
            if (exists && !Force)
            {
                WriteFailure(new TursoBackupException(FailureKind.AlreadyExists,
                    $"'{target}' already exists and is not empty. Use -Force to replace it (an emergency backup of it is taken first), or choose another -Path.", target));
                return;
            }
            string action = exists ? $"Replace the existing database with the dump '{inFile}' (an emergency backup of it is taken first)" : $"Create a database from the dump '{inFile}'";
            if (!ShouldProcess(target, action)) return;
            // Replacing a database is destructive: ask, as Restore-TursoBackup does, unless -Confirm:$false was given.
            bool confirmOff = MyInvocation.BoundParameters.TryGetValue("Confirm", out var confirm) && !((SwitchParameter)confirm).IsPresent;
            if (exists && !confirmOff && !ShouldContinue($"Replace '{target}' with the content of '{inFile}'? An emergency backup of it is taken first.", "Replace a database")) return;
            string activity = "Importing " + inFile;
            bool ok = TryRun(() => DumpFiles.Import(inFile, target, Force, EmergencyBackup,
                (statements, chars) => ShowProgress(ActivityId, activity, $"{statements:N0} statements, {chars / 1048576.0:N1} MiB read", -1),
                Cancellation, WriteVerbose), target);
            CompleteProgress(ActivityId, activity);
            if (ok) WriteObject(new FileInfo(target));
        }

        private void EmergencyBackup(string existing)
        {
            if (Vault != null)
            {
                var info = EmergencyBackup(existing, ResolveNewPath(Vault), "before-import");
                WriteVerbose($"Emergency backup of '{existing}': {info.Id} in '{info.Vault}'.");
                return;
            }
            string copy = existing + ".before-import-" + DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'");
            SnapshotBackup.CopyDatabase(existing, copy, TimeSpan.FromSeconds(30), Cancellation);
            WriteWarning($"'{existing}' is replaced; its previous content is kept at '{copy}'. Pass -Vault to keep emergency backups in a vault instead.");
        }
    }
}
