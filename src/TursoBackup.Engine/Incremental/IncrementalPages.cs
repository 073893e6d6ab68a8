using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Incremental
{
    /// <summary>
    /// The writing side of an Incremental backup: a stream the page copy writes the database into (exactly its read
    /// transaction's snapshot, as for a Snapshot backup). Every page is hashed (SHA-256, on all cores); its hash goes
    /// into the page map; a page the store does not hold yet goes into a new pack. What the store already holds —
    /// from any earlier backup of the database — is not stored again.
    /// </summary>
    public sealed class IncrementalPageSink : ForwardOnlyStream
    {
        private const int BatchPages = 1024;
        private const long PackLimitBytes = 256L << 20;
        private readonly PageStore store;
        private readonly Dictionary<PageHash, ChunkLocation> known;
        private readonly HashSet<PageHash> added = new HashSet<PageHash>();
        private readonly string mapPath, packPrefix;
        private readonly FileStream map;
        private readonly ThreadLocal<SHA256> sha = new ThreadLocal<SHA256>(SHA256.Create, trackAllValues: true);
        private byte[] batch;
        private int filled; // bytes in batch
        private int pageSize;
        private PageHash[] hashes = new PageHash[BatchPages];
        private byte[] mapBuffer = new byte[BatchPages * PageHash.Size];
        private PageStore.PackWriter pack;
        private int packNumber;
        private readonly List<string> packs = new List<string>();

        public IncrementalPageSink(PageStore store, Dictionary<PageHash, ChunkLocation> known, string mapPath, string packPrefix)
        {
            this.store = store;
            this.known = known;
            this.mapPath = mapPath;
            this.packPrefix = packPrefix;
            map = new FileStream(mapPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
            OwnerOnly.File(mapPath);
            map.Write(new byte[PageMap.HeaderBytes], 0, PageMap.HeaderBytes); // rewritten by Finish
        }

        public override bool CanWrite => true;

        /// <summary>Pages in the backup.</summary>
        public long Pages { get; private set; }

        /// <summary>Pages this backup added to the store (the rest it shares with earlier backups).</summary>
        public long NewPages { get; private set; }

        /// <summary>Bytes this backup added to the store (packs and their indexes).</summary>
        public long NewBytes { get; private set; }

        /// <summary>The packs this backup added.</summary>
        public IReadOnlyList<string> NewPacks => packs;

        public override void Write(byte[] buffer, int offset, int count)
        {
            while (count > 0)
            {
                if (batch == null)
                {
                    // Page 1 starts with the database header, which gives the page size.
                    if (Count == 0 && count < 18) throw new InvalidOperationException("The page copy wrote less than a database header first.");
                    pageSize = Sqlite.PageCopy.PageSizeOf(buffer, offset);
                    if (pageSize < 512 || (pageSize & (pageSize - 1)) != 0)
                        throw new TursoBackupException(FailureKind.InvalidData, $"The database's header gives page size {pageSize}, which SQLite does not write: the file is damaged.", mapPath);
                    batch = new byte[pageSize * BatchPages];
                }
                int n = Math.Min(count, batch.Length - filled);
                Buffer.BlockCopy(buffer, offset, batch, filled, n);
                filled += n;
                offset += n;
                count -= n;
                Count += n;
                if (filled == batch.Length) ProcessBatch();
            }
        }

        private void ProcessBatch()
        {
            int pages = filled / pageSize;
            if (pages == 0) return;
            // Hashing is most of the work: both cores (or all) take pages of the batch.
            Parallel.For(0, pages, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, () => sha.Value, (i, _, h) =>
            {
                hashes[i] = PageHash.Read(h.ComputeHash(batch, i * pageSize, pageSize), 0);
                return h;
            }, _ => { });
            for (int i = 0; i < pages; i++)
            {
                var hash = hashes[i];
                hash.Write(mapBuffer, i * PageHash.Size);
                if (known.ContainsKey(hash) || !added.Add(hash)) continue;
                if (pending == null) pending = new byte[BatchPages * pageSize];
                Buffer.BlockCopy(batch, i * pageSize, pending, pendingHashes.Count * pageSize, pageSize);
                pendingHashes.Add(hash);
                NewPages++;
                if (pendingHashes.Count == BatchPages) WritePending(false);
            }
            map.Write(mapBuffer, 0, pages * PageHash.Size);
            Pages += pages;
            int rest = filled - pages * pageSize;
            if (rest > 0) Buffer.BlockCopy(batch, pages * pageSize, batch, 0, rest);
            filled = rest;
        }

        private byte[] pending; // new pages waiting to be compressed, back to back
        private readonly List<PageHash> pendingHashes = new List<PageHash>(BatchPages);

        /// <summary>
        /// Compresses the waiting new pages as frames of <see cref="PageStore.PackWriter.PagesPerFrame"/>, on all cores,
        /// and appends them to the pack in order; a partial last frame waits for more pages unless <paramref name="all"/>.
        /// </summary>
        private void WritePending(bool all)
        {
            int per = PageStore.PackWriter.PagesPerFrame;
            int frames = all ? (pendingHashes.Count + per - 1) / per : pendingHashes.Count / per;
            if (frames == 0) return;
            var compressed = new byte[frames][];
            Parallel.For(0, frames, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, f =>
            {
                int count = Math.Min(per, pendingHashes.Count - f * per);
                compressed[f] = PageStore.PackWriter.CompressFrame(pending, f * per * pageSize, count * pageSize);
            });
            for (int f = 0; f < frames; f++)
            {
                if (pack == null) pack = store.NewPack($"{packPrefix}-{packNumber++}", pageSize);
                int count = Math.Min(per, pendingHashes.Count - f * per);
                pack.AppendFrame(pendingHashes.GetRange(f * per, count), compressed[f]);
                if (pack.Bytes >= PackLimitBytes) CommitPack();
            }
            int used = Math.Min(pendingHashes.Count, frames * per);
            int rest = pendingHashes.Count - used;
            if (rest > 0) Buffer.BlockCopy(pending, used * pageSize, pending, 0, rest * pageSize);
            pendingHashes.RemoveRange(0, used);
        }

        private void CommitPack()
        {
            NewBytes += pack.Commit();
            packs.Add(pack.Name);
            pack.Dispose();
            pack = null;
        }

        /// <summary>
        /// Stores the last pages, commits the new packs (durable before the backup's manifest can name them), and
        /// completes the map (fsynced). Returns the map's SHA-256.
        /// </summary>
        public string Finish()
        {
            ProcessBatch();
            if (filled != 0)
                throw new TursoBackupException(FailureKind.InvalidData, $"The database is not a whole number of {pageSize}-byte pages ({Count:N0} bytes): it is damaged.", mapPath);
            WritePending(true);
            if (pack != null) CommitPack();
            map.Seek(0, SeekOrigin.Begin);
            var header = PageMap.Header(pageSize, Pages);
            map.Write(header, 0, header.Length);
            map.Flush(true);
            map.Seek(0, SeekOrigin.Begin);
            using (var h = SHA256.Create()) return Sqlite.Hex.Of(h.ComputeHash(map));
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                pack?.Dispose(); // an uncommitted pack is removed
                map.Dispose();
                foreach (var h in sha.Values) h.Dispose();
                sha.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// The reading side: rebuilds the database file of an Incremental backup from its page map and the store. The map is
    /// checked against the manifest, every frame by zstd's content checksum, and — for Test-Backup — every page against
    /// its address (its SHA-256), so a test proves every chunk the backup references. Workers (one per core) take the
    /// frames in pack and file order, decompress each once and write its pages at their places in a file of the final
    /// size; one fsync at the end.
    /// </summary>
    public static class IncrementalRestore
    {
        /// <summary>What a rebuild read: pages, packs and frames.</summary>
        public sealed class Stats
        {
            public long Pages;
            public int Packs;
            public long Frames;
            public string MapSha256;
        }

        /// <param name="provePages">Check every page against its SHA-256 (Test-Backup); without, each frame is checked by zstd's
        /// content checksum and the map and indexes by their SHA-256 (a restore).</param>
        public static Stats Rebuild(BackupInfo backup, string newFile, Action<long, long> progress, CancellationToken cancel, bool provePages = true)
        {
            var store = new PageStore(backup.Vault, backup.Database);
            var pages = PageMap.Read(backup.Location, out int pageSize, out string mapSha);
            var stats = new Stats { Pages = pages.Length, MapSha256 = mapSha };
            if (!string.Equals(mapSha, backup.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                // The map decides which page goes where: a map that is not the one written is not used at all.
                throw Restore.BackupMaterializer.Damaged(backup, mapSha);
            }
            var index = store.LoadIndex(_ => { }); // a damaged index is left out: a page only it listed is reported missing below
            // Frame → the page numbers it supplies (a page's content may be at several page numbers).
            var frames = new Dictionary<(string Pack, long Offset), List<(int Slot, long Page, PageHash Hash)>>();
            var locations = new Dictionary<(string Pack, long Offset), ChunkLocation>();
            for (long p = 0; p < pages.Length; p++)
            {
                if (!index.TryGetValue(pages[p], out var at))
                {
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"Backup {backup.Id} of '{backup.Database}' needs page {p + 1:N0} (SHA-256 {pages[p]}), which no pack of the page store '{store.Root}' holds: " +
                        "the store is damaged (a pack was removed or lost). Restore another backup (a Snapshot, or this one from an offsite copy of the vault).", store.Root);
                }
                var key = (at.Pack, at.FrameOffset);
                if (!frames.TryGetValue(key, out var list)) { frames[key] = list = new List<(int, long, PageHash)>(); locations[key] = at; }
                list.Add((at.Slot, p, pages[p]));
            }
            long total = pages.LongLength * pageSize, done = 0;
            // Frames in pack and file order; workers (one per core) take the next, decompress it, check its pages and
            // write them — runs of consecutive pages (the usual case: a frame of the first backup) as one write.
            var plan = frames.Select(f => (Location: locations[f.Key], Pages: f.Value.OrderBy(x => x.Page).ToList()))
                .OrderBy(f => f.Location.Pack, StringComparer.Ordinal).ThenBy(f => f.Location.FrameOffset).ToArray();
            stats.Packs = plan.Select(f => f.Location.Pack).Distinct().Count();
            stats.Frames = plan.Length;
            using (var output = new FileStream(newFile, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite, 1))
            {
                output.SetLength(total);
                int next = -1;
                Exception failure = null;
                void Work()
                {
                    var packs = new Dictionary<string, FileStream>(StringComparer.Ordinal);
                    try
                    {
                        using (var writer = new FileStream(newFile, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1))
                        using (var sha = SHA256.Create())
                        using (var decompressor = new ZstdSharp.Decompressor())
                        {
                            byte[] compressed = new byte[1 << 16], frame = new byte[PageStore.PackWriter.PagesPerFrame * pageSize];
                            int i;
                            while (Volatile.Read(ref failure) == null && (i = Interlocked.Increment(ref next)) < plan.Length)
                            {
                                cancel.ThrowIfCancellationRequested();
                                var (at, wanted) = plan[i];
                                if (!packs.TryGetValue(at.Pack, out var pack))
                                    packs[at.Pack] = pack = new FileStream(store.PackPath(at.Pack), FileMode.Open, FileAccess.Read, FileShare.Read, 1);
                                int length = PageStore.ReadFrame(pack, at, ref compressed, ref frame, pageSize, decompressor);
                                foreach (var (slot, page, hash) in wanted)
                                {
                                    if (length < (slot + 1) * pageSize)
                                        throw new TursoBackupException(FailureKind.InvalidData, $"A frame of pack {at.Pack} of '{store.Root}' holds fewer pages than its index says: the pack is damaged.", store.PackPath(at.Pack));
                                    // zstd's checksum has proved the frame is as written; proving every page's address is Test-Backup's.
                                    if (provePages && !PageHash.Read(sha.ComputeHash(frame, slot * pageSize, pageSize), 0).Equals(hash))
                                    {
                                        throw new TursoBackupException(FailureKind.InvalidData,
                                            $"Page {page + 1:N0} of backup {backup.Id} of '{backup.Database}' read from pack {at.Pack} of '{store.Root}' does not match its SHA-256 {hash}: " +
                                            "the pack is damaged. Restore another backup (a Snapshot, or this one from an offsite copy of the vault).", store.PackPath(at.Pack));
                                    }
                                }
                                for (int k = 0; k < wanted.Count;)
                                {
                                    int run = 1;
                                    while (k + run < wanted.Count && wanted[k + run].Page == wanted[k].Page + run && wanted[k + run].Slot == wanted[k].Slot + run) run++;
                                    writer.Seek(wanted[k].Page * pageSize, SeekOrigin.Begin);
                                    writer.Write(frame, wanted[k].Slot * pageSize, run * pageSize);
                                    k += run;
                                }
                                Interlocked.Add(ref done, (long)wanted.Count * pageSize);
                            }
                        }
                    }
                    catch (Exception ex)
                    {
                        Interlocked.CompareExchange(ref failure, ex, null);
                    }
                    finally
                    {
                        foreach (var p in packs.Values) p.Dispose();
                    }
                }
                var workers = Enumerable.Range(0, Math.Max(1, Math.Min(Environment.ProcessorCount, plan.Length))).Select(_ => Task.Run(Work)).ToArray();
                // Progress on the caller's thread (a cmdlet's Write-Progress must not be called from the workers).
                while (!Task.WaitAll(workers, 200)) progress?.Invoke(Interlocked.Read(ref done), total);
                if (failure != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
                progress?.Invoke(total, total);
                output.Flush(true);
            }
            return stats;
        }

        /// <summary>The page hashes every Incremental backup of the database in the vault holds (for the collector).</summary>
        /// <exception cref="TursoBackupException">A map cannot be read: nothing may be collected then.</exception>
        public static HashSet<PageHash> Referenced(string vaultRoot, string database)
        {
            var referenced = new HashSet<PageHash>();
            string dir = Path.Combine(vaultRoot, Vault.BackupVault.DatabasesFolder, database);
            if (!Directory.Exists(dir)) return referenced;
            // Every map on disk counts, listed or not (a manifest being rewritten, a folder a listing skips): a page
            // is collected only when no map anywhere in the database's folder names it.
            foreach (var file in Directory.GetDirectories(dir).SelectMany(d => Directory.GetFiles(d, "*" + PageMap.Extension)))
            {
                foreach (var h in PageMap.Read(file, out _, out _)) referenced.Add(h);
            }
            return referenced;
        }
    }
}
