using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Remote
{
    /// <summary>
    /// A Hrana stream over HTTP: the baton the server returns with each response is sent with the next request, so
    /// the requests run on one server-side connection (<c>BEGIN</c> in one request, <c>SELECT</c>s in the next ones,
    /// <c>COMMIT</c> at the end all belong to one transaction). A server that returns no baton keeps no streams:
    /// <see cref="IsServerStream"/> stays false and every request stands alone. Not thread-safe: one request at a
    /// time, as the protocol requires.
    /// </summary>
    public sealed class HranaStream : IDisposable
    {
        private readonly HranaClient client;
        private string baton;
        private string baseUrl;
        private bool hadBaton;
        private bool lost;
        private bool closed;

        internal HranaStream(HranaClient client)
        {
            this.client = client;
        }

        public HranaClient Client => client;

        /// <summary>True once the server has tied this stream's requests together with a baton (and has not let go of it).</summary>
        public bool IsServerStream => hadBaton && !lost && !closed;

        /// <summary>True after the first request if the server returned no baton: it keeps no per-client streams.</summary>
        public bool ServerKeepsNoStreams { get; private set; }

        public bool IsClosed => closed;

        /// <summary>Runs one statement on this stream.</summary>
        public HranaResult Execute(string sql, IReadOnlyList<object> args = null, IReadOnlyDictionary<string, object> named = null,
                                   CancellationToken cancellationToken = default(CancellationToken))
        {
            return Execute(new HranaStatement(sql, args, named), cancellationToken);
        }

        public HranaResult Execute(HranaStatement statement, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (statement == null) throw new ArgumentNullException(nameof(statement));
            var reqs = new List<PendingRequest> { HranaProtocol.Execute(statement) };
            var resp = Send(reqs, cancellationToken, closing: false);
            return Check(resp, reqs, null)[0];
        }

        /// <summary>
        /// Sends the statements in one HTTP request (a Hrana pipeline) and returns their results. The server runs every
        /// statement even when one fails; the first failure is then thrown.
        /// </summary>
        public IReadOnlyList<HranaResult> ExecuteAll(IReadOnlyList<HranaStatement> statements, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (statements == null) throw new ArgumentNullException(nameof(statements));
            if (statements.Count == 0) return new HranaResult[0];
            var reqs = new List<PendingRequest>(statements.Count);
            foreach (var s in statements) reqs.Add(HranaProtocol.Execute(s));
            return Check(Send(reqs, cancellationToken, closing: false), reqs, null);
        }

        /// <summary>
        /// Runs the steps as one Hrana batch, each only when the one before it succeeded. Returns every step's result or
        /// throws the first step's error (<c>Exception.Data["HranaStep"]</c> holds its 0-based index).
        /// </summary>
        public IReadOnlyList<HranaResult> Batch(IReadOnlyList<(string Sql, IReadOnlyList<object> Args)> steps,
                                                CancellationToken cancellationToken = default(CancellationToken))
        {
            return Batch(ToStatements(steps), cancellationToken);
        }

        public IReadOnlyList<HranaResult> Batch(IReadOnlyList<HranaStatement> steps, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (steps == null) throw new ArgumentNullException(nameof(steps));
            if (steps.Count == 0) return new HranaResult[0];
            var reqs = new List<PendingRequest> { HranaProtocol.ChainedBatch(steps) };
            return BatchResults(Send(reqs, cancellationToken, closing: false), reqs[0]);
        }

        /// <summary>
        /// Runs the statements as ONE transaction in one request (BEGIN IMMEDIATE … COMMIT, ROLLBACK when anything failed),
        /// so that either all of them take effect or none, on any server. Returns each statement's result, or throws the
        /// first failure: <c>Data["HranaStep"]</c> is the failing statement's 0-based index, -1 when the transaction could
        /// not begin (another transaction holds the database) and <paramref name="statements"/>.Count when COMMIT failed.
        /// Do not use on a stream that is already inside a transaction.
        /// </summary>
        public IReadOnlyList<HranaResult> TransactionBatch(IReadOnlyList<HranaStatement> statements, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (statements == null) throw new ArgumentNullException(nameof(statements));
            var reqs = new List<PendingRequest> { HranaProtocol.TransactionBatch(statements) };
            var resp = Send(reqs, cancellationToken, closing: false);
            var outcome = resp.Results[0];
            if (!outcome.Ok) throw client.StatementFailure(outcome.Error, reqs[0].Sql, null);
            int n = statements.Count;
            var sql = reqs[0].StepSql;
            for (int i = 0; i <= n + 1; i++)
            {
                var error = outcome.StepErrors != null && i < outcome.StepErrors.Count ? outcome.StepErrors[i] : null;
                if (error != null)
                {
                    var ex = client.StatementFailure(error, sql[i], i);
                    ex.Data["HranaStep"] = i - 1;
                    throw ex;
                }
                var result = outcome.StepResults != null && i < outcome.StepResults.Count ? outcome.StepResults[i] : null;
                if (result == null)
                {
                    var ex = new TursoBackupException(FailureKind.InvalidData,
                        $"The libSQL server at {client.Url} skipped step {i + 1} of the transaction (\"{HranaClient.Preview(sql[i])}\") without reporting an error; it was rolled back. Run it again; if it repeats, the server does not evaluate batch conditions as Hrana specifies.", client.Url);
                    ex.Data["HranaStep"] = i - 1;
                    throw ex;
                }
            }
            var results = new HranaResult[n];
            for (int i = 0; i < n; i++) results[i] = outcome.StepResults[i + 1];
            return results;
        }

        internal static IReadOnlyList<HranaStatement> ToStatements(IReadOnlyList<(string Sql, IReadOnlyList<object> Args)> steps)
        {
            if (steps == null) throw new ArgumentNullException(nameof(steps));
            var list = new List<HranaStatement>(steps.Count);
            foreach (var s in steps) list.Add(new HranaStatement(s.Sql, s.Args));
            return list;
        }

        /// <summary>
        /// One statement on a fresh stream, for the client's one-shot calls: with "close" in the same request once the
        /// server is known to keep streams; else alone, then closed if a baton came back after all.
        /// </summary>
        internal HranaResult ExecuteAndClose(HranaStatement statement, CancellationToken ct)
        {
            var reqs = new List<PendingRequest> { HranaProtocol.Execute(statement) };
            var resp = SendOneShot(reqs, ct);
            var outcome = resp.Results[0];
            if (!outcome.Ok) throw client.StatementFailure(outcome.Error, statement.Sql, null);
            return outcome.Result ?? new HranaResult(null, null, 0, null);
        }

        internal IReadOnlyList<HranaResult> BatchAndClose(IReadOnlyList<HranaStatement> steps, CancellationToken ct)
        {
            if (steps.Count == 0) return new HranaResult[0];
            var reqs = new List<PendingRequest> { HranaProtocol.ChainedBatch(steps) };
            var resp = SendOneShot(reqs, ct);
            return BatchResults(resp, reqs[0]);
        }

        private PipelineResponse SendOneShot(List<PendingRequest> reqs, CancellationToken ct)
        {
            if (client.ServerKeepsStreams == true)
            {
                reqs.Add(HranaProtocol.Close());
                var resp = Send(reqs, ct, closing: true);
                closed = true;
                return resp;
            }
            var result = Send(reqs, ct, closing: false);
            Close();
            return result;
        }

        private IReadOnlyList<HranaResult> BatchResults(PipelineResponse resp, PendingRequest batch)
        {
            var outcome = resp.Results[0];
            if (!outcome.Ok) throw client.StatementFailure(outcome.Error, batch.Sql, null);
            int n = batch.StepSql.Count;
            var results = new HranaResult[n];
            for (int i = 0; i < n; i++)
            {
                var error = outcome.StepErrors != null && i < outcome.StepErrors.Count ? outcome.StepErrors[i] : null;
                if (error != null) throw client.StatementFailure(error, batch.StepSql[i], i);
                var result = outcome.StepResults != null && i < outcome.StepResults.Count ? outcome.StepResults[i] : null;
                if (result == null)
                {
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"The libSQL server at {client.Url} skipped step {i + 1} of the batch (\"{HranaClient.Preview(batch.StepSql[i])}\") without reporting an error. Run the batch again; if it repeats, the server does not evaluate batch conditions as Hrana specifies.", client.Url);
                }
                results[i] = result;
            }
            return results;
        }

        /// <summary>
        /// Reads a whole table page by page with keyset pagination (<c>WHERE rowid &gt; ? ORDER BY rowid LIMIT n</c>; by
        /// the primary key for WITHOUT ROWID tables), yielding rows as they arrive: memory holds one page, whatever
        /// the table's size. Pages shrink when rows are large (about 4 MB of JSON per response). For a consistent
        /// read of several pages, run it inside BEGIN ... COMMIT on a stream where <see cref="IsServerStream"/> is true.
        /// </summary>
        /// <param name="columns">Columns to return, in this order; null for every column that can be inserted (generated columns left out).</param>
        /// <param name="maxPageRows">Most rows per request.</param>
        public IEnumerable<object[]> ReadTable(string table, IReadOnlyList<string> columns = null, int maxPageRows = 5000,
                                               CancellationToken cancellationToken = default(CancellationToken))
        {
            if (string.IsNullOrEmpty(table)) throw new ArgumentNullException(nameof(table));
            var info = RemoteTable.Load(this, table, null, cancellationToken);
            var names = columns ?? info.InsertableColumnNames();
            var plan = info.Plan(names);
            var options = new PageOptions { MaxPageRows = Math.Max(1, maxPageRows) };
            int skip = plan.KeyExprs.Count;
            foreach (var row in ReadPages(plan, options, cancellationToken))
            {
                var values = new object[row.Length - skip];
                Array.Copy(row, skip, values, 0, values.Length);
                yield return values;
            }
        }

        /// <summary>
        /// The pages of <paramref name="plan"/>: each row is the key values, then the columns. <paramref name="options"/>
        /// may add a statement to every page's request (the dump's change counter) and receive its result.
        /// </summary>
        internal IEnumerable<object[]> ReadPages(TablePlan plan, PageOptions options, CancellationToken ct)
        {
            int limit = Math.Max(1, Math.Min(options.FirstPageRows, options.MaxPageRows));
            object[] last = null;
            long offset = 0;
            int keys = plan.KeyExprs.Count;
            var select = new StringBuilder("SELECT ");
            for (int i = 0; i < keys; i++) select.Append(i > 0 ? "," : "").Append(plan.KeyExprs[i]);
            for (int i = 0; i < plan.Columns.Count; i++) select.Append(i + keys > 0 ? "," : "").Append(plan.Columns[i]);
            if (keys + plan.Columns.Count == 0) select.Append("1");
            select.Append(" FROM ").Append(RemoteTable.Quote(plan.Table));
            string head = select.ToString();
            string order = keys == 0 ? null : " ORDER BY " + string.Join(",", plan.KeyExprs);
            string context = $"read table '{plan.Table}'";

            while (true)
            {
                ct.ThrowIfCancellationRequested();
                var sql = new StringBuilder(head);
                var args = new List<object>();
                if (keys > 0 && last != null)
                {
                    sql.Append(" WHERE ");
                    AppendAfter(sql, args, plan.KeyExprs, last, 0);
                }
                if (order != null) sql.Append(order);
                sql.Append(" LIMIT ").Append(limit.ToString(CultureInfo.InvariantCulture));
                if (keys == 0 && offset > 0) sql.Append(" OFFSET ").Append(offset.ToString(CultureInfo.InvariantCulture));

                var statements = new List<PendingRequest> { HranaProtocol.Execute(new HranaStatement(sql.ToString(), args)) };
                if (options.Extra != null) statements.Add(HranaProtocol.Execute(options.Extra));
                var resp = Send(statements, ct, closing: false);
                var results = Check(resp, statements, context);
                if (options.Extra != null) options.OnExtra?.Invoke(results[1]);
                var rows = results[0].Rows;
                int asked = limit;
                for (int i = 0; i < rows.Count; i++) yield return rows[i];
                if (rows.Count < asked) yield break;

                last = rows[rows.Count - 1];
                offset += rows.Count;
                long perRow = Math.Max(1, resp.Chars / Math.Max(1, rows.Count));
                long want = options.TargetChars / perRow;
                limit = (int)Math.Max(1, Math.Min(options.MaxPageRows, Math.Min(want, (long)asked * 4)));
            }
        }

        /// <summary>k1 &gt; ? OR (k1 = ? AND (k2 &gt; ? OR ...)): the rows after <paramref name="last"/> in key order.</summary>
        private static void AppendAfter(StringBuilder sql, List<object> args, IReadOnlyList<string> keys, object[] last, int i)
        {
            if (i == keys.Count - 1)
            {
                sql.Append(keys[i]).Append(">?");
                args.Add(last[i]);
                return;
            }
            sql.Append('(').Append(keys[i]).Append(">? OR (").Append(keys[i]).Append("=? AND ");
            args.Add(last[i]);
            args.Add(last[i]);
            AppendAfter(sql, args, keys, last, i + 1);
            sql.Append("))");
        }

        /// <summary>Closes the stream on the server (when it holds one). Safe to call more than once.</summary>
        public void Close()
        {
            if (closed) return;
            closed = true;
            if (!hadBaton || lost || baton == null) return;
            try
            {
                Send(new List<PendingRequest> { HranaProtocol.Close() }, CancellationToken.None, closing: true, afterClose: true);
            }
            catch (TursoBackupException)
            {
                // The server drops idle streams by itself.
            }
        }

        public void Dispose() => Close();

        public override string ToString() => "Hrana stream on " + client.Url + (IsServerStream ? " (server stream)" : "");

        // ---- plumbing --------------------------------------------------------------------------------------------

        private PipelineResponse Send(List<PendingRequest> requests, CancellationToken ct, bool closing, bool afterClose = false)
        {
            if (closed && !afterClose) throw new ObjectDisposedException(nameof(HranaStream), "The Hrana stream is closed.");
            if (lost)
            {
                throw new TursoBackupException(FailureKind.Busy,
                    $"The libSQL server at {client.Url} ended the stream this operation was running on (no baton came back, or a request on it failed), so its transaction is gone. Run the command again.", client.Url);
            }
            PipelineResponse resp;
            try
            {
                resp = client.Pipeline(baseUrl, baton, requests, ct);
            }
            catch (Exception)
            {
                if (hadBaton) lost = true; // an HTTP failure invalidates the stream (Hrana over HTTP)
                throw;
            }
            if (resp.Baton != null)
            {
                baton = resp.Baton;
                hadBaton = true;
                client.ServerKeepsStreams = true;
            }
            else
            {
                if (hadBaton && !closing) lost = true;
                if (!hadBaton && !closing)
                {
                    ServerKeepsNoStreams = true;
                    if (client.ServerKeepsStreams == null) client.ServerKeepsStreams = false;
                }
                baton = null;
            }
            if (!string.IsNullOrEmpty(resp.BaseUrl))
            {
                try
                {
                    baseUrl = LibsqlUrl.Normalize(resp.BaseUrl);
                }
                catch (TursoBackupException)
                {
                    // A base_url we cannot use: keep sending to the URL we have.
                }
            }
            return resp;
        }

        /// <summary>The results of executes; throws the first failure.</summary>
        private IReadOnlyList<HranaResult> Check(PipelineResponse resp, IReadOnlyList<PendingRequest> requests, string context)
        {
            var results = new HranaResult[requests.Count];
            for (int i = 0; i < requests.Count; i++)
            {
                var outcome = resp.Results[i];
                if (!outcome.Ok) throw client.StatementFailure(outcome.Error, requests[i].Sql, null, context);
                results[i] = outcome.Result ?? new HranaResult(null, null, 0, null);
            }
            return results;
        }
    }

    /// <summary>How <see cref="HranaStream.ReadPages"/> reads a table.</summary>
    internal sealed class TablePlan
    {
        public string Table;

        /// <summary>Key expressions, selected first and ordered by; empty for LIMIT/OFFSET paging (no usable key).</summary>
        public IReadOnlyList<string> KeyExprs;

        /// <summary>Quoted column names selected after the keys.</summary>
        public IReadOnlyList<string> Columns;
    }

    internal sealed class PageOptions
    {
        public int FirstPageRows = 500;
        public int MaxPageRows = 5000;

        /// <summary>JSON characters a page should take, about; page sizes follow the rows' size.</summary>
        public long TargetChars = 4L << 20;

        /// <summary>A statement sent with every page (same request), and what to do with its result.</summary>
        public HranaStatement Extra;
        public Action<HranaResult> OnExtra;
    }

    /// <summary>A table's columns and keys, read from the server.</summary>
    internal sealed class RemoteTable
    {
        private static readonly Regex WithoutRowid = new Regex(@"\bWITHOUT\s+ROWID\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

        public string Name;
        public List<RemoteColumn> Columns = new List<RemoteColumn>();
        public bool IsWithoutRowid;

        /// <summary>rowid, _rowid_ or oid: the first that is not a column's name; null when all are.</summary>
        public string RowidName;

        public static string Quote(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";

        public static string Literal(string s) => "'" + s.Replace("'", "''") + "'";

        /// <summary>Reads the columns (PRAGMA table_xinfo, else table_info) and whether the table has rowids.</summary>
        /// <param name="createSql">The table's CREATE statement when the caller has it; read from sqlite_master otherwise.</param>
        public static RemoteTable Load(HranaStream stream, string table, string createSql, CancellationToken ct)
        {
            var t = new RemoteTable { Name = table };
            HranaResult info;
            try
            {
                info = stream.Execute("PRAGMA table_xinfo(" + Literal(table) + ")", cancellationToken: ct);
            }
            catch (TursoBackupException ex) when (ex.Kind == FailureKind.InvalidArgument)
            {
                info = stream.Execute("PRAGMA table_info(" + Literal(table) + ")", cancellationToken: ct);
            }
            int name = IndexOf(info, "name"), type = IndexOf(info, "type"), pk = IndexOf(info, "pk"), hidden = IndexOf(info, "hidden");
            if (name < 0)
            {
                throw new TursoBackupException(FailureKind.InvalidData,
                    $"The libSQL server at {stream.Client.Url} answered PRAGMA table_info('{table}') without a name column. This server's SQL is not SQLite's enough to dump it.", stream.Client.Url);
            }
            foreach (var row in info.Rows)
            {
                t.Columns.Add(new RemoteColumn
                {
                    Name = row[name] as string ?? Convert.ToString(row[name], CultureInfo.InvariantCulture),
                    Type = type >= 0 ? row[type] as string ?? string.Empty : string.Empty,
                    Pk = pk >= 0 && row[pk] is long p ? (int)p : 0,
                    Hidden = hidden >= 0 && row[hidden] is long h ? (int)h : 0,
                });
            }
            if (t.Columns.Count == 0)
            {
                throw new TursoBackupException(FailureKind.NotFound,
                    $"The libSQL server at {stream.Client.Url} has no table '{table}' (or it has no columns). Check the name.", stream.Client.Url);
            }
            if (createSql == null)
            {
                var r = stream.Execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", new object[] { table }, cancellationToken: ct);
                createSql = r.Scalar as string ?? string.Empty;
            }
            int close = createSql.LastIndexOf(')');
            t.IsWithoutRowid = close >= 0 && WithoutRowid.IsMatch(createSql.Substring(close));
            if (!t.IsWithoutRowid)
            {
                foreach (var candidate in new[] { "rowid", "_rowid_", "oid" })
                {
                    if (!t.Columns.Exists(c => string.Equals(c.Name, candidate, StringComparison.OrdinalIgnoreCase)))
                    {
                        t.RowidName = candidate;
                        break;
                    }
                }
            }
            return t;
        }

        private static int IndexOf(HranaResult r, string column)
        {
            for (int i = 0; i < r.Columns.Count; i++)
            {
                if (string.Equals(r.Columns[i].Name, column, StringComparison.OrdinalIgnoreCase)) return i;
            }
            return -1;
        }

        /// <summary>Columns an INSERT can set: not generated ones (table_xinfo hidden 2 and 3).</summary>
        public List<RemoteColumn> InsertableColumns() => Columns.FindAll(c => c.Hidden != 2 && c.Hidden != 3);

        public List<string> InsertableColumnNames() => InsertableColumns().ConvertAll(c => c.Name);

        /// <summary>The primary key columns in key order.</summary>
        public List<RemoteColumn> PrimaryKey()
        {
            var pk = Columns.FindAll(c => c.Pk > 0);
            pk.Sort((a, b) => a.Pk.CompareTo(b.Pk));
            return pk;
        }

        /// <summary>
        /// The read plan: keyset by rowid (selected first), or by the primary key (WITHOUT ROWID), or LIMIT/OFFSET
        /// when neither is usable (rowid, _rowid_ and oid all taken by columns).
        /// </summary>
        public TablePlan Plan(IReadOnlyList<string> columns)
        {
            var keys = new List<string>();
            if (RowidName != null) keys.Add(RowidName);
            else if (IsWithoutRowid) foreach (var c in PrimaryKey()) keys.Add(Quote(c.Name));
            var cols = new List<string>();
            foreach (var c in columns) cols.Add(Quote(c));
            return new TablePlan { Table = Name, KeyExprs = keys, Columns = cols };
        }
    }

    internal sealed class RemoteColumn
    {
        public string Name, Type;
        public int Pk, Hidden;
    }
}
