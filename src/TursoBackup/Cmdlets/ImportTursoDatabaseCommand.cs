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
    [Cmdlet(VerbsData.Import, "TursoDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(ImportResult))]
    public sealed class ImportTursoDatabaseCommand : TursoCmdlet
    {

        /// <summary>The dump to load, taken as it is (no wildcards).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName", "OutFile")]
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
            if (!ShouldWriteDatabase(target, Force, $"Create a database from the dump '{inFile}'",
                    $"Replace the existing database with the dump '{inFile}' (an emergency backup of it is taken first)", out _,
                    "Use -Force to replace it (an emergency backup of it is taken first), or choose another -Path.")) return;
            string activity = "Importing " + inFile;
            Engine.Dump.SqlImportStats stats = null;
            bool ok = TryRun(() => stats = DumpFiles.Import(inFile, target, Force, Vault != null ? EmergencyFiler(ResolveNewPath(Vault), "before-import") : null,
                (statements, chars) => ShowProgress(ActivityId, activity, $"{statements:N0} statements, {chars / 1048576.0:N1} MiB read", -1),
                Cancellation, WriteVerbose), target);
            CompleteProgress(ActivityId, activity);
            if (!ok) return;
            if (stats.EmergencyBackup != null) WriteVerbose($"Emergency backup of '{target}': {stats.EmergencyBackup.Id} in '{stats.EmergencyBackup.Vault}'.");
            else if (stats.ReplacedFileKeptAt != null)
            {
                WriteWarning($"'{target}' is replaced; its previous content is kept at '{stats.ReplacedFileKeptAt}'. Pass -Vault to keep emergency backups in a vault instead.");
            }
            WriteObject(new ImportResult
            {
                Path = target, InFile = inFile, Tables = stats.Tables, Statements = stats.Statements, RowsInserted = stats.RowsInserted,
                Bytes = stats.TargetBytes, Duration = stats.Duration, Replaced = stats.Replaced,
                EmergencyBackup = stats.EmergencyBackup, ReplacedFileKeptAt = stats.ReplacedFileKeptAt,
            });
        }
    }
}
