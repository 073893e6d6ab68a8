using System.IO;
using System.Management.Automation;
using TursoBackup.Engine.Dump;
using TursoBackup.Engine.Errors;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Writes a consistent SQL dump of a local database that sqlite3 (or Import-TursoDatabase) loads.</summary>
    [Cmdlet(VerbsData.Export, "TursoDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(FileInfo))]
    public sealed class ExportTursoDatabaseCommand : TursoCmdlet
    {

        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>The dump file to write; .gz or .zst compresses it.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string OutFile { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void ProcessRecord()
        {
            string outFile = ResolveNewPath(OutFile);
            var sources = new System.Collections.Generic.List<string>(ResolveExistingPaths(Path));
            if (sources.Count > 1)
            {
                WriteFailure(new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{Path}' matches {sources.Count} files, but -OutFile names one dump. Export one database per call, e.g. Get-ChildItem *.db | ForEach-Object {{ Export-TursoDatabase -Path $_.FullName -OutFile ($_.FullName + '.sql.zst') }}.", Path));
                return;
            }
            foreach (var source in sources)
            {
                if (File.Exists(outFile) && !Force)
                {
                    WriteFailure(new TursoBackupException(FailureKind.AlreadyExists, $"'{outFile}' already exists. Use -Force to replace it, or choose another -OutFile.", outFile));
                    continue;
                }
                if (!ShouldProcess(outFile, $"Write a SQL dump of '{source}'")) continue;
                string activity = "Exporting " + source;
                SqlDumpStats stats = null;
                bool ok = TryRun(() => stats = DumpFiles.Export(source, outFile, Force,
                    rows => ShowProgress(ActivityId, activity, $"{rows:N0} rows written", -1), Cancellation), source);
                CompleteProgress(ActivityId, activity);
                if (!ok) continue;
                WriteVerbose($"Dumped {stats.Tables} table(s), {stats.Rows:N0} rows of '{source}' to '{outFile}' in {stats.Duration.TotalSeconds:F2} s.");
                WriteObject(new FileInfo(outFile));
            }
        }
    }
}
