using System;
using System.IO;

namespace TursoBackup.Engine.Sqlite
{
    /// <summary>
    /// The wal-index header at the start of a WAL database's <c>-shm</c> file (https://www.sqlite.org/walformat.html,
    /// "the wal-index header"): two copies of a 48-byte WalIndexHdr, in the host's byte order — iVersion, unused, iChange
    /// (+1 with every transaction), isInit, bigEndCksum, szPage, mxFrame (the last valid commit frame) at 16, nPage, the
    /// frame checksums, the WAL's salts (as in the WAL header, big-endian bytes) at 32 and 36, and the header checksum.
    /// A reader starting a read transaction copies this header; its snapshot is that mxFrame.
    /// </summary>
    public sealed class WalIndexHeader
    {
        public const int Size = 48;
        private readonly byte[] raw;

        private WalIndexHeader(byte[] raw)
        {
            this.raw = raw;
            MaxFrame = BitConverter.ToUInt32(raw, 16);
            DatabasePages = BitConverter.ToUInt32(raw, 20);
            Salt1 = WalFile.BigEndian(raw, 32);
            Salt2 = WalFile.BigEndian(raw, 36);
        }

        /// <summary>The last valid commit frame of the WAL (0: nothing in the WAL).</summary>
        public uint MaxFrame { get; }
        public uint DatabasePages { get; }
        public uint Salt1 { get; }
        public uint Salt2 { get; }

        /// <summary>Whether nothing changed between the two reads (every byte of the header, the transaction counter included).</summary>
        public bool SameAs(WalIndexHeader other)
        {
            if (other == null) return false;
            for (int i = 0; i < Size; i++) if (raw[i] != other.raw[i]) return false;
            return true;
        }

        /// <summary>
        /// The header of <paramref name="databasePath"/>'s wal-index, or null when there is none (no -shm file: not in WAL
        /// mode, or exclusive locking mode), it is not initialized, or its two copies differ (a writer is updating it).
        /// </summary>
        public static WalIndexHeader Read(string databasePath)
        {
            string shm = databasePath + "-shm";
            try
            {
                if (!File.Exists(shm)) return null;
                var buffer = new byte[2 * Size];
                using (var fs = new FileStream(shm, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1))
                {
                    if (SqliteFile.ReadFully(fs, buffer, 0, buffer.Length) < buffer.Length) return null;
                }
                for (int i = 0; i < Size; i++) if (buffer[i] != buffer[Size + i]) return null;
                if (buffer[12] == 0) return null; // isInit
                var first = new byte[Size];
                Buffer.BlockCopy(buffer, 0, first, 0, Size);
                return new WalIndexHeader(first);
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }
    }
}
