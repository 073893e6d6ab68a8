using System;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;

namespace TursoBackup.Engine.Crypto
{
    /// <summary>
    /// AES in CFB-128 mode with a zero IV, as OpenPGP's integrity-protected data packet uses it, on the runtime's AES
    /// (OpenSSL/CNG: AES-NI). Streamed: calls are block-aligned except the last one, which may end in a partial block.
    /// Encryption is serial by nature (each block needs the previous ciphertext block) and runs on the platform's CFB
    /// transform, or, where the platform refuses CFB-128 (old .NET Framework), on BouncyCastle's CfbBlockCipher — the
    /// same bytes. Decryption is parallel by nature: the key stream is the ECB encryption of the ciphertext shifted by
    /// one block, so it runs as one pipelined ECB call per chunk and a vector XOR.
    /// </summary>
    internal sealed class AesCfb : IDisposable
    {
        public const int Block = 16;

        private readonly Aes aes;
        private readonly ICryptoTransform ecb;
        private ICryptoTransform cfb;
        private IBlockCipher managed;
        private readonly byte[] last = new byte[Block];   // the previous ciphertext block (the IV, zero, at first)
        private readonly byte[] stream = new byte[Block];
        private readonly byte[] key;
        private bool ended;

        /// <summary>False when the platform's CFB-128 is unavailable and encryption runs managed (for tests and the report).</summary>
        public bool HardwareCfb => cfb != null;

        public static int KeyLength(int algorithm) => algorithm == 7 ? 16 : algorithm == 8 ? 24 : algorithm == 9 ? 32 : 0;

        public static string Name(int algorithm) => algorithm == 7 ? "AES128" : algorithm == 8 ? "AES192" : algorithm == 9 ? "AES256" : "algorithm " + algorithm;

        public AesCfb(byte[] key, bool forEncryption, bool forceManaged = false)
        {
            this.key = (byte[])key.Clone();
            aes = Aes.Create();
            aes.Mode = CipherMode.ECB;
            aes.Padding = PaddingMode.None;
            aes.Key = key;
            ecb = aes.CreateEncryptor();
            if (forEncryption)
            {
                if (!forceManaged && PlatformCfbWorks) cfb = NewPlatformCfb(key);
                else
                {
                    managed = new CfbBlockCipher(AesUtilities.CreateEngine(), 128);
                    managed.Init(true, new ParametersWithIV(new KeyParameter(key), new byte[Block]));
                }
            }
        }

        private static ICryptoTransform NewPlatformCfb(byte[] key)
        {
            using (var a = Aes.Create())
            {
                a.Mode = CipherMode.CFB;
                a.FeedbackSize = 128;
                a.Padding = PaddingMode.None;
                return a.CreateEncryptor(key, new byte[Block]);
            }
        }

        private static readonly Lazy<bool> platformCfb = new Lazy<bool>(ProbePlatformCfb);

        /// <summary>True when the runtime does CFB-128 and it gives the bytes the definition does (checked once).</summary>
        public static bool PlatformCfbWorks => platformCfb.Value;

        private static bool ProbePlatformCfb()
        {
            try
            {
                var key = new byte[32];
                for (int i = 0; i < key.Length; i++) key[i] = (byte)(i * 7 + 1);
                var plain = new byte[64];
                for (int i = 0; i < plain.Length; i++) plain[i] = (byte)(i * 13 + 5);
                var got = new byte[64];
                using (var t = NewPlatformCfb(key)) t.TransformBlock(plain, 0, 64, got, 0);
                var want = new byte[64];
                var m = new CfbBlockCipher(AesUtilities.CreateEngine(), 128);
                m.Init(true, new ParametersWithIV(new KeyParameter(key), new byte[Block]));
                for (int i = 0; i < 64; i += Block) m.ProcessBlock(plain, i, want, i);
                for (int i = 0; i < 64; i++) if (got[i] != want[i]) return false;
                return true;
            }
            catch (Exception ex) when (ex is CryptographicException || ex is NotSupportedException || ex is PlatformNotSupportedException)
            {
                return false;
            }
        }

        /// <summary>Encrypts <paramref name="count"/> bytes; only the last call may leave a partial block.</summary>
        public void Encrypt(byte[] input, int inOff, byte[] output, int outOff, int count)
        {
            if (ended) throw new InvalidOperationException("CFB: a partial block was already processed.");
            int full = count & ~(Block - 1);
            if (full > 0)
            {
                if (cfb != null)
                {
                    int done = 0;
                    while (done < full) done += cfb.TransformBlock(input, inOff + done, full - done, output, outOff + done);
                }
                else
                {
                    for (int i = 0; i < full; i += Block) managed.ProcessBlock(input, inOff + i, output, outOff + i);
                }
                Buffer.BlockCopy(output, outOff + full - Block, last, 0, Block);
            }
            int rest = count - full;
            if (rest > 0)
            {
                ecb.TransformBlock(last, 0, Block, stream, 0);
                for (int i = 0; i < rest; i++) output[outOff + full + i] = (byte)(input[inOff + full + i] ^ stream[i]);
                ended = true;
            }
        }

        /// <summary>
        /// Decrypts <paramref name="count"/> bytes into <paramref name="output"/>, which needs room for
        /// <paramref name="count"/> rounded up to a whole block (the key stream of a partial block is computed whole).
        /// Only the last call may leave a partial block. Input and output must not overlap.
        /// </summary>
        public void Decrypt(byte[] input, int inOff, byte[] output, int outOff, int count)
        {
            if (ended) throw new InvalidOperationException("CFB: a partial block was already processed.");
            if (count == 0) return;
            int blocks = (count + Block - 1) / Block;
            ecb.TransformBlock(last, 0, Block, output, outOff);
            if (blocks > 1)
            {
                int n = (blocks - 1) * Block, done = 0;
                while (done < n) done += ecb.TransformBlock(input, inOff + done, n - done, output, outOff + Block + done);
            }
            Xor(output, outOff, input, inOff, count);
            if ((count & (Block - 1)) == 0) Buffer.BlockCopy(input, inOff + count - Block, last, 0, Block);
            else ended = true;
        }

        /// <summary>target[i] ^= source[i] for count bytes.</summary>
        internal static void Xor(byte[] target, int tOff, byte[] source, int sOff, int count)
        {
            var t = new Span<byte>(target, tOff, count);
            var s = new ReadOnlySpan<byte>(source, sOff, count);
            int i = 0;
            if (Vector.IsHardwareAccelerated && count >= Vector<byte>.Count)
            {
                var tv = MemoryMarshal.Cast<byte, Vector<byte>>(t);
                var sv = MemoryMarshal.Cast<byte, Vector<byte>>(s);
                for (int k = 0; k < tv.Length; k++) tv[k] ^= sv[k];
                i = tv.Length * Vector<byte>.Count;
            }
            var tl = MemoryMarshal.Cast<byte, ulong>(t.Slice(i));
            var sl = MemoryMarshal.Cast<byte, ulong>(s.Slice(i));
            for (int k = 0; k < tl.Length; k++) tl[k] ^= sl[k];
            i += tl.Length * 8;
            for (; i < count; i++) t[i] ^= s[i];
        }

        /// <summary>One-shot CFB encryption or decryption of a short buffer (session keys in SKESK packets).</summary>
        public static byte[] Once(byte[] key, byte[] data, bool encrypt)
        {
            var result = new byte[data.Length + Block];
            using (var c = new AesCfb(key, encrypt))
            {
                if (encrypt) c.Encrypt(data, 0, result, 0, data.Length);
                else c.Decrypt(data, 0, result, 0, data.Length);
            }
            var r = new byte[data.Length];
            Buffer.BlockCopy(result, 0, r, 0, r.Length);
            Array.Clear(result, 0, result.Length);
            return r;
        }

        public void Dispose()
        {
            ecb.Dispose();
            cfb?.Dispose();
            aes.Dispose();
            Array.Clear(key, 0, key.Length);
            Array.Clear(last, 0, last.Length);
            Array.Clear(stream, 0, stream.Length);
            cfb = null;
            managed = null;
        }
    }
}
