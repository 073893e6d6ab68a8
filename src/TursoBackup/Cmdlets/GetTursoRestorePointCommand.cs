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
    public sealed class GetTursoRestorePointCommand : DecryptingCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Database { get; set; }

        /// <summary>Read every snapshot and segment in full; damaged intervals become gaps (recorded in verify.json).</summary>
        [Parameter]
        public SwitchParameter Verify { get; set; }

        protected override void ProcessRecord()
        {
            TryRun(() =>
            {
                var vault = BackupVault.OpenExisting(ResolveVaultForRead(Vault, Database));
                var window = WalRestore.Window(vault.Root, Database);
                if (window.Generations == 0)
                {
                    throw new TursoBackupException(FailureKind.NotFound,
                        $"The vault '{VaultName(vault.Root)}' has no WAL archive of '{Database}'. Start one with Start-TursoWalArchive -Path <db> -Vault '{VaultName(vault.Root)}'.", Database)
                        { ErrorId = ErrorIds.NoWalArchive };
                }
                if (Verify)
                {
                    window = WalRestore.Verify(vault.Root, Database, System.DateTimeOffset.UtcNow, VerboseFromAnyThread, Cancellation, GivenKeys);
                    FlushVerbose();
                    foreach (var damage in new WalArchiveLayout(vault.Root, Database).RecordedDamage(out _))
                    {
                        WriteWarning($"The WAL archive of '{Database}' is damaged: {damage.Reason} ({damage.File}). Times after {damage.From.ToUniversalTime():yyyy-MM-dd HH:mm:ss.fff'Z'} in that generation cannot be restored to; the next generation (or a fresh Backup-TursoDatabase) restores again.");
                    }
                }
                window.Vault = VaultName(window.Vault ?? vault.Root);
                WriteObject(window);
            }, Database);
        }
    }
}
