using System;
using System.Linq;
using System.Management.Automation;
using System.Security;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Vault;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Re-wraps the key of encrypted backups for a new passphrase and/or recipients, without re-encrypting them: the
    /// current key (-Passphrase, or -KeyFile [-KeyPassphrase]) opens each backup's session key, which is then wrapped for
    /// -NewPassphrase and/or -NewRecipient; the encrypted body is copied as it is, the manifest records the new key facts.
    /// Afterwards the old key no longer opens them. Offsite copies follow at the next Sync-TursoVault.
    /// </summary>
    [Cmdlet(VerbsData.Update, "TursoBackupKey", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ByObject)]
    [OutputType(typeof(BackupInfo))]
    public sealed class UpdateTursoBackupKeyCommand : DecryptingCmdlet
    {
        private const string ByObject = "ByObject";
        private const string ByName = "ByName";

        [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = ByObject)]
        [ValidateNotNull]
        public BackupInfo[] InputObject { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = ByName)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        /// <summary>The database whose backups are re-wrapped (all its encrypted backups, or the one -Id names); every database when omitted.</summary>
        [Parameter(ParameterSetName = ByName)]
        [ValidateNotNullOrEmpty]
        public string Database { get; set; }

        [Parameter(ParameterSetName = ByName)]
        [ValidateNotNullOrEmpty]
        public string Id { get; set; }

        /// <summary>The passphrase that opens the backups from now on (plain text is accepted and kept as a SecureString).</summary>
        [Parameter]
        [SecretTransformation]
        public SecureString NewPassphrase { get; set; }

        /// <summary>The OpenPGP public keys that open the backups from now on (files as `gpg --export [--armor]` writes them, or armored text).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] NewRecipient { get; set; }

        private Engine.Crypto.EncryptionKeys next;

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            if ((NewPassphrase == null || NewPassphrase.Length == 0) && (NewRecipient == null || NewRecipient.Length == 0))
            {
                ThrowFailure(new TursoBackupException(FailureKind.InvalidArgument,
                    "Give the new key: -NewPassphrase and/or -NewRecipient <public key file>. The current one goes to -Passphrase (or TURSO_BACKUP_PASSPHRASE) or -KeyFile.") { ErrorId = "NewKeyRequired" });
            }
            // An explicit new passphrase only: TURSO_BACKUP_PASSPHRASE is the current one's fallback, never the new one.
            next = Track(new Engine.Crypto.EncryptionKeys
            {
                Passphrase = NewPassphrase != null && NewPassphrase.Length > 0 ? NewPassphrase : null,
                Recipients = (NewRecipient ?? new string[0]).Select(r => r.TrimStart().StartsWith("-----BEGIN PGP", StringComparison.Ordinal) ? r : ResolveNewPath(r)).ToList(),
            });
        }

        protected override void ProcessRecord()
        {
            if (ParameterSetName == ByObject)
            {
                foreach (var b in InputObject) Rotate(b);
                return;
            }
            BackupVault vault;
            try
            {
                vault = BackupVault.OpenExisting(ResolveNewPath(Vault));
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
                return;
            }
            var backups = vault.List(Database)
                .Where(b => Id == null || string.Equals(b.Id, Id, StringComparison.Ordinal)).ToList();
            if (Id != null && backups.Count == 0)
            {
                WriteFailure(new TursoBackupException(FailureKind.NotFound, $"The vault '{vault.Root}' has no backup '{Id}'{(Database == null ? "" : $" of '{Database}'")}. List them with Get-TursoBackup -Vault '{vault.Root}'.", Id) { ErrorId = ErrorIds.BackupNotFound });
                return;
            }
            int plain = 0;
            foreach (var b in backups)
            {
                if (!b.Encrypted) { plain++; continue; }
                Rotate(b);
            }
            if (plain > 0) WriteWarning($"{plain} backup(s) in '{vault.Root}' are not encrypted and were left as they are (encrypt copies of them with Copy-TursoBackup -Passphrase|-Recipient).");
        }

        private void Rotate(BackupInfo given)
        {
            if (given.Vault != null && Engine.Offsite.OffsiteVault.ForMirror(given.Vault) != null)
            {
                WriteFailure(new TursoBackupException(FailureKind.InvalidArgument,
                    $"Backup {given.Id} of '{given.Database}' was listed from an offsite vault: re-wrap the keys in the local vault it was copied from, then send the change with Sync-TursoVault.", given.Id) { ErrorId = "RewrapNeedsLocalVault" });
                return;
            }
            BackupInfo backup = null;
            if (!TryRun(() => backup = ReloadBackup(given), given.Id)) return;
            if (!ShouldProcessUnattended($"{backup.Database}/{backup.Id} in {backup.Vault}", $"Re-wrap the key for {DescribeNext()}", "Re-wrapping", "re-wrap it", "changed", terminating: false)) return;
            BackupInfo updated = null;
            if (TryRun(() => updated = BackupKeyRotation.Rewrap(backup, Keys, next, DateTimeOffset.UtcNow, WriteVerbose), backup.Id)) WriteObject(updated);
        }

        private string DescribeNext() => string.Join(" and ", new[] { next.Passphrase != null ? "a new passphrase" : null, next.Recipients.Count > 0 ? $"{next.Recipients.Count} public key(s)" : null }.Where(s => s != null));
    }
}
