using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Recovery
{
    /// <summary>What table to bring back from where (Restore-TursoTable).</summary>
    public sealed class TableRecoveryRequest
    {
        public string SourcePath { get; set; }
        public string DestinationPath { get; set; }
        public string Table { get; set; }
        /// <summary>Write the table under this name beside the destination's own (its indexes and triggers renamed); null: replace the destination's table.</summary>
        public string NewName { get; set; }
        public string Reason { get; set; }
        /// <summary>The vault that keeps the journal and the undo data (required).</summary>
        public string VaultPath { get; set; }
        public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);
        public Action<string> Log { get; set; }
    }

    /// <summary>
    /// Table-level recovery: copies one table (rows, indexes, triggers) from a source into a destination in ONE
    /// transaction: beside the destination's own under -NewName, or replacing it (its old content saved first into
    /// the undo data). Foreign keys are off during the swap (PRAGMA foreign_keys is per connection) and
    /// PRAGMA foreign_key_check runs on the table and the tables referencing it before the commit.
    /// </summary>
    public static class TableRecovery
    {
        public static TableRecoveryResult Restore(TableRecoveryRequest request)
        {
            var sw = Stopwatch.StartNew();
            if (request == null) throw new ArgumentNullException(nameof(request));
            try
            {
                Check(request);
            }
            catch (TursoBackupException ex) when (!string.IsNullOrWhiteSpace(request.VaultPath) && ex.ErrorId != "PathRequired")
            {
                RecoveryUndo.TryJournal(request.VaultPath, new RecoveryLogEntry
                {
                    Action = "TableRecovery", Database = RecoverySql.DatabaseName(request.DestinationPath), Target = Path.GetFullPath(request.DestinationPath),
                    Source = Path.GetFullPath(request.SourcePath), Tables = new[] { request.Table }, Reason = request.Reason, Rows = 0, Result = "Failed: " + ex.Message,
                }, request.Log);
                throw;
            }
            string source = Path.GetFullPath(request.SourcePath), dest = Path.GetFullPath(request.DestinationPath);
            string id = RecoveryJournal.NewId();
            var entry = new RecoveryLogEntry
            {
                Id = id, Action = "TableRecovery", Database = RecoverySql.DatabaseName(dest), Target = dest, Source = source,
                Tables = new[] { request.Table }, Reason = request.Reason,
            };
            TableRecoveryResult result;
            try
            {
                result = Run(request, id, source, dest);
                entry.Rows = result.Rows;
                entry.UndoId = id;
                entry.Result = "Succeeded";
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                var wrapped = RecoveryUndo.JournalFailure(request.VaultPath, entry, ex, dest, request.Log);
                if (wrapped != null) throw wrapped;
                throw;
            }
            RecoveryJournal.Append(request.VaultPath, entry);
            result.Duration = sw.Elapsed;
            request.Log?.Invoke($"Table recovery {id}: {result.Table} → {result.NewName}, {result.Rows} rows, {result.Indexes} indexes, {result.Triggers} triggers{(result.Replaced ? ", replaced the destination's table" : "")}.");
            return result;
        }

        private static void Check(TableRecoveryRequest request)
        {
            if (request == null) throw new ArgumentNullException(nameof(request));
            if (string.IsNullOrWhiteSpace(request.SourcePath) || string.IsNullOrWhiteSpace(request.DestinationPath))
                throw new TursoBackupException(FailureKind.InvalidArgument, "Give both -Source and -Destination.") { ErrorId = "PathRequired" };
            if (string.IsNullOrWhiteSpace(request.Table))
                throw new TursoBackupException(FailureKind.InvalidArgument, "Give the table to recover (-Table).") { ErrorId = "TableRequired" };
            if (request.NewName != null && (request.NewName.Trim().Length == 0 || request.NewName.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase)))
                throw new TursoBackupException(FailureKind.InvalidArgument, $"'{request.NewName}' cannot be a table name. Give another -NewName.", request.NewName) { ErrorId = "InvalidNewName" };
            if (string.IsNullOrWhiteSpace(request.VaultPath))
                throw new TursoBackupException(FailureKind.InvalidArgument, "Give the vault that keeps the recovery journal and the undo data (-Vault). Nothing was written.") { ErrorId = "VaultRequired" };
            SqliteFile.RequireDatabaseFile(request.SourcePath);
            SqliteFile.RequireDatabaseFile(request.DestinationPath);
            if (string.Equals(Path.GetFullPath(request.SourcePath), Path.GetFullPath(request.DestinationPath), StringComparison.Ordinal))
                throw new TursoBackupException(FailureKind.InvalidArgument, "-Source and -Destination are the same file. Give the branch (or restored copy) as -Source.", request.SourcePath) { ErrorId = "SameDatabase" };
        }

        private static TableRecoveryResult Run(TableRecoveryRequest request, string id, string source, string dest)
        {
            using (var c = RecoverySql.OpenDestination(dest, false, request.LockTimeout))
            {
                RecoverySql.Exec(c, null, "PRAGMA foreign_keys = OFF");
                RecoverySql.Attach(c, source, "src", readOnly: true);
                try
                {
                    var tx = RecoverySql.BeginImmediate(c, dest, request.LockTimeout);
                    UndoWriter undo = null;
                    try
                    {
                        string table = RecoverySql.ActualName(c, tx, "src", request.Table)
                            ?? throw new TursoBackupException(FailureKind.NotFound, $"Table '{request.Table}' is not in the source '{source}'. Check -Table. Nothing was written.", request.Table) { ErrorId = "TableNotFound" };
                        var shape = RecoverySql.Shape(c, tx, "src", table);
                        string target = request.NewName ?? table;
                        var objects = SourceObjects(c, tx, table);
                        string existing = RecoverySql.ActualName(c, tx, "main", target);
                        var renamed = new List<(string Type, string Name, string Sql)>();
                        string tableSql = shape.Sql;
                        if (request.NewName != null)
                        {
                            string clash = AnyObject(c, tx, target);
                            if (clash != null)
                                throw new TursoBackupException(FailureKind.AlreadyExists, $"The destination already has {clash} named '{target}'. Choose another -NewName. Nothing was written.", target) { ErrorId = "NewNameExists" };
                            tableSql = CreateSql.RenameTable(shape.Sql, target);
                            foreach (var o in objects)
                            {
                                string newObjectName = o.Name.IndexOf(table, StringComparison.OrdinalIgnoreCase) >= 0
                                    ? ReplaceIgnoreCase(o.Name, table, target) : target + "_" + o.Name;
                                string other = AnyObject(c, tx, newObjectName);
                                if (other != null)
                                    throw new TursoBackupException(FailureKind.AlreadyExists, $"The {o.Type} '{o.Name}' would be renamed '{newObjectName}', but the destination already has {other} of that name. Choose another -NewName. Nothing was written.", newObjectName) { ErrorId = "NewNameExists" };
                                renamed.Add((o.Type, newObjectName, o.Type == "index" ? CreateSql.RenameIndex(o.Sql, newObjectName, target) : CreateSql.RenameTrigger(o.Sql, newObjectName, target)));
                            }
                        }
                        else
                        {
                            renamed.AddRange(objects);
                            // An index or trigger name of the source's table that another table of the destination uses.
                            foreach (var o in objects)
                            {
                                var owner = RecoverySql.Scalar(c, tx, "SELECT tbl_name FROM main.sqlite_master WHERE name = $0 COLLATE NOCASE", o.Name) as string;
                                if (owner != null && !string.Equals(owner, table, StringComparison.OrdinalIgnoreCase))
                                    throw new TursoBackupException(FailureKind.AlreadyExists, $"The source's {o.Type} '{o.Name}' has a namesake in the destination that belongs to '{owner}'. Use -NewName. Nothing was written.", o.Name) { ErrorId = "NewNameExists" };
                            }
                            if (existing == null && AnyObject(c, tx, target) is string what)
                                throw new TursoBackupException(FailureKind.AlreadyExists, $"The destination has {what} named '{target}'. Use -NewName. Nothing was written.", target) { ErrorId = "NewNameExists" };
                        }
                        bool replacing = request.NewName == null && existing != null;
                        undo = new UndoWriter(request.VaultPath, id, "table", dest, source);
                        undo.SetMeta("table", replacing ? existing : target);
                        undo.SetMeta("replaced", replacing ? "1" : "0");
                        if (replacing) SaveOld(c, tx, undo, existing);

                        if (replacing) RecoverySql.Exec(c, tx, "DROP TABLE main." + RecoverySql.Q(existing));
                        RecoverySql.Exec(c, tx, tableSql);
                        string rn = shape.HasHiddenRowid ? RecoverySql.RowidName(c, tx, "src", table) : null;
                        string cols = string.Join(", ", shape.Columns.Select(RecoverySql.Q));
                        long rows = RecoverySql.Exec(c, tx,
                            $"INSERT INTO main.{RecoverySql.Q(target)} ({(rn != null ? rn + ", " : "")}{cols}) SELECT {(rn != null ? rn + ", " : "")}{cols} FROM src.{RecoverySql.Q(table)}");
                        int indexes = 0, triggers = 0;
                        foreach (var o in renamed.Where(x => x.Type == "index")) { RecoverySql.Exec(c, tx, o.Sql); indexes++; }
                        foreach (var o in renamed.Where(x => x.Type == "trigger")) { RecoverySql.Exec(c, tx, o.Sql); triggers++; }
                        RecoverySql.ForeignKeyCheck(c, tx, target, dest);
                        var newShape = RecoverySql.Shape(c, tx, "main", target);
                        undo.SetMeta("afterHash", RecoverySql.ContentHash(c, tx, "main", newShape));
                        undo.SetMeta("afterRows", rows.ToString(System.Globalization.CultureInfo.InvariantCulture));
                        undo.Publish();
                        try
                        {
                            RecoverySql.Commit(c, tx, dest);
                            tx = null;
                        }
                        catch
                        {
                            undo.Withdraw();
                            throw;
                        }
                        return new TableRecoveryResult
                        {
                            Id = id, Table = table, NewName = target, Rows = rows, Indexes = indexes, Triggers = triggers,
                            Replaced = replacing, Source = source, Destination = dest,
                        };
                    }
                    finally
                    {
                        undo?.Dispose();
                        tx?.Dispose();
                    }
                }
                finally
                {
                    RecoverySql.Detach(c, "src");
                    try { RecoverySql.Exec(c, null, "PRAGMA foreign_keys = ON"); } catch (SqliteException) { }
                }
            }
        }

        private static List<(string Type, string Name, string Sql)> SourceObjects(SqliteConnection c, SqliteTransaction tx, string table)
        {
            var list = new List<(string, string, string)>();
            using (var cmd = c.CreateCommand())
            {
                cmd.Transaction = tx;
                // Indexes made by SQLite (UNIQUE, PRIMARY KEY constraints) have no SQL: they come with CREATE TABLE.
                cmd.CommandText = "SELECT type, name, sql FROM src.sqlite_master WHERE tbl_name = $0 AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, rowid";
                cmd.Parameters.AddWithValue("$0", table);
                using (var r = cmd.ExecuteReader()) while (r.Read()) list.Add((r.GetString(0), r.GetString(1), r.GetString(2)));
            }
            return list;
        }

        private static string AnyObject(SqliteConnection c, SqliteTransaction tx, string name)
        {
            var type = RecoverySql.Scalar(c, tx, "SELECT type FROM main.sqlite_master WHERE name = $0 COLLATE NOCASE", name) as string;
            return type == null ? null : (type == "index" ? "an index" : "a " + type);
        }

        private static void SaveOld(SqliteConnection c, SqliteTransaction tx, UndoWriter undo, string existing)
        {
            var old = RecoverySql.Shape(c, tx, "main", existing);
            undo.Exec("INSERT INTO schema (ord, type, name, sql) VALUES (0, 'table', $0, $1)", existing, old.Sql);
            int ord = 1;
            using (var cmd = c.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = "SELECT type, name, sql FROM main.sqlite_master WHERE tbl_name = $0 AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, rowid";
                cmd.Parameters.AddWithValue("$0", existing);
                using (var r = cmd.ExecuteReader())
                    while (r.Read()) undo.Exec("INSERT INTO schema (ord, type, name, sql) VALUES ($0, $1, $2, $3)", ord++, r.GetString(0), r.GetString(1), r.GetString(2));
            }
            undo.SetMeta("columns", RecoverySql.JoinNames(old.Columns));
            string rn = old.HasHiddenRowid ? RecoverySql.RowidName(c, tx, "main", existing) : null;
            undo.SetMeta("rowid", rn != null ? "1" : "0");
            using (var cmd = c.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = $"SELECT {(rn != null ? rn + ", " : "")}{string.Join(", ", old.Columns.Select(RecoverySql.Q))} FROM main.{RecoverySql.Q(existing)}";
                using (var r = cmd.ExecuteReader()) undo.CopyRows(r, "old_rows", rn != null ? new[] { "rid" } : new string[0]);
            }
        }

        private static string ReplaceIgnoreCase(string s, string oldValue, string newValue)
        {
            int i = s.IndexOf(oldValue, StringComparison.OrdinalIgnoreCase);
            return s.Substring(0, i) + newValue + s.Substring(i + oldValue.Length);
        }
    }

    /// <summary>Renames the object (and the table an index or trigger is ON) in a CREATE statement, by SQL tokens.</summary>
    internal static class CreateSql
    {
        private struct Token
        {
            public int Start, End;
            public bool Word; // a bare word (keyword or identifier), else punctuation/quoted/literal
            public string Text;
        }

        private static List<Token> Lex(string sql)
        {
            var tokens = new List<Token>();
            int i = 0;
            while (i < sql.Length)
            {
                char ch = sql[i];
                if (char.IsWhiteSpace(ch)) { i++; continue; }
                if (ch == '-' && i + 1 < sql.Length && sql[i + 1] == '-') { while (i < sql.Length && sql[i] != '\n') i++; continue; }
                if (ch == '/' && i + 1 < sql.Length && sql[i + 1] == '*') { int e = sql.IndexOf("*/", i + 2, StringComparison.Ordinal); i = e < 0 ? sql.Length : e + 2; continue; }
                int start = i;
                if (ch == '\'' || ch == '"' || ch == '`' || ch == '[')
                {
                    char close = ch == '[' ? ']' : ch;
                    i++;
                    while (i < sql.Length)
                    {
                        if (sql[i] == close) { if (ch != '[' && i + 1 < sql.Length && sql[i + 1] == close) { i += 2; continue; } i++; break; }
                        i++;
                    }
                    tokens.Add(new Token { Start = start, End = i, Word = false, Text = sql.Substring(start, i - start) });
                    continue;
                }
                if (char.IsLetterOrDigit(ch) || ch == '_' || ch > 127)
                {
                    while (i < sql.Length && (char.IsLetterOrDigit(sql[i]) || sql[i] == '_' || sql[i] == '$' || sql[i] > 127)) i++;
                    tokens.Add(new Token { Start = start, End = i, Word = true, Text = sql.Substring(start, i - start) });
                    continue;
                }
                i++;
                tokens.Add(new Token { Start = start, End = i, Word = false, Text = ch.ToString() });
            }
            return tokens;
        }

        private static bool Is(Token t, string word) => t.Word && string.Equals(t.Text, word, StringComparison.OrdinalIgnoreCase);

        /// <summary>The index of the token after CREATE … &lt;kind&gt; [IF NOT EXISTS]: the object's name (a schema prefix is skipped by the caller).</summary>
        private static int NameIndex(List<Token> t, string kind)
        {
            int i = 0;
            while (i < t.Count && !Is(t[i], kind)) i++;
            if (i >= t.Count) throw new FormatException("Not a CREATE " + kind + " statement.");
            i++;
            if (i + 2 < t.Count && Is(t[i], "IF") && Is(t[i + 1], "NOT") && Is(t[i + 2], "EXISTS")) i += 3;
            return i;
        }

        /// <summary>The token range [first, last] of a possibly schema-qualified name starting at <paramref name="i"/>.</summary>
        private static (int First, int Last) QualifiedName(List<Token> t, int i) =>
            i + 2 < t.Count && t[i + 1].Text == "." ? (i, i + 2) : (i, i);

        private static string Splice(string sql, List<(int Start, int End, string Text)> edits)
        {
            foreach (var e in edits.OrderByDescending(x => x.Start)) sql = sql.Substring(0, e.Start) + e.Text + sql.Substring(e.End);
            return sql;
        }

        public static string RenameTable(string sql, string newName)
        {
            var t = Lex(sql);
            var n = QualifiedName(t, NameIndex(t, "TABLE"));
            return Splice(sql, new List<(int, int, string)> { (t[n.First].Start, t[n.Last].End, SqliteFile.QuoteIdentifier(newName)) });
        }

        public static string RenameIndex(string sql, string newName, string newTable)
        {
            var t = Lex(sql);
            var n = QualifiedName(t, NameIndex(t, "INDEX"));
            int on = n.Last + 1;
            if (on >= t.Count || !Is(t[on], "ON")) throw new FormatException("CREATE INDEX without ON.");
            return Splice(sql, new List<(int, int, string)>
            {
                (t[n.First].Start, t[n.Last].End, SqliteFile.QuoteIdentifier(newName)),
                (t[on + 1].Start, t[on + 1].End, SqliteFile.QuoteIdentifier(newTable)),
            });
        }

        public static string RenameTrigger(string sql, string newName, string newTable)
        {
            var t = Lex(sql);
            var n = QualifiedName(t, NameIndex(t, "TRIGGER"));
            int on = n.Last + 1;
            while (on < t.Count && !Is(t[on], "ON")) on++;
            if (on + 1 >= t.Count) throw new FormatException("CREATE TRIGGER without ON.");
            var table = QualifiedName(t, on + 1);
            return Splice(sql, new List<(int, int, string)>
            {
                (t[n.First].Start, t[n.Last].End, SqliteFile.QuoteIdentifier(newName)),
                (t[table.First].Start, t[table.Last].End, SqliteFile.QuoteIdentifier(newTable)),
            });
        }
    }
}
