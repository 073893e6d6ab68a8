using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Incremental
{
    /// <summary>
    /// The page store of one database in a vault (<c>pages/&lt;database&gt;/</c>): every page any of its Incremental
    /// backups holds, stored once, addressed by its SHA-256, in immutable packs of zstd frames, each pack with an index
    /// file listing the pages it holds (docs/vault-format.md, "Incremental"). A pack is complete once its index exists:
    /// the index is written after the pack is fsynced, and removed before the pack, so a pack without an index is
    /// garbage (an interrupted backup or collection) and never read.
    /// <para>One writer at a time (the store's lock): a backup holds it while it dedups against the store and adds
    /// packs, the collector while it removes what no kept backup references — so a page a running backup relies on is
    /// never collected under it.</para>
    /// </summary>
    public sealed class PageStore
    {
        public const string Folder = "pages";
        public const string PackExtension = ".pack";
        public const string IndexExtension = ".idx";
        private static readonly byte[] PackMagic = System.Text.Encoding.ASCII.GetBytes("TBPACK01");
        private static readonly byte[] IndexMagic = System.Text.Encoding.ASCII.GetBytes("TBPIDX01");
        private const int IndexEntryBytes = PageHash.Size + 8 + 4 + 4;

        public PageStore(string vaultRoot, string database)
        {
            Database = database;
            Root = Path.Combine(vaultRoot, Folder, database);
        }

        public string Database { get; }

        /// <summary>The store's folder.</summary>
        public string Root { get; }

        public bool Exists => Directory.Exists(Root);

        /// <summary>The lock that makes one backup or collection at a time the store's writer.</summary>
        public string LockPath => OwnerLock.PathFor(Root);

        /// <summary>Takes the store's lock, waiting up to <paramref name="timeout"/> for a running backup or collection.</summary>
        public OwnerLock Lock(TimeSpan timeout, string purpose, CancellationToken cancel)
        {
            OwnerOnly.CreateDirectory(Path.GetDirectoryName(Root));
            OwnerOnly.CreateDirectory(Root);
            var taken = OwnerLock.Acquire(LockPath, timeout, cancel);
            if (taken == null)
            {
                string holder = OwnerLock.ReadDescription(LockPath);
                throw new TursoBackupException(FailureKind.Busy,
                    $"The page store of '{Database}' ({Root}) is in use by {(holder.Length > 0 ? holder : "another backup or collection")} and stayed so for {timeout.TotalSeconds:N0} s. " +
                    "Run this again when it has finished, or give more time with -LockTimeout.", Root) { ErrorId = "PageStoreBusy" };
            }
            taken.Describe($"{purpose} (pid {System.Diagnostics.Process.GetCurrentProcess().Id} on host {Environment.MachineName})");
            return taken;
        }

        /// <summary>The packs the store holds (names without extension), complete ones only (those with an index).</summary>
        public IReadOnlyList<string> Packs() =>
            Exists ? Directory.GetFiles(Root, "*" + IndexExtension).Select(Path.GetFileNameWithoutExtension)
                .Where(n => File.Exists(Path.Combine(Root, n + PackExtension))).OrderBy(n => n, StringComparer.Ordinal).ToList()
            : (IReadOnlyList<string>)new string[0];

        public string PackPath(string pack) => Path.Combine(Root, pack + PackExtension);

        public string IndexPath(string pack) => Path.Combine(Root, pack + IndexExtension);

        /// <summary>Every page the store holds and where (a page in two packs, as two backups that ran apart may leave it: either).</summary>
        /// <param name="log">When set, a damaged index is reported there and left out (a backup then stores its pages
        /// again, and a restore that needs them says which page is missing); else it throws.</param>
        public Dictionary<PageHash, ChunkLocation> LoadIndex(Action<string> log = null)
        {
            var index = new Dictionary<PageHash, ChunkLocation>();
            foreach (var pack in Packs())
            {
                List<(PageHash Hash, ChunkLocation Location)> entries;
                try
                {
                    entries = ReadIndex(pack);
                }
                catch (TursoBackupException ex) when (log != null && ex.Kind == FailureKind.InvalidData)
                {
                    log(ex.Message + " This backup stores the pages it lists again.");
                    continue;
                }
                foreach (var (hash, location) in entries) index[hash] = location;
            }
            return index;
        }

        /// <summary>The entries of one pack's index, its own SHA-256 checked.</summary>
        public List<(PageHash Hash, ChunkLocation Location)> ReadIndex(string pack)
        {
            string path = IndexPath(pack);
            byte[] bytes = File.ReadAllBytes(path);
            if (bytes.Length < IndexMagic.Length + 8 + 32 || !bytes.Take(IndexMagic.Length).SequenceEqual(IndexMagic))
                throw Damaged(path, "it is not a page store index");
            byte[] sum;
            using (var sha = SHA256.Create()) sum = sha.ComputeHash(bytes, 0, bytes.Length - 32);
            for (int i = 0; i < 32; i++) if (sum[i] != bytes[bytes.Length - 32 + i]) throw Damaged(path, "its SHA-256 does not match its content");
            int count = BitConverter.ToInt32(bytes, IndexMagic.Length + 4);
            int at = IndexMagic.Length + 8;
            if (count < 0 || at + (long)count * IndexEntryBytes + 32 != bytes.Length) throw Damaged(path, "its length does not match its entry count");
            var entries = new List<(PageHash, ChunkLocation)>(count);
            for (int i = 0; i < count; i++, at += IndexEntryBytes)
            {
                var hash = PageHash.Read(bytes, at);
                entries.Add((hash, new ChunkLocation(pack, BitConverter.ToInt64(bytes, at + 32), BitConverter.ToInt32(bytes, at + 40), BitConverter.ToInt32(bytes, at + 44))));
            }
            return entries;
        }

        private static TursoBackupException Damaged(string path, string why) =>
            new TursoBackupException(FailureKind.InvalidData,
                $"The page store file '{path}' is damaged: {why}. The Incremental backups whose pages it lists cannot be restored from this vault; restore a Snapshot backup or one from an offsite copy.", path);

        /// <summary>Starts a new pack named <paramref name="pack"/> (written under a temporary name until <see cref="PackWriter.Commit"/>).</summary>
        public PackWriter NewPack(string pack, int pageSize) => new PackWriter(this, pack, pageSize);

        /// <summary>
        /// Reads and decompresses one frame of a pack (its pages, back to back) into <paramref name="pages"/> (grown when
        /// too small); returns the bytes it holds. Frames carry zstd's content checksum, checked here: a damaged frame
        /// fails, whatever the caller checks besides.
        /// </summary>
        public static int ReadFrame(FileStream pack, ChunkLocation at, ref byte[] compressed, ref byte[] pages, int pageSize, ZstdSharp.Decompressor decompressor)
        {
            if (compressed.Length < at.FrameLength) compressed = new byte[at.FrameLength];
            if (pages.Length < PackWriter.PagesPerFrame * pageSize) pages = new byte[PackWriter.PagesPerFrame * pageSize];
            pack.Seek(at.FrameOffset, SeekOrigin.Begin);
            if (Sqlite.SqliteFile.ReadFully(pack, compressed, 0, at.FrameLength) != at.FrameLength)
                throw new TursoBackupException(FailureKind.InvalidData, $"The pack '{pack.Name}' ends inside a frame (offset {at.FrameOffset:N0}): it is truncated.", pack.Name);
            try
            {
                return decompressor.Unwrap(new ReadOnlySpan<byte>(compressed, 0, at.FrameLength), new Span<byte>(pages));
            }
            catch (ZstdSharp.ZstdException ex)
            {
                throw new TursoBackupException(FailureKind.InvalidData, $"A frame of the pack '{pack.Name}' (offset {at.FrameOffset:N0}) does not decompress or fails its checksum ({ex.Message}): it is damaged.", pack.Name, ex);
            }
        }

        /// <summary>A compressor for pack frames: the store's zstd level, with zstd's content checksum in every frame.</summary>
        internal static ZstdSharp.Compressor NewFrameCompressor()
        {
            var c = new ZstdSharp.Compressor(ArtifactStreams.ZstdLevel);
            c.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_checksumFlag, 1);
            return c;
        }

        /// <summary>
        /// Writes one pack: pages appended into frames of <see cref="PagesPerFrame"/>, each compressed as one zstd frame;
        /// <see cref="Commit"/> fsyncs the pack, renames it into place, then writes its index the same way.
        /// </summary>
        public sealed class PackWriter : IDisposable
        {
            public const int PagesPerFrame = 64;
            private readonly PageStore store;
            private readonly int pageSize;
            private readonly FileStream file;
            private readonly byte[] frame;
            private readonly List<PageHash> frameHashes = new List<PageHash>(PagesPerFrame);
            private readonly List<(PageHash Hash, long Offset, int Length, int Slot)> entries = new List<(PageHash, long, int, int)>();
            private bool committed;

            internal PackWriter(PageStore store, string pack, int pageSize)
            {
                this.store = store;
                this.pageSize = pageSize;
                Name = pack;
                frame = new byte[pageSize * PagesPerFrame];
                file = new FileStream(store.PackPath(pack) + ".partial", FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
                OwnerOnly.File(store.PackPath(pack) + ".partial");
                file.Write(PackMagic, 0, PackMagic.Length);
                file.Write(BitConverter.GetBytes(pageSize), 0, 4);
            }

            public string Name { get; }

            public int Pages => entries.Count + frameHashes.Count;

            /// <summary>Bytes written to the pack so far.</summary>
            public long Bytes => file.Length;

            /// <summary>
            /// Appends frames compressed by the caller (<see cref="CompressFrame"/>, on any thread): <paramref name="hashes"/>
            /// are the frame's pages in order. Only after every <see cref="Add"/> frame was flushed.
            /// </summary>
            public void AppendFrame(IReadOnlyList<PageHash> hashes, byte[] compressed)
            {
                FlushFrame();
                WriteFrame(hashes, compressed);
            }

            private void WriteFrame(IReadOnlyList<PageHash> hashes, byte[] compressed)
            {
                long at = file.Position;
                file.Write(compressed, 0, compressed.Length);
                for (int i = 0; i < hashes.Count; i++) entries.Add((hashes[i], at, compressed.Length, i));
            }

            /// <summary>One frame's pages (back to back) compressed as a pack frame; thread-safe (a compressor per thread, kept).</summary>
            public static byte[] CompressFrame(byte[] pages, int offset, int count)
            {
                var c = threadCompressor ?? (threadCompressor = NewFrameCompressor());
                return c.Wrap(new ReadOnlySpan<byte>(pages, offset, count)).ToArray();
            }

            [ThreadStatic] private static ZstdSharp.Compressor threadCompressor;

            public void Add(PageHash hash, byte[] page, int offset)
            {
                Buffer.BlockCopy(page, offset, frame, frameHashes.Count * pageSize, pageSize);
                frameHashes.Add(hash);
                if (frameHashes.Count == PagesPerFrame) FlushFrame();
            }

            private void FlushFrame()
            {
                if (frameHashes.Count == 0) return;
                WriteFrame(frameHashes, CompressFrame(frame, 0, frameHashes.Count * pageSize));
                frameHashes.Clear();
            }

            /// <summary>Makes the pack durable and part of the store (pack, then its index); returns its size in bytes.</summary>
            public long Commit()
            {
                FlushFrame();
                file.Flush(true);
                long bytes = file.Length;
                file.Dispose();
                File.Move(store.PackPath(Name) + ".partial", store.PackPath(Name));
                var index = new byte[IndexMagic.Length + 8 + (long)entries.Count * IndexEntryBytes + 32];
                Buffer.BlockCopy(IndexMagic, 0, index, 0, IndexMagic.Length);
                Buffer.BlockCopy(BitConverter.GetBytes(pageSize), 0, index, IndexMagic.Length, 4);
                Buffer.BlockCopy(BitConverter.GetBytes(entries.Count), 0, index, IndexMagic.Length + 4, 4);
                int at = IndexMagic.Length + 8;
                foreach (var e in entries)
                {
                    e.Hash.Write(index, at);
                    Buffer.BlockCopy(BitConverter.GetBytes(e.Offset), 0, index, at + 32, 8);
                    Buffer.BlockCopy(BitConverter.GetBytes(e.Length), 0, index, at + 40, 4);
                    Buffer.BlockCopy(BitConverter.GetBytes(e.Slot), 0, index, at + 44, 4);
                    at += IndexEntryBytes;
                }
                using (var sha = SHA256.Create()) Buffer.BlockCopy(sha.ComputeHash(index, 0, at), 0, index, at, 32);
                string partial = store.IndexPath(Name) + ".partial";
                using (var f = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
                {
                    OwnerOnly.File(partial);
                    f.Write(index, 0, index.Length);
                    f.Flush(true);
                }
                File.Move(partial, store.IndexPath(Name));
                DurableFile.FlushDirectory(store.Root);
                committed = true;
                return bytes + index.Length;
            }

            public void Dispose()
            {
                file.Dispose();
                if (!committed) DurableFile.TryDelete(store.PackPath(Name) + ".partial");
            }
        }

        /// <summary>
        /// Removes from the page store of <paramref name="database"/> what no Incremental backup in the vault references
        /// (every page map in the database's backup folders counts), under the store's lock. Null when there is no store.
        /// </summary>
        public static Collection CollectUnreferenced(string vaultRoot, string database, TimeSpan lockTimeout, Action<string> log, CancellationToken cancel)
        {
            var store = new PageStore(vaultRoot, database);
            if (!store.Exists) return null;
            using (store.Lock(lockTimeout, $"collection of the unreferenced pages of '{database}'", cancel))
            {
                var referenced = IncrementalRestore.Referenced(vaultRoot, database);
                var result = store.Collect(referenced, Vault.BackupVault.NewBackupId(DateTimeOffset.UtcNow), log, cancel);
                log?.Invoke(result.PacksRemoved + result.PacksRewritten + result.LeftoversRemoved > 0
                    ? $"The page store of '{database}': {result.PacksRemoved} pack(s) removed, {result.PacksRewritten} rewritten, {result.LeftoversRemoved} leftover file(s) removed; {result.BytesFreed:N0} bytes freed."
                    : $"The page store of '{database}': every pack holds pages a kept backup needs; nothing removed.");
                return result;
            }
        }

        /// <summary>What a collection did.</summary>
        public sealed class Collection
        {
            public int PacksRemoved;
            public int PacksRewritten;
            public long BytesFreed;
            public int LeftoversRemoved;
        }

        /// <summary>
        /// Removes what no kept backup references: packs none of whose pages is in <paramref name="referenced"/> (index
        /// first, then pack), and packs less than half referenced are rewritten with only their referenced pages (the new
        /// pack is complete before the old one goes). Leftovers of interrupted writers (.partial files, packs without an
        /// index) go too. The caller holds the store's lock and gives the pages of every backup it keeps. A kill at any
        /// moment leaves every referenced page in some complete pack.
        /// </summary>
        public Collection Collect(HashSet<PageHash> referenced, string newPackPrefix, Action<string> log, CancellationToken cancel)
        {
            var result = new Collection();
            if (!Exists) return result;
            foreach (var f in Directory.GetFiles(Root, "*.partial"))
            {
                DurableFile.TryDelete(f);
                result.LeftoversRemoved++;
            }
            foreach (var f in Directory.GetFiles(Root, "*" + PackExtension))
            {
                if (!File.Exists(IndexPath(Path.GetFileNameWithoutExtension(f))))
                {
                    DurableFile.TryDelete(f);
                    result.LeftoversRemoved++;
                }
            }
            int rewritten = 0;
            foreach (var pack in Packs())
            {
                cancel.ThrowIfCancellationRequested();
                var entries = ReadIndex(pack);
                int live = entries.Count(e => referenced.Contains(e.Hash));
                long bytes = new FileInfo(PackPath(pack)).Length + new FileInfo(IndexPath(pack)).Length;
                if (live == 0)
                {
                    Remove(pack);
                    result.PacksRemoved++;
                    result.BytesFreed += bytes;
                    log?.Invoke($"Removed pack {pack} of '{Database}' ({entries.Count:N0} page(s), {bytes:N0} bytes): no kept backup holds any of its pages.");
                }
                else if (live * 2 < entries.Count)
                {
                    long written = Rewrite(pack, entries, referenced, $"{newPackPrefix}-r{rewritten++}");
                    Remove(pack);
                    result.PacksRewritten++;
                    result.BytesFreed += bytes - written;
                    log?.Invoke($"Rewrote pack {pack} of '{Database}' with the {live:N0} of its {entries.Count:N0} page(s) kept backups hold ({bytes:N0} → {written:N0} bytes).");
                }
                // Its referenced pages are now in the new pack as well: leave later packs to find them there.
                foreach (var e in entries) referenced.Remove(e.Hash);
            }
            return result;
        }

        private long Rewrite(string pack, List<(PageHash Hash, ChunkLocation Location)> entries, HashSet<PageHash> referenced, string name)
        {
            int pageSize = ReadPageSize(pack);
            using (var source = new FileStream(PackPath(pack), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
            using (var decompressor = new ZstdSharp.Decompressor())
            using (var writer = NewPack(name, pageSize))
            {
                var compressed = new byte[entries.Max(e => e.Location.FrameLength)];
                var frame = new byte[PackWriter.PagesPerFrame * pageSize];
                using (var sha = SHA256.Create())
                {
                    foreach (var group in entries.Where(e => referenced.Contains(e.Hash)).GroupBy(e => e.Location.FrameOffset))
                    {
                        int length = ReadFrame(source, group.First().Location, ref compressed, ref frame, pageSize, decompressor);
                        foreach (var e in group)
                        {
                            // A page is carried into the new pack only as what its address says it is.
                            if (length < (e.Location.Slot + 1) * pageSize || !PageHash.Read(sha.ComputeHash(frame, e.Location.Slot * pageSize, pageSize), 0).Equals(e.Hash))
                                throw Damaged(PackPath(pack), $"page {e.Hash} in it does not match its SHA-256; the pack was left as it is");
                            writer.Add(e.Hash, frame, e.Location.Slot * pageSize);
                        }
                    }
                }
                return writer.Commit();
            }
        }

        /// <summary>The page size a pack holds (its header).</summary>
        public int ReadPageSize(string pack)
        {
            var header = new byte[PackMagic.Length + 4];
            using (var f = new FileStream(PackPath(pack), FileMode.Open, FileAccess.Read, FileShare.Read, 1))
            {
                if (Sqlite.SqliteFile.ReadFully(f, header, 0, header.Length) != header.Length || !header.Take(PackMagic.Length).SequenceEqual(PackMagic))
                    throw Damaged(PackPath(pack), "it is not a page store pack");
            }
            return BitConverter.ToInt32(header, PackMagic.Length);
        }

        private void Remove(string pack)
        {
            File.Delete(IndexPath(pack)); // first: from now on nothing reads the pack
            DurableFile.FlushDirectory(Root);
            DurableFile.TryDelete(PackPath(pack));
        }
    }
}
