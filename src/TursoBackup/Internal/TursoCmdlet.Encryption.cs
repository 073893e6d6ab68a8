using System;
using System.Collections.Generic;
using System.Linq;
using System.Security;
using TursoBackup.Engine.Crypto;

namespace TursoBackup.Internal
{
    /// <summary>
    /// The key parameters every cmdlet that writes or reads encrypted artifacts shares: -Passphrase (env
    /// TURSO_BACKUP_PASSPHRASE), -Recipient (public keys, when writing), -KeyFile/-KeyPassphrase (a secret key, when
    /// reading). Secrets stay SecureStrings until the engine needs their characters, which it clears after use.
    /// </summary>
    public abstract partial class TursoCmdlet
    {
        /// <summary>The environment variable a passphrase falls back to.</summary>
        public const string PassphraseVariable = "TURSO_BACKUP_PASSPHRASE";

        /// <summary>The passphrase given, else TURSO_BACKUP_PASSPHRASE, else null.</summary>
        protected static SecureString PassphraseOrEnvironment(SecureString given)
        {
            if (given != null && given.Length > 0) return given;
            string env = Environment.GetEnvironmentVariable(PassphraseVariable);
            return string.IsNullOrEmpty(env) ? null : Secrets.Protect(env);
        }

        /// <summary>What to encrypt for (null when neither a passphrase nor a recipient is given nor in the environment).</summary>
        protected EncryptionKeys WriteKeys(SecureString passphrase, string[] recipients)
        {
            var keys = new EncryptionKeys
            {
                Passphrase = PassphraseOrEnvironment(passphrase),
                Recipients = (recipients ?? new string[0]).Where(r => !string.IsNullOrWhiteSpace(r)).Select(KeyPath).ToList(),
            };
            if (!keys.Any) return null;
            WriteVerbose("Encrypting with OpenPGP AES-256 for " + string.Join(" and ",
                new[] { keys.Passphrase != null ? "a passphrase" + (passphrase == null ? $" (from ${PassphraseVariable})" : "") : null,
                        keys.Recipients.Count > 0 ? $"{keys.Recipients.Count} public key(s)" : null }.Where(s => s != null)) + ".");
            return keys;
        }

        /// <summary>What opens encrypted artifacts (an empty set when nothing is given: an encrypted artifact is then a clear error naming the parameters).</summary>
        protected DecryptionKeys ReadKeys(SecureString passphrase, string keyFile, SecureString keyPassphrase) =>
            new DecryptionKeys
            {
                Passphrase = PassphraseOrEnvironment(passphrase),
                KeyFile = string.IsNullOrWhiteSpace(keyFile) ? null : KeyPath(keyFile),
                KeyPassphrase = keyPassphrase,
            };

        /// <summary>
        /// What an emergency backup of a database about to be replaced is encrypted for: the passphrase that opened the
        /// backup, else the public keys of the secret key that did, else (nothing given) plain unless the vault requires
        /// encryption — which then refuses the replacement before anything is changed.
        /// </summary>
        protected static EncryptionKeys EmergencyKeys(DecryptionKeys read)
        {
            if (read == null) return null;
            if (read.Passphrase != null) return new EncryptionKeys { Passphrase = read.Passphrase };
            if (read.KeyFile != null) return new EncryptionKeys { Recipients = { KeyRings.PublicKeysOf(read.KeyFile) } };
            return null;
        }

        /// <summary>Armored key text as it is; a path resolved through the provider.</summary>
        private string KeyPath(string keyOrPath) =>
            keyOrPath.TrimStart().StartsWith("-----BEGIN PGP", StringComparison.Ordinal) ? keyOrPath : ResolveNewPath(keyOrPath);
    }
}
