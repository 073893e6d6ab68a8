using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Remote;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Recovery
{
    /// <summary>
    /// Row recovery into a REMOTE libSQL database (Turso Cloud, sqld, tursodb) over Hrana. The destination's rows that
    /// the source's matching rows would meet (by key) are read into a local scratch "shadow" with the destination's own
    /// table definitions; the local planner (<see cref="RowRecovery"/>: conflicts, undo data, foreign keys) runs on it;
    /// the undo data is made durable in the vault; then the writes go to the server in batches of parameterised
    /// statements. Each replaced row is guarded (its old values in the WHERE, and a step that fails unless exactly one
    /// row changed), so a row another client changed meanwhile is never overwritten.
    /// A server that keeps streams (a baton: Turso Cloud, sqld) gets ONE transaction (BEGIN IMMEDIATE before the first
    /// read, COMMIT after the last batch). A server without streams (tursodb 0.7.0) gets one transaction per batch; if a
    /// later batch fails, the batches already committed are put back from the undo data (only rows still as written), so
    /// the recovery is all or nothing there too.
    /// </summary>
    public static class RemoteRowRecovery
    {
        /// <summary>Most statements in one request.</summary>
        public static int StatementsPerBatch { get; set; } = 400;

        /// <summary>Most rows in one INSERT statement (fewer when the table is wide: at most 900 values).</summary>
        public static int RowsPerInsert { get; set; } = 100;

        /// <summary>Most keys looked up in one request while reading the destination.</summary>
        public static int KeysPerLookup { get; set; } = 1000;

        /// <summary>Test hook: throw after this many write batches were sent (a failure in the middle of the recovery).</summary>
        internal static int? FailAfterBatches;

        /// <summary>Test hook: runs after the undo data is durable and before the first write is sent (another client's change in between).</summary>
        internal static Action BeforeWrites;

        /// <summary>The error SQLite raises in a guard step: abs() of the smallest integer overflows.</summary>
        private const string GuardOne = "SELECT CASE WHEN changes() = 1 THEN 0 ELSE abs(-9223372036854775808) END";

        /// <summary>A name for the journal: the database of a libsql://name-org.turso.io URL, else host:port.</summary>
        public static string DatabaseName(string url)
        {
            try
            {
                var u = new Uri(LibsqlUrl.Normalize(url));
                string host = u.Host;
                if (host.EndsWith(".turso.io", StringComparison.OrdinalIgnoreCase)) return host.Substring(0, host.IndexOf('.'));
                return u.IsDefaultPort ? host : host + ":" + u.Port.ToString(CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is UriFormatException || ex is TursoBackupException)
            {
                return url;
            }
        }

        /// <summary>Restores into the libSQL database at <paramref name="url"/> (libsql://, https://, http://).</summary>
        public static IList<RowRecoveryResult> Restore(RowRecoveryRequest request, string url, string authToken)
        {
            using (var client = new HranaClient(url, authToken)) return Restore(request, client);
        }

        /// <summary>-WhatIf for the libSQL database at <paramref name="url"/>.</summary>
        public static IList<RowRecoveryPlan> Plan(RowRecoveryRequest request, string url, string authToken)
        {
            using (var client = new HranaClient(url, authToken)) return Plan(request, client);
        }

        public static IList<RowRecoveryResult> Restore(RowRecoveryRequest request, HranaClient destination)
        {
            if (request == null) throw new ArgumentNullException(nameof(request));
            if (destination == null) throw new ArgumentNullException(nameof(destination));
            var sw = Stopwatch.StartNew();
            string url = destination.Url;
            request.DestinationPath = url;
            try
            {
                RowRecovery.Check(request, requireVault: true, remoteDestination: true);
            }
            catch (TursoBackupException ex) when (!string.IsNullOrWhiteSpace(request.VaultPath) && ex.ErrorId != "PathRequired")
            {
                RecoveryUndo.TryJournal(request.VaultPath, new RecoveryLogEntry
                {
                    Action = "RowRecovery", Database = DatabaseName(url), Target = url, Source = Path.GetFullPath(request.SourcePath),
                    Tables = request.Tables, Reason = request.Reason, Rows = 0, Result = "Failed: " + ex.Message,
                }, request.Log);
                throw;
            }
            string source = Path.GetFullPath(request.SourcePath);
            string id = RecoveryJournal.NewId();
            var entry = new RecoveryLogEntry
            {
                Id = id, Action = "RowRecovery", Database = DatabaseName(url), Target = url, Source = source, Tables = request.Tables, Reason = request.Reason,
            };
            var results = new List<RowRecoveryResult>();
            List<RowRecovery.Work> works = null;
            try
            {
                using (var stream = destination.OpenStream())
                {
                    stream.Execute("SELECT 1");
                    bool oneTransaction = stream.IsServerStream;
                    bool open = false;
                    if (oneTransaction)
                    {
                        Begin(stream, url, request.LockTimeout);
                        open = true;
                        request.Log?.Invoke($"The server at {url} keeps streams: the recovery is one transaction (BEGIN IMMEDIATE … COMMIT).");
                    }
                    else
                    {
                        request.Log?.Invoke($"The server at {url} keeps no streams: each batch of at most {StatementsPerBatch} statements is its own transaction; a failure puts back what earlier batches wrote.");
                    }
                    try
                    {
                        UndoWriter undo = null;
                        string undoPath;
                        using (var shadow = new Shadow(stream, source, request))
                        {
                            try
                            {
                                var c = shadow.Connection;
                                using (var tx = c.BeginTransaction())
                                {
                                    works = RowRecovery.Prepare(c, tx, request, url, "dst", ws => { foreach (var w in ws) shadow.Fill(tx, w); });
                                    if (request.ConflictAction == ConflictAction.Abort)
                                        foreach (var t in works)
                                        {
                                            string first = RowRecovery.FirstConflict(c, tx, t);
                                            if (first != null)
                                                throw new TursoBackupException(FailureKind.InvalidOperation,
                                                    $"Row recovery aborted: the row of '{t.Shape.Name}' with {first} is in the destination with other values (ConflictAction Abort). Nothing was written. Use -ConflictAction Replace to overwrite such rows or Ignore to keep them, or narrow -Where.", url) { ErrorId = "RowConflict" };
                                        }
                                    undo = new UndoWriter(request.VaultPath, id, "rows", url, source);
                                    undo.SetMeta("remote", "1");
                                    int ord = 0;
                                    foreach (var t in works)
                                    {
                                        t.Ord = ord++;
                                        RowRecovery.RecordUndo(c, tx, undo, t, request.ConflictAction == ConflictAction.Replace);
                                    }
                                    // The writes on the shadow prove the foreign keys before anything is sent.
                                    foreach (var t in works)
                                    {
                                        RecoverySql.Exec(c, tx, t.InsertSql());
                                        if (request.ConflictAction == ConflictAction.Replace) RecoverySql.Exec(c, tx, t.UpdateSql());
                                    }
                                    shadow.CheckForeignKeys(tx, works);
                                    tx.Rollback();
                                }
                                undo.Publish();
                                undoPath = undo.FinalPath;
                            }
                            catch
                            {
                                undo?.Dispose();
                                throw;
                            }
                        }
                        undo.Dispose();
                        int committed = 0;
                        try
                        {
                            BeforeWrites?.Invoke();
                            foreach (var batch in Writes(undoPath, works, request.ConflictAction == ConflictAction.Replace))
                            {
                                if (FailAfterBatches.HasValue && committed >= FailAfterBatches.Value)
                                    throw new TursoBackupException(FailureKind.WriteFailed, "Injected failure (test hook).", url) { ErrorId = "InjectedFailure" };
                                Send(stream, batch, oneTransaction, url);
                                committed++;
                                request.Log?.Invoke($"Sent batch {committed} ({batch.Statements.Count} statements) to {url}.");
                            }
                            if (oneTransaction)
                            {
                                Commit(stream, url);
                                open = false;
                            }
                        }
                        catch (Exception ex) when (!(ex is OutOfMemoryException))
                        {
                            if (oneTransaction)
                            {
                                TryRollback(stream);
                                open = false;
                                Withdraw(undoPath);
                                throw;
                            }
                            if (committed == 0)
                            {
                                Withdraw(undoPath);
                                throw;
                            }
                            // Batches already committed: put them back from the undo data (only rows still as written).
                            try
                            {
                                ApplyUndo(destination, undoPath, UndoMode.Compensate, null, request.Log);
                                Withdraw(undoPath);
                            }
                            catch (Exception cex) when (!(cex is OutOfMemoryException))
                            {
                                throw new TursoBackupException(FailureKind.WriteFailed,
                                    $"Row recovery into {url} failed after {committed} batch(es) had been written ({ex.Message}), and putting them back failed too ({cex.Message}). The destination holds part of the recovery: run Undo-TursoRecovery -Id {id} -Force to take it out, or run the recovery again.", url, ex) { ErrorId = "PartialRecovery" };
                            }
                            throw new TursoBackupException(ex is TursoBackupException tex ? tex.Kind : FailureKind.WriteFailed,
                                $"{ex.Message} The {committed} batch(es) already written were put back: nothing of the recovery is left in {url}.", url, ex)
                            { ErrorId = ex is TursoBackupException t2 && t2.ErrorId != null ? t2.ErrorId : "RecoveryFailed" };
                        }
                    }
                    finally
                    {
                        if (open) TryRollback(stream);
                    }
                }
                long written = 0;
                foreach (var t in works)
                {
                    long inserted = t.WouldInsert, replaced = request.ConflictAction == ConflictAction.Replace ? t.Differing : 0;
                    written += inserted + replaced;
                    results.Add(new RowRecoveryResult
                    {
                        Id = id, Table = t.Shape.Name, Matched = t.Matched, Inserted = inserted, Replaced = replaced,
                        Skipped = t.Matched - inserted - replaced, Source = source, Destination = url,
                    });
                }
                entry.Rows = written;
                entry.UndoId = id;
                entry.Result = "Succeeded";
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                var wrapped = RecoveryUndo.JournalFailure(request.VaultPath, entry, ex, url, request.Log);
                if (wrapped != null) throw wrapped;
                throw;
            }
            RecoveryJournal.Append(request.VaultPath, entry);
            foreach (var r in results) { r.Duration = sw.Elapsed; r.UndoAvailable = true; }
            request.Log?.Invoke($"Row recovery {id} into {url}: " + string.Join("; ", results.Select(r => $"{r.Table} matched {r.Matched}, inserted {r.Inserted}, replaced {r.Replaced}, skipped {r.Skipped}")));
            return results;
        }

        /// <summary>-WhatIf: what <see cref="Restore"/> would do per table, from a read of the destination. Nothing is written.</summary>
        public static IList<RowRecoveryPlan> Plan(RowRecoveryRequest request, HranaClient destination)
        {
            if (request == null) throw new ArgumentNullException(nameof(request));
            string url = destination.Url;
            request.DestinationPath = url;
            RowRecovery.Check(request, requireVault: false, remoteDestination: true);
            using (var stream = destination.OpenStream())
            using (var shadow = new Shadow(stream, Path.GetFullPath(request.SourcePath), request))
            using (var tx = shadow.Connection.BeginTransaction())
            {
                var works = RowRecovery.Prepare(shadow.Connection, tx, request, url, "dst", ws => { foreach (var w in ws) shadow.Fill(tx, w); });
                return RowRecovery.PlansOf(shadow.Connection, tx, works, request);
            }
        }

        // ---- the remote transaction ------------------------------------------------------------------------------

        private static void Begin(HranaStream stream, string url, TimeSpan timeout)
        {
            var until = DateTime.UtcNow + timeout;
            while (true)
            {
                try
                {
                    stream.Execute("BEGIN IMMEDIATE");
                    return;
                }
                catch (TursoBackupException ex) when (IsBusy(ex))
                {
                    if (DateTime.UtcNow >= until) throw Locked(url, timeout, ex);
                    System.Threading.Thread.Sleep(200);
                }
            }
        }

        private static bool IsBusy(TursoBackupException ex)
        {
            string m = (ex.Data["HranaMessage"] as string ?? ex.Message).ToLowerInvariant();
            return ex.Kind == FailureKind.Busy || m.Contains("within a transaction") || m.Contains("locked") || m.Contains("busy");
        }

        private static TursoBackupException Locked(string url, TimeSpan timeout, Exception inner) =>
            new TursoBackupException(FailureKind.Busy,
                $"The destination {url} is locked by another writer's transaction and stayed locked for {timeout.TotalSeconds:0.#} s. Nothing was written. Run it again when the writer is done, or give a longer -LockTimeout.", url, inner) { ErrorId = "DestinationLocked" };

        private static void Commit(HranaStream stream, string url)
        {
            try
            {
                stream.Execute("COMMIT");
            }
            catch (TursoBackupException ex)
            {
                TryRollback(stream);
                throw new TursoBackupException(FailureKind.WriteFailed, $"The destination {url} refused to commit the recovery ({ex.Message}). Rolled back, nothing was written. Run it again.", url, ex) { ErrorId = "RecoveryFailed" };
            }
        }

        private static void TryRollback(HranaStream stream)
        {
            try { stream.Execute("ROLLBACK"); }
            catch (Exception ex) when (ex is TursoBackupException || ex is IOException || ex is System.Net.Http.HttpRequestException) { }
        }

        private static void Withdraw(string undoPath)
        {
            DurableFile.TryDelete(undoPath);
            DurableFile.FlushDirectory(Path.GetDirectoryName(undoPath));
        }

        /// <summary>Statements for the server, with what each stands for (for error messages).</summary>
        internal sealed class WriteBatch
        {
            public readonly List<HranaStatement> Statements = new List<HranaStatement>();
            public readonly List<string> What = new List<string>();
            public long Chars;
        }

        private static void Send(HranaStream stream, WriteBatch batch, bool insideTransaction, string url)
        {
            try
            {
                if (insideTransaction) stream.Batch(batch.Statements);
                else stream.TransactionBatch(batch.Statements);
            }
            catch (TursoBackupException ex)
            {
                int step = ex.Data["HranaStep"] is int s ? s : -2;
                string msg = ex.Data["HranaMessage"] as string ?? ex.Message;
                if (step == -1 && IsBusy(ex))
                    throw Locked(url, TimeSpan.Zero, ex);
                if (step >= 0 && step < batch.What.Count)
                {
                    string what = batch.What[step];
                    if (msg.IndexOf("integer overflow", StringComparison.OrdinalIgnoreCase) >= 0)
                        throw new TursoBackupException(FailureKind.InvalidOperation,
                            $"The destination changed during the recovery: {what} is no longer as it was read (another client changed or deleted it), so it was not overwritten. Rolled back. Run the recovery again.", url, ex) { ErrorId = "DestinationChangedDuringRecovery" };
                    throw new TursoBackupException(ex.Kind, $"The destination {url} refused {what}: {msg}. Rolled back.", url, ex) { ErrorId = "RecoveryFailed" };
                }
                throw;
            }
        }

        // ---- statements from the undo data -----------------------------------------------------------------------

        private static object Val(SqliteDataReader r, int i)
        {
            object v = r.GetValue(i);
            return v is DBNull ? null : v;
        }

        /// <summary>The rows of <paramref name="r"/> (DBNull as null), in chunks of at most <paramref name="size"/>, read as they are needed.</summary>
        private static IEnumerable<List<object[]>> Chunks(SqliteDataReader r, int size)
        {
            var chunk = new List<object[]>();
            while (r.Read())
            {
                var row = new object[r.FieldCount];
                for (int i = 0; i < row.Length; i++) row[i] = Val(r, i);
                chunk.Add(row);
                if (chunk.Count == size) { yield return chunk; chunk = new List<object[]>(); }
            }
            if (chunk.Count > 0) yield return chunk;
        }

        private static string KeyText(RecoveryUndo.UndoTableInfo t, object[] keys) =>
            t.RowidKey ? "rowid=" + RecoverySql.Literal(keys[0]) : string.Join(", ", t.Keys.Select((k, i) => k + "=" + RecoverySql.Literal(keys[i])));

        /// <summary>The writes of a recovery, in batches: per table (parents first) the inserted rows, multi-row, then the replaced rows, each guarded by its old values.</summary>
        private static IEnumerable<WriteBatch> Writes(string undoPath, List<RowRecovery.Work> works, bool replace)
        {
            var batch = new WriteBatch();
            using (var u = SqliteFile.OpenImmutable(undoPath))
            {
                foreach (var t in RecoveryUndo.ReadTables(u))
                {
                    var w = works.First(x => x.Ord == t.Ord);
                    t.RowidName = w.RowidName ?? "rowid";
                    string T = RecoverySql.Q(t.Name);
                    string insCols = (t.RowidKey ? t.RowidName + ", " : "") + string.Join(", ", t.Columns.Select(RecoverySql.Q));
                    int width = t.Columns.Length + (t.RowidKey ? 1 : 0);
                    int perInsert = Math.Max(1, Math.Min(RowsPerInsert, 900 / Math.Max(1, width)));
                    using (var cmd = u.CreateCommand())
                    {
                        cmd.CommandText = $"SELECT rid, {string.Join(", ", t.Columns.Select((_, i) => "c" + i))} FROM w_{t.Ord} WHERE action = 'insert' ORDER BY rowid";
                        using (var r = cmd.ExecuteReader())
                            foreach (var rows in Chunks(r, perInsert))
                            {
                                var args = new List<object>();
                                foreach (var row in rows)
                                {
                                    if (t.RowidKey) args.Add(row[0]);
                                    for (int i = 0; i < t.Columns.Length; i++) args.Add(row[i + 1]);
                                }
                                var first = rows[0];
                                object[] firstKey = t.RowidKey ? new[] { first[0] } : t.Keys.Select(k => first[1 + t.ColIndex(k)]).ToArray();
                                string one = "(" + string.Join(", ", Enumerable.Repeat("?", width)) + ")";
                                string sql = $"INSERT INTO {T} ({insCols}) VALUES {string.Join(", ", Enumerable.Repeat(one, rows.Count))}";
                                Add(ref batch, new HranaStatement(sql, args.ToArray()) { WantRows = false }, $"the insert of {rows.Count} row(s) of '{t.Name}' from {KeyText(t, firstKey)}", args);
                                if (batch.Statements.Count >= StatementsPerBatch || batch.Chars > (1 << 20)) { yield return batch; batch = new WriteBatch(); }
                            }
                    }
                    if (!replace) continue;
                    using (var cmd = u.CreateCommand())
                    {
                        string join = t.RowidKey ? "w.rid IS o.rid" : string.Join(" AND ", t.Keys.Select(k => $"w.c{t.ColIndex(k)} IS o.c{t.DestIndex(k)}"));
                        cmd.CommandText = $"SELECT w.rid, {string.Join(", ", t.Columns.Select((_, i) => "w.c" + i))}, {string.Join(", ", t.DestColumns.Select((_, i) => "o.c" + i))} FROM w_{t.Ord} AS w JOIN o_{t.Ord} AS o ON {join} WHERE w.action = 'replace' ORDER BY w.rowid";
                        using (var r = cmd.ExecuteReader())
                            while (r.Read())
                            {
                                object[] key = t.RowidKey ? new[] { Val(r, 0) } : t.Keys.Select(k => Val(r, 1 + t.ColIndex(k))).ToArray();
                                var args = new List<object>();
                                var set = new List<string>();
                                for (int i = 0; i < t.Columns.Length; i++)
                                {
                                    if (!t.RowidKey && t.Keys.Contains(t.Columns[i], StringComparer.OrdinalIgnoreCase)) continue;
                                    set.Add(RecoverySql.Q(t.Columns[i]) + " = ?");
                                    args.Add(Val(r, 1 + i));
                                }
                                var where = new List<string>();
                                if (t.RowidKey) { where.Add(t.RowidName + " = ?"); args.Add(key[0]); }
                                for (int i = 0; i < t.DestColumns.Length; i++)
                                {
                                    where.Add(RecoverySql.Q(t.DestColumns[i]) + " IS ?");
                                    args.Add(Val(r, 1 + t.Columns.Length + i));
                                }
                                string what = $"the row of '{t.Name}' with {KeyText(t, key)}";
                                if (set.Count > 0)
                                {
                                    Add(ref batch, new HranaStatement($"UPDATE {T} SET {string.Join(", ", set)} WHERE {string.Join(" AND ", where)}", args.ToArray()) { WantRows = false }, what, args);
                                    Add(ref batch, new HranaStatement(GuardOne), what, null);
                                }
                                if (batch.Statements.Count >= StatementsPerBatch - 1 || batch.Chars > (1 << 20)) { yield return batch; batch = new WriteBatch(); }
                            }
                    }
                }
            }
            if (batch.Statements.Count > 0) yield return batch;
        }

        private static void Add(ref WriteBatch batch, HranaStatement statement, string what, List<object> args)
        {
            batch.Statements.Add(statement);
            batch.What.Add(what);
            batch.Chars += statement.Sql.Length + 16;
            if (args != null)
                foreach (var a in args)
                    batch.Chars += a is byte[] b ? b.Length * 4 / 3 + 32 : a is string s ? s.Length + 32 : 32;
        }

        // ---- undo ------------------------------------------------------------------------------------------------

        internal enum UndoMode
        {
            /// <summary>Every row the recovery wrote must still be as written (else nothing is undone).</summary>
            Guarded,
            /// <summary>Rows still as written are put back; others are left (the recovery's own clean-up after a failed batch).</summary>
            Compensate,
            /// <summary>By key, whatever the rows hold now; replaced rows deleted since are inserted again.</summary>
            Force,
        }

        /// <summary>Puts a remote destination back from the undo data at <paramref name="undoPath"/>. Returns the rows touched.</summary>
        internal static long ApplyUndo(HranaClient client, string undoPath, UndoMode mode, RecoveryLogEntry entry, Action<string> log, TimeSpan? lockTimeout = null)
        {
            string url = client.Url;
            using (var u = SqliteFile.OpenImmutable(undoPath))
            using (var stream = client.OpenStream())
            {
                var tables = RecoveryUndo.ReadTables(u);
                if (entry != null) entry.Tables = tables.Select(t => t.Name).ToArray();
                stream.Execute("SELECT 1");
                bool one = stream.IsServerStream;
                bool open = false;
                if (one) { Begin(stream, url, lockTimeout ?? TimeSpan.FromSeconds(30)); open = true; }
                try
                {
                    foreach (var t in tables) t.RowidName = t.RowidKey ? RemoteRowidName(stream, t.Name, url) : null;
                    if (mode == UndoMode.Guarded && !one) PreCheck(stream, u, tables, url);
                    long rows = 0;
                    foreach (var batch in UndoWrites(u, tables, mode))
                    {
                        Send(stream, batch, one, url);
                        rows += batch.Statements.Count(s => s.Sql.StartsWith("DELETE", StringComparison.Ordinal) || s.Sql.StartsWith("UPDATE", StringComparison.Ordinal));
                    }
                    if (one) { Commit(stream, url); open = false; }
                    log?.Invoke($"Put back {rows} row(s) of {string.Join(", ", tables.Select(t => t.Name))} in {url} ({mode}).");
                    return rows;
                }
                catch (TursoBackupException ex) when (ex.ErrorId == "DestinationChangedDuringRecovery")
                {
                    throw new TursoBackupException(FailureKind.InvalidOperation,
                        ex.Message.Replace("The destination changed during the recovery", "The destination changed since the recovery").Replace("Run the recovery again.", "Undoing would lose that change. Use -Force to undo anyway."), url, ex) { ErrorId = "DestinationChangedSinceRecovery" };
                }
                finally
                {
                    if (open) TryRollback(stream);
                }
            }
        }

        private static string RemoteRowidName(HranaStream stream, string table, string url)
        {
            var cols = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var r = stream.Execute("SELECT name FROM pragma_table_xinfo(?)", new object[] { table });
            if (r.Rows.Count == 0)
                throw new TursoBackupException(FailureKind.InvalidData, $"Table '{table}' is no longer in {url}: the recovery cannot be undone. Nothing was written.", url) { ErrorId = "UndoTableMissing" };
            foreach (var row in r.Rows) cols.Add(Convert.ToString(row[0], CultureInfo.InvariantCulture));
            foreach (var n in new[] { "rowid", "_rowid_", "oid" }) if (!cols.Contains(n)) return n;
            throw new TursoBackupException(FailureKind.InvalidArgument, $"Table '{table}' has columns named rowid, _rowid_ and oid, so its rowid cannot be addressed.", table) { ErrorId = "UnsupportedTable" };
        }

        /// <summary>A server without streams: every row the recovery wrote is read back and compared before anything is undone.</summary>
        private static void PreCheck(HranaStream stream, SqliteConnection u, List<RecoveryUndo.UndoTableInfo> tables, string url)
        {
            foreach (var t in tables)
            {
                string[] keyCols = t.RowidKey ? new[] { t.RowidName } : t.Keys.Select(RecoverySql.Q).ToArray();
                using (var cmd = u.CreateCommand())
                {
                    cmd.CommandText = $"SELECT rid, {string.Join(", ", t.Columns.Select((_, i) => "c" + i))} FROM w_{t.Ord} ORDER BY rowid";
                    using (var r = cmd.ExecuteReader())
                        foreach (var chunk in Chunks(r, KeysPerLookup))
                        {
                            var keys = chunk.Select(x => t.RowidKey ? new[] { x[0] } : t.Keys.Select(k => x[1 + t.ColIndex(k)]).ToArray()).ToList();
                            var sel = (t.RowidKey ? t.RowidName + ", " : "") + string.Join(", ", t.Columns.Select(RecoverySql.Q));
                            var found = Lookup(stream, t.Name, sel, keyCols, keys);
                            var byKey = new Dictionary<string, object[]>(StringComparer.Ordinal);
                            foreach (var f in found)
                            {
                                var fk = t.RowidKey ? new[] { f[0] } : t.Keys.Select(k => f[t.ColIndex(k)]).ToArray();
                                byKey[KeyOf(fk)] = f;
                            }
                            for (int j = 0; j < chunk.Count; j++)
                            {
                                bool same = byKey.TryGetValue(KeyOf(keys[j]), out var f);
                                int off = t.RowidKey ? 1 : 0;
                                for (int i = 0; same && i < t.Columns.Length; i++) same = SameValue(f[off + i], chunk[j][1 + i]);
                                if (!same)
                                    throw new TursoBackupException(FailureKind.InvalidOperation,
                                        $"The destination changed since the recovery: the row of '{t.Name}' with {KeyText(t, keys[j])} is not as the recovery wrote it (changed or deleted). Undoing would lose that change, so nothing was written. Use -Force to undo anyway.", url) { ErrorId = "DestinationChangedSinceRecovery" };
                            }
                        }
                }
            }
        }

        private static IEnumerable<WriteBatch> UndoWrites(SqliteConnection u, List<RecoveryUndo.UndoTableInfo> tables, UndoMode mode)
        {
            var batch = new WriteBatch();
            // Children first for the deletions of inserted rows.
            foreach (var t in Enumerable.Reverse(tables))
            {
                string T = RecoverySql.Q(t.Name);
                using (var cmd = u.CreateCommand())
                {
                    cmd.CommandText = $"SELECT rid, {string.Join(", ", t.Columns.Select((_, i) => "c" + i))} FROM w_{t.Ord} WHERE action = 'insert' ORDER BY rowid DESC";
                    using (var r = cmd.ExecuteReader())
                        while (r.Read())
                        {
                            object[] key = t.RowidKey ? new[] { Val(r, 0) } : t.Keys.Select(k => Val(r, 1 + t.ColIndex(k))).ToArray();
                            var args = new List<object>();
                            var where = new List<string>();
                            if (t.RowidKey) { where.Add(t.RowidName + " = ?"); args.Add(key[0]); }
                            for (int i = 0; i < t.Columns.Length; i++)
                            {
                                bool isKey = !t.RowidKey && t.Keys.Contains(t.Columns[i], StringComparer.OrdinalIgnoreCase);
                                if (mode == UndoMode.Force && !isKey) continue;
                                where.Add(RecoverySql.Q(t.Columns[i]) + (isKey ? " = ?" : " IS ?"));
                                args.Add(Val(r, 1 + i));
                            }
                            string what = $"the row of '{t.Name}' with {KeyText(t, key)}";
                            Add(ref batch, new HranaStatement($"DELETE FROM {T} WHERE {string.Join(" AND ", where)}", args.ToArray()) { WantRows = false }, what, args);
                            if (mode == UndoMode.Guarded) Add(ref batch, new HranaStatement(GuardOne), what, null);
                            if (batch.Statements.Count >= StatementsPerBatch - 1 || batch.Chars > (1 << 20)) { yield return batch; batch = new WriteBatch(); }
                        }
                }
            }
            // Parents first for the replaced rows' old values.
            foreach (var t in tables)
            {
                string T = RecoverySql.Q(t.Name);
                using (var cmd = u.CreateCommand())
                {
                    string join = t.RowidKey ? "w.rid IS o.rid" : string.Join(" AND ", t.Keys.Select(k => $"w.c{t.ColIndex(k)} IS o.c{t.DestIndex(k)}"));
                    cmd.CommandText = $"SELECT o.rid, {string.Join(", ", t.DestColumns.Select((_, i) => "o.c" + i))}, {string.Join(", ", t.Columns.Select((_, i) => "w.c" + i))} FROM o_{t.Ord} AS o JOIN w_{t.Ord} AS w ON {join} AND w.action = 'replace' ORDER BY o.rowid";
                    using (var r = cmd.ExecuteReader())
                        while (r.Read())
                        {
                            int nd = t.DestColumns.Length;
                            object[] key = t.RowidKey ? new[] { Val(r, 0) } : t.Keys.Select(k => Val(r, 1 + t.DestIndex(k))).ToArray();
                            var args = new List<object>();
                            var set = new List<string>();
                            for (int i = 0; i < nd; i++)
                            {
                                if (!t.RowidKey && t.Keys.Contains(t.DestColumns[i], StringComparer.OrdinalIgnoreCase)) continue;
                                set.Add(RecoverySql.Q(t.DestColumns[i]) + " = ?");
                                args.Add(Val(r, 1 + i));
                            }
                            var where = new List<string>();
                            if (t.RowidKey) { where.Add(t.RowidName + " = ?"); args.Add(key[0]); }
                            for (int i = 0; i < t.Columns.Length; i++)
                            {
                                bool isKey = !t.RowidKey && t.Keys.Contains(t.Columns[i], StringComparer.OrdinalIgnoreCase);
                                if (mode == UndoMode.Force && !isKey) continue;
                                where.Add(RecoverySql.Q(t.Columns[i]) + (isKey ? " = ?" : " IS ?"));
                                args.Add(Val(r, 1 + nd + i));
                            }
                            string what = $"the row of '{t.Name}' with {KeyText(t, key)}";
                            if (set.Count > 0)
                            {
                                Add(ref batch, new HranaStatement($"UPDATE {T} SET {string.Join(", ", set)} WHERE {string.Join(" AND ", where)}", args.ToArray()) { WantRows = false }, what, args);
                                if (mode == UndoMode.Guarded) Add(ref batch, new HranaStatement(GuardOne), what, null);
                            }
                            if (mode == UndoMode.Force)
                            {
                                // A replaced row deleted since: put it back whole.
                                var ins = new List<object>();
                                if (t.RowidKey) ins.Add(key[0]);
                                for (int i = 0; i < nd; i++) ins.Add(Val(r, 1 + i));
                                string cols = (t.RowidKey ? t.RowidName + ", " : "") + string.Join(", ", t.DestColumns.Select(RecoverySql.Q));
                                Add(ref batch, new HranaStatement($"INSERT OR IGNORE INTO {T} ({cols}) VALUES ({string.Join(", ", Enumerable.Repeat("?", ins.Count))})", ins.ToArray()) { WantRows = false }, what, ins);
                            }
                            if (batch.Statements.Count >= StatementsPerBatch - 2 || batch.Chars > (1 << 20)) { yield return batch; batch = new WriteBatch(); }
                        }
                }
            }
            if (batch.Statements.Count > 0) yield return batch;
        }

        // ---- reading the destination -----------------------------------------------------------------------------

        private static string KeyOf(object[] key)
        {
            var sb = new StringBuilder();
            foreach (var k in key) sb.Append(k is byte[] b ? "B" + Hex.Of(b) : k == null ? "N" : k is long l ? "I" + l.ToString(CultureInfo.InvariantCulture) : k is double d ? "R" + d.ToString("R", CultureInfo.InvariantCulture) : "T" + k).Append('\u001f');
            return sb.ToString();
        }

        private static bool SameValue(object a, object b)
        {
            if (a == null || b == null) return a == null && b == null;
            if (a is byte[] x && b is byte[] y) return x.AsSpan().SequenceEqual(y);
            if (a is long la && b is long lb) return la == lb;
            if (a is double da && b is double db) return da.Equals(db);
            if (a is string sa && b is string sb) return string.Equals(sa, sb, StringComparison.Ordinal);
            return false;
        }

        /// <summary>The rows of <paramref name="table"/> whose <paramref name="keyColumns"/> are one of <paramref name="keys"/> (rows with a NULL key part are never matched).</summary>
        private static IReadOnlyList<object[]> Lookup(HranaStream stream, string table, string selectList, string[] keyColumns, List<object[]> keys)
        {
            var args = new List<object>();
            var tuples = new List<string>();
            foreach (var k in keys)
            {
                if (k.Any(v => v == null)) continue;
                tuples.Add("(" + string.Join(", ", Enumerable.Repeat("?", k.Length)) + ")");
                args.AddRange(k);
            }
            if (tuples.Count == 0) return new object[0][];
            string cond = keyColumns.Length == 1
                ? $"{keyColumns[0]} IN ({string.Join(", ", Enumerable.Repeat("?", tuples.Count))})"
                : $"({string.Join(", ", keyColumns)}) IN (VALUES {string.Join(", ", tuples)})";
            return stream.Execute($"SELECT {selectList} FROM {RecoverySql.Q(table)} WHERE {cond}", args.ToArray()).Rows;
        }

        /// <summary>
        /// The local stand-in for the remote destination: a scratch file with the destination's definitions of the
        /// recovered tables and of the tables their foreign keys reference, holding only the rows the recovery meets.
        /// Attached as "dst" after the source ("src") on an in-memory main, so unqualified names in -Where mean the source.
        /// </summary>
        private sealed class Shadow : IDisposable
        {
            private readonly HranaStream stream;
            private readonly string folder;
            private readonly string url;
            public SqliteConnection Connection { get; }
            /// <summary>Remote name → its columns that can be written, for the tables in the shadow.</summary>
            private readonly HashSet<string> created = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

            public Shadow(HranaStream stream, string sourcePath, RowRecoveryRequest request)
            {
                this.stream = stream;
                url = stream.Client.Url;
                folder = Path.Combine(Path.GetTempPath(), "tursobackup-shadow-" + Guid.NewGuid().ToString("N").Substring(0, 12));
                OwnerOnly.CreateDirectory(folder);
                string path = Path.Combine(folder, "destination.db");
                try
                {
                    var definitions = new List<string>();
                    foreach (var name in request.Tables)
                    {
                        string sql = RemoteTableSql(name, out string actual);
                        if (sql == null) continue; // Prepare reports it as missing in the destination
                        if (created.Add(actual)) definitions.Add(sql);
                        foreach (var parent in RemoteParents(actual))
                        {
                            string psql = RemoteTableSql(parent, out string pactual);
                            if (psql != null && created.Add(pactual)) definitions.Add(psql);
                        }
                    }
                    NativeSqlite.EnsureInitialized();
                    using (var c = SqliteFile.OpenOrCreate(path))
                    {
                        RecoverySql.Exec(c, null, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF");
                        foreach (var sql in definitions)
                        {
                            try
                            {
                                RecoverySql.Exec(c, null, sql);
                            }
                            catch (SqliteException ex)
                            {
                                throw new TursoBackupException(FailureKind.InvalidData,
                                    $"The definition of a table in {url} cannot be read by SQLite here ({ex.Message}): \"{HranaClient.Preview(sql)}\". Nothing was written. Recover into a local copy instead.", url, ex) { ErrorId = "UnsupportedTable" };
                            }
                        }
                    }
                    Connection = new SqliteConnection("Data Source=file:tursobackup-shadow-" + Guid.NewGuid().ToString("N") + "?mode=memory;Pooling=False");
                    Connection.Open();
                    RecoverySql.Exec(Connection, null, "PRAGMA foreign_keys = OFF"); // checked by CheckForeignKeys, with a message that says what to do
                    RecoverySql.Attach(Connection, sourcePath, "src", readOnly: true);
                    RecoverySql.Attach(Connection, path, "dst", readOnly: false);
                    RecoverySql.Exec(Connection, null, "PRAGMA dst.journal_mode = OFF");
                }
                catch
                {
                    Dispose();
                    throw;
                }
            }

            private string RemoteTableSql(string name, out string actual)
            {
                actual = name;
                var r = stream.Execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND lower(name) = lower(?)", new object[] { name });
                if (r.Rows.Count == 0) return null;
                actual = Convert.ToString(r.Rows[0][0], CultureInfo.InvariantCulture);
                return r.Rows[0][1] as string;
            }

            private IEnumerable<string> RemoteParents(string table)
            {
                var r = stream.Execute("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?)", new object[] { table });
                return r.Rows.Select(x => Convert.ToString(x[0], CultureInfo.InvariantCulture)).Where(p => !string.Equals(p, table, StringComparison.OrdinalIgnoreCase)).ToList();
            }

            /// <summary>Reads into the shadow the destination's rows that have the key of one of the source's matching rows.</summary>
            public void Fill(SqliteTransaction tx, RowRecovery.Work w)
            {
                string srcKeys = w.Shape.RowidKey ? w.SrcRowidName : string.Join(", ", w.Shape.Keys.Select(RecoverySql.Q));
                string[] remoteKeys = w.Shape.RowidKey ? new[] { w.RowidName } : w.Shape.Keys.Select(RecoverySql.Q).ToArray();
                using (var cmd = Connection.CreateCommand())
                {
                    cmd.Transaction = tx;
                    cmd.CommandText = $"SELECT {srcKeys} FROM src.{RecoverySql.Q(w.Shape.Name)} WHERE ({w.Where ?? "1"})";
                    using (var r = cmd.ExecuteReader())
                        foreach (var keys in Chunks(r, KeysPerLookup))
                            Fetch(tx, w.Shape.Name, w.DestShape, w.Shape.RowidKey ? w.RowidName : null, remoteKeys, keys);
                }
            }

            /// <summary>Fetches the rows with <paramref name="keys"/> from the server into dst.<paramref name="table"/>.</summary>
            private void Fetch(SqliteTransaction tx, string table, TableShape shape, string rowidName, string[] keyColumns, List<object[]> keys)
            {
                string cols = string.Join(", ", shape.Columns.Select(RecoverySql.Q));
                string sel = (rowidName != null ? rowidName + ", " : "") + cols;
                var found = Lookup(stream, table, sel, keyColumns, keys);
                if (found.Count == 0) return;
                using (var ins = Connection.CreateCommand())
                {
                    ins.Transaction = tx;
                    int n = shape.Columns.Length + (rowidName != null ? 1 : 0);
                    ins.CommandText = $"INSERT OR IGNORE INTO dst.{RecoverySql.Q(table)} ({sel}) VALUES ({string.Join(", ", Enumerable.Range(0, n).Select(i => "$p" + i))})";
                    var ps = Enumerable.Range(0, n).Select(i => ins.Parameters.Add("$p" + i, SqliteType.Text)).ToArray();
                    foreach (var row in found)
                    {
                        for (int i = 0; i < n; i++) RecoverySql.Bind(ps[i], row[i]);
                        ins.ExecuteNonQuery();
                    }
                }
            }

            /// <summary>
            /// After the recovery's writes were made on the shadow: reads in the parent rows every recovered table's rows
            /// reference, then runs foreign_key_check on the recovered tables. A violation throws (nothing was sent yet).
            /// </summary>
            public void CheckForeignKeys(SqliteTransaction tx, List<RowRecovery.Work> works)
            {
                foreach (var w in works)
                {
                    var fks = new List<(long Id, string Parent, string From, string To)>();
                    using (var cmd = Connection.CreateCommand())
                    {
                        cmd.Transaction = tx;
                        cmd.CommandText = "SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list($0, 'dst') ORDER BY id, seq";
                        cmd.Parameters.AddWithValue("$0", w.Shape.Name);
                        using (var r = cmd.ExecuteReader())
                            while (r.Read()) fks.Add((r.GetInt64(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3)));
                    }
                    foreach (var fk in fks.GroupBy(f => f.Id))
                    {
                        string parent = fk.First().Parent;
                        string actualParent = RecoverySql.ActualName(Connection, tx, "dst", parent);
                        if (actualParent == null) continue; // foreign_key_check reports it
                        var pshape = RecoverySql.Shape(Connection, tx, "dst", actualParent);
                        string[] from = fk.Select(f => f.From).ToArray();
                        string[] to = fk.Any(f => f.To == null) ? pshape.Keys : fk.Select(f => f.To).ToArray();
                        if (to.Length == 0 || to.Length != from.Length) continue;
                        string prowid = pshape.RowidKey ? RecoverySql.RowidName(Connection, tx, "dst", actualParent) : null;
                        string[] remoteTo = to.Select(x => string.Equals(x, "rowid", StringComparison.OrdinalIgnoreCase) && pshape.RowidKey ? prowid : RecoverySql.Q(x)).ToArray();
                        List<List<object[]>> chunks;
                        using (var cmd = Connection.CreateCommand())
                        {
                            cmd.Transaction = tx;
                            string fcols = string.Join(", ", from.Select(RecoverySql.Q));
                            string pcols = string.Join(", ", to.Select(RecoverySql.Q));
                            cmd.CommandText = $"SELECT DISTINCT {fcols} FROM dst.{RecoverySql.Q(w.Shape.Name)} AS c WHERE {string.Join(" AND ", from.Select(f => RecoverySql.Q(f) + " IS NOT NULL"))} " +
                                $"AND NOT EXISTS (SELECT 1 FROM dst.{RecoverySql.Q(actualParent)} AS p WHERE {string.Join(" AND ", from.Select((f, i) => $"p.{RecoverySql.Q(to[i])} = c.{RecoverySql.Q(f)}"))})";
                            // All read before any is fetched: the fetches insert into the table this query reads.
                            using (var r = cmd.ExecuteReader()) chunks = Chunks(r, KeysPerLookup).ToList();
                        }
                        foreach (var keys in chunks) Fetch(tx, actualParent, pshape, prowid, remoteTo, keys);
                    }
                }
                foreach (var w in works)
                {
                    using (var cmd = Connection.CreateCommand())
                    {
                        cmd.Transaction = tx;
                        cmd.CommandText = $"PRAGMA dst.foreign_key_check({RecoverySql.Q(w.Shape.Name)})";
                        using (var r = cmd.ExecuteReader())
                            if (r.Read())
                            {
                                string rowid = r.IsDBNull(1) ? "" : $" (rowid {r.GetValue(1)})";
                                throw new TursoBackupException(FailureKind.InvalidData,
                                    $"The recovered rows break a foreign key in {url}: a row of '{r.GetString(0)}'{rowid} references a row of '{r.GetString(2)}' that is not there. Nothing was written. Recover the referenced (parent) table's rows too, in the same -Table list.", url) { ErrorId = "ForeignKeyViolation" };
                            }
                    }
                }
            }

            public void Dispose()
            {
                if (Connection != null)
                {
                    try { RecoverySql.Detach(Connection, "dst"); RecoverySql.Detach(Connection, "src"); } catch (InvalidOperationException) { }
                    Connection.Dispose();
                }
                try { if (Directory.Exists(folder)) Directory.Delete(folder, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
    }
}
