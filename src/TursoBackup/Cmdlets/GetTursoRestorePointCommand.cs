using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Wal;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>The window a database can be restored to from a vault's WAL archive, with its gaps.</summary>
    [Cmdlet(VerbsCommon.Get, "TursoRestorePoint")]
    [OutputType(typeof(RestoreWindow))]
    public sealed class GetTursoRestorePointCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Database { get; set; }

        protected override void ProcessRecord()
        {
            TryRun(() =>
            {
                var vault = BackupVault.OpenExisting(ResolveNewPath(Vault));
                var window = WalRestore.Window(vault.Root, Database);
                if (window.Generations == 0)
                {
                    throw new TursoBackupException(FailureKind.NotFound,
                        $"The vault '{vault.Root}' has no WAL archive of '{Database}'. Start one with Start-TursoWalArchive -Path <db> -Vault '{vault.Root}'.", Database);
                }
                WriteObject(window);
            }, Database);
        }
    }
}
