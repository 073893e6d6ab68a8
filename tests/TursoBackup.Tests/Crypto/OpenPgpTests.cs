using System.Security;
using System.Security.Cryptography;
using TursoBackup.Engine.Crypto;
using TursoBackup.Engine.Errors;
using TursoBackup.TestSupport;

namespace TursoBackup.Tests.Crypto;

/// <summary>
/// OpenPGP interop with the real gpg (Debian's gnupg 2.2), both directions, passphrase and public key: what we write,
/// `gpg --decrypt` opens; what `gpg --symmetric --cipher-algo AES256` and `gpg --encrypt -r` write (compressed, as gpg
/// does by default), we open. Each test has a GNUPGHOME of its own.
/// </summary>
public sealed class OpenPgpTests : TempFolderTest
{
    private const string Pass = "correct horse battery staple";
    private string gpg;
    private Dictionary<string, string> env;

    private void Gpg(params string[] args) => GpgIn(null, args);

    private void GpgIn(string stdin, params string[] args)
    {
        var r = Peers.Run(gpg, new[] { "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback" }.Concat(args), stdin, env);
        Assert.True(r.Code == 0, $"gpg {string.Join(' ', args)} failed: {r.Stderr}");
    }

    private void Setup()
    {
        gpg = Peers.Require("gpg");
        string home = P("gnupg");
        Directory.CreateDirectory(home);
        File.SetUnixFileMode(home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        env = new Dictionary<string, string> { ["GNUPGHOME"] = home };
    }

    /// <summary>A key pair in the test's keyring; its public key and secret key exported to files.</summary>
    private (string Public, string Secret) NewKey(string email, string keyPassphrase = "")
    {
        Gpg("--passphrase", keyPassphrase, "--quick-generate-key", $"Test <{email}>", "rsa2048", "default", "never");
        // An encryption subkey (quick-generate-key with an explicit algorithm makes only the primary key).
        var fpr = Peers.Run(gpg, new[] { "--batch", "--with-colons", "--list-keys", email }, env: env).Stdout
            .Split('\n').First(l => l.StartsWith("fpr:")).Split(':')[9];
        Gpg("--passphrase", keyPassphrase, "--quick-add-key", fpr, "rsa2048", "encr", "never");
        string pub = P(email + ".pub.asc"), sec = P(email + ".sec.gpg");
        Gpg("--armor", "--output", pub, "--export", email);
        Gpg("--passphrase", keyPassphrase, "--output", sec, "--export-secret-keys", email);
        return (pub, sec);
    }

    private static SecureString Secure(string s)
    {
        var ss = new SecureString();
        foreach (char c in s) ss.AppendChar(c);
        ss.MakeReadOnly();
        return ss;
    }

    private static byte[] Data(int n)
    {
        var b = new byte[n];
        new Random(n).NextBytes(b);
        return b;
    }

    private void EncryptToFile(byte[] data, string path, EncryptionKeys keys)
    {
        using var fs = File.Create(path);
        using (var enc = OpenPgp.Encrypt(fs, keys, "main.db.zst"))
        {
            enc.Write(data, 0, data.Length);
        }
    }

    private static byte[] DecryptFile(string path, DecryptionKeys keys)
    {
        using var fs = File.OpenRead(path);
        using var dec = OpenPgp.Decrypt(fs, keys, "backup X");
        using var m = new MemoryStream();
        dec.CopyTo(m);
        return m.ToArray();
    }

    [SkippableFact]
    public void Gpg_decrypts_what_we_encrypt_with_a_passphrase_and_sees_aes256_with_an_integrity_check()
    {
        Setup();
        var data = Data(3 * 1024 * 1024 + 17);
        EncryptToFile(data, P("a.gpg"), new EncryptionKeys { Passphrase = Secure(Pass) });
        Gpg("--passphrase", Pass, "--output", P("a.out"), "--decrypt", P("a.gpg"));
        Assert.Equal(data, File.ReadAllBytes(P("a.out")));
        var packets = Peers.Run(gpg, new[] { "--batch", "--pinentry-mode", "loopback", "--passphrase", Pass, "--list-packets", P("a.gpg") }, env: env);
        Assert.Contains("symkey enc packet: version 4, cipher 9", packets.Stdout + packets.Stderr); // 9 = AES-256
        Assert.Contains("mdc_method: 2", packets.Stdout + packets.Stderr);                          // SEIPD with MDC
        Assert.DoesNotContain("compressed packet", packets.Stdout);
    }

    [SkippableFact]
    public void We_decrypt_what_gpg_symmetric_writes_compressed_or_not()
    {
        Setup();
        var data = Data(1_000_003);
        File.WriteAllBytes(P("plain"), data);
        foreach (var level in new[] { "6", "0" })
        {
            Gpg("--passphrase", Pass, "--symmetric", "--cipher-algo", "AES256", "--compress-level", level, "--output", P("s" + level + ".gpg"), P("plain"));
            Assert.Equal(data, DecryptFile(P("s" + level + ".gpg"), new DecryptionKeys { Passphrase = Secure(Pass) }));
        }
        Gpg("--passphrase", Pass, "--symmetric", "--armor", "--cipher-algo", "AES256", "--output", P("s.asc"), P("plain"));
        Assert.Equal(data, DecryptFile(P("s.asc"), new DecryptionKeys { Passphrase = Secure(Pass) }));
    }

    [SkippableFact]
    public void Public_keys_both_ways_and_every_recipient_can_open_it()
    {
        Setup();
        var admin = NewKey("admin@example.com");
        var escrow = NewKey("escrow@example.com", "escrow pass");
        var data = Data(2 * 1024 * 1024 + 5);
        EncryptToFile(data, P("k.gpg"), new EncryptionKeys { Recipients = { admin.Public, File.ReadAllText(escrow.Public) } });
        // gpg opens it (its keyring holds both secret keys; it takes the first it can unlock).
        Gpg("--passphrase", "escrow pass", "--output", P("k.out"), "--decrypt", P("k.gpg"));
        Assert.Equal(data, File.ReadAllBytes(P("k.out")));
        // and each secret key alone opens it here.
        Assert.Equal(data, DecryptFile(P("k.gpg"), new DecryptionKeys { KeyFile = admin.Secret }));
        Assert.Equal(data, DecryptFile(P("k.gpg"), new DecryptionKeys { KeyFile = escrow.Secret, KeyPassphrase = Secure("escrow pass") }));

        // What gpg encrypts to a recipient, we open with its secret key.
        File.WriteAllBytes(P("plain"), data);
        Gpg("--trust-model", "always", "--recipient", "admin@example.com", "--output", P("g.gpg"), "--encrypt", P("plain"));
        Assert.Equal(data, DecryptFile(P("g.gpg"), new DecryptionKeys { KeyFile = admin.Secret }));
    }

    [SkippableFact]
    public void A_wrong_or_missing_key_is_a_clear_error_and_no_byte_is_returned()
    {
        Setup();
        var admin = NewKey("admin@example.com", "kp");
        var other = NewKey("other@example.com");
        EncryptToFile(Data(1000), P("p.gpg"), new EncryptionKeys { Passphrase = Secure(Pass) });
        EncryptToFile(Data(1000), P("k.gpg"), new EncryptionKeys { Recipients = { admin.Public } });

        var wrong = Assert.Throws<TursoBackupException>(() => OpenPgp.Decrypt(File.OpenRead(P("p.gpg")), new DecryptionKeys { Passphrase = Secure("not it") }, "backup X of 'main'"));
        Assert.Equal("WrongKey", wrong.ErrorId);
        Assert.Contains("The passphrase does not open backup X of 'main'", wrong.Message);
        Assert.DoesNotContain("not it", wrong.Message);

        var none = Assert.Throws<TursoBackupException>(() => OpenPgp.Decrypt(File.OpenRead(P("p.gpg")), new DecryptionKeys(), "backup X"));
        Assert.Equal("KeyRequired", none.ErrorId);
        Assert.Contains("-Passphrase", none.Message);
        Assert.Contains("TURSO_BACKUP_PASSPHRASE", none.Message);

        var otherKey = Assert.Throws<TursoBackupException>(() => OpenPgp.Decrypt(File.OpenRead(P("k.gpg")), new DecryptionKeys { KeyFile = other.Secret }, "backup X"));
        Assert.Equal("WrongKey", otherKey.ErrorId);
        var locked = Assert.Throws<TursoBackupException>(() => OpenPgp.Decrypt(File.OpenRead(P("k.gpg")), new DecryptionKeys { KeyFile = admin.Secret, KeyPassphrase = Secure("wrong") }, "backup X"));
        Assert.Equal("KeyPassphraseWrong", locked.ErrorId);
        Assert.DoesNotContain("wrong", locked.Message.Replace("-KeyPassphrase is not", ""));
    }

    [SkippableFact]
    public void Damaged_ciphertext_is_an_error_by_the_end_of_the_stream()
    {
        Setup();
        var data = Data(500_000);
        EncryptToFile(data, P("d.gpg"), new EncryptionKeys { Passphrase = Secure(Pass) });
        var bytes = File.ReadAllBytes(P("d.gpg"));
        bytes[bytes.Length / 2] ^= 0x04;
        File.WriteAllBytes(P("d.gpg"), bytes);
        var ex = Assert.Throws<TursoBackupException>(() => DecryptFile(P("d.gpg"), new DecryptionKeys { Passphrase = Secure(Pass) }));
        Assert.Equal(FailureKind.InvalidData, ex.Kind);
        // gpg agrees that it is damaged.
        var r = Peers.Run(gpg, new[] { "--batch", "--pinentry-mode", "loopback", "--passphrase", Pass, "--output", P("d.out"), "--decrypt", P("d.gpg") }, env: env);
        Assert.NotEqual(0, r.Code);
    }

    [SkippableFact]
    public void Streams_large_data_in_both_directions()
    {
        Setup();
        var data = Data(24 * 1024 * 1024);
        EncryptToFile(data, P("big.gpg"), new EncryptionKeys { Passphrase = Secure(Pass) });
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(DecryptFile(P("big.gpg"), new DecryptionKeys { Passphrase = Secure(Pass) })));
        Assert.True(new FileInfo(P("big.gpg")).Length < data.Length + 4096);
    }

    // ---- issue 14, second step: own SEIPD layer, ECDH, re-wrap, headers, one session key per EncryptionKeys ----

    /// <summary>An ed25519 key with a cv25519 encryption subkey, as gpg 2.2 makes it with "future-default".</summary>
    private (string Public, string Secret, string SubkeyId) NewCurve25519Key(string email)
    {
        Gpg("--passphrase", "", "--quick-generate-key", $"Test <{email}>", "future-default", "default", "never");
        string pub = P(email + ".pub.asc"), sec = P(email + ".sec.gpg");
        Gpg("--armor", "--output", pub, "--export", email);
        Gpg("--passphrase", "", "--output", sec, "--export-secret-keys", email);
        return (pub, sec, SubkeyId(email));
    }

    private string SubkeyId(string email) =>
        Peers.Run(gpg, new[] { "--batch", "--with-colons", "--list-keys", email }, env: env).Stdout
            .Split('\n').Last(l => l.StartsWith("sub:")).Split(':')[4].ToUpperInvariant();

    /// <summary>gpg in another, empty GNUPGHOME (optionally holding one secret key): exit code.</summary>
    private int GpgElsewhere(string home, string importSecret, params string[] args) => GpgElsewhereR(home, importSecret, args).Code;

    private (int Code, string Stdout, string Stderr) GpgElsewhereR(string home, string importSecret, params string[] args)
    {
        string h = P(home);
        if (!Directory.Exists(h))
        {
            Directory.CreateDirectory(h);
            File.SetUnixFileMode(h, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var e = new Dictionary<string, string> { ["GNUPGHOME"] = h };
        var pre = new[] { "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback" };
        if (importSecret != null) Assert.Equal(0, Peers.Run(gpg, pre.Concat(new[] { "--passphrase", "", "--import", importSecret }), env: e).Code);
        return Peers.Run(gpg, pre.Concat(args), env: e);
    }

    /// <summary>The encrypted data packet (tag 18) and what follows, after the key packets (new-format headers, as we write them).</summary>
    private static byte[] DataPacket(byte[] file)
    {
        int p = 0;
        while (true)
        {
            int tag = file[p] & 0x3F;
            if (tag == 18) return file[p..];
            int l1 = file[p + 1];
            if (l1 < 192) p += 2 + l1;
            else if (l1 < 224) p += 3 + ((l1 - 192) << 8) + file[p + 2] + 192;
            else p += 6 + (file[p + 2] << 24 | file[p + 3] << 16 | file[p + 4] << 8 | file[p + 5]);
        }
    }

    private static RewrapResult RewrapFile(string from, string to, DecryptionKeys current, EncryptionKeys next)
    {
        using var i = File.OpenRead(from);
        using var o = File.Create(to);
        return OpenPgp.Rewrap(i, o, current, next, "backup X");
    }

    [SkippableFact]
    public void Curve25519_recipients_both_ways_with_gpg()
    {
        Setup();
        var admin = NewCurve25519Key("cv@example.com");
        var data = Data(1_500_007);
        EncryptToFile(data, P("c.gpg"), new EncryptionKeys { Recipients = { admin.Public } });
        Gpg("--output", P("c.out"), "--decrypt", P("c.gpg"));
        Assert.Equal(data, File.ReadAllBytes(P("c.out")));
        var packets = Peers.Run(gpg, new[] { "--batch", "--list-packets", P("c.gpg") }, env: env);
        Assert.Contains("pubkey enc packet: version 3, algo 18, keyid " + admin.SubkeyId, packets.Stdout + packets.Stderr);
        Assert.Equal(data, DecryptFile(P("c.gpg"), new DecryptionKeys { KeyFile = admin.Secret }));

        File.WriteAllBytes(P("plain"), data);
        Gpg("--trust-model", "always", "--recipient", "cv@example.com", "--output", P("g.gpg"), "--encrypt", P("plain"));
        Assert.Equal(data, DecryptFile(P("g.gpg"), new DecryptionKeys { KeyFile = admin.Secret }));
        Assert.Equal(new[] { admin.SubkeyId }, OpenPgp.ReadHeader(File.OpenRead(P("g.gpg"))).KeyIds);
    }

    [SkippableFact]
    public void Nist_p256_recipients_both_ways_with_gpg()
    {
        Setup();
        Gpg("--passphrase", "", "--quick-generate-key", "Test <p256@example.com>", "nistp256", "default", "never");
        var fpr = Peers.Run(gpg, new[] { "--batch", "--with-colons", "--list-keys", "p256@example.com" }, env: env).Stdout
            .Split('\n').First(l => l.StartsWith("fpr:")).Split(':')[9];
        Gpg("--passphrase", "", "--quick-add-key", fpr, "nistp256", "encr", "never");
        Gpg("--armor", "--output", P("p.pub.asc"), "--export", "p256@example.com");
        Gpg("--passphrase", "", "--output", P("p.sec.gpg"), "--export-secret-keys", "p256@example.com");
        var data = Data(70_001);
        EncryptToFile(data, P("n.gpg"), new EncryptionKeys { Recipients = { P("p.pub.asc") } });
        Gpg("--output", P("n.out"), "--decrypt", P("n.gpg"));
        Assert.Equal(data, File.ReadAllBytes(P("n.out")));
        File.WriteAllBytes(P("plain"), data);
        Gpg("--trust-model", "always", "--recipient", "p256@example.com", "--output", P("g.gpg"), "--encrypt", P("plain"));
        Assert.Equal(data, DecryptFile(P("g.gpg"), new DecryptionKeys { KeyFile = P("p.sec.gpg") }));
    }

    [SkippableFact]
    public void Rewrap_changes_the_keys_and_keeps_the_data_packet_byte_for_byte()
    {
        Setup();
        var admin = NewKey("admin@example.com");
        var escrow = NewCurve25519Key("escrow@example.com");
        var data = Data(2 * 1024 * 1024 + 99);
        EncryptToFile(data, P("p.gpg"), new EncryptionKeys { Passphrase = Secure(Pass) });
        byte[] original = DataPacket(File.ReadAllBytes(P("p.gpg")));

        // passphrase -> recipient
        var r1 = RewrapFile(P("p.gpg"), P("r1.gpg"), new DecryptionKeys { Passphrase = Secure(Pass) }, new EncryptionKeys { Recipients = { admin.Public } });
        Assert.Equal(original, DataPacket(File.ReadAllBytes(P("r1.gpg"))));
        Assert.False(r1.Header.Passphrase);
        Assert.True(r1.Previous.Passphrase);
        Gpg("--output", P("r1.out"), "--decrypt", P("r1.gpg"));                    // the keyring holds admin's secret key
        Assert.Equal(data, File.ReadAllBytes(P("r1.out")));
        Assert.NotEqual(0, GpgElsewhere("empty", null, "--passphrase", Pass, "--output", P("r1.no"), "--decrypt", P("r1.gpg")));
        Assert.Equal("WrongKey", Assert.Throws<TursoBackupException>(() => DecryptFile(P("r1.gpg"), new DecryptionKeys { Passphrase = Secure(Pass) })).ErrorId);
        Assert.Equal(data, DecryptFile(P("r1.gpg"), new DecryptionKeys { KeyFile = admin.Secret }));

        // recipient -> passphrase + another recipient
        var r2 = RewrapFile(P("r1.gpg"), P("r2.gpg"), new DecryptionKeys { KeyFile = admin.Secret }, new EncryptionKeys { Passphrase = Secure("new pass"), Recipients = { escrow.Public } });
        Assert.Equal(original, DataPacket(File.ReadAllBytes(P("r2.gpg"))));
        Assert.Equal("passphrase; keys " + escrow.SubkeyId, r2.Description);
        Assert.Equal(0, GpgElsewhere("empty", null, "--passphrase", "new pass", "--output", P("r2.out"), "--decrypt", P("r2.gpg")));
        Assert.Equal(data, File.ReadAllBytes(P("r2.out")));
        Assert.Equal(0, GpgElsewhere("adminonly", admin.Secret, "--output", P("r1.adm"), "--decrypt", P("r1.gpg"))); // control: the key works there
        Assert.NotEqual(0, GpgElsewhere("adminonly", null, "--output", P("r2.no"), "--decrypt", P("r2.gpg")));
        var esc = GpgElsewhereR("escrowonly", escrow.Secret, "--output", P("r2.esc"), "--decrypt", P("r2.gpg"));
        Assert.True(esc.Code == 0, esc.Stderr);
        Assert.Equal(data, File.ReadAllBytes(P("r2.esc")));
        Assert.Equal("WrongKey", Assert.Throws<TursoBackupException>(() => DecryptFile(P("r2.gpg"), new DecryptionKeys { KeyFile = admin.Secret })).ErrorId);

        // the old key does not re-wrap it either, and nothing is written then
        var wrong = Assert.Throws<TursoBackupException>(() => RewrapFile(P("r2.gpg"), P("r3.gpg"), new DecryptionKeys { Passphrase = Secure(Pass) }, new EncryptionKeys { Passphrase = Secure("x") }));
        Assert.Equal("WrongKey", wrong.ErrorId);
        Assert.Equal(0, new FileInfo(P("r3.gpg")).Length);
    }

    [SkippableFact]
    public void Rewrap_refuses_what_gpg_symmetric_writes_and_a_damaged_data_packet()
    {
        Setup();
        var data = Data(100_000);
        File.WriteAllBytes(P("plain"), data);
        Gpg("--passphrase", Pass, "--symmetric", "--cipher-algo", "AES256", "--output", P("s.gpg"), P("plain"));
        var ex = Assert.Throws<TursoBackupException>(() => RewrapFile(P("s.gpg"), P("s2.gpg"), new DecryptionKeys { Passphrase = Secure(Pass) }, new EncryptionKeys { Passphrase = Secure("new") }));
        Assert.Equal("CannotRewrap", ex.ErrorId);
        Assert.Contains("re-encrypted", ex.Message);
        Assert.False(OpenPgp.ReadHeader(File.OpenRead(P("s.gpg"))).Rewrappable);

        EncryptToFile(data, P("d.gpg"), new EncryptionKeys { Passphrase = Secure(Pass) });
        var bytes = File.ReadAllBytes(P("d.gpg"));
        bytes[^100] ^= 0x01;
        File.WriteAllBytes(P("d.gpg"), bytes);
        var damaged = Assert.Throws<TursoBackupException>(() => RewrapFile(P("d.gpg"), P("d2.gpg"), new DecryptionKeys { Passphrase = Secure(Pass) }, new EncryptionKeys { Passphrase = Secure("new") }));
        Assert.Equal("IntegrityCheckFailed", damaged.ErrorId);
    }

    [SkippableFact]
    public void ReadHeader_describes_ours_and_gpgs_without_a_key()
    {
        Setup();
        var admin = NewKey("admin@example.com");
        string adminSub = SubkeyId("admin@example.com");
        var keys = new EncryptionKeys { Passphrase = Secure(Pass), Recipients = { admin.Public } };
        EncryptToFile(Data(10), P("o.gpg"), keys);
        var h = OpenPgp.ReadHeader(File.OpenRead(P("o.gpg")));
        Assert.True(h.Passphrase);
        Assert.Equal(new[] { adminSub }, h.KeyIds);
        Assert.Equal("AES256", h.Cipher);
        Assert.True(h.IntegrityProtected);
        Assert.True(h.Rewrappable);
        Assert.Equal("passphrase; keys " + adminSub, keys.Describe());
        Assert.Equal(keys.Describe(), h.Describe());
        Assert.DoesNotContain(Pass, keys.Describe());

        File.WriteAllBytes(P("plain"), Data(10));
        Gpg("--passphrase", Pass, "--symmetric", "--armor", "--cipher-algo", "AES256", "--output", P("s.asc"), P("plain"));
        var s = OpenPgp.ReadHeader(File.OpenRead(P("s.asc")));
        Assert.True(s.Passphrase);
        Assert.Empty(s.KeyIds);
        Assert.Equal("AES256", s.Cipher);
        Assert.True(s.IntegrityProtected);
        Gpg("--trust-model", "always", "--recipient", "admin@example.com", "--output", P("g.gpg"), "--encrypt", P("plain"));
        var g = OpenPgp.ReadHeader(File.OpenRead(P("g.gpg")));
        Assert.False(g.Passphrase);
        Assert.Equal(new[] { adminSub }, g.KeyIds);
        Assert.Null(g.Cipher);

        var not = Assert.Throws<TursoBackupException>(() => OpenPgp.ReadHeader(new MemoryStream(Data(100))));
        Assert.Equal("NotEncrypted", not.ErrorId);
    }

    [SkippableFact]
    public void One_EncryptionKeys_encrypts_many_messages_with_one_derivation()
    {
        Setup();
        var admin = NewKey("admin@example.com");
        var keys = new EncryptionKeys { Passphrase = Secure(Pass), Recipients = { admin.Public } };
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 200; i++) EncryptToFile(Data(1000 + i), P($"m{i}.gpg"), keys);
        var encrypting = sw.Elapsed;
        // One S2K derivation takes ~0.1-0.3 s here: 200 would be 20 s and more.
        Assert.True(encrypting < TimeSpan.FromSeconds(3), $"200 messages took {encrypting}");
        // Each message is its own CFB stream (its own random prefix), though the key packets are shared.
        Assert.NotEqual(DataPacket(File.ReadAllBytes(P("m0.gpg")))[..40], DataPacket(File.ReadAllBytes(P("m1.gpg")))[..40]);
        foreach (int i in new[] { 0, 199 })
        {
            Gpg("--passphrase", Pass, "--output", P($"m{i}.out"), "--decrypt", P($"m{i}.gpg"));
            Assert.Equal(Data(1000 + i), File.ReadAllBytes(P($"m{i}.out")));
        }
        var reading = new DecryptionKeys { Passphrase = Secure(Pass) };
        sw.Restart();
        for (int i = 0; i < 200; i++) Assert.Equal(Data(1000 + i), DecryptFile(P($"m{i}.gpg"), reading));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(3), $"reading 200 messages took {sw.Elapsed}");
    }

    [SkippableFact]
    public void Every_size_round_trips_with_gpg_including_partial_blocks_and_chunk_edges()
    {
        Setup();
        const int chunk = 1 << 20;
        var keys = new EncryptionKeys { Passphrase = Secure(Pass) };
        var reading = new DecryptionKeys { Passphrase = Secure(Pass) };
        foreach (int n in new[] { 0, 1, 15, 16, 17, 65535, 65536 + 3, chunk - 40, chunk - 18, chunk - 17, chunk, chunk + 1, 2 * chunk + 5 })
        {
            var data = Data(n);
            EncryptToFile(data, P($"o{n}.gpg"), keys);
            Gpg("--passphrase", Pass, "--output", P($"o{n}.out"), "--decrypt", P($"o{n}.gpg"));
            Assert.True(data.AsSpan().SequenceEqual(File.ReadAllBytes(P($"o{n}.out"))), $"gpg read our {n} bytes wrong");
            Assert.True(data.AsSpan().SequenceEqual(DecryptFile(P($"o{n}.gpg"), reading)), $"we read our {n} bytes wrong");
            File.WriteAllBytes(P($"p{n}"), data);
            Gpg("--passphrase", Pass, "--symmetric", "--cipher-algo", "AES256", "--compress-level", "0", "--output", P($"g{n}.gpg"), P($"p{n}"));
            Assert.True(data.AsSpan().SequenceEqual(DecryptFile(P($"g{n}.gpg"), reading)), $"we read gpg's {n} bytes wrong");
        }
    }

    [SkippableFact]
    public void A_cut_short_file_is_an_error_never_a_shorter_plaintext()
    {
        Setup();
        var data = Data(3 * (1 << 20) + 1234);
        EncryptToFile(data, P("t.gpg"), new EncryptionKeys { Passphrase = Secure(Pass) });
        var bytes = File.ReadAllBytes(P("t.gpg"));
        var reading = new DecryptionKeys { Passphrase = Secure(Pass) };
        foreach (int cut in new[] { 1, 21, 22, 23, 1000, (1 << 20) + 60, bytes.Length / 2, bytes.Length - 1 })
        {
            File.WriteAllBytes(P("cut.gpg"), bytes[..^cut]);
            var ex = Assert.Throws<TursoBackupException>(() => DecryptFile(P("cut.gpg"), reading));
            Assert.Equal(FailureKind.InvalidData, ex.Kind);
        }
    }

    [Fact]
    public void The_managed_cfb_gives_the_same_bytes_as_the_platforms()
    {
        Assert.True(AesCfb.PlatformCfbWorks);
        var key = Data(32);
        var plain = Data(100_003);
        var hw = new byte[plain.Length + 16];
        var sw = new byte[plain.Length + 16];
        using (var a = new AesCfb(key, true)) { a.Encrypt(plain, 0, hw, 0, 65536); a.Encrypt(plain, 65536, hw, 65536, plain.Length - 65536); }
        using (var b = new AesCfb(key, true, forceManaged: true)) { b.Encrypt(plain, 0, sw, 0, 16); b.Encrypt(plain, 16, sw, 16, plain.Length - 16); }
        Assert.Equal(hw, sw);
        var back = new byte[plain.Length + 16];
        using (var d = new AesCfb(key, false)) { d.Decrypt(hw, 0, back, 0, 4096); d.Decrypt(hw, 4096, back, 4096, plain.Length - 4096); }
        Assert.True(plain.AsSpan().SequenceEqual(back.AsSpan(0, plain.Length)));
    }
}
