using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Recovery
{
    /// <summary>What rows to bring back from where (Restore-TursoRow).</summary>
    public sealed class RowRecoveryRequest
    {
        /// <summary>The database the rows come from (a branch, a restored copy): opened read-only.</summary>
        public string SourcePath { get; set; }
        /// <summary>The database the rows go into (production).</summary>
        public string DestinationPath { get; set; }
        /// <summary>The tables, in any order: they are written parents first (the destination's foreign keys).</summary>
        public string[] Tables { get; set; } = new string[0];
        /// <summary>
        /// The predicate that selects the source's rows, for every table in <see cref="Tables"/> that has no entry in
        /// <see cref="TableWhere"/> (so it must be valid for each of them). Null: every row. Unqualified table names in a
        /// subquery name the destination's tables; write <c>src.&lt;table&gt;</c> for the source's.
        /// </summary>
        public string Where { get; set; }
        /// <summary>Per-table predicates (table name, case-insensitive → predicate), overriding <see cref="Where"/> for that table.</summary>
        public IDictionary<string, string> TableWhere { get; set; }
        public ConflictAction ConflictAction { get; set; } = ConflictAction.Abort;
        public string Reason { get; set; }
        /// <summary>The vault that keeps the journal and the undo data (required).</summary>
        public string VaultPath { get; set; }
        /// <summary>How long to wait for another writer's lock on the destination.</summary>
        public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);
        public Action<string> Log { get; set; }

        internal string PredicateFor(string table)
        {
            if (TableWhere != null)
                foreach (var kv in TableWhere)
                    if (string.Equals(kv.Key, table, StringComparison.OrdinalIgnoreCase)) return kv.Value;
            return Where;
        }
    }

    /// <summary>
    /// Row-level recovery: copies the rows of a source (a branch) that match a predicate into a destination, matched by
    /// primary key (rowid for a table without one), in ONE transaction (BEGIN IMMEDIATE) on the destination with the
    /// source ATTACHed read-only; set-based SQL, so memory does not grow with the table. Undo data is made durable in the
    /// vault before the commit; every run is journaled.
    /// </summary>
    public static class RowRecovery
    {
        public static IList<RowRecoveryResult> Restore(RowRecoveryRequest request)
        {
            var sw = Stopwatch.StartNew();
            if (request == null) throw new ArgumentNullException(nameof(request));
            try
            {
                Check(request, requireVault: true);
            }
            catch (TursoBackupException ex) when (!string.IsNullOrWhiteSpace(request.VaultPath) && ex.ErrorId != "PathRequired")
            {
                // A refused request (bad predicate, missing file) is journaled too: the journal tells every attempt.
                RecoveryUndo.TryJournal(request.VaultPath, new RecoveryLogEntry
                {
                    Action = "RowRecovery", Database = RecoverySql.DatabaseName(request.DestinationPath), Target = Path.GetFullPath(request.DestinationPath),
                    Source = Path.GetFullPath(request.SourcePath), Tables = request.Tables, Reason = request.Reason, Rows = 0, Result = "Failed: " + ex.Message,
                }, request.Log);
                throw;
            }
            string source = Path.GetFullPath(request.SourcePath), dest = Path.GetFullPath(request.DestinationPath);
            string id = RecoveryJournal.NewId();
            var entry = new RecoveryLogEntry
            {
                Id = id, Action = "RowRecovery", Database = RecoverySql.DatabaseName(dest), Target = dest, Source = source,
                Tables = request.Tables, Reason = request.Reason,
            };
            var results = new List<RowRecoveryResult>();
            try
            {
                using (var c = RecoverySql.OpenDestination(dest, false, request.LockTimeout))
                {
                    RecoverySql.Exec(c, null, "PRAGMA foreign_keys = ON");
                    RecoverySql.Attach(c, source, "src", readOnly: true);
                    try
                    {
                        var tx = RecoverySql.BeginImmediate(c, dest, request.LockTimeout);
                        UndoWriter undo = null;
                        try
                        {
                            RecoverySql.Exec(c, tx, "PRAGMA defer_foreign_keys = ON");
                            var tables = Prepare(c, tx, request, dest);
                            // Conflicts under Abort fail before anything is written.
                            if (request.ConflictAction == ConflictAction.Abort)
                                foreach (var t in tables)
                                {
                                    string first = FirstConflict(c, tx, t);
                                    if (first != null)
                                        throw new TursoBackupException(FailureKind.InvalidOperation,
                                            $"Row recovery aborted: the row of '{t.Shape.Name}' with {first} is in the destination with other values (ConflictAction Abort). Nothing was written. Use -ConflictAction Replace to overwrite such rows or Ignore to keep them, or narrow -Where.", dest) { ErrorId = "RowConflict" };
                                }
                            // The undo file's own connection reads both files: this connection holds the write lock and has
                            // written nothing yet, so it sees what this transaction sees; the rows are copied set-based.
                            undo = new UndoWriter(request.VaultPath, id, "rows", dest, source, ("src", source), ("dst", dest));
                            int ord = 0;
                            foreach (var t in tables)
                            {
                                t.Ord = ord++;
                                RecordUndoSetBased(undo, t, request.ConflictAction == ConflictAction.Replace);
                            }
                            long written = 0;
                            foreach (var t in tables)
                            {
                                long inserted = RecoverySql.Exec(c, tx, t.InsertSql());
                                long replaced = request.ConflictAction == ConflictAction.Replace ? RecoverySql.Exec(c, tx, t.UpdateSql()) : 0;
                                if (inserted != t.WouldInsert || replaced != t.WouldReplace)
                                    throw new TursoBackupException(FailureKind.InvalidOperation, $"Row recovery of '{t.Shape.Name}' wrote {inserted} inserted / {replaced} replaced rows where {t.WouldInsert} / {t.WouldReplace} were recorded; rolled back, nothing was written. Run it again.", dest);
                                written += inserted + replaced;
                                results.Add(new RowRecoveryResult
                                {
                                    Id = id, Table = t.Shape.Name, Matched = t.Matched, Inserted = inserted, Replaced = replaced,
                                    Skipped = t.Matched - inserted - replaced, Source = source, Destination = dest,
                                });
                            }
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
                            entry.Rows = written;
                            entry.UndoId = id;
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
                    }
                }
                entry.Result = "Succeeded";
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                var wrapped = RecoveryUndo.JournalFailure(request.VaultPath, entry, ex, dest, request.Log);
                if (wrapped != null) throw wrapped;
                throw;
            }
            RecoveryJournal.Append(request.VaultPath, entry);
            foreach (var r in results) { r.Duration = sw.Elapsed; r.UndoAvailable = true; }
            request.Log?.Invoke($"Row recovery {id}: " + string.Join("; ", results.Select(r => $"{r.Table} matched {r.Matched}, inserted {r.Inserted}, replaced {r.Replaced}, skipped {r.Skipped}")));
            return results;
        }

        /// <summary>-WhatIf: per table what <see cref="Restore"/> would insert, replace and skip, with up to 5 sample statements. Nothing is written (the vault is not needed).</summary>
        public static IList<RowRecoveryPlan> Plan(RowRecoveryRequest request)
        {
            Check(request, requireVault: false);
            string source = Path.GetFullPath(request.SourcePath), dest = Path.GetFullPath(request.DestinationPath);
            var plans = new List<RowRecoveryPlan>();
            using (var c = RecoverySql.OpenDestination(dest, true, request.LockTimeout))
            {
                RecoverySql.Attach(c, source, "src", readOnly: true);
                try
                {
                    using (var tx = SqliteFile.BeginReadSnapshot(c))
                        plans.AddRange(PlansOf(c, tx, Prepare(c, tx, request, dest), request));
                }
                finally
                {
                    RecoverySql.Detach(c, "src");
                }
            }
            return plans;
        }

        internal static List<RowRecoveryPlan> PlansOf(SqliteConnection c, SqliteTransaction tx, List<Work> works, RowRecoveryRequest request)
        {
            var plans = new List<RowRecoveryPlan>();
            foreach (var t in works)
            {
                var plan = new RowRecoveryPlan
                {
                    Table = t.Shape.Name, Matched = t.Matched, Conflicts = t.Differing, WouldInsert = t.WouldInsert,
                    WouldReplace = request.ConflictAction == ConflictAction.Replace ? t.Differing : 0,
                };
                plan.WouldSkip = plan.Matched - plan.WouldInsert - plan.WouldReplace;
                if (request.ConflictAction == ConflictAction.Abort) plan.FirstConflict = FirstConflict(c, tx, t);
                plan.Sample = Sample(c, tx, t, request.ConflictAction == ConflictAction.Replace).ToArray();
                plans.Add(plan);
            }
            return plans;
        }

        internal static void Check(RowRecoveryRequest request, bool requireVault, bool remoteDestination = false)
        {
            if (request == null) throw new ArgumentNullException(nameof(request));
            if (string.IsNullOrWhiteSpace(request.SourcePath) || string.IsNullOrWhiteSpace(request.DestinationPath))
                throw new TursoBackupException(FailureKind.InvalidArgument, "Give both -Source and -Destination.") { ErrorId = "PathRequired" };
            if (request.Tables == null || request.Tables.Length == 0 || request.Tables.Any(string.IsNullOrWhiteSpace))
                throw new TursoBackupException(FailureKind.InvalidArgument, "Give the tables whose rows to recover (-Table).") { ErrorId = "TableRequired" };
            if (request.Tables.Distinct(StringComparer.OrdinalIgnoreCase).Count() != request.Tables.Length)
                throw new TursoBackupException(FailureKind.InvalidArgument, "-Table names a table twice. Give each table once.") { ErrorId = "TableRequired" };
            if (requireVault && string.IsNullOrWhiteSpace(request.VaultPath))
                throw new TursoBackupException(FailureKind.InvalidArgument, "Give the vault that keeps the recovery journal and the undo data (-Vault). Nothing was written.") { ErrorId = "VaultRequired" };
            SqliteFile.RequireDatabaseFile(request.SourcePath);
            if (!remoteDestination) SqliteFile.RequireDatabaseFile(request.DestinationPath);
            if (!remoteDestination && string.Equals(Path.GetFullPath(request.SourcePath), Path.GetFullPath(request.DestinationPath), StringComparison.Ordinal))
                throw new TursoBackupException(FailureKind.InvalidArgument, "-Source and -Destination are the same file. Give the branch (or restored copy) as -Source.", request.SourcePath) { ErrorId = "SameDatabase" };
            // The lexical checks before any file is opened for writing.
            foreach (var table in request.Tables)
            {
                string where = request.PredicateFor(table);
                if (where != null) SqlPredicate.Validate(where);
            }
        }

        internal sealed class Work
        {
            public TableShape Shape;
            public TableShape DestShape;
            public string Where;
            public string RowidName; // the destination's name for the rowid (rowid-keyed tables)
            public string SrcRowidName;
            public int Ord;
            public long Matched, WouldInsert, Differing;
            public long WouldReplace;
            /// <summary>The destination's schema on the connection: "main" (a local file) or "dst" (the shadow of a remote one).</summary>
            public string D = "main";

            public string T => D + "." + RecoverySql.Q(Shape.Name);
            /// <summary>The source's matching rows: its columns, plus __tb_rowid for a rowid-keyed table.</summary>
            public string S => $"(SELECT {(Shape.RowidKey ? SrcRowidName + " AS __tb_rowid, " : "")}{string.Join(", ", Shape.Columns.Select(RecoverySql.Q))} FROM src.{RecoverySql.Q(Shape.Name)} WHERE ({Where ?? "1"}))";
            public string KeyJoin(string d, string s) => Shape.RowidKey
                ? $"{d}.{RowidName} IS {s}.__tb_rowid"
                : string.Join(" AND ", Shape.Keys.Select(k => $"{d}.{RecoverySql.Q(k)} IS {s}.{RecoverySql.Q(k)}"));
            public string Differ(string d, string s) => "NOT (" + string.Join(" AND ", Shape.Columns.Select(col => $"{d}.{RecoverySql.Q(col)} IS {s}.{RecoverySql.Q(col)}")) + ")";
            public string KeyText(string s) => Shape.RowidKey
                ? $"'rowid=' || quote({s}.__tb_rowid)"
                : string.Join(" || ', ' || ", Shape.Keys.Select(k => $"'{k.Replace("'", "''")}=' || quote({s}.{RecoverySql.Q(k)})"));
            string InsCols => (Shape.RowidKey ? RowidName + ", " : "") + string.Join(", ", Shape.Columns.Select(RecoverySql.Q));
            string SCols(string s) => (Shape.RowidKey ? s + ".__tb_rowid, " : "") + string.Join(", ", Shape.Columns.Select(col => s + "." + RecoverySql.Q(col)));
            public string NewRows => $"FROM {S} AS s WHERE NOT EXISTS (SELECT 1 FROM {T} AS d WHERE {KeyJoin("d", "s")})";
            public string Conflicting => $"FROM {S} AS s JOIN {T} AS d ON {KeyJoin("d", "s")} WHERE {Differ("d", "s")}";
            public string InsertSql() => $"INSERT INTO {T} ({InsCols}) SELECT {SCols("s")} {NewRows}";
            public string UpdateSql() =>
                $"UPDATE {T} AS d SET ({string.Join(", ", Shape.Columns.Select(RecoverySql.Q))}) = (SELECT {string.Join(", ", Shape.Columns.Select(col => "s." + RecoverySql.Q(col)))} FROM {S} AS s WHERE {KeyJoin("d", "s")}) " +
                $"WHERE EXISTS (SELECT 1 FROM {S} AS s WHERE {KeyJoin("d", "s")} AND {Differ("d", "s")})";
            public string NewRowsSelect => $"SELECT 'insert', {(Shape.RowidKey ? "s.__tb_rowid" : "NULL")}, {string.Join(", ", Shape.Columns.Select(col => "s." + RecoverySql.Q(col)))} {NewRows}";
            public string ReplacedNewSelect => $"SELECT 'replace', {(Shape.RowidKey ? "s.__tb_rowid" : "NULL")}, {string.Join(", ", Shape.Columns.Select(col => "s." + RecoverySql.Q(col)))} {Conflicting}";
            public string ReplacedOldSelect => $"SELECT {(Shape.RowidKey ? "d." + RowidName : "NULL")}, {string.Join(", ", DestShape.Columns.Select(col => "d." + RecoverySql.Q(col)))} {Conflicting}";
        }

        /// <summary>Checks every table on both sides (existence, columns, keys, predicate), orders them parents first and counts.</summary>
        internal static List<Work> Prepare(SqliteConnection c, SqliteTransaction tx, RowRecoveryRequest request, string dest, string D = "main", Action<List<Work>> beforeCounts = null)
        {
            var works = new List<Work>();
            foreach (var name in request.Tables)
            {
                if (!RecoverySql.TableExists(c, tx, "src", name))
                    throw new TursoBackupException(FailureKind.NotFound, $"Table '{name}' is not in the source '{request.SourcePath}'. Check -Table (Compare-TursoDatabase lists the tables). Nothing was written.", name) { ErrorId = "TableNotFound" };
                if (!RecoverySql.TableExists(c, tx, D, name))
                    throw new TursoBackupException(FailureKind.NotFound, $"Table '{name}' is not in the destination '{dest}'. Bring the whole table back with Restore-TursoTable. Nothing was written.", name) { ErrorId = "TableNotFound" };
                var s = RecoverySql.Shape(c, tx, "src", name);
                var d = RecoverySql.Shape(c, tx, D, name);
                var missing = s.Columns.Where(col => !d.Columns.Contains(col, StringComparer.OrdinalIgnoreCase)).ToList();
                if (missing.Count > 0)
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"Table '{name}' of the destination lacks the source's column(s) {string.Join(", ", missing.Select(m => "'" + m + "'"))} (destination columns: {string.Join(", ", d.Columns)}). The schemas differ: fix the destination's schema first, or bring the table back whole with Restore-TursoTable -NewName. Nothing was written.", name) { ErrorId = "SchemaMismatch" };
                if (s.RowidKey != d.RowidKey || !s.Keys.SequenceEqual(d.Keys, StringComparer.OrdinalIgnoreCase))
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"Table '{name}' has primary key ({Keys(s)}) in the source but ({Keys(d)}) in the destination, so its rows cannot be matched. Fix the schema first, or use Restore-TursoTable -NewName. Nothing was written.", name) { ErrorId = "SchemaMismatch" };
                string where = request.PredicateFor(name);
                if (where != null) SqlPredicate.Validate(c, "src", s.Name, where, tx);
                var w = new Work { Shape = s, DestShape = d, Where = where, D = D };
                if (s.RowidKey)
                {
                    w.RowidName = RecoverySql.RowidName(c, tx, D, name);
                    w.SrcRowidName = RecoverySql.RowidName(c, tx, "src", name);
                }
                works.Add(w);
            }
            var ordered = RecoverySql.ParentsFirst(c, tx, D, works.Select(x => x.Shape.Name).ToList());
            works = ordered.Select(n => works.First(x => string.Equals(x.Shape.Name, n, StringComparison.OrdinalIgnoreCase))).ToList();
            beforeCounts?.Invoke(works);
            foreach (var w in works)
            {
                // One pass: every matching source row LEFT JOINed by key to the destination (a row is there when the
                // destination's rowid, or a WITHOUT ROWID table's first key column, is not NULL).
                string hit = "d." + (w.DestShape.WithoutRowid ? RecoverySql.Q(w.DestShape.Keys[0]) : (w.RowidName ?? RecoverySql.RowidName(c, tx, D, w.Shape.Name)));
                using (var cmd = c.CreateCommand())
                {
                    cmd.Transaction = tx;
                    cmd.CommandText = $"SELECT count(*), count(*) - count({hit}), coalesce(sum(CASE WHEN {hit} IS NOT NULL AND {w.Differ("d", "s")} THEN 1 ELSE 0 END), 0) " +
                                      $"FROM {w.S} AS s LEFT JOIN {w.T} AS d ON {w.KeyJoin("d", "s")}";
                    using (var r = cmd.ExecuteReader())
                    {
                        r.Read();
                        w.Matched = r.GetInt64(0);
                        w.WouldInsert = r.GetInt64(1);
                        w.Differing = r.GetInt64(2);
                    }
                }
                w.WouldReplace = request.ConflictAction == ConflictAction.Replace ? w.Differing : 0;
            }
            return works;
        }

        private static string Keys(TableShape s) => s.RowidKey ? "rowid" : string.Join(", ", s.Keys);

        internal static string FirstConflict(SqliteConnection c, SqliteTransaction tx, Work t)
        {
            var v = RecoverySql.Scalar(c, tx, $"SELECT {t.KeyText("s")} {t.Conflicting} LIMIT 1");
            return v == null || v is DBNull ? null : Convert.ToString(v, CultureInfo.InvariantCulture);
        }

        internal static void RecordUndo(SqliteConnection c, SqliteTransaction tx, UndoWriter undo, Work t, bool replace)
        {
            undo.Exec("INSERT INTO tables (ord, name, columns, destColumns, keyColumns, rowidKey, inserted, replaced) VALUES ($0, $1, $2, $3, $4, $5, $6, $7)",
                t.Ord, t.Shape.Name, RecoverySql.JoinNames(t.Shape.Columns), RecoverySql.JoinNames(t.DestShape.Columns), RecoverySql.JoinNames(t.Shape.Keys), t.Shape.RowidKey ? 1 : 0, t.WouldInsert, t.WouldReplace);
            long w = 0, o = 0;
            using (var cmd = c.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = t.NewRowsSelect;
                using (var r = cmd.ExecuteReader()) w += undo.CopyRows(r, "w_" + t.Ord, new[] { "action", "rid" });
                if (replace)
                {
                    cmd.CommandText = t.ReplacedNewSelect;
                    using (var r = cmd.ExecuteReader()) w += undo.CopyRows(r, "w_" + t.Ord, new[] { "action", "rid" });
                    cmd.CommandText = t.ReplacedOldSelect;
                    using (var r = cmd.ExecuteReader()) o = undo.CopyRows(r, "o_" + t.Ord, new[] { "rid" });
                }
            }
            if (!replace)
            {
                undo.Exec($"CREATE TABLE o_{t.Ord} (rid, {string.Join(", ", t.DestShape.Columns.Select((_, i) => "c" + i))})");
            }
            if (w != t.WouldInsert + t.WouldReplace || o != t.WouldReplace)
                throw new TursoBackupException(FailureKind.InvalidOperation, $"The undo data of '{t.Shape.Name}' does not match the counts ({w} rows recorded, {t.WouldInsert + t.WouldReplace} expected). Nothing was written. Run it again.", t.Shape.Name);
        }

        /// <summary>
        /// <see cref="RecordUndo"/> as INSERT … SELECT on the undo file's connection, which has the source ATTACHed as "src"
        /// and the destination as "dst" (read-only): no row passes through .NET.
        /// </summary>
        internal static void RecordUndoSetBased(UndoWriter undo, Work t, bool replace)
        {
            undo.Exec("INSERT INTO tables (ord, name, columns, destColumns, keyColumns, rowidKey, inserted, replaced) VALUES ($0, $1, $2, $3, $4, $5, $6, $7)",
                t.Ord, t.Shape.Name, RecoverySql.JoinNames(t.Shape.Columns), RecoverySql.JoinNames(t.DestShape.Columns), RecoverySql.JoinNames(t.Shape.Keys), t.Shape.RowidKey ? 1 : 0, t.WouldInsert, t.WouldReplace);
            string saved = t.D;
            t.D = "dst";
            try
            {
                undo.Exec($"CREATE TABLE w_{t.Ord} (action, rid, {string.Join(", ", t.Shape.Columns.Select((_, i) => "c" + i))})");
                undo.Exec($"CREATE TABLE o_{t.Ord} (rid, {string.Join(", ", t.DestShape.Columns.Select((_, i) => "c" + i))})");
                long w = undo.Exec($"INSERT INTO w_{t.Ord} " + t.NewRowsSelect);
                long o = 0;
                if (replace)
                {
                    w += undo.Exec($"INSERT INTO w_{t.Ord} " + t.ReplacedNewSelect);
                    o = undo.Exec($"INSERT INTO o_{t.Ord} " + t.ReplacedOldSelect);
                }
                if (w != t.WouldInsert + t.WouldReplace || o != t.WouldReplace)
                    throw new TursoBackupException(FailureKind.InvalidOperation, $"The undo data of '{t.Shape.Name}' does not match the counts ({w} rows recorded, {t.WouldInsert + t.WouldReplace} expected). Nothing was written. Run it again.", t.Shape.Name);
            }
            finally
            {
                t.D = saved;
            }
        }

        internal static IEnumerable<string> Sample(SqliteConnection c, SqliteTransaction tx, Work t, bool replace)
        {
            var list = new List<string>();
            string Tq = RecoverySql.Q(t.Shape.Name);
            string cols = (t.Shape.RowidKey ? t.RowidName + ", " : "") + string.Join(", ", t.Shape.Columns.Select(RecoverySql.Q));
            using (var cmd = c.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = t.NewRowsSelect + " LIMIT 5";
                using (var r = cmd.ExecuteReader())
                    while (r.Read())
                    {
                        var vals = new List<string>();
                        if (t.Shape.RowidKey) vals.Add(RecoverySql.Literal(r.GetValue(1)));
                        for (int i = 2; i < r.FieldCount; i++) vals.Add(RecoverySql.Literal(r.GetValue(i)));
                        list.Add($"INSERT INTO {Tq} ({cols}) VALUES ({string.Join(", ", vals)});");
                    }
                if (replace && list.Count < 5)
                {
                    cmd.CommandText = t.ReplacedNewSelect + " LIMIT " + (5 - list.Count);
                    using (var r = cmd.ExecuteReader())
                        while (r.Read())
                        {
                            var set = new List<string>();
                            var where = new List<string>();
                            for (int i = 0; i < t.Shape.Columns.Length; i++)
                            {
                                string col = t.Shape.Columns[i];
                                string lit = RecoverySql.Literal(r.GetValue(i + 2));
                                if (!t.Shape.RowidKey && t.Shape.Keys.Contains(col, StringComparer.OrdinalIgnoreCase)) where.Add($"{RecoverySql.Q(col)} IS {lit}");
                                else set.Add($"{RecoverySql.Q(col)} = {lit}");
                            }
                            if (t.Shape.RowidKey) where.Add($"{t.RowidName} = {RecoverySql.Literal(r.GetValue(1))}");
                            list.Add($"UPDATE {Tq} SET {string.Join(", ", set)} WHERE {string.Join(" AND ", where)};");
                        }
                }
            }
            return list;
        }
    }

    /// <summary>A table's columns (stored ones, generated columns left out) and key.</summary>
    internal sealed class TableShape
    {
        public string Name;
        public string[] Columns;
        /// <summary>The PRIMARY KEY columns in key order (empty for a rowid-keyed table).</summary>
        public string[] Keys;
        /// <summary>No PRIMARY KEY: rows are matched by rowid (a copy, backup or branch keeps rowids; VACUUM may renumber a table without an INTEGER PRIMARY KEY).</summary>
        public bool RowidKey;
        public bool WithoutRowid;
        /// <summary>The rowid is a column of its own (rowid table whose key is not an INTEGER PRIMARY KEY): copies must carry it.</summary>
        public bool HasHiddenRowid;
        public string Sql;
    }

    /// <summary>The SQL plumbing shared by row and table recovery and undo.</summary>
    internal static class RecoverySql
    {
        public static string Q(string name) => SqliteFile.QuoteIdentifier(name);

        public static string DatabaseName(string path) => Path.GetFileNameWithoutExtension(path);

        public static string JoinNames(IEnumerable<string> names) => Engine.IO.Json.WriteCompact(names.Cast<object>().ToList());

        public static string[] SplitNames(string json) => ((List<object>)Engine.IO.Json.Parse(json)).Select(x => (string)x).ToArray();

        public static void Bind(SqliteParameter p, object v)
        {
            switch (v)
            {
                case null:
                case DBNull _: p.SqliteType = SqliteType.Text; p.Value = DBNull.Value; break;
                case long _: p.SqliteType = SqliteType.Integer; p.Value = v; break;
                case double _: p.SqliteType = SqliteType.Real; p.Value = v; break;
                case byte[] _: p.SqliteType = SqliteType.Blob; p.Value = v; break;
                default: p.SqliteType = SqliteType.Text; p.Value = Convert.ToString(v, CultureInfo.InvariantCulture); break;
            }
        }

        public static int Exec(SqliteConnection c, SqliteTransaction tx, string sql, params object[] args)
        {
            using (var cmd = c.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = sql;
                for (int i = 0; i < args.Length; i++) cmd.Parameters.AddWithValue("$" + i, args[i] ?? DBNull.Value);
                return cmd.ExecuteNonQuery();
            }
        }

        public static object Scalar(SqliteConnection c, SqliteTransaction tx, string sql, params object[] args)
        {
            using (var cmd = c.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = sql;
                for (int i = 0; i < args.Length; i++) cmd.Parameters.AddWithValue("$" + i, args[i] ?? DBNull.Value);
                return cmd.ExecuteScalar();
            }
        }

        /// <summary>A file: URI of <paramref name="path"/> (what SQLite needs to take ?mode=ro).</summary>
        public static string FileUri(string path)
        {
            string full = Path.GetFullPath(path).Replace('\\', '/');
            if (!full.StartsWith("/", StringComparison.Ordinal)) full = "/" + full;
            var sb = new StringBuilder("file://");
            foreach (char ch in full)
            {
                if (ch == '%' || ch == '?' || ch == '#' || ch == ' ' || ch == ';' || ch == '"' || ch == '\'') sb.Append('%').Append(((int)ch).ToString("X2"));
                else sb.Append(ch);
            }
            return sb.ToString();
        }

        /// <summary>
        /// Opens the destination through a file: URI so that the connection takes URI file names (ATTACH … ?mode=ro);
        /// busy timeout as <see cref="SqliteFile"/> sets it.
        /// </summary>
        public static SqliteConnection OpenDestination(string path, bool readOnly, TimeSpan timeout)
        {
            NativeSqlite.EnsureInitialized();
            var connection = new SqliteConnection("Data Source=\"" + FileUri(path) + "\";Mode=" + (readOnly ? "ReadOnly" : "ReadWrite") + ";Pooling=False;Default Timeout=" + Math.Max(1, (int)timeout.TotalSeconds));
            connection.Open();
            Exec(connection, null, "PRAGMA busy_timeout = " + (int)timeout.TotalMilliseconds);
            return connection;
        }

        /// <summary>ATTACHes <paramref name="path"/> as <paramref name="schema"/> (read-only: a mode=ro URI, so it is never written).</summary>
        public static void Attach(SqliteConnection c, string path, string schema, bool readOnly = true)
        {
            Exec(c, null, "ATTACH DATABASE $0 AS " + Q(schema), FileUri(path) + (readOnly ? "?mode=ro" : ""));
        }

        public static void Detach(SqliteConnection c, string schema)
        {
            try { Exec(c, null, "DETACH DATABASE " + Q(schema)); } catch (SqliteException) { } catch (InvalidOperationException) { }
        }

        /// <summary>BEGIN IMMEDIATE on the destination; another writer holding it past <paramref name="timeout"/> is a clear Busy error.</summary>
        public static SqliteTransaction BeginImmediate(SqliteConnection c, string dest, TimeSpan timeout)
        {
            try
            {
                return c.BeginTransaction(deferred: false);
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 5 || ex.SqliteErrorCode == 6)
            {
                throw new TursoBackupException(FailureKind.Busy,
                    $"The destination '{dest}' is locked by another writer and stayed locked for {timeout.TotalSeconds:0.#} s. Nothing was written. Run it again when the writer is done, or give a longer -LockTimeout.", dest, ex) { ErrorId = "DestinationLocked" };
            }
        }

        public static void Commit(SqliteConnection c, SqliteTransaction tx, string dest)
        {
            try
            {
                tx.Commit();
            }
            catch (SqliteException ex) when (ex.SqliteExtendedErrorCode == 787 /* SQLITE_CONSTRAINT_FOREIGNKEY */ || (ex.SqliteErrorCode == 19 && ex.Message.IndexOf("FOREIGN KEY", StringComparison.OrdinalIgnoreCase) >= 0))
            {
                try { tx.Rollback(); } catch (SqliteException) { } catch (InvalidOperationException) { }
                throw new TursoBackupException(FailureKind.InvalidData,
                    $"The recovered rows break a foreign key in '{dest}' (a row references a row that is not there). Rolled back, nothing was written. Recover the referenced (parent) table's rows too, in the same -Table list.", dest, ex) { ErrorId = "ForeignKeyViolation" };
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 5 || ex.SqliteErrorCode == 6)
            {
                try { tx.Rollback(); } catch (SqliteException) { } catch (InvalidOperationException) { }
                throw new TursoBackupException(FailureKind.Busy, $"The destination '{dest}' could not be committed: it is in use by readers that did not let go. Nothing was written. Run it again.", dest, ex) { ErrorId = "DestinationLocked" };
            }
        }

        public static TursoBackupException Wrap(SqliteException ex, string dest) =>
            new TursoBackupException(FailureKind.WriteFailed, $"SQLite failed on '{dest}': {ex.Message} Nothing was written.", dest, ex) { ErrorId = "RecoveryFailed" };

        /// <summary>The actual name of table <paramref name="name"/> (case-insensitive) in <paramref name="schema"/>, or null.</summary>
        public static string ActualName(SqliteConnection c, SqliteTransaction tx, string schema, string name, string type = "table")
        {
            var v = Scalar(c, tx, $"SELECT name FROM {Q(schema)}.sqlite_master WHERE type = $0 AND name = $1 COLLATE NOCASE", type, name);
            return v as string;
        }

        public static bool TableExists(SqliteConnection c, SqliteTransaction tx, string schema, string name) => ActualName(c, tx, schema, name) != null;

        public static TableShape Shape(SqliteConnection c, SqliteTransaction tx, string schema, string name)
        {
            string actual = ActualName(c, tx, schema, name) ?? name;
            string sql = Scalar(c, tx, $"SELECT sql FROM {Q(schema)}.sqlite_master WHERE type = 'table' AND name = $0", actual) as string ?? "";
            if (actual.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase) || sql.TrimStart().StartsWith("CREATE VIRTUAL", StringComparison.OrdinalIgnoreCase))
                throw new TursoBackupException(FailureKind.InvalidArgument, $"'{actual}' is an internal or virtual table; its rows cannot be recovered this way.", actual) { ErrorId = "UnsupportedTable" };
            var cols = new List<string>();
            var keys = new List<(int Pk, string Name, string Type)>();
            using (var cmd = c.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = $"SELECT name, type, pk, hidden FROM pragma_table_xinfo($0, $1) ORDER BY cid";
                cmd.Parameters.AddWithValue("$0", actual);
                cmd.Parameters.AddWithValue("$1", schema);
                using (var r = cmd.ExecuteReader())
                    while (r.Read())
                    {
                        if (r.GetInt64(3) != 0) continue; // generated or hidden columns are computed, never written
                        cols.Add(r.GetString(0));
                        if (r.GetInt64(2) > 0) keys.Add(((int)r.GetInt64(2), r.GetString(0), r.IsDBNull(1) ? "" : r.GetString(1)));
                    }
            }
            bool withoutRowid = Scalar(c, tx, $"SELECT 1 FROM pragma_index_list($0, $1) WHERE origin = 'pk' AND name LIKE 'sqlite_autoindex%'", actual, schema) != null
                && IsWithoutRowid(c, tx, schema, actual);
            var orderedKeys = keys.OrderBy(k => k.Pk).ToList();
            bool ipk = !withoutRowid && orderedKeys.Count == 1 && string.Equals(orderedKeys[0].Type.Trim(), "INTEGER", StringComparison.OrdinalIgnoreCase);
            return new TableShape
            {
                Name = actual, Columns = cols.ToArray(), Keys = orderedKeys.Select(k => k.Name).ToArray(), RowidKey = orderedKeys.Count == 0,
                WithoutRowid = withoutRowid, HasHiddenRowid = !withoutRowid && !ipk, Sql = sql,
            };
        }

        private static bool IsWithoutRowid(SqliteConnection c, SqliteTransaction tx, string schema, string table)
        {
            try
            {
                Scalar(c, tx, $"SELECT rowid FROM {Q(schema)}.{Q(table)} LIMIT 0");
                return false;
            }
            catch (SqliteException)
            {
                return true;
            }
        }

        /// <summary>A name for the rowid that no column of the table shadows (rowid, _rowid_ or oid).</summary>
        public static string RowidName(SqliteConnection c, SqliteTransaction tx, string schema, string table)
        {
            var shape = Shape(c, tx, schema, table);
            foreach (var n in new[] { "rowid", "_rowid_", "oid" })
                if (!shape.Columns.Contains(n, StringComparer.OrdinalIgnoreCase)) return n;
            throw new TursoBackupException(FailureKind.InvalidArgument, $"Table '{table}' has columns named rowid, _rowid_ and oid, so its rowid cannot be addressed. Give it a PRIMARY KEY.", table) { ErrorId = "UnsupportedTable" };
        }

        /// <summary>Orders <paramref name="tables"/> parents first by the foreign keys among them (self-references ignored); a cycle is an error.</summary>
        public static List<string> ParentsFirst(SqliteConnection c, SqliteTransaction tx, string schema, List<string> tables)
        {
            var parents = new Dictionary<string, HashSet<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var t in tables)
            {
                var set = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                using (var cmd = c.CreateCommand())
                {
                    cmd.Transaction = tx;
                    cmd.CommandText = "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list($0, $1)";
                    cmd.Parameters.AddWithValue("$0", t);
                    cmd.Parameters.AddWithValue("$1", schema);
                    using (var r = cmd.ExecuteReader())
                        while (r.Read())
                        {
                            string p = r.GetString(0);
                            if (!string.Equals(p, t, StringComparison.OrdinalIgnoreCase) && tables.Contains(p, StringComparer.OrdinalIgnoreCase)) set.Add(p);
                        }
                }
                parents[t] = set;
            }
            var order = new List<string>();
            var done = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            while (order.Count < tables.Count)
            {
                var ready = tables.Where(t => !done.Contains(t) && parents[t].All(done.Contains)).ToList();
                if (ready.Count == 0)
                {
                    var cycle = tables.Where(t => !done.Contains(t));
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"The tables {string.Join(", ", cycle.Select(x => "'" + x + "'"))} reference each other through foreign keys in a cycle, so no order writes parents first. Recover them in separate runs, or with Restore-TursoTable. Nothing was written.", string.Join(",", cycle)) { ErrorId = "ForeignKeyCycle" };
                }
                foreach (var t in ready) { order.Add(t); done.Add(t); }
            }
            return order;
        }

        /// <summary>A SQL literal of a value read from SQLite.</summary>
        public static string Literal(object v)
        {
            switch (v)
            {
                case null:
                case DBNull _: return "NULL";
                case long l: return l.ToString(CultureInfo.InvariantCulture);
                case double d:
                    {
                        if (double.IsNaN(d)) return "NULL";
                        if (double.IsPositiveInfinity(d)) return "9e999";
                        if (double.IsNegativeInfinity(d)) return "-9e999";
                        string s = d.ToString("R", CultureInfo.InvariantCulture);
                        return s.IndexOfAny(new[] { '.', 'E', 'e' }) >= 0 ? s : s + ".0";
                    }
                case byte[] b: return "X'" + Hex.Of(b).ToUpperInvariant() + "'";
                default: return "'" + Convert.ToString(v, CultureInfo.InvariantCulture).Replace("'", "''") + "'";
            }
        }

        /// <summary>SHA-256 of a table's content (every stored column, and the rowid where it is its own), rows in key order; streamed.</summary>
        public static string ContentHash(SqliteConnection c, SqliteTransaction tx, string schema, TableShape shape)
        {
            string rn = shape.HasHiddenRowid ? RowidName(c, tx, schema, shape.Name) : null;
            string order = shape.WithoutRowid ? string.Join(", ", shape.Keys.Select(Q)) : (rn ?? "rowid");
            if (order.Length == 0) order = "1";
            using (var sha = SHA256.Create())
            using (var cmd = c.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = $"SELECT {(rn != null ? rn + ", " : "")}{string.Join(", ", shape.Columns.Select(Q))} FROM {Q(schema)}.{Q(shape.Name)} ORDER BY {order}";
                using (var r = cmd.ExecuteReader())
                {
                    var sep = new byte[] { 0x1f };
                    while (r.Read())
                    {
                        for (int i = 0; i < r.FieldCount; i++)
                        {
                            object v = r.GetValue(i);
                            byte[] bytes = v is byte[] b ? b : Encoding.UTF8.GetBytes((v is DBNull ? "N" : v is long ? "I" : v is double ? "R" : "T") + Literal(v));
                            sha.TransformBlock(bytes, 0, bytes.Length, null, 0);
                            sha.TransformBlock(sep, 0, 1, null, 0);
                        }
                        sha.TransformBlock(new byte[] { 0x1e }, 0, 1, null, 0);
                    }
                }
                sha.TransformFinalBlock(new byte[0], 0, 0);
                return Hex.Of(sha.Hash);
            }
        }

        /// <summary>
        /// PRAGMA foreign_key_check limited to <paramref name="table"/>'s own foreign keys and the tables that reference it;
        /// a violation throws (the caller rolls back).
        /// </summary>
        public static void ForeignKeyCheck(SqliteConnection c, SqliteTransaction tx, string table, string dest)
        {
            var tables = new List<string>();
            if (TableExists(c, tx, "main", table)) tables.Add(table); // an undo may have dropped it: then only its children count
            using (var cmd = c.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = "SELECT m.name FROM main.sqlite_master AS m WHERE m.type = 'table' AND EXISTS (SELECT 1 FROM pragma_foreign_key_list(m.name, 'main') AS f WHERE f.\"table\" = $0 COLLATE NOCASE)";
                cmd.Parameters.AddWithValue("$0", table);
                using (var r = cmd.ExecuteReader()) while (r.Read()) if (!tables.Contains(r.GetString(0), StringComparer.OrdinalIgnoreCase)) tables.Add(r.GetString(0));
            }
            foreach (var t in tables)
            {
                using (var cmd = c.CreateCommand())
                {
                    cmd.Transaction = tx;
                    cmd.CommandText = $"PRAGMA main.foreign_key_check({Q(t)})";
                    using (var r = cmd.ExecuteReader())
                        while (r.Read())
                        {
                            string child = r.GetString(0), parent = r.GetString(2);
                            if (!string.Equals(child, table, StringComparison.OrdinalIgnoreCase) && !string.Equals(parent, table, StringComparison.OrdinalIgnoreCase)) continue;
                            string rowid = r.IsDBNull(1) ? "" : $" (rowid {r.GetValue(1)})";
                            throw new TursoBackupException(FailureKind.InvalidData,
                                $"Foreign key check failed: a row of '{child}'{rowid} references a row of '{parent}' that is not there. Rolled back, nothing was written. Recover the parent rows first (Restore-TursoRow), or fix the reference.", dest) { ErrorId = "ForeignKeyViolation" };
                        }
                }
            }
        }
    }
}
