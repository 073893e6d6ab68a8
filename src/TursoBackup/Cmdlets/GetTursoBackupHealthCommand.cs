using System;
using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Health;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Judges each database of a vault against its recovery objectives: the newest backup's age against the RPO, the
    /// newest Test-Backup and its restore time against the RTO, the WAL archive's lag and gaps, storage against a quota.
    /// One HealthReport per database, Healthy / Warning / Critical, with one sentence per finding.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "TursoBackupHealth")]
    [OutputType(typeof(HealthReport))]
    public sealed class GetTursoBackupHealthCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        /// <summary>Only this database (default: every database in the vault). A name the vault does not hold is reported Critical.</summary>
        [Parameter(Position = 1)]
        [ValidateNotNullOrEmpty]
        public string Database { get; set; }

        /// <summary>The newest recovery point (a backup, or the WAL archive's last sync) must be younger than this (default 1 hour).</summary>
        [Parameter]
        public TimeSpan RecoveryPointObjective { get; set; } = TimeSpan.FromHours(1);

        /// <summary>The newest Test-Backup's restore time must be within this (default 4 hours).</summary>
        [Parameter]
        public TimeSpan RecoveryTimeObjective { get; set; } = TimeSpan.FromHours(4);

        /// <summary>The newest Test-Backup must be younger than this (default 30 days).</summary>
        [Parameter]
        public TimeSpan MaxVerificationAge { get; set; } = TimeSpan.FromDays(30);

        /// <summary>Bytes a database's backups and WAL archive may take; a warning from 80 %, critical at 100 %.</summary>
        [Parameter]
        [ValidateRange(1, long.MaxValue)]
        public long StorageQuota { get; set; }

        /// <summary>The WAL archive's last sync must be younger than this (default 60 seconds).</summary>
        [Parameter]
        public TimeSpan MaxArchiveLag { get; set; } = TimeSpan.FromSeconds(60);

        /// <summary>How old the newest copy at each offsite destination may be (default 25 hours).</summary>
        [Parameter]
        public TimeSpan OffsiteRecoveryPointObjective { get; set; } = TimeSpan.FromHours(25);

        protected override void ProcessRecord()
        {
            string vault;
            try
            {
                vault = ResolveVaultForRead(Vault, "*");
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
                return;
            }
            var thresholds = new HealthThresholds
            {
                RecoveryPointObjective = RecoveryPointObjective,
                RecoveryTimeObjective = RecoveryTimeObjective,
                MaxVerificationAge = MaxVerificationAge,
                MaxArchiveLag = MaxArchiveLag,
                OffsiteRecoveryPointObjective = OffsiteRecoveryPointObjective,
                StorageQuota = MyInvocation.BoundParameters.ContainsKey(nameof(StorageQuota)) ? StorageQuota : (long?)null,
            };
            TryRun(() =>
            {
                Engine.Vault.BackupVault.OpenExisting(vault);
                foreach (var report in new BackupHealth().Check(vault, Database, thresholds))
                {
                    WriteVerbose($"{report.Database}: {report.Status}" + (report.Findings.Length > 0 ? " — " + string.Join(" ", report.Findings) : "."));
                    report.Vault = VaultName(report.Vault ?? vault);
                    WriteObject(report);
                }
            }, vault);
        }
    }
}
