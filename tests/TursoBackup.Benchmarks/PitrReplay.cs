using K4os.Compression.LZ4.Streams;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Wal;

namespace TursoBackup.Benchmarks
{
    /// <summary>One unit an archiver made durable: when it landed, and how to apply its pages to a database file.</summary>
    public sealed record ArchiveStep(DateTime CapturedUtc, long Bytes, Action<FileStream> Apply);

    /// <summary>
    /// Capture lag, measured the same way for every archiver: start from the archive's snapshot, apply its units in
    /// order, and after each one read the newest transaction id the database then holds. A transaction's lag is the
    /// capture time of the first unit that holds it minus the time its COMMIT returned. Nothing is sampled or
    /// estimated: every transaction of the run gets its own lag.
    /// </summary>
    public static class PitrReplay
    {
        /// <summary>Returns, per unit, (capture time, highest transaction id held after applying it).</summary>
        public static List<(DateTime At, long MaxId)> Replay(string work, Action<Stream> writeSnapshot, IEnumerable<ArchiveStep> steps)
        {
            var result = new List<(DateTime, long)>();
            if (File.Exists(work)) File.Delete(work);
            using (var fs = new FileStream(work, FileMode.CreateNew, FileAccess.Write)) writeSnapshot(fs);
            foreach (var step in steps)
            {
                using (var fs = new FileStream(work, FileMode.Open, FileAccess.ReadWrite)) step.Apply(fs);
                result.Add((step.CapturedUtc, PitrWriter.MaxId(work)));
            }
            File.Delete(work);
            return result;
        }

        /// <summary>Lag of each transaction in ms (commit ticks indexed by id - firstId); transactions never archived are left out and counted.</summary>
        public static (double[] LagMs, int Missing) Lags(long firstId, long[] committedTicks, List<(DateTime At, long MaxId)> replay)
        {
            var lags = new List<double>(committedTicks.Length);
            int unit = 0;
            int missing = 0;
            for (int i = 0; i < committedTicks.Length; i++)
            {
                long id = firstId + i;
                while (unit < replay.Count && replay[unit].MaxId < id) unit++;
                if (unit == replay.Count) { missing++; continue; }
                lags.Add(Math.Max(0, (replay[unit].At.Ticks - committedTicks[i]) / (double)TimeSpan.TicksPerMillisecond));
            }
            return (lags.ToArray(), missing);
        }

        // ---- TursoBackup's archive ----

        /// <summary>
        /// Our archive: the snapshot of the (single) generation, then each segment (from segment files and packs, each
        /// file decompressed once) at its capture time; the probe runs after each segment's last frame.
        /// </summary>
        public static List<(DateTime At, long MaxId)> ReplayOurs(string work, string vault, string database)
        {
            var layout = new WalArchiveLayout(vault, database);
            var generations = layout.Generations();
            if (generations.Count != 1) throw new InvalidOperationException($"expected one WAL generation of {database}, found {generations.Count}");
            string generation = generations[0];
            var segments = WalRestore.ValidSegments(layout, generation, out string broken);
            if (broken != null) throw new InvalidDataException(broken);
            var result = new List<(DateTime, long)>();
            if (File.Exists(work)) File.Delete(work);
            using (var fs = new FileStream(work, FileMode.CreateNew, FileAccess.Write))
            {
                ArtifactStreams.ReadArtifact(layout.SnapshotPath(generation), CompressionKind.Zstd, content => ArtifactStreams.Pump(content, fs, null));
            }
            using (var fs = new FileStream(work, FileMode.Open, FileAccess.ReadWrite))
            {
                WalSegment current = null;
                void Probe(WalSegment done)
                {
                    fs.SetLength((long)done.DatabasePages * done.PageSize);
                    fs.Flush();
                    result.Add((done.CaptureTime.UtcDateTime, PitrWriter.MaxId(work)));
                }
                bool ok = WalSegment.ReadMany(segments, _ => true, (seg, frame, page, bytes) =>
                {
                    if (frame == 0 && current != null) Probe(current);
                    current = seg;
                    fs.Position = (long)(page - 1) * seg.PageSize;
                    fs.Write(bytes, 0, bytes.Length);
                }, out var damaged);
                if (!ok) throw new InvalidDataException("damaged segment in " + damaged?.Path);
                if (current != null) Probe(current);
            }
            File.Delete(work);
            return result;
        }

        // ---- Litestream 0.3.13's file replica ----

        /// <summary>
        /// A Litestream file replica: generations/&lt;id&gt;/snapshots/&lt;index&gt;.snapshot.lz4 (the database, LZ4 frame
        /// format) and generations/&lt;id&gt;/wal/&lt;index&gt;_&lt;offset&gt;.wal.lz4 (the bytes of WAL file number
        /// <c>index</c> from <c>offset</c>, frames of committed transactions; offset 0 starts with the WAL header). A
        /// unit's capture time is its file's modification time — what Litestream itself restores by.
        /// </summary>
        public static (Action<Stream> Snapshot, List<ArchiveStep> Steps) Litestream(string replica)
        {
            var generations = Directory.GetDirectories(Path.Combine(replica, "generations"));
            if (generations.Length != 1) throw new InvalidOperationException($"expected one Litestream generation in {replica}, found {generations.Length}");
            string gen = generations[0];
            var snapshots = Directory.GetFiles(Path.Combine(gen, "snapshots"), "*.snapshot.lz4").OrderBy(f => f, StringComparer.Ordinal).ToList();
            string snapshot = snapshots.First();
            long snapshotIndex = Convert.ToInt64(Path.GetFileName(snapshot).Split('.')[0], 16);
            var files = new List<(long Index, long Offset, string Path)>();
            foreach (var f in Directory.GetFiles(Path.Combine(gen, "wal"), "*.wal.lz4"))
            {
                // <index>_<offset>.wal.lz4, both %08x.
                var parts = Path.GetFileName(f).Split('.')[0].Split('_');
                files.Add((Convert.ToInt64(parts[0], 16), Convert.ToInt64(parts[1], 16), f));
            }
            var steps = new List<ArchiveStep>();
            foreach (var (index, offset, path) in files.Where(f => f.Index >= snapshotIndex).OrderBy(f => f.Index).ThenBy(f => f.Offset))
            {
                steps.Add(new ArchiveStep(File.GetLastWriteTimeUtc(path), new FileInfo(path).Length, fs => ApplyWalBytes(path, offset, fs)));
            }
            return (out_ =>
            {
                using var input = File.OpenRead(snapshot);
                using var lz4 = LZ4Stream.Decode(input);
                lz4.CopyTo(out_, 1 << 20);
            }, steps);
        }

        private static int litestreamPageSize = 4096;

        private static void ApplyWalBytes(string path, long offset, FileStream db)
        {
            using var input = File.OpenRead(path);
            using var lz4 = LZ4Stream.Decode(input);
            if (offset == 0)
            {
                var header = new byte[WalFile.HeaderSize];
                if (ReadFully(lz4, header, 0, header.Length) < header.Length) return;
                litestreamPageSize = (int)WalFile.BigEndian(header, 8);
            }
            var frame = new byte[WalFile.FrameHeaderSize + litestreamPageSize];
            uint commitSize = 0;
            while (ReadFully(lz4, frame, 0, frame.Length) == frame.Length)
            {
                uint page = WalFile.BigEndian(frame, 0);
                db.Position = (long)(page - 1) * litestreamPageSize;
                db.Write(frame, WalFile.FrameHeaderSize, litestreamPageSize);
                uint size = WalFile.BigEndian(frame, 4);
                if (size != 0) commitSize = size;
            }
            if (commitSize != 0) db.SetLength((long)commitSize * litestreamPageSize);
        }

        private static int ReadFully(Stream s, byte[] buffer, int offset, int count)
        {
            int total = 0;
            while (total < count)
            {
                int n = s.Read(buffer, offset + total, count - total);
                if (n <= 0) break;
                total += n;
            }
            return total;
        }

        /// <summary>Total bytes under a folder.</summary>
        public static long FolderBytes(string dir) =>
            Directory.Exists(dir) ? Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length) : 0;
    }
}
