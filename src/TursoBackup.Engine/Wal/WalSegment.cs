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
        // The last 16 bytes: the compressed body's length (u64 little-endian) and this marker. A segment cut short
        // (a crash, a partial copy) has no valid trailer, which a listing sees without decompressing anything.
        private static readonly byte[] TrailerMagic = Encoding.ASCII.GetBytes("TBWSEGOK");
        private const int TrailerSize = 16;
        /// <summary>Segments at least this big are compressed by Zstandard's worker threads; smaller ones on the calling thread.</summary>
        private const long ParallelCompressionBytes = 8 << 20;

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
        public long StoredBytes { get; private set; }

        /// <summary>Writes frames [first, first + count) of the WAL file as a segment; returns its stored size.</summary>
        public static long Write(string walPath, WalFile wal, long firstFrame, long count, string segmentPath, WalSegment header)
        {
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
                    using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                    {
                        OwnerOnly.File(temp);
                        file.Write(Magic, 0, Magic.Length);
                        file.Write(BitConverter.GetBytes((uint)headerBytes.Length), 0, 4);
                        file.Write(headerBytes, 0, headerBytes.Length);
                        long bodyStart = file.Position;
                        using (var z = ArtifactStreams.Compress(file, CompressionKind.Zstd, workers: count * frameSize >= ParallelCompressionBytes ? (int?)null : 0))
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
                        }
                        file.Write(BitConverter.GetBytes((ulong)(file.Position - bodyStart)), 0, 8);
                        file.Write(TrailerMagic, 0, TrailerMagic.Length);
                        file.Flush(true);
                    }
                }
                File.Move(temp, segmentPath);
                DurableFile.FlushDirectory(dir);
                return new FileInfo(segmentPath).Length;
            }
            finally
            {
                DurableFile.TryDelete(temp);
            }
        }

        private string HeaderJson() => Json.Write(new Dictionary<string, object>
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
        });

        /// <summary>Reads a segment's header; null when the file is damaged or truncated in its header.</summary>
        public static WalSegment ReadHeader(string path)
        {
            try
            {
                using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
                {
                    var magic = new byte[8];
                    if (SqliteFile.ReadFully(fs, magic, 0, 8) < 8 || !magic.SequenceEqual(Magic)) return null;
                    var len = new byte[4];
                    if (SqliteFile.ReadFully(fs, len, 0, 4) < 4) return null;
                    int n = (int)BitConverter.ToUInt32(len, 0);
                    if (n <= 0 || n > 64 << 20) return null;
                    var json = new byte[n];
                    if (SqliteFile.ReadFully(fs, json, 0, n) < n) return null;
                    var d = (Dictionary<string, object>)Json.Parse(Encoding.UTF8.GetString(json));
                    if (fs.Length < 12 + n + TrailerSize) return null;
                    var trailer = new byte[TrailerSize];
                    fs.Position = fs.Length - TrailerSize;
                    SqliteFile.ReadFully(fs, trailer, 0, TrailerSize);
                    if (!trailer.Skip(8).SequenceEqual(TrailerMagic) || (long)BitConverter.ToUInt64(trailer, 0) != fs.Length - TrailerSize - (12 + n)) return null;
                    long L(string k) => Convert.ToInt64(d[k], CultureInfo.InvariantCulture);
                    return new WalSegment
                    {
                        Path = path,
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
                        BodyOffset = 12 + n,
                        StoredBytes = fs.Length,
                    };
                }
            }
            catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is KeyNotFoundException || ex is IOException || ex is OverflowException)
            {
                return null;
            }
        }

        /// <summary>
        /// Reads every frame, checking salts and the cumulative checksum chain, and calls <paramref name="onFrame"/>
        /// (frame index within the segment, page number, page bytes). Returns false when the segment is damaged: then
        /// nothing of it may be applied (the caller must have verified before writing anything).
        /// </summary>
        public bool ReadFrames(Action<int, uint, byte[]> onFrame)
        {
            try
            {
                using (var fs = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
                {
                    fs.Position = BodyOffset;
                    using (var z = ArtifactStreams.Decompress(fs, CompressionKind.Zstd))
                    {
                        var frame = new byte[WalFile.FrameHeaderSize + PageSize];
                        var page = new byte[PageSize];
                        uint s0 = Seed0, s1 = Seed1;
                        for (int i = 0; i < Pages.Length; i++)
                        {
                            if (SqliteFile.ReadFully(z, frame, 0, frame.Length) < frame.Length) return false;
                            if (WalFile.BigEndian(frame, 0) != Pages[i] || WalFile.BigEndian(frame, 8) != Salt1 || WalFile.BigEndian(frame, 12) != Salt2) return false;
                            WalFile.Checksum(frame, 0, 8, BigEndianChecksums, ref s0, ref s1);
                            WalFile.Checksum(frame, WalFile.FrameHeaderSize, PageSize, BigEndianChecksums, ref s0, ref s1);
                            if (s0 != WalFile.BigEndian(frame, 16) || s1 != WalFile.BigEndian(frame, 20)) return false;
                            if (i == Pages.Length - 1 && WalFile.BigEndian(frame, 4) == 0) return false; // must end on a commit
                            if (onFrame != null)
                            {
                                Buffer.BlockCopy(frame, WalFile.FrameHeaderSize, page, 0, PageSize);
                                onFrame(i, Pages[i], page);
                            }
                        }
                        return true;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException || ex is InvalidDataException || ex is ZstdSharp.ZstdException || ex is Errors.TursoBackupException)
            {
                return false;
            }
        }
    }
}
