using System;
using System.IO;
using TursoBackup.Engine.Crypto;

namespace TursoBackup.Engine.IO
{
    /// <summary>
    /// Where an artifact's content (the compressed bytes) is written on its way into a file: encrypted with OpenPGP when
    /// keys are given, and hashed twice then — the stored (encrypted) bytes, so storage can be verified without the key,
    /// and the content itself. Each hash runs on its own thread (<see cref="ParallelHashStream"/>); the file gets early
    /// write-back, so the closing fsync has little left to wait for; encryption runs on a thread of its own
    /// (<see cref="WriteBehindStream"/>). Disposing leaves the file open.
    /// </summary>
    public sealed class ArtifactSink : IDisposable
    {
        private readonly ParallelHashStream stored;
        private readonly Stream encryptor;
        private readonly WriteBehindStream behind;
        private readonly ParallelHashStream plain;
        private bool finished;

        /// <param name="innerName">The file name inside the OpenPGP literal packet (what `gpg --decrypt` would name it).</param>
        public ArtifactSink(FileStream file, EncryptionKeys keys, string innerName)
        {
            stored = new ParallelHashStream(new EarlyWritebackStream(file));
            if (keys != null && keys.Any)
            {
                encryptor = OpenPgp.Encrypt(stored, keys, innerName ?? "");
                // Encryption runs on a thread of its own, beside the compressor that feeds it.
                behind = new WriteBehindStream(encryptor);
                plain = new ParallelHashStream(behind);
            }
        }

        /// <summary>Write the artifact's content here (e.g. the compressor's output).</summary>
        public Stream Content => (Stream)plain ?? stored;

        public bool Encrypted => encryptor != null;

        /// <summary>
        /// Ends the content (the OpenPGP packets and their integrity check are written) and returns the SHA-256 of the
        /// stored bytes and of the content, lowercase hex; the same value twice when nothing is encrypted.
        /// </summary>
        public (string StoredSha256, string ContentSha256) Finish()
        {
            if (finished) throw new InvalidOperationException("The artifact was finished already.");
            finished = true;
            if (encryptor == null)
            {
                string sha = stored.Finish();
                return (sha, sha);
            }
            string content = plain.Finish();
            behind.Finish();
            encryptor.Dispose();
            return (stored.Finish(), content);
        }

        public void Dispose()
        {
            plain?.Dispose();
            behind?.Dispose();
            if (!finished && encryptor != null)
            {
                // An abandoned artifact (the caller failed): its file is discarded, so a failure to end its packets is not news.
                try { encryptor.Dispose(); }
                catch (IOException) { }
            }
            stored.Dispose();
        }
    }
}
