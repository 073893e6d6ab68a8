using System.Management.Automation;
using TursoBackup.Engine.Wal;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Removes branches made by New-TursoBranch (the database file, its -wal/-shm and its .branch.json).</summary>
    [Cmdlet(VerbsCommon.Remove, "TursoBranch", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(TursoBranch))]
    public sealed class RemoveTursoBranchCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [ValidateNotNull]
        public TursoBranch[] InputObject { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        /// <summary>Cloud: also delete a database that is the source of other branches (or is delete-protected).</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void ProcessRecord()
        {
            foreach (var branch in InputObject)
            {
                if (branch.IsCloud)
                {
                    if (!ShouldProcessUnattended($"{branch.Organization}/{branch.Name}", $"Delete Turso database '{branch.Name}' (a branch{(branch.Source != null ? " of '" + branch.Source + "'" : "")})",
                            "Deleting Turso database", "delete it", "deleted")) continue;
                    if (TryRun(() => CloudSession.Require(VerboseFromAnyThread).DeleteBranch(branch, Force, Cancellation), branch.Name) && PassThru) WriteObject(branch);
                    continue;
                }
                if (!ShouldProcessUnattended(branch.Location, $"Remove branch '{branch.Name}'", "Removing branch", "remove it", "removed")) continue;
                if (TryRun(() => LocalBranches.Remove(branch), branch.Location) && PassThru) WriteObject(branch);
            }
        }
    }
}
