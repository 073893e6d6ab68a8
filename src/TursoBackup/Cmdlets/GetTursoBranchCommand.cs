using System.Management.Automation;
using TursoBackup.Engine.Wal;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Lists the local branches (made by New-TursoBranch) in a folder.</summary>
    [Cmdlet(VerbsCommon.Get, "TursoBranch")]
    [OutputType(typeof(TursoBranch))]
    public sealed class GetTursoBranchCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Directory { get; set; }

        protected override void ProcessRecord()
        {
            TryRun(() =>
            {
                foreach (var branch in LocalBranches.List(ResolveNewPath(Directory))) WriteObject(branch);
            }, Directory);
        }
    }
}
