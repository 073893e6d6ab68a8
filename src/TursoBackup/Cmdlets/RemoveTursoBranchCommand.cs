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

        protected override void ProcessRecord()
        {
            foreach (var branch in InputObject)
            {
                if (!ShouldProcess(branch.Location, $"Remove branch '{branch.Name}'")) continue;
                if (TryRun(() => LocalBranches.Remove(branch), branch.Location) && PassThru) WriteObject(branch);
            }
        }
    }
}
