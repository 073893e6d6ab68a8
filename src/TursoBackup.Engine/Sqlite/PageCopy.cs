using System;
using System.IO;
using System.Threading;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Sqlite
{
    /// <summary>
    /// Copies a live database page by page, as of a read transaction that the caller holds open on it, reading the
    /// database file and the committed frames of its WAL directly — one sequential pass, large reads, no pager.
    /// <para>Why this is consistent:</para>
    /// <list type="bullet">
    /// <item>Rollback-journal modes: the read transaction's SHARED lock keeps every writer out of the database
    /// file, so the file is the snapshot.</item>
    /// <item>WAL mode: the read transaction pins a read mark M. Checkpoints may copy only frames ≤ M into the database
    /// file, and the WAL cannot be restarted past M. (With read mark 0 — the WAL fully copied back when the transaction
    /// began — nothing can be backfilled at all, but the WAL can restart and be overwritten; every page laid over the
    /// file is therefore read and then checked against its frame header, and a restart seen there means the file alone
    /// is the snapshot: see <see cref="ReadFrameChecked"/>.) The WAL is read
    /// after the transaction began, up to its last valid commit frame F ≥ M, and the newest version of every page in
    /// frames ≤ F is laid over the file's pages. Every page a checkpoint may write during the copy comes from a frame
    /// ≤ M ≤ F and is therefore replaced, so the copy is exactly the database as of commit F — a transaction
    /// boundary at or after the read transaction's start.</item>
    /// </list>
    /// </summary>
    public static class PageCopy
    {
        public const int ChunkBytes = 1 << 20;

        /// <summary>
        /// Opens the database file for <see cref="Copy(FileStream, string, bool, Stream, Action{long, long}, CancellationToken, out WalFile)"/>.
        /// On Unix, closing any descriptor of a file drops every POSIX lock this process holds on it — including
        /// SQLite's. A caller that keeps a SQLite connection's locks after the copy (the WAL archiver's held read
        /// transaction) must keep this stream open as long as those locks matter.
        /// </summary>
        public static FileStream OpenDatabaseFile(string databasePath) =>
            new FileStream(databasePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);

        /// <summary>Copies through an already open database file (not closed here).</summary>
        public static long Copy(FileStream db, string databasePath, bool walMode, Stream output, Action<long, long> onProgress, CancellationToken cancel, out WalFile walUsed) =>
            Copy(db, databasePath, walMode, output, onProgress, cancel, out walUsed, null);

        /// <summary>
        /// As the other overloads, but the copy is EXACTLY the read transaction's snapshot: only the WAL's frames up to
        /// <paramref name="snapshot"/>'s mxFrame are laid over the file (commits after it are left out). A WAL restarted
        /// since (other salts) means the transaction reads the file alone (read mark 0: it was fully backfilled, and no
        /// checkpoint can write the file while that reader lasts), so the file alone is copied.
        /// </summary>
        public static long Copy(FileStream db, string databasePath, bool walMode, Stream output, Action<long, long> onProgress, CancellationToken cancel, out WalFile walUsed,
            WalIndexHeader snapshot)
        {
            {
                int pageSize = ReadPageSize(db);
                BeforeWalScan?.Invoke(databasePath);
                WalFile wal = walMode ? WalFile.Read(databasePath + "-wal", snapshot != null ? snapshot.MaxFrame : long.MaxValue) : null;
                AfterWalScan?.Invoke(databasePath);
                walUsed = wal;
                bool useWal = wal != null && wal.CommittedFrames > 0;
                if (useWal && snapshot != null)
                {
                    if (snapshot.MaxFrame == 0 || wal.Salt1 != snapshot.Salt1 || wal.Salt2 != snapshot.Salt2) useWal = false;
                    else if (wal.CommittedFrames != snapshot.MaxFrame)
                        throw new TursoBackupException(FailureKind.Busy,
                            $"The WAL of '{databasePath}' holds {wal.CommittedFrames} committed frames where the read transaction's snapshot ends at frame {snapshot.MaxFrame}; the copy is discarded. Try again.", databasePath);
                }
                if (useWal && pageSize != 0 && wal.PageSize != pageSize)
                {
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"The WAL of '{databasePath}' has page size {wal.PageSize} but the database has {pageSize}; it cannot be copied page by page.", databasePath);
                }
                if (useWal) pageSize = wal.PageSize;
                if (pageSize == 0) return 0; // an empty database file and no WAL: zero pages
                long totalPages = useWal ? wal.DatabasePages : db.Length / pageSize;
                long fileLength = db.Length;
                int pagesPerChunk = Math.Max(1, ChunkBytes / pageSize);
                uint copiedChangeCounter = 0;
                var buffer = new byte[pagesPerChunk * pageSize];
                bool walRestarted = false;
                var frameHeader = new byte[WalFile.FrameHeaderSize];
                FileStream walStream = useWal
                    ? new FileStream(databasePath + "-wal", FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1)
                    : null;
                try
                {
                    long written = 0;
                    for (long first = 1; first <= totalPages; first += pagesPerChunk)
                    {
                        cancel.ThrowIfCancellationRequested();
                        int pages = (int)Math.Min(pagesPerChunk, totalPages - first + 1);
                        int bytes = pages * pageSize;
                        long offset = (first - 1) * pageSize;
                        int fromFile = (int)Math.Max(0, Math.Min(bytes, fileLength - offset));
                        if (fromFile > 0)
                        {
                            db.Position = offset;
                            int got = SqliteFile.ReadFully(db, buffer, 0, fromFile);
                            if (got < fromFile) fromFile = got; // truncated by a checkpoint: those pages come from the WAL
                        }
                        if (fromFile < bytes) Array.Clear(buffer, fromFile, bytes - fromFile);
                        if (useWal && !walRestarted)
                        {
                            for (int i = 0; i < pages; i++)
                            {
                                if (!wal.NewestPageOffsets.TryGetValue((uint)(first + i), out long at)) continue;
                                if (!ReadFrameChecked(walStream, at, (uint)(first + i), wal, buffer, i * pageSize, frameHeader))
                                {
                                    // The WAL was restarted after it was scanned. That is possible only if this read
                                    // transaction holds read mark 0 — the WAL was fully copied back into the database
                                    // file when it began, and no checkpoint can write the file while it lasts. So the
                                    // file alone is the snapshot: the pages laid over it so far were equal to it, and
                                    // the rest comes from it (this page included — its buffer may hold new frames).
                                    walRestarted = true;
                                    db.Position = (first - 1 + i) * (long)pageSize;
                                    int tail = (pages - i) * pageSize;
                                    int got = SqliteFile.ReadFully(db, buffer, i * pageSize, tail);
                                    if (got < tail) Array.Clear(buffer, i * pageSize + got, tail - got);
                                    break;
                                }
                            }
                        }
                        if (first == 1 && !useWal && bytes >= 28) copiedChangeCounter = WalFile.BigEndian(buffer, 24);
                        output.Write(buffer, 0, bytes);
                        written += bytes;
                        onProgress?.Invoke(first + pages - 1, totalPages);
                    }
                    if (!useWal && totalPages > 0)
                    {
                        // Rollback-journal modes rely on the SHARED lock, which any close of another descriptor of this
                        // file in this process silently drops (POSIX). Every write transaction bumps the header's change
                        // counter, so an unchanged counter proves nobody wrote while the pages were read.
                        var header = new byte[28];
                        db.Position = 0;
                        if (SqliteFile.ReadFully(db, header, 0, 28) < 28 || WalFile.BigEndian(header, 24) != copiedChangeCounter)
                        {
                            throw new TursoBackupException(FailureKind.Busy,
                                $"'{databasePath}' was written to while it was being copied (its read lock was lost); the copy is discarded. Try again.", databasePath);
                        }
                    }
                    return written;
                }
                finally
                {
                    walStream?.Dispose();
                }
            }
        }

        /// <summary>Tests only: runs between the WAL scan and the page copy (to restart the WAL there), given the database path.</summary>
        internal static Action<string> AfterWalScan;

        /// <summary>Test hook: runs after the read transaction began and before the WAL is scanned (a writer's commit in between).</summary>
        internal static Action<string> BeforeWalScan;

        /// <summary>
        /// Reads the page of the WAL frame whose page data is at <paramref name="at"/>, then its frame header, and checks
        /// that the header still names this page with the scanned WAL's salts. SQLite writes a frame's header before its
        /// data, so a header that still holds proves the data read before it was this WAL's frame. False when it does
        /// not (the WAL was restarted and overwritten since the scan) or the WAL is shorter.
        /// </summary>
        private static bool ReadFrameChecked(FileStream walStream, long at, uint page, WalFile wal, byte[] buffer, int offset, byte[] frameHeader)
        {
            walStream.Position = at;
            if (SqliteFile.ReadFully(walStream, buffer, offset, wal.PageSize) < wal.PageSize) return false;
            walStream.Position = at - WalFile.FrameHeaderSize;
            if (SqliteFile.ReadFully(walStream, frameHeader, 0, WalFile.FrameHeaderSize) < WalFile.FrameHeaderSize) return false;
            return WalFile.BigEndian(frameHeader, 0) == page && WalFile.BigEndian(frameHeader, 8) == wal.Salt1 && WalFile.BigEndian(frameHeader, 12) == wal.Salt2;
        }

        /// <summary>The page size from the database header (0 for an empty file).</summary>
        /// <summary>The page size a database header (at <paramref name="offset"/>) gives: bytes 16-17, big-endian, 1 meaning 65536.</summary>
        internal static int PageSizeOf(byte[] header, int offset)
        {
            int size = header[offset + 16] << 8 | header[offset + 17];
            return size == 1 ? 65536 : size;
        }

        private static int ReadPageSize(FileStream db)
        {
            if (db.Length < 100) return 0;
            var header = new byte[100];
            db.Position = 0;
            SqliteFile.ReadFully(db, header, 0, 100);
            return PageSizeOf(header, 0);
        }
    }
}
