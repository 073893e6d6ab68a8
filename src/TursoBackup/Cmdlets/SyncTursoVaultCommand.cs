using System;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Offsite;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Copies what is missing from one vault to others — backups, the WAL archive's snapshots, segments and state —
    /// each object verified at the destination; idempotent. Returns a VaultSyncResult per destination.
    /// </summary>
    [Cmdlet(VerbsData.Sync, "TursoVault", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(VaultSyncResult))]
    public sealed class SyncTursoVaultCommand : OffsiteCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("Vault")]
        [ValidateNotNullOrEmpty]
        public string Source { get; set; }

        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string[] Destination { get; set; }

        [Parameter]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[] Database { get; set; }

        /// <summary>Encrypts plain backups and WAL generations on the way (OpenPGP AES-256) for this passphrase (default: $env:TURSO_BACKUP_PASSPHRASE); what is encrypted already is copied as it is.</summary>
        [Parameter]
        [SecretTransformation]
        public System.Security.SecureString Passphrase { get; set; }

        /// <summary>Encrypts plain backups and WAL generations on the way for these OpenPGP public keys (files as `gpg --export [--armor]` writes them, or armored text).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] Recipient { get; set; }

        /// <summary>Objects copied at once (default 4).</summary>
        [Parameter]
        [ValidateRange(1, 64)]
        public int Transfers { get; set; } = 4;

        protected override void ProcessRecord()
        {
            IObjectStore source;
            try
            {
                source = StoreFor(Source, out _);
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
                return;
            }
            var patterns = Database?.Select(d => new WildcardPattern(d, WildcardOptions.IgnoreCase)).ToArray();
            Func<string, bool> filter = patterns == null ? (Func<string, bool>)null
                : key => key == "vault.json" || (VaultKeys.Database(key) is string db && patterns.Any(p => p.IsMatch(db)));
            foreach (var destination in Destination)
            {
                string named = OffsiteAddress.Redact(destination);
                IObjectStore target;
                try
                {
                    target = StoreFor(destination, out _);
                }
                catch (TursoBackupException ex)
                {
                    WriteFailure(ex);
                    continue;
                }
                var result = RunSync(source, target, filter, Transfers, $"Syncing {source.DisplayName} to {target.DisplayName}", encrypt: WriteKeys(Passphrase, Recipient));
                if (result != null) WriteObject(result);
            }
        }
    }
}
