using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>
    /// A remote vault (Azure Blob, S3, SFTP) made readable by every read command: a local mirror of it (the cache,
    /// <see cref="OffsitePaths.CacheRoot"/>/&lt;kind-hash&gt;/, a vault folder like any other) that holds the vault's
    /// manifests, verification logs and WAL metadata after <see cref="Refresh"/>, and a backup's artifacts
    /// (<see cref="FetchBackup"/>) or a database's whole WAL archive (<see cref="FetchWal"/>) once a command needs them.
    /// What is fetched is checked on the way (artifacts and WAL snapshots against the SHA-256 their manifests record);
    /// restores then verify everything again as they do for any vault. What the remote vault no longer holds (its
    /// retention removed it) is removed from the mirror at the next refresh. The mirror is never written to the remote
    /// vault except by <see cref="PushVerifications"/>.
    /// </summary>
    public sealed class OffsiteVault : IDisposable
    {
        private static readonly ConcurrentDictionary<string, OffsiteVault> Open = new ConcurrentDictionary<string, OffsiteVault>(StringComparer.Ordinal);
        private readonly DirectoryStore mirror;
        private readonly object gate = new object();
        private Dictionary<string, StoredObject> remote;

        private OffsiteVault(OffsiteAddress address, IObjectStore store, string cacheRoot)
        {
            Address = address;
            Store = store;
            CacheRoot = Path.Combine(cacheRoot, address.CacheName);
            mirror = new DirectoryStore(CacheRoot);
        }

        public OffsiteAddress Address { get; }

        public IObjectStore Store { get; }

        /// <summary>The local mirror: a vault folder the read commands open as they open any vault.</summary>
        public string CacheRoot { get; }

        public Action<string> Log { get; set; }

        /// <summary>What the connection was opened with (for other vaults of the same server).</summary>
        internal OffsiteOptions Options { get; private set; }

        /// <summary>
        /// The session's connection to the remote vault <paramref name="address"/> names (opened with
        /// <paramref name="options"/> the first time, or again when <paramref name="reopen"/>: new credentials).
        /// </summary>
        public static OffsiteVault Connect(OffsiteAddress address, OffsiteOptions options, bool reopen = false, string cacheRoot = null)
        {
            string key = address.DisplayName;
            if (!reopen && Open.TryGetValue(key, out var existing)) return existing;
            if (!reopen)
            {
                // Another vault on a server this session already reached (same account, bucket, or user@host:port): its
                // credentials and pinned host key serve this one too.
                var sibling = Open.Values.FirstOrDefault(v => v.Address.Kind == address.Kind && v.Address.ServerName == address.ServerName);
                if (sibling?.Options != null) options = sibling.Options;
            }
            var store = address.Open(options);
            var vault = new OffsiteVault(address, store, cacheRoot ?? OffsitePaths.CacheRoot(options?.GetEnvironment)) { Log = options?.Log, Options = options };
            Open.AddOrUpdate(key, vault, (k, old) =>
            {
                old.Store.Dispose();
                return vault;
            });
            return vault;
        }

        /// <summary>A remote vault over <paramref name="store"/> (any store, a folder in the tests), mirrored under <paramref name="cacheRoot"/>; not registered as open.</summary>
        internal static OffsiteVault ForTests(IObjectStore store, string cacheRoot, string address = "sftp://test@127.0.0.1/vault") =>
            new OffsiteVault(OffsiteAddress.Parse(address), store, cacheRoot);

        /// <summary>The open remote vault whose mirror is <paramref name="cacheRoot"/> (a BackupInfo's Vault), or null.</summary>
        public static OffsiteVault ForMirror(string cacheRoot)
        {
            if (string.IsNullOrEmpty(cacheRoot)) return null;
            string full = Path.GetFullPath(cacheRoot).TrimEnd(Path.DirectorySeparatorChar);
            return Open.Values.FirstOrDefault(v => string.Equals(v.CacheRoot.TrimEnd(Path.DirectorySeparatorChar), full, StringComparison.Ordinal));
        }

        /// <summary>
        /// Lists the remote vault and brings the mirror's manifests, verification logs and WAL metadata up to date with it
        /// (and removes from the mirror what the remote vault no longer holds). A remote that is no vault is an error.
        /// </summary>
        public void Refresh(CancellationToken cancel = default(CancellationToken))
        {
            lock (gate)
            {
                Store.Probe(cancel);
                var listed = new Dictionary<string, StoredObject>(StringComparer.Ordinal);
                foreach (var o in Store.List("", cancel))
                {
                    if (VaultKeys.Role(o.Key) != VaultObjectRole.NotCopied) listed[o.Key] = o;
                }
                if (!listed.ContainsKey("vault.json") && !listed.Keys.Any(k => k.StartsWith("databases/", StringComparison.Ordinal) || k.StartsWith("wal/", StringComparison.Ordinal)))
                {
                    throw new TursoBackupException(FailureKind.NotFound,
                        $"'{Address.DisplayName}' holds no TursoBackup vault (no vault.json). Check the address, or copy a vault there first with Sync-TursoVault -Source <vault> -Destination '{Address.DisplayName}'.",
                        Address.DisplayName) { ErrorId = "VaultNotFound" };
                }
                remote = listed;
                mirror.CreateRoot();
                var have = mirror.List("", cancel).Where(o => VaultKeys.Role(o.Key) != VaultObjectRole.NotCopied).ToDictionary(o => o.Key, StringComparer.Ordinal);
                int fetched = 0;
                foreach (var o in listed.Values)
                {
                    var role = VaultKeys.Role(o.Key);
                    if (role == VaultObjectRole.Immutable) continue; // artifacts, snapshots and segments come on demand
                    bool current = have.TryGetValue(o.Key, out var local) && local.Length == o.Length
                                   && (role == VaultObjectRole.Marker || role == VaultObjectRole.Commit || role == VaultObjectRole.PackIndex
                                       || (o.Sha256 != null && string.Equals(o.Sha256, DirectoryStore.Sha256Of(mirror.PathOf(o.Key), cancel), StringComparison.OrdinalIgnoreCase)));
                    if (current) continue;
                    Fetch(o, o.Sha256, cancel, null);
                    fetched++;
                }
                int removed = 0;
                foreach (var stale in have.Keys.Where(k => !listed.ContainsKey(k)).ToList())
                {
                    mirror.Delete(stale, cancel);
                    removed++;
                }
                // The mirror's index is a cache of its manifests: rebuilt from them after they changed.
                if (fetched > 0 || removed > 0)
                {
                    foreach (var db in Directory.Exists(Path.Combine(CacheRoot, BackupVault.DatabasesFolder)) ? Directory.GetDirectories(Path.Combine(CacheRoot, BackupVault.DatabasesFolder)) : new string[0])
                    {
                        DurableFile.TryDelete(Path.Combine(db, BackupIndex.FileName));
                    }
                }
                Log?.Invoke($"Offsite vault {Address.DisplayName}: {listed.Count} object(s); {fetched} metadata file(s) fetched, {removed} removed from the local mirror {CacheRoot}.");
            }
        }

        /// <summary>Fetches the artifact(s) of <paramref name="backup"/> (a backup listed from the mirror) that the mirror lacks, checked against its manifest.</summary>
        public void FetchBackup(BackupInfo backup, Action<long, long> progress = null, CancellationToken cancel = default(CancellationToken))
        {
            string unit = BackupVault.DatabasesFolder + "/" + backup.Database + "/" + backup.Id + "/";
            string artifact = backup.Location == null ? null : unit + Path.GetFileName(backup.Location);
            FetchUnder(unit, k => k == artifact ? backup.Sha256 : null, progress, cancel);
            // An Incremental backup's pages: the store's packs the mirror lacks (their indexes came with the metadata).
            if (backup.Kind == BackupKind.Incremental) FetchUnder(Incremental.PageStore.Folder + "/" + backup.Database + "/", _ => null, progress, cancel);
        }

        /// <summary>Fetches everything of <paramref name="database"/>'s WAL archive that the mirror lacks (snapshots checked against their snapshot.json).</summary>
        public void FetchWal(string database, Action<long, long> progress = null, CancellationToken cancel = default(CancellationToken))
        {
            BackupVault.ValidateDatabaseName(database);
            string prefix = Wal.WalArchiveLayout.Folder + "/" + database + "/";
            var layout = new Wal.WalArchiveLayout(CacheRoot, database);
            FetchUnder(prefix, k =>
            {
                if (!k.EndsWith("/snapshot.db.zst", StringComparison.Ordinal)) return null;
                string info = Path.Combine(CacheRoot, k.Substring(0, k.Length - "snapshot.db.zst".Length).Replace('/', Path.DirectorySeparatorChar), "snapshot.json");
                try
                {
                    return File.Exists(info) && Json.Parse(File.ReadAllText(info)) is Dictionary<string, object> d && d.TryGetValue("sha256", out var s) ? s as string : null;
                }
                catch (FormatException)
                {
                    return null;
                }
            }, progress, cancel);
        }

        /// <summary>Sends the mirror's verification log of <paramref name="database"/> (after a Test-Backup of a backup of this vault) to the remote vault.</summary>
        public void PushVerifications(string database, CancellationToken cancel = default(CancellationToken))
        {
            string key = BackupVault.DatabasesFolder + "/" + database + "/" + Verification.VerificationLog.FileName;
            string path = mirror.PathOf(key);
            if (!File.Exists(path)) return;
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                Store.Put(key, fs, fs.Length, DirectoryStore.Sha256Of(path, cancel), null, cancel);
            }
        }

        private void FetchUnder(string prefix, Func<string, string> expectedSha, Action<long, long> progress, CancellationToken cancel)
        {
            lock (gate)
            {
                if (remote == null) Refresh(cancel);
                var need = new List<StoredObject>();
                foreach (var o in remote.Values.Where(v => v.Key.StartsWith(prefix, StringComparison.Ordinal)).OrderBy(v => v.Key, StringComparer.Ordinal))
                {
                    var local = mirror.Stat(o.Key, cancel);
                    if (local != null && local.Length == o.Length)
                    {
                        // A mirrored artifact is used only while it still matches its manifest (a mirror on a failing
                        // disk, or damaged by hand, is fetched again rather than failing every restore).
                        string want = expectedSha(o.Key);
                        if (want == null || string.Equals(want, DirectoryStore.Sha256Of(mirror.PathOf(o.Key), cancel), StringComparison.OrdinalIgnoreCase)) continue;
                        Log?.Invoke($"The mirrored {o.Key} no longer matches its manifest: fetching it again from {Address.DisplayName}.");
                    }
                    need.Add(o);
                }
                long total = need.Sum(o => o.Length), done = 0;
                foreach (var o in need)
                {
                    long start = done;
                    Fetch(o, expectedSha(o.Key) ?? o.Sha256, cancel, n => progress?.Invoke(start + n, total));
                    done += o.Length;
                }
                if (need.Count > 0) Log?.Invoke($"Fetched {need.Count} object(s), {total} bytes, of {prefix} from {Address.DisplayName} into {CacheRoot}.");
            }
        }

        private void Fetch(StoredObject o, string sha, CancellationToken cancel, Action<long> progress)
        {
            using (var s = Store.OpenRead(o.Key, cancel))
            {
                try
                {
                    mirror.Put(o.Key, s, o.Length, sha, progress, cancel);
                }
                catch (TursoBackupException ex) when (ex.ErrorId == "ChecksumMismatch")
                {
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"{o.Key} from {Address.DisplayName} does not match its recorded SHA-256 {sha}: the offsite copy is damaged (or was damaged on the way). It was not used. " +
                        $"Copy the backup there again (Sync-TursoVault), or restore from another vault.", o.Key, ex) { ErrorId = "OffsiteCopyDamaged" };
                }
            }
        }

        public void Dispose()
        {
            Store.Dispose();
        }
    }
}
