using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Security;
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Crypto
{
    /// <summary>
    /// How to encrypt: a passphrase (symmetric), public keys (each recipient can open it), or both. One instance makes
    /// ONE random session key and its key packets (one S2K derivation, one public-key operation per recipient), at
    /// first use, and every message it encrypts reuses them (each message still has its own random prefix, so every
    /// CFB stream differs): encrypting a thousand artifacts in a command costs one derivation. Do not change the
    /// properties between messages that must have different keys — make a new instance (a change is noticed and
    /// makes a new session key, but an instance is meant to live for one command).
    /// </summary>
    public sealed class EncryptionKeys
    {
        /// <summary>The passphrase (env TURSO_BACKUP_PASSPHRASE at the cmdlets); null for none.</summary>
        public SecureString Passphrase { get; set; }

        /// <summary>Public keys, each a file (binary or ASCII-armored) or armored text; every one can open what is written.</summary>
        public IList<string> Recipients { get; set; } = new List<string>();

        public bool Any => Passphrase != null || (Recipients != null && Recipients.Count > 0);

        private readonly object gate = new object();
        private SecureString seenPassphrase;
        private string seenRecipients;
        private List<PgpPublicKey> keys;
        private SessionKey session;
        private byte[] packets;
        private readonly Dictionary<string, byte[]> wrapped = new Dictionary<string, byte[]>();

        /// <summary>Zeroes the session key this instance made and forgets its key packets (the cmdlets call it when the command ends).</summary>
        public void Forget()
        {
            lock (gate)
            {
                if (session?.Key != null) Array.Clear(session.Key, 0, session.Key.Length);
                session = null;
                packets = null;
                wrapped.Clear();
                keys = null;
            }
        }

        /// <summary>What a message encrypted with these keys can be opened with, without a secret: "passphrase; keys 0123456789ABCDEF, …".</summary>
        public string Describe()
        {
            lock (gate)
            {
                Refresh();
                var parts = new List<string>();
                if (Passphrase != null) parts.Add("passphrase");
                if (keys.Count > 0) parts.Add("keys " + string.Join(", ", keys.Select(k => k.KeyId.ToString("X16"))));
                return string.Join("; ", parts);
            }
        }

        private void Refresh()
        {
            string recipients = string.Join("\n", Recipients ?? new List<string>());
            if (keys != null && ReferenceEquals(seenPassphrase, Passphrase) && seenRecipients == recipients) return;
            var list = new List<PgpPublicKey>();
            foreach (var r in Recipients ?? new List<string>()) list.AddRange(OpenPgp.EncryptionKeysOf(r));
            keys = list;
            seenPassphrase = Passphrase;
            seenRecipients = recipients;
            if (session != null) Array.Clear(session.Key, 0, session.Key.Length);
            session = null;
            packets = null;
            wrapped.Clear();
        }

        /// <summary>This instance's session key and its key packets, made once.</summary>
        internal (SessionKey Session, byte[] Packets) Prepared()
        {
            lock (gate)
            {
                Refresh();
                if (session == null)
                {
                    var s = new SessionKey { Algorithm = SessionKeys.Aes256, Key = SessionKeys.RandomBytes(32) };
                    packets = Wrap(s);
                    session = s;
                }
                return (session, packets);
            }
        }

        /// <summary>Key packets that wrap the GIVEN session key for these keys (re-wrap); made once per session key.</summary>
        internal byte[] PacketsFor(SessionKey given)
        {
            lock (gate)
            {
                Refresh();
                string id;
                using (var h = SHA256.Create()) id = given.Algorithm + ":" + Convert.ToBase64String(h.ComputeHash(given.Key));
                if (!wrapped.TryGetValue(id, out var p)) wrapped[id] = p = Wrap(given);
                return p;
            }
        }

        private byte[] Wrap(SessionKey s)
        {
            if (!Any) throw new ArgumentException("No passphrase and no recipient to encrypt for.");
            var m = new MemoryStream();
            // Public-key packets first, as gpg writes them: gpg takes the packets in order and, in batch mode, a
            // passphrase packet first stops it before it tries its secret keys.
            foreach (var k in keys)
            {
                byte[] p;
                try
                {
                    p = SessionKeys.BuildPkesk(s, k);
                }
                catch (Exception ex) when (ex is NotSupportedException || ex is InvalidDataException)
                {
                    throw new TursoBackupException(FailureKind.InvalidArgument, $"The recipient key {k.KeyId:X16} cannot be encrypted to: {ex.Message}.", k.KeyId.ToString("X16"), ex) { ErrorId = "InvalidRecipient" };
                }
                m.Write(p, 0, p.Length);
            }
            if (Passphrase != null)
            {
                byte[] pass = OpenPgp.Utf8(Passphrase);
                try
                {
                    var p = SessionKeys.BuildSkesk(s, pass);
                    m.Write(p, 0, p.Length);
                }
                finally
                {
                    Array.Clear(pass, 0, pass.Length);
                }
            }
            return m.ToArray();
        }
    }

    /// <summary>
    /// How to decrypt: the passphrase, or a secret key (file or armored text) and its passphrase. An instance remembers
    /// the session keys it recovered, by the exact key packet, and the unlocked secret keys: a thousand artifacts
    /// written by one command cost one derivation to read.
    /// </summary>
    public sealed class DecryptionKeys
    {
        public SecureString Passphrase { get; set; }

        /// <summary>A secret key ring (a file, binary or armored, or armored text), as `gpg --export-secret-keys` writes it.</summary>
        public string KeyFile { get; set; }

        public SecureString KeyPassphrase { get; set; }

        public bool Any => Passphrase != null || KeyFile != null;

        internal readonly object Gate = new object();
        private SecureString seenPassphrase, seenKeyPassphrase;
        private string seenKeyFile;
        private PgpSecretKeyRingBundle ring;
        private readonly Dictionary<long, PgpPrivateKey> privates = new Dictionary<long, PgpPrivateKey>();
        private readonly Dictionary<string, SessionKey> sessions = new Dictionary<string, SessionKey>();
        private static readonly SessionKey None = new SessionKey();

        /// <summary>Zeroes the session keys this instance recovered and forgets the unlocked secret keys (the cmdlets call it when the command ends).</summary>
        public void Forget()
        {
            lock (Gate)
            {
                foreach (var s in sessions.Values) if (s.Key != null) Array.Clear(s.Key, 0, s.Key.Length);
                sessions.Clear();
                privates.Clear();
                ring = null;
                seenPassphrase = null;
                seenKeyPassphrase = null;
                seenKeyFile = null;
            }
        }

        /// <summary>Forgets everything when a property was changed (call under Gate).</summary>
        internal void Refresh()
        {
            if (ReferenceEquals(seenPassphrase, Passphrase) && ReferenceEquals(seenKeyPassphrase, KeyPassphrase) && seenKeyFile == KeyFile) return;
            foreach (var s in sessions.Values) if (s.Key != null) Array.Clear(s.Key, 0, s.Key.Length);
            sessions.Clear();
            privates.Clear();
            ring = null;
            seenPassphrase = Passphrase;
            seenKeyPassphrase = KeyPassphrase;
            seenKeyFile = KeyFile;
        }

        internal PgpSecretKeyRingBundle Ring() => ring ?? (ring = OpenPgp.SecretKeysOf(KeyFile));

        internal bool TryPrivate(long id, out PgpPrivateKey key) => privates.TryGetValue(id, out key);

        internal void RememberPrivate(long id, PgpPrivateKey key) => privates[id] = key;

        /// <summary>The session key remembered for this key packet: true with null when it is known not to open.</summary>
        internal bool TrySession(string packet, out SessionKey key)
        {
            bool found = sessions.TryGetValue(packet, out key);
            if (ReferenceEquals(key, None)) key = null;
            return found;
        }

        internal void RememberSession(string packet, SessionKey key) => sessions[packet] = key ?? None;
    }

    /// <summary>What the key packets of an OpenPGP message say (no key needed to read them).</summary>
    public sealed class OpenPgpHeader
    {
        /// <summary>A passphrase opens it (a symmetric-key packet).</summary>
        public bool Passphrase { get; set; }

        /// <summary>The key IDs of the public keys it is encrypted to (16 hex digits, upper case).</summary>
        public IReadOnlyList<string> KeyIds { get; set; } = new List<string>();

        /// <summary>The cipher named in the symmetric-key packet ("AES256"), else null.</summary>
        public string Cipher { get; set; }

        /// <summary>The data has an integrity check (MDC).</summary>
        public bool IntegrityProtected { get; set; }

        /// <summary>Its session key is wrapped in the key packets (false: it is a passphrase's S2K key, as `gpg --symmetric` writes it; it cannot be re-wrapped).</summary>
        public bool Rewrappable { get; set; }

        /// <summary>"passphrase; keys 0123456789ABCDEF, …", as <see cref="EncryptionKeys.Describe"/> says it.</summary>
        public string Describe()
        {
            var parts = new List<string>();
            if (Passphrase) parts.Add("passphrase");
            if (KeyIds.Count > 0) parts.Add("keys " + string.Join(", ", KeyIds));
            return string.Join("; ", parts);
        }
    }

    /// <summary>The outcome of <see cref="OpenPgp.Rewrap"/>.</summary>
    public sealed class RewrapResult
    {
        /// <summary>The new key packets.</summary>
        public OpenPgpHeader Header { get; set; }

        /// <summary>The new header's description ("passphrase; keys …").</summary>
        public string Description { get; set; }

        /// <summary>The key packets it had before.</summary>
        public OpenPgpHeader Previous { get; set; }

        /// <summary>Bytes of the encrypted data packet, copied unchanged (its MDC was checked on the way).</summary>
        public long DataBytes { get; set; }
    }

    /// <summary>
    /// OpenPGP (RFC 4880) encryption of vault artifacts, as stock gpg reads and writes it: AES-256 in a
    /// symmetrically encrypted, integrity-protected data packet (MDC), its random session key wrapped for a passphrase
    /// (SKESK v4, iterated and salted S2K with SHA-256, the most iterations OpenPGP can express) and/or for each
    /// recipient's public key (PKESK v3: RSA, ECDH on Curve25519 or NIST curves); one binary literal packet inside, no
    /// OpenPGP compression (the payload is zstd already). The data layer is our own on the runtime's AES (AES-NI),
    /// BouncyCastle does the key rings, public-key math, armor and gpg's compressed packets. Streamed: partial-length
    /// packets, so memory does not grow with the artifact. Reading takes what gpg writes too (`gpg --symmetric
    /// --cipher-algo AES256`, `gpg --encrypt -r …`, compressed, armored), refuses data without an integrity check, and
    /// checks the MDC at the end of the stream before the last chunk is given out: a reader that reached the end
    /// unchallenged has read exactly what was encrypted.
    /// </summary>
    public static class OpenPgp
    {
        /// <summary>The S2K count byte: 65,011,712 bytes hashed per passphrase (gpg's own maximum).</summary>
        public const int S2KCount = 0xFF;

        /// <summary>
        /// A stream that encrypts what is written to it into <paramref name="output"/>; disposing it writes the MDC and
        /// closes the packets (not <paramref name="output"/> itself).
        /// </summary>
        public static Stream Encrypt(Stream output, EncryptionKeys keys, string fileName = "")
        {
            if (keys == null || !keys.Any) throw new ArgumentException("No passphrase and no recipient to encrypt for.", nameof(keys));
            var (session, packets) = keys.Prepared();
            output.Write(packets, 0, packets.Length);
            return new SeipdWriter(output, session, fileName ?? "");
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

        private sealed class Esk
        {
            public int Tag;
            public byte[] Body;
            public string Id => Tag + ":" + Convert.ToBase64String(Body);
        }

        private sealed class Message
        {
            public PacketInput Input;
            public List<Esk> Esks = new List<Esk>();
            public PacketHeader? Data;
            public bool Passphrase => Esks.Any(e => e.Tag == 3);
            public List<string> KeyIds => Esks.Where(e => e.Tag == 1).Select(e => SessionKeys.PkeskKeyId(e.Body).ToString("X16")).ToList();
        }

        /// <summary>Reads the packets up to the encrypted data packet's header (binary or armored input).</summary>
        private static Message OpenMessage(Stream input, string what, bool record)
        {
            var msg = new Message();
            try
            {
                var raw = new PacketInput(input);
                int first = raw.PeekByte();
                if (first < 0) throw new InvalidDataException("it is empty");
                msg.Input = (first & 0x80) != 0 ? raw : new PacketInput(new ArmoredInputStream(raw));
                while (true)
                {
                    if (record) msg.Input.Record = new MemoryStream();
                    var h = PacketInput.ReadHeader(msg.Input);
                    if (h == null) break;
                    var header = h.Value;
                    if (header.Tag == 18 || header.Tag == 9)
                    {
                        msg.Data = header;
                        break;
                    }
                    if (header.Tag != 10 && header.Tag != 3 && header.Tag != 1) break;
                    byte[] body;
                    using (var b = new PacketBody(msg.Input, header))
                    {
                        var m = new MemoryStream();
                        var buf = new byte[4096];
                        int n;
                        while ((n = b.Read(buf, 0, buf.Length)) > 0)
                        {
                            m.Write(buf, 0, n);
                            if (m.Length > 1 << 20) throw new InvalidDataException("a key packet is implausibly large");
                        }
                        body = m.ToArray();
                    }
                    if (header.Tag == 10) continue;
                    if (header.Tag == 1) SessionKeys.PkeskKeyId(body); // checks the version
                    msg.Esks.Add(new Esk { Tag = header.Tag, Body = body });
                }
            }
            catch (Exception ex) when (ex is IOException || ex is InvalidDataException || ex is PgpException || ex is NotSupportedException)
            {
                throw new TursoBackupException(FailureKind.InvalidData, $"{what} is not an OpenPGP message that can be read ({ex.Message}).", what, ex) { ErrorId = "NotEncrypted" };
            }
            if (msg.Data == null)
            {
                throw new TursoBackupException(FailureKind.InvalidData, $"{what} holds no OpenPGP encrypted data.", what) { ErrorId = "NotEncrypted" };
            }
            return msg;
        }

        private static OpenPgpHeader HeaderOf(Message msg)
        {
            var h = new OpenPgpHeader
            {
                Passphrase = msg.Passphrase,
                KeyIds = msg.KeyIds,
                IntegrityProtected = msg.Data?.Tag == 18,
                Rewrappable = msg.Esks.Any(e => e.Tag == 1),
            };
            foreach (var e in msg.Esks.Where(e => e.Tag == 3))
            {
                try
                {
                    var s = SessionKeys.ParseSkesk(e.Body);
                    h.Cipher = h.Cipher ?? AesCfb.Name(s.Algorithm);
                    if (s.Esk.Length > 0) h.Rewrappable = true;
                }
                catch (Exception ex) when (ex is NotSupportedException || ex is InvalidDataException)
                {
                }
            }
            if (msg.Esks.Count == 0) h.Rewrappable = false;
            return h;
        }

        /// <summary>What the key packets of the message in <paramref name="input"/> say; reads only those (no key needed).</summary>
        public static OpenPgpHeader ReadHeader(Stream input) => HeaderOf(OpenMessage(input, "the input", false));

        /// <summary>
        /// The plaintext of the OpenPGP message in <paramref name="input"/>. <paramref name="what"/> names it in errors
        /// ("backup X of 'main'"). A passphrase or key that does not open it, or none given, is a clear error before a
        /// byte is returned; damage (a failed integrity check) is an error at the end of the stream, before its last
        /// chunk is returned.
        /// </summary>
        public static Stream Decrypt(Stream input, DecryptionKeys keys, string what)
        {
            keys = keys ?? new DecryptionKeys();
            var msg = OpenMessage(input, what, false);
            var (session, body, peek, peeked) = Open(msg, keys, what);
            SeipdReader seipd = null;
            try
            {
                seipd = new SeipdReader(new PrefixedStream(peek, peeked, body), session, what);
                int first = seipd.ReadByte();
                if (first < 0) throw new InvalidDataException("it decrypts to nothing");
                Stream content;
                if ((first & 0x80) != 0 && ((first & 0x40) != 0 ? first & 0x3F : (first >> 2) & 0x0F) == 11)
                {
                    // Our own output (and gpg's uncompressed): the literal packet, read here (the fast path).
                    var literal = new PacketBody(seipd, PacketInput.ReadHeader(seipd, first));
                    PacketInput.Byte(literal); // format
                    int nameLength = PacketInput.Byte(literal);
                    for (int i = 0; i < nameLength + 4; i++) PacketInput.Byte(literal);
                    content = literal;
                }
                else
                {
                    // gpg's compressed packets (and signed messages): BouncyCastle reads the decrypted packets.
                    var inner = new PgpObjectFactory(new PrefixedStream(new[] { (byte)first }, 1, seipd));
                    object o = inner.NextPgpObject();
                    if (o is PgpCompressedData compressed)
                    {
                        inner = new PgpObjectFactory(compressed.GetDataStream());
                        o = inner.NextPgpObject();
                    }
                    while (o is PgpOnePassSignatureList || o is PgpSignatureList || o is PgpMarker) o = inner.NextPgpObject();
                    if (!(o is PgpLiteralData data))
                    {
                        throw new TursoBackupException(FailureKind.InvalidData, $"{what} decrypts to no data packet (an unexpected OpenPGP message).", what) { ErrorId = "DecryptionFailed" };
                    }
                    content = data.GetInputStream();
                }
                return new VerifyingStream(content, seipd, what);
            }
            catch (Exception ex) when (IsDamage(ex))
            {
                seipd?.Dispose();
                throw Failed(what, ex);
            }
            catch
            {
                seipd?.Dispose();
                throw;
            }
        }

        private static bool IsDamage(Exception ex) => ex is IOException || ex is PgpException || ex is InvalidDataException || ex is NotSupportedException;

        private static TursoBackupException Failed(string what, Exception ex) =>
            new TursoBackupException(FailureKind.InvalidData, $"{what} cannot be decrypted: {ex.Message}. It is damaged; use another backup.", what, ex) { ErrorId = "DecryptionFailed" };

        /// <summary>
        /// Re-wraps the message's session key: reads the key packets of <paramref name="input"/>, recovers the session
        /// key with <paramref name="current"/> (the errors of <see cref="Decrypt"/>), writes new key packets that wrap
        /// the SAME session key for <paramref name="next"/>, then copies the encrypted data packet byte for byte (no
        /// re-encryption), decrypting it on the side to check its MDC (an error at the end when it fails). Nothing is
        /// written before the key is proved right. Armored input gives binary output. Refuses (ErrorId CannotRewrap) a
        /// message whose session key is the passphrase's S2K key itself (what `gpg --symmetric` writes).
        /// </summary>
        public static RewrapResult Rewrap(Stream input, Stream output, DecryptionKeys current, EncryptionKeys next, string what)
        {
            if (next == null || !next.Any) throw new ArgumentException("No passphrase and no recipient to re-wrap for.", nameof(next));
            current = current ?? new DecryptionKeys();
            var msg = OpenMessage(input, what, true);
            var previous = HeaderOf(msg);
            if (msg.Data.Value.Tag == 18 && !previous.Rewrappable) throw CannotRewrap(what);
            var (session, body, peek, peeked) = Open(msg, current, what);
            if (session.IsS2KKey) throw CannotRewrap(what);
            byte[] packets = next.PacketsFor(session);
            output.Write(packets, 0, packets.Length);
            var held = (MemoryStream)msg.Input.Record;
            output.Write(held.GetBuffer(), 0, (int)held.Length);
            long start = msg.Input.Position, heldBytes = held.Length;
            msg.Input.Record = new ArtifactStreams.NonClosingStream(output);
            try
            {
                using (var seipd = new SeipdReader(new PrefixedStream(peek, peeked, body), session, what))
                {
                    seipd.Drain();
                }
                var rest = new byte[1 << 16];
                while (msg.Input.Read(rest, 0, rest.Length) > 0)
                {
                }
            }
            catch (Exception ex) when (IsDamage(ex))
            {
                throw Failed(what, ex);
            }
            finally
            {
                msg.Input.Record = null;
            }
            var header = HeaderOf(OpenMessage(new MemoryStream(packets.Concat(new byte[] { 0xD2, 0 }).ToArray()), what, false));
            header.IntegrityProtected = true;
            return new RewrapResult { Header = header, Description = header.Describe(), Previous = previous, DataBytes = heldBytes + msg.Input.Position - start };
        }

        private static TursoBackupException CannotRewrap(string what) =>
            new TursoBackupException(FailureKind.InvalidArgument,
                $"{what} is encrypted with a passphrase's own key (as `gpg --symmetric` writes it), not with a session key that can be re-wrapped: it must be re-encrypted (decrypt it and encrypt it again) to change its key.", what) { ErrorId = "CannotRewrap" };

        /// <summary>Checks the keys against the message, recovers its session key and peeks the data's first bytes.</summary>
        private static (SessionKey Session, PacketBody Body, byte[] Peek, int Peeked) Open(Message msg, DecryptionKeys keys, string what)
        {
            bool forPassphrase = msg.Passphrase;
            var forKeys = msg.KeyIds;
            if (!keys.Any)
            {
                throw new TursoBackupException(FailureKind.AuthenticationFailed,
                    $"{what} is encrypted ({Describe(forPassphrase, forKeys)}). Give -Passphrase (or set TURSO_BACKUP_PASSPHRASE)" +
                    (forKeys.Count > 0 ? ", or -KeyFile with a secret key it was encrypted for" : "") + ".", what) { ErrorId = "KeyRequired" };
            }
            if (msg.Data.Value.Tag == 9)
            {
                throw new TursoBackupException(FailureKind.InvalidData, $"{what} is encrypted without an integrity check (no MDC): it is refused, since damage or tampering could not be detected.", what) { ErrorId = "NoIntegrityCheck" };
            }
            var body = new PacketBody(msg.Input, msg.Data.Value);
            var peek = new byte[32];
            int peeked;
            try
            {
                int version = body.ReadByte();
                if (version != 1) throw new NotSupportedException($"its encrypted data packet is version {version} (only 1 is supported)");
                peeked = PacketInput.Fill(body, peek, 0, peek.Length);
            }
            catch (Exception ex) when (IsDamage(ex))
            {
                throw Failed(what, ex);
            }
            SessionKey session;
            lock (keys.Gate)
            {
                keys.Refresh();
                session = Recover(msg, keys, peek, peeked, what);
            }
            if (session == null)
            {
                throw new TursoBackupException(FailureKind.AuthenticationFailed,
                    keys.Passphrase != null && keys.KeyFile == null
                        ? $"The passphrase does not open {what} ({Describe(forPassphrase, forKeys)}). Nothing was written."
                        : $"The key given does not open {what} ({Describe(forPassphrase, forKeys)}). Nothing was written.", what) { ErrorId = "WrongKey" };
            }
            return (session, body, peek, peeked);
        }

        /// <summary>The session key that opens the data (its quick check passes), or null.</summary>
        private static SessionKey Recover(Message msg, DecryptionKeys keys, byte[] peek, int peeked, string what)
        {
            try
            {
                if (keys.Passphrase != null)
                {
                    foreach (var esk in msg.Esks.Where(e => e.Tag == 3))
                    {
                        if (!keys.TrySession(esk.Id, out var s))
                        {
                            byte[] pass = Utf8(keys.Passphrase);
                            try
                            {
                                s = SessionKeys.FromSkesk(SessionKeys.ParseSkesk(esk.Body), pass);
                            }
                            finally
                            {
                                Array.Clear(pass, 0, pass.Length);
                            }
                            if (s != null && !QuickCheck(s, peek, peeked)) s = null;
                            keys.RememberSession(esk.Id, s);
                        }
                        if (s != null) return s;
                    }
                }
                if (keys.KeyFile != null)
                {
                    var ring = keys.Ring();
                    foreach (var esk in msg.Esks.Where(e => e.Tag == 1))
                    {
                        long id = SessionKeys.PkeskKeyId(esk.Body);
                        var candidates = id != 0
                            ? new[] { ring.GetSecretKey(id) }.Where(k => k != null)
                            : ring.GetKeyRings().Cast<PgpSecretKeyRing>().SelectMany(r => r.GetSecretKeys().Cast<PgpSecretKey>()).Where(k => k.PublicKey.IsEncryptionKey);
                        foreach (var secret in candidates)
                        {
                            string cacheId = esk.Id + ":" + secret.KeyId;
                            if (!keys.TrySession(cacheId, out var s))
                            {
                                s = SessionKeys.FromPkesk(esk.Body, Private(keys, secret, what), secret.PublicKey);
                                if (s != null && !QuickCheck(s, peek, peeked)) s = null;
                                keys.RememberSession(cacheId, s);
                            }
                            if (s != null) return s;
                        }
                    }
                }
                return null;
            }
            catch (Exception ex) when (ex is NotSupportedException || ex is InvalidDataException)
            {
                throw new TursoBackupException(FailureKind.InvalidData, $"{what} cannot be decrypted: {ex.Message}.", what, ex) { ErrorId = "DecryptionFailed" };
            }
        }

        private static PgpPrivateKey Private(DecryptionKeys keys, PgpSecretKey secret, string what)
        {
            if (keys.TryPrivate(secret.KeyId, out var known)) return known;
            char[] pass = keys.KeyPassphrase == null ? new char[0] : Reveal(keys.KeyPassphrase);
            try
            {
                var priv = secret.ExtractPrivateKeyUtf8(pass);
                keys.RememberPrivate(secret.KeyId, priv);
                return priv;
            }
            catch (PgpException ex)
            {
                throw new TursoBackupException(FailureKind.AuthenticationFailed,
                    $"The secret key {secret.KeyId:X16} in the key file cannot be unlocked: " + (keys.KeyPassphrase == null ? "it has a passphrase; give -KeyPassphrase." : "-KeyPassphrase is not its passphrase.") + $" {what} was not read.", what, ex) { ErrorId = "KeyPassphraseWrong" };
            }
            finally
            {
                Array.Clear(pass, 0, pass.Length);
            }
        }

        /// <summary>The quick check (RFC 4880 §5.13): the 16th and 15th prefix bytes are repeated.</summary>
        private static bool QuickCheck(SessionKey s, byte[] peek, int peeked)
        {
            if (peeked < 18) return true; // too short to tell: the reader reports the damage
            var plain = new byte[peek.Length + AesCfb.Block];
            using (var c = new AesCfb(s.Key, false)) c.Decrypt(peek, 0, plain, 0, peeked);
            bool ok = plain[14] == plain[16] && plain[15] == plain[17];
            Array.Clear(plain, 0, plain.Length);
            return ok;
        }

        private static string Describe(bool passphrase, List<string> keyIds) =>
            string.Join(" or ", new[] { passphrase ? "a passphrase" : null, keyIds.Count > 0 ? "the key(s) " + string.Join(", ", keyIds) : null }.Where(s => s != null));

        /// <summary>The UTF-8 bytes of a SecureString (the caller clears them).</summary>
        internal static byte[] Utf8(SecureString secret)
        {
            char[] chars = Reveal(secret);
            try
            {
                return Encoding.UTF8.GetBytes(chars);
            }
            finally
            {
                Array.Clear(chars, 0, chars.Length);
            }
        }

        internal static IEnumerable<PgpPublicKey> EncryptionKeysOf(string recipient)
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

        internal static PgpSecretKeyRingBundle SecretKeysOf(string keyFile)
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

        /// <summary>The plaintext; at its end, reads what follows the literal packet, which checks the MDC.</summary>
        private sealed class VerifyingStream : ForwardOnlyStream
        {
            private readonly Stream inner;
            private readonly SeipdReader seipd;
            private readonly string what;

            public VerifyingStream(Stream inner, SeipdReader seipd, string what)
            {
                this.inner = inner;
                this.seipd = seipd;
                this.what = what;
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                try
                {
                    int n = inner.Read(buffer, offset, count);
                    if (n == 0 && count > 0) seipd.Drain();
                    Count += n;
                    return n;
                }
                catch (Exception ex) when (IsDamage(ex))
                {
                    throw Failed(what, ex);
                }
            }

            public override bool CanRead => true;

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    inner.Dispose();
                    seipd.Dispose();
                }
                base.Dispose(disposing);
            }
        }
    }
}
