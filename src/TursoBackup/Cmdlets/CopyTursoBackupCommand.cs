using System;
using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Offsite;
using TursoBackup.Engine.Vault;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Copies backups (from the pipeline) to another vault, each file verified at the destination; returns each backup as the destination lists it.</summary>
    [Cmdlet(VerbsCommon.Copy, "TursoBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(BackupInfo))]
    public sealed class CopyTursoBackupCommand : OffsiteCmdlet
    {
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public BackupInfo[] InputObject { get; set; }

        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Destination { get; set; }

        /// <summary>Encrypts plain backups and WAL generations on the way (OpenPGP AES-256) for this passphrase (default: $env:TURSO_BACKUP_PASSPHRASE); what is encrypted already is copied as it is.</summary>
        [Parameter]
        [SecretTransformation]
        public System.Security.SecureString Passphrase { get; set; }

        /// <summary>Encrypts plain backups and WAL generations on the way for these OpenPGP public keys (files as `gpg --export [--armor]` writes them, or armored text).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] Recipient { get; set; }

        private IObjectStore target;
        private OffsiteVault targetVault;
        private Engine.Crypto.EncryptionKeys encryption;

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            encryption = WriteKeys(Passphrase, Recipient);
            try
            {
                target = StoreFor(Destination, out targetVault);
            }
            catch (TursoBackupException ex)
            {
                ThrowFailure(ex);
            }
        }

        protected override void ProcessRecord()
        {
            foreach (var given in InputObject)
            {
                BackupInfo backup;
                try
                {
                    backup = ReloadBackup(given);
                }
                catch (TursoBackupException ex)
                {
                    WriteFailure(ex);
                    continue;
                }
                if (backup.Vault == null)
                {
                    WriteFailure(new TursoBackupException(FailureKind.InvalidArgument, $"Backup {backup} has no vault, so there is nothing to copy. Pass backups as Get-TursoBackup lists them.", backup.Id));
                    continue;
                }
                string unit = BackupVault.DatabasesFolder + "/" + backup.Database + "/" + backup.Id + "/";
                if (WhatIfMode)
                {
                    ShouldProcess($"{backup.Database}/{backup.Id} ({backup.StoredBytes:N0} bytes)", "Copy to " + target.DisplayName);
                    continue;
                }
                if (!ShouldProcessUnattended($"{backup.Database}/{backup.Id}", "Copy to " + target.DisplayName, "Copying", "copy it", "copied", terminating: false)) continue;
                var result = RunSync(new DirectoryStore(backup.Vault), target, k => k.StartsWith(unit, StringComparison.Ordinal) || k == "vault.json", 4,
                    $"Copying backup {backup.Id} of '{backup.Database}' to {target.DisplayName}", confirmed: true, encrypt: encryption);
                if (result == null || result.Failed > 0) continue;
                TryRun(() =>
                {
                    string root = targetVault != null ? RefreshedMirror(targetVault) : ((DirectoryStore)target).Root;
                    var there = BackupVault.OpenExisting(root).Select(backup.Database, backup.Id, true, null);
                    if (there == null)
                    {
                        throw new TursoBackupException(FailureKind.NotFound, $"Backup {backup.Id} of '{backup.Database}' was copied but {target.DisplayName} does not list it. Run Get-TursoBackup -Vault '{target.DisplayName}' to check.", backup.Id);
                    }
                    WriteObject(there);
                }, backup.Id);
            }
        }

        private string RefreshedMirror(OffsiteVault vault)
        {
            vault.Refresh(Cancellation);
            return vault.CacheRoot;
        }
    }
}
