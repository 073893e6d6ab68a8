using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Sqlite
{
    /// <summary>Opening SQLite files and checking that a file is one.</summary>
    public static class SqliteFile
    {
        private static readonly byte[] HeaderMagic = Encoding.ASCII.GetBytes("SQLite format 3\0");

        /// <summary>How long a connection waits for another process's lock before SQLITE_BUSY.</summary>
        public static TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(30);

        public static SqliteConnection OpenReadOnly(string path, TimeSpan? busyTimeout = null) => Open(path, SqliteOpenMode.ReadOnly, busyTimeout);

        public static SqliteConnection OpenReadWrite(string path, TimeSpan? busyTimeout = null) => Open(path, SqliteOpenMode.ReadWrite, busyTimeout);

        public static SqliteConnection OpenOrCreate(string path, TimeSpan? busyTimeout = null) => Open(path, SqliteOpenMode.ReadWriteCreate, busyTimeout);

        /// <summary>
        /// Opens a file that nothing else may change (a staged or restored copy) without locks or -wal/-shm files.
        /// </summary>
        public static SqliteConnection OpenImmutable(string path)
        {
            NativeSqlite.EnsureInitialized();
            var connection = new SqliteConnection("Data Source=" + ImmutableUri(path) + ";Mode=ReadOnly;Pooling=False");
            connection.Open();
            return connection;
        }

        internal static string ImmutableUri(string path)
        {
            string full = System.IO.Path.GetFullPath(path).Replace('\\', '/');
            if (!full.StartsWith("/", StringComparison.Ordinal)) full = "/" + full; // C:/x -> /C:/x
            var sb = new StringBuilder("file://");
            foreach (char c in full)
            {
                if (c == '%' || c == '?' || c == '#' || c == ' ' || c == ';' || c == '"' || c == '\'') sb.Append('%').Append(((int)c).ToString("X2"));
                else sb.Append(c);
            }
            return "\"" + sb.Append("?immutable=1") + "\"";
        }

        private static SqliteConnection Open(string path, SqliteOpenMode mode, TimeSpan? busyTimeout)
        {
            var timeout = busyTimeout ?? BusyTimeout;
            NativeSqlite.EnsureInitialized();
            var csb = new SqliteConnectionStringBuilder
            {
                DataSource = path,
                Mode = mode,
                Pooling = false,
                DefaultTimeout = Math.Max(1, (int)timeout.TotalSeconds),
            };
            var connection = new SqliteConnection(csb.ToString());
            connection.Open();
            using (var cmd = connection.CreateCommand())
            {
                // Microsoft.Data.Sqlite sets the busy timeout from DefaultTimeout only for commands; make the
                // connection itself wait for other processes' locks too (backup API steps are not commands).
                cmd.CommandText = "PRAGMA busy_timeout = " + (int)timeout.TotalMilliseconds;
                cmd.ExecuteNonQuery();
            }
            return connection;
        }

        /// <summary>
        /// Throws a clear error unless <paramref name="path"/> exists and starts with the SQLite header.
        /// </summary>
        public static void RequireDatabaseFile(string path)
        {
            if (Directory.Exists(path))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{path}' is a folder, not a database file. Give the path of a SQLite database file, or pipe the files in: Get-ChildItem '{path}' -Filter *.db | Backup-TursoDatabase -Vault <vault>.", path);
            }
            if (!File.Exists(path))
            {
                throw new TursoBackupException(FailureKind.NotFound,
                    $"Database file '{path}' does not exist. Check the path (relative paths are resolved against the current location).", path);
            }
            var header = new byte[HeaderMagic.Length];
            int read;
            try
            {
                using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
                {
                    read = ReadFully(fs, header, 0, header.Length);
                }
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new TursoBackupException(FailureKind.PermissionDenied,
                    $"Cannot read database file '{path}': {ex.Message} Run as a user that can read it.", path, ex);
            }
            if (read == 0)
            {
                throw new TursoBackupException(FailureKind.InvalidData,
                    $"'{path}' is an empty file, not a SQLite database. Check the path; nothing was backed up.", path);
            }
            if (read < header.Length || !StartsWith(header, HeaderMagic))
            {
                throw new TursoBackupException(FailureKind.InvalidData,
                    $"'{path}' is not a SQLite database (it does not start with the 'SQLite format 3' header). Check the path; if it is a SQL dump, load it with sqlite3 first.", path);
            }
        }

        /// <summary>The bytes reserved at the end of every page (header byte 20), or null when the file has no SQLite header.</summary>
        public static int? ReadReservedBytes(string path)
        {
            try
            {
                var header = new byte[21];
                using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
                {
                    if (ReadFully(fs, header, 0, header.Length) < header.Length || !StartsWith(header, HeaderMagic)) return null;
                }
                return header[20];
            }
            catch (IOException)
            {
                return null;
            }
        }

        /// <summary>
        /// As <see cref="ReadReservedBytes(string)"/>, through a descriptor the caller keeps open: of a database this
        /// process has connections to, never open and close one just for this — closing it drops SQLite's POSIX locks.
        /// </summary>
        public static int? ReadReservedBytes(FileStream open)
        {
            var header = new byte[21];
            open.Seek(0, SeekOrigin.Begin);
            if (ReadFully(open, header, 0, header.Length) < header.Length || !StartsWith(header, HeaderMagic)) return null;
            return header[20];
        }

        public static bool HasSqliteHeader(string path)
        {
            try
            {
                var header = new byte[HeaderMagic.Length];
                using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
                {
                    return ReadFully(fs, header, 0, header.Length) == header.Length && StartsWith(header, HeaderMagic);
                }
            }
            catch (IOException)
            {
                return false;
            }
        }

        private static bool StartsWith(byte[] data, byte[] prefix)
        {
            for (int i = 0; i < prefix.Length; i++) if (data[i] != prefix[i]) return false;
            return true;
        }

        internal static int ReadFully(Stream s, byte[] buffer, int offset, int count)
        {
            int total = 0;
            while (total < count)
            {
                int n = s.Read(buffer, offset + total, count - total);
                if (n == 0) break;
                total += n;
            }
            return total;
        }

        /// <summary>Starts a read transaction and reads the schema, which takes the read lock / pins the WAL snapshot.</summary>
        public static SqliteTransaction BeginReadSnapshot(SqliteConnection connection)
        {
            var tx = connection.BeginTransaction(deferred: true);
            using (var cmd = connection.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = "SELECT count(*) FROM sqlite_master";
                cmd.ExecuteScalar();
            }
            return tx;
        }

        /// <summary>
        /// <see cref="BeginReadSnapshot(SqliteConnection)"/> on a WAL database, with the snapshot the transaction reads
        /// (<see cref="WalIndexHeader.OfReadTransaction"/>: its wal-index header, so its snapshot ends at
        /// <see cref="WalIndexHeader.MaxFrame"/>). <paramref name="header"/> is null when that cannot be had.
        /// <paramref name="databasePath"/> is not opened (a descriptor of our own on the -shm file would drop the
        /// transaction's read lock when closed).
        /// </summary>
        public static SqliteTransaction BeginReadSnapshot(SqliteConnection connection, string databasePath, out WalIndexHeader header)
        {
            var tx = BeginReadSnapshot(connection);
            header = WalIndexHeader.OfReadTransaction(connection, out bool refused);
            if (header == null && refused)
            {
                // SQLite gives no snapshot of a WAL nothing was written to since it was opened. If the -wal file is
                // still empty (or gone) now, after the transaction began, it was empty then: the transaction reads the
                // database file alone (read mark 0, so no checkpoint can write the file meanwhile). Anything else stays
                // unknown (null), and the caller falls back.
                var wal = new System.IO.FileInfo(databasePath + "-wal");
                if (!wal.Exists || wal.Length == 0) header = WalIndexHeader.NoFrames;
            }
            return tx;
        }

        public static object Scalar(SqliteConnection connection, string sql, SqliteTransaction transaction)
        {
            using (var cmd = connection.CreateCommand())
            {
                if (transaction != null) cmd.Transaction = transaction; // CreateCommand already takes the connection's own
                cmd.CommandText = sql;
                return cmd.ExecuteScalar();
            }
        }

        public static object Scalar(SqliteConnection connection, string sql)
        {
            using (var cmd = connection.CreateCommand())
            {
                cmd.CommandText = sql;
                return cmd.ExecuteScalar();
            }
        }

        public static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";
    }

    /// <summary>What a backup records about a database's content, read inside one transaction.</summary>
    public sealed class DatabaseProfile
    {
        public int PageSize { get; set; }
        public long PageCount { get; set; }
        /// <summary>PRAGMA auto_vacuum: 0 NONE, 1 FULL, 2 INCREMENTAL.</summary>
        public int AutoVacuum { get; set; }
        /// <summary>Reserved bytes per page (header byte 20), set by the caller from the file (<see cref="SqliteFile.ReadReservedBytes"/>).</summary>
        public int? ReservedBytes { get; set; }
        public string SchemaHash { get; set; }
        public List<TableRowCount> Tables { get; set; } = new List<TableRowCount>();
        public string JournalMode { get; set; }
        public string SqliteVersion { get; set; }

        /// <summary>Reads page size and count, the schema hash and the row count of every table.</summary>
        /// <param name="knownRowCounts">Row counts already known for this snapshot (a dump counts as it writes); those tables are not counted again.</param>
        public static DatabaseProfile Read(SqliteConnection connection, IDictionary<string, long> knownRowCounts = null) => Read(connection, null, knownRowCounts);

        /// <summary>The profile as <paramref name="transaction"/> (a read transaction on <paramref name="connection"/>) sees the database.</summary>
        public static DatabaseProfile Read(SqliteConnection connection, SqliteTransaction transaction, IDictionary<string, long> knownRowCounts = null)
        {
            var profile = new DatabaseProfile
            {
                PageSize = Convert.ToInt32(SqliteFile.Scalar(connection, "PRAGMA page_size", transaction)),
                PageCount = Convert.ToInt64(SqliteFile.Scalar(connection, "PRAGMA page_count", transaction)),
                AutoVacuum = Convert.ToInt32(SqliteFile.Scalar(connection, "PRAGMA auto_vacuum", transaction)),
                JournalMode = Convert.ToString(SqliteFile.Scalar(connection, "PRAGMA journal_mode", transaction)),
                SqliteVersion = Convert.ToString(SqliteFile.Scalar(connection, "SELECT sqlite_version()", transaction)),
            };
            var tables = new List<string>();
            var schemaText = new StringBuilder();
            using (var cmd = connection.CreateCommand())
            {
                if (transaction != null) cmd.Transaction = transaction;
                // rootpage is left out on purpose: VACUUM and restores may move tables without changing the schema.
                cmd.CommandText = "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name";
                using (var r = cmd.ExecuteReader())
                {
                    while (r.Read())
                    {
                        string type = r.GetString(0), name = r.GetString(1), sql = r.GetString(3);
                        schemaText.Append(type).Append('\u001f').Append(name).Append('\u001f').Append(r.GetString(2))
                                  .Append('\u001f').Append(sql).Append('\u001e');
                        if (type == "table" && !sql.StartsWith("CREATE VIRTUAL TABLE", StringComparison.OrdinalIgnoreCase))
                        {
                            tables.Add(name);
                        }
                    }
                }
            }
            profile.SchemaHash = HashOf(schemaText.ToString());
            tables.Sort(StringComparer.Ordinal);
            foreach (var table in tables)
            {
                long rows = knownRowCounts != null && knownRowCounts.TryGetValue(table, out long known)
                    ? known
                    : Convert.ToInt64(SqliteFile.Scalar(connection, "SELECT count(*) FROM " + SqliteFile.QuoteIdentifier(table), transaction));
                profile.Tables.Add(new TableRowCount(table, rows));
            }
            return profile;
        }

        private static string HashOf(string text)
        {
            using (var sha = SHA256.Create())
            {
                return Hex.Of(sha.ComputeHash(Encoding.UTF8.GetBytes(text)));
            }
        }
    }

    public static class Hex
    {
        public static string Of(byte[] bytes)
        {
            var sb = new StringBuilder(bytes.Length * 2);
            foreach (var b in bytes) sb.Append(b.ToString("x2"));
            return sb.ToString();
        }
    }
}
