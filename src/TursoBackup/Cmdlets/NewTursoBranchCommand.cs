using System;
using System.IO;
using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Wal;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Makes a branch of a local database: a consistent copy as of now, or (with -Vault -Timestamp) the database as of
    /// a past moment from the vault's WAL archive. The source is never written.
    /// </summary>
    [Cmdlet(VerbsCommon.New, "TursoBranch", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = Now)]
    [OutputType(typeof(TursoBranch))]
    public sealed class NewTursoBranchCommand : DecryptingCmdlet
    {
        private const string Now = "LocalNow";
        private const string AtTimestamp = "LocalTimestamp";
        private const string LiteralNow = "LiteralNow";
        private const string LiteralAtTimestamp = "LiteralTimestamp";
        private const string Cloud = "Cloud";

        /// <summary>The source database; a wildcard must match one file. Binds an object's Path property.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = Now)]
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = AtTimestamp)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>The source database taken as it is (never expanded); FileInfo binds here by PSPath / FullName.</summary>
        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = LiteralNow)]
        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = LiteralAtTimestamp)]
        [Alias("PSPath", "LP", "FullName")]
        [ValidateNotNullOrEmpty]
        public string LiteralPath { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = AtTimestamp)]
        [Parameter(Mandatory = true, ParameterSetName = LiteralAtTimestamp)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        /// <summary>A DateTimeOffset, DateTime or ISO 8601 text; a date alone is the start of that day, UTC.</summary>
        [Parameter(Mandatory = true, ParameterSetName = AtTimestamp)]
        [Parameter(Mandatory = true, ParameterSetName = LiteralAtTimestamp)]
        [Parameter(ParameterSetName = Cloud)]
        [TimestampTransformation]
        public DateTimeOffset Timestamp { get; set; }

        /// <summary>Cloud: the Turso database to branch (Connect-TursoCloud first).</summary>
        [Parameter(Mandatory = true, ParameterSetName = Cloud, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Database { get; set; }

        /// <summary>Cloud: the group of the new database (default: the source's group).</summary>
        [Parameter(ParameterSetName = Cloud)]
        [ValidateNotNullOrEmpty]
        public string Group { get; set; }

        /// <summary>Branch name (default backup-yyyyMMdd, or pitr-yyyyMMddTHHmmssZ at a timestamp).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; }

        /// <summary>Folder for the branch (default: the source's folder).</summary>
        [Parameter(ParameterSetName = Now)]
        [Parameter(ParameterSetName = AtTimestamp)]
        [Parameter(ParameterSetName = LiteralNow)]
        [Parameter(ParameterSetName = LiteralAtTimestamp)]
        [ValidateNotNullOrEmpty]
        public string Destination { get; set; }

        /// <summary>Why (a ticket number): recorded in the vault's recovery journal (Get-TursoRecoveryHistory).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Reason { get; set; }

        protected override void ProcessRecord()
        {
            if (ParameterSetName == Cloud)
            {
                CloudBranches.Create(this, Database, Name, MyInvocation.BoundParameters.ContainsKey(nameof(Timestamp)) ? Timestamp : (DateTimeOffset?)null, Group);
                return;
            }
            bool literal = ParameterSetName == LiteralNow || ParameterSetName == LiteralAtTimestamp;
            // -LiteralPath and a -Path without wildcards name the source as it is: it need not exist for a branch at a
            // timestamp (the vault's archive is the source; the database may be the very thing lost).
            string source = literal || !WildcardPattern.ContainsWildcardCharacters(Path)
                ? ResolveNewPath(literal ? LiteralPath : Path)
                : ResolveOneExistingPath(Path, false, nameof(Path));
            if (source == null) return;
            string directory = Destination == null ? null : ResolveNewPath(Destination);
            DateTimeOffset? at = null;
            string vaultRoot = null;
            try
            {
                if (ParameterSetName == AtTimestamp || ParameterSetName == LiteralAtTimestamp)
                {
                    at = Timestamp;
                    vaultRoot = BackupVault.OpenExisting(ResolveVaultForRead(Vault, System.IO.Path.GetFileNameWithoutExtension(source))).Root;
                }
                else
                {
                    Engine.Sqlite.SqliteFile.RequireDatabaseFile(source);
                }
            }
            catch (TursoBackupException ex)
            {
                ThrowFailure(ex);
            }
            var now = DateTimeOffset.UtcNow;
            string name = Name ?? LocalBranches.DefaultName(at, now);
            if (!ShouldProcessUnattended(System.IO.Path.Combine(directory ?? System.IO.Path.GetDirectoryName(source), name + ".db"),
                    at.HasValue ? $"Create branch '{name}' of '{source}' as of {at:yyyy-MM-ddTHH:mm:ssZ}" : $"Create branch '{name}' of '{source}' as of now", "Creating a branch at", "create it", "created")) return;
            TursoBranch branch = null;
            try
            {
                branch = LocalBranches.Create(source, directory, name, vaultRoot, System.IO.Path.GetFileNameWithoutExtension(source), at, now,
                    TimeSpan.FromSeconds(30), WriteVerbose, Cancellation, Keys);
            }
            catch (TursoBackupException ex)
            {
                if (vaultRoot != null) Journal(vaultRoot, new RecoveryLogEntry { Action = "Branch", Database = System.IO.Path.GetFileNameWithoutExtension(source), PointInTime = at, Source = source, Target = name, Result = "Failed: " + ex.Message, Reason = Reason });
                if (at.HasValue) ThrowFailure(ex); // timestamp errors are terminating and write nothing
                WriteFailure(ex);
                return;
            }
            if (vaultRoot != null)
            {
                Journal(vaultRoot, new RecoveryLogEntry
                {
                    Action = "Branch", Database = System.IO.Path.GetFileNameWithoutExtension(source), PointInTime = branch.PointInTime,
                    Source = source, Target = branch.Location, Result = "Succeeded", Reason = Reason,
                });
            }
            WriteObject(branch);
        }
    }
}
