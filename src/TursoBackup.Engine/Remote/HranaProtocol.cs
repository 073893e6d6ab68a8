using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Remote
{
    internal enum RequestKind
    {
        Execute,
        Batch,
        Close,
    }

    /// <summary>One stream request of a pipeline, already written as JSON.</summary>
    internal sealed class PendingRequest
    {
        public RequestKind Kind;
        public string Json;

        /// <summary>The SQL of an execute (the first statement of a batch), for error messages.</summary>
        public string Sql;

        /// <summary>Each step's SQL, for a batch.</summary>
        public IReadOnlyList<string> StepSql;
    }

    /// <summary>An error the server reported: its message and (server-specific) code.</summary>
    internal sealed class HranaError
    {
        public string Message;
        public string Code;
    }

    /// <summary>The outcome of one stream request.</summary>
    internal sealed class StreamOutcome
    {
        public bool Ok;
        public HranaError Error;
        public HranaResult Result;
        public List<HranaResult> StepResults;
        public List<HranaError> StepErrors;
    }

    internal sealed class PipelineResponse
    {
        public string Baton;
        public string BaseUrl;
        public List<StreamOutcome> Results = new List<StreamOutcome>();

        /// <summary>Characters of JSON read (the response's size), for page sizing.</summary>
        public long Chars;
    }

    /// <summary>Writes Hrana requests and reads Hrana responses (JSON encoding; the same in versions 2 and 3).</summary>
    internal static class HranaProtocol
    {
        // ---- requests --------------------------------------------------------------------------------------------

        public static PendingRequest Execute(HranaStatement stmt)
        {
            var sb = new StringBuilder(stmt.Sql.Length + 64);
            sb.Append("{\"type\":\"execute\",\"stmt\":");
            Statement(sb, stmt);
            sb.Append('}');
            return new PendingRequest { Kind = RequestKind.Execute, Json = sb.ToString(), Sql = stmt.Sql };
        }

        /// <summary>A batch whose every step runs only when the one before it succeeded.</summary>
        public static PendingRequest ChainedBatch(IReadOnlyList<HranaStatement> steps)
        {
            var sb = new StringBuilder(256);
            sb.Append("{\"type\":\"batch\",\"batch\":{\"steps\":[");
            var sql = new List<string>(steps.Count);
            for (int i = 0; i < steps.Count; i++)
            {
                if (i > 0) sb.Append(',');
                sb.Append('{');
                if (i > 0) sb.Append("\"condition\":{\"type\":\"ok\",\"step\":").Append((i - 1).ToString(CultureInfo.InvariantCulture)).Append("},");
                sb.Append("\"stmt\":");
                Statement(sb, steps[i]);
                sb.Append('}');
                sql.Add(steps[i].Sql);
            }
            sb.Append("]}}");
            return new PendingRequest { Kind = RequestKind.Batch, Json = sb.ToString(), Sql = steps.Count > 0 ? steps[0].Sql : null, StepSql = sql };
        }

        /// <summary>
        /// A batch that is one transaction: BEGIN IMMEDIATE, the steps, COMMIT (each only when the one before it succeeded),
        /// then ROLLBACK when BEGIN succeeded and COMMIT did not run or failed — all or nothing in one request, also on a server that keeps no
        /// streams. Steps: 0 BEGIN, 1..n the statements, n+1 COMMIT, n+2 ROLLBACK.
        /// </summary>
        public static PendingRequest TransactionBatch(IReadOnlyList<HranaStatement> steps)
        {
            var sb = new StringBuilder(256);
            sb.Append("{\"type\":\"batch\",\"batch\":{\"steps\":[{\"stmt\":{\"sql\":\"BEGIN IMMEDIATE\"}}");
            var sql = new List<string>(steps.Count + 3) { "BEGIN IMMEDIATE" };
            for (int i = 0; i < steps.Count; i++)
            {
                sb.Append(",{\"condition\":{\"type\":\"ok\",\"step\":").Append(i.ToString(CultureInfo.InvariantCulture)).Append("},\"stmt\":");
                Statement(sb, steps[i]);
                sb.Append('}');
                sql.Add(steps[i].Sql);
            }
            string commit = (steps.Count + 1).ToString(CultureInfo.InvariantCulture);
            sb.Append(",{\"condition\":{\"type\":\"ok\",\"step\":").Append(steps.Count.ToString(CultureInfo.InvariantCulture)).Append("},\"stmt\":{\"sql\":\"COMMIT\"}}");
            // ROLLBACK only a transaction this batch began (BEGIN ok) and did not commit: never another client's.
            sb.Append(",{\"condition\":{\"type\":\"and\",\"conds\":[{\"type\":\"ok\",\"step\":0},{\"type\":\"not\",\"cond\":{\"type\":\"ok\",\"step\":").Append(commit).Append("}}]},\"stmt\":{\"sql\":\"ROLLBACK\"}}");
            sb.Append("]}}");
            sql.Add("COMMIT");
            sql.Add("ROLLBACK");
            return new PendingRequest { Kind = RequestKind.Batch, Json = sb.ToString(), Sql = "BEGIN IMMEDIATE", StepSql = sql };
        }

        public static PendingRequest Close() => new PendingRequest { Kind = RequestKind.Close, Json = "{\"type\":\"close\"}" };

        public static string Body(string baton, IReadOnlyList<PendingRequest> requests)
        {
            int size = 32;
            foreach (var r in requests) size += r.Json.Length + 1;
            var sb = new StringBuilder(size);
            sb.Append("{\"baton\":");
            if (baton == null) sb.Append("null");
            else HranaJson.String(sb, baton);
            sb.Append(",\"requests\":[");
            for (int i = 0; i < requests.Count; i++)
            {
                if (i > 0) sb.Append(',');
                sb.Append(requests[i].Json);
            }
            sb.Append("]}");
            return sb.ToString();
        }

        private static void Statement(StringBuilder sb, HranaStatement stmt)
        {
            var args = HranaParameters.Bind(stmt.Sql, stmt.Args, stmt.Named);
            sb.Append("{\"sql\":");
            HranaJson.String(sb, stmt.Sql);
            if (args != null && args.Count > 0)
            {
                sb.Append(",\"args\":[");
                for (int i = 0; i < args.Count; i++)
                {
                    if (i > 0) sb.Append(',');
                    Value(sb, args[i], i);
                }
                sb.Append(']');
            }
            if (!stmt.WantRows) sb.Append(",\"want_rows\":false");
            sb.Append('}');
        }

        /// <summary>A Hrana value: integers as decimal strings (exact beyond 2^53), floats as numbers, blobs in base64.</summary>
        internal static void Value(StringBuilder sb, object v, int index)
        {
            switch (v)
            {
                case null:
                case DBNull _:
                    sb.Append("{\"type\":\"null\"}");
                    return;
                case long l: Integer(sb, l); return;
                case int i: Integer(sb, i); return;
                case short s: Integer(sb, s); return;
                case sbyte sb8: Integer(sb, sb8); return;
                case byte b: Integer(sb, b); return;
                case ushort us: Integer(sb, us); return;
                case uint ui: Integer(sb, ui); return;
                case ulong ul:
                    if (ul > long.MaxValue)
                    {
                        throw new TursoBackupException(FailureKind.InvalidArgument,
                            $"Argument {index + 1} ({ul}) is larger than SQLite's largest integer (9223372036854775807). Pass it as text or a double.");
                    }
                    Integer(sb, (long)ul);
                    return;
                case bool flag: Integer(sb, flag ? 1 : 0); return;
                case double d: Float(sb, d, index); return;
                case float f: Float(sb, f, index); return;
                case decimal m: Float(sb, (double)m, index); return;
                case string text:
                    sb.Append("{\"type\":\"text\",\"value\":");
                    HranaJson.String(sb, text);
                    sb.Append('}');
                    return;
                case char c:
                    sb.Append("{\"type\":\"text\",\"value\":");
                    HranaJson.String(sb, c.ToString());
                    sb.Append('}');
                    return;
                case byte[] blob:
                    sb.Append("{\"type\":\"blob\",\"base64\":\"").Append(Convert.ToBase64String(blob)).Append("\"}");
                    return;
                default:
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"Argument {index + 1} is a {v.GetType().Name}, which cannot be sent to SQLite. Pass null, an integer, a double, a string or a byte[].");
            }
        }

        private static void Integer(StringBuilder sb, long v)
        {
            sb.Append("{\"type\":\"integer\",\"value\":\"").Append(v.ToString(CultureInfo.InvariantCulture)).Append("\"}");
        }

        private static void Float(StringBuilder sb, double d, int index)
        {
            if (double.IsNaN(d) || double.IsInfinity(d))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"Argument {index + 1} is {d.ToString(CultureInfo.InvariantCulture)}, which Hrana cannot carry (JSON has no NaN or infinity). Pass null, or bind 9e999 in the SQL text for infinity.");
            }
            sb.Append("{\"type\":\"float\",\"value\":").Append(HranaJson.Double(d)).Append('}');
        }

        // ---- responses -------------------------------------------------------------------------------------------

        public static PipelineResponse ParsePipeline(JsonPullReader r, IReadOnlyList<PendingRequest> requests)
        {
            var resp = new PipelineResponse();
            bool sawResults = false;
            r.BeginObject();
            bool first = true;
            while (r.NextProperty(ref first, out string name))
            {
                switch (name)
                {
                    case "baton":
                        resp.Baton = r.ReadScalarText();
                        break;
                    case "base_url":
                        resp.BaseUrl = r.ReadScalarText();
                        break;
                    case "results":
                        {
                            sawResults = true;
                            r.BeginArray();
                            bool firstResult = true;
                            int index = 0;
                            while (r.NextElement(ref firstResult))
                            {
                                var kind = index < requests.Count ? requests[index].Kind : RequestKind.Close;
                                resp.Results.Add(ParseStreamResult(r, kind));
                                index++;
                            }
                            break;
                        }
                    default:
                        r.SkipValue();
                        break;
                }
            }
            if (!r.AtEnd()) throw r.Error("unexpected text after the response");
            if (!sawResults || resp.Results.Count != requests.Count)
            {
                throw r.Error($"the response has {resp.Results.Count} results for {requests.Count} requests");
            }
            resp.Chars = r.Position;
            return resp;
        }

        private static StreamOutcome ParseStreamResult(JsonPullReader r, RequestKind kind)
        {
            var outcome = new StreamOutcome();
            string type = null;
            r.BeginObject();
            bool first = true;
            while (r.NextProperty(ref first, out string name))
            {
                switch (name)
                {
                    case "type":
                        type = r.ReadString();
                        break;
                    case "response":
                        if (r.TryReadNull()) break;
                        ParseResponse(r, kind, outcome);
                        break;
                    case "error":
                        if (r.TryReadNull()) break;
                        outcome.Error = ParseError(r);
                        break;
                    default:
                        r.SkipValue();
                        break;
                }
            }
            outcome.Ok = type == "ok";
            if (!outcome.Ok && outcome.Error == null)
            {
                outcome.Error = new HranaError { Message = "the server reported a failure of type '" + (type ?? "(none)") + "' without a message" };
            }
            return outcome;
        }

        private static void ParseResponse(JsonPullReader r, RequestKind kind, StreamOutcome outcome)
        {
            r.BeginObject();
            bool first = true;
            while (r.NextProperty(ref first, out string name))
            {
                if (name == "result" && !r.TryReadNull())
                {
                    if (kind == RequestKind.Execute) outcome.Result = ParseStmtResult(r);
                    else if (kind == RequestKind.Batch) ParseBatchResult(r, outcome);
                    else r.SkipValue();
                }
                else if (name != "result")
                {
                    r.SkipValue();
                }
            }
        }

        internal static HranaError ParseError(JsonPullReader r)
        {
            var e = new HranaError();
            if (r.PeekValue() == '"')
            {
                e.Message = r.ReadString();
                return e;
            }
            r.BeginObject();
            bool first = true;
            while (r.NextProperty(ref first, out string name))
            {
                if (name == "message") e.Message = r.ReadScalarText();
                else if (name == "code") e.Code = r.ReadScalarText();
                else r.SkipValue();
            }
            if (string.IsNullOrEmpty(e.Message)) e.Message = "(no message)";
            return e;
        }

        private static void ParseBatchResult(JsonPullReader r, StreamOutcome outcome)
        {
            outcome.StepResults = new List<HranaResult>();
            outcome.StepErrors = new List<HranaError>();
            r.BeginObject();
            bool first = true;
            while (r.NextProperty(ref first, out string name))
            {
                if (name == "step_results")
                {
                    r.BeginArray();
                    bool f = true;
                    while (r.NextElement(ref f)) outcome.StepResults.Add(r.TryReadNull() ? null : ParseStmtResult(r));
                }
                else if (name == "step_errors")
                {
                    r.BeginArray();
                    bool f = true;
                    while (r.NextElement(ref f)) outcome.StepErrors.Add(r.TryReadNull() ? null : ParseError(r));
                }
                else
                {
                    r.SkipValue();
                }
            }
        }

        private static HranaResult ParseStmtResult(JsonPullReader r)
        {
            var cols = new List<HranaColumn>();
            var rows = new List<object[]>();
            long affected = 0;
            long? lastRowid = null;
            var values = new List<object>();
            r.BeginObject();
            bool first = true;
            while (r.NextProperty(ref first, out string name))
            {
                switch (name)
                {
                    case "cols":
                        {
                            r.BeginArray();
                            bool f = true;
                            while (r.NextElement(ref f)) cols.Add(ParseColumn(r));
                            break;
                        }
                    case "rows":
                        {
                            r.BeginArray();
                            bool f = true;
                            while (r.NextElement(ref f))
                            {
                                values.Clear();
                                r.BeginArray();
                                bool fv = true;
                                while (r.NextElement(ref fv)) values.Add(ParseValue(r));
                                rows.Add(values.ToArray());
                            }
                            break;
                        }
                    case "affected_row_count":
                        if (!r.TryReadNull()) affected = r.ReadInt64();
                        break;
                    case "last_insert_rowid":
                        {
                            string t = r.ReadScalarText();
                            if (t != null && long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v)) lastRowid = v;
                            break;
                        }
                    default:
                        r.SkipValue();
                        break;
                }
            }
            return new HranaResult(cols, rows, affected, lastRowid);
        }

        private static HranaColumn ParseColumn(JsonPullReader r)
        {
            string name = null, decl = null;
            r.BeginObject();
            bool first = true;
            while (r.NextProperty(ref first, out string prop))
            {
                if (prop == "name") name = r.ReadScalarText();
                else if (prop == "decltype") decl = r.ReadScalarText();
                else r.SkipValue();
            }
            return new HranaColumn(name, decl);
        }

        /// <summary>{"type":"integer","value":"1"} and friends, to null, long, double, string or byte[].</summary>
        internal static object ParseValue(JsonPullReader r)
        {
            string type = null, value = null, base64 = null;
            bool hasValue = false, hasInteger = false;
            long integer = 0;
            r.BeginObject();
            bool first = true;
            while (r.NextProperty(ref first, out string name))
            {
                switch (name)
                {
                    case "type": type = r.ReadKnownString(); break;
                    case "value" when type == "integer":
                        // The common case (type first, as every server writes it): parsed in place, no string.
                        hasInteger = r.TryReadInt64(out integer, out value);
                        hasValue = true;
                        break;
                    case "value": value = r.ReadScalarText(); hasValue = true; break;
                    case "base64": base64 = r.ReadScalarText(); break;
                    default: r.SkipValue(); break;
                }
            }
            switch (type)
            {
                case "null":
                    return null;
                case "integer":
                    if (hasInteger) return integer;
                    if (value != null && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                    throw r.Error("an integer value is not a 64-bit integer: " + (value ?? "null"));
                case "float":
                    if (value != null && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return d;
                    // JSON cannot carry infinities; serde_json writes them as null.
                    throw r.Error(hasValue && value == null
                        ? "a float value came without a number (the server cannot send an infinite REAL in JSON)"
                        : "a float value is not a number: " + (value ?? "missing"));
                case "text":
                    return value ?? string.Empty;
                case "blob":
                    {
                        string b = base64 ?? value ?? string.Empty;
                        return DecodeBase64(b, r);
                    }
                default:
                    throw r.Error("unknown value type '" + (type ?? "(none)") + "'");
            }
        }

        private static byte[] DecodeBase64(string b, JsonPullReader r)
        {
            if (b.Length == 0) return new byte[0];
            // Some servers send unpadded or URL-safe base64.
            if (b.IndexOf('-') >= 0 || b.IndexOf('_') >= 0) b = b.Replace('-', '+').Replace('_', '/');
            int pad = b.Length % 4;
            if (pad == 2) b += "==";
            else if (pad == 3) b += "=";
            try
            {
                return Convert.FromBase64String(b);
            }
            catch (FormatException)
            {
                throw r.Error("a blob value is not valid base64");
            }
        }
    }
}
