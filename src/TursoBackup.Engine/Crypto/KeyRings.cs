using System;
using System.IO;
using System.Linq;
using System.Text;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Crypto
{
    /// <summary>Key ring conversions the cmdlets need beside encrypting and decrypting.</summary>
    public static class KeyRings
    {
        /// <summary>
        /// True for an error about the key given (none, a wrong one, a locked or unreadable key file) rather than about the
        /// data: the data may be fine, so it is not reported as damaged.
        /// </summary>
        public static bool IsKeyProblem(TursoBackupException ex) =>
            ex.ErrorId == "KeyRequired" || ex.ErrorId == "WrongKey" || ex.ErrorId == "KeyPassphraseWrong" || ex.ErrorId == "InvalidKeyFile";

        /// <summary>
        /// The public keys of a secret key ring (a file or armored text, as `gpg --export-secret-keys` writes it), as
        /// armored text: what a database replaced during a restore opened with that key is encrypted for.
        /// </summary>
        public static string PublicKeysOf(string secretKeyFile)
        {
            PgpSecretKeyRingBundle bundle;
            try
            {
                using (var s = secretKeyFile.TrimStart().StartsWith("-----BEGIN PGP", StringComparison.Ordinal)
                    ? (Stream)new MemoryStream(Encoding.ASCII.GetBytes(secretKeyFile)) : File.OpenRead(secretKeyFile))
                {
                    bundle = new PgpSecretKeyRingBundle(PgpUtilities.GetDecoderStream(s));
                }
            }
            catch (Exception ex) when (ex is IOException || ex is PgpException || ex is ArgumentException || ex is UnauthorizedAccessException)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, $"-KeyFile '{secretKeyFile}' is not an OpenPGP secret key ({ex.Message}). Give a key as `gpg --export-secret-keys [--armor] <id>` writes it.", secretKeyFile, ex) { ErrorId = "InvalidKeyFile" };
            }
            var output = new MemoryStream();
            using (var armored = new ArmoredOutputStream(output))
            {
                foreach (var ring in bundle.GetKeyRings().Cast<PgpSecretKeyRing>())
                {
                    var publicKeys = ring.GetPublicKeys().Cast<PgpPublicKey>().ToList();
                    new PgpPublicKeyRing(publicKeys.SelectMany(k => k.GetEncoded()).ToArray()).Encode(armored);
                }
            }
            return Encoding.ASCII.GetString(output.ToArray());
        }
    }
}
