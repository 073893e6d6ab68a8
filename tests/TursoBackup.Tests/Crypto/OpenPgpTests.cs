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
}
