using System;
using System.Collections.Generic;
using System.Text;
using SQLitePCL;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Dump
{
    /// <summary>Small byte-level SQL text helpers shared by the dump writer and importer.</summary>
    internal static class SqlText
    {
        internal const int SQLITE_OK = 0;
        internal const int SQLITE_ROW = 100;
        internal const int SQLITE_DONE = 101;

        /// <summary>True when <paramref name="s"/> is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).</summary>
        internal static bool IsValidUtf8(ReadOnlySpan<byte> s)
        {
            int i = 0, n = s.Length;
            while (i < n)
            {
                byte b = s[i];
                if (b < 0x80) { i++; continue; }
                if (b < 0xC2) return false; // continuation byte or overlong 2-byte lead
                if (b < 0xE0)
                {
                    if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80) return false;
                    i += 2;
                }
                else if (b < 0xF0)
                {
                    if (i + 2 >= n) return false;
                    byte b1 = s[i + 1];
                    if ((b1 & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80) return false;
                    if (b == 0xE0 && b1 < 0xA0) return false; // overlong
                    if (b == 0xED && b1 >= 0xA0) return false; // UTF-16 surrogate
                    i += 3;
                }
                else if (b < 0xF5)
                {
                    if (i + 3 >= n) return false;
                    byte b1 = s[i + 1];
                    if ((b1 & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 || (s[i + 3] & 0xC0) != 0x80) return false;
                    if (b == 0xF0 && b1 < 0x90) return false; // overlong
                    if (b == 0xF4 && b1 >= 0x90) return false; // above U+10FFFF
                    i += 4;
                }
                else
                {
                    return false;
                }
            }
            return true;
        }

        /// <summary>Index of the first byte at or after <paramref name="i"/> that is not SQL whitespace or inside a comment.</summary>
        internal static int SkipSpaceAndComments(byte[] b, int i, int end)
        {
            while (i < end)
            {
                byte c = b[i];
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f')
                {
                    i++;
                }
                else if (c == '-' && i + 1 < end && b[i + 1] == '-')
                {
                    i += 2;
                    while (i < end && b[i] != '\n') i++;
                }
                else if (c == '/' && i + 1 < end && b[i + 1] == '*')
                {
                    i += 2;
                    while (i + 1 < end && !(b[i] == '*' && b[i + 1] == '/')) i++;
                    i = Math.Min(end, i + 2);
                }
                else
                {
                    break;
                }
            }
            return i;
        }

        /// <summary>The SQL keyword (ASCII letters, upper-cased) starting at <paramref name="i"/>; sets <paramref name="next"/> after it.</summary>
        internal static string Keyword(byte[] b, int i, int end, out int next)
        {
            int start = i;
            while (i < end && ((b[i] >= 'A' && b[i] <= 'Z') || (b[i] >= 'a' && b[i] <= 'z'))) i++;
            next = i;
            if (i == start) return string.Empty;
            return Encoding.ASCII.GetString(b, start, i - start).ToUpperInvariant();
        }

        /// <summary>The start of a statement for an error message: one line, at most <paramref name="max"/> characters.</summary>
        internal static string Preview(byte[] b, int start, int end, int max = 100)
        {
            int take = Math.Min(end - start, max * 4);
            return Preview(Encoding.UTF8.GetString(b, start, Math.Max(0, take)), max);
        }

        /// <summary>The start of a statement for an error message: one line, at most <paramref name="max"/> characters.</summary>
        internal static string Preview(string sql, int max = 100)
        {
            if (string.IsNullOrEmpty(sql)) return string.Empty;
            var sb = new StringBuilder(Math.Min(sql.Length, max) + 3);
            bool space = false;
            foreach (char c in sql)
            {
                if (sb.Length >= max) { sb.Append("..."); break; }
                if (char.IsWhiteSpace(c) || char.IsControl(c))
                {
                    if (!space && sb.Length > 0) sb.Append(' ');
                    space = true;
                }
                else
                {
                    sb.Append(c);
                    space = false;
                }
            }
            return sb.ToString().TrimEnd();
        }

        private static readonly Lazy<HashSet<string>> Keywords = new Lazy<HashSet<string>>(() =>
        {
            var set = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            int n = raw.sqlite3_keyword_count();
            for (int i = 0; i < n; i++)
            {
                if (raw.sqlite3_keyword_name(i, out string name) == SQLITE_OK && name != null) set.Add(name);
            }
            return set;
        });

        /// <summary>
        /// An identifier as sqlite3 .dump writes it: bare when it is a plain ASCII word that is not a keyword,
        /// "double-quoted" otherwise.
        /// </summary>
        internal static string Name(string name)
        {
            bool plain = name.Length > 0 && (IsAsciiLetter(name[0]) || name[0] == '_');
            for (int i = 1; plain && i < name.Length; i++)
            {
                char c = name[i];
                plain = IsAsciiLetter(c) || c == '_' || (c >= '0' && c <= '9');
            }
            return plain && !Keywords.Value.Contains(name) ? name : Sqlite.SqliteFile.QuoteIdentifier(name);
        }

        private static bool IsAsciiLetter(char c) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

        /// <summary>A single-quoted SQL string literal (for names inside PRAGMA arguments and the like).</summary>
        internal static string Literal(string s) => "'" + s.Replace("'", "''") + "'";

        internal static string ErrorMessage(sqlite3 db)
        {
            return raw.sqlite3_errmsg(db).utf8_to_string();
        }

        /// <summary>Prepares one statement on <paramref name="db"/> or throws (translated like other SQLite failures).</summary>
        internal static sqlite3_stmt Prepare(sqlite3 db, string sql, string what)
        {
            int rc = raw.sqlite3_prepare_v2(db, sql, out sqlite3_stmt stmt);
            if (rc != SQLITE_OK)
            {
                string msg = ErrorMessage(db);
                stmt?.Dispose();
                throw Sqlite.OnlineBackup.Translate(rc, msg, what);
            }
            return stmt;
        }

        /// <summary>Runs statements that return nothing the caller needs.</summary>
        internal static void Exec(sqlite3 db, string sql, string what)
        {
            int rc = raw.sqlite3_exec(db, sql);
            if (rc != SQLITE_OK)
            {
                throw Sqlite.OnlineBackup.Translate(rc, ErrorMessage(db), what);
            }
        }

        /// <summary>The first column of the first row of <paramref name="sql"/> as an integer (0 when there is no row).</summary>
        internal static long ScalarInt64(sqlite3 db, string sql, string what)
        {
            using (var stmt = Prepare(db, sql, what))
            {
                int rc = raw.sqlite3_step(stmt);
                if (rc == SQLITE_ROW) return raw.sqlite3_column_int64(stmt, 0);
                if (rc == SQLITE_DONE) return 0;
                throw Sqlite.OnlineBackup.Translate(rc, ErrorMessage(db), what);
            }
        }

        internal static string ScalarText(sqlite3 db, string sql, string what)
        {
            using (var stmt = Prepare(db, sql, what))
            {
                int rc = raw.sqlite3_step(stmt);
                if (rc == SQLITE_ROW) return raw.sqlite3_column_text(stmt, 0).utf8_to_string();
                if (rc == SQLITE_DONE) return null;
                throw Sqlite.OnlineBackup.Translate(rc, ErrorMessage(db), what);
            }
        }

        internal static TursoBackupException Wrap(int rc, sqlite3 db, string what) => Sqlite.OnlineBackup.Translate(rc, ErrorMessage(db), what);
    }
}
