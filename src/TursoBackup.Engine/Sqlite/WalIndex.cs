using System;

namespace TursoBackup.Engine.Sqlite
{
    /// <summary>
    /// The wal-index header at the start of a WAL database's <c>-shm</c> file (https://www.sqlite.org/walformat.html,
    /// "the wal-index header"): two copies of a 48-byte WalIndexHdr, in the host's byte order — iVersion, unused, iChange
    /// (+1 with every transaction), isInit, bigEndCksum, szPage, mxFrame (the last valid commit frame) at 16, nPage, the
    /// frame checksums, the WAL's salts (as in the WAL header, big-endian bytes) at 32 and 36, and the header checksum.
    /// A reader starting a read transaction copies this header; its snapshot is that mxFrame, and
    /// <c>sqlite3_snapshot_get</c> hands out exactly that copy.
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

        /// <summary>The wal-index format version SQLite writes (WALINDEX_MAX_VERSION); anything else is not read.</summary>
        public const uint FormatVersion = 3007000;

        /// <summary>
        /// The snapshot of the read transaction open on <paramref name="connection"/> (a WAL database): what
        /// <c>sqlite3_snapshot_get</c> returns is a copy of the wal-index header the transaction read. Null when there is
        /// none (not in a read transaction, not WAL mode) or it is not a header of the known format.
        /// <para>Never by reading the -shm file: closing any descriptor of it would drop every POSIX lock this process
        /// holds there — the transaction's read mark among them — and let another process reset the WAL under the copy.</para>
        /// </summary>
        public static WalIndexHeader OfReadTransaction(Microsoft.Data.Sqlite.SqliteConnection connection) => OfReadTransaction(connection, out _);

        /// <summary>The header of an empty WAL: no frames (the snapshot is the database file alone).</summary>
        public static readonly WalIndexHeader NoFrames = new WalIndexHeader(new byte[Size]);

        /// <param name="refused">True when SQLite answered SQLITE_ERROR: besides "not in a read transaction" and "not WAL",
        /// that is what it answers for a WAL no frame was ever written to (its header's frame checksums are zero).</param>
        public static WalIndexHeader OfReadTransaction(Microsoft.Data.Sqlite.SqliteConnection connection, out bool refused)
        {
            refused = false;
            SQLitePCL.sqlite3_snapshot snapshot = null;
            try
            {
                int rc = SQLitePCL.raw.sqlite3_snapshot_get(connection.Handle, "main", out snapshot);
                refused = rc == 1;
                if (rc != 0 || snapshot == null || snapshot.IsInvalid) return null;
                var raw = new byte[Size];
                System.Runtime.InteropServices.Marshal.Copy(snapshot.DangerousGetHandle(), raw, 0, Size);
                if (BitConverter.ToUInt32(raw, 0) != FormatVersion || raw[12] == 0) return null; // iVersion, isInit
                return new WalIndexHeader(raw);
            }
            catch (Exception ex) when (ex is EntryPointNotFoundException || ex is DllNotFoundException || ex is NotSupportedException)
            {
                return null; // a SQLite built without SQLITE_ENABLE_SNAPSHOT: the caller falls back
            }
            finally
            {
                snapshot?.Dispose();
            }
        }
    }
}
