using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Offsite;
using Xunit.Abstractions;

namespace TursoBackup.Tests.Offsite;

/// <summary>
/// The SFTP store against Debian's real OpenSSH server (sshd + sftp-server on 127.0.0.1, configured in a temp folder):
/// the object-store contract, host-key pinning and trust on first use, authentication, reachability, a full disk.
/// </summary>
public sealed class SftpStoreTests : ObjectStoreContract, IClassFixture<SshdFixture>
{
    private readonly SshdFixture fixture;
    private readonly ITestOutputHelper output;
    private readonly List<string> warnings = new List<string>();
    private readonly int testThread = Environment.CurrentManagedThreadId;

    public SftpStoreTests(SshdFixture fixture, ITestOutputHelper output)
    {
        this.fixture = fixture;
        this.output = output;
    }

    protected override int BlockSize => 2 * 1024 * 1024;

    private Sshd Server => fixture.Server;

    /// <summary>Options as a test gives them: the fixture's client key, a known-hosts file and home of the test's own.</summary>
    private OffsiteOptions Options(Sshd server, bool pin = true) => new OffsiteOptions
    {
        KeyFile = server.ClientKey,
        HostKeyFingerprint = pin ? server.HostKeyFingerprint : null,
        KnownHostsPath = P("known_hosts"),
        TimeoutSeconds = 10,
        Warn = m =>
        {
            // Given on the caller's thread (a cmdlet can write only from its pipeline thread).
            Assert.Equal(testThread, Environment.CurrentManagedThreadId);
            lock (warnings) warnings.Add(m);
        },
        Log = m => output.WriteLine(m),
        GetEnvironment = name => name == "HOME" ? P("home") : name == "XDG_CONFIG_HOME" ? P("config") : Environment.GetEnvironmentVariable(name),
    };

    private static SftpStore Open(Sshd server, string remote, OffsiteOptions options) =>
        new SftpStore(OffsiteAddress.Parse(server.Uri(remote)), options);

    protected override IObjectStore CreateStore() => Open(Server, Server.NewRemoteFolder(), Options(Server));

    private static string[] FilesUnder(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/')).OrderBy(f => f, StringComparer.Ordinal).ToArray();

    private static string FingerprintOf(string publicKey)
    {
        var (code, stdout, stderr) = Peers.Run(Peers.Require("ssh-keygen"), new[] { "-lf", publicKey });
        Assert.True(code == 0, stderr);
        return stdout.Split(' ')[1];
    }

    [SkippableFact]
    public void An_upload_is_verified_by_sha256sum_on_the_server_and_stored_owner_only()
    {
        string remote = Server.NewRemoteFolder();
        using var store = Open(Server, remote, Options(Server));
        var data = RandomBytes(3 * 1024 * 1024);
        var stored = PutBytes(store, "databases/main/x/main.db.zst", data);
        Assert.Equal("sha256sum", store.LastVerification);
        PutBytes(store, "databases/main/x/manifest.json", RandomBytes(1000));
        Assert.Equal("read-back", store.LastVerification);
        Assert.Equal(Sha(data), stored.Sha256);
        Assert.Equal(new[] { "databases/main/x/main.db.zst", "databases/main/x/manifest.json" }, FilesUnder(remote));
        Assert.Equal(data, File.ReadAllBytes(Path.Combine(remote, "databases/main/x/main.db.zst")));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(remote, "databases/main/x/main.db.zst")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(remote, "databases/main")));
        }
        Assert.Empty(warnings);
    }

    [SkippableFact]
    public void A_server_that_allows_no_commands_verifies_by_reading_back()
    {
        var server = fixture.SftpOnly;
        string remote = server.NewRemoteFolder();
        using var store = Open(server, remote, Options(server));
        var old = RandomBytes(BlockSize);
        PutBytes(store, "wal/state.json", old);
        Assert.Equal("read-back", store.LastVerification);

        var data = RandomBytes(BlockSize + 17);
        var ex = Assert.Throws<TursoBackupException>(() => PutBytes(store, "wal/state.json", data, new string('0', 64)));
        Assert.Equal(FailureKind.InvalidData, ex.Kind);
        output.WriteLine(ex.Message);
        Assert.Contains(store.DisplayName, ex.Message);
        Assert.Contains("read-back", ex.Message);
        Assert.Equal(old, ReadAll(store, "wal/state.json"));
        Assert.Equal(new[] { "wal/state.json" }, FilesUnder(remote));
    }

    [SkippableFact]
    public void The_cost_of_each_verification()
    {
        int size = 32 * 1024 * 1024;
        var data = RandomBytes(size);
        string sha = Sha(data);
        foreach (var server in new[] { Server, fixture.SftpOnly })
        {
            using var store = Open(server, server.NewRemoteFolder(), Options(server));
            PutBytes(store, "warm", new byte[1]);
            var small = Stopwatch.StartNew();
            for (int i = 0; i < 10; i++) PutBytes(store, $"small{i}", new byte[100]);
            output.WriteLine($"{store.LastVerification}: 10 small objects in {small.ElapsedMilliseconds} ms");
            var clock = Stopwatch.StartNew();
            store.Put("big.db", new MemoryStream(data), size, sha, null, CancellationToken.None);
            clock.Stop();
            output.WriteLine($"{store.LastVerification}: {size >> 20} MiB stored and verified in {clock.ElapsedMilliseconds} ms");
            Assert.Equal(sha, Sha(ReadAll(store, "big.db")));
        }
    }

    [SkippableFact]
    public void Trust_on_first_use_records_the_key_and_warns_then_the_recorded_key_passes_silently()
    {
        string remote = Server.NewRemoteFolder();
        using (var store = Open(Server, remote, Options(Server, pin: false)))
        {
            store.Probe(CancellationToken.None);
            PutBytes(store, "a.json", RandomBytes(10));
        }
        var warning = Assert.Single(warnings);
        Assert.Contains("127.0.0.1", warning);
        Assert.Contains(Server.Port.ToString(), warning);
        Assert.Contains(Server.HostKeyFingerprint, warning);
        Assert.Contains("-HostKeyFingerprint", warning);
        Assert.Contains(P("known_hosts"), warning);
        string line = File.ReadAllLines(P("known_hosts")).Single(l => !l.StartsWith('#'));
        Assert.StartsWith($"[127.0.0.1]:{Server.Port} {Server.HostKeyFingerprint}", line);
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(P("known_hosts")));
        Assert.Empty(Directory.GetFiles(dir, ".known_hosts*"));

        using (var again = Open(Server, remote, Options(Server, pin: false)))
        {
            again.Probe(CancellationToken.None);
            Assert.Single(again.List("", CancellationToken.None));
        }
        Assert.Single(warnings);
        Assert.Single(File.ReadAllLines(P("known_hosts")), l => !l.StartsWith('#'));
    }

    [SkippableFact]
    public void The_default_known_hosts_file_is_the_modules_own()
    {
        Assert.Equal(Path.Combine("/x/cfg", "tursobackup", "known_hosts"), SftpStore.DefaultKnownHostsPath(n => n == "XDG_CONFIG_HOME" ? "/x/cfg" : n == "HOME" ? "/home/u" : null));
        Assert.Equal(Path.Combine("/home/u", ".config", "tursobackup", "known_hosts"), SftpStore.DefaultKnownHostsPath(n => n == "HOME" ? "/home/u" : null));
        var o = Options(Server, pin: false);
        o.KnownHostsPath = null;
        using var store = Open(Server, Server.NewRemoteFolder(), o);
        Assert.Equal(P("config/tursobackup/known_hosts"), store.KnownHostsPath);
        store.Probe(CancellationToken.None);
        Assert.Contains(Server.HostKeyFingerprint, File.ReadAllText(P("config/tursobackup/known_hosts")));
        Assert.Single(warnings);
    }

    [SkippableFact]
    public void A_host_key_that_changed_is_a_security_error_and_nothing_is_written()
    {
        using var first = Sshd.Start();
        string remote = first.NewRemoteFolder();
        using (var store = Open(first, remote, Options(first, pin: false)))
        {
            PutBytes(store, "kept.json", RandomBytes(10));
        }
        Assert.Single(warnings);
        string knownHosts = File.ReadAllText(P("known_hosts"));
        string oldFingerprint = first.HostKeyFingerprint;
        first.Stop();

        // Another server (another host key) now answers on the same port.
        using var impostor = Sshd.Start(first.Folder, first.Port, newHostKey: true);
        Assert.NotEqual(oldFingerprint, impostor.HostKeyFingerprint);
        using (var store = Open(impostor, remote, Options(impostor, pin: false)))
        {
            var ex = Assert.Throws<TursoBackupException>(() => PutBytes(store, "new.json", RandomBytes(10)));
            Assert.Equal(FailureKind.SecurityError, ex.Kind);
            output.WriteLine(ex.Message);
            Assert.Contains($"127.0.0.1:{first.Port}", ex.Message);
            Assert.Contains(oldFingerprint, ex.Message);
            Assert.Contains(impostor.HostKeyFingerprint, ex.Message);
            Assert.Contains(P("known_hosts"), ex.Message);
            Assert.Contains("-HostKeyFingerprint", ex.Message);
            Assert.Equal(FailureKind.SecurityError, Assert.Throws<TursoBackupException>(() => store.Probe(CancellationToken.None)).Kind);
        }
        Assert.Equal(new[] { "kept.json" }, FilesUnder(remote));
        Assert.Equal(knownHosts, File.ReadAllText(P("known_hosts")));
        Assert.Single(warnings);
        Assert.DoesNotContain("Accepted publickey", impostor.Log);
    }

    [SkippableFact]
    public void A_pinned_fingerprint_or_a_recorded_line_that_does_not_match_is_a_security_error()
    {
        string other = FingerprintOf(Server.WrongClientKey + ".pub");
        string remote = Server.NewRemoteFolder();

        var pinned = Options(Server);
        pinned.HostKeyFingerprint = other;
        using (var store = Open(Server, remote, pinned))
        {
            var ex = Assert.Throws<TursoBackupException>(() => PutBytes(store, "x.json", RandomBytes(10)));
            Assert.Equal(FailureKind.SecurityError, ex.Kind);
            output.WriteLine(ex.Message);
            Assert.Contains(other, ex.Message);
            Assert.Contains(Server.HostKeyFingerprint, ex.Message);
            Assert.Contains("-HostKeyFingerprint", ex.Message);
        }

        File.WriteAllText(P("known_hosts"), $"[127.0.0.1]:{Server.Port} {other} ssh-ed25519\n");
        using (var store = Open(Server, remote, Options(Server, pin: false)))
        {
            var ex = Assert.Throws<TursoBackupException>(() => store.Probe(CancellationToken.None));
            Assert.Equal(FailureKind.SecurityError, ex.Kind);
            output.WriteLine(ex.Message);
            Assert.Contains(P("known_hosts"), ex.Message);
            Assert.Contains(other, ex.Message);
        }
        Assert.Empty(FilesUnder(remote));
        Assert.Empty(warnings);

        var ex2 = Assert.Throws<TursoBackupException>(() => Open(Server, remote, new OffsiteOptions { HostKeyFingerprint = "MD5:00:11" }));
        Assert.Equal(FailureKind.InvalidArgument, ex2.Kind);
    }

    [SkippableFact]
    public void A_wrong_private_key_is_an_authentication_failure_naming_user_and_host()
    {
        var o = Options(Server);
        o.KeyFile = Server.WrongClientKey;
        using (var store = Open(Server, Server.NewRemoteFolder(), o))
        {
            var ex = Assert.Throws<TursoBackupException>(() => store.Probe(CancellationToken.None));
            Assert.Equal(FailureKind.AuthenticationFailed, ex.Kind);
            output.WriteLine(ex.Message);
            Assert.Contains($"{Server.User}@127.0.0.1", ex.Message);
            Assert.DoesNotContain("PRIVATE KEY", ex.Message);
        }

        // No key file, no password, no ~/.ssh key: said so, before any connection.
        var none = Options(Server);
        none.KeyFile = null;
        using (var store = Open(Server, Server.NewRemoteFolder(), none))
        {
            var ex = Assert.Throws<TursoBackupException>(() => store.Probe(CancellationToken.None));
            Assert.Equal(FailureKind.AuthenticationFailed, ex.Kind);
            output.WriteLine(ex.Message);
            Assert.Contains($"{Server.User}@127.0.0.1", ex.Message);
        }

        // The default keys in ~/.ssh are used when no key file is given.
        Directory.CreateDirectory(P("home/.ssh"));
        File.Copy(Server.ClientKey, P("home/.ssh/id_ed25519"));
        using (var store = Open(Server, Server.NewRemoteFolder(), none))
        {
            store.Probe(CancellationToken.None);
        }

        // A password the server does not take (it allows none).
        var password = Options(Server);
        password.KeyFile = null;
        password.Password = new System.Net.NetworkCredential("", "not-the-password").SecurePassword;
        using (var store = Open(Server, Server.NewRemoteFolder(), password))
        {
            var ex = Assert.Throws<TursoBackupException>(() => store.Probe(CancellationToken.None));
            Assert.Equal(FailureKind.AuthenticationFailed, ex.Kind);
            output.WriteLine(ex.Message);
            Assert.DoesNotContain("not-the-password", ex.Message);
        }
    }

    [SkippableFact]
    public void An_encrypted_private_key_is_used_with_its_passphrase_and_a_wrong_one_is_an_authentication_failure()
    {
        string key = P("encrypted_ed25519");
        var (code, _, stderr) = Peers.Run(Peers.Require("ssh-keygen"), new[] { "-q", "-t", "ed25519", "-N", "correct horse", "-f", key });
        Assert.True(code == 0, stderr);
        File.AppendAllText(Path.Combine(Server.Folder, "authorized_keys"), File.ReadAllText(key + ".pub"));

        var o = Options(Server);
        o.KeyFile = key;
        o.KeyPassphrase = new NetworkCredential("", "correct horse").SecurePassword;
        using (var store = Open(Server, Server.NewRemoteFolder(), o))
        {
            store.Probe(CancellationToken.None);
        }
        foreach (var passphrase in new[] { "wrong horse", null })
        {
            o.KeyPassphrase = passphrase == null ? null : new NetworkCredential("", passphrase).SecurePassword;
            var ex = Assert.Throws<TursoBackupException>(() =>
            {
                using var store = Open(Server, Server.NewRemoteFolder(), o);
                store.Probe(CancellationToken.None);
            });
            Assert.Equal(FailureKind.AuthenticationFailed, ex.Kind);
            output.WriteLine(ex.Message);
            Assert.Contains(key, ex.Message);
            Assert.DoesNotContain("horse", ex.Message);
            Assert.Contains(passphrase == null ? "no passphrase" : "passphrase is wrong", ex.Message);
            output.WriteLine(ex.Message);
        }
    }

    [SkippableFact]
    public void Nothing_listening_is_unreachable_fast_and_a_silent_server_times_out()
    {
        int port = Ports.Free();
        using (var store = new SftpStore(OffsiteAddress.Parse($"sftp://{Server.User}@127.0.0.1:{port}/tmp/vault"), Options(Server)))
        {
            var clock = Stopwatch.StartNew();
            var ex = Assert.Throws<TursoBackupException>(() => store.Probe(CancellationToken.None));
            Assert.Equal(FailureKind.Unreachable, ex.Kind);
            output.WriteLine(ex.Message);
            Assert.Contains($"127.0.0.1:{port}", ex.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), clock.Elapsed.ToString());
        }

        // Something accepts the connection but never speaks SSH: the bounded timeout, then Unreachable.
        var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        try
        {
            int silentPort = ((IPEndPoint)silent.LocalEndpoint).Port;
            var o = Options(Server);
            o.TimeoutSeconds = 2;
            using var store = new SftpStore(OffsiteAddress.Parse($"sftp://{Server.User}@127.0.0.1:{silentPort}/tmp/vault"), o);
            var clock = Stopwatch.StartNew();
            var ex = Assert.Throws<TursoBackupException>(() => store.Probe(CancellationToken.None));
            Assert.Equal(FailureKind.Unreachable, ex.Kind);
            output.WriteLine(ex.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), clock.Elapsed.ToString());
        }
        finally
        {
            silent.Stop();
        }
    }

    [SkippableFact]
    public void A_missing_root_is_not_found_from_probe_and_put_creates_it()
    {
        string remote = Server.NewRemoteFolder() + "/deeper/vault";
        using var store = Open(Server, remote, Options(Server));
        var ex = Assert.Throws<TursoBackupException>(() => store.Probe(CancellationToken.None));
        Assert.Equal(FailureKind.NotFound, ex.Kind);
        output.WriteLine(ex.Message);
        Assert.Contains(remote, ex.Message);
        Assert.Empty(store.List("", CancellationToken.None));
        Assert.Null(store.Stat("a/b.json", CancellationToken.None));

        PutBytes(store, "a/b.json", RandomBytes(5));
        store.Probe(CancellationToken.None);
        Assert.Equal(new[] { "a/b.json" }, FilesUnder(remote));
    }

    [SkippableFact]
    public void Delete_removes_emptied_folders_up_to_the_root_and_hidden_files_are_never_listed()
    {
        string remote = Server.NewRemoteFolder();
        using var store = Open(Server, remote, Options(Server));
        PutBytes(store, "databases/main/1/manifest.json", RandomBytes(5));
        PutBytes(store, "databases/main/2/manifest.json", RandomBytes(5));
        Directory.CreateDirectory(Path.Combine(remote, "databases/main/2/.hidden"));
        File.WriteAllBytes(Path.Combine(remote, "databases/main/2/.manifest.json.1234abcd.partial"), new byte[3]);
        File.WriteAllBytes(Path.Combine(remote, "databases/main/2/.hidden/x"), new byte[3]);
        Assert.Equal(new[] { "databases/main/1/manifest.json", "databases/main/2/manifest.json" }, store.List("databases/", CancellationToken.None).Select(o => o.Key).OrderBy(k => k, StringComparer.Ordinal));
        Assert.Null(store.Stat("databases/main/2/.hidden", CancellationToken.None));

        store.Delete("databases/main/1/manifest.json", CancellationToken.None);
        Assert.False(Directory.Exists(Path.Combine(remote, "databases/main/1")));
        Assert.True(Directory.Exists(Path.Combine(remote, "databases/main")));
        store.Delete("databases/main/2/manifest.json", CancellationToken.None);
        Assert.True(Directory.Exists(Path.Combine(remote, "databases/main/2")), "a folder still holding a hidden file stays");
        Directory.Delete(Path.Combine(remote, "databases/main/2"), true);
        PutBytes(store, "databases/main/3/manifest.json", RandomBytes(5));
        store.Delete("databases/main/3/manifest.json", CancellationToken.None);
        Assert.Empty(Directory.GetFileSystemEntries(remote));
        Assert.True(Directory.Exists(remote));
    }

    [SkippableFact]
    public void A_dropped_connection_is_made_again()
    {
        using var server = Sshd.Start();
        string remote = server.NewRemoteFolder();
        using var store = Open(server, remote, Options(server));
        PutBytes(store, "a.json", RandomBytes(5));
        server.Stop();
        using var again = Sshd.Start(server.Folder, server.Port);
        Assert.Single(store.List("", CancellationToken.None));
        PutBytes(store, "b.json", RandomBytes(5));
        Assert.Equal(2, store.List("", CancellationToken.None).Count());
    }

    [SkippableFact]
    public void A_full_disk_is_quota_exceeded_and_stores_nothing()
    {
        if (Server.FullFolder == null)
        {
            if (Peers.InCi) throw new InvalidOperationException("the disk-full test needs sshd in a mount namespace of its own (root and unshare)");
            Skip.If(true, "sshd does not run in a mount namespace of its own here (not root): no small file system for it");
        }
        string remote = Server.FullFolder + "/" + Guid.NewGuid().ToString("N")[..8];
        using var store = Open(Server, remote, Options(Server));
        PutBytes(store, "small.json", RandomBytes(1000));
        var ex = Assert.Throws<TursoBackupException>(() => PutBytes(store, "big.db", RandomBytes(3 * 1024 * 1024)));
        Assert.Equal(FailureKind.QuotaExceeded, ex.Kind);
        output.WriteLine(ex.Message);
        Assert.Contains(store.DisplayName, ex.Message);
        Assert.Equal(new[] { "small.json" }, store.List("", CancellationToken.None).Select(o => o.Key));
        // The partial file was removed: the space is free again.
        PutBytes(store, "small2.json", RandomBytes(200_000));
        Assert.Equal(2, store.List("", CancellationToken.None).Count());
    }
}
