using System;
using System.IO;
using System.IO.Compression;
using System.Security.Cryptography;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.IO
{
    /// <summary>Streaming compression, hashing and copying for vault artifacts. Memory stays flat: fixed buffers.</summary>
    public static class ArtifactStreams
    {
        public const int BufferSize = 1 << 20;

        public static string ArtifactFileName(string database, BackupKind kind, CompressionKind compression, bool encrypted = false) =>
            kind == BackupKind.Incremental ? database + Incremental.PageMap.Extension
            : database + (kind == BackupKind.Dump ? ".sql" : ".db") + Extension(compression) + (encrypted ? EncryptedExtension : "");

        /// <summary>The suffix of an OpenPGP-encrypted artifact (what `gpg --decrypt` opens).</summary>
        public const string EncryptedExtension = ".gpg";

        public static string Extension(CompressionKind compression) =>
            compression == CompressionKind.Gzip ? ".gz" : compression == CompressionKind.Zstd ? ".zst" : "";

        /// <summary>Zstandard level for artifacts (docs/decisions.md: chosen from the benchmark).</summary>
        public static int ZstdLevel { get; set; } = -1;

        /// <summary>Zstandard worker threads (0 = compress on the calling thread).</summary>
        public static int ZstdWorkers { get; set; } = Math.Min(4, Environment.ProcessorCount);

        /// <param name="workers">Zstandard worker threads; null: <see cref="ZstdWorkers"/>. Small, frequent pieces (WAL segments)
        /// pass 0: starting workers costs more than it saves there.</param>
        /// <param name="level">Zstandard level; null: <see cref="ZstdLevel"/> (negative levels are zstd's fast modes).</param>
        public static Stream Compress(Stream destination, CompressionKind compression, int? workers = null, int? level = null)
        {
            switch (compression)
            {
                case CompressionKind.None: return new NonClosingStream(destination);
                case CompressionKind.Gzip: return new GZipStream(destination, CompressionLevel.Fastest, leaveOpen: true);
                case CompressionKind.Zstd:
                    var zstd = new ZstdSharp.CompressionStream(destination, level ?? ZstdLevel, BufferSize, leaveOpen: true);
                    int threads = workers ?? ZstdWorkers;
                    if (threads > 0) zstd.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_nbWorkers, threads);
                    return zstd;
                default: throw new ArgumentOutOfRangeException(nameof(compression));
            }
        }

        public static Stream Decompress(Stream source, CompressionKind compression)
        {
            switch (compression)
            {
                case CompressionKind.None: return new NonClosingStream(source);
                case CompressionKind.Gzip: return new GZipStream(source, CompressionMode.Decompress, leaveOpen: true);
                case CompressionKind.Zstd: return new ZstdSharp.DecompressionStream(source, BufferSize, checkEndOfStream: true, leaveOpen: true);
                default: throw new ArgumentOutOfRangeException(nameof(compression));
            }
        }

        /// <summary>
        /// Copies a file into a compressed (and, with <paramref name="keys"/>, encrypted) artifact; returns the stored bytes,
        /// the SHA-256 of what was stored and of the content before encryption (equal when not encrypted).
        /// </summary>
        public static (long Bytes, string Sha256, string ContentSha256) WriteArtifact(string sourceFile, string artifactPath, CompressionKind compression,
            Action<long> onProgress, Crypto.EncryptionKeys keys = null)
        {
            using (var output = new FileStream(artifactPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
            {
                OwnerOnly.File(artifactPath);
                (string Stored, string Content) sha;
                using (var sink = new ArtifactSink(output, keys, InnerName(artifactPath)))
                {
                    using (var compressor = Compress(sink.Content, compression))
                    using (var input = new FileStream(sourceFile, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan))
                    {
                        Pump(input, compressor, onProgress);
                    }
                    sha = sink.Finish();
                }
                output.Flush(true);
                return (output.Length, sha.Stored, sha.Content);
            }
        }

        /// <summary>The name inside an encrypted artifact: its own file name without ".gpg" (what gpg writes it out as).</summary>
        public static string InnerName(string artifactPath)
        {
            string name = Path.GetFileName(artifactPath);
            return name.EndsWith(EncryptedExtension, StringComparison.OrdinalIgnoreCase) ? name.Substring(0, name.Length - EncryptedExtension.Length) : name;
        }

        /// <summary>Reads a file once: its SHA-256, and fsync of its data.</summary>
        public static string HashAndFlush(string path, Action<long> onProgress)
        {
            OwnerOnly.File(path);
            using (var sha = SHA256.Create())
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read, BufferSize, FileOptions.SequentialScan))
            {
                var buffer = new byte[BufferSize];
                long done = 0;
                int n;
                while ((n = fs.Read(buffer, 0, buffer.Length)) > 0)
                {
                    sha.TransformBlock(buffer, 0, n, null, 0);
                    done += n;
                    onProgress?.Invoke(done);
                }
                sha.TransformFinalBlock(buffer, 0, 0);
                fs.Flush(true);
                return Hex.Of(sha.Hash);
            }
        }

        public static string HashFile(string path)
        {
            using (var sha = SHA256.Create())
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan))
            {
                return Hex.Of(sha.ComputeHash(fs));
            }
        }

        /// <summary>
        /// Reads a stored artifact once: hashes every stored byte as it is read, decompresses, and hands the content
        /// to <paramref name="consume"/>. Returns the SHA-256 of the stored artifact. Corrupt compressed data is an
        /// InvalidData failure.
        /// </summary>
        /// <param name="decryption">When set, the stored artifact is OpenPGP-encrypted: it is decrypted with these keys
        /// (a wrong or missing key fails before <paramref name="consume"/> sees a byte; damage fails by the end).</param>
        /// <param name="what">Names the artifact in decryption errors ("backup X of 'main'").</param>
        /// <param name="contentSha256">When set (and decrypting), receives the SHA-256 of the decrypted content, read to its end.</param>
        public static string ReadArtifact(string artifactPath, CompressionKind compression, Action<Stream> consume,
            Crypto.DecryptionKeys decryption = null, string what = null, Action<string> contentSha256 = null)
        {
            using (var input = new FileStream(artifactPath, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan))
            using (var hashing = new ParallelHashReadStream(input))
            using (var clear = decryption != null ? Crypto.OpenPgp.Decrypt(hashing, decryption, what ?? $"'{artifactPath}'") : null)
            using (var clearHashing = clear != null && contentSha256 != null ? new ParallelHashReadStream(clear) : null)
            // Decryption runs on a thread of its own, ahead of the decompressor.
            using (var ahead = clear != null ? new ReadAheadStream((Stream)clearHashing ?? clear) : null)
            {
                using (var decompressor = Decompress((Stream)ahead ?? hashing, compression))
                {
                    try
                    {
                        consume(decompressor);
                    }
                    catch (Exception ex) when (ex is InvalidDataException || ex is ZstdSharp.ZstdException || ex is EndOfStreamException)
                    {
                        throw new TursoBackupException(FailureKind.InvalidData,
                            $"The backup artifact '{artifactPath}' could not be decompressed ({ex.Message}). It is damaged; restore an older backup.", artifactPath, ex);
                    }
                }
                // The integrity check (MDC) of encrypted data is read at its end, which the decompressor may not reach.
                if (ahead != null) Drain(ahead);
                if (clearHashing != null) contentSha256(clearHashing.Finish());
                // The checksum covers every stored byte, read or not by the decompressor.
                return hashing.Finish();
            }
        }

        /// <summary>Reads a stream to its end.</summary>
        public static void Drain(Stream stream)
        {
            var rest = new byte[1 << 16];
            while (stream.Read(rest, 0, rest.Length) > 0) { }
        }

        /// <summary>
        /// Writes <paramref name="content"/> into <paramref name="destinationFile"/> (a new or empty temporary file), fsynced.
        /// The reading side (the decompressor) runs on this thread while a second thread writes 1 MiB blocks behind it, with
        /// write-back started every 16 MiB (sync_file_range on Linux), so the one fsync at the end finds little left to do.
        /// </summary>
        public static long WriteNewFile(Stream content, string destinationFile, Action<long> onProgress)
        {
            using (var output = new FileStream(destinationFile, FileMode.Create, FileAccess.Write, FileShare.None, 1))
            {
                using (var behind = new WriteBehindStream(new EarlyWritebackStream(output)))
                {
                    Pump(content, behind, onProgress);
                    behind.Finish();
                }
                output.Flush(true);
                return output.Length;
            }
        }

        public static long Pump(Stream input, Stream output, Action<long> onProgress)
        {
            var buffer = new byte[BufferSize];
            long done = 0;
            int n;
            while ((n = input.Read(buffer, 0, buffer.Length)) > 0)
            {
                output.Write(buffer, 0, n);
                done += n;
                onProgress?.Invoke(done);
            }
            return done;
        }

        /// <summary>Wraps a stream so that disposing the wrapper leaves the inner stream open.</summary>
        internal sealed class NonClosingStream : Stream
        {
            private readonly Stream inner;
            public NonClosingStream(Stream inner) { this.inner = inner; }
            public override bool CanRead => inner.CanRead;
            public override bool CanSeek => false;
            public override bool CanWrite => inner.CanWrite;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override void Flush() => inner.Flush();
            public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        }
    }
}
