using System;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Dump
{
    /// <summary>
    /// Loads SQL text (a <see cref="SqlDumpWriter"/> dump, a <c>sqlite3 .dump</c>, or any SQL script) into a new
    /// database file. The text is streamed line by line; statements are split where SQLite's own
    /// <c>sqlite3_complete</c> says a statement ends, so triggers and strings with semicolons and newlines are kept
    /// whole. Everything runs in one transaction (the dump's own BEGIN/COMMIT are skipped) on a temporary file beside
    /// the target, which is flushed to disk and renamed into place only when every statement succeeded.
    /// </summary>
    public sealed class SqlDumpImporter
    {
        private const int ReadBlock = 1 << 16;
        private const int SmallStatement = 1 << 16;

        /// <summary>Messages for -Verbose.</summary>
        public Action<string> Log { get; set; }

        /// <summary>SQLite page cache for the load, in KiB (index builds after the data are faster with more). Default 32 MiB.</summary>
        public int CacheSizeKiB { get; set; } = 32 * 1024;

        /// <summary>
        /// The page format of the new database, set before the first table (a backup's manifest records them; a dump's own
        /// PRAGMA page_size / auto_vacuum lines, run later but still before any table exists, take precedence). Null: SQLite's default.
        /// </summary>
        public int? PageSize { get; set; }

        /// <summary>PRAGMA auto_vacuum of the new database (0 NONE, 1 FULL, 2 INCREMENTAL); see <see cref="PageSize"/>.</summary>
        public int? AutoVacuum { get; set; }

        /// <summary>Bytes to reserve at the end of every page (SQL has no statement for it; set through SQLITE_FCNTL_RESERVE_BYTES).</summary>
        public int? ReservedBytes { get; set; }

        /// <summary>
        /// Loads <paramref name="input"/> into a database at <paramref name="targetPath"/> through
        /// <see cref="Files.DatabaseWriter"/>: loaded into its temporary file, then installed (an existing non-empty
        /// database only with <paramref name="overwrite"/>, rewritten in place after <paramref name="fileEmergency"/>
        /// filed its emergency copy). Read dump files with <c>new StreamReader(stream, new UTF8Encoding(false, true))</c>
        /// so that bytes that are not UTF-8 fail the import instead of turning into U+FFFD.
        /// </summary>
        /// <param name="overwrite">Replace an existing non-empty file (the cmdlet's -Force). An empty file is always replaced.</param>
        /// <param name="progress">Called after each block of input with (statements executed, characters read).</param>
        /// <exception cref="TursoBackupException">
        /// AlreadyExists (target exists, no overwrite), InvalidData (a statement failed: the message names its line),
        /// InvalidArgument (target is a folder), WriteFailed (disk full, I/O error).
        /// </exception>
        /// <exception cref="OperationCanceledException">When cancelled; nothing is left behind.</exception>
        public SqlImportStats Import(TextReader input, string targetPath, bool overwrite, Files.EmergencyFiler fileEmergency = null,
                                     Action<long, long> progress = null, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (input == null) throw new ArgumentNullException(nameof(input));
            if (string.IsNullOrEmpty(targetPath)) throw new ArgumentNullException(nameof(targetPath));
            var watch = Stopwatch.StartNew();
            string target = Path.GetFullPath(targetPath);
            using (var writer = Files.DatabaseWriter.Begin(target, new Files.DatabaseWriteOptions
            {
                Overwrite = overwrite,
                Purpose = "import",
                Log = Log,
                ForceHint = "Use -Force to replace it (an emergency backup of it is taken first), or choose another -Path.",
            }))
            {
                Log?.Invoke($"Loading SQL into a temporary file beside '{target}'.");
                var stats = LoadInto(input, writer.PartialPath, target, progress, cancellationToken);
                var written = writer.Commit(fileEmergency, cancellationToken);
                stats.Target = target;
                stats.Replaced = written.Replaced;
                stats.EmergencyBackup = written.EmergencyBackup;
                stats.ReplacedFileKeptAt = written.KeptAside ?? written.EmergencyCopy;
                stats.Duration = watch.Elapsed;
                Log?.Invoke($"Loaded {stats.Statements:N0} statements ({stats.RowsInserted:N0} rows, {stats.Tables} tables) into '{target}' in {stats.Duration.TotalSeconds:F2} s.");
                return stats;
            }
        }

        /// <summary>
        /// Loads <paramref name="input"/> into <paramref name="file"/>, an empty file nobody else uses (a temporary file of
        /// a <see cref="Files.DatabaseWriter"/>), in one transaction, and flushes it. <paramref name="displayName"/> is the
        /// file named in messages (the real target, never an internal temporary path).
        /// </summary>
        public SqlImportStats LoadInto(TextReader input, string file, string displayName, Action<long, long> progress = null,
                                       CancellationToken cancellationToken = default(CancellationToken))
        {
            var stats = new SqlImportStats { Target = displayName };
            try
            {
                using (var connection = SqliteFile.OpenOrCreate(file))
                {
                    try
                    {
                        new Loader(connection.Handle, displayName, stats, progress, cancellationToken, CacheSizeKiB) { Importer = this }.Run(input);
                    }
                    catch (TursoBackupException ex) when ((raw.sqlite3_errcode(connection.Handle) & 0xff) == 13 /* SQLITE_FULL */)
                    {
                        throw Files.DatabaseWriter.DiskFull(displayName, ex.Message);
                    }
                }
                using (var check = SqliteFile.OpenReadOnly(file))
                {
                    // Opening the schema proves that what the dump put into sqlite_master (virtual tables) parses.
                    stats.Tables = Convert.ToInt32(SqliteFile.Scalar(check,
                        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"));
                }
                foreach (var suffix in new[] { "-journal", "-wal", "-shm" }) DurableFile.TryDelete(file + suffix);
                DurableFile.FlushFile(file);
                stats.TargetBytes = new FileInfo(file).Length;
                cancellationToken.ThrowIfCancellationRequested();
                return stats;
            }
            catch (IOException ex) when (DiskSpace.IsFull(ex))
            {
                throw Files.DatabaseWriter.DiskFull(displayName, ex);
            }
            catch (SqliteException ex)
            {
                throw OnlineBackup.Translate(ex.SqliteErrorCode, ex.Message, $"load the SQL into '{displayName}'", displayName);
            }
        }

        /// <summary>One load: reads lines, finds complete statements, runs them.</summary>
        private sealed class Loader
        {
            private readonly sqlite3 db;
            private readonly string target;
            private readonly SqlImportStats stats;
            private readonly Action<long, long> progress;
            private readonly CancellationToken cancel;
            private readonly int cacheKiB;
            private readonly Encoder encoder = new UTF8Encoding(false, true).GetEncoder();
            private byte[] pending = new byte[1 << 16];
            private int length;          // bytes in pending
            private long pendingLine = 1; // line number of pending[0]
            private long line = 1;        // line number of the character being read

            public Loader(sqlite3 db, string target, SqlImportStats stats, Action<long, long> progress, CancellationToken cancel, int cacheKiB)
            {
                this.db = db;
                this.target = target;
                this.stats = stats;
                this.progress = progress;
                this.cancel = cancel;
                this.cacheKiB = cacheKiB;
            }

            public SqlDumpImporter Importer { get; set; }

            private DumpGuard guard;
            private bool inTransaction; // the dump's own BEGIN has been read and its COMMIT not yet
            private long beginLine;

            public void Run(TextReader input)
            {
                // The page format first: it can only be chosen while the file has no pages.
                if (Importer?.PageSize is int pageSize && pageSize > 0)
                {
                    SqlText.Exec(db, "PRAGMA page_size=" + pageSize, "set the page size of the new database");
                }
                if (Importer?.ReservedBytes is int reserve && reserve > 0 && !NativeSqlite.TrySetReservedBytes(db, reserve))
                {
                    Log($"This SQLite library cannot reserve {reserve} bytes per page (SQLITE_FCNTL_RESERVE_BYTES); the new database has none.");
                }
                if (Importer?.AutoVacuum is int autoVacuum && autoVacuum >= 0 && autoVacuum <= 2)
                {
                    SqlText.Exec(db, "PRAGMA auto_vacuum=" + autoVacuum, "set auto_vacuum of the new database");
                }
                // A fresh file that is deleted on failure and fsynced at the end: no need for a durable journal.
                SqlText.Exec(db, "PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; PRAGMA foreign_keys=OFF; PRAGMA cache_size=-" + Math.Max(2000, cacheKiB),
                             "prepare the new database");
                guard = DumpGuard.Install(db);
                guard.Internal = true;
                SqlText.Exec(db, "BEGIN", "start the load transaction");
                guard.Internal = false;

                var chars = new char[ReadBlock];
                char lastNonSpace = '\0';
                bool semicolon = false; // the current line has a ';' somewhere
                long nextCheck = 0;     // pending size from which a line with a ';' anywhere is checked
                bool first = true;
                int n;
                while ((n = ReadBlockFrom(input, chars)) > 0)
                {
                    cancel.ThrowIfCancellationRequested();
                    stats.CharsRead += n;
                    int segment = 0;
                    if (first)
                    {
                        first = false;
                        if (chars[0] == '\uFEFF') segment = 1; // a BOM the reader did not strip
                    }
                    for (int i = segment; i < n; i++)
                    {
                        char c = chars[i];
                        if (c == '\n')
                        {
                            Append(chars, segment, i + 1 - segment, false);
                            segment = i + 1;
                            // A statement ends at a ';' line end (sqlite3_complete decides). Lines with a ';' elsewhere
                            // (a trailing comment after it) are checked too, but with geometric spacing once the pending
                            // text is large, so a long multi-line string full of ';' stays linear.
                            if (semicolon && ((lastNonSpace == ';' && length <= SmallStatement) || length >= nextCheck))
                            {
                                nextCheck = TryRunPending() ? 0 : Math.Max(2L * length, SmallStatement);
                            }
                            line++;
                            lastNonSpace = '\0';
                            semicolon = false;
                        }
                        else if (c != ' ' && c != '\t' && c != '\r' && c != '\f')
                        {
                            if (lastNonSpace == '\0' && c == '.') CheckDotCommand(chars, segment, i);
                            if (c == ';') semicolon = true;
                            lastNonSpace = c;
                        }
                    }
                    Append(chars, segment, n - segment, false);
                    progress?.Invoke(stats.Statements, stats.CharsRead);
                }
                Append(chars, 0, 0, true);
                if (length > 0) RunChunk(); // the last statement may lack its ';' (sqlite3 runs it too)
                if (inTransaction)
                {
                    // sqlite3 rolls such a dump back at the end of its input and keeps nothing: so do we.
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"The SQL ends at line {line} without the COMMIT that closes the transaction begun at line {beginLine}: the dump is truncated (cut off by a full disk, an interrupted copy or transfer, or a dump that was stopped). Nothing was written to '{target}'. Make a new dump, or load an older complete one.", target);
                }

                guard.Internal = true;
                if (raw.sqlite3_get_autocommit(db) == 0)
                {
                    SqlText.Exec(db, "PRAGMA writable_schema=OFF", "finish the load");
                    int rc = raw.sqlite3_exec(db, "COMMIT");
                    if (rc != SqlText.SQLITE_OK) throw SqlText.Wrap(rc, db, $"commit the load into '{target}'");
                }
                progress?.Invoke(stats.Statements, stats.CharsRead);
            }

            private int ReadBlockFrom(TextReader input, char[] chars)
            {
                try
                {
                    return input.Read(chars, 0, chars.Length);
                }
                catch (DecoderFallbackException ex)
                {
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"Line {line} of the SQL is not valid UTF-8 text: {ex.Message} Nothing was written to '{target}'.", target, ex);
                }
            }

            private void Append(char[] chars, int start, int count, bool flush)
            {
                int max = count * 3 + 8;
                if (length + max + 1 > pending.Length)
                {
                    Array.Resize(ref pending, Math.Max(pending.Length * 2, length + max + 1));
                }
                try
                {
                    length += encoder.GetBytes(chars, start, count, pending, length, flush);
                }
                catch (EncoderFallbackException ex)
                {
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"Line {line} of the SQL holds a broken UTF-16 surrogate: {ex.Message} Nothing was written to '{target}'.", target, ex);
                }
            }

            /// <summary>A line that starts with '.' outside a statement is a sqlite3 shell command, which SQL cannot run.</summary>
            private void CheckDotCommand(char[] chars, int segment, int at)
            {
                if (SqlText.SkipSpaceAndComments(pending, 0, length) < length) return; // inside a statement
                int end = at;
                while (end < chars.Length && chars[end] != '\n' && end - at < 60) end++;
                string command = new string(chars, at, end - at).Trim();
                throw new TursoBackupException(FailureKind.InvalidData,
                    $"Line {line} is a sqlite3 shell command ({command}), not SQL; only SQL statements can be imported. Remove it, or load the file with the sqlite3 shell. Nothing was written to '{target}'.", target);
            }

            private bool TryRunPending()
            {
                pending[length] = 0;
                if (raw.sqlite3_complete(utf8z.FromSpan(new ReadOnlySpan<byte>(pending, 0, length + 1))) == 0) return false;
                RunChunk();
                return true;
            }

            /// <summary>Runs every statement in pending (one or more complete statements), then empties it.</summary>
            private void RunChunk()
            {
                stats.Utf8BytesRead += length;
                int offset = 0;
                while (offset < length)
                {
                    cancel.ThrowIfCancellationRequested();
                    var rest = new ReadOnlySpan<byte>(pending, offset, length - offset);
                    guard.Reset();
                    int rc = raw.sqlite3_prepare_v2(db, rest, out sqlite3_stmt stmt, out ReadOnlySpan<byte> tail);
                    if (rc == DumpGuard.SQLITE_AUTH && guard.Refusal == null && guard.WritableSchema == true && guard.Defensive)
                    {
                        // PRAGMA writable_schema=ON (sqlite3 dumps of FTS5 / R-Tree tables): defensive mode off until its OFF.
                        stmt?.Dispose();
                        guard.SetDefensive(false);
                        guard.Reset();
                        rc = raw.sqlite3_prepare_v2(db, rest, out stmt, out tail);
                    }
                    int consumed = rest.Length - tail.Length;
                    if (rc != SqlText.SQLITE_OK)
                    {
                        stmt?.Dispose();
                        throw Failure(rc, offset, length);
                    }
                    if (stmt == null || stmt.IsInvalid)
                    {
                        stmt?.Dispose();
                        if (consumed <= 0) break; // only whitespace and comments were left
                        offset += consumed;
                        continue;
                    }
                    using (stmt)
                    {
                        Run(stmt, offset, consumed > 0 ? offset + consumed : length);
                    }
                    if (consumed <= 0) break;
                    offset += consumed;
                }
                pendingLine = line + 1;
                length = 0;
            }

            private void Run(sqlite3_stmt stmt, int start, int end)
            {
                int at = SqlText.SkipSpaceAndComments(pending, start, end);
                string keyword = SqlText.Keyword(pending, at, end, out int next);
                string refused = DumpGuard.CheckStatement(keyword);
                if (refused != null) throw Refused(refused, at, end);
                bool? writableSchema = guard.WritableSchema;
                switch (keyword)
                {
                    case "BEGIN":
                        inTransaction = true;
                        beginLine = LineOf(at);
                        return; // the load runs in its own transaction
                    case "COMMIT":
                    case "END":
                        inTransaction = false;
                        return;
                    case "ROLLBACK":
                        int after = SqlText.SkipSpaceAndComments(pending, next, end);
                        string word = SqlText.Keyword(pending, after, end, out int next2);
                        if (word == "TRANSACTION") word = SqlText.Keyword(pending, SqlText.SkipSpaceAndComments(pending, next2, end), end, out _);
                        if (word != "TO")
                        {
                            throw new TursoBackupException(FailureKind.InvalidData,
                                $"Line {LineOf(at)} of the SQL is a ROLLBACK: the program that wrote it met errors (sqlite3 .dump ends with 'ROLLBACK; -- due to errors'), so it is incomplete. Make a new dump. Nothing was written to '{target}'.", target);
                        }
                        break;
                }
                int rc;
                while ((rc = raw.sqlite3_step(stmt)) == SqlText.SQLITE_ROW) { }
                if (rc != SqlText.SQLITE_DONE) throw Failure(rc, start, end);
                if (writableSchema == false && !guard.Defensive) guard.SetDefensive(true);
                stats.Statements++;
                if (keyword == "INSERT" || keyword == "REPLACE") stats.RowsInserted += raw.sqlite3_changes(db);
            }

            private long LineOf(int offset)
            {
                long l = pendingLine;
                for (int i = 0; i < offset && i < length; i++) if (pending[i] == '\n') l++;
                return l;
            }

            /// <summary>A statement a dump may not hold: named with its line, and nothing is written.</summary>
            private TursoBackupException Refused(string why, int at, int end)
            {
                return new TursoBackupException(FailureKind.InvalidData,
                    $"Line {LineOf(at)} of the SQL {why}. A dump may only create and fill tables, indexes, views and triggers in the new database, so it was refused. The statement starts: {SqlText.Preview(pending, at, end)} Nothing was written to '{target}', and nothing outside it was touched. Check where the dump came from.", target);
            }

            private void Log(string message) => Importer?.Log?.Invoke(message);

            private TursoBackupException Failure(int rc, int start, int end)
            {
                if (rc == DumpGuard.SQLITE_AUTH && guard?.Refusal != null)
                {
                    return Refused(guard.Refusal, SqlText.SkipSpaceAndComments(pending, start, end), end);
                }
                string message = SqlText.ErrorMessage(db);
                int at = SqlText.SkipSpaceAndComments(pending, start, end);
                long where = LineOf(at);
                string preview = SqlText.Preview(pending, at, end);
                int primary = rc & 0xff;
                if (primary == 13 /* SQLITE_FULL */ || primary == 10 /* SQLITE_IOERR */)
                {
                    return new TursoBackupException(FailureKind.WriteFailed,
                        $"Could not write the new database beside '{target}' at line {where} of the SQL: {message}. Free space on its disk and try again; the target was not changed.", target);
                }
                return new TursoBackupException(FailureKind.InvalidData,
                    $"Line {where} of the SQL failed: {message}. The statement starts: {preview} Nothing was written to '{target}'.", target);
            }
        }
    }
}
