using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Cloud;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Tests.Cloud;

/// <summary>
/// CloudUpload (a Turso database from a local SQLite file) against the local stand-in of the Platform API and of a
/// database host's upload endpoints (not Turso). The stand-in checks the API requests against the OpenAPI document and
/// refuses uploaded files that are not what the Turso CLI uploads (WAL, 4096-byte pages, no auto-vacuum, UTF-8).
/// </summary>
public sealed class CloudUploadTests : TempFolderTest
{
    private readonly PlatformApiStandIn api = new PlatformApiStandIn("acme");
    private readonly TursoCloudClient client;
    private readonly List<string> log = new List<string>();
    private readonly List<(long Done, long Total)> progress = new List<(long, long)>();
    private readonly CloudUpload upload;
    private string prepared;

    public CloudUploadTests()
    {
        api.HostnameFor = _ => api.UploadHostname;
        client = new TursoCloudClient("acme", api.ApiToken, api.BaseUri, null, (_, _) => Task.CompletedTask) { MaxAttempts = 2 };
        client.Log = line => { lock (log) log.Add(line); };
        upload = new CloudUpload
        {
            Log = line => { lock (log) log.Add(line); },
            ScratchParent = P("scratch"),
            Prepared = path => { prepared = P("prepared.db"); File.Copy(path, prepared, overwrite: true); },
        };
    }

    public override void Dispose()
    {
        client.Dispose();
        api.Dispose();
        base.Dispose();
    }

    private TursoDatabase Upload(string path, string name, string group = null, CancellationToken cancel = default) =>
        upload.Upload(client, path, name, group, (done, total) => { lock (progress) progress.Add((done, total)); }, cancel);

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>The file the stand-in received, copied out so opening it changes nothing there.</summary>
    private string Received(string name)
    {
        var db = api.Database(name);
        Assert.NotNull(db.UploadedPath);
        string copy = P("received-" + name + ".db");
        File.Copy(db.UploadedPath, copy, overwrite: true);
        return copy;
    }

    private static void AssertIntact(string path)
    {
        string sqlite3 = Peers.Require("sqlite3");
        var check = Peers.Run(sqlite3, new[] { path, "PRAGMA integrity_check;" });
        Assert.Equal(0, check.Code);
        Assert.Equal("ok", check.Stdout.Trim());
    }

    private void AssertNoTokens(Exception ex = null)
    {
        var secrets = api.Tokens.Select(t => t.Jwt).Append(api.ApiToken).ToList();
        string narration = string.Join("\n", log);
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, narration);
            if (ex != null)
            {
                Assert.DoesNotContain(secret, ex.Message);
                Assert.DoesNotContain(secret, ex.ToString());
            }
        }
        Assert.True(api.Violations.Count == 0, string.Join("\n", api.Violations));
    }

    private string[] Steps() => api.Requests.Select(r => r.OperationId ?? r.Method + " " + r.Path).ToArray();

    /// <summary>A WAL database whose last rows are still only in its -wal file (a writer keeps it open).</summary>
    private string WalDatabase(string name, int rows, out SqliteConnection writer)
    {
        string path = P(name);
        writer = SqliteFile.OpenOrCreate(path);
        TestDb.Exec(writer, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);");
        TestDb.Exec(writer, $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < {rows}) INSERT INTO t(v) SELECT 'row ' || i FROM n;");
        return path;
    }

    // ------------------------------------------------------------------ the flow

    [SkippableFact]
    public void SmallWalDatabaseGoesUpInOnePostAsItsCheckpointedCopy()
    {
        string source = WalDatabase("app.db", 500, out var writer);
        using (writer)
        {
            Assert.True(new FileInfo(source + "-wal").Length > 0);

            var db = Upload(source, "app-copy", "default");

            var stored = api.Database("app-copy");
            Assert.Equal("app-copy", db.Name);
            Assert.Equal(stored.DbId, db.DbId);
            Assert.Equal("default", db.Group);
            Assert.Equal(api.UploadHostname, db.Hostname);
            Assert.Equal("database_upload", stored.SeedType);
            Assert.Equal(0, stored.UploadedChunks);

            Assert.Equal(new[] { "createDatabase", "createDatabaseToken", "stand-in upload upload", "getDatabase" }, Steps());
            var create = api.Requests[0];
            Assert.Equal("{\"name\":\"app-copy\",\"group\":\"default\",\"seed\":{\"type\":\"database_upload\"}}", create.Body);
            Assert.Equal("expiration=1h&authorization=full-access", api.Requests[1].Query);
            var post = api.Requests[2];
            Assert.Equal("POST", post.Method);
            Assert.Equal("/v1/upload", post.Path);
            Assert.Equal("Bearer", post.AuthorizationScheme);
            Assert.Equal("app-copy", post.UploadDatabase);
            Assert.Equal("application/octet-stream", post.ContentType);
            long size = new FileInfo(prepared).Length;
            Assert.Equal(size, post.ContentLength);
            Assert.Equal(200, post.Status);

            string received = Received("app-copy");
            Assert.Equal(Hash(prepared), Hash(received));
            AssertIntact(received);
            Assert.Equal(500, TestDb.Count(received, "t"));
            Assert.Equal("wal", Convert.ToString(TestDb.Scalar(received, "PRAGMA journal_mode")));
            Assert.Equal((size, size), progress.Last());
            Assert.Contains(log, l => l.Contains("nothing converted"));
            Assert.Empty(Directory.GetDirectories(P("scratch")));
            AssertNoTokens();
        }
    }

    [SkippableFact]
    public void RollbackJournalDatabaseIsConvertedOnACopyAndTheOriginalIsUntouched()
    {
        string source = TestDb.Create(P("old.db"),
            "PRAGMA page_size=1024; PRAGMA auto_vacuum=FULL; PRAGMA journal_mode=DELETE; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); " +
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000) INSERT INTO t(v) SELECT printf('%0100d', i) FROM n; " +
            "CREATE INDEX t_v ON t(v); DELETE FROM t WHERE id % 3 = 0;");
        SqliteConnection.ClearAllPools();
        Assert.Equal(1024, TestDb.Long(source, "PRAGMA page_size"));
        Assert.Equal(1, TestDb.Long(source, "PRAGMA auto_vacuum"));
        string before = Hash(source);
        long rows = TestDb.Count(source, "t");

        Upload(source, "converted");

        SqliteConnection.ClearAllPools();
        Assert.Equal(before, Hash(source));
        Assert.False(File.Exists(source + "-wal"));
        Assert.Equal("delete", Convert.ToString(TestDb.Scalar(source, "PRAGMA journal_mode")));

        string received = Received("converted");
        Assert.Equal(Hash(prepared), Hash(received));
        AssertIntact(received);
        Assert.Equal(4096, TestDb.Long(received, "PRAGMA page_size"));
        Assert.Equal(0, TestDb.Long(received, "PRAGMA auto_vacuum"));
        Assert.Equal("wal", Convert.ToString(TestDb.Scalar(received, "PRAGMA journal_mode")));
        Assert.Equal(rows, TestDb.Count(received, "t"));
        string narration = string.Join("\n", log);
        Assert.Contains("page_size 1024 → 4096", narration);
        Assert.Contains("auto_vacuum FULL → NONE", narration);
        Assert.Contains("journal mode delete → wal", narration);
        AssertNoTokens();
    }

    [SkippableFact]
    public void FileOverTheThresholdGoesUpInChunksAndIsReassembledEqual()
    {
        string source = TestDb.Create(P("big.db"),
            "CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB); " +
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 700) INSERT INTO b(data) SELECT randomblob(5000) FROM n;");
        SqliteConnection.ClearAllPools();
        upload.MultipartThreshold = 1024 * 1024;
        api.UploadChunkSize = 1024 * 1024;

        Upload(source, "big");

        long size = new FileInfo(prepared).Length;
        long chunks = (size + api.UploadChunkSize - 1) / api.UploadChunkSize;
        Assert.True(chunks >= 3, $"{size} bytes should make several chunks");
        var expected = new[] { "createDatabase", "createDatabaseToken", "stand-in upload start" }
            .Concat(Enumerable.Range(0, (int)chunks).Select(n => "stand-in upload chunk/" + n))
            .Concat(new[] { "stand-in upload finalize", "getDatabase" });
        Assert.Equal(expected, Steps());
        Assert.Equal("{\"db_size_bytes\":" + size + "}", api.Requests[2].Body);
        Assert.All(api.Requests.Where(r => r.Path.StartsWith("/v2/upload/chunk/")), r => Assert.Equal(r.BodyBytes, r.ContentLength));
        Assert.All(api.Requests.Where(r => r.Path.StartsWith("/v2/")), r => Assert.Equal("PUT", r.Method));
        Assert.Equal((int)chunks, api.Database("big").UploadedChunks);

        string received = Received("big");
        Assert.Equal(Hash(prepared), Hash(received));
        AssertIntact(received);
        Assert.Equal(700, TestDb.Count(received, "b"));
        Assert.Equal((size, size), progress.Last());
        Assert.True(progress.Count >= chunks);
        AssertNoTokens();
    }

    [Fact]
    public void AChunkedUploadLongerThanItsTokenTakesANewTokenAndFinishes()
    {
        // The stand-in refuses a token past its expiration (1 h) by its clock; the upload reads the same clock, and every
        // progress report moves it 12 minutes on: the whole upload "takes" well over an hour.
        var now = DateTimeOffset.Parse("2026-12-07T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        api.Clock = () => now;
        client.Clock = () => now;
        string source = TestDb.Create(P("slow.db"),
            "CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB); " +
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1400) INSERT INTO b(data) SELECT randomblob(5000) FROM n;");
        SqliteConnection.ClearAllPools();
        upload.MultipartThreshold = 1024 * 1024;
        api.UploadChunkSize = 1024 * 1024;

        upload.Upload(client, source, "slow", null, (done, total) => now = now.AddMinutes(12));

        var steps = Steps();
        Assert.True(steps.Count(x => x == "createDatabaseToken") >= 2, string.Join(", ", steps));
        Assert.DoesNotContain(api.Requests, r => r.Status == 401);
        Assert.Equal(Hash(prepared), Hash(Received("slow")));
        Assert.Contains(log, l => l.Contains("Took a new database token"));
        AssertNoTokens();

        // Without the renewal the same upload is refused (the stand-in really expires tokens).
        var plain = new TursoCloudClient("acme", api.ApiToken, api.BaseUri, null, (_, _) => Task.CompletedTask) { MaxAttempts = 1, Clock = () => now };
        var db = plain.CreateDatabaseForUpload("slow-plain", null);
        string jwt = plain.CreateDatabaseToken("slow-plain", "1h");
        var ex = Assert.Throws<TursoBackupException>(() => plain.UploadDatabaseFile(db, jwt, prepared, 1024 * 1024, (_, _) => now = now.AddMinutes(12)));
        Assert.Contains("401", ex.Message + ex.Data["HttpStatus"]);
        plain.Dispose();
    }

    // ------------------------------------------------------------------ failures after the create: the database goes

    [Fact]
    public void UploadFailingMidwayDeletesTheCreatedDatabase()
    {
        string source = TestDb.Create(P("big.db"),
            "CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB); " +
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 700) INSERT INTO b(data) SELECT randomblob(5000) FROM n;");
        SqliteConnection.ClearAllPools();
        string before = Hash(source);
        upload.MultipartThreshold = 1024 * 1024;
        api.UploadChunkSize = 1024 * 1024;
        api.AddDatabase("other");
        api.FailUpload(500, "chunk/2");

        var ex = Assert.Throws<TursoBackupException>(() => Upload(source, "half"));

        Assert.Equal(FailureKind.Busy, ex.Kind);
        Assert.Contains("'half'", ex.Message);
        Assert.Contains("chunk 2", ex.Message);
        Assert.Contains("was deleted", ex.Message);
        Assert.Null(api.Database("half"));
        Assert.NotNull(api.Database("other"));
        Assert.Equal(2, api.Requests.Count(r => r.Path == "/v2/upload/chunk/2")); // retried once (MaxAttempts 2), then given up
        Assert.DoesNotContain(api.Requests, r => r.Path == "/v2/upload/finalize");
        Assert.Equal("deleteDatabase", api.Requests.Last().OperationId);
        Assert.EndsWith("/databases/half", api.Requests.Last().Path);
        Assert.Contains(log, l => l.Contains("Deleted the Turso database 'half'"));
        Assert.Equal(before, Hash(source));
        Assert.Empty(Directory.GetDirectories(P("scratch")));
        AssertNoTokens(ex);
    }

    [Fact]
    public void RefusedFileAndRefusedTokenAreClearErrorsAndTheDatabaseGoes()
    {
        string source = WalDatabase("app.db", 10, out var writer);
        writer.Dispose();

        api.FailUpload(400, "upload", count: 1);
        var refused = Assert.Throws<TursoBackupException>(() => Upload(source, "refused"));
        Assert.Equal(FailureKind.InvalidData, refused.Kind);
        Assert.Equal("UploadRefused", refused.ErrorId);
        Assert.Contains("not a database it accepts", refused.Message);
        Assert.Null(api.Database("refused"));
        Assert.Equal(1, api.Requests.Count(r => r.Path == "/v1/upload")); // a 400 is not retried

        api.FailUpload(401, "upload", count: 1);
        var denied = Assert.Throws<TursoBackupException>(() => Upload(source, "denied"));
        Assert.Equal(FailureKind.AuthenticationFailed, denied.Kind);
        Assert.Contains("refused the database token", denied.Message);
        Assert.Null(api.Database("denied"));
        AssertNoTokens(refused);
        AssertNoTokens(denied);
    }

    [Fact]
    public void WhenTheDeleteFailsTooTheErrorNamesTheDatabaseToDeleteByHand()
    {
        string source = WalDatabase("app.db", 10, out var writer);
        writer.Dispose();
        api.FailUpload(400, "upload");
        api.FailNext(2, 503, operationId: "deleteDatabase");

        var ex = Assert.Throws<TursoBackupException>(() => Upload(source, "stuck"));

        Assert.Equal(FailureKind.InvalidData, ex.Kind);
        Assert.Contains("failed too", ex.Message);
        Assert.Contains("turso db destroy stuck", ex.Message);
        Assert.NotNull(api.Database("stuck"));
        AssertNoTokens(ex);
    }

    [Fact]
    public void CancellingDuringTheUploadDeletesTheCreatedDatabase()
    {
        string source = TestDb.Create(P("big.db"),
            "CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB); " +
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 700) INSERT INTO b(data) SELECT randomblob(5000) FROM n;");
        SqliteConnection.ClearAllPools();
        upload.MultipartThreshold = 1024 * 1024;
        api.UploadChunkSize = 1024 * 1024;
        using var cts = new CancellationTokenSource();

        var ex = Assert.ThrowsAny<OperationCanceledException>(() =>
            upload.Upload(client, source, "cancelled", null, (done, _) => { if (done > 0) cts.Cancel(); }, cts.Token));

        Assert.Contains("cancelled", ex.Message);
        Assert.Contains("was deleted", ex.Message);
        Assert.Null(api.Database("cancelled"));
        Assert.DoesNotContain(api.Requests, r => r.Path == "/v2/upload/finalize");
        Assert.Equal("deleteDatabase", api.Requests.Last().OperationId);
        AssertNoTokens(ex);
    }

    // ------------------------------------------------------------------ failures of the create: nothing to delete

    [Fact]
    public void AnExistingNameIsRefusedAndNothingIsDeleted()
    {
        var taken = api.AddDatabase("taken");
        string source = WalDatabase("app.db", 10, out var writer);
        writer.Dispose();

        var ex = Assert.Throws<TursoBackupException>(() => Upload(source, "taken"));

        Assert.Equal(FailureKind.AlreadyExists, ex.Kind);
        Assert.Equal("DatabaseExists", ex.ErrorId);
        Assert.Contains("'taken' already exists", ex.Message);
        Assert.Contains("choose another -Name or remove it", ex.Message);
        Assert.Equal(new[] { "createDatabase" }, Steps());
        Assert.Equal(409, api.Requests[0].Status);
        Assert.Equal(taken.DbId, api.Database("taken").DbId);
        Assert.Empty(api.Tokens);
        AssertNoTokens(ex);
    }

    [Fact]
    public void AMissingGroupOrARefusedApiTokenIsAClearError()
    {
        string source = WalDatabase("app.db", 10, out var writer);
        writer.Dispose();

        var group = Assert.Throws<TursoBackupException>(() => Upload(source, "grouped", "nowhere"));
        Assert.Equal(FailureKind.InvalidArgument, group.Kind);
        Assert.Equal("GroupNotFound", group.ErrorId);
        Assert.Contains("Group 'nowhere' does not exist", group.Message);

        api.ApiToken = "another-token";
        var denied = Assert.Throws<TursoBackupException>(() => Upload(source, "denied"));
        Assert.Equal(FailureKind.AuthenticationFailed, denied.Kind);

        Assert.Empty(api.Databases);
        Assert.DoesNotContain(api.Requests, r => r.OperationId == "deleteDatabase");
        AssertNoTokens(group);
    }

    // ------------------------------------------------------------------ refused before any request

    [Theory]
    [InlineData("My_DB")]
    [InlineData("has space")]
    [InlineData("UPPER")]
    [InlineData("")]
    [InlineData("a123456789-123456789-123456789-123456789-123456789-123456789-1234")]
    public void ABadNameIsRefusedBeforeAnyRequest(string name)
    {
        string source = WalDatabase("app.db", 10, out var writer);
        writer.Dispose();

        var ex = Assert.Throws<TursoBackupException>(() => Upload(source, name));

        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        Assert.Equal("InvalidDatabaseName", ex.ErrorId);
        Assert.Contains("-Name", ex.Message);
        Assert.Empty(api.Requests);
        Assert.False(Directory.Exists(P("scratch")));
    }

    [Fact]
    public void AFileThatIsNotADatabaseIsRefusedBeforeAnyRequest()
    {
        File.WriteAllText(P("notes.txt"), "CREATE TABLE t(x); -- a SQL dump, not a database\n");
        File.WriteAllBytes(P("empty.db"), new byte[0]);

        foreach (var path in new[] { P("notes.txt"), P("empty.db") })
        {
            var ex = Assert.Throws<TursoBackupException>(() => Upload(path, "notes"));
            Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
            Assert.Equal("NotADatabase", ex.ErrorId);
            Assert.Contains("is not a SQLite database", ex.Message);
        }
        var missing = Assert.Throws<TursoBackupException>(() => Upload(P("missing.db"), "missing"));
        Assert.Equal(FailureKind.NotFound, missing.Kind);
        var folder = Assert.Throws<TursoBackupException>(() => Upload(dir, "folder"));
        Assert.Equal(FailureKind.InvalidArgument, folder.Kind);
        Assert.Empty(api.Requests);
    }

    [Fact]
    public void AUtf16DatabaseIsRefusedBeforeAnyRequest()
    {
        string source = TestDb.Create(P("utf16.db"), "PRAGMA encoding='UTF-16le'; CREATE TABLE t(v TEXT); INSERT INTO t VALUES ('x');");
        SqliteConnection.ClearAllPools();
        string before = Hash(source);

        var ex = Assert.Throws<TursoBackupException>(() => Upload(source, "utf16"));

        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        Assert.Equal("NotUtf8", ex.ErrorId);
        Assert.Contains("UTF-16le", ex.Message);
        Assert.Empty(api.Requests);
        Assert.Equal(before, Hash(source));
        Assert.Empty(Directory.GetDirectories(P("scratch")));
    }
}
