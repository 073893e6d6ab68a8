using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.Data.Sqlite;

namespace TursoBackup.Engine.Recovery
{
    /// <summary>One column as PRAGMA table_info gives it (generated and hidden columns are not listed, as in sqldiff).</summary>
    internal sealed class CompareColumn
    {
        public string Name;
        public string Type;
        public bool NotNull;
        public string Default;
        /// <summary>Position in the declared PRIMARY KEY (1-based), 0 when not part of it.</summary>
        public int Pk;

        public string Declaration()
        {
            var sb = new StringBuilder(string.IsNullOrEmpty(Type) ? "(no type)" : Type);
            if (NotNull) sb.Append(" NOT NULL");
            if (Default != null) sb.Append(" DEFAULT ").Append(Default);
            return sb.ToString();
        }
    }

    /// <summary>A table of one side: its columns, its key, its CREATE statement.</summary>
    internal sealed class CompareTable
    {
        public string Schema;
        public string Name;
        public string Sql;
        public bool WithoutRowid;
        public List<CompareColumn> Columns = new List<CompareColumn>();

        /// <summary>The declared PRIMARY KEY columns in key order (empty: the table is keyed by its rowid).</summary>
        public string[] DeclaredKey => Columns.Where(c => c.Pk > 0).OrderBy(c => c.Pk).Select(c => c.Name).ToArray();

        public CompareColumn Find(string name) => Columns.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>One schema object of one side (table, index, trigger or view) as sqlite_schema lists it.</summary>
    internal sealed class SchemaObject
    {
        public string Type;
        public string Name;
        public string TableName;
        public string Sql;
        /// <summary>What pragma_table_list says of a table: table, view, virtual or shadow.</summary>
        public string Kind;
        public bool WithoutRowid;
    }

    /// <summary>The catalog of one side (main or the attached difference).</summary>
    internal sealed class SideCatalog
    {
        public string Schema;
        public List<SchemaObject> Objects = new List<SchemaObject>();

        public static SideCatalog Read(SqliteConnection connection, SqliteTransaction tx, string schema)
        {
            var catalog = new SideCatalog { Schema = schema };
            var kinds = new Dictionary<string, (string Type, bool Wr)>(StringComparer.OrdinalIgnoreCase);
            try
            {
                // pragma_table_list (SQLite 3.37+) tells shadow tables (an FTS index's _data, _idx …) from ordinary ones.
                using (var cmd = connection.CreateCommand())
                {
                    cmd.Transaction = tx;
                    cmd.CommandText = "SELECT name, type, wr FROM pragma_table_list WHERE schema = @s";
                    cmd.Parameters.AddWithValue("@s", schema);
                    using (var r = cmd.ExecuteReader())
                    {
                        while (r.Read()) kinds[r.GetString(0)] = (r.GetString(1), r.GetInt64(2) != 0);
                    }
                }
            }
            catch (SqliteException)
            {
                // An older SQLite: virtual tables are still told apart by their CREATE VIRTUAL TABLE statement.
            }
            using (var cmd = connection.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = "SELECT type, name, tbl_name, sql FROM " + Q(schema) + ".sqlite_schema";
                using (var r = cmd.ExecuteReader())
                {
                    while (r.Read())
                    {
                        var o = new SchemaObject
                        {
                            Type = r.GetString(0),
                            Name = r.GetString(1),
                            TableName = r.IsDBNull(2) ? null : r.GetString(2),
                            Sql = r.IsDBNull(3) ? null : r.GetString(3),
                        };
                        if (o.Type == "table")
                        {
                            if (kinds.TryGetValue(o.Name, out var k)) { o.Kind = k.Type; o.WithoutRowid = k.Wr; }
                            else o.Kind = o.Sql != null && o.Sql.TrimStart().StartsWith("CREATE VIRTUAL", StringComparison.OrdinalIgnoreCase) ? "virtual" : "table";
                        }
                        catalog.Objects.Add(o);
                    }
                }
            }
            return catalog;
        }

        public IEnumerable<SchemaObject> OfType(string type) => Objects.Where(o => o.Type == type);

        public SchemaObject Table(string name) =>
            Objects.FirstOrDefault(o => o.Type == "table" && string.Equals(o.Name, name, StringComparison.OrdinalIgnoreCase));

        public SchemaObject View(string name) =>
            Objects.FirstOrDefault(o => o.Type == "view" && string.Equals(o.Name, name, StringComparison.OrdinalIgnoreCase));

        /// <summary>Explicit indexes (not the automatic ones of UNIQUE/PRIMARY KEY constraints) and triggers of a table.</summary>
        public List<SchemaObject> Dependents(string type, string table) =>
            Objects.Where(o => o.Type == type && o.Sql != null && string.Equals(o.TableName, table, StringComparison.OrdinalIgnoreCase)).ToList();

        public CompareTable ReadTable(SqliteConnection connection, SqliteTransaction tx, SchemaObject table)
        {
            var t = new CompareTable { Schema = Schema, Name = table.Name, Sql = table.Sql, WithoutRowid = table.WithoutRowid };
            using (var cmd = connection.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(@t, @s) ORDER BY cid";
                cmd.Parameters.AddWithValue("@t", table.Name);
                cmd.Parameters.AddWithValue("@s", Schema);
                using (var r = cmd.ExecuteReader())
                {
                    while (r.Read())
                    {
                        t.Columns.Add(new CompareColumn
                        {
                            Name = r.GetString(0),
                            Type = r.IsDBNull(1) ? "" : r.GetString(1),
                            NotNull = r.GetInt64(2) != 0,
                            Default = r.IsDBNull(3) ? null : r.GetString(3),
                            Pk = (int)r.GetInt64(4),
                        });
                    }
                }
            }
            if (!table.WithoutRowid && table.Sql != null)
            {
                // Older SQLite without pragma_table_list: WITHOUT ROWID from the statement.
                t.WithoutRowid = NormalizedSql(table.Sql).EndsWith("without rowid", StringComparison.Ordinal)
                                 || NormalizedSql(table.Sql).Contains(")without rowid");
            }
            return t;
        }

        private static string Q(string name) => Sqlite.SqliteFile.QuoteIdentifier(name);

        /// <summary>
        /// A CREATE statement with what does not change its meaning taken out: comments, runs of white space (and
        /// the space next to punctuation), letter case outside quoted text, a final semicolon. Quoted text
        /// ('…', "…", `…`, […]) is kept as written.
        /// </summary>
        public static string NormalizedSql(string sql)
        {
            if (sql == null) return null;
            var sb = new StringBuilder(sql.Length);
            bool pendingSpace = false;
            int i = 0;
            while (i < sql.Length)
            {
                char c = sql[i];
                if (c == '-' && i + 1 < sql.Length && sql[i + 1] == '-')
                {
                    while (i < sql.Length && sql[i] != '\n') i++;
                    pendingSpace = true;
                    continue;
                }
                if (c == '/' && i + 1 < sql.Length && sql[i + 1] == '*')
                {
                    int end = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                    i = end < 0 ? sql.Length : end + 2;
                    pendingSpace = true;
                    continue;
                }
                if (char.IsWhiteSpace(c))
                {
                    pendingSpace = true;
                    i++;
                    continue;
                }
                if (pendingSpace)
                {
                    if (sb.Length > 0 && !IsTight(sb[sb.Length - 1]) && !IsTight(c)) sb.Append(' ');
                    pendingSpace = false;
                }
                char close = c == '\'' ? '\'' : c == '"' ? '"' : c == '`' ? '`' : c == '[' ? ']' : '\0';
                if (close != '\0')
                {
                    sb.Append(c);
                    i++;
                    while (i < sql.Length)
                    {
                        sb.Append(sql[i]);
                        if (sql[i] == close)
                        {
                            if (close != ']' && i + 1 < sql.Length && sql[i + 1] == close) { sb.Append(close); i += 2; continue; }
                            i++;
                            break;
                        }
                        i++;
                    }
                    continue;
                }
                sb.Append(c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
                i++;
            }
            string s = sb.ToString();
            while (s.EndsWith(";", StringComparison.Ordinal)) s = s.Substring(0, s.Length - 1).TrimEnd();
            return s;
        }

        private static bool IsTight(char c) => c == '(' || c == ')' || c == ',' || c == ';' || c == '=';
    }
}
