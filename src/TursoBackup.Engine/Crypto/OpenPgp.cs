using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Security;
using System.Text;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using Org.BouncyCastle.Security;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Crypto
{
    /// <summary>How to encrypt: a passphrase (symmetric), public keys (each recipient can open it), or both.</summary>
    public sealed class EncryptionKeys
    {
        /// <summary>The passphrase (env TURSO_BACKUP_PASSPHRASE at the cmdlets); null for none.</summary>
        public SecureString Passphrase { get; set; }

        /// <summary>Public keys, each a file (binary or ASCII-armored) or armored text; every one can open what is written.</summary>
        public IList<string> Recipients { get; set; } = new List<string>();

        public bool Any => Passphrase != null || (Recipients != null && Recipients.Count > 0);
    }

    public sealed class OpenPgpHeader { public bool Passphrase { get; set; } public IReadOnlyList<string> KeyIds { get; set; } public string Cipher { get; set; } public bool IntegrityProtected { get; set; } }

    /// <summary>How to decrypt: the passphrase, or a secret key (file or armored text) and its passphrase.</summary>
    public sealed class DecryptionKeys
    {
        public SecureString Passphrase { get; set; }

        /// <summary>A secret key ring (a file, binary or armored, or armored text), as `gpg --export-secret-keys` writes it.</summary>
        public string KeyFile { get; set; }

        public SecureString KeyPassphrase { get; set; }

        public bool Any => Passphrase != null || KeyFile != null;
    }

    /// <summary>
    /// OpenPGP (RFC 4880) encryption of vault artifacts, as stock gpg reads and writes it: AES-256 in a
    /// symmetrically encrypted, integrity-protected data packet (MDC), its session key wrapped for a passphrase
    /// (iterated and salted S2K with SHA-256, the most iterations OpenPGP can express) and/or for each recipient's
    /// public key; one binary literal packet inside, no OpenPGP compression (the payload is zstd already). Streamed:
    /// partial-length packets, so memory does not grow with the artifact. Reading takes what gpg writes too
    /// (`gpg --symmetric --cipher-algo AES256`, `gpg --encrypt -r …`, with compressed packets), refuses data without an
    /// integrity check, and checks the MDC at the end of the stream: a reader that reached the end unchallenged has
    /// read exactly what was encrypted.
    /// </summary>
    public static class OpenPgp
    {
        /// <summary>The S2K count byte: 65,011,712 bytes hashed per passphrase (gpg's own maximum).</summary>
        public const int S2KCount = 0xFF;

        private const int BufferSize = 1 << 16;

        /// <summary>
        /// A stream that encrypts what is written to it into <paramref name="output"/>; disposing it writes the MDC and
        /// closes the packets (not <paramref name="output"/> itself).
        /// </summary>
        public static Stream Encrypt(Stream output, EncryptionKeys keys, string fileName = "")
        {
            if (keys == null || !keys.Any) throw new ArgumentException("No passphrase and no recipient to encrypt for.", nameof(keys));
            var generator = new PgpEncryptedDataGenerator(SymmetricKeyAlgorithmTag.Aes256, true, new SecureRandom());
            if (keys.Passphrase != null)
            {
                char[] pass = Reveal(keys.Passphrase);
                try
                {
                    generator.AddMethodUtf8(pass, HashAlgorithmTag.Sha256, S2KCount);
                }
                finally
                {
                    Array.Clear(pass, 0, pass.Length);
                }
            }
            foreach (var recipient in keys.Recipients ?? new List<string>())
            {
                foreach (var key in EncryptionKeysOf(recipient)) generator.AddMethod(key);
            }
            Stream encrypted = generator.Open(new ArtifactStreams.NonClosingStream(output), new byte[BufferSize]);
            var literal = new PgpLiteralDataGenerator();
            Stream plain = literal.Open(encrypted, PgpLiteralData.Binary, fileName ?? "", DateTime.UtcNow, new byte[BufferSize]);
            return new EncryptingStream(plain, encrypted);
        }

        // TEMPORARY (main only; the pgp branch replaces this file).
        public static object Rewrap(Stream input, Stream output, DecryptionKeys current, EncryptionKeys next, string what) => throw new NotImplementedException();

        // TEMPORARY (main only; the pgp branch replaces this file): the header facts, by BouncyCastle.
        public static OpenPgpHeader ReadHeader(Stream input)
        {
            var factory = new PgpObjectFactory(PgpUtilities.GetDecoderStream(input));
            object first = factory.NextPgpObject();
            while (first is PgpMarker) first = factory.NextPgpObject();
            var list = first as PgpEncryptedDataList;
            var objects = list.GetEncryptedDataObjects().Cast<PgpEncryptedData>().ToList();
            return new OpenPgpHeader
            {
                Passphrase = objects.OfType<PgpPbeEncryptedData>().Any(),
                KeyIds = objects.OfType<PgpPublicKeyEncryptedData>().Select(k => k.KeyId.ToString("X16")).ToList(),
                Cipher = "AES256",
                IntegrityProtected = true,
            };
        }

        /// <summary>True when <paramref name="head"/> (the first bytes of a file) starts an OpenPGP message (binary or armored).</summary>
        public static bool LooksLikeOpenPgp(byte[] head, int count)
        {
            if (count <= 0) return false;
            if ((head[0] & 0x80) != 0)
            {
                int tag = (head[0] & 0x40) != 0 ? head[0] & 0x3F : (head[0] >> 2) & 0x0F;
                return tag == 1 || tag == 3 || tag == 10 || tag == 18 || tag == 9;
            }
            return count >= 14 && Encoding.ASCII.GetString(head, 0, Math.Min(count, 40)).StartsWith("-----BEGIN PGP MESSAGE", StringComparison.Ordinal);
        }

        /// <summary>
        /// The plaintext of the OpenPGP message in <paramref name="input"/>. <paramref name="what"/> names it in errors
        /// ("backup X of 'main'"). A passphrase or key that does not open it, or none given, is a clear error before a
        /// byte is returned; damage (a failed integrity check) is an error at the end of the stream.
        /// </summary>
        public static Stream Decrypt(Stream input, DecryptionKeys keys, string what)
        {
            keys = keys ?? new DecryptionKeys();
            PgpEncryptedDataList list;
            try
            {
                var factory = new PgpObjectFactory(PgpUtilities.GetDecoderStream(input.CanSeek ? input : new BufferedSeek(input)));
                object first = factory.NextPgpObject();
                while (first is PgpMarker) first = factory.NextPgpObject();
                list = first as PgpEncryptedDataList;
            }
            catch (Exception ex) when (ex is IOException || ex is PgpException)
            {
                throw new TursoBackupException(FailureKind.InvalidData, $"{what} is not an OpenPGP message that can be read ({ex.Message}).", what, ex) { ErrorId = "NotEncrypted" };
            }
            if (list == null)
            {
                throw new TursoBackupException(FailureKind.InvalidData, $"{what} holds no OpenPGP encrypted data.", what) { ErrorId = "NotEncrypted" };
            }
            var objects = list.GetEncryptedDataObjects().Cast<PgpEncryptedData>().ToList();
            bool forPassphrase = objects.OfType<PgpPbeEncryptedData>().Any();
            var forKeys = objects.OfType<PgpPublicKeyEncryptedData>().Select(k => k.KeyId.ToString("X16")).ToList();
            if (!keys.Any)
            {
                throw new TursoBackupException(FailureKind.AuthenticationFailed,
                    $"{what} is encrypted ({Describe(forPassphrase, forKeys)}). Give -Passphrase (or set TURSO_BACKUP_PASSPHRASE)" +
                    (forKeys.Count > 0 ? ", or -KeyFile with a secret key it was encrypted for" : "") + ".", what) { ErrorId = "KeyRequired" };
            }
            Stream clear = null;
            PgpEncryptedData opened = null;
            if (keys.Passphrase != null)
            {
                foreach (var pbe in objects.OfType<PgpPbeEncryptedData>())
                {
                    char[] pass = Reveal(keys.Passphrase);
                    try
                    {
                        clear = pbe.GetDataStreamUtf8(pass);
                        opened = pbe;
                        break;
                    }
                    catch (PgpException)
                    {
                        // the quick check failed: not this passphrase
                    }
                    finally
                    {
                        Array.Clear(pass, 0, pass.Length);
                    }
                }
            }
            if (clear == null && keys.KeyFile != null)
            {
                var ring = SecretKeysOf(keys.KeyFile);
                foreach (var pk in objects.OfType<PgpPublicKeyEncryptedData>())
                {
                    var secret = ring.GetSecretKey(pk.KeyId);
                    if (secret == null) continue;
                    PgpPrivateKey priv;
                    char[] pass = keys.KeyPassphrase == null ? new char[0] : Reveal(keys.KeyPassphrase);
                    try
                    {
                        priv = secret.ExtractPrivateKeyUtf8(pass);
                    }
                    catch (PgpException ex)
                    {
                        throw new TursoBackupException(FailureKind.AuthenticationFailed,
                            $"The secret key {pk.KeyId:X16} in the key file cannot be unlocked: " + (keys.KeyPassphrase == null ? "it has a passphrase; give -KeyPassphrase." : "-KeyPassphrase is not its passphrase.") + $" {what} was not read.", what, ex) { ErrorId = "KeyPassphraseWrong" };
                    }
                    finally
                    {
                        Array.Clear(pass, 0, pass.Length);
                    }
                    try
                    {
                        clear = pk.GetDataStream(priv);
                        opened = pk;
                        break;
                    }
                    catch (PgpException)
                    {
                    }
                }
            }
            if (clear == null)
            {
                throw new TursoBackupException(FailureKind.AuthenticationFailed,
                    keys.Passphrase != null && keys.KeyFile == null
                        ? $"The passphrase does not open {what} ({Describe(forPassphrase, forKeys)}). Nothing was written."
                        : $"The key given does not open {what} ({Describe(forPassphrase, forKeys)}). Nothing was written.", what) { ErrorId = "WrongKey" };
            }
            if (!opened.IsIntegrityProtected())
            {
                clear.Dispose();
                throw new TursoBackupException(FailureKind.InvalidData, $"{what} is encrypted without an integrity check (no MDC): it is refused, since damage or tampering could not be detected.", what) { ErrorId = "NoIntegrityCheck" };
            }
            Stream literal;
            try
            {
                var inner = new PgpObjectFactory(clear);
                object o = inner.NextPgpObject();
                if (o is PgpCompressedData compressed)
                {
                    inner = new PgpObjectFactory(compressed.GetDataStream());
                    o = inner.NextPgpObject();
                }
                while (o is PgpOnePassSignatureList || o is PgpSignatureList) o = inner.NextPgpObject();
                if (!(o is PgpLiteralData data))
                {
                    throw new TursoBackupException(FailureKind.InvalidData, $"{what} decrypts to no data packet (an unexpected OpenPGP message).", what);
                }
                literal = data.GetInputStream();
            }
            catch (Exception ex) when (ex is IOException || ex is PgpException)
            {
                throw new TursoBackupException(FailureKind.InvalidData, $"{what} cannot be decrypted: {ex.Message}. It is damaged; use another backup.", what, ex) { ErrorId = "DecryptionFailed" };
            }
            return new VerifyingStream(literal, opened, what);
        }

        private static string Describe(bool passphrase, List<string> keyIds) =>
            string.Join(" or ", new[] { passphrase ? "a passphrase" : null, keyIds.Count > 0 ? "the key(s) " + string.Join(", ", keyIds) : null }.Where(s => s != null));

        private static IEnumerable<PgpPublicKey> EncryptionKeysOf(string recipient)
        {
            PgpPublicKeyRingBundle bundle;
            try
            {
                using (var s = OpenKeyText(recipient))
                {
                    bundle = new PgpPublicKeyRingBundle(PgpUtilities.GetDecoderStream(s));
                }
            }
            catch (Exception ex) when (ex is IOException || ex is PgpException || ex is ArgumentException)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, $"-Recipient '{Short(recipient)}' is not an OpenPGP public key ({ex.Message}). Give a key file as `gpg --export [--armor] <id>` writes it.", Short(recipient), ex) { ErrorId = "InvalidRecipient" };
            }
            var keys = new List<PgpPublicKey>();
            foreach (PgpPublicKeyRing ring in bundle.GetKeyRings())
            {
                // The newest key of the ring that can encrypt (the subkey gpg uses), else none.
                var candidate = ring.GetPublicKeys().Cast<PgpPublicKey>().Where(k => k.IsEncryptionKey && !k.HasRevocation()).LastOrDefault();
                if (candidate != null) keys.Add(candidate);
            }
            if (keys.Count == 0)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, $"-Recipient '{Short(recipient)}' holds no key that can encrypt. Export the key with its encryption subkey (gpg --export <id>).", Short(recipient)) { ErrorId = "InvalidRecipient" };
            }
            return keys;
        }

        private static PgpSecretKeyRingBundle SecretKeysOf(string keyFile)
        {
            try
            {
                using (var s = OpenKeyText(keyFile))
                {
                    return new PgpSecretKeyRingBundle(PgpUtilities.GetDecoderStream(s));
                }
            }
            catch (Exception ex) when (ex is IOException || ex is PgpException || ex is ArgumentException)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, $"-KeyFile '{Short(keyFile)}' is not an OpenPGP secret key ({ex.Message}). Give a key as `gpg --export-secret-keys [--armor] <id>` writes it.", Short(keyFile), ex) { ErrorId = "InvalidKeyFile" };
            }
        }

        /// <summary>A key given as armored text, or the file it names.</summary>
        private static Stream OpenKeyText(string keyOrPath)
        {
            if (keyOrPath.TrimStart().StartsWith("-----BEGIN PGP", StringComparison.Ordinal)) return new MemoryStream(Encoding.ASCII.GetBytes(keyOrPath));
            if (!File.Exists(keyOrPath)) throw new FileNotFoundException($"the file '{keyOrPath}' does not exist");
            return File.OpenRead(keyOrPath);
        }

        private static string Short(string keyOrPath) => keyOrPath.TrimStart().StartsWith("-----BEGIN", StringComparison.Ordinal) ? "(armored key)" : keyOrPath;

        /// <summary>The characters of a SecureString (the caller clears them).</summary>
        internal static char[] Reveal(SecureString secret)
        {
            IntPtr p = Marshal.SecureStringToGlobalAllocUnicode(secret);
            try
            {
                var chars = new char[secret.Length];
                Marshal.Copy(p, chars, 0, chars.Length);
                return chars;
            }
            finally
            {
                Marshal.ZeroFreeGlobalAllocUnicode(p);
            }
        }

        // TEMP (main only): lets BouncyCastle peek at a forward-only stream.
        private sealed class BufferedSeek : Stream
        {
            private readonly Stream inner; private byte[] head = new byte[0]; private int pos; private long position;
            public BufferedSeek(Stream inner) { this.inner = inner; }
            public override bool CanRead => true; public override bool CanSeek => true; public override bool CanWrite => false;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => position; set => Seek(value, SeekOrigin.Begin); }
            public override void Flush() { }
            public override int Read(byte[] buffer, int offset, int count)
            {
                if (pos < head.Length) { int n = Math.Min(count, head.Length - pos); Array.Copy(head, pos, buffer, offset, n); pos += n; position += n; return n; }
                int r = inner.Read(buffer, offset, count);
                if (position < 64 && r > 0) { var h = new byte[head.Length + r]; Array.Copy(head, h, head.Length); Array.Copy(buffer, offset, h, head.Length, r); head = h; pos = head.Length; }
                position += r; return r;
            }
            public override long Seek(long offset, SeekOrigin origin) { if (origin != SeekOrigin.Begin || offset > head.Length) throw new NotSupportedException(); pos = (int)offset; position = offset; return offset; }
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        }

        private sealed class EncryptingStream : ForwardOnlyStream
        {
            private readonly Stream plain;
            private readonly Stream encrypted;
            private bool closed;

            public EncryptingStream(Stream plain, Stream encrypted)
            {
                this.plain = plain;
                this.encrypted = encrypted;
            }

            public override void Write(byte[] buffer, int offset, int count) => plain.Write(buffer, offset, count);
            public override void Flush() => plain.Flush();
            public override bool CanWrite => true;

            protected override void Dispose(bool disposing)
            {
                if (disposing && !closed)
                {
                    closed = true;
                    plain.Dispose();      // ends the literal packet
                    encrypted.Dispose();  // writes the MDC and ends the encrypted packet
                }
                base.Dispose(disposing);
            }
        }

        /// <summary>Reads the plaintext; at its end checks the integrity packet (MDC) and throws when it fails.</summary>
        private sealed class VerifyingStream : ForwardOnlyStream
        {
            private readonly Stream inner;
            private readonly PgpEncryptedData data;
            private readonly string what;
            private bool verified;

            public VerifyingStream(Stream inner, PgpEncryptedData data, string what)
            {
                this.inner = inner;
                this.data = data;
                this.what = what;
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                int n;
                try
                {
                    n = inner.Read(buffer, offset, count);
                }
                catch (Exception ex) when (ex is IOException || ex is PgpException)
                {
                    throw new TursoBackupException(FailureKind.InvalidData, $"{what} cannot be decrypted: {ex.Message}. It is damaged; use another backup.", what, ex) { ErrorId = "DecryptionFailed" };
                }
                if (n == 0 && count > 0 && !verified)
                {
                    bool ok;
                    try
                    {
                        ok = data.Verify();
                    }
                    catch (Exception ex) when (ex is IOException || ex is PgpException)
                    {
                        throw new TursoBackupException(FailureKind.InvalidData, $"The integrity check (MDC) of {what} cannot be read ({ex.Message}): it is damaged.", what, ex) { ErrorId = "IntegrityCheckFailed" };
                    }
                    if (!ok)
                    {
                        throw new TursoBackupException(FailureKind.InvalidData, $"The integrity check (MDC) of {what} failed: the encrypted data was damaged or altered. Use another backup.", what) { ErrorId = "IntegrityCheckFailed" };
                    }
                    verified = true;
                }
                return n;
            }

            public override bool CanRead => true;

            protected override void Dispose(bool disposing)
            {
                if (disposing) inner.Dispose();
                base.Dispose(disposing);
            }
        }
    }
}
