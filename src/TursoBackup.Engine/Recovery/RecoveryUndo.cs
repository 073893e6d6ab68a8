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
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Recovery
{
    /// <summary>
    /// Undo data of row and table recoveries: <c>&lt;vault&gt;/recovery/undo/&lt;id&gt;.db</c>, a SQLite file written through a
    /// temporary name, fsynced and renamed into place BEFORE the destination's transaction commits (a failed commit deletes
    /// it). <see cref="Undo"/> puts the destination back in one transaction and journals it as Action "Undo"; the file
    /// is then renamed <c>&lt;id&gt;.undone.db</c>, so a second undo is refused.
    /// </summary>
    public static class RecoveryUndo
    {
        public const string Folder = "undo";

        public static string PathOf(string vaultRoot, string id) => Path.Combine(Path.GetFullPath(vaultRoot), RecoveryJournal.Folder, Folder, id + ".db");

        /// <summary>
        /// Undoes the recovery <paramref name="id"/> on its destination (or <paramref name="destinationPath"/> when the file
        /// has moved): a row recovery's inserted rows are deleted and its replaced rows get their old values back; a table
        /// recovery's table is dropped and, when it had replaced one, the old table (rows, indexes, triggers) is put back.
        /// Refused, with nothing written, when the destination changed since the recovery (a row it wrote is no longer as
        /// written, the table's content differs), unless <paramref name="force"/>. A recovery into a remote libSQL database
        /// is undone over Hrana with <paramref name="remoteAuthToken"/> (<see cref="RemoteRowRecovery"/>).
        /// </summary>
        public static RecoveryLogEntry Undo(string vaultRoot, string id, string destinationPath = null, bool force = false, string reason = null,
            TimeSpan? lockTimeout = null, Action<string> log = null, string remoteAuthToken = null, System.Net.Http.HttpMessageHandler remoteHandler = null)
        {
            if (string.IsNullOrWhiteSpace(vaultRoot)) throw new TursoBackupException(FailureKind.InvalidArgument, "Give the vault whose recovery to undo (-Vault).") { ErrorId = "VaultRequired" };
            if (string.IsNullOrWhiteSpace(id) || id.IndexOfAny(new[] { '/', '\\' }) >= 0 || id.Contains(".."))
                throw new TursoBackupException(FailureKind.InvalidArgument, $"'{id}' is not a recovery id. Get-TursoRecoveryHistory lists them (Id).", id) { ErrorId = "InvalidRecoveryId" };
            var vault = Vault.BackupVault.OpenExisting(vaultRoot);
            string undoPath = PathOf(vault.Root, id);
            if (!File.Exists(undoPath))
            {
                bool undone = File.Exists(Path.Combine(Path.GetDirectoryName(undoPath), id + ".undone.db"));
                throw new TursoBackupException(FailureKind.NotFound, undone
                    ? $"Recovery '{id}' was already undone (Get-TursoRecoveryHistory shows the Undo). Nothing was written."
                    : $"There is no undo data for recovery '{id}' in vault '{vault.Root}'. Get-TursoRecoveryHistory lists the recoveries (those with an UndoId can be undone).", id)
                { ErrorId = undone ? "AlreadyUndone" : "UndoNotFound" };
            }
            var sw = Stopwatch.StartNew();
            var entry = new RecoveryLogEntry { Action = "Undo", UndoId = id, Reason = reason };
            string dest = null;
            try
            {
                Dictionary<string, string> meta;
                using (var u = SqliteFile.OpenImmutable(undoPath)) meta = ReadMeta(u);
                if (!meta.TryGetValue("format", out var format) || format != UndoFormat)
                    throw new TursoBackupException(FailureKind.InvalidData, $"'{undoPath}' is not TursoBackup undo data. Nothing was written.", undoPath) { ErrorId = "InvalidUndoData" };
                entry.Source = meta.TryGetValue("source", out var src) ? src : null;
                long rows;
                if (meta.TryGetValue("remote", out var remote) && remote == "1")
                {
                    // A row recovery into a libSQL server: undone over Hrana.
                    dest = destinationPath ?? meta["destination"];
                    entry.Target = dest;
                    entry.Database = RemoteRowRecovery.DatabaseName(dest);
                    using (var client = new Remote.HranaClient(dest, remoteAuthToken, remoteHandler))
                        rows = RemoteRowRecovery.ApplyUndo(client, undoPath, force ? RemoteRowRecovery.UndoMode.Force : RemoteRowRecovery.UndoMode.Guarded, entry, log, lockTimeout);
                }
                else
                {
                dest = Path.GetFullPath(destinationPath ?? meta["destination"]);
                entry.Target = dest;
                entry.Database = RecoverySql.DatabaseName(dest);
                SqliteFile.RequireDatabaseFile(dest);
                rows = meta["kind"] == "table"
                    ? UndoTable(undoPath, meta, dest, force, lockTimeout ?? TimeSpan.FromSeconds(30), entry)
                    : UndoRows(undoPath, dest, force, lockTimeout ?? TimeSpan.FromSeconds(30), entry);
                }
                entry.Rows = rows;
                entry.Result = "Succeeded";
                string done = Path.Combine(Path.GetDirectoryName(undoPath), id + ".undone.db");
                try { File.Move(undoPath, done); DurableFile.FlushDirectory(Path.GetDirectoryName(undoPath)); } catch (IOException) { }
                log?.Invoke($"Undid recovery {id} on {dest}: {rows} row(s) in {sw.Elapsed.TotalSeconds:0.0} s.");
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                entry.Result = "Failed: " + ex.Message;
                TryJournal(vault.Root, entry, log);
                throw;
            }
            RecoveryJournal.Append(vault.Root, entry);
            return entry;
        }

        internal const string UndoFormat = "tursobackup-undo";

        /// <summary>
        /// Journals a recovery that failed (Result "Failed: …", no rows) and returns what to throw instead of
        /// <paramref name="ex"/>: a SQLite error as a RecoveryFailed error naming <paramref name="target"/>, else null (rethrow).
        /// </summary>
        internal static Exception JournalFailure(string vaultRoot, RecoveryLogEntry entry, Exception ex, string target, Action<string> log)
        {
            entry.Result = "Failed: " + ex.Message;
            entry.Rows = 0;
            TryJournal(vaultRoot, entry, log);
            return ex is SqliteException se ? RecoverySql.Wrap(se, target) : null;
        }

        internal static void TryJournal(string vaultRoot, RecoveryLogEntry entry, Action<string> log)
        {
            try { RecoveryJournal.Append(vaultRoot, entry); }
            catch (Exception ex) when (ex is TursoBackupException || ex is IOException || ex is UnauthorizedAccessException)
            {
                log?.Invoke("The failure could not be journaled: " + ex.Message);
            }
        }

        internal static Dictionary<string, string> ReadMeta(SqliteConnection u)
        {
            var meta = new Dictionary<string, string>(StringComparer.Ordinal);
            using (var cmd = u.CreateCommand())
            {
                cmd.CommandText = "SELECT key, value FROM meta";
                using (var r = cmd.ExecuteReader())
                    while (r.Read()) meta[r.GetString(0)] = r.IsDBNull(1) ? null : Convert.ToString(r.GetValue(1), CultureInfo.InvariantCulture);
            }
            return meta;
        }

        /// <summary>One table of a row recovery's undo data (its "tables" row): the layouts of w_&lt;ord&gt; and o_&lt;ord&gt;.</summary>
        internal sealed class UndoTableInfo
        {
            public int Ord;
            public string Name;
            /// <summary>The source's columns: the layout (c0..) of the rows written (w_&lt;ord&gt;).</summary>
            public string[] Columns;
            /// <summary>The destination's columns: the layout of the replaced rows' old values (o_&lt;ord&gt;).</summary>
            public string[] DestColumns;
            public string[] Keys;
            public bool RowidKey;
            /// <summary>The destination's name for the rowid, once known (remote undo).</summary>
            public string RowidName = "rowid";

            public int ColIndex(string k) => Array.FindIndex(Columns, x => string.Equals(x, k, StringComparison.OrdinalIgnoreCase));
            public int DestIndex(string k) => Array.FindIndex(DestColumns, x => string.Equals(x, k, StringComparison.OrdinalIgnoreCase));
        }

        /// <summary>The tables of the undo data on <paramref name="c"/> (<paramref name="schema"/>: where the undo file is attached, or null for its own connection), in recovery order.</summary>
        internal static List<UndoTableInfo> ReadTables(SqliteConnection c, string schema = null)
        {
            var tables = new List<UndoTableInfo>();
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = $"SELECT ord, name, columns, destColumns, keyColumns, rowidKey FROM {(schema == null ? "" : schema + ".")}tables ORDER BY ord";
                using (var r = cmd.ExecuteReader())
                    while (r.Read())
                        tables.Add(new UndoTableInfo
                        {
                            Ord = r.GetInt32(0), Name = r.GetString(1), Columns = RecoverySql.SplitNames(r.GetString(2)),
                            DestColumns = RecoverySql.SplitNames(r.GetString(3)), Keys = RecoverySql.SplitNames(r.GetString(4)), RowidKey = r.GetInt64(5) != 0,
                        });
            }
            return tables;
        }

        private static long UndoRows(string undoPath, string dest, bool force, TimeSpan lockTimeout, RecoveryLogEntry entry)
        {
            using (var c = RecoverySql.OpenDestination(dest, false, lockTimeout))
            {
                RecoverySql.Exec(c, null, "PRAGMA foreign_keys = ON");
                RecoverySql.Attach(c, undoPath, "undo");
                var tables = ReadTables(c, "undo");
                entry.Tables = tables.Select(t => t.Name).ToArray();
                var tx = RecoverySql.BeginImmediate(c, dest, lockTimeout);
                try
                {
                    RecoverySql.Exec(c, tx, "PRAGMA defer_foreign_keys = ON");
                    string rowidName = null;
                    foreach (var t in tables)
                    {
                        if (!RecoverySql.TableExists(c, tx, "main", t.Name))
                            throw new TursoBackupException(FailureKind.InvalidData, $"Table '{t.Name}' is no longer in '{dest}': the recovery cannot be undone. Nothing was written.", dest) { ErrorId = "UndoTableMissing" };
                        rowidName = t.RowidKey ? RecoverySql.RowidName(c, tx, "main", t.Name) : null;
                        if (force) continue;
                        // Every row the recovery wrote must still be there exactly as written.
                        string T = "main." + RecoverySql.Q(t.Name);
                        string keyJoin = KeyJoin(t, t.Columns, "d", "w", rowidName);
                        string same = string.Join(" AND ", t.Columns.Select((col, i) => $"d.{RecoverySql.Q(col)} IS w.c{i}"));
                        string keyText = t.RowidKey ? "'rowid=' || quote(w.rid)" : string.Join(" || ', ' || ", t.Keys.Select(k => $"'{k.Replace("'", "''")}=' || quote(w.c{Array.FindIndex(t.Columns, x => string.Equals(x, k, StringComparison.OrdinalIgnoreCase))})"));
                        object changed = RecoverySql.Scalar(c, tx, $"SELECT {keyText} FROM undo.w_{t.Ord} AS w WHERE NOT EXISTS (SELECT 1 FROM {T} AS d WHERE {keyJoin} AND {same}) LIMIT 1");
                        if (changed != null && !(changed is DBNull))
                            throw new TursoBackupException(FailureKind.InvalidOperation,
                                $"The destination changed since the recovery: the row of '{t.Name}' with {changed} is not as the recovery wrote it (changed or deleted). Undoing would lose that change, so nothing was written. Use -Force to undo anyway.", dest) { ErrorId = "DestinationChangedSinceRecovery" };
                    }
                    long rows = 0;
                    // Children first for the deletions, parents first for the restored rows (FKs are checked at commit).
                    foreach (var t in Enumerable.Reverse(tables))
                    {
                        string rn = t.RowidKey ? RecoverySql.RowidName(c, tx, "main", t.Name) : null;
                        rows += RecoverySql.Exec(c, tx, $"DELETE FROM main.{RecoverySql.Q(t.Name)} AS d WHERE EXISTS (SELECT 1 FROM undo.w_{t.Ord} AS w WHERE w.action = 'insert' AND {KeyJoin(t, t.Columns, "d", "w", rn)})");
                    }
                    foreach (var t in tables)
                    {
                        string rn = t.RowidKey ? RecoverySql.RowidName(c, tx, "main", t.Name) : null;
                        string T = "main." + RecoverySql.Q(t.Name);
                        string keyJoin = KeyJoin(t, t.DestColumns, "d", "o", rn);
                        string cols = string.Join(", ", t.DestColumns.Select(RecoverySql.Q));
                        string oc = string.Join(", ", t.DestColumns.Select((_, i) => "o.c" + i));
                        int updated = RecoverySql.Exec(c, tx, $"UPDATE {T} AS d SET ({cols}) = (SELECT {oc} FROM undo.o_{t.Ord} AS o WHERE {keyJoin}) WHERE EXISTS (SELECT 1 FROM undo.o_{t.Ord} AS o WHERE {keyJoin})");
                        rows += updated;
                        // Rows replaced by the recovery and deleted since (only with -Force): put them back whole.
                        string insCols = (t.RowidKey ? rn + ", " : "") + cols;
                        string insVals = (t.RowidKey ? "o.rid, " : "") + oc;
                        rows += RecoverySql.Exec(c, tx, $"INSERT INTO {T} ({insCols}) SELECT {insVals} FROM undo.o_{t.Ord} AS o WHERE NOT EXISTS (SELECT 1 FROM {T} AS d WHERE {keyJoin})");
                    }
                    RecoverySql.Commit(c, tx, dest);
                    tx = null;
                    return rows;
                }
                finally
                {
                    tx?.Dispose();
                    RecoverySql.Detach(c, "undo");
                }
            }
        }

        /// <summary>The key join between a destination row (alias <paramref name="d"/>) and an undo row (alias <paramref name="u"/>) whose columns are c0.. in the order of <paramref name="layout"/>.</summary>
        private static string KeyJoin(UndoTableInfo t, string[] layout, string d, string u, string rowidName)
        {
            if (t.RowidKey) return $"{d}.{rowidName} IS {u}.rid";
            return string.Join(" AND ", t.Keys.Select(k => $"{d}.{RecoverySql.Q(k)} IS {u}.c{Array.FindIndex(layout, x => string.Equals(x, k, StringComparison.OrdinalIgnoreCase))}"));
        }

        private static long UndoTable(string undoPath, Dictionary<string, string> meta, string dest, bool force, TimeSpan lockTimeout, RecoveryLogEntry entry)
        {
            string table = meta["table"];
            bool replaced = meta["replaced"] == "1";
            entry.Tables = new[] { table };
            using (var c = RecoverySql.OpenDestination(dest, false, lockTimeout))
            {
                RecoverySql.Exec(c, null, "PRAGMA foreign_keys = OFF");
                RecoverySql.Attach(c, undoPath, "undo");
                var tx = RecoverySql.BeginImmediate(c, dest, lockTimeout);
                try
                {
                    if (!RecoverySql.TableExists(c, tx, "main", table))
                    {
                        if (!force) throw new TursoBackupException(FailureKind.InvalidOperation, $"Table '{table}' is no longer in '{dest}' (dropped or renamed since the recovery). Nothing was written. Use -Force to put the old table back anyway.", dest) { ErrorId = "DestinationChangedSinceRecovery" };
                    }
                    else if (!force)
                    {
                        var shape = RecoverySql.Shape(c, tx, "main", table);
                        string hash = RecoverySql.ContentHash(c, tx, "main", shape);
                        if (hash != meta["afterHash"])
                            throw new TursoBackupException(FailureKind.InvalidOperation, $"Table '{table}' in '{dest}' changed since the recovery (its rows differ from what the recovery wrote). Undoing would lose those changes, so nothing was written. Use -Force to undo anyway.", dest) { ErrorId = "DestinationChangedSinceRecovery" };
                    }
                    if (RecoverySql.TableExists(c, tx, "main", table)) RecoverySql.Exec(c, tx, "DROP TABLE main." + RecoverySql.Q(table));
                    long rows = 0;
                    if (replaced)
                    {
                        var objects = new List<(string Type, string Sql)>();
                        using (var cmd = c.CreateCommand())
                        {
                            cmd.Transaction = tx;
                            cmd.CommandText = "SELECT type, sql FROM undo.schema ORDER BY ord";
                            using (var r = cmd.ExecuteReader()) while (r.Read()) objects.Add((r.GetString(0), r.GetString(1)));
                        }
                        RecoverySql.Exec(c, tx, objects[0].Sql);
                        string[] cols = RecoverySql.SplitNames(meta["columns"]);
                        bool withRowid = meta["rowid"] == "1";
                        string rn = withRowid ? RecoverySql.RowidName(c, tx, "main", table) : null;
                        string insCols = (withRowid ? rn + ", " : "") + string.Join(", ", cols.Select(RecoverySql.Q));
                        string vals = (withRowid ? "rid, " : "") + string.Join(", ", cols.Select((_, i) => "c" + i));
                        rows = RecoverySql.Exec(c, tx, $"INSERT INTO main.{RecoverySql.Q(table)} ({insCols}) SELECT {vals} FROM undo.old_rows ORDER BY rowid");
                        foreach (var o in objects.Skip(1)) RecoverySql.Exec(c, tx, o.Sql);
                    }
                    RecoverySql.ForeignKeyCheck(c, tx, table, dest);
                    RecoverySql.Commit(c, tx, dest);
                    tx = null;
                    return rows;
                }
                finally
                {
                    tx?.Dispose();
                    RecoverySql.Detach(c, "undo");
                }
            }
        }
    }

    /// <summary>An undo file being written: a temporary name in the vault until <see cref="Publish"/>.</summary>
    internal sealed class UndoWriter : IDisposable
    {
        private SqliteConnection connection;
        private SqliteTransaction tx;
        private readonly string tmpPath;
        public string FinalPath { get; }
        private bool published;

        /// <param name="attach">Databases ATTACHed read-only to the undo file's connection before its transaction begins (schema names, paths): undo rows can then be copied set-based with INSERT … SELECT.</param>
        public UndoWriter(string vaultRoot, string id, string kind, string destination, string source, params (string Schema, string Path)[] attach)
        {
            string folder = Path.Combine(Path.GetFullPath(vaultRoot), RecoveryJournal.Folder, RecoveryUndo.Folder);
            OwnerOnly.CreateDirectory(folder);
            FinalPath = Path.Combine(folder, id + ".db");
            tmpPath = Path.Combine(folder, "." + id + ".db.tmp");
            DurableFile.TryDelete(tmpPath);
            NativeSqlite.EnsureInitialized();
            // A file: URI, so that ATTACH takes ?mode=ro.
            connection = new SqliteConnection("Data Source=\"" + RecoverySql.FileUri(tmpPath) + "\";Mode=ReadWriteCreate;Pooling=False");
            connection.Open();
            OwnerOnly.File(tmpPath);
            RecoverySql.Exec(connection, null, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA busy_timeout = 30000");
            foreach (var a in attach) RecoverySql.Attach(connection, a.Path, a.Schema, readOnly: true);
            tx = connection.BeginTransaction();
            Exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value)");
            Exec("CREATE TABLE tables (ord INTEGER PRIMARY KEY, name TEXT NOT NULL, columns TEXT NOT NULL, destColumns TEXT NOT NULL, keyColumns TEXT NOT NULL, rowidKey INTEGER NOT NULL, inserted INTEGER, replaced INTEGER)");
            Exec("CREATE TABLE schema (ord INTEGER PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL, sql TEXT NOT NULL)");
            SetMeta("format", RecoveryUndo.UndoFormat);
            SetMeta("version", "1");
            SetMeta("id", id);
            SetMeta("kind", kind);
            SetMeta("destination", destination);
            SetMeta("source", source);
            SetMeta("created", Vault.BackupManifest.Time(DateTimeOffset.UtcNow));
        }

        public SqliteConnection Connection => connection;
        public SqliteTransaction Transaction => tx;

        public int Exec(string sql, params object[] args) => RecoverySql.Exec(connection, tx, sql, args);

        public void SetMeta(string key, string value) => Exec("INSERT OR REPLACE INTO meta (key, value) VALUES ($0, $1)", key, value);

        /// <summary>Copies every row of <paramref name="reader"/> into <paramref name="table"/> (created with c0.. untyped columns, plus <paramref name="leading"/> columns first), streaming.</summary>
        public long CopyRows(SqliteDataReader reader, string table, string[] leading)
        {
            int n = reader.FieldCount;
            var names = leading.Concat(Enumerable.Range(0, n - leading.Length).Select(i => "c" + i)).ToArray();
            Exec($"CREATE TABLE IF NOT EXISTS {table} ({string.Join(", ", names)})");
            long count = 0;
            using (var ins = connection.CreateCommand())
            {
                ins.Transaction = tx;
                ins.CommandText = $"INSERT INTO {table} VALUES ({string.Join(", ", Enumerable.Range(0, n).Select(i => "$p" + i))})";
                var ps = Enumerable.Range(0, n).Select(i => ins.Parameters.Add("$p" + i, SqliteType.Text)).ToArray();
                ins.Prepare();
                while (reader.Read())
                {
                    for (int i = 0; i < n; i++) RecoverySql.Bind(ps[i], reader.GetValue(i));
                    ins.ExecuteNonQuery();
                    count++;
                }
            }
            return count;
        }

        /// <summary>Commits the undo data, fsyncs it and renames it to its final name, then fsyncs the folder.</summary>
        public void Publish()
        {
            tx.Commit();
            tx = null;
            connection.Dispose();
            connection = null;
            DurableFile.FlushFile(tmpPath);
            File.Move(tmpPath, FinalPath);
            DurableFile.FlushDirectory(Path.GetDirectoryName(FinalPath));
            published = true;
        }

        /// <summary>Removes the published undo data (the destination's commit failed).</summary>
        public void Withdraw()
        {
            if (published) { DurableFile.TryDelete(FinalPath); DurableFile.FlushDirectory(Path.GetDirectoryName(FinalPath)); published = false; }
        }

        public void Dispose()
        {
            tx?.Dispose();
            tx = null;
            connection?.Dispose();
            connection = null;
            DurableFile.TryDelete(tmpPath);
        }
    }
}
