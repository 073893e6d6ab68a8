using System;
using System.IO;
using System.Security.Cryptography;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Agreement;
using Org.BouncyCastle.Crypto.Encodings;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Utilities;

namespace TursoBackup.Engine.Crypto
{
    /// <summary>A message's session key: the cipher algorithm (RFC 4880 §9.2) and the key.</summary>
    internal sealed class SessionKey
    {
        public int Algorithm;
        public byte[] Key;

        /// <summary>True when the key is the passphrase's S2K key itself (an SKESK without an encrypted session key).</summary>
        public bool IsS2KKey;

        /// <summary>algo || key || checksum, as PKESK packets carry it.</summary>
        public byte[] WithChecksum()
        {
            var m = new byte[Key.Length + 3];
            m[0] = (byte)Algorithm;
            Buffer.BlockCopy(Key, 0, m, 1, Key.Length);
            int sum = 0;
            foreach (byte b in Key) sum += b;
            m[m.Length - 2] = (byte)(sum >> 8);
            m[m.Length - 1] = (byte)sum;
            return m;
        }

        /// <summary>The session key out of algo || key || checksum; null when the checksum or algorithm does not fit.</summary>
        public static SessionKey FromChecksummed(byte[] m, int offset, int count)
        {
            if (count < 3) return null;
            int algo = m[offset];
            int len = AesCfb.KeyLength(algo);
            if (len == 0 || len != count - 3) return null;
            int sum = 0;
            for (int i = 0; i < len; i++) sum += m[offset + 1 + i];
            if ((m[offset + count - 2] << 8 | m[offset + count - 1]) != (sum & 0xFFFF)) return null;
            var key = new byte[len];
            Buffer.BlockCopy(m, offset + 1, key, 0, len);
            return new SessionKey { Algorithm = algo, Key = key };
        }
    }

    /// <summary>Key derivation and the session key packets (SKESK v4, PKESK v3 for RSA and ECDH).</summary>
    internal static class SessionKeys
    {
        public const int Aes256 = 9;
        private static readonly SecureRandom Random = new SecureRandom();

        public static byte[] RandomBytes(int n)
        {
            var b = new byte[n];
            using (var rng = RandomNumberGenerator.Create()) rng.GetBytes(b);
            return b;
        }

        public static long S2KBytes(int countByte) => (16L + (countByte & 15)) << ((countByte >> 4) + 6);

        private static HashAlgorithmName HashName(int algo)
        {
            switch (algo)
            {
                case 1: return HashAlgorithmName.MD5;
                case 2: return HashAlgorithmName.SHA1;
                case 8: return HashAlgorithmName.SHA256;
                case 9: return HashAlgorithmName.SHA384;
                case 10: return HashAlgorithmName.SHA512;
                default: throw new NotSupportedException($"OpenPGP hash algorithm {algo} is not supported");
            }
        }

        private static int HashLength(int algo) => algo == 1 ? 16 : algo == 2 ? 20 : algo == 8 ? 32 : algo == 9 ? 48 : 64;

        /// <summary>
        /// The S2K key (RFC 4880 §3.7.1): simple (type 0), salted (1) or iterated and salted (3); the passphrase is UTF-8.
        /// </summary>
        public static byte[] S2K(int type, int hashAlgo, byte[] salt, int countByte, byte[] pass, int keyLength)
        {
            var key = new byte[keyLength];
            int hashLen = HashLength(hashAlgo);
            byte[] unit = new byte[(salt?.Length ?? 0) + pass.Length];
            if (salt != null) Buffer.BlockCopy(salt, 0, unit, 0, salt.Length);
            Buffer.BlockCopy(pass, 0, unit, salt?.Length ?? 0, pass.Length);
            long total = type == 3 ? Math.Max(S2KBytes(countByte), unit.Length) : unit.Length;
            byte[] big = null;
            try
            {
                if (unit.Length > 0 && total > unit.Length)
                {
                    int reps = Math.Max(1, (1 << 16) / unit.Length);
                    big = new byte[reps * unit.Length];
                    for (int r = 0; r < reps; r++) Buffer.BlockCopy(unit, 0, big, r * unit.Length, unit.Length);
                }
                for (int done = 0, context = 0; done < keyLength; context++)
                {
                    using (var h = IncrementalHash.CreateHash(HashName(hashAlgo)))
                    {
                        if (context > 0) h.AppendData(new byte[context]);
                        long left = total;
                        if (big != null)
                        {
                            while (left >= big.Length) { h.AppendData(big); left -= big.Length; }
                            h.AppendData(big, 0, (int)left);
                        }
                        else h.AppendData(unit, 0, (int)left);
                        var d = h.GetHashAndReset();
                        int n = Math.Min(hashLen, keyLength - done);
                        Buffer.BlockCopy(d, 0, key, done, n);
                        Array.Clear(d, 0, d.Length);
                        done += n;
                    }
                }
                return key;
            }
            finally
            {
                Array.Clear(unit, 0, unit.Length);
                if (big != null) Array.Clear(big, 0, big.Length);
            }
        }

        // ---- SKESK (tag 3) ----------------------------------------------------------------------------------------

        /// <summary>SKESK v4, iterated+salted SHA-256 S2K, AES-256, with the session key encrypted in it.</summary>
        public static byte[] BuildSkesk(SessionKey session, byte[] pass)
        {
            byte[] salt = RandomBytes(8);
            byte[] kek = S2K(3, 8, salt, OpenPgp.S2KCount, pass, 32);
            var plain = new byte[1 + session.Key.Length];
            plain[0] = (byte)session.Algorithm;
            Buffer.BlockCopy(session.Key, 0, plain, 1, session.Key.Length);
            byte[] esk = AesCfb.Once(kek, plain, true);
            Array.Clear(kek, 0, kek.Length);
            Array.Clear(plain, 0, plain.Length);
            var body = new byte[13 + esk.Length];
            body[0] = 4;
            body[1] = Aes256;
            body[2] = 3;
            body[3] = 8;
            Buffer.BlockCopy(salt, 0, body, 4, 8);
            body[12] = OpenPgp.S2KCount;
            Buffer.BlockCopy(esk, 0, body, 13, esk.Length);
            return PacketWriter.Packet(3, body);
        }

        internal sealed class Skesk
        {
            public int Algorithm, S2KType, Hash, CountByte;
            public byte[] Salt, Esk;
        }

        public static Skesk ParseSkesk(byte[] body)
        {
            if (body.Length < 4 || body[0] != 4) throw new NotSupportedException($"symmetric-key packet version {(body.Length > 0 ? body[0] : 0)} is not supported (only 4)");
            var s = new Skesk { Algorithm = body[1], S2KType = body[2], Hash = body[3] };
            int p = 4;
            if (s.S2KType == 1 || s.S2KType == 3)
            {
                if (body.Length < p + 8) throw new InvalidDataException("short S2K specifier");
                s.Salt = new byte[8];
                Buffer.BlockCopy(body, p, s.Salt, 0, 8);
                p += 8;
            }
            else if (s.S2KType != 0) throw new NotSupportedException($"S2K type {s.S2KType} is not supported");
            if (s.S2KType == 3)
            {
                if (body.Length < p + 1) throw new InvalidDataException("short S2K specifier");
                s.CountByte = body[p++];
            }
            s.Esk = new byte[body.Length - p];
            Buffer.BlockCopy(body, p, s.Esk, 0, s.Esk.Length);
            return s;
        }

        /// <summary>The session key the passphrase gives for this SKESK, or null when it cannot be the right one.</summary>
        public static SessionKey FromSkesk(Skesk s, byte[] pass)
        {
            int len = AesCfb.KeyLength(s.Algorithm);
            if (len == 0) throw new NotSupportedException($"the cipher {AesCfb.Name(s.Algorithm)} is not supported (only AES)");
            byte[] kek = S2K(s.S2KType, s.Hash, s.Salt, s.CountByte, pass, len);
            if (s.Esk.Length == 0) return new SessionKey { Algorithm = s.Algorithm, Key = kek, IsS2KKey = true };
            try
            {
                byte[] plain = AesCfb.Once(kek, s.Esk, false);
                int algo = plain[0];
                int klen = AesCfb.KeyLength(algo);
                if (klen == 0 || klen != plain.Length - 1) { Array.Clear(plain, 0, plain.Length); return null; }
                var key = new byte[klen];
                Buffer.BlockCopy(plain, 1, key, 0, klen);
                Array.Clear(plain, 0, plain.Length);
                return new SessionKey { Algorithm = algo, Key = key };
            }
            finally
            {
                Array.Clear(kek, 0, kek.Length);
            }
        }

        // ---- PKESK (tag 1) ----------------------------------------------------------------------------------------

        public static long PkeskKeyId(byte[] body)
        {
            if (body.Length < 10 || body[0] != 3) throw new NotSupportedException($"public-key packet version {(body.Length > 0 ? body[0] : 0)} is not supported (only 3)");
            long id = 0;
            for (int i = 1; i <= 8; i++) id = (id << 8) | body[i];
            return id;
        }

        private static void WriteMpi(MemoryStream m, byte[] unsignedBigEndian)
        {
            int i = 0;
            while (i < unsignedBigEndian.Length - 1 && unsignedBigEndian[i] == 0) i++;
            int bits = (unsignedBigEndian.Length - i - 1) * 8;
            int top = unsignedBigEndian[i];
            while (top != 0) { bits++; top >>= 1; }
            m.WriteByte((byte)(bits >> 8));
            m.WriteByte((byte)bits);
            m.Write(unsignedBigEndian, i, unsignedBigEndian.Length - i);
        }

        private static byte[] ReadMpi(byte[] body, ref int p)
        {
            if (body.Length < p + 2) throw new InvalidDataException("short MPI");
            int bits = body[p] << 8 | body[p + 1];
            int len = (bits + 7) / 8;
            p += 2;
            if (body.Length < p + len) throw new InvalidDataException("short MPI");
            var v = new byte[len];
            Buffer.BlockCopy(body, p, v, 0, len);
            p += len;
            return v;
        }

        /// <summary>A PKESK v3 wrapping <paramref name="session"/> for <paramref name="key"/> (RSA or ECDH).</summary>
        public static byte[] BuildPkesk(SessionKey session, PgpPublicKey key)
        {
            var m = new MemoryStream();
            m.WriteByte(3);
            long id = key.KeyId;
            for (int i = 7; i >= 0; i--) m.WriteByte((byte)(id >> (8 * i)));
            m.WriteByte((byte)key.Algorithm);
            byte[] plain = session.WithChecksum();
            try
            {
                switch (key.Algorithm)
                {
                    case PublicKeyAlgorithmTag.RsaGeneral:
                    case PublicKeyAlgorithmTag.RsaEncrypt:
                        var rsa = new Pkcs1Encoding(new RsaEngine());
                        rsa.Init(true, new ParametersWithRandom(key.GetKey(), Random));
                        WriteMpi(m, rsa.ProcessBlock(plain, 0, plain.Length));
                        break;
                    case PublicKeyAlgorithmTag.ECDH:
                        var ec = (ECDHPublicBcpgKey)key.PublicKeyPacket.Key;
                        byte[] ephemeral, shared;
                        if (IsX25519(ec.CurveOid))
                        {
                            var eph = new X25519PrivateKeyParameters(Random);
                            var pub = eph.GeneratePublicKey().GetEncoded();
                            byte[] point = ec.EncodedPoint.ToByteArrayUnsigned();
                            if (point.Length != 33 || point[0] != 0x40) throw new InvalidDataException("a Curve25519 key not in the native (0x40) form");
                            shared = new byte[32];
                            eph.GenerateSecret(new X25519PublicKeyParameters(point, 1), shared, 0);
                            ephemeral = Arrays.Prepend(pub, 0x40);
                        }
                        else
                        {
                            var x9 = ECNamedCurveTable.GetByOid(ec.CurveOid) ?? throw new NotSupportedException($"the curve {ec.CurveOid} is not supported");
                            var domain = new ECDomainParameters(x9);
                            var gen = new ECKeyPairGenerator();
                            gen.Init(new ECKeyGenerationParameters(domain, Random));
                            var pair = gen.GenerateKeyPair();
                            var agreement = new ECDHBasicAgreement();
                            agreement.Init(pair.Private);
                            var recipient = new ECPublicKeyParameters(x9.Curve.DecodePoint(ec.EncodedPoint.ToByteArrayUnsigned()), domain);
                            shared = BigIntegers.AsUnsignedByteArray((x9.Curve.FieldSize + 7) / 8, agreement.CalculateAgreement(recipient));
                            ephemeral = ((ECPublicKeyParameters)pair.Public).Q.GetEncoded(false);
                        }
                        byte[] kek = EcdhKek(ec, shared, key.GetFingerprint());
                        Array.Clear(shared, 0, shared.Length);
                        int pad = 8 - plain.Length % 8;
                        var padded = new byte[plain.Length + pad];
                        Buffer.BlockCopy(plain, 0, padded, 0, plain.Length);
                        for (int i = plain.Length; i < padded.Length; i++) padded[i] = (byte)pad;
                        var wrap = new Rfc3394WrapEngine(AesUtilities.CreateEngine());
                        wrap.Init(true, new KeyParameter(kek));
                        byte[] wrapped = wrap.Wrap(padded, 0, padded.Length);
                        Array.Clear(kek, 0, kek.Length);
                        Array.Clear(padded, 0, padded.Length);
                        WriteMpi(m, ephemeral);
                        m.WriteByte((byte)wrapped.Length);
                        m.Write(wrapped, 0, wrapped.Length);
                        break;
                    default:
                        throw new NotSupportedException($"public-key algorithm {key.Algorithm} is not supported for encryption (use an RSA or ECDH/Curve25519 key)");
                }
            }
            finally
            {
                Array.Clear(plain, 0, plain.Length);
            }
            return PacketWriter.Packet(1, m.ToArray());
        }

        /// <summary>The session key in the PKESK for <paramref name="priv"/>, or null when it does not decrypt with it.</summary>
        public static SessionKey FromPkesk(byte[] body, PgpPrivateKey priv, PgpPublicKey pubKey)
        {
            int algo = body[9];
            int p = 10;
            byte[] plain = null;
            try
            {
                switch (algo)
                {
                    case 1:
                    case 2:
                        byte[] c = ReadMpi(body, ref p);
                        var rsa = new Pkcs1Encoding(new RsaEngine());
                        rsa.Init(false, priv.Key);
                        try
                        {
                            plain = rsa.ProcessBlock(c, 0, c.Length);
                        }
                        catch (InvalidCipherTextException)
                        {
                            return null;
                        }
                        return SessionKey.FromChecksummed(plain, 0, plain.Length);
                    case 18:
                        byte[] ephemeral = ReadMpi(body, ref p);
                        if (body.Length < p + 1) throw new InvalidDataException("short ECDH packet");
                        int wl = body[p++];
                        if (body.Length < p + wl) throw new InvalidDataException("short ECDH packet");
                        var ec = (ECDHPublicBcpgKey)pubKey.PublicKeyPacket.Key;
                        byte[] shared;
                        if (priv.Key is X25519PrivateKeyParameters x)
                        {
                            if (ephemeral.Length != 33 || ephemeral[0] != 0x40) return null;
                            shared = new byte[32];
                            x.GenerateSecret(new X25519PublicKeyParameters(ephemeral, 1), shared, 0);
                        }
                        else if (priv.Key is ECPrivateKeyParameters ecPriv)
                        {
                            var x9 = ECNamedCurveTable.GetByOid(ec.CurveOid) ?? throw new NotSupportedException($"the curve {ec.CurveOid} is not supported");
                            var domain = ecPriv.Parameters;
                            var agreement = new ECDHBasicAgreement();
                            agreement.Init(ecPriv);
                            var eph = new ECPublicKeyParameters(domain.Curve.DecodePoint(ephemeral), domain);
                            shared = BigIntegers.AsUnsignedByteArray((domain.Curve.FieldSize + 7) / 8, agreement.CalculateAgreement(eph));
                        }
                        else throw new NotSupportedException($"an ECDH private key of type {priv.Key.GetType().Name} is not supported");
                        byte[] kek = EcdhKek(ec, shared, pubKey.GetFingerprint());
                        Array.Clear(shared, 0, shared.Length);
                        var unwrap = new Rfc3394WrapEngine(AesUtilities.CreateEngine());
                        unwrap.Init(false, new KeyParameter(kek));
                        try
                        {
                            plain = unwrap.Unwrap(body, p, wl);
                        }
                        catch (InvalidCipherTextException)
                        {
                            return null;
                        }
                        finally
                        {
                            Array.Clear(kek, 0, kek.Length);
                        }
                        int pad = plain.Length > 0 ? plain[plain.Length - 1] : 0;
                        if (pad < 1 || pad > 8 || pad > plain.Length) return null;
                        return SessionKey.FromChecksummed(plain, 0, plain.Length - pad);
                    default:
                        throw new NotSupportedException($"public-key algorithm {algo} is not supported (only RSA and ECDH)");
                }
            }
            finally
            {
                if (plain != null) Array.Clear(plain, 0, plain.Length);
            }
        }

        private static bool IsX25519(DerObjectIdentifier oid) => oid.Id == "1.3.6.1.4.1.3029.1.5.1" || oid.Id == "1.3.101.110";

        /// <summary>The key-encryption key of RFC 6637 §7 and §8 (one-step KDF with the fingerprint parameter).</summary>
        private static byte[] EcdhKek(ECDHPublicBcpgKey ec, byte[] shared, byte[] fingerprint)
        {
            byte[] oid = ec.CurveOid.GetEncoded(); // 06 len body: the packet form is len body
            var param = new MemoryStream();
            param.Write(oid, 1, oid.Length - 1);
            param.WriteByte(18);
            param.WriteByte(3);
            param.WriteByte(1);
            param.WriteByte((byte)ec.HashAlgorithm);
            param.WriteByte((byte)ec.SymmetricKeyAlgorithm);
            var sender = System.Text.Encoding.ASCII.GetBytes("Anonymous Sender    ");
            param.Write(sender, 0, sender.Length);
            param.Write(fingerprint, 0, 20);
            int kekLen = AesCfb.KeyLength((int)ec.SymmetricKeyAlgorithm);
            if (kekLen == 0) throw new NotSupportedException($"the ECDH key wrap algorithm {ec.SymmetricKeyAlgorithm} is not supported");
            using (var h = IncrementalHash.CreateHash(HashName((int)ec.HashAlgorithm)))
            {
                h.AppendData(new byte[] { 0, 0, 0, 1 });
                h.AppendData(shared);
                h.AppendData(param.ToArray());
                byte[] d = h.GetHashAndReset();
                var kek = new byte[kekLen];
                Buffer.BlockCopy(d, 0, kek, 0, kekLen);
                Array.Clear(d, 0, d.Length);
                return kek;
            }
        }
    }
}
