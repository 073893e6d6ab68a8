using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Wal;

namespace TursoBackup.Engine.Cloud
{
    /// <summary>
    /// A client of the Turso Platform API (https://api.turso.tech) for one organization, built against the API's OpenAPI
    /// document (tests/specs/turso-platform-openapi.json): listDatabases, getDatabase, createDatabase (branches: a
    /// <c>seed</c> of type <c>database</c> with an optional <c>timestamp</c>), deleteDatabase, createDatabaseToken,
    /// validateAPIToken and getOrganization.
    /// <para>
    /// Rate limits (429) and server failures (5xx), timeouts and unreachable hosts are retried with exponential backoff,
    /// honouring <c>Retry-After</c> (seconds or an HTTP date), at most <see cref="MaxAttempts"/> times. Every failure is a
    /// <see cref="TursoBackupException"/> whose message says what happened and what to do next. The API token and the
    /// database tokens it issues never appear in messages, <see cref="Log"/> lines or <see cref="ToString"/>.
    /// </para>
    /// Public methods are synchronous (for cmdlets) with <c>Async</c> twins; all honour a <see cref="CancellationToken"/>
    /// (cancellation surfaces as <see cref="OperationCanceledException"/>).
    /// </summary>
    public sealed class TursoCloudClient : IDisposable
    {
        public static readonly Uri DefaultBaseUri = new Uri("https://api.turso.tech");

        internal const string RefusedTokenMessage =
            "The Turso API token was refused (it is invalid, expired or revoked). Create one with `turso auth api-tokens mint <name>` and pass -ApiToken or set TURSO_API_TOKEN.";

        private static readonly Regex DatabaseName = new Regex("^[a-z0-9-]{1,64}$", RegexOptions.CultureInvariant);
        private static readonly Regex ExpirationFormat = new Regex("^(never|([0-9]+[wdhms])+)$", RegexOptions.CultureInvariant);
        private static readonly Regex JwtLike = new Regex(@"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]*)?", RegexOptions.CultureInvariant);
        private static readonly Regex IsoInText = new Regex(@"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", RegexOptions.CultureInvariant);

        private readonly HttpClient http;
        private readonly string apiToken;
        private readonly RetryingHttpSender sender;
        private readonly string baseText;
        private readonly Func<TimeSpan, CancellationToken, Task> delay;

        static TursoCloudClient()
        {
            // Windows PowerShell 5.1 (.NET Framework) may still default to TLS 1.0/1.1, which api.turso.tech refuses.
            try
            {
                if (System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription.StartsWith(".NET Framework", StringComparison.Ordinal))
                {
                    ServicePointManager.SecurityProtocol |= SecurityProtocolType.Tls12;
                }
            }
            catch (NotSupportedException) { }
        }

        /// <param name="organization">The organization slug (<c>turso org list</c>), e.g. from TURSO_ORG.</param>
        /// <param name="apiToken">A Platform API token (<c>turso auth api-tokens mint</c>), e.g. from TURSO_API_TOKEN.</param>
        /// <param name="baseUri">The API's address; <see cref="DefaultBaseUri"/> when null (tests point it at a stand-in).</param>
        /// <param name="handler">The HTTP handler to send through (not disposed by the client); a new one when null.</param>
        /// <param name="delay">How to wait between attempts; <c>Task.Delay</c> when null (tests record the waits instead).</param>
        public TursoCloudClient(string organization, string apiToken, Uri baseUri = null, HttpMessageHandler handler = null,
            Func<TimeSpan, CancellationToken, Task> delay = null)
        {
            if (string.IsNullOrWhiteSpace(organization))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    "No Turso organization was given. Pass -Organization with the organization's slug (`turso org list` shows it) or set TURSO_ORG.");
            }
            if (string.IsNullOrWhiteSpace(apiToken))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    "No Turso API token was given. Create one with `turso auth api-tokens mint <name>` and pass -ApiToken or set TURSO_API_TOKEN.");
            }
            baseUri = baseUri ?? DefaultBaseUri;
            if (!baseUri.IsAbsoluteUri || (baseUri.Scheme != Uri.UriSchemeHttps && baseUri.Scheme != Uri.UriSchemeHttp))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{baseUri}' is not an http(s) address of the Turso Platform API. Leave -BaseUri out to use {DefaultBaseUri}.", baseUri);
            }
            if (baseUri.Scheme == Uri.UriSchemeHttp && !baseUri.IsLoopback)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{baseUri}' would send the API token unencrypted over the network. Use an https:// address (plain http is allowed only for a loopback stand-in).", baseUri);
            }
            Organization = organization.Trim();
            this.apiToken = apiToken.Trim();
            baseText = baseUri.GetLeftPart(UriPartial.Path).TrimEnd('/');
            BaseUri = new Uri(baseText);
            http = handler == null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
            this.delay = delay;
            sender = new RetryingHttpSender(http, delay, Redact)
            {
                Name = "Turso API", MaxAttempts = 5, RequestTimeout = TimeSpan.FromSeconds(60),
                Clock = () => Clock(), Log = line => Log?.Invoke(line),
            };
            http.Timeout = System.Threading.Timeout.InfiniteTimeSpan; // per attempt: RequestTimeout
            http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            string version = typeof(TursoCloudClient).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
            http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("TursoBackup", version));
        }

        /// <summary>The organization slug every call is made for.</summary>
        public string Organization { get; }

        /// <summary>The API address (no trailing slash).</summary>
        public Uri BaseUri { get; }

        /// <summary>Verbose narration (requests, waits, results). Never given a token.</summary>
        public Action<string> Log { get; set; }

        /// <summary>Attempts per call, the first included, before a 429/5xx/unreachable API is reported (default 5).</summary>
        public int MaxAttempts { get => sender.MaxAttempts; set => sender.MaxAttempts = value; }

        /// <summary>The first wait of the exponential backoff when the API gives no Retry-After (default 1 s, then 2, 4, …).</summary>
        public TimeSpan InitialBackoff { get => sender.InitialBackoff; set => sender.InitialBackoff = value; }

        /// <summary>The longest backoff wait (default 30 s).</summary>
        public TimeSpan MaxBackoff { get => sender.MaxBackoff; set => sender.MaxBackoff = value; }

        /// <summary>The longest Retry-After the client waits for; a longer one is reported at once (default 2 min).</summary>
        public TimeSpan MaxRetryAfter { get => sender.MaxRetryAfter; set => sender.MaxRetryAfter = value; }

        /// <summary>How long one attempt may take before it counts as failed and is retried (default 60 s).</summary>
        public TimeSpan RequestTimeout { get => sender.RequestTimeout; set => sender.RequestTimeout = value; }

        /// <summary>The clock (for "in the future" checks and HTTP-date Retry-After values); tests may replace it.</summary>
        public Func<DateTimeOffset> Clock { get; set; } = () => DateTimeOffset.UtcNow;

        /// <summary>
        /// Turns a database's <c>Hostname</c> into the URL clients connect to; <see cref="DefaultDatabaseUrl"/> unless replaced.
        /// A test that runs a local libSQL server (sqld, <c>tursodb --sync-server</c>) makes the stand-in report
        /// <c>127.0.0.1:PORT</c> as the hostname, and the default already maps that to <c>http://127.0.0.1:PORT</c>;
        /// anything else can be mapped here.
        /// </summary>
        public Func<string, string> DatabaseUrlFor { get; set; } = DefaultDatabaseUrl;

        /// <summary>
        /// <c>libsql://&lt;hostname&gt;</c>, except that a loopback hostname (<c>127.0.0.1:8080</c>, <c>localhost:8080</c>,
        /// <c>[::1]:8080</c>) gives <c>http://&lt;hostname&gt;</c>: Turso never reports a loopback hostname, so one is a local
        /// libSQL server (which serves plain HTTP) standing in for a cloud database in tests.
        /// </summary>
        public static string DefaultDatabaseUrl(string hostname)
        {
            if (string.IsNullOrEmpty(hostname)) return null;
            if (Uri.TryCreate("http://" + hostname, UriKind.Absolute, out var u) && u.IsLoopback) return "http://" + hostname;
            return "libsql://" + hostname;
        }

        /// <summary>
        /// The default name of a cloud branch, after the seed conventions (<c>backup-{yyyyMMdd}</c> for now,
        /// <c>pitr-{yyyyMMddTHHmmssZ}</c> at a timestamp) in lower case, as Turso database names must be.
        /// </summary>
        public static string DefaultBranchName(DateTimeOffset? timestamp, DateTimeOffset now) =>
            LocalBranches.DefaultName(timestamp, now).ToLowerInvariant();

        /// <summary>
        /// A token lifetime in the API's <c>expiration</c> format: null → <c>never</c>, else e.g. <c>7d</c>, <c>1d2h30m</c>
        /// (whole minutes, rounded up; at least one minute).
        /// </summary>
        public static string FormatExpiration(TimeSpan? lifetime)
        {
            if (lifetime == null) return "never";
            if (lifetime.Value <= TimeSpan.Zero)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"A token lifetime must be positive, not {lifetime.Value}. Give e.g. -Expiration (New-TimeSpan -Days 7), or 'never'.", lifetime.Value);
            }
            long minutes = Math.Max(1, (long)Math.Ceiling(lifetime.Value.TotalMinutes));
            var sb = new StringBuilder();
            long days = minutes / (24 * 60), hours = minutes / 60 % 24, mins = minutes % 60;
            if (days > 0) sb.Append(days.ToString(CultureInfo.InvariantCulture)).Append('d');
            if (hours > 0) sb.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
            if (mins > 0) sb.Append(mins.ToString(CultureInfo.InvariantCulture)).Append('m');
            return sb.ToString();
        }

        public override string ToString() => $"Turso Platform API {baseText} (organization '{Organization}')";

        public void Dispose() => http.Dispose();

        // ------------------------------------------------------------------ operations

        /// <summary>Checks the token (validateAPIToken) and the organization (getOrganization).</summary>
        public TursoCloudConnection Validate(CancellationToken cancel = default) => Run(() => ValidateAsync(cancel));

        public async Task<TursoCloudConnection> ValidateAsync(CancellationToken cancel = default)
        {
            var validated = await SendAsync(new ApiCall("check the API token", HttpMethod.Get, "/v1/auth/validate"), cancel).ConfigureAwait(false);
            DateTimeOffset? expires = null;
            if (validated.TryGetValue("exp", out var exp) && exp is long seconds && seconds > 0)
            {
                expires = DateTimeOffset.FromUnixTimeSeconds(seconds);
            }
            var call = new ApiCall($"read organization '{Organization}'", HttpMethod.Get, OrgPath(""));
            var body = await SendAsync(call, cancel).ConfigureAwait(false);
            var org = Obj(body, "organization", call);
            var connection = new TursoCloudConnection
            {
                Organization = Str(org, "slug") ?? Organization,
                OrganizationName = Str(org, "name"),
                OrganizationType = Str(org, "type"),
                Plan = Str(org, "plan_id"),
                BaseUri = BaseUri,
                TokenExpiresAt = expires,
                ConnectedAt = Clock(),
            };
            Say($"Connected to Turso organization '{connection.Organization}' (plan {connection.Plan ?? "unknown"}); the API token "
                + (expires.HasValue ? "expires " + Iso(expires.Value) : "does not expire") + ".");
            return connection;
        }

        /// <summary>The organization's databases, optionally only those of a group or the branches of a parent DbId.</summary>
        public IReadOnlyList<TursoDatabase> ListDatabases(string group = null, string parentId = null, CancellationToken cancel = default) =>
            Run(() => ListDatabasesAsync(group, parentId, cancel));

        public async Task<IReadOnlyList<TursoDatabase>> ListDatabasesAsync(string group = null, string parentId = null, CancellationToken cancel = default)
        {
            var query = new List<string>();
            if (!string.IsNullOrEmpty(group)) query.Add("group=" + Uri.EscapeDataString(group));
            if (!string.IsNullOrEmpty(parentId)) query.Add("parent=" + Uri.EscapeDataString(parentId));
            var call = new ApiCall($"list the databases of organization '{Organization}'", HttpMethod.Get,
                OrgPath("/databases") + (query.Count > 0 ? "?" + string.Join("&", query) : ""));
            var body = await SendAsync(call, cancel).ConfigureAwait(false);
            if (!(body.TryGetValue("databases", out var list) && list is List<object> items))
            {
                throw Unexpected(call, "it has no 'databases' list");
            }
            return items.Select(item => item is Dictionary<string, object> d ? ToDatabase(d) : throw Unexpected(call, "a database entry is not an object")).ToList();
        }

        /// <summary>One database; NotFound when the organization has none of that name.</summary>
        public TursoDatabase GetDatabase(string name, CancellationToken cancel = default) => Run(() => GetDatabaseAsync(name, cancel));

        public async Task<TursoDatabase> GetDatabaseAsync(string name, CancellationToken cancel = default)
        {
            RequireName(name, "-Database");
            var call = new ApiCall($"read database '{name}'", HttpMethod.Get, DbPath(name)) { Database = name };
            var body = await SendAsync(call, cancel).ConfigureAwait(false);
            return ToDatabase(Obj(body, "database", call));
        }

        /// <summary>
        /// Creates the database <paramref name="name"/> from <paramref name="source"/> as of now, or as of
        /// <paramref name="timestamp"/> (sent as ISO 8601 UTC, whole seconds), in <paramref name="group"/> (default: the
        /// source's group). The source is never changed. <paramref name="name"/> null gives <see cref="DefaultBranchName"/>.
        /// </summary>
        public TursoBranch CreateBranch(string source, string name, DateTimeOffset? timestamp, string group, CancellationToken cancel = default) =>
            Run(() => CreateBranchAsync(source, name, timestamp, group, cancel));

        public async Task<TursoBranch> CreateBranchAsync(string source, string name, DateTimeOffset? timestamp, string group, CancellationToken cancel = default)
        {
            RequireName(source, "-Database");
            DateTimeOffset now = Clock();
            DateTimeOffset? at = null;
            if (timestamp.HasValue)
            {
                var utc = timestamp.Value.ToUniversalTime();
                at = new DateTimeOffset(utc.Ticks - utc.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
                if (at.Value > now.AddSeconds(5))
                {
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"Timestamp {Iso(at.Value)} is in the future (it is now {Iso(now)}). Give a past time, or leave -Timestamp out to branch '{source}' as of now.", timestamp.Value) { ErrorId = "TimestampInFuture" };
                }
            }
            name = string.IsNullOrWhiteSpace(name) ? DefaultBranchName(at, now) : name.Trim();
            if (!DatabaseName.IsMatch(name))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{name}' is not a valid Turso database name: use lower-case letters, digits and dashes, at most 64 characters (e.g. {DefaultBranchName(at, now)}).", name);
            }
            if (string.Equals(name, source, StringComparison.Ordinal))
            {
                throw new TursoBackupException(FailureKind.AlreadyExists,
                    $"A database named '{name}' already exists in Turso organization '{Organization}' (it is the source); choose another -Name.", name);
            }
            var src = await GetDatabaseAsync(source, cancel).ConfigureAwait(false);
            group = string.IsNullOrWhiteSpace(group) ? src.Group : group.Trim();
            if (string.IsNullOrEmpty(group))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"Turso did not say which group '{source}' belongs to, and a new database needs one. Pass -Group.", source);
            }

            var seed = new Dictionary<string, object> { ["type"] = "database", ["name"] = source };
            if (at.HasValue) seed["timestamp"] = Iso(at.Value);
            var request = new Dictionary<string, object> { ["name"] = name, ["group"] = group, ["seed"] = seed };
            Say(at.HasValue
                ? $"Branching Turso database '{source}' as of {Iso(at.Value)} into '{name}' (group '{group}')."
                : $"Branching Turso database '{source}' as of now into '{name}' (group '{group}').");
            var call = new ApiCall($"create database '{name}' from '{source}'", HttpMethod.Post, OrgPath("/databases"), request)
            {
                Database = name,
                Source = source,
                Timestamp = at,
                Group = group,
            };

            TursoDatabase created;
            try
            {
                var body = await SendAsync(call, cancel).ConfigureAwait(false);
                var output = Obj(body, "database", call);
                created = new TursoDatabase
                {
                    Name = Str(output, "Name") ?? name,
                    Organization = Organization,
                    DbId = Str(output, "DbId"),
                    Hostname = Str(output, "Hostname"),
                    Group = group,
                    Parent = source,
                    ParentId = src.DbId,
                };
                created.Url = DatabaseUrlFor(created.Hostname);
            }
            catch (TursoBackupException ex) when (ex.Kind == FailureKind.AlreadyExists && call.MaybeApplied)
            {
                // An earlier attempt failed without an answer (5xx, timeout) but may have created it: accept our own branch.
                var existing = await GetDatabaseAsync(name, cancel).ConfigureAwait(false);
                if (!(existing.Parent == source || (existing.ParentId != null && existing.ParentId == src.DbId))) throw;
                Say($"'{name}' was created by an earlier attempt whose answer was lost; using it.");
                created = existing;
            }
            Say($"Created Turso database '{created.Name}' at {created.Url}.");
            return new TursoBranch
            {
                Name = created.Name,
                Source = source,
                PointInTime = at ?? now,
                Timestamp = at,
                Location = created.Url,
                Url = created.Url,
                Hostname = created.Hostname,
                DbId = created.DbId,
                Group = created.Group ?? group,
                Organization = Organization,
                CreatedAt = now,
                Provider = "Cloud",
            };
        }

        /// <summary>The branches of <paramref name="source"/>: the databases whose parent it is.</summary>
        public IReadOnlyList<TursoBranch> ListBranches(string source, CancellationToken cancel = default) => Run(() => ListBranchesAsync(source, cancel));

        public async Task<IReadOnlyList<TursoBranch>> ListBranchesAsync(string source, CancellationToken cancel = default)
        {
            var src = await GetDatabaseAsync(source, cancel).ConfigureAwait(false);
            var children = await ListDatabasesAsync(null, src.DbId, cancel).ConfigureAwait(false);
            return children
                .Where(d => (d.ParentId != null && d.ParentId == src.DbId) || (d.ParentId == null && d.Parent == source))
                .Select(d => ToBranch(d, source))
                .ToList();
        }

        /// <summary>Deletes a database (deleteDatabase). No guard: see <see cref="DeleteBranch"/> for the one Remove-TursoBranch uses.</summary>
        public void DeleteDatabase(string name, CancellationToken cancel = default) => Run(async () => { await DeleteDatabaseAsync(name, cancel).ConfigureAwait(false); return true; });

        public async Task DeleteDatabaseAsync(string name, CancellationToken cancel = default)
        {
            RequireName(name, "-Database");
            var call = new ApiCall($"delete database '{name}'", HttpMethod.Delete, DbPath(name)) { Database = name };
            await SendAsync(call, cancel).ConfigureAwait(false);
            Say($"Deleted Turso database '{name}' of organization '{Organization}'.");
        }

        /// <summary>
        /// Deletes a branch. Unless <paramref name="force"/>, refuses (InvalidArgument) to delete a database that is the
        /// branch's own source or the source (parent) of other databases, and one with delete protection.
        /// </summary>
        public void DeleteBranch(TursoBranch branch, bool force, CancellationToken cancel = default) =>
            Run(async () => { await DeleteBranchAsync(branch, force, cancel).ConfigureAwait(false); return true; });

        public async Task DeleteBranchAsync(TursoBranch branch, bool force, CancellationToken cancel = default)
        {
            if (branch == null) throw new ArgumentNullException(nameof(branch));
            string name = branch.Name;
            RequireName(name, "-InputObject");
            if (!force)
            {
                if (!string.IsNullOrEmpty(branch.Source) && string.Equals(name, branch.Source, StringComparison.Ordinal))
                {
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"'{name}' is the source database of this branch, not a branch; Remove-TursoBranch does not delete a source database. Pass -Force if you really mean to delete '{name}' and everything in it.", name);
                }
                var db = await GetDatabaseAsync(name, cancel).ConfigureAwait(false);
                if (db.DeleteProtection)
                {
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"Turso database '{name}' has delete protection on. Turn it off first (Turso dashboard or the database configuration API) if it really should go.", name);
                }
                if (!string.IsNullOrEmpty(db.DbId))
                {
                    var children = (await ListDatabasesAsync(null, db.DbId, cancel).ConfigureAwait(false))
                        .Where(d => d.ParentId == db.DbId && d.Name != name).Select(d => "'" + d.Name + "'").ToList();
                    if (children.Count > 0)
                    {
                        throw new TursoBackupException(FailureKind.InvalidArgument,
                            $"'{name}' is the source database of {(children.Count == 1 ? "branch" : "branches")} {string.Join(", ", children)} in Turso organization '{Organization}'; Remove-TursoBranch does not delete a source database. Remove those branches first, or pass -Force to delete '{name}' and everything in it.", name);
                    }
                }
            }
            await DeleteDatabaseAsync(name, cancel).ConfigureAwait(false);
        }

        /// <summary>
        /// Mints a database token (createDatabaseToken). <paramref name="expiration"/>: <c>never</c> (default) or a duration
        /// such as <c>2w1d30m</c> (<see cref="FormatExpiration"/> makes one from a TimeSpan). Returns the token; it is never logged.
        /// </summary>
        public string CreateDatabaseToken(string name, string expiration = null, bool readOnly = false, CancellationToken cancel = default) =>
            Run(() => CreateDatabaseTokenAsync(name, expiration, readOnly, cancel));

        public async Task<string> CreateDatabaseTokenAsync(string name, string expiration = null, bool readOnly = false, CancellationToken cancel = default)
        {
            RequireName(name, "-Database");
            expiration = string.IsNullOrWhiteSpace(expiration) ? "never" : expiration.Trim().ToLowerInvariant();
            if (!ExpirationFormat.IsMatch(expiration))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{expiration}' is not a token expiration Turso understands: use 'never' or a duration such as 7d, 12h or 2w1d30m (w, d, h, m, s).", expiration);
            }
            string authorization = readOnly ? "read-only" : "full-access";
            var call = new ApiCall($"create a {authorization} token for database '{name}'", HttpMethod.Post,
                DbPath(name) + "/auth/tokens?expiration=" + Uri.EscapeDataString(expiration) + "&authorization=" + authorization)
            { Database = name };
            var body = await SendAsync(call, cancel).ConfigureAwait(false);
            string jwt = Str(body, "jwt");
            if (string.IsNullOrEmpty(jwt)) throw Unexpected(call, "it holds no token ('jwt')");
            Say($"Created a {authorization} token for Turso database '{name}' ({(expiration == "never" ? "no expiry" : "expires in " + expiration)}).");
            return jwt;
        }

        // ------------------------------------------------------------------ uploads (seed database_upload)

        /// <summary>Files up to this size go up in one <c>POST /v1/upload</c>; larger ones in chunks (the Turso CLI's 100 MiB).</summary>
        public const long DefaultMultipartThreshold = 100L * 1024 * 1024;

        /// <summary>How long one upload request (the whole file, or one chunk) may take before it counts as failed (default 1 h).</summary>
        public TimeSpan UploadRequestTimeout { get; set; } = TimeSpan.FromHours(1);

        /// <summary>True when <paramref name="name"/> is a valid Turso database name (lower-case letters, digits, dashes; 1–64 characters).</summary>
        public static bool IsValidDatabaseName(string name) => name != null && DatabaseName.IsMatch(name);

        /// <summary>
        /// The HTTP(S) address of a database's own endpoint (where uploads go), from its <c>Hostname</c> through
        /// <see cref="DatabaseUrlFor"/>: <c>libsql://h</c> gives <c>https://h</c>; a loopback stand-in's <c>http://127.0.0.1:PORT</c>
        /// stays as it is. Plain http to any other host is refused (it would send the database token unencrypted).
        /// </summary>
        public string DatabaseHttpUrl(string hostname)
        {
            string url = DatabaseUrlFor(hostname);
            if (string.IsNullOrEmpty(url))
            {
                throw new TursoBackupException(FailureKind.InvalidData,
                    "Turso did not report the new database's hostname, so there is nowhere to upload the file. Run the command again with -Verbose and report it if it persists.", hostname);
            }
            url = url.TrimEnd('/');
            foreach (var (from, to) in new[] { ("libsql://", "https://"), ("wss://", "https://"), ("ws://", "http://") })
            {
                if (url.StartsWith(from, StringComparison.OrdinalIgnoreCase)) { url = to + url.Substring(from.Length); break; }
            }
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
            {
                throw new TursoBackupException(FailureKind.InvalidData, $"'{url}' is not an address this client can upload a database to.", hostname);
            }
            if (uri.Scheme == Uri.UriSchemeHttp && !uri.IsLoopback)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{url}' would send the database token unencrypted over the network; uploads go over https only (plain http is allowed only for a loopback stand-in).", hostname);
            }
            return url;
        }

        /// <summary>
        /// Creates the empty database <paramref name="name"/> waiting for an uploaded file (createDatabase with
        /// <c>seed.type = "database_upload"</c>) in <paramref name="group"/> (<c>default</c> when null). Errors: an invalid
        /// name (before any request) and a missing group are InvalidArgument, an existing name AlreadyExists
        /// (ErrorId DatabaseExists), a refused API token PermissionDenied.
        /// </summary>
        public TursoDatabase CreateDatabaseForUpload(string name, string group, CancellationToken cancel = default) =>
            Run(() => CreateDatabaseForUploadAsync(name, group, cancel));

        public async Task<TursoDatabase> CreateDatabaseForUploadAsync(string name, string group, CancellationToken cancel = default)
        {
            RequireName(name, "-Name");
            name = name.Trim();
            if (!DatabaseName.IsMatch(name))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{name}' is not a valid Turso database name: use lower-case letters, digits and dashes, at most 64 characters (e.g. {DefaultUploadName(name)}).", name) { ErrorId = "InvalidDatabaseName" };
            }
            group = string.IsNullOrWhiteSpace(group) ? "default" : group.Trim();
            var request = new Dictionary<string, object>
            {
                ["name"] = name,
                ["group"] = group,
                ["seed"] = new Dictionary<string, object> { ["type"] = "database_upload" },
            };
            Say($"Creating Turso database '{name}' (group '{group}') to receive an uploaded file.");
            var call = new ApiCall($"create database '{name}' for an upload", HttpMethod.Post, OrgPath("/databases"), request)
            {
                Database = name,
                Group = group,
            };
            Dictionary<string, object> body;
            try
            {
                body = await SendAsync(call, cancel).ConfigureAwait(false);
            }
            catch (TursoBackupException ex) when (ex.Kind == FailureKind.AlreadyExists)
            {
                string message = call.MaybeApplied
                    ? $"A database named '{name}' exists in Turso organization '{Organization}', but an earlier attempt of this request ended without an answer and may have created it. Check it with Get-TursoDatabase '{name}': if it is empty and yours, remove it (`turso db destroy {name}`) and run the command again; else choose another -Name."
                    : $"A database named '{name}' already exists in Turso organization '{Organization}'; choose another -Name or remove it first (`turso db destroy {name}`) if it should be replaced.";
                throw new TursoBackupException(FailureKind.AlreadyExists, Redact(message), name, ex) { ErrorId = "DatabaseExists" };
            }
            catch (TursoBackupException ex) when (ex.Kind == FailureKind.NotFound && ex.Message.StartsWith("Group '", StringComparison.Ordinal))
            {
                // BadRequest's "group not found" (400): for an upload there is no source group to fall back on.
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"Group '{group}' does not exist in Turso organization '{Organization}'. Pass an existing -Group (`turso group list` shows them), or leave -Group out to use 'default'.", group, ex) { ErrorId = "GroupNotFound" };
            }
            var output = Obj(body, "database", call);
            var created = new TursoDatabase
            {
                Name = Str(output, "Name") ?? name,
                Organization = Organization,
                DbId = Str(output, "DbId"),
                Hostname = Str(output, "Hostname"),
                Group = group,
            };
            created.Url = DatabaseUrlFor(created.Hostname);
            Say($"Created Turso database '{created.Name}' at {created.Url ?? "(no hostname reported)"}, waiting for the upload.");
            return created;
        }

        private static string DefaultUploadName(string name)
        {
            string cleaned = Regex.Replace((name ?? "").ToLowerInvariant(), "[^a-z0-9-]+", "-").Trim('-');
            if (cleaned.Length > 64) cleaned = cleaned.Substring(0, 64).Trim('-');
            return cleaned.Length == 0 ? "my-database" : cleaned;
        }

        /// <summary>
        /// Uploads the SQLite file <paramref name="path"/> to <paramref name="database"/> (made by
        /// <see cref="CreateDatabaseForUpload"/>) with a full-access <paramref name="databaseToken"/>: up to
        /// <paramref name="multipartThreshold"/> bytes in one <c>POST /v1/upload</c>, larger files with
        /// <c>PUT /v2/upload/start</c>, <c>/v2/upload/chunk/{n}</c> and <c>/v2/upload/finalize</c>. The file is streamed from
        /// disk (memory does not grow with its size); each request is retried like the API's (429, 5xx, no answer) and the
        /// retried one is sent again from its start. <paramref name="progress"/> gets (bytes sent, total bytes), at most about
        /// once a MiB. The file must already be what Turso takes (see <see cref="CloudUpload"/>); this method does not check it.
        /// The token never appears in messages or <see cref="Log"/> lines.
        /// </summary>
        /// <param name="renewToken">Mints a new database token; when given, a chunked upload that has used one token for
        /// <see cref="UploadTokenRenewal"/> takes a new one before its next request (a 1 h token outlives no slow 20 GB upload).</param>
        public void UploadDatabaseFile(TursoDatabase database, string databaseToken, string path, long multipartThreshold = DefaultMultipartThreshold,
            Action<long, long> progress = null, CancellationToken cancel = default, Func<CancellationToken, Task<string>> renewToken = null) =>
            Run(async () => { await UploadDatabaseFileAsync(database, databaseToken, path, multipartThreshold, progress, cancel, renewToken).ConfigureAwait(false); return true; });

        /// <summary>How long a chunked upload sends with one database token before it mints the next (with a renewer; the tokens live 1 h).</summary>
        public TimeSpan UploadTokenRenewal { get; set; } = TimeSpan.FromMinutes(45);

        public async Task UploadDatabaseFileAsync(TursoDatabase database, string databaseToken, string path, long multipartThreshold = DefaultMultipartThreshold,
            Action<long, long> progress = null, CancellationToken cancel = default, Func<CancellationToken, Task<string>> renewToken = null)
        {
            if (database == null) throw new ArgumentNullException(nameof(database));
            if (string.IsNullOrEmpty(databaseToken)) throw new ArgumentException("A database token is required.", nameof(databaseToken));
            string token = databaseToken.Trim();
            var tokens = new List<string> { token };
            DateTimeOffset minted = Clock();
            string baseUrl = DatabaseHttpUrl(database.Hostname);
            long size = new FileInfo(path).Length;
            string Scrub(string text)
            {
                if (string.IsNullOrEmpty(text)) return text;
                lock (tokens) foreach (var t in tokens) text = text.Replace(t, "***");
                return Redact(text);
            }
            async Task Renew()
            {
                if (renewToken == null || Clock() - minted < UploadTokenRenewal) return;
                string next = (await renewToken(cancel).ConfigureAwait(false) ?? "").Trim();
                if (next.Length == 0) return;
                lock (tokens) tokens.Add(next);
                token = next;
                minted = Clock();
                Say($"Took a new database token for the rest of the upload to '{database.Name}' (the last one had been in use for {UploadTokenRenewal.TotalMinutes:0} minutes).");
            }
            var upload = new RetryingHttpSender(http, delay, Scrub)
            {
                Name = $"Turso database '{database.Name}'", MaxAttempts = MaxAttempts, InitialBackoff = InitialBackoff, MaxBackoff = MaxBackoff,
                MaxRetryAfter = MaxRetryAfter, RequestTimeout = UploadRequestTimeout, Clock = () => Clock(), Log = line => Log?.Invoke(line),
            };
            var meter = new UploadProgress(size, progress);
            if (size <= Math.Max(0, multipartThreshold))
            {
                Say($"Uploading {size:N0} bytes to Turso database '{database.Name}' in one request.");
                await UploadPartAsync(upload, database, token, HttpMethod.Post, baseUrl + "/v1/upload", "upload the file", path, 0, size, meter, Scrub, cancel).ConfigureAwait(false);
            }
            else
            {
                var startJson = Json.WriteCompact(new Dictionary<string, object> { ["db_size_bytes"] = size });
                string startText = await upload.SendAsync(UploadSend(database, token, HttpMethod.Put, baseUrl + "/v2/upload/start", "start the upload", Scrub,
                    () => new StringContent(startJson, Encoding.UTF8, "application/json"), answer => answer.Text), cancel).ConfigureAwait(false);
                long chunk = 0;
                try
                {
                    if (Json.Parse(startText) is Dictionary<string, object> d && d.TryGetValue("chunk_size", out var c) && c is long l) chunk = l;
                }
                catch (FormatException) { }
                if (chunk <= 0)
                {
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"Turso database '{database.Name}' answered the start of the upload without a usable chunk_size. Run the command again with -Verbose and report it if it persists.", database.Name);
                }
                long chunks = (size + chunk - 1) / chunk;
                Say($"Uploading {size:N0} bytes to Turso database '{database.Name}' in {chunks} chunks of up to {chunk:N0} bytes.");
                for (long n = 0; n < chunks; n++)
                {
                    await Renew().ConfigureAwait(false);
                    long offset = n * chunk, length = Math.Min(chunk, size - offset);
                    await UploadPartAsync(upload, database, token, HttpMethod.Put, baseUrl + "/v2/upload/chunk/" + n.ToString(CultureInfo.InvariantCulture),
                        $"upload chunk {n} of {chunks}", path, offset, length, meter, Scrub, cancel).ConfigureAwait(false);
                }
                await Renew().ConfigureAwait(false);
                await upload.SendAsync(UploadSend(database, token, HttpMethod.Put, baseUrl + "/v2/upload/finalize", "finish the upload", Scrub,
                    () => new ByteArrayContent(new byte[0]), answer => answer.Text), cancel).ConfigureAwait(false);
            }
            meter.Done();
            Say($"Uploaded {size:N0} bytes to Turso database '{database.Name}'.");
        }

        private Task<string> UploadPartAsync(RetryingHttpSender upload, TursoDatabase database, string token, HttpMethod method, string url, string step,
            string path, long offset, long length, UploadProgress meter, Func<string, string> scrub, CancellationToken cancel)
        {
            return upload.SendAsync(UploadSend(database, token, method, url, step, scrub, () =>
            {
                var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.SequentialScan);
                try
                {
                    file.Position = offset;
                    meter.Restart(offset);
                    var content = new StreamContent(new UploadReadStream(file, length, meter), 81920);
                    content.Headers.ContentLength = length;
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                    return content;
                }
                catch
                {
                    file.Dispose();
                    throw;
                }
            }, answer => answer.Text), cancel);
        }

        private HttpSend<string> UploadSend(TursoDatabase database, string token, HttpMethod method, string url, string step, Func<string, string> scrub,
            Func<HttpContent> content, Func<HttpAnswer, string> accepted)
        {
            return new HttpSend<string>
            {
                Describe = $"{method} {url}",
                Request = () =>
                {
                    var request = new HttpRequestMessage(method, url);
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                    request.Content = content();
                    return request;
                },
                Accepted = answer => HttpOutcome<string>.Done(accepted(answer)),
                TransientText = answer =>
                {
                    string said = ErrorText(scrub(answer.Text));
                    return $"HTTP {answer.Status} ({Describe(answer.Status)})" + (said != null ? $": {said}" : "");
                },
                Refused = answer => UploadError(database, step, answer.Status, ErrorText(scrub(answer.Text))),
                GaveUp = (failure, attempts) => new TursoBackupException(failure.Status == 0 ? FailureKind.Unreachable : FailureKind.Busy, scrub(
                    $"Turso database '{database.Name}' could not {step}, {(attempts == 1 ? "once" : attempts + " times")}, last with {failure.Text}. "
                    + (failure.Status == 0 ? "Check the network and any proxy, then run the command again." : "This is a problem on Turso's side: check https://status.turso.tech and run the command again later.")), database.Name),
                WaitTooLong = (failure, wait) => new TursoBackupException(FailureKind.Busy, scrub(
                    $"Turso database '{database.Name}' could not {step} now ({failure.Text}) and asked to wait {Seconds(wait)}, longer than this command waits. Run it again after {Iso(Clock() + wait)}."), database.Name),
            };
        }

        private TursoBackupException UploadError(TursoDatabase database, string step, int status, string serverError)
        {
            string said = serverError != null ? $" (Turso said: {serverError})" : "";
            string name = database.Name;
            switch (status)
            {
                case 400:
                    return new TursoBackupException(FailureKind.InvalidData,
                        $"Turso database '{name}' refused to {step}: the file is not a database it accepts{said}. Turso takes a SQLite database in WAL mode with 4096-byte pages, no auto-vacuum and UTF-8 text that passes quick_check; CloudUpload (Import-TursoCloudDatabase) prepares such a copy.", name) { ErrorId = "UploadRefused" };
                case 401:
                case 403:
                    return new TursoBackupException(FailureKind.AuthenticationFailed,
                        $"Turso database '{name}' refused the database token minted for the upload (HTTP {status}){said}. Check that the API token may create full-access tokens for databases of organization '{Organization}', and run the command again.", name);
                case 404:
                    return new TursoBackupException(FailureKind.NotFound,
                        $"Turso database '{name}' has no upload endpoint to {step} (HTTP 404){said}: it may have been deleted meanwhile, or is not waiting for an upload.", name);
                case 413:
                    return new TursoBackupException(FailureKind.QuotaExceeded,
                        $"Turso database '{name}' refused to {step}: the file is too large (HTTP 413){said}. Check the plan's storage limit.", name);
                default:
                    return new TursoBackupException(FailureKind.InvalidData,
                        $"Turso database '{name}' answered the request to {step} with HTTP {status} ({Describe(status)}){said}, which this client does not expect. Run the command again with -Verbose and report it if it persists.", name);
            }
        }

        // ------------------------------------------------------------------ HTTP

        private sealed class ApiCall
        {
            public ApiCall(string operation, HttpMethod method, string pathAndQuery, object body = null)
            {
                Operation = operation;
                Method = method;
                PathAndQuery = pathAndQuery;
                Body = body;
            }

            public string Operation { get; }
            public HttpMethod Method { get; }
            public string PathAndQuery { get; }
            public object Body { get; }
            /// <summary>The database the call is about (for 404/409 messages).</summary>
            public string Database { get; set; }
            public string Source { get; set; }
            public DateTimeOffset? Timestamp { get; set; }
            public string Group { get; set; }
            /// <summary>An earlier attempt of this non-idempotent call ended without an answer, so it may have taken effect.</summary>
            public bool MaybeApplied { get; set; }
        }

        /// <summary>
        /// One API call through the shared <see cref="RetryingHttpSender"/>: 429 and 5xx (and no answer) are retried,
        /// any other non-2xx answer is mapped to its error at once.
        /// </summary>
        private Task<Dictionary<string, object>> SendAsync(ApiCall call, CancellationToken cancel)
        {
            string json = call.Body == null ? null : Json.WriteCompact(call.Body);
            var url = new Uri(baseText + call.PathAndQuery);
            return sender.SendAsync(new HttpSend<Dictionary<string, object>>
            {
                Describe = $"{call.Method} {url}",
                Request = () =>
                {
                    var request = new HttpRequestMessage(call.Method, url);
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiToken);
                    if (json != null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
                    return request;
                },
                Accepted = answer => HttpOutcome<Dictionary<string, object>>.Done(ParseBody(call, answer.Text)),
                TransientText = answer =>
                {
                    string serverError = ErrorText(answer.Text);
                    return $"HTTP {answer.Status} ({Describe(answer.Status)})" + (serverError != null ? $": {serverError}" : "");
                },
                Refused = answer => MapError(call, answer.Status, ErrorText(answer.Text)),
                // A non-idempotent call whose attempt ended without a definite refusal may have taken effect.
                Failed = failure =>
                {
                    if (failure.Status != 429 && call.Method != HttpMethod.Get && call.Method != HttpMethod.Delete) call.MaybeApplied = true;
                },
                GaveUp = (failure, attempts) => GiveUp(call, failure.Status, failure.Text, attempts),
                WaitTooLong = (failure, wait) => new TursoBackupException(FailureKind.Busy, Redact(
                    $"The Turso API could not {call.Operation} now ({failure.Text}) and asked to wait {Seconds(wait)} before trying again, longer than this command waits. Run it again after {Iso(Clock() + wait)}."), call.Database),
            }, cancel);
        }

        private TursoBackupException GiveUp(ApiCall call, int status, string transient, int attempts)
        {
            string tries = attempts == 1 ? "once" : attempts + " times";
            string message;
            if (status == 429)
            {
                message = $"The Turso API is rate-limiting organization '{Organization}' (HTTP 429) and refused to {call.Operation}, {tries}. Wait a minute and run the command again, or make fewer calls at once.";
            }
            else if (status >= 500)
            {
                message = $"The Turso API failed to {call.Operation}, {tries}, last with {transient}. This is a problem on Turso's side: check https://status.turso.tech and run the command again later.";
            }
            else
            {
                message = $"The Turso API at {baseText} could not be reached to {call.Operation} ({tries}; {transient}). Check the network and any proxy, or -BaseUri.";
            }
            if (call.MaybeApplied) message += " The request may still have taken effect: check with Get-TursoDatabase before retrying.";
            return new TursoBackupException(FailureKind.Busy, Redact(message), call.Database);
        }

        private TursoBackupException MapError(ApiCall call, int status, string serverError)
        {
            string said = serverError != null ? $" (Turso said: {serverError})" : "";
            string message;
            FailureKind kind;
            switch (status)
            {
                case 401:
                    kind = FailureKind.PermissionDenied;
                    message = RefusedTokenMessage;
                    break;
                case 403:
                    kind = FailureKind.PermissionDenied;
                    message = $"The Turso API token may not {call.Operation} in organization '{Organization}'{said}. Use a token of a member of '{Organization}' with enough rights, or check -Organization.";
                    break;
                case 404:
                    kind = FailureKind.NotFound;
                    if (serverError != null && serverError.IndexOf("organization", StringComparison.OrdinalIgnoreCase) >= 0)
                    {
                        message = $"Turso organization '{Organization}' was not found, or the API token cannot see it{said}. Check -Organization (the slug `turso org list` shows) or TURSO_ORG.";
                    }
                    else if (call.Database != null)
                    {
                        message = $"Turso database '{call.Database}' was not found in organization '{Organization}'{said}. Get-TursoDatabase lists its databases; check -Database and -Organization.";
                    }
                    else
                    {
                        message = $"The Turso API could not {call.Operation}: not found{said}. Check -Organization and -BaseUri.";
                    }
                    break;
                case 409:
                    kind = FailureKind.AlreadyExists;
                    message = $"A database named '{call.Database}' already exists in Turso organization '{Organization}'; choose another -Name{said}.";
                    break;
                case 400:
                case 422:
                    kind = FailureKind.InvalidArgument;
                    message = BadRequest(call, serverError, said, ref kind);
                    break;
                default:
                    kind = FailureKind.InvalidData;
                    message = $"The Turso API answered the request to {call.Operation} with HTTP {status} ({Describe(status)}){said}, which this client does not expect. Run the command again with -Verbose and report it if it persists.";
                    break;
            }
            return new TursoBackupException(kind, Redact(message), call.Database)
            {
                ErrorId = message.StartsWith("Timestamp too old", StringComparison.Ordinal) ? "TimestampTooOld" : null,
            };
        }

        private string BadRequest(ApiCall call, string serverError, string said, ref FailureKind kind)
        {
            string error = serverError ?? "";
            bool mentions(string word) => error.IndexOf(word, StringComparison.OrdinalIgnoreCase) >= 0;
            if (call.Timestamp.HasValue && (mentions("timestamp") || mentions("restore") || mentions("point in time") || mentions("point-in-time") || mentions("retention")))
            {
                string at = Iso(call.Timestamp.Value);
                var found = IsoInText.Matches(error).Cast<Match>()
                    .Select(m => DateTimeOffset.TryParse(m.Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t.ToUniversalTime() : (DateTimeOffset?)null)
                    .Where(t => t.HasValue && t.Value > call.Timestamp.Value).Select(t => t.Value).ToList();
                if (found.Count > 0)
                {
                    return $"Timestamp too old: the earliest restore point of '{call.Source}' is {Iso(found.Min())}, after {at}. Choose a -Timestamp at or after it.";
                }
                return $"Timestamp too old or not available: Turso cannot branch '{call.Source}' as of {at}{said}. A point-in-time branch needs a time after the database was created and within the plan's restore window (24 hours on the free plan; longer on paid plans). Choose a later -Timestamp.";
            }
            if (call.Group != null && mentions("group") && mentions("not found"))
            {
                kind = FailureKind.NotFound;
                return $"Group '{call.Group}' does not exist in Turso organization '{Organization}'{said}. Pass an existing -Group (`turso group list` shows them), or leave it out to use the source's group.";
            }
            if (mentions("expiration"))
            {
                return $"Turso refused the token expiration{said}. Use 'never' or a duration such as 7d, 12h or 2w1d30m.";
            }
            return $"Turso refused the request to {call.Operation}{said}. Check the parameters.";
        }

        private Dictionary<string, object> ParseBody(ApiCall call, string text)
        {
            if (string.IsNullOrWhiteSpace(text)) return new Dictionary<string, object>();
            object parsed;
            try { parsed = Json.Parse(text); }
            catch (FormatException) { throw Unexpected(call, "it is not JSON"); }
            return parsed as Dictionary<string, object> ?? throw Unexpected(call, "it is not a JSON object");
        }

        private TursoBackupException Unexpected(ApiCall call, string what) =>
            new TursoBackupException(FailureKind.InvalidData,
                Redact($"The Turso API's answer to the request to {call.Operation} could not be read: {what}. Check -BaseUri points at the Turso Platform API ({DefaultBaseUri})."), call.Database);

        /// <summary>The <c>error</c> text of the API's error bodies (<c>{"error": "…"}</c>), else the start of the body.</summary>
        private string ErrorText(string text)
        {
            if (string.IsNullOrWhiteSpace(text)) return null;
            try
            {
                if (Json.Parse(text) is Dictionary<string, object> d)
                {
                    if (d.TryGetValue("error", out var e) && e is string s) return Redact(s);
                    if (d.TryGetValue("message", out var m) && m is string s2) return Redact(s2);
                }
            }
            catch (FormatException) { }
            string trimmed = text.Trim();
            return Redact(trimmed.Length > 200 ? trimmed.Substring(0, 200) + "…" : trimmed);
        }

        /// <summary>Removes the API token and anything shaped like a JWT (database tokens) from text meant for people.</summary>
        internal string Redact(string text)
        {
            if (string.IsNullOrEmpty(text)) return text;
            if (apiToken.Length > 0) text = text.Replace(apiToken, "***");
            return JwtLike.Replace(text, "***");
        }

        private void Say(string line) => Log?.Invoke(Redact(line));

        // ------------------------------------------------------------------ mapping and helpers

        private TursoDatabase ToDatabase(Dictionary<string, object> d)
        {
            var db = new TursoDatabase
            {
                Name = Str(d, "Name"),
                Organization = Organization,
                DbId = Str(d, "DbId"),
                Hostname = Str(d, "Hostname"),
                Group = Str(d, "group"),
                PrimaryRegion = Str(d, "primaryRegion"),
                Regions = d.TryGetValue("regions", out var r) && r is List<object> regions ? regions.OfType<string>().ToArray() : new string[0],
                BlockReads = d.TryGetValue("block_reads", out var br) && br is bool b1 && b1,
                BlockWrites = d.TryGetValue("block_writes", out var bw) && bw is bool b2 && b2,
                DeleteProtection = d.TryGetValue("delete_protection", out var dp) && dp is bool b3 && b3,
            };
            if (d.TryGetValue("parent", out var p) && p is Dictionary<string, object> parent)
            {
                db.Parent = Str(parent, "name");
                db.ParentId = Str(parent, "id");
                string at = Str(parent, "branched_at");
                if (at != null && DateTimeOffset.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) db.BranchedAt = t.ToUniversalTime();
            }
            db.Url = DatabaseUrlFor(db.Hostname);
            return db;
        }

        private TursoBranch ToBranch(TursoDatabase d, string source) => new TursoBranch
        {
            Name = d.Name,
            Source = d.Parent ?? source,
            PointInTime = d.BranchedAt ?? default,
            CreatedAt = d.BranchedAt ?? default,
            Location = d.Url,
            Url = d.Url,
            Hostname = d.Hostname,
            DbId = d.DbId,
            Group = d.Group,
            Organization = Organization,
            Provider = "Cloud",
        };

        private string OrgPath(string rest) => "/v1/organizations/" + Uri.EscapeDataString(Organization) + rest;

        private string DbPath(string name) => OrgPath("/databases/" + Uri.EscapeDataString(name));

        private static void RequireName(string name, string parameter)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, $"No database name was given. Pass {parameter} with the name of a database of the organization (Get-TursoDatabase lists them).");
            }
        }

        private Dictionary<string, object> Obj(Dictionary<string, object> body, string key, ApiCall call) =>
            body.TryGetValue(key, out var v) && v is Dictionary<string, object> d ? d : throw Unexpected(call, $"it has no '{key}' object");

        private static string Str(Dictionary<string, object> d, string key) => d.TryGetValue(key, out var v) && v is string s ? s : null;

        internal static string Iso(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

        private static string Seconds(TimeSpan t) => RetryingHttpSender.Seconds(t);

        private static string Describe(int status)
        {
            switch (status)
            {
                case 429: return "Too Many Requests";
                case 500: return "Internal Server Error";
                case 502: return "Bad Gateway";
                case 503: return "Service Unavailable";
                case 504: return "Gateway Timeout";
                default: return ((HttpStatusCode)status).ToString();
            }
        }

        private static T Run<T>(Func<Task<T>> operation) => Task.Run(operation).GetAwaiter().GetResult();
    }
}
