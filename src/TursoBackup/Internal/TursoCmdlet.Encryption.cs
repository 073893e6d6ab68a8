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
    public abstract partial class TursoCmdlet : IDisposable
    {
        private readonly List<EncryptionKeys> writeKeys = new List<EncryptionKeys>();
        private readonly List<DecryptionKeys> readKeys = new List<DecryptionKeys>();

        /// <summary>
        /// PowerShell disposes a cmdlet when its pipeline ends, however it ends (done, failed, stopped): the session keys
        /// the command's key sets made or recovered are zeroed then.
        /// </summary>
        public void Dispose()
        {
            lock (writeKeys) foreach (var k in writeKeys) k.Forget();
            lock (readKeys) foreach (var k in readKeys) k.Forget();
        }

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
            lock (writeKeys) writeKeys.Add(keys);
            WriteVerbose("Encrypting with OpenPGP AES-256 for " + string.Join(" and ",
                new[] { keys.Passphrase != null ? "a passphrase" + (passphrase == null ? $" (from ${PassphraseVariable})" : "") : null,
                        keys.Recipients.Count > 0 ? $"{keys.Recipients.Count} public key(s)" : null }.Where(s => s != null)) + ".");
            return keys;
        }

        /// <summary>What opens encrypted artifacts (an empty set when nothing is given: an encrypted artifact is then a clear error naming the parameters).</summary>
        protected DecryptionKeys ReadKeys(SecureString passphrase, string keyFile, SecureString keyPassphrase)
        {
            var keys = new DecryptionKeys
            {
                Passphrase = PassphraseOrEnvironment(passphrase),
                KeyFile = string.IsNullOrWhiteSpace(keyFile) ? null : KeyPath(keyFile),
                KeyPassphrase = keyPassphrase,
            };
            lock (readKeys) readKeys.Add(keys);
            return keys;
        }

        /// <summary>Registers key sets made elsewhere (the emergency keys, a new set for re-wrapping) so they are zeroed when the command ends.</summary>
        protected EncryptionKeys Track(EncryptionKeys keys)
        {
            if (keys != null) lock (writeKeys) writeKeys.Add(keys);
            return keys;
        }

        /// <summary>
        /// What an emergency backup of a database about to be replaced is encrypted for: the passphrase that opened the
        /// backup, else the public keys of the secret key that did, else (nothing given) plain unless the vault requires
        /// encryption — which then refuses the replacement before anything is changed.
        /// </summary>
        protected EncryptionKeys EmergencyKeys(DecryptionKeys read) => Track(EmergencyKeysOf(read));

        private static EncryptionKeys EmergencyKeysOf(DecryptionKeys read)
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
