using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using TursoBackup.Engine.Cloud;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Tests.Cloud;

/// <summary>
/// The Turso Platform API client against the local stand-in of the API (not Turso), which checks every request against the
/// API's OpenAPI document (tests/specs/turso-platform-openapi.json). Each test ends by asserting the stand-in saw no
/// departure from the document.
/// </summary>
public sealed class TursoCloudClientTests : IDisposable
{
    private static readonly DateTimeOffset Now = new DateTimeOffset(2025, 3, 14, 12, 0, 0, TimeSpan.Zero);

    private readonly PlatformApiStandIn api = new PlatformApiStandIn("acme");
    private readonly List<TimeSpan> waits = new List<TimeSpan>();
    private readonly List<string> log = new List<string>();
    private readonly List<TursoCloudClient> clients = new List<TursoCloudClient>();

    public TursoCloudClientTests() => api.Clock = () => Now;

    public void Dispose()
    {
        foreach (var c in clients) c.Dispose();
        api.Dispose();
    }

    private TursoCloudClient Client(string token = null, string organization = "acme", Uri baseUri = null, HttpMessageHandler handler = null)
    {
        var client = new TursoCloudClient(organization, token ?? api.ApiToken, baseUri ?? api.BaseUri, handler,
            (wait, _) => { lock (waits) waits.Add(wait); return Task.CompletedTask; });
        client.Clock = () => Now;
        client.Log = line => { lock (log) log.Add(line); };
        clients.Add(client);
        return client;
    }

    private void AssertDocumentFollowed()
    {
        Assert.Empty(api.Violations);
        Assert.All(api.Requests, r =>
        {
            Assert.NotNull(r.OperationId);
            Assert.Equal("Bearer", r.AuthorizationScheme);
            Assert.DoesNotContain(api.ApiToken, string.Join("\n", r.Headers.Values));
        });
    }

    private void AssertNoSecrets(Exception ex, params string[] secrets)
    {
        foreach (var secret in secrets.Append(api.ApiToken))
        {
            Assert.DoesNotContain(secret, ex.Message);
            Assert.DoesNotContain(secret, ex.ToString());
        }
    }

    // ------------------------------------------------------------------ requests follow the document

    [Fact]
    public void ListAndGetDatabases()
    {
        var main = api.AddDatabase("main");
        api.AddDatabase("eu-app", "eu");
        var client = Client();

        var all = client.ListDatabases();
        Assert.Equal(new[] { "main", "eu-app" }, all.Select(d => d.Name));
        var eu = client.ListDatabases(group: "eu");
        Assert.Equal("eu-app", Assert.Single(eu).Name);

        var db = client.GetDatabase("main");
        Assert.Equal(main.DbId, db.DbId);
        Assert.Equal("main-acme.turso.io", db.Hostname);
        Assert.Equal("libsql://main-acme.turso.io", db.Url);
        Assert.Equal("default", db.Group);
        Assert.Equal("acme", db.Organization);
        Assert.Equal("aws-us-east-1", db.PrimaryRegion);
        Assert.False(db.IsBranch);

        var requests = api.Requests;
        Assert.Equal(new[] { "GET /v1/organizations/acme/databases", "GET /v1/organizations/acme/databases", "GET /v1/organizations/acme/databases/main" },
            requests.Select(r => r.Method + " " + r.Path));
        Assert.Equal(new[] { "listDatabases", "listDatabases", "getDatabase" }, requests.Select(r => r.OperationId));
        Assert.Equal("group=eu", requests[1].Query);
        Assert.All(requests, r => Assert.True(r.TokenAccepted));
        Assert.All(requests, r => Assert.Contains("application/json", r.Headers["Accept"]));
        AssertDocumentFollowed();
    }

    [Fact]
    public void BranchAtATimestampSendsTheSeedWithTheTimestampInUtc()
    {
        var main = api.AddDatabase("main", createdAt: Now.AddHours(-2));
        var client = Client();
        // 13:30:15.750 at +02:00 is 11:30:15 UTC, whole seconds.
        var at = new DateTimeOffset(2025, 3, 14, 13, 30, 15, TimeSpan.FromHours(2)).AddMilliseconds(750);

        var branch = client.CreateBranch("main", null, at, null);

        var create = api.Requests.Single(r => r.OperationId == "createDatabase");
        Assert.Equal("POST", create.Method);
        Assert.Equal("/v1/organizations/acme/databases", create.Path);
        Assert.StartsWith("application/json", create.ContentType);
        Assert.Equal("{\"name\":\"pitr-20250314t113015z\",\"group\":\"default\",\"seed\":{\"type\":\"database\",\"name\":\"main\",\"timestamp\":\"2025-03-14T11:30:15Z\"}}", create.Body);
        Assert.Equal(200, create.Status);

        var stored = api.Database("pitr-20250314t113015z");
        Assert.Equal(main.DbId, stored.ParentId);
        Assert.Equal(new DateTimeOffset(2025, 3, 14, 11, 30, 15, TimeSpan.Zero), stored.SeedTimestamp);

        Assert.Equal("pitr-20250314t113015z", branch.Name);
        Assert.Equal("main", branch.Source);
        Assert.Equal(new DateTimeOffset(2025, 3, 14, 11, 30, 15, TimeSpan.Zero), branch.PointInTime);
        Assert.Equal(branch.PointInTime, branch.Timestamp);
        Assert.Equal(stored.DbId, branch.DbId);
        Assert.Equal("pitr-20250314t113015z-acme.turso.io", branch.Hostname);
        Assert.Equal("libsql://pitr-20250314t113015z-acme.turso.io", branch.Url);
        Assert.Equal(branch.Url, branch.Location);
        Assert.Equal("default", branch.Group);
        Assert.Equal("acme", branch.Organization);
        Assert.Equal("Cloud", branch.Provider);
        Assert.True(branch.IsCloud);
        Assert.Equal(Now, branch.CreatedAt);
        AssertDocumentFollowed();
    }

    [Fact]
    public void BranchOfNowUsesTheSourcesGroupUnlessOneIsGiven()
    {
        api.AddDatabase("main", "eu");
        api.AddGroup("us");
        var client = Client();

        var copy = client.CreateBranch("main", "copy", null, null);
        var other = client.CreateBranch("main", "copy-us", null, "us");
        var dated = client.CreateBranch("main", null, null, null);

        var bodies = api.Requests.Where(r => r.OperationId == "createDatabase").Select(r => r.Body).ToList();
        Assert.Equal("{\"name\":\"copy\",\"group\":\"eu\",\"seed\":{\"type\":\"database\",\"name\":\"main\"}}", bodies[0]);
        Assert.Equal("{\"name\":\"copy-us\",\"group\":\"us\",\"seed\":{\"type\":\"database\",\"name\":\"main\"}}", bodies[1]);
        Assert.Equal("{\"name\":\"backup-20250314\",\"group\":\"eu\",\"seed\":{\"type\":\"database\",\"name\":\"main\"}}", bodies[2]);
        Assert.Equal("eu", copy.Group);
        Assert.Equal("us", other.Group);
        Assert.Null(copy.Timestamp);
        Assert.Equal(Now, copy.PointInTime);
        Assert.Equal("backup-20250314", dated.Name);

        var branches = client.ListBranches("main");
        Assert.Equal(new[] { "copy", "copy-us", "backup-20250314" }, branches.Select(b => b.Name));
        Assert.All(branches, b => Assert.Equal("main", b.Source));
        Assert.All(branches, b => Assert.Equal(Now, b.PointInTime));
        Assert.Contains(api.Requests, r => r.OperationId == "listDatabases" && r.Query == "parent=" + api.Database("main").DbId);
        AssertDocumentFollowed();
    }

    [Fact]
    public void DatabaseTokensAndValidation()
    {
        api.AddDatabase("main");
        api.ApiTokenExpiresAt = Now.AddDays(30);
        var client = Client();

        var connection = client.Validate();
        Assert.Equal("acme", connection.Organization);
        Assert.Equal("scaler", connection.Plan);
        Assert.Equal(Now.AddDays(30), connection.TokenExpiresAt);

        string readOnly = client.CreateDatabaseToken("main", "7d", readOnly: true);
        string full = client.CreateDatabaseToken("main");
        Assert.Equal(api.Tokens[0].Jwt, readOnly);
        Assert.Equal(api.Tokens[1].Jwt, full);
        Assert.Equal("read-only", api.Tokens[0].Authorization);
        Assert.Equal("7d", api.Tokens[0].Expiration);

        var tokenRequests = api.Requests.Where(r => r.OperationId == "createDatabaseToken").ToList();
        Assert.Equal("/v1/organizations/acme/databases/main/auth/tokens", tokenRequests[0].Path);
        Assert.Equal("expiration=7d&authorization=read-only", tokenRequests[0].Query);
        Assert.Equal("expiration=never&authorization=full-access", tokenRequests[1].Query);
        Assert.Equal("", tokenRequests[0].Body);
        Assert.Equal(new[] { "validateAPIToken", "getOrganization" }, api.Requests.Take(2).Select(r => r.OperationId));

        var bad = Assert.Throws<TursoBackupException>(() => client.CreateDatabaseToken("main", "tomorrow"));
        Assert.Equal(FailureKind.InvalidArgument, bad.Kind);
        Assert.Equal(4, api.Requests.Count); // refused before asking

        Assert.Equal("never", TursoCloudClient.FormatExpiration(null));
        Assert.Equal("7d", TursoCloudClient.FormatExpiration(TimeSpan.FromDays(7)));
        Assert.Equal("1d2h30m", TursoCloudClient.FormatExpiration(new TimeSpan(1, 2, 30, 0)));
        Assert.Equal("1m", TursoCloudClient.FormatExpiration(TimeSpan.FromSeconds(5)));

        string narration = string.Join("\n", log);
        Assert.Contains("read-only token", narration);
        Assert.DoesNotContain(readOnly, narration);
        Assert.DoesNotContain(full, narration);
        Assert.DoesNotContain(api.ApiToken, narration);
        Assert.DoesNotContain(api.ApiToken, client.ToString());
        AssertDocumentFollowed();
    }

    [Fact]
    public void TheStandInRejectsWhatTheDocumentDoesNotAllow()
    {
        api.AddDatabase("main");
        using var http = new HttpClient { BaseAddress = api.BaseUri };
        HttpResponseMessage Send(HttpMethod method, string path, string json = null, bool auth = true)
        {
            var request = new HttpRequestMessage(method, path);
            if (auth) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", api.ApiToken);
            if (json != null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
            return http.Send(request);
        }

        Assert.Equal(400, (int)Send(HttpMethod.Post, "/v1/organizations/acme/databases", "{\"name\":\"x\"}").StatusCode);
        Assert.Contains(api.Violations, v => v.Contains("required property 'group' is missing"));
        Assert.Equal(400, (int)Send(HttpMethod.Post, "/v1/organizations/acme/databases", "{\"name\":\"x\",\"group\":\"default\",\"seed\":{\"type\":\"db\",\"name\":\"main\"}}").StatusCode);
        Assert.Contains(api.Violations, v => v.Contains("body.seed.type: \"db\" is not one of"));
        Assert.Equal(400, (int)Send(HttpMethod.Post, "/v1/organizations/acme/databases", "{\"name\":\"x\",\"Group\":\"default\",\"group\":\"default\"}").StatusCode);
        Assert.Contains(api.Violations, v => v.Contains("property 'Group' is not declared"));
        Assert.Equal(400, (int)Send(HttpMethod.Post, "/v1/organizations/acme/databases", "{\"name\":1,\"group\":\"default\"}").StatusCode);
        Assert.Contains(api.Violations, v => v.Contains("body.name: expected string"));
        Assert.Equal(400, (int)Send(HttpMethod.Post, "/v1/organizations/acme/databases").StatusCode);
        Assert.Contains(api.Violations, v => v.Contains("requires a JSON body"));
        Assert.Equal(400, (int)Send(HttpMethod.Get, "/v1/organizations/acme/databases", "{}").StatusCode);
        Assert.Contains(api.Violations, v => v.Contains("takes no request body"));
        Assert.Equal(400, (int)Send(HttpMethod.Get, "/v1/organizations/acme/databases?limit=5").StatusCode);
        Assert.Contains(api.Violations, v => v.Contains("query parameter 'limit' is not declared"));
        Assert.Equal(400, (int)Send(HttpMethod.Post, "/v1/organizations/acme/databases/main/auth/tokens?authorization=admin").StatusCode);
        Assert.Contains(api.Violations, v => v.Contains("'admin' is not one of"));
        Assert.Equal(401, (int)Send(HttpMethod.Get, "/v1/organizations/acme/databases", auth: false).StatusCode);
        Assert.Contains(api.Violations, v => v.Contains("Authorization: Bearer"));
        Assert.Equal(404, (int)Send(HttpMethod.Get, "/v1/organisations/acme/databases").StatusCode);
        Assert.Contains(api.Violations, v => v.Contains("no path of the OpenAPI document matches"));
        Assert.Equal(405, (int)Send(HttpMethod.Put, "/v1/organizations/acme/databases/main").StatusCode);
        Assert.Contains(api.Violations, v => v.Contains("PUT is not an operation"));
        Assert.Equal(11, api.Violations.Count);
        Assert.Single(api.Databases); // nothing was created

        // What the document allows passes.
        Assert.Equal(200, (int)Send(HttpMethod.Post, "/v1/organizations/acme/databases", "{\"name\":\"x\",\"group\":\"default\"}").StatusCode);
        Assert.Equal(11, api.Violations.Count);
    }

    // ------------------------------------------------------------------ retries

    [Fact]
    public void RateLimitIsRetriedAfterTheRetryAfterSeconds()
    {
        api.AddDatabase("main");
        api.RateLimitNext(2, retryAfterSeconds: 1);
        var client = Client();

        Assert.Equal("main", client.GetDatabase("main").Name);

        Assert.Equal(new[] { TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1) }, waits);
        Assert.Equal(new[] { 429, 429, 200 }, api.Requests.Select(r => r.Status));
        Assert.Contains(log, l => l.Contains("waiting 1 s (Retry-After) before attempt 2 of 5"));
        AssertDocumentFollowed();
    }

    [Fact]
    public void RetryAfterAsAnHttpDateIsHonoured()
    {
        api.AddDatabase("main");
        api.FailNext(1, 429, retryAfterDate: Now.AddSeconds(3));
        var client = Client();

        client.GetDatabase("main");

        Assert.Equal(new[] { TimeSpan.FromSeconds(3) }, waits);
        AssertDocumentFollowed();
    }

    [Fact]
    public void ARetryAfterLongerThanTheClientWaitsIsReportedAtOnce()
    {
        api.AddDatabase("main");
        api.RateLimitNext(1, retryAfterSeconds: 3600);
        var client = Client();

        var ex = Assert.Throws<TursoBackupException>(() => client.GetDatabase("main"));

        Assert.Equal(FailureKind.Busy, ex.Kind);
        Assert.Contains("asked to wait 3600 s", ex.Message);
        Assert.Contains("Run it again after 2025-03-14T13:00:00Z", ex.Message);
        Assert.Empty(waits);
        AssertNoSecrets(ex);
    }

    [Fact]
    public void ServerErrorsAreRetriedWithExponentialBackoff()
    {
        api.AddDatabase("main");
        api.ServerErrorNext(2, 503);
        var client = Client();

        Assert.Single(client.ListDatabases());

        Assert.Equal(new[] { TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2) }, waits);
        Assert.Equal(new[] { 503, 503, 200 }, api.Requests.Select(r => r.Status));
        AssertDocumentFollowed();
    }

    [Fact]
    public void PersistentServerErrorsEndInAClearError()
    {
        api.AddDatabase("main");
        api.ServerErrorNext(10, 502);
        var client = Client();
        client.MaxAttempts = 3;

        var ex = Assert.Throws<TursoBackupException>(() => client.GetDatabase("main"));

        Assert.Equal(FailureKind.Busy, ex.Kind);
        Assert.Contains("failed to read database 'main', 3 times, last with HTTP 502 (Bad Gateway)", ex.Message);
        Assert.Contains("status.turso.tech", ex.Message);
        Assert.Equal(new[] { TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2) }, waits);
        Assert.Equal(3, api.Requests.Count);
        AssertNoSecrets(ex);
        AssertDocumentFollowed();
    }

    [Fact]
    public void RateLimitThatNeverEndsEndsInAClearError()
    {
        api.AddDatabase("main");
        api.RateLimitNext(10, retryAfterSeconds: 2);
        var client = Client();
        client.MaxAttempts = 2;

        var ex = Assert.Throws<TursoBackupException>(() => client.GetDatabase("main"));

        Assert.Equal(FailureKind.Busy, ex.Kind);
        Assert.Contains("rate-limiting organization 'acme' (HTTP 429)", ex.Message);
        Assert.Equal(new[] { TimeSpan.FromSeconds(2) }, waits);
        AssertNoSecrets(ex);
    }

    [Fact]
    public void ACreateWhoseAnswerWasLostIsNotReportedAsAConflict()
    {
        var main = api.AddDatabase("main");
        api.FailNext(1, 502, operationId: "createDatabase", applied: true);
        var client = Client();

        var branch = client.CreateBranch("main", "copy", null, null);

        Assert.Equal(api.Database("copy").DbId, branch.DbId);
        Assert.Equal(main.DbId, api.Database("copy").ParentId);
        Assert.Equal(new[] { "getDatabase 200", "createDatabase 502", "createDatabase 409", "getDatabase 200" },
            api.Requests.Select(r => r.OperationId + " " + r.Status));
        AssertDocumentFollowed();
    }

    [Fact]
    public void AnUnreachableApiEndsInAClearError()
    {
        int port = Ports.Free();
        var client = Client(baseUri: new Uri($"http://127.0.0.1:{port}"));
        client.MaxAttempts = 2;

        var ex = Assert.Throws<TursoBackupException>(() => client.ListDatabases());

        Assert.Equal(FailureKind.Busy, ex.Kind);
        Assert.Contains($"The Turso API at http://127.0.0.1:{port} could not be reached", ex.Message);
        Assert.Equal(new[] { TimeSpan.FromSeconds(1) }, waits);
        AssertNoSecrets(ex);
    }

    // ------------------------------------------------------------------ errors

    [Fact]
    public void ARefusedTokenIsPermissionDenied()
    {
        api.AddDatabase("main");
        string wrong = "wrong-token-" + Guid.NewGuid().ToString("N");
        var client = Client(token: wrong);

        var ex = Assert.Throws<TursoBackupException>(() => client.GetDatabase("main"));
        var validate = Assert.Throws<TursoBackupException>(() => client.Validate());

        Assert.Equal(FailureKind.PermissionDenied, ex.Kind);
        Assert.StartsWith("The Turso API token was refused", ex.Message);
        Assert.Contains("turso auth api-tokens mint", ex.Message);
        Assert.Contains("TURSO_API_TOKEN", ex.Message);
        Assert.Equal(FailureKind.PermissionDenied, validate.Kind);
        Assert.All(api.Requests, r => Assert.Equal(401, r.Status));
        Assert.All(api.Requests, r => Assert.False(r.TokenAccepted));
        Assert.Empty(waits);
        AssertNoSecrets(ex, wrong);
        AssertNoSecrets(validate, wrong);
        Assert.DoesNotContain(wrong, string.Join("\n", log));
        Assert.Empty(api.Violations);
    }

    [Fact]
    public void AMissingDatabaseOrOrganizationIsNotFound()
    {
        api.AddDatabase("main");
        var client = Client();

        var db = Assert.Throws<TursoBackupException>(() => client.GetDatabase("nope"));
        Assert.Equal(FailureKind.NotFound, db.Kind);
        Assert.Contains("Turso database 'nope' was not found in organization 'acme'", db.Message);
        Assert.Equal("nope", db.Target);

        var source = Assert.Throws<TursoBackupException>(() => client.CreateBranch("nope", "copy", null, null));
        Assert.Equal(FailureKind.NotFound, source.Kind);
        var delete = Assert.Throws<TursoBackupException>(() => client.DeleteDatabase("nope"));
        Assert.Equal(FailureKind.NotFound, delete.Kind);
        var token = Assert.Throws<TursoBackupException>(() => client.CreateDatabaseToken("nope"));
        Assert.Equal(FailureKind.NotFound, token.Kind);

        var org = Assert.Throws<TursoBackupException>(() => Client(organization: "other").ListDatabases());
        Assert.Equal(FailureKind.NotFound, org.Kind);
        Assert.Contains("Turso organization 'other' was not found", org.Message);
        Assert.Contains("-Organization", org.Message);
        Assert.Empty(waits);
        AssertDocumentFollowed();
    }

    [Fact]
    public void AnExistingNameIsAlreadyExists()
    {
        api.AddDatabase("main");
        api.AddDatabase("taken");
        var client = Client();

        var ex = Assert.Throws<TursoBackupException>(() => client.CreateBranch("main", "taken", null, null));

        Assert.Equal(FailureKind.AlreadyExists, ex.Kind);
        Assert.StartsWith("A database named 'taken' already exists in Turso organization 'acme'; choose another -Name", ex.Message);
        Assert.Equal(409, api.Requests.Last().Status);
        AssertDocumentFollowed();
    }

    [Fact]
    public void ATimestampOutsideTheRestoreWindowNamesTheEarliestRestorePoint()
    {
        api.AddDatabase("main", createdAt: Now.AddDays(-3));
        api.AddDatabase("young", createdAt: Now.AddHours(-1).AddMilliseconds(-250));
        api.RestoreWindow = TimeSpan.FromHours(24);
        var client = Client();

        var old = Assert.Throws<TursoBackupException>(() => client.CreateBranch("main", "old", Now.AddDays(-2), null));
        Assert.Equal(FailureKind.InvalidArgument, old.Kind);
        Assert.StartsWith("Timestamp too old: the earliest restore point of 'main' is 2025-03-13T12:00:00Z", old.Message);
        Assert.Equal(400, api.Requests.Last().Status);

        var beforeCreation = Assert.Throws<TursoBackupException>(() => client.CreateBranch("young", "early", Now.AddHours(-2), null));
        Assert.Equal(FailureKind.InvalidArgument, beforeCreation.Kind);
        Assert.StartsWith("Timestamp too old: the earliest restore point of 'young' is 2025-03-14T11:00:00Z", beforeCreation.Message);

        // At the earliest restore point it works.
        Assert.Equal("ok", client.CreateBranch("main", "ok", Now.AddHours(-24), null).Name);

        int sent = api.Requests.Count;
        var future = Assert.Throws<TursoBackupException>(() => client.CreateBranch("main", "later", Now.AddHours(1), null));
        Assert.Equal(FailureKind.InvalidArgument, future.Kind);
        Assert.Contains("is in the future", future.Message);
        var badName = Assert.Throws<TursoBackupException>(() => client.CreateBranch("main", "Bad_Name", null, null));
        Assert.Equal(FailureKind.InvalidArgument, badName.Kind);
        Assert.Equal(sent, api.Requests.Count); // both refused before asking
        AssertDocumentFollowed();
    }

    [Fact]
    public void AnUnknownGroupIsNotFound()
    {
        api.AddDatabase("main");
        var client = Client();

        var ex = Assert.Throws<TursoBackupException>(() => client.CreateBranch("main", "copy", null, "nowhere"));

        Assert.Equal(FailureKind.NotFound, ex.Kind);
        Assert.Contains("Group 'nowhere' does not exist", ex.Message);
        AssertDocumentFollowed();
    }

    [Fact]
    public void TokensNeverAppearInMessagesEvenWhenTheServerEchoesThem()
    {
        const string jwt = "eyJhbGciOiJFZERTQSJ9.eyJhIjoicncifQ.c2lnbmF0dXJl";
        foreach (int status in new[] { 400, 403, 404, 418, 500 })
        {
            waits.Clear();
            var handler = new EchoingHandler(status, jwt);
            var client = Client(token: "secret-api-token-123", baseUri: new Uri("https://api.turso.tech"), handler: handler);
            client.MaxAttempts = 2;
            var ex = Assert.Throws<TursoBackupException>(() => client.CreateBranch("main", "copy", null, "default"));
            Assert.DoesNotContain("secret-api-token-123", ex.Message);
            Assert.DoesNotContain("secret-api-token-123", ex.ToString());
            Assert.DoesNotContain(jwt, ex.Message);
            Assert.Contains("***", ex.Message);
            Assert.Equal("Bearer", handler.Scheme);
        }
        Assert.DoesNotContain(log, l => l.Contains("secret-api-token-123") || l.Contains(jwt));
    }

    private sealed class EchoingHandler : HttpMessageHandler
    {
        private readonly int status;
        private readonly string jwt;

        public EchoingHandler(int status, string jwt)
        {
            this.status = status;
            this.jwt = jwt;
        }

        public string Scheme { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Scheme = request.Headers.Authorization?.Scheme;
            string echoed = $"{{\"error\":\"token {request.Headers.Authorization?.Parameter} refused; database token {jwt}\"}}";
            return Task.FromResult(new HttpResponseMessage((HttpStatusCode)status) { Content = new StringContent(echoed, Encoding.UTF8, "application/json") });
        }
    }

    // ------------------------------------------------------------------ branches: delete guard, local servers

    [Fact]
    public void DeletingASourceDatabaseNeedsForce()
    {
        api.AddDatabase("main");
        var client = Client();
        var branch = client.CreateBranch("main", "copy", null, null);
        var grandchild = client.CreateBranch("copy", "copy-2", null, null);

        var self = Assert.Throws<TursoBackupException>(() => client.DeleteBranch(new TursoBranch { Name = "main", Source = "main", Provider = "Cloud" }, force: false));
        Assert.Equal(FailureKind.InvalidArgument, self.Kind);
        Assert.Contains("'main' is the source database", self.Message);

        var source = Assert.Throws<TursoBackupException>(() => client.DeleteBranch(branch, force: false));
        Assert.Equal(FailureKind.InvalidArgument, source.Kind);
        Assert.Contains("'copy' is the source database of branch 'copy-2'", source.Message);
        Assert.Contains("-Force", source.Message);
        Assert.NotNull(api.Database("copy"));

        client.DeleteBranch(grandchild, force: false);
        Assert.Null(api.Database("copy-2"));
        client.DeleteBranch(branch, force: false);
        Assert.Null(api.Database("copy"));

        api.AddDatabase("other");
        client.CreateBranch("other", "other-copy", null, null);
        client.DeleteBranch(new TursoBranch { Name = "other", Provider = "Cloud" }, force: true);
        Assert.Null(api.Database("other"));

        var deletes = api.Requests.Where(r => r.OperationId == "deleteDatabase").ToList();
        Assert.Equal(new[] { "/v1/organizations/acme/databases/copy-2", "/v1/organizations/acme/databases/copy", "/v1/organizations/acme/databases/other" },
            deletes.Select(r => r.Path));
        Assert.All(deletes, r => Assert.Equal("DELETE", r.Method));
        AssertDocumentFollowed();
    }

    [Fact]
    public void ADatabaseCanPointAtALocalLibsqlServer()
    {
        api.AddDatabase("main");
        api.HostnameFor = name => name == "main" || name == "local-copy" ? "127.0.0.1:8080" : api.DefaultHostname(name);
        var client = Client();

        Assert.Equal("http://127.0.0.1:8080", client.GetDatabase("main").Url);
        var branch = client.CreateBranch("main", "local-copy", null, null);
        Assert.Equal("http://127.0.0.1:8080", branch.Url);
        Assert.Equal("http://127.0.0.1:8080", branch.Location);
        Assert.Equal("libsql://cloud-copy-acme.turso.io", client.CreateBranch("main", "cloud-copy", null, null).Url);

        Assert.Equal("http://localhost:9000", TursoCloudClient.DefaultDatabaseUrl("localhost:9000"));
        Assert.Equal("http://[::1]:9000", TursoCloudClient.DefaultDatabaseUrl("[::1]:9000"));
        Assert.Equal("libsql://db-org.turso.io", TursoCloudClient.DefaultDatabaseUrl("db-org.turso.io"));

        client.DatabaseUrlFor = host => "https://" + host;
        Assert.Equal("https://127.0.0.1:8080", client.GetDatabase("main").Url);
        AssertDocumentFollowed();
    }

    [Fact]
    public void BadConnectionSettingsAreRefusedUpFront()
    {
        Assert.Equal(FailureKind.InvalidArgument, Assert.Throws<TursoBackupException>(() => new TursoCloudClient("", "t")).Kind);
        var noToken = Assert.Throws<TursoBackupException>(() => new TursoCloudClient("acme", " "));
        Assert.Contains("TURSO_API_TOKEN", noToken.Message);
        var plain = Assert.Throws<TursoBackupException>(() => new TursoCloudClient("acme", "t", new Uri("http://api.example.com")));
        Assert.Contains("unencrypted", plain.Message);
        using var ok = new TursoCloudClient("acme", "t");
        Assert.Equal(new Uri("https://api.turso.tech"), ok.BaseUri);
    }
}
