using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>
    /// Copies what is missing from one vault to another (any <see cref="IObjectStore"/> to any other): backups, their
    /// verification logs, the WAL archive's snapshots, segments and state. Idempotent: what the destination already
    /// holds (same key and length, same SHA-256 where either side knows it; mutable files by content) is skipped.
    /// </summary>
    /// <remarks>
    /// Order makes a stopped sync harmless: the vault marker, then every immutable object (artifacts, WAL snapshots,
    /// segments), then the files that make a unit visible (a backup's manifest.json, a generation's snapshot.json) —
    /// only for units whose every other file arrived — then the mutable files. A reader of the destination thus never
    /// lists a backup or generation that is not whole. An artifact is sent with the SHA-256 its manifest records, so
    /// the destination checks what arrived against the manifest itself; a source file that does not match its manifest
    /// is reported as damaged and not copied.
    /// </remarks>
    public sealed class VaultSync
    {
        private const long SmallFile = 1 << 20;
        private readonly IObjectStore source;
        private readonly IObjectStore destination;

        public VaultSync(IObjectStore source, IObjectStore destination)
        {
            this.source = source ?? throw new ArgumentNullException(nameof(source));
            this.destination = destination ?? throw new ArgumentNullException(nameof(destination));
        }

        /// <summary>Only keys this accepts are considered (null: the whole vault).</summary>
        public Func<string, bool> Filter { get; set; }

        /// <summary>Lists what would be copied, copies nothing.</summary>
        public bool WhatIf { get; set; }

        /// <summary>Objects copied at once (default 4).</summary>
        public int Transfers { get; set; } = 4;

        /// <summary>Where a source object whose SHA-256 nobody knows is staged to hash it before it is sent (default: the temp folder).</summary>
        public string ScratchPath { get; set; }

        public Action<string> Log { get; set; }

        /// <summary>Bytes copied so far, bytes to copy in all, the key being copied.</summary>
        public Action<long, long, string> Progress { get; set; }

        /// <summary>Keys known to be at the destination already (a long-running shipper's memory), so it need not list them again; every
        /// key but the mutable files' is skipped when it is in the set, and each key copied is added to it.</summary>
        public ISet<string> KnownAtDestination { get; set; }

        public VaultSyncResult Run(CancellationToken cancel = default(CancellationToken))
        {
            var watch = Stopwatch.StartNew();
            var result = new VaultSyncResult { Source = source.DisplayName, Destination = destination.DisplayName, WhatIf = WhatIf };
            if (!(destination is DirectoryStore && WhatIf)) PrepareDestination(destination, WhatIf, Log, cancel);
            source.Probe(cancel);

            var listed = source.List("", cancel).ToList();
            var wanted = listed
                .Where(o => VaultKeys.Role(o.Key) != VaultObjectRole.NotCopied && (Filter == null || Filter(o.Key))
                            // Each vault's verification log records restores tested from that vault: it is not copied.
                            && !o.Key.EndsWith("/" + Verification.VerificationLog.FileName, StringComparison.Ordinal))
                .GroupBy(o => o.Key, StringComparer.Ordinal).Select(g => g.First())
                .ToList();
            Log?.Invoke($"{wanted.Count} object(s) to consider in {source.DisplayName}.");
            var present = new Dictionary<string, StoredObject>(StringComparer.Ordinal);
            if (ListDestination) foreach (var o in destination.List("", cancel)) present[o.Key] = o;

            // The SHA-256 each artifact and WAL snapshot must have, from its manifest / snapshot.json at the source.
            var expected = new Dictionary<string, string>(StringComparer.Ordinal);
            // The file each unit's commit names (a backup's artifact, a generation's snapshot): the commit is copied only once it is at the destination.
            var required = new Dictionary<string, string>(StringComparer.Ordinal);
            // The page store (pages/<db>) each Incremental backup's manifest relies on.
            var pageStores = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var commit in wanted.Where(o => VaultKeys.Role(o.Key) == VaultObjectRole.Commit))
            {
                cancel.ThrowIfCancellationRequested();
                try
                {
                    ReadExpected(commit.Key, expected, required, pageStores, cancel);
                }
                catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is IOException || ex is TursoBackupException)
                {
                    Log?.Invoke($"{commit.Key} at the source cannot be read ({ex.Message}); its unit is copied without the manifest's checksums.");
                }
            }

            // An Incremental backup goes with its database's page store, whatever the filter says (Copy-TursoBackup names
            // the backup's folder): its packs the destination lacks, then their indexes, before its manifest.
            var stores = new HashSet<string>(pageStores.Values, StringComparer.Ordinal);
            if (stores.Count > 0)
            {
                var have = new HashSet<string>(wanted.Select(o => o.Key), StringComparer.Ordinal);
                wanted.AddRange(listed.Where(o => !have.Contains(o.Key) && VaultKeys.Role(o.Key) != VaultObjectRole.NotCopied && stores.Contains(VaultKeys.Unit(o.Key)))
                    .GroupBy(o => o.Key, StringComparer.Ordinal).Select(g => g.First()));
            }

            var toCopy = new List<StoredObject>();
            var atDestination = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
            foreach (var o in wanted)
            {
                var role = VaultKeys.Role(o.Key);
                // What this sync's owner already sent is not sent again: immutable objects, and commits and the marker,
                // which are written once (re-sending a commit would bring back a unit the destination's retention removed).
                bool known = KnownAtDestination != null && role != VaultObjectRole.Mutable && KnownAtDestination.Contains(o.Key);
                if (known || (present.TryGetValue(o.Key, out var there) && Same(o, there, role, expected, cancel)))
                {
                    result.Items.Add(new VaultSyncItem { Key = o.Key, Action = VaultSyncAction.Skipped, Bytes = o.Length, Reason = "present" });
                    atDestination[o.Key] = true;
                }
                else
                {
                    toCopy.Add(o);
                }
            }
            long total = toCopy.Sum(o => o.Length);
            long done = 0;
            Log?.Invoke($"{toCopy.Count} object(s), {total} bytes, to copy to {destination.DisplayName}; {result.Items.Count} already there.");

            var failedUnits = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
            var items = new ConcurrentBag<VaultSyncItem>();
            foreach (var phase in toCopy.GroupBy(o => VaultKeys.Phase(VaultKeys.Role(o.Key))).OrderBy(g => g.Key))
            {
                // Largest first, each worker taking the next object when it is free (as rclone's transfer queue does): the
                // big artifacts go in parallel from the start and the small ones fill in, so no big one is left alone at the
                // end. Order within a phase promises nothing; the commits are a later phase.
                var batch = phase.OrderByDescending(o => o.Length).ThenBy(o => o.Key, StringComparer.Ordinal).ToList();
                void CopyOne(StoredObject o)
                {
                    cancel.ThrowIfCancellationRequested();
                    string unit = VaultKeys.Unit(o.Key);
                    var role = VaultKeys.Role(o.Key);
                    // A pack index waits for its store's packs; an Incremental backup's manifest for its store as well.
                    string store = role == VaultObjectRole.Commit && pageStores.TryGetValue(unit, out var s) ? s : null;
                    if ((role == VaultObjectRole.Commit || role == VaultObjectRole.PackIndex) && (failedUnits.TryGetValue(unit, out var why) || (store != null && failedUnits.TryGetValue(store, out why))))
                    {
                        items.Add(new VaultSyncItem { Key = o.Key, Action = VaultSyncAction.Failed, Bytes = o.Length, Reason = "not copied, so the unit stays invisible at the destination: " + why });
                        return;
                    }
                    if (VaultKeys.Role(o.Key) == VaultObjectRole.Commit && required.TryGetValue(unit, out var need) && !atDestination.ContainsKey(need))
                    {
                        // The file the commit names is neither at the destination nor copied: the source lacks it (a damaged
                        // backup or generation there), or it went meanwhile. Copying the commit would list a unit that is not whole.
                        if (source.Stat(o.Key, cancel) == null)
                        {
                            items.Add(new VaultSyncItem { Key = o.Key, Action = VaultSyncAction.Skipped, Bytes = o.Length, Reason = "removed from the source meanwhile" });
                        }
                        else
                        {
                            items.Add(new VaultSyncItem { Key = o.Key, Action = VaultSyncAction.Failed, Bytes = o.Length,
                                Reason = $"not copied, so the unit stays invisible at the destination: {need} is missing in {source.DisplayName} (the unit is damaged there; run Test-Backup, or Test-TursoWalArchive for a WAL generation)." });
                        }
                        return;
                    }
                    if (WhatIf)
                    {
                        items.Add(new VaultSyncItem { Key = o.Key, Action = VaultSyncAction.WouldCopy, Bytes = o.Length });
                        atDestination[o.Key] = true;
                        return;
                    }
                    long before = 0;
                    try
                    {
                        Log?.Invoke($"Copying {o.Key} ({o.Length} bytes).");
                        CopyObject(o, expected.TryGetValue(o.Key, out var sha) ? sha : null, sent =>
                        {
                            long now = Interlocked.Add(ref done, sent - before);
                            before = sent;
                            Progress?.Invoke(now, total, o.Key);
                        }, cancel);
                        if (KnownAtDestination != null) lock (KnownAtDestination) KnownAtDestination.Add(o.Key);
                        atDestination[o.Key] = true;
                        items.Add(new VaultSyncItem { Key = o.Key, Action = VaultSyncAction.Copied, Bytes = o.Length });
                    }
                    catch (Exception ex) when (GoneAtSource(ex, o.Key))
                    {
                        // Removed at the source while this ran (the archiver packed its segments, retention removed a backup).
                        Interlocked.Add(ref done, o.Length - before);
                        items.Add(new VaultSyncItem { Key = o.Key, Action = VaultSyncAction.Skipped, Bytes = o.Length, Reason = "removed from the source meanwhile" });
                    }
                    catch (TursoBackupException ex) when (ex.Kind != FailureKind.Unreachable && ex.Kind != FailureKind.AuthenticationFailed && ex.Kind != FailureKind.SecurityError)
                    {
                        Interlocked.Add(ref done, o.Length - before);
                        failedUnits.TryAdd(unit, o.Key + ": " + ex.Message);
                        items.Add(new VaultSyncItem { Key = o.Key, Action = VaultSyncAction.Failed, Bytes = o.Length, Reason = ex.Message, ErrorId = ex.ErrorId });
                    }
                }
                if (Transfers <= 1 || batch.Count <= 1)
                {
                    foreach (var o in batch) CopyOne(o);
                }
                else
                {
                    try
                    {
                        Parallel.ForEach(Partitioner.Create(batch, EnumerablePartitionerOptions.NoBuffering),
                            new ParallelOptions { MaxDegreeOfParallelism = Transfers, CancellationToken = cancel }, CopyOne);
                    }
                    catch (AggregateException ae) when (ae.InnerExceptions.Count > 0)
                    {
                        var first = ae.InnerExceptions[0];
                        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
                    }
                }
            }
            if (!WhatIf) RemoveReplacedArtifacts(items, present, wanted, cancel);
            result.Items.AddRange(items.OrderBy(i => i.Key, StringComparer.Ordinal));
            result.Copied = result.Items.Count(i => i.Action == VaultSyncAction.Copied);
            result.Skipped = result.Items.Count(i => i.Action == VaultSyncAction.Skipped);
            result.Failed = result.Items.Count(i => i.Action == VaultSyncAction.Failed);
            result.Bytes = result.Items.Where(i => i.Action == VaultSyncAction.Copied).Sum(i => i.Bytes);
            result.Backups = result.Items.Where(i => (i.Action == VaultSyncAction.Copied || (i.Action == VaultSyncAction.Skipped && i.Reason == "present")) && i.Key.StartsWith("databases/", StringComparison.Ordinal)
                    && VaultKeys.Role(i.Key) == VaultObjectRole.Commit)
                .Select(i => VaultKeys.Unit(i.Key).Substring("databases/".Length)).OrderBy(s => s, StringComparer.Ordinal).ToArray();
            result.Duration = watch.Elapsed;
            return result;
        }

        /// <summary>
        /// A backup whose manifest was replaced at the destination (its keys re-wrapped, Update-TursoBackupKey) names a new
        /// artifact: the one it named before is removed there, once the new manifest is in place — else the old key would
        /// still open a copy of it.
        /// </summary>
        private void RemoveReplacedArtifacts(IEnumerable<VaultSyncItem> items, Dictionary<string, StoredObject> present, List<StoredObject> wanted, CancellationToken cancel)
        {
            var atSource = new HashSet<string>(wanted.Select(o => o.Key), StringComparer.Ordinal);
            foreach (var replaced in items.Where(i => i.Action == VaultSyncAction.Copied && VaultKeys.Role(i.Key) == VaultObjectRole.Commit
                                                      && i.Key.StartsWith("databases/", StringComparison.Ordinal) && present.ContainsKey(i.Key)).ToList())
            {
                string unit = VaultKeys.Unit(replaced.Key);
                foreach (var old in present.Keys.Where(k => VaultKeys.Unit(k) == unit && VaultKeys.Role(k) == VaultObjectRole.Immutable && !atSource.Contains(k)).ToList())
                {
                    try
                    {
                        destination.Delete(old, cancel);
                        Log?.Invoke($"Removed {old} from {destination.DisplayName}: its manifest now names another artifact.");
                    }
                    catch (TursoBackupException ex)
                    {
                        Log?.Invoke($"{old} could not be removed from {destination.DisplayName} ({ex.Message}); remove it by hand.");
                    }
                }
            }
        }

        /// <summary>
        /// Checks that a destination can be written before anything is sent: reachable, credentials accepted, its
        /// container or bucket there. A folder (local, or on an SFTP server) that does not exist yet is made, like
        /// mkdir -p; a missing container or bucket is an error (it is the admin's to create, with its settings).
        /// </summary>
        public static void PrepareDestination(IObjectStore destination, bool dryRun, Action<string> log, CancellationToken cancel)
        {
            if (destination is DirectoryStore folder)
            {
                if (!dryRun) folder.CreateRoot();
                return;
            }
            try
            {
                destination.Probe(cancel);
            }
            catch (TursoBackupException ex) when (ex.Kind == FailureKind.NotFound && destination is SftpStore)
            {
                log?.Invoke($"{destination.DisplayName} does not exist yet: the first upload creates it.");
            }
        }

        private bool GoneAtSource(Exception ex, string key)
        {
            bool notFound = ex is FileNotFoundException || ex is DirectoryNotFoundException || (ex is TursoBackupException t && t.Kind == FailureKind.NotFound);
            if (!notFound) return false;
            try
            {
                return source.Stat(key, CancellationToken.None) == null;
            }
            catch (Exception)
            {
                return false;
            }
        }

        /// <summary>False: the destination is not listed; only <see cref="KnownAtDestination"/> says what is there (a shipper after its first run).</summary>
        public bool ListDestination { get; set; } = true;

        private void ReadExpected(string commitKey, Dictionary<string, string> expected, Dictionary<string, string> required,
            Dictionary<string, string> pageStores, CancellationToken cancel)
        {
            string text;
            using (var s = source.OpenRead(commitKey, cancel))
            using (var r = new StreamReader(s, Encoding.UTF8))
            {
                text = r.ReadToEnd();
            }
            var doc = (Dictionary<string, object>)Json.Parse(text);
            string unit = VaultKeys.Unit(commitKey);
            if (commitKey.StartsWith("databases/", StringComparison.Ordinal))
            {
                if (doc.TryGetValue("artifact", out var a) && a is Dictionary<string, object> art && art.TryGetValue("file", out var f) && art.TryGetValue("sha256", out var sha)
                    && f is string file && sha is string hex)
                {
                    expected[unit + "/" + file] = hex.ToLowerInvariant();
                    if (VaultKeys.Unit(unit + "/" + file) == unit) required[unit] = unit + "/" + file;
                }
                if (doc.ContainsKey("pages")) pageStores[unit] = Incremental.PageStore.Folder + "/" + VaultKeys.Database(commitKey);
            }
            else if (doc.TryGetValue("sha256", out var sha) && sha is string hex)
            {
                expected[unit + "/snapshot.db.zst"] = hex.ToLowerInvariant();
                required[unit] = unit + "/snapshot.db.zst";
            }
        }

        private bool Same(StoredObject src, StoredObject dst, VaultObjectRole role, Dictionary<string, string> expected, CancellationToken cancel)
        {
            if (src.Length != dst.Length) return false;
            if (role == VaultObjectRole.Marker) return true;
            string want = expected.TryGetValue(src.Key, out var e) ? e : src.Sha256;
            if (want != null && dst.Sha256 != null) return string.Equals(want, dst.Sha256, StringComparison.OrdinalIgnoreCase);
            if (role == VaultObjectRole.Immutable) return true;
            // A commit or mutable file of the same length: compare contents (these are small).
            if (src.Length > SmallFile) return true;
            return string.Equals(want ?? HashOf(source, src, cancel), dst.Sha256 ?? HashOf(destination, dst, cancel), StringComparison.OrdinalIgnoreCase);
        }

        private static string HashOf(IObjectStore store, StoredObject o, CancellationToken cancel)
        {
            if (store is DirectoryStore folder) return DirectoryStore.Sha256Of(folder.PathOf(o.Key), cancel);
            using (var sha = SHA256.Create())
            using (var s = store.OpenRead(o.Key, cancel))
            {
                return DirectoryStore.Hex(sha.ComputeHash(s));
            }
        }

        /// <summary>Copies one object; the destination verifies it on arrival against <paramref name="expectedSha"/> or the source's hash.</summary>
        private void CopyObject(StoredObject o, string expectedSha, Action<long> progress, CancellationToken cancel)
        {
            if (expectedSha == null && VaultKeys.Role(o.Key) != VaultObjectRole.Immutable && o.Length <= SmallFile)
            {
                // A small file the source rewrites (state.json, gaps.jsonl while the archiver runs): read once, so what is
                // hashed and what is sent are the same version, whatever the length listed a moment ago.
                var bytes = ReadSmall(o.Key, cancel);
                if (bytes != null)
                {
                    using (var sha256 = SHA256.Create())
                    using (var ms = new MemoryStream(bytes, false))
                    {
                        destination.Put(o.Key, ms, bytes.Length, DirectoryStore.Hex(sha256.ComputeHash(bytes)), progress, cancel);
                    }
                    return;
                }
            }
            string sha = expectedSha ?? o.Sha256;
            if (sha == null && source is DirectoryStore local) sha = DirectoryStore.Sha256Of(local.PathOf(o.Key), cancel);
            if (sha != null)
            {
                // The destination checks what arrived against sha (the stores hash on the way): the source is hashed
                // again only when it refuses, to tell a damaged or changed source from damage on the way.
                try
                {
                    using (var raw = source.OpenRead(o.Key, cancel))
                    {
                        destination.Put(o.Key, raw, o.Length, sha, progress, cancel);
                    }
                }
                catch (TursoBackupException ex) when (ex.Kind == FailureKind.InvalidData)
                {
                    string actual = null;
                    try
                    {
                        actual = HashOf(source, o, cancel);
                    }
                    catch (Exception hashFailure) when (hashFailure is IOException || hashFailure is TursoBackupException)
                    {
                        // The source cannot be read again: the destination's own error stands.
                    }
                    if (actual == null || string.Equals(actual, sha, StringComparison.OrdinalIgnoreCase)) throw;
                    if (expectedSha == null)
                    {
                        throw new TursoBackupException(FailureKind.InvalidData,
                            $"{o.Key} in {source.DisplayName} changed while it was copied to {destination.DisplayName}; it was not copied. Run the sync again.", o.Key, ex) { ErrorId = "SourceChanged" };
                    }
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"{o.Key} in {source.DisplayName} is damaged: its SHA-256 is {actual}, its manifest says {sha}. It was not copied to {destination.DisplayName}. " +
                        "Run Test-Backup on it; make a new backup if it fails.", o.Key, ex) { ErrorId = "SourceDamaged" };
                }
                return;
            }
            // Nobody knows the object's SHA-256 (an SFTP source keeps none): stage it locally to hash it, then send it.
            string scratch = Path.Combine(ScratchPath ?? Path.GetTempPath(), ".tursobackup-sync-" + Guid.NewGuid().ToString("N") + ".partial");
            try
            {
                string hex;
                using (var raw = source.OpenRead(o.Key, cancel))
                using (var fs = new FileStream(scratch, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                using (var sha256 = SHA256.Create())
                {
                    OwnerOnly.File(scratch);
                    var buffer = new byte[1 << 20];
                    int n;
                    while ((n = raw.Read(buffer, 0, buffer.Length)) > 0)
                    {
                        cancel.ThrowIfCancellationRequested();
                        fs.Write(buffer, 0, n);
                        sha256.TransformBlock(buffer, 0, n, null, 0);
                    }
                    sha256.TransformFinalBlock(buffer, 0, 0);
                    hex = DirectoryStore.Hex(sha256.Hash);
                }
                using (var fs = new FileStream(scratch, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
                {
                    destination.Put(o.Key, fs, fs.Length, hex, progress, cancel);
                }
            }
            finally
            {
                DurableFile.TryDelete(scratch);
            }
        }

        /// <summary>The whole object when it is at most <see cref="SmallFile"/> bytes, else null.</summary>
        private byte[] ReadSmall(string key, CancellationToken cancel)
        {
            using (var s = source.OpenRead(key, cancel))
            using (var ms = new MemoryStream())
            {
                var buffer = new byte[81920];
                int n;
                while ((n = s.Read(buffer, 0, buffer.Length)) > 0)
                {
                    ms.Write(buffer, 0, n);
                    if (ms.Length > SmallFile) return null;
                }
                return ms.ToArray();
            }
        }
    }
}
