using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using TursoBackup.Engine.Crypto;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Vault
{
    /// <summary>
    /// Key rotation of an encrypted backup (Update-TursoBackupKey): the session key of its artifact is re-wrapped for a
    /// new passphrase and/or recipients, the encrypted body is copied byte for byte (not re-encrypted), and the manifest
    /// records the new key facts, the new stored SHA-256 and when. Crash-safe: the re-wrapped artifact is written under a
    /// new name (temporary name, fsync, rename), the manifest is then replaced atomically to name it, and only then is the
    /// old artifact removed — at every moment the manifest names an artifact that matches it. A file the old key opens
    /// that a crash left behind is removed by the next rotation of the backup.
    /// </summary>
    public static class BackupKeyRotation
    {
        private static readonly Regex Generation = new Regex(@"^(?<inner>.+?)(\.k(?<n>\d+))?\.gpg$", RegexOptions.CultureInvariant);

        /// <summary>Re-wraps <paramref name="backup"/>'s keys; returns the backup as its manifest now says.</summary>
        public static BackupInfo Rewrap(BackupInfo backup, DecryptionKeys current, EncryptionKeys next, DateTimeOffset now, Action<string> log = null)
        {
            if (next == null || !next.Any) throw new ArgumentException("No new passphrase or recipient.", nameof(next));
            string what = Restore.BackupMaterializer.Describe(backup);
            if (!backup.Encrypted)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"{Capital(what)} is not encrypted, so it has no key to re-wrap. Copy it encrypted (Copy-TursoBackup -Passphrase|-Recipient) or back the database up with -Passphrase or -Recipient.", backup.Id) { ErrorId = "NotEncrypted" };
            }
            string dir = Path.GetDirectoryName(backup.Location);
            string manifestPath = Path.Combine(dir, BackupManifest.FileName);
            string oldName = Path.GetFileName(backup.Location);
            var m = Generation.Match(oldName);
            string inner = m.Success ? m.Groups["inner"].Value : ArtifactStreams.InnerName(oldName);
            int n = m.Success && m.Groups["n"].Success ? int.Parse(m.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
            string newName = $"{inner}.k{n + 1}{ArtifactStreams.EncryptedExtension}";
            string newPath = Path.Combine(dir, newName);
            RemoveLeftovers(dir, oldName, log);

            string temp = Path.Combine(dir, "." + newName + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".partial");
            string storedSha, readSha;
            try
            {
                using (var input = new FileStream(backup.Location, FileMode.Open, FileAccess.Read, FileShare.Read, ArtifactStreams.BufferSize, FileOptions.SequentialScan))
                using (var reading = new ParallelHashReadStream(input))
                using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
                {
                    OwnerOnly.File(temp);
                    using (var writing = new ParallelHashStream(new EarlyWritebackStream(output)))
                    {
                        OpenPgp.Rewrap(reading, writing, current ?? new DecryptionKeys(), next, what);
                        storedSha = writing.Finish();
                    }
                    readSha = reading.Finish();
                    output.Flush(true);
                }
                if (!string.Equals(readSha, backup.Sha256, StringComparison.OrdinalIgnoreCase))
                {
                    // The body copied as it is would carry the damage: refuse, keep the backup as it was.
                    throw Restore.BackupMaterializer.Damaged(backup, readSha);
                }
                File.Move(temp, newPath);
                DurableFile.FlushDirectory(dir);
            }
            finally
            {
                DurableFile.TryDelete(temp);
            }

            var updated = new BackupInfo();
            CopyInto(backup, updated);
            updated.Location = newPath;
            updated.Sha256 = storedSha;
            updated.StoredBytes = new FileInfo(newPath).Length;
            updated.Encryption = EncryptionInfo.OfFile(newPath);
            updated.Encryption.RewrappedAt = now;
            DurableFile.WriteAllText(manifestPath, BackupManifest.ToJson(updated, newName, Backup.SnapshotBackup.ToolVersion));
            DurableFile.TryDelete(backup.Location);
            DurableFile.FlushDirectory(dir);
            log?.Invoke($"Re-wrapped the key of {what} for {updated.Encryption}: '{newName}' replaces '{oldName}' (the encrypted body is unchanged).");
            return updated;
        }

        /// <summary>Encrypted artifacts in a backup's folder that its manifest does not name (a rotation stopped before its last step).</summary>
        private static void RemoveLeftovers(string dir, string current, Action<string> log)
        {
            foreach (var f in Directory.GetFiles(dir, "*" + ArtifactStreams.EncryptedExtension))
            {
                if (string.Equals(Path.GetFileName(f), current, StringComparison.Ordinal)) continue;
                log?.Invoke($"Removing '{f}', left by a key rotation that did not finish (its manifest names '{current}').");
                DurableFile.TryDelete(f);
            }
        }

        private static void CopyInto(BackupInfo from, BackupInfo to)
        {
            foreach (var p in typeof(BackupInfo).GetProperties().Where(p => p.CanRead && p.CanWrite)) p.SetValue(to, p.GetValue(from));
        }

        private static string Capital(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s.Substring(1);
    }
}
