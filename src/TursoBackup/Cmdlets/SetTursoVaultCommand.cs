using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Vault;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>The encryption policy of a vault.</summary>
    public enum VaultEncryptionPolicy
    {
        /// <summary>Plain and encrypted backups are both accepted.</summary>
        Optional,
        /// <summary>A backup or WAL archive written without a passphrase or recipient is refused (vault.json: "encryption": "required").</summary>
        Required,
    }

    /// <summary>
    /// Sets a local vault's policy in its vault.json: -Encryption Required refuses every backup and WAL archive written
    /// into it without a key (Backup-TursoDatabase, Start-/Sync-TursoWalArchive, the emergency backups of restores);
    /// listing, health and retention need no key either way. Writes the vault's marker file durably (temporary file, rename).
    /// </summary>
    [Cmdlet(VerbsCommon.Set, "TursoVault", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(void))]
    public sealed class SetTursoVaultCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        /// <summary>Required: refuse anything written without a key. Optional: accept plain backups again.</summary>
        [Parameter(Mandatory = true)]
        public VaultEncryptionPolicy Encryption { get; set; }

        protected override void ProcessRecord()
        {
            BackupVault vault = null;
            if (!TryRun(() => vault = BackupVault.OpenExisting(ResolveNewPath(Vault)), Vault)) return;
            if (Engine.Offsite.OffsiteVault.ForMirror(vault.Root) != null)
            {
                WriteFailure(new TursoBackupException(FailureKind.InvalidArgument, $"'{Vault}' is an offsite vault's local mirror; set the policy on the local vault that is synced there.", Vault) { ErrorId = "PolicyNeedsLocalVault" });
                return;
            }
            if (!ShouldProcessUnattended(vault.Root, $"Set the encryption policy to {Encryption}", "Setting the policy of", "set it", "changed", terminating: false)) return;
            if (TryRun(() => vault.SetEncryptionRequired(Encryption == VaultEncryptionPolicy.Required), vault.Root))
            {
                WriteVerbose(Encryption == VaultEncryptionPolicy.Required
                    ? $"The vault '{vault.Root}' now refuses backups and WAL archives written without -Passphrase or -Recipient."
                    : $"The vault '{vault.Root}' accepts plain backups again.");
            }
        }
    }
}
