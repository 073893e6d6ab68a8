using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security;
using System.Security.Cryptography;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Offsite;
using TursoBackup.TestSupport;

namespace TursoBackup.Tests.Offsite;

/// <summary>
/// The S3 store against the real s3rver 3.7.1 (one server per class, one fresh bucket per test). s3rver does not verify
/// SigV4 signatures, Content-MD5, and has no AbortMultipartUpload or ListMultipartUploads: what needs those is checked
/// against <see cref="S3StandIn"/>, a tiny HTTP listener that answers like S3 — a stand-in, labelled so in each test.
/// </summary>
public sealed class S3StoreTests : ObjectStoreContract, IClassFixture<S3rverFixture>
{
    private readonly S3rverFixture s3;

    public S3StoreTests(S3rverFixture s3)
    {
        this.s3 = s3;
    }

    private static SecureString Secure(string s)
    {
        var ss = new SecureString();
        foreach (char c in s) ss.AppendChar(c);
        ss.MakeReadOnly();
        return ss;
    }

    private OffsiteOptions Options(string endpoint = null, string user = S3rverFixture.AccessKey, string secret = S3rverFixture.SecretKey) => new OffsiteOptions
    {
        Endpoint = endpoint ?? s3.Endpoint,
        UserName = user,
        Password = secret == null ? null : Secure(secret),
        BlockSize = BlockSize,
        TimeoutSeconds = 10,
        GetEnvironment = _ => null,
    };

    private AmazonS3Client Admin() => new AmazonS3Client(new BasicAWSCredentials(S3rverFixture.AccessKey, S3rverFixture.SecretKey), new AmazonS3Config
    {
        ServiceURL = s3.Endpoint,
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
    });

    /// <summary>A new, empty bucket on s3rver, made with the SDK.</summary>
    private string NewBucket()
    {
        s3.Require();
        string name = "tb-" + Guid.NewGuid().ToString("N")[..16];
        using var admin = Admin();
        admin.PutBucketAsync(new PutBucketRequest { BucketName = name }).GetAwaiter().GetResult();
        return name;
    }

    private IObjectStore Open(string uri, OffsiteOptions options) => OffsiteAddress.Parse(uri).Open(options);

    protected override IObjectStore CreateStore() => Open("s3://" + NewBucket(), Options());

    /// <summary>s3rver pages ListObjectsV2 at 1000 keys: more than one page.</summary>
    protected override int ManyObjects => 1005;

    [SkippableFact]
    public void The_sha256_is_recorded_as_metadata_and_stat_returns_it()
    {
        string bucket = NewBucket();
        using var store = Open("s3://" + bucket, Options());
        var small = RandomBytes(4321);
        var large = RandomBytes(BlockSize * 2 + 3);
        PutBytes(store, "a/small.db", small);
        PutBytes(store, "a/large.db", large);
        Assert.Equal(Sha(small), store.Stat("a/small.db", CancellationToken.None)!.Sha256);
        Assert.Equal(Sha(large), store.Stat("a/large.db", CancellationToken.None)!.Sha256);
        using var admin = Admin();
        var head = admin.GetObjectMetadataAsync(bucket, "a/large.db").GetAwaiter().GetResult();
        Assert.Equal(Sha(large), head.Metadata["x-amz-meta-sha256"]);
        // List cannot return metadata (ListObjectsV2 has none): Sha256 is null there, the lengths are right.
        Assert.All(store.List("a/", CancellationToken.None), o => Assert.Null(o.Sha256));
    }

    [SkippableFact]
    public void A_missing_bucket_is_NotFound_saying_to_create_it()
    {
        s3.Require();
        using var store = Open("s3://tb-no-such-bucket-" + Guid.NewGuid().ToString("N")[..8] + "/vault", Options());
        var checks = new Action[]
        {
            () => store.Probe(CancellationToken.None),
            () => store.List("", CancellationToken.None).ToList(),
            () => PutBytes(store, "x/y.db", RandomBytes(10)),
            () => PutBytes(store, "x/big.db", RandomBytes(BlockSize + 10)),
            () => store.OpenRead("x/y.db", CancellationToken.None).Dispose(),
        };
        foreach (var check in checks)
        {
            var ex = Assert.Throws<TursoBackupException>(check);
            Assert.Equal(FailureKind.NotFound, ex.Kind);
            Assert.Contains(store.DisplayName, ex.Message);
            Assert.Contains("Create it", ex.Message);
        }
    }

    [Fact]
    public void Nothing_listening_is_Unreachable_within_seconds()
    {
        int port = Ports.Free();
        using var store = Open("s3://bucket/vault", Options($"http://127.0.0.1:{port}"));
        var sw = Stopwatch.StartNew();
        foreach (var check in new Action[] { () => store.Probe(CancellationToken.None), () => PutBytes(store, "x/y.db", RandomBytes(10)), () => store.Stat("x/y.db", CancellationToken.None) })
        {
            var ex = Assert.Throws<TursoBackupException>(check);
            Assert.Equal(FailureKind.Unreachable, ex.Kind);
            Assert.Contains("s3://bucket/vault", ex.Message);
            Assert.Contains($"127.0.0.1:{port}", ex.Message);
        }
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), $"three calls took {sw.Elapsed}");
    }

    [Fact]
    public void A_server_that_never_answers_is_Unreachable_after_the_timeout()
    {
        // A real TCP listener that accepts connections and never says a word (a hung proxy, a black-holed port).
        var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var held = new ConcurrentQueue<System.Net.Sockets.TcpClient>();
        var accept = Task.Run(async () =>
        {
            try { while (true) held.Enqueue(await silent.AcceptTcpClientAsync()); }
            catch (Exception) { }
        });
        try
        {
            var options = Options($"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}");
            options.TimeoutSeconds = 1;
            using var store = Open("s3://bucket", options);
            var sw = Stopwatch.StartNew();
            var ex = Assert.Throws<TursoBackupException>(() => store.Probe(CancellationToken.None));
            Assert.Equal(FailureKind.Unreachable, ex.Kind);
            Assert.Contains("s3://bucket", ex.Message);
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"took {sw.Elapsed}");
        }
        finally
        {
            silent.Stop();
            foreach (var c in held) c.Dispose();
        }
    }

    [SkippableFact]
    public void A_wrong_access_key_id_is_AuthenticationFailed_and_the_secret_is_never_shown()
    {
        // Real s3rver: it knows one access key id (S3RVER) and answers InvalidAccessKeyId to any other.
        string bucket = NewBucket();
        using var store = Open("s3://" + bucket, Options(user: "AKIAWRONGWRONGWRONG", secret: "very-secret-value-123"));
        foreach (var check in new Action[] { () => store.Probe(CancellationToken.None), () => PutBytes(store, "x/y.db", RandomBytes(10)) })
        {
            var ex = Assert.Throws<TursoBackupException>(check);
            Assert.Equal(FailureKind.AuthenticationFailed, ex.Kind);
            Assert.Contains("InvalidAccessKeyId", ex.Message);
            Assert.Contains(store.DisplayName, ex.Message);
            Assert.DoesNotContain("very-secret-value-123", ex.ToString());
        }
    }

    [Fact]
    public void Without_credentials_the_error_says_what_to_give()
    {
        var options = Options("http://127.0.0.1:1", user: null, secret: null);
        using var store = Open("s3://bucket", options);
        var ex = Assert.Throws<TursoBackupException>(() => store.Probe(CancellationToken.None));
        Assert.Equal(FailureKind.AuthenticationFailed, ex.Kind);
        Assert.Contains("-Credential", ex.Message);
        Assert.Contains("AWS_ACCESS_KEY_ID", ex.Message);
        Assert.Contains("AWS_SECRET_ACCESS_KEY", ex.Message);

        options.UserName = "only-the-id";
        using var half = Open("s3://bucket", options);
        Assert.Equal(FailureKind.AuthenticationFailed, Assert.Throws<TursoBackupException>(() => half.Probe(CancellationToken.None)).Kind);
    }

    [Fact]
    public void An_endpoint_that_is_not_a_url_is_InvalidArgument()
    {
        using var store = Open("s3://bucket", Options("127.0.0.1 port 4568"));
        var ex = Assert.Throws<TursoBackupException>(() => store.Probe(CancellationToken.None));
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        Assert.Contains("-Endpoint", ex.Message);
    }

    [SkippableFact]
    public void Credentials_from_the_environment_are_used()
    {
        string bucket = NewBucket();
        var env = new Dictionary<string, string> { ["AWS_ACCESS_KEY_ID"] = S3rverFixture.AccessKey, ["AWS_SECRET_ACCESS_KEY"] = S3rverFixture.SecretKey };
        var options = Options(user: null, secret: null);
        options.GetEnvironment = name => env.TryGetValue(name, out var v) ? v : null;
        using var store = Open("s3://" + bucket, options);
        store.Probe(CancellationToken.None);
        PutBytes(store, "e/x.json", RandomBytes(20));
        Assert.Single(store.List("", CancellationToken.None));
    }

    [SkippableFact]
    public void The_prefix_goes_before_every_key_and_bounds_what_is_seen()
    {
        string bucket = NewBucket();
        using var whole = Open("s3://" + bucket, Options());
        using var store = Open("s3://" + bucket + "/team/vault", Options());
        PutBytes(whole, "outside/x.db", RandomBytes(5));
        PutBytes(whole, "team/vaultother/y.db", RandomBytes(5));
        var data = RandomBytes(777);
        PutBytes(store, "databases/main/m.json", data);
        PutBytes(store, "big/b.db", RandomBytes(BlockSize + 1));

        using var admin = Admin();
        var keys = admin.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket }).GetAwaiter().GetResult().S3Objects.Select(o => o.Key).OrderBy(k => k, StringComparer.Ordinal);
        Assert.Equal(new[] { "outside/x.db", "team/vault/big/b.db", "team/vault/databases/main/m.json", "team/vaultother/y.db" }, keys);

        Assert.Equal(new[] { "big/b.db", "databases/main/m.json" }, store.List("", CancellationToken.None).Select(o => o.Key).OrderBy(k => k, StringComparer.Ordinal));
        Assert.Equal(new[] { "databases/main/m.json" }, store.List("databases/", CancellationToken.None).Select(o => o.Key));
        Assert.Equal(data, ReadAll(store, "databases/main/m.json"));
        Assert.Equal(777, store.Stat("databases/main/m.json", CancellationToken.None)!.Length);
        Assert.Null(store.Stat("outside/x.db", CancellationToken.None));
        store.Delete("databases/main/m.json", CancellationToken.None);
        Assert.NotNull(whole.Stat("outside/x.db", CancellationToken.None));
        Assert.Null(whole.Stat("team/vault/databases/main/m.json", CancellationToken.None));
    }

    [SkippableFact]
    public void A_stopped_multipart_upload_on_s3rver_leaves_no_object_and_the_abort_is_attempted()
    {
        // Real s3rver: the unfinished upload is never listed. s3rver 3.7.1 has no AbortMultipartUpload (it answers
        // MethodNotAllowed), so its parts stay in its folder; the store reports that through Log and still fails cleanly.
        // That the abort leaves no pending upload is checked against the stand-in below.
        string bucket = NewBucket();
        var log = new ConcurrentQueue<string>();
        var options = Options();
        options.Log = log.Enqueue;
        using var store = Open("s3://" + bucket, options);
        var data = RandomBytes(BlockSize * 3);
        var ex = Assert.ThrowsAny<Exception>(() => store.Put("big/x.db", new FailingStream(new MemoryStream(data), BlockSize * 2 + 10), data.Length, Sha(data), null, CancellationToken.None));
        Assert.IsType<TursoBackupException>(ex);
        Assert.Null(store.Stat("big/x.db", CancellationToken.None));
        Assert.Empty(store.List("", CancellationToken.None));
        Assert.Contains(log, l => l.Contains("could not be aborted") && l.Contains("MethodNotAllowed"));
        Assert.Single(Directory.GetDirectories(Path.Combine(s3.DataDirectory, bucket, "._S3rver_uploads")));
    }

    [Fact]
    public void A_stopped_multipart_upload_is_aborted_and_leaves_no_pending_upload_stand_in()
    {
        // STAND-IN (s3rver has neither AbortMultipartUpload nor ListMultipartUploads): a listener that keeps multipart
        // uploads as S3 does and answers ListMultipartUploads from them.
        using var standIn = new S3StandIn();
        using var store = Open("s3://bucket", Options(standIn.Endpoint));
        var data = RandomBytes(BlockSize * 3 + 5);
        foreach (long stopAt in new long[] { 10, BlockSize + 100, BlockSize * 3 })
        {
            Assert.Throws<TursoBackupException>(() => store.Put("big/x.db", new FailingStream(new MemoryStream(data), stopAt), data.Length, Sha(data), null, CancellationToken.None));
            Assert.Empty(PendingUploads(standIn));
        }
        // a checksum that does not match: every part went in, then the upload was aborted, not completed
        Assert.Equal(FailureKind.InvalidData, Assert.Throws<TursoBackupException>(() => PutBytes(store, "big/x.db", data, new string('1', 64))).Kind);
        Assert.Empty(PendingUploads(standIn));
        Assert.DoesNotContain(standIn.Requests, r => r.Method == "POST" && r.Query.Contains("uploadId="));
        Assert.True(standIn.Requests.Count(r => r.Method == "DELETE" && r.Query.Contains("uploadId=")) == 4, string.Join("\n", standIn.Requests.Select(r => r.Method + " " + r.Query)));
        // every part carried Content-MD5, and the upload was started with the SHA-256 as metadata
        Assert.All(standIn.Requests.Where(r => r.Method == "PUT"), r => Assert.False(string.IsNullOrEmpty(r.Headers["Content-MD5"])));
        var initiated = standIn.Requests.Where(r => r.Method == "POST" && r.Query.Contains("uploads")).Select(r => r.Headers["x-amz-meta-sha256"]).ToList();
        Assert.Equal(new[] { Sha(data), Sha(data), Sha(data), new string('1', 64) }, initiated);
    }

    private static List<string> PendingUploads(S3StandIn standIn)
    {
        using var client = new AmazonS3Client(new BasicAWSCredentials("id", "secret"), new AmazonS3Config { ServiceURL = standIn.Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
        var r = client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = "bucket" }).GetAwaiter().GetResult();
        return (r.MultipartUploads ?? new List<MultipartUpload>()).Select(u => u.UploadId).ToList();
    }

    [Fact]
    public void A_store_that_keeps_other_bytes_than_sent_is_caught_by_the_etag_stand_in()
    {
        // STAND-IN: a store that ignores Content-MD5 and answers an ETag that is not the body's MD5 (small objects), or a
        // multipart ETag that is not the MD5 of the parts' MD5s: InvalidData, and the damaged object is removed again.
        foreach (int size in new[] { 100, BlockSize * 2 + 1 })
        {
            using var standIn = new S3StandIn { WrongEtags = true };
            using var store = Open("s3://bucket/p", Options(standIn.Endpoint));
            var ex = Assert.Throws<TursoBackupException>(() => PutBytes(store, "x/y.db", RandomBytes(size)));
            Assert.Equal(FailureKind.InvalidData, ex.Kind);
            Assert.Contains("s3://bucket/p", ex.Message);
            Assert.Contains(standIn.Requests, r => r.Method == "DELETE" && r.Path == "/bucket/p/x/y.db" && !r.Query.Contains("uploadId"));
            if (size == 100) Assert.False(string.IsNullOrEmpty(standIn.Requests.First(r => r.Method == "PUT").Headers["Content-MD5"]));
        }
    }

    [Theory]
    [InlineData(403, "SignatureDoesNotMatch", FailureKind.AuthenticationFailed)]
    [InlineData(403, "InvalidAccessKeyId", FailureKind.AuthenticationFailed)]
    [InlineData(400, "ExpiredToken", FailureKind.AuthenticationFailed)]
    [InlineData(403, "AccessDenied", FailureKind.PermissionDenied)]
    [InlineData(403, "QuotaExceeded", FailureKind.QuotaExceeded)]
    [InlineData(400, "EntityTooLarge", FailureKind.QuotaExceeded)]
    [InlineData(507, "XMinioStorageFull", FailureKind.QuotaExceeded)]
    [InlineData(400, "BadDigest", FailureKind.InvalidData)]
    [InlineData(404, "NoSuchBucket", FailureKind.NotFound)]
    [InlineData(503, "SlowDown", FailureKind.Unreachable)]
    public void Service_errors_are_translated_stand_in(int status, string code, FailureKind kind)
    {
        // STAND-IN for answers s3rver never gives (it does not verify SigV4 signatures, so a wrong secret passes there):
        // a listener answering every request with S3's XML error.
        using var standIn = new S3StandIn { FailWith = (status, code) };
        using var store = Open("s3://bucket/vault", Options(standIn.Endpoint, secret: "very-secret-value-123"));
        var ex = Assert.Throws<TursoBackupException>(() => PutBytes(store, "x/y.db", RandomBytes(10)));
        Assert.Equal(kind, ex.Kind);
        Assert.Contains("s3://bucket/vault", ex.Message);
        Assert.Contains(code, ex.Message);
        Assert.DoesNotContain("very-secret-value-123", ex.ToString());
    }
}

/// <summary>
/// A STAND-IN for S3 in the tests that need what s3rver 3.7.1 lacks (signature checks, AbortMultipartUpload,
/// ListMultipartUploads): an HTTP listener on 127.0.0.1 that records every request and answers PutObject, multipart
/// uploads (initiate, parts, complete, abort, list), DeleteObject — or S3's XML error for everything with
/// <see cref="FailWith"/>. Not a store: it keeps no objects.
/// </summary>
public sealed class S3StandIn : IDisposable
{
    private readonly HttpListener listener;
    private readonly Thread loop;
    private readonly ConcurrentDictionary<string, string> uploads = new();

    public S3StandIn()
    {
        (listener, var uri) = Ports.StartHttpListener();
        Endpoint = uri.ToString().TrimEnd('/');
        loop = new Thread(Serve) { IsBackground = true };
        loop.Start();
    }

    public string Endpoint { get; }

    public (int Status, string Code)? FailWith { get; set; }

    public bool WrongEtags { get; set; }

    public ConcurrentQueue<(string Method, string Path, string Query, System.Collections.Specialized.NameValueCollection Headers)> Requests { get; } = new();

    private void Serve()
    {
        while (listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = listener.GetContext(); }
            catch (Exception) { return; }
            try { Answer(ctx); }
            catch (Exception) { try { ctx.Response.Abort(); } catch (Exception) { } }
        }
    }

    private void Answer(HttpListenerContext ctx)
    {
        var req = ctx.Request;
        var body = new MemoryStream();
        req.InputStream.CopyTo(body);
        string query = req.Url!.Query;
        Requests.Enqueue((req.HttpMethod, req.Url.AbsolutePath, query, req.Headers));
        var res = ctx.Response;
        string xml = null;
        if (FailWith is { } f)
        {
            res.StatusCode = f.Status;
            xml = $"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{f.Code}</Code><Message>stand-in says {f.Code}</Message><RequestId>1</RequestId></Error>";
        }
        else if (req.HttpMethod == "GET" && query.Contains("uploads"))
        {
            var sb = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListMultipartUploadsResult><Bucket>bucket</Bucket><IsTruncated>false</IsTruncated>");
            foreach (var u in uploads) sb.Append($"<Upload><Key>{u.Value}</Key><UploadId>{u.Key}</UploadId></Upload>");
            xml = sb.Append("</ListMultipartUploadsResult>").ToString();
        }
        else if (req.HttpMethod == "POST" && query.Contains("uploads"))
        {
            string id = Guid.NewGuid().ToString("N");
            uploads[id] = req.Url.AbsolutePath;
            xml = $"<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResult><Bucket>bucket</Bucket><Key>k</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>";
        }
        else if (req.HttpMethod == "POST" && query.Contains("uploadId="))
        {
            uploads.TryRemove(Id(query), out _);
            xml = $"<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResult><Bucket>bucket</Bucket><Key>k</Key><ETag>\"{new string('0', 32)}-9\"</ETag></CompleteMultipartUploadResult>";
        }
        else if (req.HttpMethod == "DELETE")
        {
            if (query.Contains("uploadId=")) uploads.TryRemove(Id(query), out _);
            res.StatusCode = 204;
        }
        else if (req.HttpMethod == "PUT")
        {
            string md5 = Convert.ToHexString(MD5.HashData(body.ToArray())).ToLowerInvariant();
            res.AddHeader("ETag", "\"" + (WrongEtags && !query.Contains("partNumber") ? new string('0', 32) : md5) + "\"");
        }
        else
        {
            res.StatusCode = 404;
            xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>none</Message></Error>";
        }
        if (xml != null)
        {
            var bytes = Encoding.UTF8.GetBytes(xml);
            res.ContentType = "application/xml";
            res.ContentLength64 = bytes.Length;
            res.OutputStream.Write(bytes);
        }
        res.Close();
    }

    private static string Id(string query) =>
        query.TrimStart('?').Split('&').Select(p => p.Split('=', 2)).Where(p => p[0] == "uploadId").Select(p => Uri.UnescapeDataString(p[1])).First();

    public void Dispose()
    {
        try { listener.Stop(); listener.Close(); } catch (Exception) { }
        loop.Join(TimeSpan.FromSeconds(5));
    }
}
