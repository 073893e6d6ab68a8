using System;
using System.Collections.Generic;
using System.IO;

namespace TursoBackup.Engine.Sqlite
{
    /// <summary>
    /// Reads a SQLite write-ahead log (https://www.sqlite.org/fileformat2.html#walformat): the header, then frames
    /// while their salts match the header and their cumulative checksums hold. Only frames of committed
    /// transactions count: frames after the last commit frame (a transaction still being written, or a torn write)
    /// are ignored, exactly as SQLite's own recovery does.
    /// </summary>
    public sealed class WalFile
    {
        public const int HeaderSize = 32;
        public const int FrameHeaderSize = 24;
        private const uint MagicLittleEndian = 0x377f0682;
        private const uint MagicBigEndian = 0x377f0683;

        private WalFile() { }

        /// <summary>Page size the WAL was written with (0 when the WAL is empty or has no valid header).</summary>
        public int PageSize { get; private set; }
        public uint Salt1 { get; private set; }
        public uint Salt2 { get; private set; }
        public uint CheckpointSequence { get; private set; }

        /// <summary>Number of frames up to and including the last valid commit frame.</summary>
        public long CommittedFrames { get; private set; }

        /// <summary>Database size in pages after the last committed transaction (0 when no frame is committed).</summary>
        public uint DatabasePages { get; private set; }

        /// <summary>Whether the WAL's checksums are computed on big-endian words (magic 0x377f0683).</summary>
        public bool BigEndianChecksums { get; private set; }

        /// <summary>The cumulative checksum after the last committed frame (the seed for the frame that follows it).</summary>
        public uint CommittedChecksum0 { get; private set; }
        public uint CommittedChecksum1 { get; private set; }

        /// <summary>For each page in a committed frame, the file offset of the page data of its newest committed version.</summary>
        public Dictionary<uint, long> NewestPageOffsets { get; } = new Dictionary<uint, long>();

        public long FrameSize => FrameHeaderSize + PageSize;

        /// <summary>Number of the first frame this read scanned (1, or the frame after the known ones for <see cref="ReadAfter"/>).</summary>
        public long FirstScannedFrame { get; private set; } = 1;

        /// <summary>Page numbers of the committed frames this read scanned, in order, from <see cref="FirstScannedFrame"/>.</summary>
        public List<uint> ScannedPages { get; } = new List<uint>();

        /// <summary>Page numbers of committed frames [first, first + count), when this read scanned them (else null).</summary>
        public uint[] PagesOf(long first, long count)
        {
            if (first < FirstScannedFrame || first + count - 1 > CommittedFrames || first - FirstScannedFrame + count > ScannedPages.Count) return null;
            return ScannedPages.GetRange((int)(first - FirstScannedFrame), (int)count).ToArray();
        }

        /// <summary>Reads the WAL at <paramref name="path"/>; a missing or empty file gives an empty WAL.</summary>
        public static WalFile Read(string path) => Read(path, long.MaxValue);

        /// <summary>As <see cref="Read(string)"/>, but frames after <paramref name="maxFrames"/> are not read (a read transaction's snapshot ends there).</summary>
        public static WalFile Read(string path, long maxFrames)
        {
            var wal = new WalFile { frameLimit = maxFrames };
            if (!File.Exists(path)) return wal;
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.SequentialScan))
            {
                wal.Scan(fs);
            }
            return wal;
        }

        private long frameLimit = long.MaxValue;

        /// <summary>
        /// Reads only the frames after the first <paramref name="knownFrames"/> committed ones, continuing the checksum
        /// chain from (<paramref name="seed0"/>, <paramref name="seed1"/>): the cost of a sync is the new frames, not
        /// the whole WAL. Falls back to a full read when the WAL is no longer the one described (other salts or
        /// checkpoint sequence, shorter than the known frames, or the last known frame's checksum differs).
        /// <see cref="NewestPageOffsets"/> then holds only the pages of the new frames.
        /// </summary>
        public static WalFile ReadAfter(string path, uint salt1, uint salt2, uint checkpointSequence, long knownFrames, uint seed0, uint seed1)
        {
            if (knownFrames <= 0 || !File.Exists(path)) return Read(path);
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.SequentialScan))
            {
                var header = new byte[HeaderSize];
                if (SqliteFile.ReadFully(fs, header, 0, HeaderSize) == HeaderSize)
                {
                    var wal = new WalFile();
                    if (wal.ParseHeader(header) && wal.Salt1 == salt1 && wal.Salt2 == salt2 && wal.CheckpointSequence == checkpointSequence
                        && fs.Length >= HeaderSize + knownFrames * wal.FrameSize)
                    {
                        // The last known frame must still carry the checksum the archive continued from.
                        var last = new byte[FrameHeaderSize];
                        fs.Position = HeaderSize + (knownFrames - 1) * wal.FrameSize;
                        if (SqliteFile.ReadFully(fs, last, 0, FrameHeaderSize) == FrameHeaderSize
                            && BigEndian(last, 8) == salt1 && BigEndian(last, 12) == salt2 && BigEndian(last, 16) == seed0 && BigEndian(last, 20) == seed1
                            && BigEndian(last, 4) != 0)
                        {
                            wal.DatabasePages = BigEndian(last, 4);
                            fs.Position = HeaderSize + knownFrames * wal.FrameSize;
                            wal.ScanFrames(fs, knownFrames, seed0, seed1);
                            return wal;
                        }
                    }
                }
            }
            return Read(path);
        }

        /// <summary>Parses and checks the 32-byte header; false when it is not a valid WAL header.</summary>
        private bool ParseHeader(byte[] header)
        {
            uint magic = BigEndian(header, 0);
            if (magic != MagicLittleEndian && magic != MagicBigEndian) return false;
            bool bigEndianChecksums = magic == MagicBigEndian;
            int pageSize = (int)BigEndian(header, 8);
            if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) != 0) return false;
            uint s0 = 0, s1 = 0;
            Checksum(header, 0, 24, bigEndianChecksums, ref s0, ref s1);
            if (s0 != BigEndian(header, 24) || s1 != BigEndian(header, 28)) return false;
            BigEndianChecksums = bigEndianChecksums;
            PageSize = pageSize;
            CommittedChecksum0 = s0;
            CommittedChecksum1 = s1;
            CheckpointSequence = BigEndian(header, 12);
            Salt1 = BigEndian(header, 16);
            Salt2 = BigEndian(header, 20);
            return true;
        }

        private void Scan(Stream s)
        {
            var header = new byte[HeaderSize];
            if (SqliteFile.ReadFully(s, header, 0, HeaderSize) < HeaderSize) return;
            if (!ParseHeader(header)) return;
            ScanFrames(s, 0, CommittedChecksum0, CommittedChecksum1);
        }

        /// <summary>Reads frames from the stream's position, which is frame <paramref name="framesBefore"/> + 1.</summary>
        private void ScanFrames(Stream s, long framesBefore, uint s0, uint s1)
        {
            int pageSize = PageSize;
            bool bigEndianChecksums = BigEndianChecksums;
            CommittedFrames = framesBefore;
            FirstScannedFrame = framesBefore + 1;
            CommittedChecksum0 = s0;
            CommittedChecksum1 = s1;
            var frame = new byte[FrameHeaderSize + pageSize];
            var pending = new List<KeyValuePair<uint, long>>();
            long frameIndex = framesBefore;
            long offset = HeaderSize + framesBefore * (FrameHeaderSize + pageSize);
            while (frameIndex < frameLimit && SqliteFile.ReadFully(s, frame, 0, frame.Length) == frame.Length)
            {
                uint page = BigEndian(frame, 0);
                uint commitSize = BigEndian(frame, 4);
                if (page == 0 || BigEndian(frame, 8) != Salt1 || BigEndian(frame, 12) != Salt2) break;
                uint c0 = s0, c1 = s1;
                Checksum(frame, 0, 8, bigEndianChecksums, ref c0, ref c1);
                Checksum(frame, FrameHeaderSize, pageSize, bigEndianChecksums, ref c0, ref c1);
                if (c0 != BigEndian(frame, 16) || c1 != BigEndian(frame, 20)) break;
                s0 = c0;
                s1 = c1;
                frameIndex++;
                pending.Add(new KeyValuePair<uint, long>(page, offset + FrameHeaderSize));
                ScannedPages.Add(page);
                if (commitSize != 0)
                {
                    foreach (var p in pending) NewestPageOffsets[p.Key] = p.Value;
                    pending.Clear();
                    CommittedFrames = frameIndex;
                    DatabasePages = commitSize;
                    CommittedChecksum0 = s0;
                    CommittedChecksum1 = s1;
                }
                offset += frame.Length;
            }
            // Frames after the last commit are not part of the WAL's committed content.
            long committedScanned = CommittedFrames - framesBefore;
            if (ScannedPages.Count > committedScanned) ScannedPages.RemoveRange((int)committedScanned, ScannedPages.Count - (int)committedScanned);
        }

        /// <summary>Reads only the WAL header (frames ignored): its salts and the checksum that seeds frame 1.</summary>
        public static WalFile HeaderOnly(string path)
        {
            var wal = new WalFile();
            if (!File.Exists(path)) return wal;
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                wal.Scan(new HeaderOnlyStream(fs));
            }
            return wal;
        }

        private sealed class HeaderOnlyStream : Stream
        {
            private readonly Stream inner;
            private long left = HeaderSize;
            public HeaderOnlyStream(Stream inner) { this.inner = inner; }
            public override int Read(byte[] buffer, int offset, int count)
            {
                int n = inner.Read(buffer, offset, (int)Math.Min(count, left));
                left -= n;
                return n;
            }
            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => false;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override void Flush() { }
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        }

        /// <summary>SQLite's WAL checksum over <paramref name="count"/> bytes (a multiple of 8), continuing (s0, s1).</summary>
        public static void Checksum(byte[] data, int start, int count, bool bigEndian, ref uint s0, ref uint s1)
        {
            // Words in the machine's order are read eight bytes at a time, the others byte-swapped.
            var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(new ReadOnlySpan<byte>(data, start, count));
            uint a = s0, b = s1;
            if (bigEndian == BitConverter.IsLittleEndian)
            {
                for (int i = 0; i + 1 < words.Length; i += 2)
                {
                    a += System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(words[i]) + b;
                    b += System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(words[i + 1]) + a;
                }
            }
            else
            {
                for (int i = 0; i + 1 < words.Length; i += 2)
                {
                    a += words[i] + b;
                    b += words[i + 1] + a;
                }
            }
            s0 = a;
            s1 = b;
        }

        public static uint BigEndian(byte[] b, int i) => (uint)(b[i] << 24 | b[i + 1] << 16 | b[i + 2] << 8 | b[i + 3]);

    }
}
