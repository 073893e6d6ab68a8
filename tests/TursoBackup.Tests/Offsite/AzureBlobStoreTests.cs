using System.Diagnostics;
using System.Net;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Sas;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Offsite;

namespace TursoBackup.Tests.Offsite;

/// <summary>Azure Blob Storage, against the real azurite: the contract, and the credentials, errors and prefix of Azure.</summary>
public sealed class AzureBlobStoreTests : ObjectStoreContract, IClassFixture<AzuriteFixture>
{
    private readonly AzuriteFixture azurite;

    public AzureBlobStoreTests(AzuriteFixture azurite)
    {
        this.azurite = azurite;
    }

    private BlobServiceClient Service => new BlobServiceClient(azurite.ConnectionString, new BlobClientOptions(AzureBlobStore.ServiceVersion));

    /// <summary>A new, empty container of its own for one test.</summary>
    private string NewContainer()
    {
        azurite.Require();
        string name = "t" + Guid.NewGuid().ToString("N")[..20];
        Service.GetBlobContainerClient(name).Create();
        return name;
    }

    private string Address(string container, string prefix = null) => azurite.BlobEndpoint + "/" + container + (prefix == null ? "" : "/" + prefix);

    private static System.Security.SecureString Secure(string s) => new NetworkCredential("", s).SecurePassword;

    /// <summary>No credential from the process environment leaks into a test.</summary>
    private static string NoEnvironment(string name) => null;

    private OffsiteOptions KeyOptions(string key = AzuriteFixture.Key) => new OffsiteOptions
    {
        UserName = AzuriteFixture.Account,
        Password = Secure(key),
        BlockSize = BlockSize,
        TimeoutSeconds = 10,
        GetEnvironment = NoEnvironment,
    };

    private AzureBlobStore Open(string uri, OffsiteOptions options) => (AzureBlobStore)OffsiteAddress.Parse(uri).Open(options);

    protected override IObjectStore CreateStore() => Open(Address(NewContainer()), KeyOptions());

    /// <summary>Two pages of 50 for the paging test's 120 objects.</summary>
    [SkippableFact]
    public void Listing_pages_through_many_objects_in_small_pages()
    {
        var store = Open(Address(NewContainer()), KeyOptions());
        store.ListPageSize = 50;
        for (int i = 0; i < 120; i++) PutBytes(store, $"many/{i:D5}.seg", new[] { (byte)i });
        var listed = store.List("many/", CancellationToken.None).ToList();
        Assert.Equal(120, listed.Select(o => o.Key).Distinct().Count());
        Assert.All(listed, o => Assert.Equal(1, o.Length));
        Assert.All(listed, o => Assert.Equal(Sha(new[] { (byte)int.Parse(o.Key[5..10]) }), o.Sha256));
    }

    [SkippableFact]
    public void The_sha256_and_md5_are_recorded_with_the_blob()
    {
        string container = NewContainer();
        using var store = Open(Address(container), KeyOptions());
        var small = RandomBytes(1000);
        var large = RandomBytes(BlockSize * 2 + 3);
        var s1 = PutBytes(store, "a/small.bin", small);
        var s2 = PutBytes(store, "a/large.bin", large);
        Assert.Equal(Sha(small), s1.Sha256);
        Assert.Equal(Sha(large), s2.Sha256);
        Assert.Equal(Sha(large), store.Stat("a/large.bin", CancellationToken.None)!.Sha256);
        foreach (var (name, data) in new[] { ("a/small.bin", small), ("a/large.bin", large) })
        {
            var props = Service.GetBlobContainerClient(container).GetBlobClient(name).GetProperties().Value;
            Assert.Equal(System.Security.Cryptography.MD5.HashData(data), props.ContentHash);
            Assert.Equal(Sha(data), props.Metadata["sha256"]);
            Assert.Equal(data.Length, props.ContentLength);
        }
    }

    [SkippableFact]
    public void A_block_damaged_on_the_way_is_refused_by_the_service_and_nothing_is_stored()
    {
        string container = NewContainer();
        using var store = Open(Address(container), KeyOptions());
        var old = RandomBytes(100);
        PutBytes(store, "d/kept.bin", old);
        foreach (int size in new[] { 5000, BlockSize * 2 + 11 })
        {
            var data = RandomBytes(size);
            int calls = 0;
            // The second block (or the only one) is changed after its MD5 was taken: what the network would do.
            store.DamageInTransitForTest = (buffer, n) => { if (++calls == Math.Min(2, (size + BlockSize - 1) / BlockSize)) buffer[n / 2] ^= 0x40; };
            foreach (var key in new[] { "d/new.bin", "d/kept.bin" })
            {
                calls = 0;
                var ex = Assert.Throws<TursoBackupException>(() => PutBytes(store, key, data));
                Assert.Equal(FailureKind.InvalidData, ex.Kind);
                Assert.Contains(store.DisplayName, ex.Message);
                Assert.Contains("damaged", ex.Message);
            }
            store.DamageInTransitForTest = null;
            Assert.Null(store.Stat("d/new.bin", CancellationToken.None));
            Assert.False(Service.GetBlobContainerClient(container).GetBlobClient("d/new.bin").Exists().Value);
            Assert.Equal(old, ReadAll(store, "d/kept.bin"));
        }
    }

    [SkippableFact]
    public void An_upload_whose_stream_throws_leaves_no_blob_the_sdk_can_see()
    {
        string container = NewContainer();
        using var store = Open(Address(container), KeyOptions());
        var data = RandomBytes(BlockSize * 3 + 1);
        var failing = new FailingStream(new MemoryStream(data), BlockSize * 2 + 10);
        var ex = Assert.Throws<TursoBackupException>(() => store.Put("f/big.db", failing, data.Length, Sha(data), null, CancellationToken.None));
        Assert.Equal(FailureKind.WriteFailed, ex.Kind);
        var blob = Service.GetBlobContainerClient(container).GetBlobClient("f/big.db");
        Assert.False(blob.Exists().Value);
        Assert.Empty(Service.GetBlobContainerClient(container).GetBlobs().ToList());
        // The blocks that were sent stay uncommitted (the service drops them); none is part of a blob.
        var uncommitted = Service.GetBlobContainerClient(container).GetBlobs(new Azure.Storage.Blobs.Models.GetBlobsOptions { States = Azure.Storage.Blobs.Models.BlobStates.Uncommitted }).ToList();
        Assert.All(uncommitted, b => Assert.Equal("f/big.db", b.Name));
    }

    [SkippableFact]
    public void Progress_is_reported_on_the_callers_thread_up_to_the_length()
    {
        using var store = Open(Address(NewContainer()), KeyOptions());
        var data = RandomBytes(BlockSize * 3 + 5);
        var reports = new List<long>();
        int thread = Environment.CurrentManagedThreadId;
        store.Put("p/x.db", new MemoryStream(data), data.Length, Sha(data), n => { Assert.Equal(thread, Environment.CurrentManagedThreadId); reports.Add(n); }, CancellationToken.None);
        Assert.Equal(data.Length, reports[^1]);
        Assert.Equal(reports.OrderBy(n => n), reports);
        Assert.True(reports.Count >= 4, "one report per block at least");
    }

    [SkippableFact]
    public void The_account_key_the_sas_and_the_connection_string_each_work()
    {
        string container = NewContainer();
        var sas = new BlobSasBuilder(BlobContainerSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1)) { BlobContainerName = container, Resource = "c" }
            .ToSasQueryParameters(new StorageSharedKeyCredential(AzuriteFixture.Account, AzuriteFixture.Key)).ToString();
        var env = new Dictionary<string, string>();
        var ways = new (string Name, string Uri, OffsiteOptions Options)[]
        {
            ("key", Address(container, "key"), KeyOptions()),
            ("sas option", Address(container, "sas1"), new OffsiteOptions { SasToken = Secure("?" + sas), GetEnvironment = NoEnvironment }),
            ("sas in uri", Address(container, "sas2") + "?" + sas, new OffsiteOptions { GetEnvironment = NoEnvironment }),
            ("connection string", Address(container, "cs"), new OffsiteOptions { ConnectionString = Secure(azurite.ConnectionString), GetEnvironment = NoEnvironment }),
            ("env connection string", Address(container, "envcs"), new OffsiteOptions { GetEnvironment = n => n == "AZURE_STORAGE_CONNECTION_STRING" ? azurite.ConnectionString : null }),
            ("env sas", Address(container, "envsas"), new OffsiteOptions { GetEnvironment = n => n == "AZURE_STORAGE_SAS_TOKEN" ? sas : null }),
            ("env key", Address(container, "envkey"), new OffsiteOptions { GetEnvironment = n => n == "AZURE_STORAGE_KEY" ? AzuriteFixture.Key : null }),
            ("development storage", Address(container, "dev"), new OffsiteOptions { ConnectionString = Secure("UseDevelopmentStorage=true"), GetEnvironment = NoEnvironment }),
        };
        foreach (var (name, uri, options) in ways)
        {
            using var store = Open(uri, options);
            store.Probe(CancellationToken.None);
            var data = RandomBytes(300 + name.Length);
            PutBytes(store, "x.json", data);
            Assert.Equal(data, ReadAll(store, "x.json"));
            Assert.Single(store.List("", CancellationToken.None));
            Assert.DoesNotContain("sig=", store.DisplayName);
            Assert.DoesNotContain(sas, store.DisplayName);
            store.Delete("x.json", CancellationToken.None);
            Assert.Empty(store.List("", CancellationToken.None));
        }
    }

    [SkippableFact]
    public void An_option_comes_before_the_environment()
    {
        string container = NewContainer();
        // A right key given wins over a wrong connection string in the environment.
        var options = KeyOptions();
        options.GetEnvironment = n => n == "AZURE_STORAGE_CONNECTION_STRING" ? azurite.ConnectionString.Replace(AzuriteFixture.Key, WrongKey) : null;
        using var store = Open(Address(container), options);
        store.Probe(CancellationToken.None);
        Assert.Equal("-Credential (account key)", store.CredentialSource);
    }

    private static readonly string WrongKey = Convert.ToBase64String(Enumerable.Range(0, 64).Select(i => (byte)i).ToArray());

    [SkippableFact]
    public void A_wrong_key_or_sas_is_authentication_failed_naming_the_destination_and_not_the_secret()
    {
        string container = NewContainer();
        var badSas = new BlobSasBuilder(BlobContainerSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1)) { BlobContainerName = container, Resource = "c" }
            .ToSasQueryParameters(new StorageSharedKeyCredential(AzuriteFixture.Account, WrongKey)).ToString();
        var expired = new BlobSasBuilder(BlobContainerSasPermissions.All, DateTimeOffset.UtcNow.AddHours(-1)) { BlobContainerName = container, Resource = "c", StartsOn = DateTimeOffset.UtcNow.AddHours(-2) }
            .ToSasQueryParameters(new StorageSharedKeyCredential(AzuriteFixture.Account, AzuriteFixture.Key)).ToString();
        var cases = new (string Secret, OffsiteOptions Options)[]
        {
            (WrongKey, KeyOptions(WrongKey)),
            (badSas, new OffsiteOptions { SasToken = Secure(badSas), GetEnvironment = NoEnvironment, TimeoutSeconds = 10 }),
            (expired, new OffsiteOptions { SasToken = Secure(expired), GetEnvironment = NoEnvironment, TimeoutSeconds = 10 }),
        };
        foreach (var (secret, options) in cases)
        {
            using var store = Open(Address(container, "pre"), options);
            foreach (var action in new Action[]
            {
                () => store.Probe(CancellationToken.None),
                () => PutBytes(store, "a.bin", RandomBytes(10)),
                () => PutBytes(store, "b.bin", RandomBytes(BlockSize + 1)),
                () => store.List("", CancellationToken.None).ToList(),
                () => store.Stat("a.bin", CancellationToken.None),
                () => store.OpenRead("a.bin", CancellationToken.None).Dispose(),
                () => store.Delete("a.bin", CancellationToken.None),
            })
            {
                var ex = Assert.Throws<TursoBackupException>(action);
                Assert.Equal(FailureKind.AuthenticationFailed, ex.Kind);
                Assert.Contains(Address(container, "pre"), ex.Message);
                AssertNoSecret(ex, secret);
            }
        }
        Assert.Empty(Service.GetBlobContainerClient(container).GetBlobs().ToList());
    }

    private static void AssertNoSecret(Exception ex, string secret)
    {
        string sig = secret.Contains("sig=") ? Uri.UnescapeDataString(secret.Split('&').First(p => p.StartsWith("sig="))[4..]) : secret;
        for (var e = ex; e != null; e = e.InnerException)
        {
            Assert.DoesNotContain(secret, e.Message);
            Assert.DoesNotContain(sig, e.Message);
            Assert.DoesNotContain(Uri.EscapeDataString(sig), e.Message);
            Assert.DoesNotContain(AzuriteFixture.Key, e.Message);
        }
        Assert.DoesNotContain(sig, ex.ToString());
        Assert.DoesNotContain(AzuriteFixture.Key, ex.ToString());
    }

    [SkippableFact]
    public void No_credentials_is_a_clear_error_saying_which_to_give()
    {
        azurite.Require();
        var ex = Assert.Throws<TursoBackupException>(() => Open(Address("somecontainer"), new OffsiteOptions { GetEnvironment = NoEnvironment }));
        Assert.Equal(FailureKind.AuthenticationFailed, ex.Kind);
        Assert.Contains(Address("somecontainer"), ex.Message);
        foreach (var way in new[] { "-ConnectionString", "-SasToken", "-Credential", "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_KEY" })
            Assert.Contains(way, ex.Message);
    }

    [SkippableFact]
    public void A_missing_container_is_not_found_saying_how_to_create_it()
    {
        azurite.Require();
        using var store = Open(Address("nosuchcontainer"), KeyOptions());
        foreach (var action in new Action[]
        {
            () => store.Probe(CancellationToken.None),
            () => PutBytes(store, "a.bin", RandomBytes(10)),
            () => PutBytes(store, "b.bin", RandomBytes(BlockSize + 1)),
            () => store.List("", CancellationToken.None).ToList(),
            () => store.Stat("a.bin", CancellationToken.None),
            () => store.OpenRead("a.bin", CancellationToken.None).Dispose(),
        })
        {
            var ex = Assert.Throws<TursoBackupException>(action);
            Assert.Equal(FailureKind.NotFound, ex.Kind);
            Assert.Contains(Address("nosuchcontainer"), ex.Message);
            Assert.Contains("az storage container create --name nosuchcontainer", ex.Message);
        }
        Assert.False(Service.GetBlobContainerClient("nosuchcontainer").Exists().Value);
    }

    [Fact]
    public void Nothing_listening_is_unreachable_within_seconds()
    {
        int port = Ports.Free();
        string uri = $"http://127.0.0.1:{port}/{AzuriteFixture.Account}/c";
        using var store = Open(uri, KeyOptions());
        foreach (var action in new Action[]
        {
            () => store.Probe(CancellationToken.None),
            () => PutBytes(store, "a.bin", RandomBytes(10)),
            () => PutBytes(store, "b.bin", RandomBytes(BlockSize + 1)),
            () => store.List("", CancellationToken.None).ToList(),
            () => store.Stat("a.bin", CancellationToken.None),
        })
        {
            var watch = Stopwatch.StartNew();
            var ex = Assert.Throws<TursoBackupException>(action);
            Assert.Equal(FailureKind.Unreachable, ex.Kind);
            Assert.Contains(uri, ex.Message);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
            AssertNoSecret(ex, AzuriteFixture.Key);
        }
    }

    [Fact]
    public void A_server_that_never_answers_is_unreachable_after_the_timeout_and_its_retries()
    {
        // Accepts connections and never answers (a host that hangs, a proxy that swallows requests).
        var silent = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var held = new List<System.Net.Sockets.TcpClient>();
        var accepting = Task.Run(async () =>
        {
            try { while (true) { var c = await silent.AcceptTcpClientAsync(); lock (held) held.Add(c); } }
            catch (Exception) { }
        });
        try
        {
            int port = ((IPEndPoint)silent.LocalEndpoint).Port;
            string uri = $"http://127.0.0.1:{port}/{AzuriteFixture.Account}/c";
            var options = KeyOptions();
            options.TimeoutSeconds = 1;
            using var store = Open(uri, options);
            foreach (var action in new Action[] { () => store.Probe(CancellationToken.None), () => store.Stat("a.bin", CancellationToken.None), () => PutBytes(store, "a.bin", RandomBytes(10)) })
            {
                var watch = Stopwatch.StartNew();
                var ex = Assert.Throws<TursoBackupException>(action);
                Assert.Equal(FailureKind.Unreachable, ex.Kind);
                Assert.Contains(uri, ex.Message);
                Assert.Contains("did not answer within 1 s", ex.Message);
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"took {watch.Elapsed}");
                Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(2.5), $"three tries of 1 s each, took {watch.Elapsed}");
            }
        }
        finally
        {
            silent.Stop();
            lock (held) foreach (var c in held) c.Dispose();
        }
    }

    [SkippableFact]
    public void A_sas_without_write_permission_is_permission_denied_and_stores_nothing()
    {
        string container = NewContainer();
        var readOnly = new BlobSasBuilder(BlobContainerSasPermissions.Read | BlobContainerSasPermissions.List, DateTimeOffset.UtcNow.AddHours(1)) { BlobContainerName = container, Resource = "c" }
            .ToSasQueryParameters(new StorageSharedKeyCredential(AzuriteFixture.Account, AzuriteFixture.Key)).ToString();
        using var store = Open(Address(container), new OffsiteOptions { SasToken = Secure(readOnly), GetEnvironment = NoEnvironment, BlockSize = BlockSize });
        store.Probe(CancellationToken.None);
        foreach (int size in new[] { 10, BlockSize + 1 })
        {
            var ex = Assert.Throws<TursoBackupException>(() => PutBytes(store, "a.bin", RandomBytes(size)));
            Assert.Equal(FailureKind.PermissionDenied, ex.Kind);
            Assert.Contains(Address(container), ex.Message);
            Assert.Contains("racwdl", ex.Message);
            AssertNoSecret(ex, readOnly);
        }
        Assert.Empty(Service.GetBlobContainerClient(container).GetBlobs().ToList());
    }

    [SkippableFact]
    public void A_cancelled_upload_commits_nothing()
    {
        string container = NewContainer();
        using var store = Open(Address(container), KeyOptions());
        var data = RandomBytes(BlockSize * 4 + 1);
        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => store.Put("c/x.db", new MemoryStream(data), data.Length, Sha(data), n => cts.Cancel(), cts.Token));
        Assert.Null(store.Stat("c/x.db", CancellationToken.None));
        Assert.False(Service.GetBlobContainerClient(container).GetBlobClient("c/x.db").Exists().Value);
    }

    [SkippableFact]
    public void A_source_shorter_than_its_length_stores_nothing()
    {
        string container = NewContainer();
        using var store = Open(Address(container), KeyOptions());
        foreach (int size in new[] { 100, BlockSize * 2 + 1 })
        {
            var data = RandomBytes(size);
            var ex = Assert.Throws<TursoBackupException>(() => store.Put("s/x.db", new MemoryStream(data, 0, size - 1), size, Sha(data), null, CancellationToken.None));
            Assert.Equal(FailureKind.InvalidData, ex.Kind);
            Assert.Contains(store.DisplayName, ex.Message);
        }
        Assert.Empty(Service.GetBlobContainerClient(container).GetBlobs().ToList());
    }

    [SkippableFact]
    public void A_prefix_keeps_the_objects_under_it()
    {
        string container = NewContainer();
        using var outer = Open(Address(container), KeyOptions());
        using var inner = Open(Address(container, "vaults/one"), KeyOptions());
        Assert.Equal("vaults/one/", inner.Prefix);
        PutBytes(outer, "top.json", RandomBytes(5));
        PutBytes(inner, "databases/main/manifest.json", RandomBytes(7));
        PutBytes(inner, "wal/x.seg", RandomBytes(BlockSize + 9));

        var names = Service.GetBlobContainerClient(container).GetBlobs().Select(b => b.Name).OrderBy(n => n, StringComparer.Ordinal).ToList();
        Assert.Equal(new[] { "top.json", "vaults/one/databases/main/manifest.json", "vaults/one/wal/x.seg" }, names);
        Assert.Equal(new[] { "databases/main/manifest.json", "wal/x.seg" }, inner.List("", CancellationToken.None).Select(o => o.Key).OrderBy(k => k, StringComparer.Ordinal));
        Assert.Single(inner.List("wal/", CancellationToken.None));
        Assert.Null(inner.Stat("top.json", CancellationToken.None));
        Assert.NotNull(inner.Stat("wal/x.seg", CancellationToken.None));
        Assert.Equal(3, outer.List("", CancellationToken.None).Count());
        inner.Delete("wal/x.seg", CancellationToken.None);
        Assert.Equal(2, Service.GetBlobContainerClient(container).GetBlobs().Count());
    }

    [Fact]
    public void A_credential_for_another_account_is_refused_before_any_request()
    {
        var options = KeyOptions();
        options.UserName = "otheraccount";
        var ex = Assert.Throws<TursoBackupException>(() => Open("http://127.0.0.1:1/devstoreaccount1/c", options));
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        Assert.DoesNotContain(AzuriteFixture.Key, ex.Message);
    }

    [Fact]
    public void Addresses_name_the_account_container_and_prefix()
    {
        var options = KeyOptions();
        options.UserName = "myaccount";
        using var cloud = Open("https://myaccount.blob.core.windows.net/backups/site/a", options);
        Assert.Equal(("myaccount", "backups", "site/a/"), (cloud.Account, cloud.ContainerName, cloud.Prefix));
        Assert.Equal("https://myaccount.blob.core.windows.net/backups/site/a", cloud.DisplayName);
        using var bare = Open("https://myaccount.blob.core.windows.net/backups?sv=2024&sig=abc", new OffsiteOptions { GetEnvironment = NoEnvironment });
        Assert.Equal(("myaccount", "backups", ""), (bare.Account, bare.ContainerName, bare.Prefix));
        Assert.Equal("https://myaccount.blob.core.windows.net/backups", bare.DisplayName);
        Assert.Equal("the SAS in the URI", bare.CredentialSource);
        using var emulator = Open("http://127.0.0.1:10000/devstoreaccount1/c/p", KeyOptions());
        Assert.Equal(("devstoreaccount1", "c", "p/"), (emulator.Account, emulator.ContainerName, emulator.Prefix));
    }
}
