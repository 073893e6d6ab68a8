using System.Management.Automation;
using System.Security;
using TursoBackup.Engine.Crypto;

namespace TursoBackup.Internal
{
    /// <summary>A cmdlet that reads backups or WAL archives that may be encrypted: -Passphrase, or -KeyFile [-KeyPassphrase].</summary>
    public abstract class DecryptingCmdlet : TursoCmdlet
    {
        /// <summary>The passphrase that opens encrypted backups (default: $env:TURSO_BACKUP_PASSPHRASE).</summary>
        [Parameter]
        [SecretTransformation]
        public SecureString Passphrase { get; set; }

        /// <summary>An OpenPGP secret key (a file as `gpg --export-secret-keys [--armor]` writes it) that opens backups encrypted for its public key.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KeyFile { get; set; }

        /// <summary>The passphrase of -KeyFile, when it has one.</summary>
        [Parameter]
        [SecretTransformation]
        public SecureString KeyPassphrase { get; set; }

        private DecryptionKeys keys;

        /// <summary>The keys given (one instance per invocation, so each session key is recovered once).</summary>
        protected DecryptionKeys Keys => keys ?? (keys = ReadKeys(Passphrase, KeyFile, KeyPassphrase));

        /// <summary>The keys given, or null when none is (nor TURSO_BACKUP_PASSPHRASE): for checks that can do without.</summary>
        protected DecryptionKeys GivenKeys => Keys.Any ? Keys : null;

        /// <summary>What an emergency backup of a database this command replaces is encrypted for.</summary>
        protected EncryptionKeys KeysForEmergency => EmergencyKeys(Keys);
    }
}
