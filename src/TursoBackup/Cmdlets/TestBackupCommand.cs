using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Verification;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Restores backups into scratch space and checks them; returns one BackupTestResult per backup.</summary>
    [Cmdlet(VerbsDiagnostic.Test, "Backup", DefaultParameterSetName = ByObject)]
    [Alias("Test-TursoBackup")]
    [OutputType(typeof(BackupTestResult))]
    public sealed class TestBackupCommand : DecryptingCmdlet
    {
        private const string ByObject = "InputObject";
        private const string ByName = "Vault";
        private const string ByPath = ParameterSets.Path;
        private const string ByLiteralPath = ParameterSets.LiteralPath;
        private const string ByUrl = ParameterSets.Url;

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

        /// <summary>With -Vault -Database: test the restore point at this time from the vault's WAL archive instead of a backup.</summary>
        [Parameter(ParameterSetName = ByName)]
        [TimestampTransformation]
        public DateTimeOffset Timestamp { get; set; }

        /// <summary>Live local databases (wildcards expanded): each tested through a consistent copy in scratch space.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ByPath, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>A live local database taken as it is (never expanded); FileInfo binds here by PSPath / FullName.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ByLiteralPath, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "LP", "FullName")]
        [ValidateNotNullOrEmpty]
        public string LiteralPath { get; set; }

        /// <summary>A live remote libSQL / Turso database (a TursoBranch binds by its Url): tested through a SQL dump loaded in scratch space.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ByUrl, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Url { get; set; }

        /// <summary>The database token for -Url (default: $env:TURSO_AUTH_TOKEN).</summary>
        [Parameter(ParameterSetName = ByUrl, ValueFromPipelineByPropertyName = true)]
        [SecretTransformation]
        public System.Security.SecureString AuthToken { get; set; }

        /// <summary>
        /// The name the results carry. -Url: a TursoBranch binds its Name (default: the URL's first host label).
        /// -Path/-LiteralPath: from the command line only (default: the file's base name).
        /// </summary>
        [Parameter(ParameterSetName = ByUrl, ValueFromPipelineByPropertyName = true)]
        [Parameter(ParameterSetName = ByPath)]
        [Parameter(ParameterSetName = ByLiteralPath)]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; }

        [Parameter]
        public Hashtable Query { get; set; }

        [Parameter]
        public TimeSpan? RecoveryTimeObjective { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KeepRestored { get; set; }

        protected override void ProcessRecord()
        {
            if (ParameterSetName == ByPath || ParameterSetName == ByLiteralPath || ParameterSetName == ByUrl)
            {
                TestLive();
                return;
            }
            if (MyInvocation.BoundParameters.ContainsKey(nameof(Timestamp)))
            {
                TestRestorePoint();
                return;
            }
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
            var queries = Query?.Cast<DictionaryEntry>().ToDictionary(e => Convert.ToString(e.Key), e => Convert.ToString(e.Value));
            string activity = $"Testing backup {backup.Id} of {backup.Database}";
            var verifier = new BackupVerifier
            {
                Log = WriteVerbose,
                Warn = WriteWarning,
                Cancellation = Cancellation,
                Keys = Keys,
                Progress = (done, total) => ShowProgress(ActivityId, activity, $"Restoring into scratch: {done:N0} of {total:N0} bytes", total > 0 ? (int)(done * 100 / total) : 0),
            };
            BackupTestResult result = null;
            bool ok = TryRun(() => result = verifier.Test(backup, RecoveryTimeObjective, queries,
                KeepRestored == null ? null : ResolveNewPath(KeepRestored)), backup.Id);
            CompleteProgress(ActivityId, activity);
            if (ok) PushVerificationIfOffsite(backup.Vault, backup.Database);
            if (ok) WriteObject(result);
        }

        private void TestLive()
        {
            var queries = Query?.Cast<DictionaryEntry>().ToDictionary(e => Convert.ToString(e.Key), e => Convert.ToString(e.Value));
            var verifier = new BackupVerifier { Log = VerboseFromAnyThread, Warn = WriteWarning, Cancellation = Cancellation };
            string keep = KeepRestored == null ? null : ResolveNewPath(KeepRestored);
            if (ParameterSetName == ByPath || ParameterSetName == ByLiteralPath)
            {
                bool literal = ParameterSetName == ByLiteralPath;
                foreach (var source in ResolveExistingPaths(literal ? LiteralPath : Path, literal))
                {
                    string name = FromCommandLine(nameof(Name)) ? Name : System.IO.Path.GetFileNameWithoutExtension(source);
                    BackupTestResult local = null;
                    if (TryRun(() => local = verifier.TestLive(name, source, restored =>
                        {
                            Engine.Backup.SnapshotBackup.CopyDatabase(source, restored, TimeSpan.FromSeconds(30), Cancellation);
                            return (null, "A consistent page copy inside a read transaction.");
                        }, RecoveryTimeObjective, queries, keep), source)) WriteObject(local);
                }
                return;
            }
            string url = Url;
            string token = RemoteAuth.Token(AuthToken);
            string label = Name;
            BackupTestResult result = null;
            bool ok = TryRun(() =>
            {
                url = Engine.Remote.LibsqlUrl.Normalize(Url);
                label = label ?? RemoteLabel(url);
                string activity = "Testing " + url;
                result = verifier.TestLive(label, url, restored =>
                {
                    string dump = restored + ".sql";
                    var stats = Engine.Dump.DumpFiles.ExportRemote(url, token, dump, false,
                        rows => ShowProgress(ActivityId, activity, $"Reading: {rows:N0} rows", -1), Cancellation, out string consistency, VerboseFromAnyThread);
                    Engine.Dump.DumpFiles.Import(dump, restored, false, null, null, Cancellation);
                    System.IO.File.Delete(dump);
                    return (stats.TableRows, $"{stats.Rows:N0} rows of {stats.Tables} table(s) read over the libSQL remote protocol ({consistency}) and loaded into a scratch database.");
                }, RecoveryTimeObjective, queries, keep);
                CompleteProgress(ActivityId, activity);
            }, Url);
            if (ok) WriteObject(result);
        }

        /// <summary>-Vault -Database -Timestamp: a point-in-time restore from the WAL archive into scratch space, checked like a backup.</summary>
        private void TestRestorePoint()
        {
            var queries = Query?.Cast<DictionaryEntry>().ToDictionary(e => Convert.ToString(e.Key), e => Convert.ToString(e.Value));
            DateTimeOffset at = Timestamp;
            string vault = null;
            try
            {
                vault = BackupVault.OpenExisting(ResolveVaultForRead(Vault, Database)).Root;
            }
            catch (TursoBackupException ex)
            {
                ThrowFailure(ex);
            }
            var verifier = new BackupVerifier { Log = VerboseFromAnyThread, Warn = WriteWarning, Cancellation = Cancellation };
            BackupTestResult result = null;
            if (TryRun(() => result = verifier.TestLive(Database, $"{vault} ({Database} as of {at:yyyy-MM-ddTHH:mm:ssZ})", restored =>
                {
                    var restore = Engine.Wal.WalRestore.Restore(vault, Database, at, restored, false, null, DateTimeOffset.UtcNow, VerboseFromAnyThread, Cancellation, false, Keys);
                    return (null, $"Restored from the WAL archive as of {restore.PointInTime:yyyy-MM-ddTHH:mm:ss.fffZ} (the last capture at or before {at:yyyy-MM-ddTHH:mm:ssZ}); snapshot and every frame verified by checksum.");
                }, RecoveryTimeObjective, queries, KeepRestored == null ? null : ResolveNewPath(KeepRestored), vault), Database))
            {
                PushVerificationIfOffsite(vault, Database);
                WriteObject(result);
            }
        }

        private static string RemoteLabel(string url)
        {
            var host = new Uri(url).Host;
            return System.Net.IPAddress.TryParse(host, out _) || host == "localhost" ? host.Replace(':', '-') + "-" + new Uri(url).Port : host.Split('.')[0];
        }
    }
}
