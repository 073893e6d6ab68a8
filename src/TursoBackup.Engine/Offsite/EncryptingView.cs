using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using TursoBackup.Engine.Crypto;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Wal;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>
    /// A local vault as it is sent offsite encrypted ("encrypt on the way", Copy-TursoBackup / Sync-TursoVault
    /// -Passphrase|-Recipient): every plain unit — a backup, a WAL generation — appears encrypted, the rest as it is.
    /// The encrypted copies are made once, in a staging folder inside the vault that is never copied
    /// (<c>.offsite-encrypted/&lt;destination&gt;/</c>, a name per destination), and kept: the same ciphertext is offered at
    /// every sync, so a second sync copies nothing and a destination verifies what it holds against the same checksums.
    /// A backup's staged manifest says it is encrypted, names the .gpg artifact and records the SHA-256 of the encrypted
    /// bytes and, as its plaintext SHA-256, the SHA-256 the plain manifest records; a WAL generation's snapshot.json the
    /// same. A unit whose plain files do not match their own checksums is not offered (it is reported in
    /// <see cref="Problems"/>). Files of units gone from the vault are removed from the staging folder.
    /// </summary>
    public sealed class EncryptingView : IObjectStore
    {
        /// <summary>The hidden folder of a vault that holds the encrypted copies for each destination.</summary>
        public const string StagingFolder = ".offsite-encrypted";

        private readonly DirectoryStore source;
        private readonly DirectoryStore staged;
        private readonly EncryptionKeys keys;
        private readonly HashSet<string> stagedUnits = new HashSet<string>(StringComparer.Ordinal);
        private readonly HashSet<string> refusedUnits = new HashSet<string>(StringComparer.Ordinal);

        /// <param name="destinationName">The destination's display name: its staging folder is named by its hash.</param>
        public EncryptingView(DirectoryStore source, string destinationName, EncryptionKeys keys)
        {
            this.source = source ?? throw new ArgumentNullException(nameof(source));
            this.keys = keys != null && keys.Any ? keys : throw new ArgumentException("No key to encrypt for.", nameof(keys));
            string name;
            using (var sha = SHA256.Create()) name = Hex.Of(sha.ComputeHash(Encoding.UTF8.GetBytes(destinationName ?? ""))).Substring(0, 16);
            StagingRoot = Path.Combine(source.Root, StagingFolder, name);
            OwnerOnly.CreateDirectory(Path.Combine(source.Root, StagingFolder));
            OwnerOnly.CreateDirectory(StagingRoot);
            staged = new DirectoryStore(StagingRoot);
        }

        public string StagingRoot { get; }

        public Action<string> Log { get; set; }

        /// <summary>Units not offered, with why (their plain files do not match their checksums).</summary>
        public List<KeyValuePair<string, string>> Problems { get; } = new List<KeyValuePair<string, string>>();

        public string DisplayName => source.DisplayName + " (encrypted on the way)";

        /// <summary>Makes the encrypted copies of the plain units <paramref name="filter"/> accepts that are not staged yet.</summary>
        public void Prepare(Func<string, bool> filter, CancellationToken cancel)
        {
            var all = source.List("", cancel).Where(o => VaultKeys.Role(o.Key) != VaultObjectRole.NotCopied).ToList();
            var byUnit = all.GroupBy(o => VaultKeys.Unit(o.Key), StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
            int made = 0;
            foreach (var unit in byUnit)
            {
                cancel.ThrowIfCancellationRequested();
                if (filter != null && !unit.Value.Any(o => filter(o.Key))) continue;
                var parts = unit.Key.Split('/');
                if (parts[0] == Incremental.PageStore.Folder || unit.Value.Any(o => o.Key.EndsWith(Incremental.PageMap.Extension, StringComparison.Ordinal)))
                {
                    // Pages shared between backups have no encryption yet: never sent in the clear where encryption was asked.
                    refusedUnits.Add(unit.Key);
                    Problems.Add(new KeyValuePair<string, string>(unit.Key, "it is an Incremental backup (or its page store), which is not encrypted on the way yet; send it without -Passphrase/-Recipient to a destination you trust, or keep Snapshot backups for encrypted offsite copies"));
                    continue;
                }
                try
                {
                    if (parts[0] == "databases" && parts.Length == 3 && unit.Value.Any(o => o.Key.EndsWith("/" + BackupManifest.FileName, StringComparison.Ordinal)))
                    {
                        if (StageBackup(unit.Key, ref made)) stagedUnits.Add(unit.Key);
                    }
                    else if (parts[0] == "wal" && parts.Length == 4 && unit.Value.Any(o => o.Key.EndsWith("/snapshot.json", StringComparison.Ordinal)))
                    {
                        if (StageGeneration(unit.Key, unit.Value, ref made)) stagedUnits.Add(unit.Key);
                    }
                }
                catch (Exception ex) when (ex is IOException || ex is FormatException || ex is InvalidCastException || ex is KeyNotFoundException || ex is UnauthorizedAccessException)
                {
                    refusedUnits.Add(unit.Key);
                    Problems.Add(new KeyValuePair<string, string>(unit.Key, $"it could not be encrypted for the destination ({ex.Message})"));
                }
            }
            Prune(byUnit.Keys);
            Log?.Invoke($"Encrypted {made} file(s) for the destination in '{StagingRoot}'; {stagedUnits.Count} plain unit(s) are sent encrypted.");
        }

        /// <summary>A backup: false when it is encrypted already (sent as it is).</summary>
        private bool StageBackup(string unit, ref int made)
        {
            string dir = Path.Combine(source.Root, unit.Replace('/', Path.DirectorySeparatorChar));
            string manifestPath = Path.Combine(dir, BackupManifest.FileName);
            var backup = BackupManifest.FromJson(File.ReadAllText(manifestPath), source.Root, dir);
            if (backup.Encrypted) return false;
            string stagedDir = Path.Combine(StagingRoot, unit.Replace('/', Path.DirectorySeparatorChar));
            string stagedManifest = Path.Combine(stagedDir, BackupManifest.FileName);
            if (File.Exists(stagedManifest)) return true; // staged by an earlier sync (the manifest is written last)
            string fileName = Path.GetFileName(backup.Location) + ArtifactStreams.EncryptedExtension;
            string target = Path.Combine(stagedDir, fileName);
            OwnerOnly.CreateDirectory(stagedDir);
            var (stored, storedSha, contentSha) = EncryptFile(backup.Location, target);
            if (!string.Equals(contentSha, backup.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                DurableFile.TryDelete(target);
                refusedUnits.Add(unit);
                Problems.Add(new KeyValuePair<string, string>(unit, $"its artifact '{backup.Location}' does not match its manifest's SHA-256 (it is damaged here; run Test-Backup); it was not sent"));
                return false;
            }
            made++;
            backup.Encrypted = true;
            backup.Encryption = EncryptionInfo.OfFile(target);
            backup.PlaintextSha256 = backup.Sha256;
            backup.Sha256 = storedSha;
            backup.StoredBytes = stored;
            DurableFile.WriteAllText(stagedManifest, BackupManifest.ToJson(backup, fileName, Backup.SnapshotBackup.ToolVersion));
            return true;
        }

        /// <summary>A WAL generation: its snapshot and every segment file or pack; false when it is encrypted already.</summary>
        private bool StageGeneration(string unit, List<StoredObject> files, ref int made)
        {
            string dir = Path.Combine(source.Root, unit.Replace('/', Path.DirectorySeparatorChar));
            var info = (Dictionary<string, object>)Json.Parse(File.ReadAllText(Path.Combine(dir, "snapshot.json")));
            if (info.TryGetValue("encrypted", out var e) && e is bool b && b) return false;
            string stagedDir = Path.Combine(StagingRoot, unit.Replace('/', Path.DirectorySeparatorChar));
            string stagedInfo = Path.Combine(stagedDir, "snapshot.json");
            OwnerOnly.CreateDirectory(stagedDir);
            if (!File.Exists(stagedInfo))
            {
                string target = Path.Combine(stagedDir, "snapshot.db.zst");
                var (stored, storedSha, contentSha) = EncryptFile(Path.Combine(dir, "snapshot.db.zst"), target);
                if (!string.Equals(contentSha, info["sha256"] as string, StringComparison.OrdinalIgnoreCase))
                {
                    DurableFile.TryDelete(target);
                    refusedUnits.Add(unit);
                    Problems.Add(new KeyValuePair<string, string>(unit, "its snapshot does not match its snapshot.json's SHA-256 (it is damaged here); it was not sent"));
                    return false;
                }
                info["plaintextSha256"] = info["sha256"];
                info["sha256"] = storedSha;
                info["encrypted"] = true;
                DurableFile.WriteAllText(stagedInfo, Json.Write(info));
                made++;
            }
            // Segment files and packs: each one once; a damaged one is left out (the destination then lacks it, as a
            // plain copy would be refused there too).
            foreach (var f in files.Where(o => o.Key.EndsWith(".seg", StringComparison.Ordinal) || o.Key.EndsWith(".pack", StringComparison.Ordinal)))
            {
                string stagedFile = Path.Combine(StagingRoot, f.Key.Replace('/', Path.DirectorySeparatorChar));
                if (File.Exists(stagedFile)) continue;
                string src = Path.Combine(source.Root, f.Key.Replace('/', Path.DirectorySeparatorChar));
                if (!File.Exists(src)) continue; // packed meanwhile
                if (WalSegment.WriteEncryptedCopy(src, stagedFile, keys)) made++;
                else Log?.Invoke($"{f.Key} is damaged or not a WAL segment: not sent.");
            }
            // Mutable files of the generation are not in it (they are the database's); nothing else to stage.
            return true;
        }

        /// <summary>Encrypts a file's bytes as they are (no compression: they are compressed already).</summary>
        private (long Bytes, string Sha256, string ContentSha256) EncryptFile(string plainPath, string target)
        {
            string temp = target + ".partial";
            try
            {
                (string Stored, string Content) sha;
                long length;
                using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1))
                {
                    OwnerOnly.File(temp);
                    using (var sink = new ArtifactSink(output, keys, Path.GetFileName(plainPath)))
                    {
                        using (var input = new FileStream(plainPath, FileMode.Open, FileAccess.Read, FileShare.Read, ArtifactStreams.BufferSize, FileOptions.SequentialScan))
                        {
                            ArtifactStreams.Pump(input, sink.Content, null);
                        }
                        sha = sink.Finish();
                    }
                    output.Flush(true);
                    length = output.Length;
                }
                File.Move(temp, target);
                DurableFile.FlushDirectory(Path.GetDirectoryName(target));
                return (length, sha.Stored, sha.Content);
            }
            finally
            {
                DurableFile.TryDelete(temp);
            }
        }

        /// <summary>Removes staged units (and staged segment files) that the vault no longer holds.</summary>
        private void Prune(IEnumerable<string> liveUnits)
        {
            var live = new HashSet<string>(liveUnits, StringComparer.Ordinal);
            foreach (var o in staged.List("", CancellationToken.None).ToList())
            {
                string unit = VaultKeys.Unit(o.Key);
                bool gone = !live.Contains(unit) || ((o.Key.EndsWith(".seg", StringComparison.Ordinal) || o.Key.EndsWith(".pack", StringComparison.Ordinal))
                                                     && !File.Exists(Path.Combine(source.Root, o.Key.Replace('/', Path.DirectorySeparatorChar))));
                if (gone) DurableFile.TryDelete(Path.Combine(StagingRoot, o.Key.Replace('/', Path.DirectorySeparatorChar)));
            }
        }

        private bool Staged(string key) => stagedUnits.Contains(VaultKeys.Unit(key));

        public void Probe(CancellationToken cancel) => source.Probe(cancel);

        public IEnumerable<StoredObject> List(string prefix, CancellationToken cancel)
        {
            foreach (var o in source.List(prefix, cancel))
            {
                string unit = VaultKeys.Unit(o.Key);
                if (refusedUnits.Contains(unit)) continue;
                // A staged generation's mutable files (none live inside a generation) and a staged unit's plain files are replaced.
                if (!stagedUnits.Contains(unit)) yield return o;
            }
            foreach (var o in staged.List(prefix, cancel))
            {
                if (Staged(o.Key)) yield return o;
            }
        }

        public StoredObject Stat(string key, CancellationToken cancel) => Staged(key) ? staged.Stat(key, cancel) : source.Stat(key, cancel);

        public Stream OpenRead(string key, CancellationToken cancel) => Staged(key) ? staged.OpenRead(key, cancel) : source.OpenRead(key, cancel);

        public StoredObject Put(string key, Stream content, long length, string sha256, Action<long> progress, CancellationToken cancel) =>
            throw new NotSupportedException("An encrypting view is read from only.");

        public void Delete(string key, CancellationToken cancel) => throw new NotSupportedException("An encrypting view is read from only.");

        /// <summary>The source store is its owner's to dispose.</summary>
        public void Dispose() => staged.Dispose();
    }
}
