using System;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Recovery
{
    /// <summary>
    /// The -Where of a row recovery: ONE SQL expression, spliced as <c>WHERE (&lt;where&gt;)</c> into the statements that
    /// read the source. It is refused (TursoBackupException InvalidArgument, ErrorId "InvalidPredicate") when it has a
    /// <c>;</c> or a comment outside string literals and quoted identifiers, an unterminated literal, parentheses that do
    /// not balance (which could close the surrounding parenthesis and change the statement), or when SQLite cannot prepare
    /// <c>SELECT count(*) FROM &lt;table&gt; WHERE (&lt;where&gt;)</c> against the real table.
    /// </summary>
    public static class SqlPredicate
    {
        /// <summary>The lexical checks (no database): throws InvalidPredicate naming what is wrong.</summary>
        public static void Validate(string where)
        {
            if (where == null) throw new ArgumentNullException(nameof(where));
            if (where.Trim().Length == 0) throw Invalid(where, "it is empty. Leave -Where out to take every row, or give an expression such as \"id IN (1, 2)\".");
            int depth = 0;
            int i = 0;
            while (i < where.Length)
            {
                char c = where[i];
                switch (c)
                {
                    case '\'':
                    case '"':
                    case '`':
                        i = SkipQuoted(where, i, c, c);
                        continue;
                    case '[':
                        i = SkipQuoted(where, i, '[', ']');
                        continue;
                    case ';':
                        throw Invalid(where, $"it has a ';' at position {i + 1}. -Where takes ONE expression, not statements; quote a ';' that belongs to a value as a string literal ('a;b').");
                    case '-':
                        if (i + 1 < where.Length && where[i + 1] == '-')
                            throw Invalid(where, $"it has a '--' comment at position {i + 1}. Comments are refused because they can hide the rest of a statement; remove it.");
                        break;
                    case '/':
                        if (i + 1 < where.Length && where[i + 1] == '*')
                            throw Invalid(where, $"it has a '/*' comment at position {i + 1}. Comments are refused because they can hide the rest of a statement; remove it.");
                        break;
                    case '(':
                        depth++;
                        break;
                    case ')':
                        depth--;
                        if (depth < 0) throw Invalid(where, $"it has a ')' without its '(' at position {i + 1}. -Where must be one expression with balanced parentheses.");
                        break;
                }
                i++;
            }
            if (depth != 0) throw Invalid(where, "it has a '(' that is never closed. -Where must be one expression with balanced parentheses.");
        }

        /// <summary>
        /// The lexical checks, then proves <paramref name="where"/> is an expression over <paramref name="schema"/>.<paramref name="table"/>
        /// by preparing <c>SELECT count(*) FROM schema.table WHERE (where)</c> on <paramref name="connection"/> (nothing is run).
        /// </summary>
        public static void Validate(SqliteConnection connection, string schema, string table, string where, SqliteTransaction transaction = null)
        {
            Validate(where);
            using (var cmd = connection.CreateCommand())
            {
                cmd.Transaction = transaction;
                cmd.CommandText = "SELECT count(*) FROM " + (schema == null ? "" : SqliteFile.QuoteIdentifier(schema) + ".") + SqliteFile.QuoteIdentifier(table) + " WHERE (" + where + ")";
                try
                {
                    cmd.Prepare();
                }
                catch (SqliteException ex)
                {
                    throw Invalid(where, $"it is not a valid SQL expression for table '{table}': {ex.Message.Replace("SQLite Error 1: ", "")} Check the column names (-Where is an expression such as \"id IN (1, 2)\").", ex);
                }
            }
        }

        private static int SkipQuoted(string s, int start, char open, char close)
        {
            int i = start + 1;
            while (i < s.Length)
            {
                if (s[i] == close)
                {
                    // A doubled quote is an escaped quote (not for [..] identifiers).
                    if (open != '[' && i + 1 < s.Length && s[i + 1] == close) { i += 2; continue; }
                    return i + 1;
                }
                i++;
            }
            string what = open == '\'' ? "string literal" : "quoted identifier";
            throw Invalid(s, $"its {what} starting at position {start + 1} ({open}…) is never closed.");
        }

        private static TursoBackupException Invalid(string where, string why, Exception inner = null) =>
            new TursoBackupException(FailureKind.InvalidArgument, "The -Where predicate is refused: " + why + " Nothing was written.", where, inner) { ErrorId = "InvalidPredicate" };
    }
}
