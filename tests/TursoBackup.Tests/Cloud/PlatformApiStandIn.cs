// A STAND-IN for the Turso Platform API, for tests. It is NOT Turso and shares no code with it: it follows the API's
// OpenAPI document (tests/specs/turso-platform-openapi.json), which it loads at start and checks every request against.
// It depends only on the .NET base class library and tests/Shared (no engine types), so any test project that compiles
// tests/Shared can link this file:
//   <Compile Include="../TursoBackup.Tests/Cloud/PlatformApiStandIn.cs" Link="Cloud/PlatformApiStandIn.cs" />
// It also stands in (again: not Turso) for the upload endpoints of a database's own host (POST /v1/upload and the v2
// chunked upload), which the OpenAPI document does not describe; see "uploads" below.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

namespace TursoBackup.Tests.Cloud
{
    /// <summary>
    /// A local stand-in for the Turso Platform API (<c>https://api.turso.tech</c>) — not Turso itself. It listens on
    /// <c>http://127.0.0.1:&lt;free port&gt;</c> and:
    /// <list type="bullet">
    /// <item>checks each request against the OpenAPI document: a path template and method must exist; the
    /// <c>bearerAuth</c> scheme (<c>Authorization: Bearer …</c>) is required on every operation (the document declares it as
    /// its only security scheme); query parameters must be declared (types, enums, required); a JSON body must be allowed by
    /// the operation and match its <c>requestBody</c> schema (<c>$ref</c>s resolved; types, required, enums, nullable,
    /// date-time; unknown properties are rejected too, so a misspelt field cannot pass). A violation answers 400 (404/405 for
    /// an unknown path/method, 401 for a missing header) and is added to <see cref="Violations"/>;</item>
    /// <item>answers from in-memory state (databases, groups, issued tokens) with bodies shaped like the document's response
    /// schemas — and checks its own answers against those schemas, adding any mismatch to <see cref="Violations"/>;</item>
    /// <item>records every request in <see cref="Requests"/> (method, path, query, headers with the token removed, body);</item>
    /// <item>plays scripted faults: <see cref="RateLimitNext"/> (429 + Retry-After), <see cref="ServerErrorNext"/> (5xx),
    /// <see cref="FailNext"/>; a token other than <see cref="ApiToken"/> gets 401; unknown databases 404; an existing name
    /// 409; a seed timestamp before the source was created or outside <see cref="RestoreWindow"/> gets the document's 400
    /// error body (<c>{"error": "…"}</c>) naming the earliest restore point.</item>
    /// </list>
    /// <para>
    /// Pointing a database at a real local libSQL server: set <see cref="HostnameFor"/> so that the database's
    /// <c>Hostname</c> is the server's <c>127.0.0.1:PORT</c>, e.g.
    /// <c>api.HostnameFor = name =&gt; name == "main" ? "127.0.0.1:" + sqldPort : api.DefaultHostname(name);</c>.
    /// The Platform API only reports hostnames, and clients build <c>libsql://&lt;Hostname&gt;</c> from them; TursoBackup's
    /// client turns a loopback hostname into <c>http://127.0.0.1:PORT</c> instead (a local sqld / <c>tursodb --sync-server</c>
    /// speaks plain HTTP), so a branch's URL reaches the local server with no further setup. Since the hostname is computed on
    /// every answer, a test can also repoint a database after it was created (e.g. a branch the test then serves locally).
    /// </para>
    /// </summary>
    public sealed class PlatformApiStandIn : IDisposable
    {
        private readonly object gate = new object();
        private readonly HttpListener listener;
        private readonly Task loop;
        private readonly OpenApiDocument document;
        private readonly List<StandInDatabase> databases = new List<StandInDatabase>();
        private readonly Dictionary<string, string> groups = new Dictionary<string, string>(StringComparer.Ordinal) { ["default"] = "aws-us-east-1" };
        private readonly List<IssuedToken> tokens = new List<IssuedToken>();
        private readonly List<RecordedRequest> requests = new List<RecordedRequest>();
        private readonly List<string> violations = new List<string>();
        private readonly List<Fault> faults = new List<Fault>();

        /// <param name="organization">The organization slug the stand-in serves; other slugs get 404 "organization not found".</param>
        /// <param name="documentPath">The OpenAPI document; by default tests/specs/turso-platform-openapi.json above the test binaries.</param>
        public PlatformApiStandIn(string organization = "acme", string documentPath = null)
        {
            Organization = organization;
            ApiToken = "standin-api-token-" + Guid.NewGuid().ToString("N");
            HostnameFor = DefaultHostname;
            TokenFactory = FakeJwt;
            document = OpenApiDocument.Load(documentPath ?? DefaultDocumentPath());
            var (l, uri) = Listen();
            listener = l;
            BaseUri = uri;
            loop = Task.Run(() => AcceptLoop());
        }

        // ------------------------------------------------------------------ configuration and state

        /// <summary><c>http://127.0.0.1:PORT</c> — give it to the client as its base URI.</summary>
        public Uri BaseUri { get; }

        public string Organization { get; }

        /// <summary>The only API token the stand-in accepts; any other Bearer token gets 401.</summary>
        public string ApiToken { get; set; }

        /// <summary>What validateAPIToken reports as the token's expiry (null: <c>-1</c>, never).</summary>
        public DateTimeOffset? ApiTokenExpiresAt { get; set; }

        /// <summary>The organization's plan (<c>plan_id</c>).</summary>
        public string Plan { get; set; } = "scaler";

        /// <summary>The stand-in's clock (creation times, the restore window, "in the future").</summary>
        public Func<DateTimeOffset> Clock { get; set; } = () => DateTimeOffset.UtcNow;

        /// <summary>How far back a seed timestamp may go (the plan's point-in-time window; the document says 24 hours, or 30 days on scaler).</summary>
        public TimeSpan RestoreWindow { get; set; } = TimeSpan.FromHours(24);

        /// <summary>
        /// A database's <c>Hostname</c>, computed on every answer; <see cref="DefaultHostname"/> (<c>name-org.turso.io</c>) unless
        /// replaced. Return <c>127.0.0.1:PORT</c> to point a database at a local libSQL server (see the class summary).
        /// </summary>
        public Func<string, string> HostnameFor { get; set; }

        /// <summary>Makes the <c>jwt</c> of createDatabaseToken from (database, authorization, expiration); a random JWT-shaped string by default.</summary>
        public Func<string, string, string, string> TokenFactory { get; set; }

        /// <summary>Rejects request-body properties the document does not declare (default true).</summary>
        public bool StrictRequestProperties { get; set; } = true;

        public string DefaultHostname(string name) => $"{name}-{Organization}.turso.io";

        public StandInDatabase AddDatabase(string name, string group = "default", DateTimeOffset? createdAt = null)
        {
            lock (gate)
            {
                if (!groups.ContainsKey(group)) groups[group] = "aws-us-east-1";
                var db = new StandInDatabase
                {
                    Name = name,
                    DbId = Guid.NewGuid().ToString(),
                    Group = group,
                    PrimaryRegion = groups[group],
                    CreatedAt = createdAt ?? Clock(),
                };
                databases.Add(db);
                return db;
            }
        }

        public void AddGroup(string name, string location = "aws-us-east-1")
        {
            lock (gate) groups[name] = location;
        }

        public StandInDatabase Database(string name)
        {
            lock (gate) return databases.FirstOrDefault(d => d.Name == name);
        }

        public IReadOnlyList<StandInDatabase> Databases
        {
            get { lock (gate) return databases.ToList(); }
        }

        public IReadOnlyList<IssuedToken> Tokens
        {
            get { lock (gate) return tokens.ToList(); }
        }

        /// <summary>Every request so far, in arrival order.</summary>
        public IReadOnlyList<RecordedRequest> Requests
        {
            get { lock (gate) return requests.ToList(); }
        }

        /// <summary>Every departure from the OpenAPI document so far (requests the document does not allow; answers of the stand-in that do not match it).</summary>
        public IReadOnlyList<string> Violations
        {
            get { lock (gate) return violations.ToList(); }
        }

        /// <summary>The next <paramref name="count"/> requests (of <paramref name="operationId"/> if given) get 429 with <c>Retry-After: seconds</c>.</summary>
        public void RateLimitNext(int count, int retryAfterSeconds = 1, string operationId = null) =>
            FailNext(count, 429, retryAfterSeconds, null, operationId);

        /// <summary>The next <paramref name="count"/> requests get a 5xx (503 by default) without Retry-After.</summary>
        public void ServerErrorNext(int count = 1, int status = 503, string operationId = null) =>
            FailNext(count, status, null, null, operationId);

        /// <summary>
        /// The next <paramref name="count"/> (matching) requests get <paramref name="status"/>, with Retry-After in seconds or as
        /// an HTTP date if given. With <paramref name="applied"/> the operation is carried out first and only its answer is
        /// lost (a gateway failing after the API did the work), as when a create "fails" but the database exists.
        /// </summary>
        public void FailNext(int count, int status, int? retryAfterSeconds = null, DateTimeOffset? retryAfterDate = null, string operationId = null, bool applied = false)
        {
            lock (gate) faults.Add(new Fault { Remaining = count, Status = status, RetryAfterSeconds = retryAfterSeconds, RetryAfterDate = retryAfterDate, OperationId = operationId, Applied = applied });
        }

        public void Dispose()
        {
            try { listener.Stop(); listener.Close(); } catch (ObjectDisposedException) { } catch (HttpListenerException) { }
            try { loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
            if (uploadFolder != null) { try { Directory.Delete(uploadFolder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { } }
        }

        /// <summary>The document in the repository (the folder holding TursoBackup.sln): tests/specs/.</summary>
        public static string DefaultDocumentPath() => Path.Combine(TursoBackup.TestSupport.Repo.Root, "tests", "specs", "turso-platform-openapi.json");

        // ------------------------------------------------------------------ HTTP

        private static (HttpListener, Uri) Listen() => TursoBackup.TestSupport.Ports.StartHttpListener();

        private async Task AcceptLoop()
        {
            while (true)
            {
                HttpListenerContext context;
                try { context = await listener.GetContextAsync().ConfigureAwait(false); }
                catch (Exception ex) when (ex is HttpListenerException || ex is ObjectDisposedException || ex is InvalidOperationException) { return; }
                _ = Task.Run(() => Serve(context));
            }
        }

        private void Serve(HttpListenerContext context)
        {
            if (IsUploadPath(context.Request.Url.AbsolutePath)) { ServeUpload(context); return; }
            var request = context.Request;
            var response = context.Response;
            try
            {
                string body;
                using (var reader = new StreamReader(request.InputStream, request.ContentEncoding ?? Encoding.UTF8)) body = reader.ReadToEnd();
                var answer = Handle(request, body);
                byte[] bytes = Encoding.UTF8.GetBytes(answer.Body ?? "");
                response.StatusCode = answer.Status;
                response.ContentType = "application/json";
                foreach (var h in answer.Headers) response.Headers[h.Key] = h.Value;
                response.ContentLength64 = bytes.Length;
                response.OutputStream.Write(bytes, 0, bytes.Length);
            }
            catch (Exception ex)
            {
                lock (gate) violations.Add("stand-in failure: " + ex);
                try { response.StatusCode = 500; } catch (InvalidOperationException) { }
            }
            finally
            {
                try { response.Close(); } catch (Exception) { }
            }
        }

        private sealed class Answer
        {
            public int Status;
            public string Body;
            public Dictionary<string, string> Headers = new Dictionary<string, string>();
        }

        private Answer Handle(HttpListenerRequest request, string body)
        {
            string method = request.HttpMethod.ToUpperInvariant();
            string path = request.Url.AbsolutePath;
            var query = ParseQuery(request.Url.Query);
            var record = new RecordedRequest
            {
                Method = method,
                Path = path,
                Query = request.Url.Query.TrimStart('?'),
                QueryParameters = query,
                Body = RedactBody(body),
                ContentType = request.ContentType,
            };
            string auth = request.Headers["Authorization"];
            foreach (string key in request.Headers.AllKeys)
            {
                string value = request.Headers[key];
                if (string.Equals(key, "Authorization", StringComparison.OrdinalIgnoreCase))
                {
                    int space = value.IndexOf(' ');
                    value = (space > 0 ? value.Substring(0, space) : "?") + " <redacted>";
                }
                else if (!string.IsNullOrEmpty(ApiToken) && value.Contains(ApiToken))
                {
                    value = value.Replace(ApiToken, "<redacted>");
                }
                record.Headers[key] = value;
            }
            if (auth != null && auth.StartsWith("Bearer ", StringComparison.Ordinal)) record.AuthorizationScheme = "Bearer";
            lock (gate) requests.Add(record);

            Answer answer = Dispatch(record, method, path, query, body, auth);
            record.Status = answer.Status;
            return answer;
        }

        private Answer Dispatch(RecordedRequest record, string method, string path, Dictionary<string, string> query, string body, string auth)
        {
            var match = document.Match(method, path, out var pathParams, out bool pathKnown);
            if (match == null)
            {
                Violate(record, pathKnown
                    ? $"{method} is not an operation of {path} in the OpenAPI document"
                    : $"no path of the OpenAPI document matches {path}");
                return Error(pathKnown ? 405 : 404, "the Platform API has no such operation");
            }
            record.OperationId = match.OperationId;
            string where = $"{method} {match.Template} ({match.OperationId})";

            // bearerAuth: the document's only security scheme.
            if (auth == null || !auth.StartsWith("Bearer ", StringComparison.Ordinal) || auth.Length <= 7)
            {
                Violate(record, $"{where}: no 'Authorization: Bearer <token>' header (bearerAuth)");
                return Error(401, "missing bearer token");
            }

            var problems = new List<string>();
            foreach (var p in match.Parameters)
            {
                string name = p.GetProperty("name").GetString();
                string location = p.GetProperty("in").GetString();
                bool required = p.TryGetProperty("required", out var r) && r.ValueKind == JsonValueKind.True;
                string value = null;
                if (location == "path") pathParams.TryGetValue(name, out value);
                else if (location == "query") query.TryGetValue(name, out value);
                if (value == null)
                {
                    if (required) problems.Add($"required {location} parameter '{name}' is missing");
                    continue;
                }
                if (p.TryGetProperty("schema", out var schema)) SchemaCheck.CheckText(document.Root, schema, value, $"{location} parameter '{name}'", problems);
            }
            foreach (var name in query.Keys)
            {
                if (!match.Parameters.Any(p => p.GetProperty("in").GetString() == "query" && p.GetProperty("name").GetString() == name))
                {
                    problems.Add($"query parameter '{name}' is not declared by the operation");
                }
            }

            JsonElement? json = null;
            var requestBody = match.RequestBody;
            if (string.IsNullOrEmpty(body))
            {
                if (requestBody.HasValue && requestBody.Value.TryGetProperty("required", out var req) && req.ValueKind == JsonValueKind.True)
                {
                    problems.Add("the operation requires a JSON body, and there is none");
                }
            }
            else if (!requestBody.HasValue)
            {
                problems.Add("the operation takes no request body, but one was sent");
            }
            else
            {
                string contentType = record.ContentType ?? "";
                if (!contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)) problems.Add($"the body's Content-Type is '{contentType}', not application/json");
                try
                {
                    using (var doc = JsonDocument.Parse(body)) json = doc.RootElement.Clone();
                }
                catch (JsonException ex)
                {
                    problems.Add("the body is not JSON: " + ex.Message);
                }
                if (json.HasValue)
                {
                    var schema = requestBody.Value.GetProperty("content").GetProperty("application/json").GetProperty("schema");
                    SchemaCheck.Check(document.Root, schema, json.Value, "body", problems, StrictRequestProperties);
                }
            }
            if (problems.Count > 0)
            {
                foreach (var problem in problems) Violate(record, $"{where}: {problem}");
                return Error(400, string.Join("; ", problems));
            }

            var fault = TakeFault(match.OperationId);
            Answer faulted = null;
            if (fault != null)
            {
                faulted = Error(fault.Status, fault.Status == 429 ? "rate limit exceeded" : "internal error");
                if (fault.RetryAfterSeconds.HasValue) faulted.Headers["Retry-After"] = fault.RetryAfterSeconds.Value.ToString(CultureInfo.InvariantCulture);
                else if (fault.RetryAfterDate.HasValue) faulted.Headers["Retry-After"] = fault.RetryAfterDate.Value.ToUniversalTime().ToString("r", CultureInfo.InvariantCulture);
                if (!fault.Applied) return faulted;
            }
            if (auth.Substring(7) != ApiToken) return Error(401, "token is not valid");
            record.TokenAccepted = true;

            Answer answer;
            lock (gate) answer = Operate(match.OperationId, pathParams, query, json);
            CheckAnswer(record, match, answer);
            return faulted ?? answer;
        }

        private Answer Operate(string operationId, Dictionary<string, string> p, Dictionary<string, string> query, JsonElement? body)
        {
            if (p.TryGetValue("organizationSlug", out var org) && org != Organization) return Error(404, "organization not found");
            p.TryGetValue("databaseName", out var name);
            var db = name == null ? null : databases.FirstOrDefault(d => d.Name == name);
            DateTimeOffset now = Clock();
            switch (operationId)
            {
                case "validateAPIToken":
                    return Ok(new JsonObject { ["exp"] = ApiTokenExpiresAt?.ToUnixTimeSeconds() ?? -1 });
                case "getOrganization":
                    return Ok(new JsonObject
                    {
                        ["organization"] = new JsonObject
                        {
                            ["name"] = Organization,
                            ["slug"] = Organization,
                            ["type"] = "team",
                            ["overages"] = false,
                            ["require_mfa"] = false,
                            ["blocked_reads"] = false,
                            ["blocked_writes"] = false,
                            ["plan_id"] = Plan,
                            ["plan_timeline"] = "monthly",
                            ["platform"] = "",
                        },
                    });
                case "listDatabases":
                    {
                        IEnumerable<StandInDatabase> list = databases;
                        if (query.TryGetValue("group", out var g)) list = list.Where(d => d.Group == g);
                        if (query.TryGetValue("parent", out var parent)) list = list.Where(d => d.ParentId == parent);
                        return Ok(new JsonObject { ["databases"] = new JsonArray(list.Select(d => (JsonNode)DatabaseJson(d)).ToArray()) });
                    }
                case "getDatabase":
                    return db == null ? NoDatabase(name) : Ok(new JsonObject { ["database"] = DatabaseJson(db) });
                case "deleteDatabase":
                    if (db == null) return NoDatabase(name);
                    if (db.DeleteProtection) return Error(400, "database has delete protection enabled");
                    databases.Remove(db);
                    return Ok(new JsonObject { ["database"] = db.Name });
                case "createDatabase":
                    return CreateDatabase(body.Value, now);
                case "createDatabaseToken":
                    {
                        if (db == null) return NoDatabase(name);
                        string expiration = query.TryGetValue("expiration", out var e) ? e : "never";
                        string authorization = query.TryGetValue("authorization", out var a) ? a : "full-access";
                        if (!Regex.IsMatch(expiration, "^(never|([0-9]+[wdhms])+)$")) return Error(400, "Invalid expiration format");
                        string jwt = TokenFactory(db.Name, authorization, expiration);
                        tokens.Add(new IssuedToken { Database = db.Name, Authorization = authorization, Expiration = expiration, Jwt = jwt, IssuedAt = now });
                        return Ok(new JsonObject { ["jwt"] = jwt });
                    }
                default:
                    return Error(501, $"the stand-in does not implement {operationId}");
            }
        }

        private Answer CreateDatabase(JsonElement body, DateTimeOffset now)
        {
            string name = body.GetProperty("name").GetString();
            string group = body.GetProperty("group").GetString();
            if (!Regex.IsMatch(name, "^[a-z0-9-]{1,64}$")) return Error(400, "invalid database name: use lowercase letters, numbers and dashes, at most 64 characters");
            if (databases.Any(d => d.Name == name)) return Error(409, $"database with name {name} already exists");
            if (!groups.ContainsKey(group)) return Error(400, "group not found");
            var created = new StandInDatabase { Name = name, DbId = Guid.NewGuid().ToString(), Group = group, PrimaryRegion = groups[group], CreatedAt = now };
            if (body.TryGetProperty("seed", out var uploadSeed) && uploadSeed.TryGetProperty("type", out var uploadType) && uploadType.GetString() == "database_upload")
            {
                // Waits, empty, for a file on its own host (see the upload endpoints below).
                created.SeedType = "database_upload";
            }
            else if (body.TryGetProperty("seed", out var seed))
            {
                string type = seed.TryGetProperty("type", out var t) ? t.GetString() : null;
                if (type != "database") return Error(400, $"the stand-in does not support seed type '{type}'");
                string sourceName = seed.TryGetProperty("name", out var n) ? n.GetString() : null;
                if (sourceName == null) return Error(400, "seed name is required for seed type database");
                var source = databases.FirstOrDefault(d => d.Name == sourceName);
                if (source == null) return Error(400, $"seed database {sourceName} not found");
                DateTimeOffset branchedAt = now;
                if (seed.TryGetProperty("timestamp", out var ts))
                {
                    string text = ts.GetString();
                    if (!DateTimeOffset.TryParseExact(text, new[] { "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK" }, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
                    {
                        return Error(400, $"invalid timestamp format '{text}': use ISO 8601, e.g. 2023-12-20T09:46:08Z");
                    }
                    at = at.ToUniversalTime();
                    if (at > now) return Error(400, $"timestamp {Iso(at)} is in the future");
                    var earliest = source.CreatedAt > now - RestoreWindow ? source.CreatedAt : now - RestoreWindow;
                    earliest = new DateTimeOffset((earliest.UtcTicks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);
                    if (at < earliest)
                    {
                        return Error(400, $"timestamp {Iso(at)} is outside the restore window of database {sourceName}: the earliest restore point is {Iso(earliest)}");
                    }
                    branchedAt = at;
                    created.SeedTimestamp = at;
                }
                created.ParentId = source.DbId;
                created.ParentName = source.Name;
                created.BranchedAt = branchedAt;
            }
            databases.Add(created);
            return Ok(new JsonObject
            {
                ["database"] = new JsonObject { ["DbId"] = created.DbId, ["Hostname"] = HostnameFor(created.Name), ["Name"] = created.Name },
            });
        }

        private JsonObject DatabaseJson(StandInDatabase d) => new JsonObject
        {
            ["Name"] = d.Name,
            ["DbId"] = d.DbId,
            ["Hostname"] = HostnameFor(d.Name),
            ["block_reads"] = d.BlockReads,
            ["block_writes"] = d.BlockWrites,
            ["regions"] = new JsonArray(JsonValue.Create(d.PrimaryRegion)),
            ["primaryRegion"] = d.PrimaryRegion,
            ["group"] = d.Group,
            ["delete_protection"] = d.DeleteProtection,
            ["parent"] = d.ParentId == null ? null : new JsonObject
            {
                ["id"] = d.ParentId,
                ["name"] = d.ParentName,
                ["branched_at"] = d.BranchedAt?.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
            },
        };

        /// <summary>The stand-in's own answer must match the document's response schema for that status, when it declares one.</summary>
        private void CheckAnswer(RecordedRequest record, OpenApiDocument.Operation op, Answer answer)
        {
            var schema = op.ResponseSchema(answer.Status);
            if (!schema.HasValue) return;
            var problems = new List<string>();
            using (var doc = JsonDocument.Parse(answer.Body)) SchemaCheck.Check(document.Root, schema.Value, doc.RootElement, "response", problems, true);
            foreach (var problem in problems) Violate(record, $"stand-in answer to {op.Method} {op.Template} ({answer.Status}): {problem}");
        }

        private Fault TakeFault(string operationId)
        {
            lock (gate)
            {
                var fault = faults.FirstOrDefault(f => f.Remaining > 0 && (f.OperationId == null || f.OperationId == operationId));
                if (fault == null) return null;
                if (--fault.Remaining == 0) faults.Remove(fault);
                return fault;
            }
        }

        private void Violate(RecordedRequest record, string violation)
        {
            lock (gate)
            {
                record.Violations.Add(violation);
                violations.Add(violation);
            }
        }

        private static Answer Ok(JsonObject body) => new Answer { Status = 200, Body = body.ToJsonString() };

        private static Answer Error(int status, string message) =>
            new Answer { Status = status, Body = new JsonObject { ["error"] = message }.ToJsonString() };

        private static Answer NoDatabase(string name) => Error(404, $"could not find database with name {name}: record not found");

        private static string Iso(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

        private static Dictionary<string, string> ParseQuery(string query)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var part in (query ?? "").TrimStart('?').Split(new[] { '&' }, StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = part.IndexOf('=');
                string key = Uri.UnescapeDataString((eq < 0 ? part : part.Substring(0, eq)).Replace('+', ' '));
                string value = eq < 0 ? "" : Uri.UnescapeDataString(part.Substring(eq + 1).Replace('+', ' '));
                result[key] = value;
            }
            return result;
        }

        private static string RedactBody(string body) =>
            string.IsNullOrEmpty(body) ? body : Regex.Replace(body, "(\"encryption_key\"\\s*:\\s*\")[^\"]*\"", "$1<redacted>\"");

        /// <summary>"1h", "30m", "1d12h" as a TimeSpan; null for "never".</summary>
        private static TimeSpan? Lifetime(string expiration)
        {
            if (string.IsNullOrEmpty(expiration) || expiration == "never") return null;
            var total = TimeSpan.Zero;
            foreach (Match m in Regex.Matches(expiration, "([0-9]+)([wdhms])"))
            {
                long n = long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                total += m.Groups[2].Value switch { "w" => TimeSpan.FromDays(7 * n), "d" => TimeSpan.FromDays(n), "h" => TimeSpan.FromHours(n), "m" => TimeSpan.FromMinutes(n), _ => TimeSpan.FromSeconds(n) };
            }
            return total;
        }

        private static string FakeJwt(string database, string authorization, string expiration)
        {
            string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            string header = B64(Encoding.UTF8.GetBytes("{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}"));
            string payload = B64(Encoding.UTF8.GetBytes(new JsonObject
            {
                ["a"] = authorization == "read-only" ? "ro" : "rw",
                ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                ["id"] = database,
            }.ToJsonString()));
            var signature = new byte[64];
            RandomNumberGenerator.Fill(signature);
            return header + "." + payload + "." + B64(signature);
        }

        private sealed class Fault
        {
            public int Remaining;
            public int Status;
            public int? RetryAfterSeconds;
            public DateTimeOffset? RetryAfterDate;
            public string OperationId;
            public bool Applied;
        }

        // ------------------------------------------------------------------ uploads (the database host; a stand-in, not Turso)

        // The upload endpoints belong to a database's own host, not to the Platform API, and are not in the OpenAPI
        // document. The stand-in serves them on the same listener after /work/shared/specs/turso-upload.md (what the Turso
        // CLI sends): POST /v1/upload (raw file, Content-Length), PUT /v2/upload/start {"db_size_bytes": N} → {"chunk_size": C},
        // PUT /v2/upload/chunk/{n}, PUT /v2/upload/finalize. Point databases here with
        // api.HostnameFor = _ => api.UploadHostname. The Bearer token must be a full-access token createDatabaseToken issued;
        // its database is the one uploaded to. The stand-in is stricter than what Turso documents: it answers 400 to any
        // file that is not a SQLite database in WAL mode with 4096-byte pages, no auto-vacuum and UTF-8 text (what the CLI
        // checks before uploading), and records such a file in Violations, since a client should never send one.

        private readonly List<UploadFault> uploadFaults = new List<UploadFault>();
        private string uploadFolder;
        private readonly Dictionary<string, Multipart> multiparts = new Dictionary<string, Multipart>(StringComparer.Ordinal);

        /// <summary>The <c>127.0.0.1:PORT</c> of this listener: give it as a database's hostname to upload here.</summary>
        public string UploadHostname => BaseUri.Authority;

        /// <summary>The <c>chunk_size</c> the v2 start answers (default 1 MiB).</summary>
        public long UploadChunkSize { get; set; } = 1024 * 1024;

        /// <summary>
        /// The next <paramref name="count"/> upload requests of <paramref name="step"/> (<c>upload</c> for POST /v1/upload,
        /// <c>start</c>, <c>chunk/N</c>, <c>finalize</c>; null: any) get <paramref name="status"/>, after their body was read.
        /// </summary>
        public void FailUpload(int status, string step = null, int count = int.MaxValue)
        {
            lock (gate) uploadFaults.Add(new UploadFault { Status = status, Step = step, Remaining = count });
        }

        /// <summary>Where uploaded files are kept (removed with the stand-in).</summary>
        public string UploadFolder
        {
            get
            {
                lock (gate)
                {
                    if (uploadFolder == null)
                    {
                        uploadFolder = Path.Combine(Path.GetTempPath(), "tb-standin-uploads-" + Guid.NewGuid().ToString("N"));
                        Directory.CreateDirectory(uploadFolder);
                    }
                    return uploadFolder;
                }
            }
        }

        private static bool IsUploadPath(string path) =>
            path == "/v1/upload" || path.StartsWith("/v2/upload/", StringComparison.Ordinal);

        private void ServeUpload(HttpListenerContext context)
        {
            var request = context.Request;
            var response = context.Response;
            try
            {
                var answer = HandleUpload(request);
                byte[] bytes = Encoding.UTF8.GetBytes(answer.Body ?? "");
                response.StatusCode = answer.Status;
                if (bytes.Length > 0) response.ContentType = "application/json";
                response.ContentLength64 = bytes.Length;
                response.OutputStream.Write(bytes, 0, bytes.Length);
            }
            catch (Exception ex)
            {
                lock (gate) violations.Add("stand-in failure: " + ex);
                try { response.StatusCode = 500; } catch (InvalidOperationException) { }
            }
            finally
            {
                try { response.Close(); } catch (Exception) { }
            }
        }

        private Answer HandleUpload(HttpListenerRequest request)
        {
            string method = request.HttpMethod.ToUpperInvariant();
            string path = request.Url.AbsolutePath;
            var record = new RecordedRequest
            {
                Method = method,
                Path = path,
                Query = request.Url.Query.TrimStart('?'),
                QueryParameters = ParseQuery(request.Url.Query),
                ContentType = request.ContentType,
                ContentLength = request.ContentLength64 >= 0 ? request.ContentLength64 : (long?)null,
                Body = "",
            };
            string auth = request.Headers["Authorization"];
            foreach (string key in request.Headers.AllKeys)
            {
                string value = request.Headers[key];
                if (string.Equals(key, "Authorization", StringComparison.OrdinalIgnoreCase))
                {
                    int space = value.IndexOf(' ');
                    value = (space > 0 ? value.Substring(0, space) : "?") + " <redacted>";
                }
                record.Headers[key] = value;
            }
            if (auth != null && auth.StartsWith("Bearer ", StringComparison.Ordinal)) record.AuthorizationScheme = "Bearer";
            lock (gate) requests.Add(record);

            string step = null;
            var chunk = Regex.Match(path, "^/v2/upload/chunk/([0-9]+)$");
            if (method == "POST" && path == "/v1/upload") step = "upload";
            else if (method == "PUT" && path == "/v2/upload/start") step = "start";
            else if (method == "PUT" && chunk.Success) step = "chunk/" + chunk.Groups[1].Value;
            else if (method == "PUT" && path == "/v2/upload/finalize") step = "finalize";
            record.OperationId = step == null ? null : "stand-in upload " + step;

            string scratch = Path.Combine(UploadFolder, "incoming-" + Guid.NewGuid().ToString("N"));
            try
            {
                long received;
                using (var file = new FileStream(scratch, FileMode.CreateNew, FileAccess.Write))
                {
                    try { request.InputStream.CopyTo(file); }
                    catch (Exception ex) when (ex is HttpListenerException || ex is IOException)
                    {
                        // The client went away mid-body (a cancelled upload): nothing to answer, and not a departure.
                        record.Aborted = true;
                        record.BodyBytes = file.Length;
                        return new Answer { Status = 400, Body = "" };
                    }
                    received = file.Length;
                }
                record.BodyBytes = received;
                if (step == "start" && received > 0) record.Body = File.ReadAllText(scratch);
                var answer = Upload(record, step, chunk, auth, scratch, received);
                record.Status = answer.Status;
                return answer;
            }
            finally
            {
                try { File.Delete(scratch); } catch (IOException) { }
            }
        }

        private Answer Upload(RecordedRequest record, string step, Match chunk, string auth, string body, long received)
        {
            if (step == null)
            {
                Violate(record, $"{record.Method} {record.Path} is not an upload endpoint of a database");
                return Error(404, "not found");
            }
            if (record.ContentLength == null)
            {
                Violate(record, $"{record.Method} {record.Path}: no Content-Length");
                return Error(411, "Content-Length required");
            }
            if (record.ContentLength.Value != received)
            {
                Violate(record, $"{record.Method} {record.Path}: Content-Length {record.ContentLength} but {received} bytes arrived");
                return Error(400, "body shorter or longer than Content-Length");
            }
            lock (gate)
            {
                var fault = uploadFaults.FirstOrDefault(f => f.Remaining > 0 && (f.Step == null || f.Step == step));
                if (fault != null)
                {
                    if (--fault.Remaining == 0) uploadFaults.Remove(fault);
                    return Error(fault.Status, fault.Status == 400 ? "invalid database file" : "internal error");
                }
            }
            string jwt = auth != null && auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth.Substring(7) : null;
            StandInDatabase db;
            lock (gate)
            {
                var issued = jwt == null ? null : tokens.LastOrDefault(t => t.Jwt == jwt);
                if (issued == null || issued.Authorization != "full-access") return Error(401, "Unauthorized");
                // A token is good for its expiration (by the stand-in's Clock), as Turso's JWTs are.
                if (Lifetime(issued.Expiration) is TimeSpan life && Clock() - issued.IssuedAt > life) return Error(401, "token expired");
                record.UploadDatabase = issued.Database;
                db = databases.FirstOrDefault(d => d.Name == issued.Database);
                if (db == null) return Error(404, "database not found");
                if (db.SeedType != "database_upload") return Error(400, "database is not waiting for an upload");
            }
            string final = Path.Combine(UploadFolder, db.Name + "-" + db.DbId + ".db");
            string partial = final + ".partial";
            switch (step)
            {
                case "upload":
                    {
                        string problem = CheckUploadedFile(body);
                        if (problem != null) { Violate(record, "uploaded file: " + problem); return Error(400, "invalid database file: " + problem); }
                        File.Copy(body, final, overwrite: true);
                        lock (gate) { db.UploadedPath = final; db.UploadedBytes = received; }
                        return new Answer { Status = 200, Body = "" };
                    }
                case "start":
                    {
                        long size;
                        try
                        {
                            using (var doc = JsonDocument.Parse(File.ReadAllText(body)))
                            {
                                var root = doc.RootElement;
                                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("db_size_bytes", out var n) || !n.TryGetInt64(out size) || size <= 0
                                    || root.EnumerateObject().Any(p => p.Name != "db_size_bytes"))
                                {
                                    Violate(record, "start: the body must be {\"db_size_bytes\": N} with N > 0");
                                    return Error(400, "invalid start request");
                                }
                            }
                        }
                        catch (Exception ex) when (ex is JsonException || ex is IOException)
                        {
                            Violate(record, "start: the body is not JSON");
                            return Error(400, "invalid start request");
                        }
                        lock (gate) multiparts[db.Name] = new Multipart { Size = size, ChunkSize = UploadChunkSize, Path = partial };
                        using (var f = new FileStream(partial, FileMode.Create, FileAccess.Write)) f.SetLength(size);
                        return Ok(new JsonObject { ["chunk_size"] = UploadChunkSize });
                    }
                case "finalize":
                    {
                        Multipart m;
                        lock (gate) multiparts.TryGetValue(db.Name, out m);
                        if (m == null) { Violate(record, "finalize before start"); return Error(400, "no upload started"); }
                        long chunks = (m.Size + m.ChunkSize - 1) / m.ChunkSize;
                        if (m.Received.Count != chunks) { Violate(record, $"finalize with {m.Received.Count} of {chunks} chunks"); return Error(400, "missing chunks"); }
                        string problem = CheckUploadedFile(m.Path);
                        if (problem != null) { Violate(record, "uploaded file: " + problem); return Error(400, "invalid database file: " + problem); }
                        File.Copy(m.Path, final, overwrite: true);
                        lock (gate) { db.UploadedPath = final; db.UploadedBytes = m.Size; db.UploadedChunks = m.Received.Count; multiparts.Remove(db.Name); }
                        return new Answer { Status = 200, Body = "" };
                    }
                default:
                    {
                        long n = long.Parse(chunk.Groups[1].Value, CultureInfo.InvariantCulture);
                        Multipart m;
                        lock (gate) multiparts.TryGetValue(db.Name, out m);
                        if (m == null) { Violate(record, "chunk before start"); return Error(400, "no upload started"); }
                        long offset = n * m.ChunkSize;
                        long expected = Math.Min(m.ChunkSize, m.Size - offset);
                        if (offset >= m.Size || received != expected)
                        {
                            Violate(record, $"chunk {n}: {received} bytes, expected {Math.Max(0, expected)}");
                            return Error(400, "chunk out of range or of the wrong size");
                        }
                        using (var target = new FileStream(m.Path, FileMode.Open, FileAccess.Write))
                        using (var source = File.OpenRead(body))
                        {
                            target.Position = offset;
                            source.CopyTo(target);
                        }
                        lock (gate) m.Received.Add(n);
                        return new Answer { Status = 200, Body = "" };
                    }
            }
        }

        /// <summary>Null when the file is what the CLI uploads; else what is wrong (read from the database header).</summary>
        private static string CheckUploadedFile(string path)
        {
            var header = new byte[100];
            long length;
            using (var f = File.OpenRead(path))
            {
                length = f.Length;
                if (f.Read(header, 0, 100) < 100) return "shorter than a SQLite header";
            }
            if (Encoding.ASCII.GetString(header, 0, 16) != "SQLite format 3\0") return "not a SQLite database";
            int pageSize = header[16] << 8 | header[17];
            if (pageSize == 1) pageSize = 65536;
            if (pageSize != 4096) return $"page size {pageSize}, not 4096";
            if (header[18] != 2 || header[19] != 2) return "not in WAL mode";
            if (header[52] != 0 || header[53] != 0 || header[54] != 0 || header[55] != 0) return "auto-vacuum is on";
            if (header[56] != 0 || header[57] != 0 || header[58] != 0 || header[59] != 1) return "text encoding is not UTF-8";
            if (length % pageSize != 0) return "length is not a whole number of pages";
            return null;
        }

        private sealed class UploadFault
        {
            public int Status;
            public string Step;
            public int Remaining;
        }

        private sealed class Multipart
        {
            public long Size;
            public long ChunkSize;
            public string Path;
            public HashSet<long> Received = new HashSet<long>();
        }

        // ------------------------------------------------------------------ the OpenAPI document

        /// <summary>The parts of an OpenAPI 3.0 document the stand-in needs: operations by path template and method.</summary>
        private sealed class OpenApiDocument
        {
            private readonly List<Operation> operations = new List<Operation>();

            public JsonElement Root { get; private set; }

            public sealed class Operation
            {
                public string Method;
                public string Template;
                public string OperationId;
                public Regex Pattern;
                public int LiteralSegments;
                public List<JsonElement> Parameters = new List<JsonElement>();
                public JsonElement? RequestBody;
                public JsonElement Responses;
                public JsonElement Root;

                /// <summary>The application/json schema of the response declared for <paramref name="status"/>, if any.</summary>
                public JsonElement? ResponseSchema(int status)
                {
                    if (!Responses.TryGetProperty(status.ToString(CultureInfo.InvariantCulture), out var response)) return null;
                    response = SchemaCheck.Resolve(Root, response);
                    if (response.TryGetProperty("content", out var content) && content.TryGetProperty("application/json", out var media)
                        && media.TryGetProperty("schema", out var schema))
                    {
                        return schema;
                    }
                    return null;
                }
            }

            public static OpenApiDocument Load(string path)
            {
                if (!File.Exists(path)) throw new FileNotFoundException("The Platform API's OpenAPI document is missing: " + path, path);
                var result = new OpenApiDocument();
                using (var doc = JsonDocument.Parse(File.ReadAllText(path))) result.Root = doc.RootElement.Clone();
                var root = result.Root;
                foreach (var pathItem in root.GetProperty("paths").EnumerateObject())
                {
                    var shared = new List<JsonElement>();
                    if (pathItem.Value.TryGetProperty("parameters", out var sp)) shared.AddRange(sp.EnumerateArray().Select(p => SchemaCheck.Resolve(root, p)));
                    string[] segments = pathItem.Name.Split('/');
                    string pattern = "^" + string.Join("/", segments.Select(s =>
                        s.StartsWith("{", StringComparison.Ordinal) && s.EndsWith("}", StringComparison.Ordinal)
                            ? "(?<" + s.Substring(1, s.Length - 2) + ">[^/]+)"
                            : Regex.Escape(s))) + "/?$";
                    foreach (var item in pathItem.Value.EnumerateObject())
                    {
                        if (item.Name == "parameters" || item.Name == "summary" || item.Name == "description" || item.Name == "servers") continue;
                        var op = new Operation
                        {
                            Method = item.Name.ToUpperInvariant(),
                            Template = pathItem.Name,
                            OperationId = item.Value.TryGetProperty("operationId", out var id) ? id.GetString() : item.Name + " " + pathItem.Name,
                            Pattern = new Regex(pattern, RegexOptions.CultureInvariant),
                            LiteralSegments = segments.Count(s => !s.StartsWith("{", StringComparison.Ordinal)),
                            Responses = item.Value.GetProperty("responses"),
                            Root = root,
                        };
                        var own = item.Value.TryGetProperty("parameters", out var ps) ? ps.EnumerateArray().Select(p => SchemaCheck.Resolve(root, p)).ToList() : new List<JsonElement>();
                        op.Parameters.AddRange(own);
                        op.Parameters.AddRange(shared.Where(s => !own.Any(o => o.GetProperty("name").GetString() == s.GetProperty("name").GetString()
                                                                            && o.GetProperty("in").GetString() == s.GetProperty("in").GetString())));
                        if (item.Value.TryGetProperty("requestBody", out var rb)) op.RequestBody = SchemaCheck.Resolve(root, rb);
                        result.operations.Add(op);
                    }
                }
                // Prefer templates with more literal segments (/v1/auth/validate before /v1/organizations/{slug}-like ones).
                result.operations.Sort((a, b) => b.LiteralSegments.CompareTo(a.LiteralSegments));
                return result;
            }

            public Operation Match(string method, string path, out Dictionary<string, string> pathParams, out bool pathKnown)
            {
                pathParams = null;
                pathKnown = false;
                foreach (var op in operations)
                {
                    var m = op.Pattern.Match(path);
                    if (!m.Success) continue;
                    pathKnown = true;
                    if (op.Method != method) continue;
                    pathParams = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var groupName in op.Pattern.GetGroupNames())
                    {
                        if (groupName == "0") continue;
                        pathParams[groupName] = Uri.UnescapeDataString(m.Groups[groupName].Value);
                    }
                    return op;
                }
                return null;
            }
        }

        /// <summary>A small JSON Schema (OpenAPI 3.0 dialect) checker: $ref, allOf/oneOf/anyOf, type, nullable, enum, required, properties, additionalProperties, items, date-time.</summary>
        private static class SchemaCheck
        {
            public static JsonElement Resolve(JsonElement root, JsonElement node)
            {
                for (int hops = 0; node.ValueKind == JsonValueKind.Object && node.TryGetProperty("$ref", out var r); hops++)
                {
                    if (hops > 32) throw new InvalidOperationException("$ref cycle at " + r.GetString());
                    string pointer = r.GetString();
                    if (!pointer.StartsWith("#/", StringComparison.Ordinal)) throw new InvalidOperationException("Only local $refs are supported: " + pointer);
                    var current = root;
                    foreach (var raw in pointer.Substring(2).Split('/'))
                    {
                        string token = raw.Replace("~1", "/").Replace("~0", "~");
                        if (current.ValueKind == JsonValueKind.Array) current = current[int.Parse(token, CultureInfo.InvariantCulture)];
                        else if (!current.TryGetProperty(token, out current)) throw new InvalidOperationException("Unresolvable $ref " + pointer);
                    }
                    node = current;
                }
                return node;
            }

            /// <summary>A parameter's text value against its schema (string, integer, number, boolean, enum).</summary>
            public static void CheckText(JsonElement root, JsonElement schema, string value, string at, List<string> errors)
            {
                schema = Resolve(root, schema);
                string type = schema.TryGetProperty("type", out var t) ? t.GetString() : null;
                if (type == "integer" && !long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)) errors.Add($"{at}: '{value}' is not an integer");
                if (type == "number" && !double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _)) errors.Add($"{at}: '{value}' is not a number");
                if (type == "boolean" && value != "true" && value != "false") errors.Add($"{at}: '{value}' is not true or false");
                if (schema.TryGetProperty("enum", out var e) && !e.EnumerateArray().Any(x => x.ValueKind == JsonValueKind.String ? x.GetString() == value : x.GetRawText() == value))
                {
                    errors.Add($"{at}: '{value}' is not one of {string.Join(", ", e.EnumerateArray().Select(x => x.ToString()))}");
                }
            }

            public static void Check(JsonElement root, JsonElement schema, JsonElement value, string at, List<string> errors, bool strict, int depth = 0)
            {
                if (depth > 64) return;
                schema = Resolve(root, schema);
                if (schema.ValueKind != JsonValueKind.Object) return;
                if (schema.TryGetProperty("allOf", out var allOf))
                {
                    foreach (var part in allOf.EnumerateArray()) Check(root, part, value, at, errors, false, depth + 1);
                }
                foreach (var keyword in new[] { "oneOf", "anyOf" })
                {
                    if (!schema.TryGetProperty(keyword, out var alternatives)) continue;
                    var failures = new List<string>();
                    bool any = false;
                    foreach (var alternative in alternatives.EnumerateArray())
                    {
                        var attempt = new List<string>();
                        Check(root, alternative, value, at, attempt, strict, depth + 1);
                        if (attempt.Count == 0) { any = true; break; }
                        failures.AddRange(attempt);
                    }
                    if (!any) errors.Add($"{at}: matches none of the {keyword} alternatives ({string.Join("; ", failures)})");
                }

                string type = schema.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                bool nullable = schema.TryGetProperty("nullable", out var n) && n.ValueKind == JsonValueKind.True;
                if (value.ValueKind == JsonValueKind.Null)
                {
                    if (!nullable && type != null) errors.Add($"{at}: null is not allowed (type {type})");
                    return;
                }
                bool typeOk;
                switch (type)
                {
                    case null: typeOk = true; break;
                    case "object": typeOk = value.ValueKind == JsonValueKind.Object; break;
                    case "array": typeOk = value.ValueKind == JsonValueKind.Array; break;
                    case "string": typeOk = value.ValueKind == JsonValueKind.String; break;
                    case "integer": typeOk = value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _); break;
                    case "number": typeOk = value.ValueKind == JsonValueKind.Number; break;
                    case "boolean": typeOk = value.ValueKind == JsonValueKind.True || value.ValueKind == JsonValueKind.False; break;
                    default: typeOk = true; break;
                }
                if (!typeOk)
                {
                    errors.Add($"{at}: expected {type}, got {value.ValueKind.ToString().ToLowerInvariant()} {Short(value)}");
                    return;
                }
                if (schema.TryGetProperty("enum", out var e) && !e.EnumerateArray().Any(x => JsonElement.DeepEquals(x, value)))
                {
                    errors.Add($"{at}: {Short(value)} is not one of {string.Join(", ", e.EnumerateArray().Select(x => x.GetRawText()))}");
                }
                if (value.ValueKind == JsonValueKind.String && schema.TryGetProperty("format", out var f) && f.GetString() == "date-time"
                    && !DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _))
                {
                    errors.Add($"{at}: {Short(value)} is not an RFC 3339 date-time");
                }
                if (value.ValueKind == JsonValueKind.Object)
                {
                    if (schema.TryGetProperty("required", out var required))
                    {
                        foreach (var name in required.EnumerateArray())
                        {
                            if (!value.TryGetProperty(name.GetString(), out _)) errors.Add($"{at}: required property '{name.GetString()}' is missing");
                        }
                    }
                    var declared = DeclaredProperties(root, schema);
                    schema.TryGetProperty("additionalProperties", out var additional);
                    foreach (var property in value.EnumerateObject())
                    {
                        if (declared.TryGetValue(property.Name, out var propertySchema))
                        {
                            Check(root, propertySchema, property.Value, at + "." + property.Name, errors, strict, depth + 1);
                        }
                        else if (additional.ValueKind == JsonValueKind.Object)
                        {
                            Check(root, additional, property.Value, at + "." + property.Name, errors, strict, depth + 1);
                        }
                        else if (additional.ValueKind == JsonValueKind.False || (strict && additional.ValueKind != JsonValueKind.True && declared.Count > 0))
                        {
                            errors.Add($"{at}: property '{property.Name}' is not declared by the document (declared: {string.Join(", ", declared.Keys)})");
                        }
                    }
                }
                if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out var items))
                {
                    int i = 0;
                    foreach (var item in value.EnumerateArray()) Check(root, items, item, $"{at}[{i++}]", errors, strict, depth + 1);
                }
            }

            /// <summary>The properties a schema declares, its allOf parts' included.</summary>
            private static Dictionary<string, JsonElement> DeclaredProperties(JsonElement root, JsonElement schema)
            {
                var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                schema = Resolve(root, schema);
                if (schema.TryGetProperty("properties", out var properties))
                {
                    foreach (var p in properties.EnumerateObject()) result[p.Name] = p.Value;
                }
                if (schema.TryGetProperty("allOf", out var allOf))
                {
                    foreach (var part in allOf.EnumerateArray())
                    {
                        foreach (var kv in DeclaredProperties(root, part)) if (!result.ContainsKey(kv.Key)) result[kv.Key] = kv.Value;
                    }
                }
                return result;
            }

            private static string Short(JsonElement value)
            {
                string raw = value.GetRawText();
                return raw.Length > 60 ? raw.Substring(0, 60) + "…" : raw;
            }
        }
    }

    /// <summary>A database held by the stand-in.</summary>
    public sealed class StandInDatabase
    {
        public string Name { get; set; }
        public string DbId { get; set; }
        public string Group { get; set; }
        public string PrimaryRegion { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
        public bool BlockReads { get; set; }
        public bool BlockWrites { get; set; }
        public bool DeleteProtection { get; set; }
        /// <summary>The seed source's name and DbId, for databases created from another one.</summary>
        public string ParentName { get; set; }
        public string ParentId { get; set; }
        public DateTimeOffset? BranchedAt { get; set; }
        /// <summary>The seed's point-in-time timestamp, if one was given.</summary>
        public DateTimeOffset? SeedTimestamp { get; set; }
        /// <summary><c>database_upload</c> for a database created to receive an uploaded file, else null.</summary>
        public string SeedType { get; set; }
        /// <summary>The stand-in's copy of the file uploaded to it (null until an upload completed).</summary>
        public string UploadedPath { get; set; }
        public long UploadedBytes { get; set; }
        /// <summary>How many chunks the v2 upload that completed had (0 for a single POST).</summary>
        public int UploadedChunks { get; set; }
    }

    /// <summary>A database token the stand-in issued (createDatabaseToken).</summary>
    public sealed class IssuedToken
    {
        public string Database { get; set; }
        public string Authorization { get; set; }
        public string Expiration { get; set; }
        public string Jwt { get; set; }
        public DateTimeOffset IssuedAt { get; set; }
    }

    /// <summary>One request the stand-in received. Headers never hold the API token (Authorization keeps only its scheme).</summary>
    public sealed class RecordedRequest
    {
        public string Method { get; set; }
        /// <summary>The path as sent (percent-encoded), without the query.</summary>
        public string Path { get; set; }
        /// <summary>The query string as sent, without '?'.</summary>
        public string Query { get; set; }
        public Dictionary<string, string> QueryParameters { get; set; } = new Dictionary<string, string>();
        public Dictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        public string ContentType { get; set; }
        /// <summary>The JSON body as sent (encryption keys redacted), or empty.</summary>
        public string Body { get; set; }
        /// <summary>"Bearer" when the Authorization header used that scheme.</summary>
        public string AuthorizationScheme { get; set; }
        /// <summary>True when the Bearer token was <see cref="PlatformApiStandIn.ApiToken"/>.</summary>
        public bool TokenAccepted { get; set; }
        /// <summary>The document's operationId the request matched, or null.</summary>
        public string OperationId { get; set; }
        public int Status { get; set; }
        /// <summary>What about this request the document does not allow (empty when it was accepted).</summary>
        public List<string> Violations { get; } = new List<string>();
        /// <summary>Upload requests: the Content-Length header (null when none), the bytes that arrived, and the database the token was for.</summary>
        public long? ContentLength { get; set; }
        public long BodyBytes { get; set; }
        public string UploadDatabase { get; set; }
        /// <summary>The client closed the connection before the whole body arrived (nothing was stored).</summary>
        public bool Aborted { get; set; }

        public override string ToString() => $"{Method} {Path}{(string.IsNullOrEmpty(Query) ? "" : "?" + Query)} → {Status}";
    }
}
