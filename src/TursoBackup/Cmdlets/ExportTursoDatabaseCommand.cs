using System.IO;
using System.Management.Automation;
using TursoBackup.Engine.Dump;
using TursoBackup.Engine.Errors;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Writes a consistent SQL dump of a local database that sqlite3 (or Import-TursoDatabase) loads.</summary>
    [Cmdlet(VerbsData.Export, "TursoDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = ParameterSets.Path)]
    [OutputType(typeof(ExportResult))]
    public sealed class ExportTursoDatabaseCommand : TursoCmdlet
    {

        /// <summary>The database to dump; a wildcard must match one file.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.Path)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>The database to dump, taken as it is (never expanded); FileInfo binds here by PSPath / FullName.</summary>
        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.LiteralPath)]
        [Alias("PSPath", "LP", "FullName")]
        [ValidateNotNullOrEmpty]
        public string LiteralPath { get; set; }

        /// <summary>A remote libSQL / Turso database: libsql://, https:// or http:// (a TursoBranch binds by its Url).</summary>
        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.Url)]
        [ValidateNotNullOrEmpty]
        public string Url { get; set; }

        /// <summary>The database token for -Url (default: $env:TURSO_AUTH_TOKEN); plain text is accepted and kept as a SecureString.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.Url)]
        [SecretTransformation]
        public System.Security.SecureString AuthToken { get; set; }

        /// <summary>The dump file to write; .gz or .zst compresses it.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string OutFile { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void ProcessRecord()
        {
            string outFile = ResolveNewPath(OutFile);
            if (ParameterSetName == ParameterSets.Url)
            {
                ExportRemote(outFile);
                return;
            }
            bool literal = ParameterSetName == ParameterSets.LiteralPath;
            string input = literal ? LiteralPath : Path;
            var sources = new System.Collections.Generic.List<string>(ResolveExistingPaths(input, literal));
            if (sources.Count > 1)
            {
                WriteFailure(new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{input}' matches {sources.Count} files, but -OutFile names one dump. Export one database per call, e.g. Get-ChildItem *.db | ForEach-Object {{ Export-TursoDatabase -LiteralPath $_.FullName -OutFile ($_.FullName + '.sql.zst') }}.", input)
                    { ErrorId = ErrorIds.AmbiguousPath });
                return;
            }
            foreach (var source in sources)
            {
                if (!ShouldWriteDump(outFile, source)) continue;
                string activity = "Exporting " + source;
                SqlDumpStats stats = null;
                bool ok = TryRun(() => stats = DumpFiles.Export(source, outFile, Force,
                    rows => ShowProgress(ActivityId, activity, $"{rows:N0} rows written", -1), Cancellation), source);
                CompleteProgress(ActivityId, activity);
                if (!ok) continue;
                WriteVerbose($"Dumped {stats.Tables} table(s), {stats.Rows:N0} rows of '{source}' to '{outFile}' in {stats.Duration.TotalSeconds:F2} s.");
                WriteObject(Result(source, outFile, stats, null));
            }
        }

        private static ExportResult Result(string source, string outFile, SqlDumpStats stats, string consistency)
        {
            string name = outFile.ToLowerInvariant();
            return new ExportResult
            {
                Source = source, OutFile = outFile, Tables = stats.Tables, Rows = stats.Rows, Duration = stats.Duration, Consistency = consistency,
                Bytes = new FileInfo(outFile).Length,
                Compression = name.EndsWith(".gz") ? "Gzip" : name.EndsWith(".zst") ? "Zstd" : "None",
            };
        }

        /// <summary>
        /// A new dump file only goes through ShouldProcess (no prompt by default); an existing one is overwritten only with
        /// -Force and a confirmation (-Confirm:$false skips it) — the one overwrite rule of every cmdlet (TursoCmdlet.ShouldOverwrite).
        /// </summary>
        private bool ShouldWriteDump(string outFile, string source)
        {
            if (Directory.Exists(outFile))
            {
                WriteFailure(new TursoBackupException(FailureKind.InvalidArgument, $"-OutFile '{outFile}' is a folder. Give the path of the dump file to write.", outFile)
                    { ErrorId = "DestinationIsFolder" });
                return false;
            }
            if (!File.Exists(outFile)) return ShouldProcessUnattended(outFile, $"Write a SQL dump of '{source}'", "Writing", "write it", "written", terminating: false);
            if (!Force)
            {
                WriteFailure(new TursoBackupException(FailureKind.AlreadyExists, $"'{outFile}' already exists. Use -Force to replace it, or choose another -OutFile.", outFile)
                    { ErrorId = ErrorIds.FileExists });
                return false;
            }
            return ShouldOverwrite(outFile, $"Replace the existing file with a SQL dump of '{source}'", "Replace a file");
        }

        private void ExportRemote(string outFile)
        {
            if (!ShouldWriteDump(outFile, Url)) return;
            string activity = "Exporting " + Url;
            SqlDumpStats stats = null;
            string consistency = null;
            string token = RemoteAuth.Token(AuthToken);
            bool ok = TryRun(() => stats = DumpFiles.ExportRemote(Url, token, outFile, Force,
                rows => ShowProgress(ActivityId, activity, $"{rows:N0} rows written", -1), Cancellation, out consistency, VerboseFromAnyThread), Url);
            CompleteProgress(ActivityId, activity);
            if (!ok) return;
            WriteVerbose($"Dumped {stats.Tables} table(s), {stats.Rows:N0} rows of '{Url}' to '{outFile}' in {stats.Duration.TotalSeconds:F2} s ({consistency}).");
            WriteObject(Result(Url, outFile, stats, consistency));
        }
    }
}
