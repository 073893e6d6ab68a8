using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Engine.Wal
{
    /// <summary>
    /// One segment: the WAL frames (24-byte frame header + page, exactly as SQLite wrote them) of the transactions one
    /// sync captured, all with that sync's capture time. File layout:
    /// <c>"TBWSEG01"</c>, header length (u32 little-endian), header JSON (capture time, salts, checksum seed, page
    /// number of every frame, database size after the last commit), then the frames compressed with Zstandard.
    /// A segment is written under a temporary name, fsynced and renamed, and its frames carry SQLite's cumulative
    /// checksums, so a damaged or truncated segment is recognised and never applied.
    /// </summary>
    public sealed class WalSegment
    {
        private static readonly byte[] Magic = Encoding.ASCII.GetBytes("TBWSEG01");
        private static readonly byte[] PackMagic = Encoding.ASCII.GetBytes("TBWPAK01");
        // The last 16 bytes: the compressed body's length (u64 little-endian) and this marker. A segment cut short
        // (a crash, a partial copy) has no valid trailer, which a listing sees without decompressing anything.
        private static readonly byte[] TrailerMagic = Encoding.ASCII.GetBytes("TBWSEGOK");
        private const int TrailerSize = 16;
        /// <summary>
        /// Compression of segments follows the writer (docs/decisions.md #20): a sync that captures a megabyte or more
        /// means a busy writer, and keeping up matters more than the last 10 % of ratio — zstd's fast level -3 (about
        /// twice level 1's speed here), with worker threads from 8 MiB. Small segments use level 1 on the calling thread.
        /// </summary>
        private static int? Workers(long rawBytes) => rawBytes >= 8 << 20 ? (int?)null : 0;

        private static int Level(long rawBytes) => rawBytes >= 1 << 20 ? -3 : 1;

        public string Path { get; private set; }
        public long Sequence { get; set; }
        public DateTimeOffset CaptureTime { get; set; }
        public int PageSize { get; set; }
        public uint Salt1 { get; set; }
        public uint Salt2 { get; set; }
        public long FirstFrame { get; set; }
        public uint Seed0 { get; set; }
        public uint Seed1 { get; set; }
        public bool BigEndianChecksums { get; set; }
        public uint[] Pages { get; set; } = new uint[0];
        /// <summary>Database size in pages after this segment's last transaction.</summary>
        public uint DatabasePages { get; set; }
        public long BodyOffset { get; private set; }
        /// <summary>The body (the compressed frames) is OpenPGP-encrypted; the header (times, salts, page numbers) is not, so listings, retention and health need no key.</summary>
        public bool Encrypted { get; set; }
        public long StoredBytes { get; private set; }

        /// <summary>Writes frames [first, first + count) of the WAL file as a segment; returns its stored size.</summary>
        /// <param name="keys">Encrypts the body (OpenPGP AES-256) when set.</param>
        public static long Write(string walPath, WalFile wal, long firstFrame, long count, string segmentPath, WalSegment header, Crypto.EncryptionKeys keys = null)
        {
            header.Encrypted = keys != null && keys.Any;
            var pages = new uint[count];
            long frameSize = wal.FrameSize;
            string dir = System.IO.Path.GetDirectoryName(segmentPath);
            OwnerOnly.CreateDirectory(dir);
            string temp = segmentPath + ".partial";
            try
            {
                using (var walStream = new FileStream(walPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1))
                {
                    // Page numbers first (the header lists them): from the read that found the frames, else from the frame headers.
                    var frameHeader = new byte[WalFile.FrameHeaderSize];
                    var known = wal.PagesOf(firstFrame, count);
                    if (known != null) pages = known;
                    for (long i = 0; known == null && i < count; i++)
                    {
                        walStream.Position = WalFile.HeaderSize + (firstFrame - 1 + i) * frameSize;
                        SqliteFile.ReadFully(walStream, frameHeader, 0, frameHeader.Length);
                        pages[i] = WalFile.BigEndian(frameHeader, 0);
                    }
                    header.Pages = pages;
                    header.FirstFrame = firstFrame;
                    byte[] headerBytes = new UTF8Encoding(false).GetBytes(header.HeaderJson());
                    WriteContainer(temp, Magic, headerBytes, count * frameSize, keys, z =>
                    {
                        walStream.Position = WalFile.HeaderSize + (firstFrame - 1) * frameSize;
                        long remaining = count * frameSize;
                        var buffer = new byte[1 << 20];
                        while (remaining > 0)
                        {
                            int n = walStream.Read(buffer, 0, (int)Math.Min(buffer.Length, remaining));
                            if (n <= 0) throw new IOException("The WAL ended before the frames to archive.");
                            z.Write(buffer, 0, n);
                            remaining -= n;
                        }
                        return true;
                    });
                }
                // Measured before it is in place: a compaction beside the syncs may pack (and remove) it right after.
                long stored = new FileInfo(temp).Length;
                File.Move(temp, segmentPath);
                DurableFile.FlushDirectory(dir);
                return stored;
            }
            finally
            {
                DurableFile.TryDelete(temp);
            }
        }

        private Dictionary<string, object> HeaderFields()
        {
            var d = PlainHeaderFields();
            if (Encrypted) d["encrypted"] = true;
            return d;
        }

        private Dictionary<string, object> PlainHeaderFields() => new Dictionary<string, object>
        {
            ["sequence"] = Sequence,
            ["captureTime"] = BackupManifest.Time(CaptureTime),
            ["pageSize"] = (long)PageSize,
            ["salt1"] = (long)Salt1,
            ["salt2"] = (long)Salt2,
            ["firstFrame"] = FirstFrame,
            ["seed0"] = (long)Seed0,
            ["seed1"] = (long)Seed1,
            ["bigEndianChecksums"] = BigEndianChecksums,
            ["databasePages"] = (long)DatabasePages,
            ["pages"] = Pages.Select(p => (object)(long)p).ToList(),
        };

        private string HeaderJson() => Json.Write(HeaderFields());

        private static WalSegment FromFields(Dictionary<string, object> d)
        {
            long L(string k) => Convert.ToInt64(d[k], CultureInfo.InvariantCulture);
            return new WalSegment
            {
                Sequence = L("sequence"),
                CaptureTime = BackupManifest.ParseTime((string)d["captureTime"]),
                PageSize = (int)L("pageSize"),
                Salt1 = (uint)L("salt1"),
                Salt2 = (uint)L("salt2"),
                FirstFrame = L("firstFrame"),
                Seed0 = (uint)L("seed0"),
                Seed1 = (uint)L("seed1"),
                BigEndianChecksums = (bool)d["bigEndianChecksums"],
                DatabasePages = (uint)L("databasePages"),
                Pages = ((List<object>)d["pages"]).Select(p => (uint)Convert.ToInt64(p, CultureInfo.InvariantCulture)).ToArray(),
                Encrypted = d.TryGetValue("encrypted", out var e) && e is bool b && b,
            };
        }

        /// <summary>Reads a segment file's header; null when the file is damaged or truncated, or is a pack.</summary>
        public static WalSegment ReadHeader(string path)
        {
            var list = ReadFile(path);
            return list != null && list.Count == 1 && !list[0].InPack ? list[0] : null;
        }

        /// <summary>
        /// The segments a file holds: one for a segment file, several for a pack (see <see cref="WritePack"/>), in order.
        /// Null when the file is damaged or truncated (its header or trailer does not hold) — seen without decompressing.
        /// </summary>
        public static List<WalSegment> ReadFile(string path)
        {
            try
            {
                using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
                {
                    var magic = new byte[8];
                    if (SqliteFile.ReadFully(fs, magic, 0, 8) < 8) return null;
                    bool pack = magic.SequenceEqual(PackMagic);
                    if (!pack && !magic.SequenceEqual(Magic)) return null;
                    var len = new byte[4];
                    if (SqliteFile.ReadFully(fs, len, 0, 4) < 4) return null;
                    int n = (int)BitConverter.ToUInt32(len, 0);
                    if (n <= 0 || n > 256 << 20) return null;
                    var json = new byte[n];
                    if (SqliteFile.ReadFully(fs, json, 0, n) < n) return null;
                    if (fs.Length < 12 + n + TrailerSize) return null;
                    var trailer = new byte[TrailerSize];
                    fs.Position = fs.Length - TrailerSize;
                    SqliteFile.ReadFully(fs, trailer, 0, TrailerSize);
                    if (!trailer.Skip(8).SequenceEqual(TrailerMagic) || (long)BitConverter.ToUInt64(trailer, 0) != fs.Length - TrailerSize - (12 + n)) return null;
                    var d = (Dictionary<string, object>)Json.Parse(Encoding.UTF8.GetString(json));
                    var list = new List<WalSegment>();
                    if (pack)
                    {
                        int level = (int)Convert.ToInt64(d["level"], CultureInfo.InvariantCulture);
                        bool packEncrypted = d.TryGetValue("encrypted", out var pe) && pe is bool pb && pb;
                        long before = 0;
                        foreach (Dictionary<string, object> sub in (List<object>)d["segments"])
                        {
                            var seg = FromFields(sub);
                            seg.Encrypted = packEncrypted;
                            seg.FramesBefore = before;
                            seg.PackLevel = level;
                            before += seg.Pages.Length;
                            list.Add(seg);
                        }
                        if (list.Count == 0) return null;
                    }
                    else
                    {
                        list.Add(FromFields(d));
                    }
                    foreach (var seg in list)
                    {
                        seg.Path = path;
                        seg.BodyOffset = 12 + n;
                        seg.StoredBytes = fs.Length;
                    }
                    return list;
                }
            }
            catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is KeyNotFoundException || ex is IOException || ex is OverflowException || ex is NullReferenceException)
            {
                return null;
            }
        }

        /// <summary>Reads every frame of this segment alone (verified as in <see cref="ReadMany"/>); false when damaged.</summary>
        public bool ReadFrames(Action<int, uint, byte[]> onFrame, Crypto.DecryptionKeys keys = null) =>
            ReadMany(new[] { this }, _ => onFrame != null, (seg, frame, page, bytes) => onFrame(frame, page, bytes), out _, keys);

        /// <summary>
        /// Reads the frames of consecutive segments, one decompression per file, checking each frame's page number and
        /// salts against the header and SQLite's cumulative checksum chain from the segment's seed, and that the segment
        /// ends on a commit. Calls <paramref name="onFrame"/> (segment, frame index within it, page number, page bytes —
        /// the buffer is reused) for the segments <paramref name="wanted"/> says; the others are read and verified only.
        /// Returns false, with the first damaged segment, when one is damaged: nothing of it may be used.
        /// </summary>
        /// <param name="keys">Opens encrypted segments; an encrypted one without a key, or with a wrong one, is an error (a
        /// <see cref="Errors.TursoBackupException"/> naming the parameters), not damage.</param>
        public static bool ReadMany(IReadOnlyList<WalSegment> segments, Func<WalSegment, bool> wanted, Action<WalSegment, int, uint, byte[]> onFrame, out WalSegment damaged,
            Crypto.DecryptionKeys keys = null)
        {
            damaged = null;
            int i = 0;
            while (i < segments.Count)
            {
                // The run of segments that share this file, in file order.
                int end = i + 1;
                while (end < segments.Count && segments[end].Path == segments[i].Path && segments[end].FramesBefore > segments[end - 1].FramesBefore) end++;
                if (!ReadRun(segments, i, end, wanted, onFrame, null, out damaged, keys)) return false;
                i = end;
            }
            return true;
        }

        private static bool ReadRun(IReadOnlyList<WalSegment> segments, int from, int to, Func<WalSegment, bool> wanted, Action<WalSegment, int, uint, byte[]> onFrame,
            Action<WalSegment, byte[]> onRawFrame, out WalSegment damaged, Crypto.DecryptionKeys keys)
        {
            var first = segments[from];
            damaged = first;
            try
            {
                using (var fs = new FileStream(first.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
                {
                    fs.Position = first.BodyOffset;
                    using (var clear = first.Encrypted
                        ? Crypto.OpenPgp.Decrypt(new BoundedReadStream(fs, fs.Length - TrailerSize - first.BodyOffset), keys ?? new Crypto.DecryptionKeys(),
                            $"the WAL archive file '{System.IO.Path.GetFileName(first.Path)}'")
                        : null)
                    using (var z = ArtifactStreams.Decompress(clear ?? fs, CompressionKind.Zstd))
                    {
                        byte[] frame = null;
                        byte[] page = null;
                        // Frames of the file's segments before the first one asked for are skipped (a pack read from the middle).
                        if (first.FramesBefore > 0)
                        {
                            var skip = new byte[1 << 16];
                            long left = first.FramesBefore * (WalFile.FrameHeaderSize + (long)first.PageSize);
                            while (left > 0)
                            {
                                int n = z.Read(skip, 0, (int)Math.Min(skip.Length, left));
                                if (n <= 0) return false;
                                left -= n;
                            }
                        }
                        for (int s = from; s < to; s++)
                        {
                            var seg = segments[s];
                            damaged = seg;
                            if (s > from && seg.FramesBefore != segments[s - 1].FramesBefore + segments[s - 1].Pages.Length) return false;
                            int frameSize = WalFile.FrameHeaderSize + seg.PageSize;
                            if (frame == null || frame.Length != frameSize)
                            {
                                frame = new byte[frameSize];
                                page = new byte[seg.PageSize];
                            }
                            bool deliver = onFrame != null && wanted(seg);
                            uint s0 = seg.Seed0, s1 = seg.Seed1;
                            for (int f = 0; f < seg.Pages.Length; f++)
                            {
                                if (SqliteFile.ReadFully(z, frame, 0, frame.Length) < frame.Length) return false;
                                if (WalFile.BigEndian(frame, 0) != seg.Pages[f] || WalFile.BigEndian(frame, 8) != seg.Salt1 || WalFile.BigEndian(frame, 12) != seg.Salt2) return false;
                                WalFile.Checksum(frame, 0, 8, seg.BigEndianChecksums, ref s0, ref s1);
                                WalFile.Checksum(frame, WalFile.FrameHeaderSize, seg.PageSize, seg.BigEndianChecksums, ref s0, ref s1);
                                if (s0 != WalFile.BigEndian(frame, 16) || s1 != WalFile.BigEndian(frame, 20)) return false;
                                // It must end on a commit, of the database size its header says.
                                if (f == seg.Pages.Length - 1 && (WalFile.BigEndian(frame, 4) == 0 || WalFile.BigEndian(frame, 4) != seg.DatabasePages)) return false;
                                onRawFrame?.Invoke(seg, frame);
                                if (deliver)
                                {
                                    Buffer.BlockCopy(frame, WalFile.FrameHeaderSize, page, 0, seg.PageSize);
                                    onFrame(seg, f, seg.Pages[f], page);
                                }
                            }
                            seg.EndSeed0 = s0;
                            seg.EndSeed1 = s1;
                        }
                        // The integrity check (MDC) of an encrypted body is read at its end.
                        if (clear != null) ArtifactStreams.Drain(clear);
                        damaged = null;
                        return true;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException || ex is InvalidDataException || ex is ZstdSharp.ZstdException
                                       || (ex is Errors.TursoBackupException t && !Crypto.KeyRings.IsKeyProblem(t)))
            {
                return false;
            }
        }

        /// <summary>The checksum chain after this segment's last frame, once a read verified it (the seed of the WAL's next frame).</summary>
        public uint EndSeed0 { get; private set; }
        public uint EndSeed1 { get; private set; }

        /// <summary>Whether this segment lives in a pack (then <see cref="Path"/> is the pack's file).</summary>
        public bool InPack => PackLevel > 0;

        /// <summary>The pack's level (1: made of segment files, n + 1: made of level-n packs); 0 for a segment file.</summary>
        public int PackLevel { get; private set; }

        /// <summary>Frames of the same file's segments before this one (0 for a segment file).</summary>
        public long FramesBefore { get; private set; }

        /// <summary>
        /// Writes consecutive segments (read and verified from their files) into one pack: <c>"TBWPAK01"</c>, header length
        /// (u32 little-endian), header JSON (<c>level</c> and every segment's header, unchanged — capture times, salts,
        /// seeds, pages), the frames of all of them in one Zstandard stream, and the trailer of a segment file. Capture
        /// times are kept per segment, so a pack restores to exactly the same points as the files it replaces; only the
        /// number of files (and a restore's per-file cost) goes down. Temporary name, fsync, rename; returns the stored size,
        /// or -1 when a source is damaged (then nothing is written).
        /// </summary>
        /// <param name="read">Opens encrypted source segments.</param>
        /// <param name="write">Encrypts the pack's body when set (then the pack's header says "encrypted").</param>
        public static long WritePack(IReadOnlyList<WalSegment> segments, string packPath, int level, Crypto.DecryptionKeys read = null, Crypto.EncryptionKeys write = null)
        {
            string dir = System.IO.Path.GetDirectoryName(packPath);
            string temp = packPath + ".partial";
            var fields = new List<object>();
            foreach (var seg in segments) fields.Add(seg.PlainHeaderFields());
            var packHeader = new Dictionary<string, object> { ["level"] = (long)level, ["segments"] = fields };
            bool encrypt = write != null && write.Any;
            if (encrypt) packHeader["encrypted"] = true;
            byte[] headerBytes = new UTF8Encoding(false).GetBytes(Json.Write(packHeader));
            long raw = segments.Sum(x => (long)x.Pages.Length * (WalFile.FrameHeaderSize + x.PageSize));
            try
            {
                bool complete = WriteContainer(temp, PackMagic, headerBytes, raw, encrypt ? write : null, z =>
                {
                    // The frames with their 24-byte headers, as they were archived (the checksums cover them), verified on the way.
                    int i = 0;
                    while (i < segments.Count)
                    {
                        int end = i + 1;
                        while (end < segments.Count && segments[end].Path == segments[i].Path && segments[end].FramesBefore > segments[end - 1].FramesBefore) end++;
                        if (!ReadRun(segments, i, end, null, null, (seg, frame) => z.Write(frame, 0, frame.Length), out _, read)) return false;
                        i = end;
                    }
                    return true;
                });
                if (!complete) return -1;
                File.Move(temp, packPath);
                DurableFile.FlushDirectory(dir);
                return new FileInfo(packPath).Length;
            }
            finally
            {
                DurableFile.TryDelete(temp);
            }
        }

        /// <summary>
        /// An encrypted copy of a plain segment file or pack at <paramref name="target"/> (temporary name, fsync, rename):
        /// the same header with "encrypted": true, the same compressed body encrypted as it is (not recompressed), a new
        /// trailer. For copies that leave the machine encrypted though the archive here is plain. False when the source is
        /// damaged or truncated, or already encrypted (nothing is written then).
        /// </summary>
        public static bool WriteEncryptedCopy(string source, string target, Crypto.EncryptionKeys keys)
        {
            var list = ReadFile(source);
            if (list == null || list.Any(x => x.Encrypted)) return false;
            byte[] magic = list[0].InPack ? PackMagic : Magic;
            Dictionary<string, object> header;
            using (var fs = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
            {
                fs.Position = 8;
                var len = new byte[4];
                SqliteFile.ReadFully(fs, len, 0, 4);
                var json = new byte[BitConverter.ToUInt32(len, 0)];
                SqliteFile.ReadFully(fs, json, 0, json.Length);
                header = (Dictionary<string, object>)Json.Parse(Encoding.UTF8.GetString(json));
                header["encrypted"] = true; // a segment's own header, or a pack's (which covers all its segments)
                byte[] headerBytes = new UTF8Encoding(false).GetBytes(Json.Write(header));
                string dir = System.IO.Path.GetDirectoryName(target);
                OwnerOnly.CreateDirectory(dir);
                string temp = target + ".partial";
                try
                {
                    using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                    {
                        OwnerOnly.File(temp);
                        file.Write(magic, 0, magic.Length);
                        file.Write(BitConverter.GetBytes((uint)headerBytes.Length), 0, 4);
                        file.Write(headerBytes, 0, headerBytes.Length);
                        long bodyStart = file.Position;
                        using (var early = new EarlyWritebackStream(file))
                        using (var encrypted = Crypto.OpenPgp.Encrypt(early, keys, "wal-frames"))
                        {
                            ArtifactStreams.Pump(new BoundedReadStream(fs, fs.Length - TrailerSize - fs.Position), encrypted, null);
                        }
                        file.Write(BitConverter.GetBytes((ulong)(file.Position - bodyStart)), 0, 8);
                        file.Write(TrailerMagic, 0, TrailerMagic.Length);
                        file.Flush(true);
                    }
                    File.Move(temp, target);
                    DurableFile.FlushDirectory(dir);
                    return true;
                }
                finally
                {
                    DurableFile.TryDelete(temp);
                }
            }
        }

        /// <summary>
        /// Writes a segment file or a pack to <paramref name="temp"/>: magic, header length (u32 little-endian), header,
        /// the body <paramref name="writeBody"/> writes through Zstandard (early write-back), then the trailer (compressed
        /// length, u64 little-endian, and <c>TBWSEGOK</c>), fsynced. False (and a file to discard) when writeBody says so.
        /// </summary>
        private static bool WriteContainer(string temp, byte[] magic, byte[] headerBytes, long rawBytes, Crypto.EncryptionKeys keys, Func<Stream, bool> writeBody)
        {
            using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                OwnerOnly.File(temp);
                file.Write(magic, 0, magic.Length);
                file.Write(BitConverter.GetBytes((uint)headerBytes.Length), 0, 4);
                file.Write(headerBytes, 0, headerBytes.Length);
                long bodyStart = file.Position;
                // Write-back starts while compressing, so the closing fsync has little left to wait for.
                using (var early = new EarlyWritebackStream(file))
                using (var encrypted = keys != null && keys.Any ? Crypto.OpenPgp.Encrypt(early, keys, "wal-frames") : null)
                using (var z = ArtifactStreams.Compress(encrypted ?? early, CompressionKind.Zstd, Workers(rawBytes), Level(rawBytes)))
                {
                    if (!writeBody(z)) return false;
                }
                file.Write(BitConverter.GetBytes((ulong)(file.Position - bodyStart)), 0, 8);
                file.Write(TrailerMagic, 0, TrailerMagic.Length);
                file.Flush(true);
            }
            return true;
        }
    }
}
