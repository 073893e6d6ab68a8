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
    public sealed class TestBackupCommand : TursoCmdlet
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

        [Parameter]
        public Hashtable Query { get; set; }

        [Parameter]
        public TimeSpan? RecoveryTimeObjective { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KeepRestored { get; set; }

        protected override void ProcessRecord()
        {
            BackupInfo backup = InputObject;
            if (backup == null)
            {
                try
                {
                    backup = FindBackup(Vault, Database, Id);
                }
                catch (TursoBackupException ex)
                {
                    WriteFailure(ex);
                    return;
                }
            }
            var queries = Query?.Cast<DictionaryEntry>().ToDictionary(e => Convert.ToString(e.Key), e => Convert.ToString(e.Value));
            string activity = $"Testing backup {backup.Id} of {backup.Database}";
            var verifier = new BackupVerifier
            {
                Log = WriteVerbose,
                Progress = (done, total) => ShowProgress(ActivityId, activity, $"Restoring into scratch: {done:N0} of {total:N0} bytes", total > 0 ? (int)(done * 100 / total) : 0),
            };
            BackupTestResult result = null;
            bool ok = TryRun(() => result = verifier.Test(backup, RecoveryTimeObjective, queries,
                KeepRestored == null ? null : ResolveNewPath(KeepRestored)), backup.Id);
            CompleteProgress(ActivityId, activity);
            if (ok) WriteObject(result);
        }
    }
}
