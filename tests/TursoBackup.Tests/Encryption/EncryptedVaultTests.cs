using System.Security;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Crypto;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Offsite;
using TursoBackup.Engine.Restore;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Verification;
using TursoBackup.Engine.Wal;
using TursoBackup.TestSupport;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests.Encryption;

/// <summary>A gpg home of its own, with key pairs made by the real gpg and exported to files.</summary>
internal sealed class GpgKeys
{
    private readonly string gpg;
    private readonly Dictionary<string, string> env;
    private readonly string dir;

    public GpgKeys(string dir)
    {
        gpg = Peers.Require("gpg");
        this.dir = dir;
        string home = Path.Combine(dir, "gnupg");
        Directory.CreateDirectory(home);
        File.SetUnixFileMode(home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        env = new Dictionary<string, string> { ["GNUPGHOME"] = home };
    }

    public (int Code, string Stdout, string Stderr) Run(params string[] args) =>
        Peers.Run(gpg, new[] { "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback" }.Concat(args), null, env);

    public void Ok(params string[] args)
    {
        var r = Run(args);
        Assert.True(r.Code == 0, $"gpg {string.Join(' ', args)} failed: {r.Stderr}");
    }

    /// <summary>A key pair (an RSA primary key with an RSA encryption subkey); its public and secret key files.</summary>
    public (string Public, string Secret) NewKey(string email)
    {
        Ok("--passphrase", "", "--quick-generate-key", $"Test <{email}>", "rsa2048", "default", "never");
        var fpr = Run("--with-colons", "--list-keys", email).Stdout.Split('\n').First(l => l.StartsWith("fpr:")).Split(':')[9];
        Ok("--passphrase", "", "--quick-add-key", fpr, "rsa2048", "encr", "never");
        string pub = Path.Combine(dir, email + ".pub.asc"), sec = Path.Combine(dir, email + ".sec.gpg");
        Ok("--armor", "--output", pub, "--export", email);
        Ok("--passphrase", "", "--output", sec, "--export-secret-keys", email);
        return (pub, sec);
    }
}

/// <summary>
/// Encryption at rest across the vault (issue 14): backups, restores, tests, the WAL archive and copies encrypted on the
/// way, with passphrases and public keys made by the real gpg, which also opens what is written.
/// </summary>
public sealed class EncryptedVaultTests : TempFolderTest
{
    private const string Pass = "correct horse battery staple";

    internal static SecureString Secure(string s)
    {
        var ss = new SecureString();
        foreach (char c in s) ss.AppendChar(c);
        ss.MakeReadOnly();
        return ss;
    }

    private static EncryptionKeys ForPassphrase(string p = Pass) => new() { Passphrase = Secure(p) };
    private static DecryptionKeys OpenWith(string p = Pass) => new() { Passphrase = Secure(p) };

    private string NewDatabase(string name, int rows = 3000, bool wal = false)
    {
        string db = P(name + ".db");
        Exec(db, (wal ? "PRAGMA journal_mode=WAL;" : "") + "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB, note TEXT); " +
                 $"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<{rows}) INSERT INTO t SELECT x, randomblob(200), 'row ' || x FROM c;");
        return db;
    }

    private BackupInfo Backup(string db, EncryptionKeys keys, BackupKind kind = BackupKind.Snapshot, string vault = "vault") =>
        new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = P(vault), Kind = kind, Encryption = keys });

    [SkippableFact]
    public void An_encrypted_snapshot_records_both_checksums_and_opens_by_hand_with_gpg_and_zstd()
    {
        var gpg = new GpgKeys(P("g"));
        string db = NewDatabase("main");
        var b = Backup(db, ForPassphrase());
        Assert.True(b.Encrypted);
        Assert.EndsWith(".db.zst.gpg", b.Location);
        Assert.True(b.Encryption.Passphrase);
        Assert.Equal("AES256", b.Encryption.Cipher);
        Assert.Equal(ArtifactSha(b.Location), b.Sha256);
        Assert.NotEqual(b.Sha256, b.PlaintextSha256);
        // The manifest says so too, and holds no secret.
        string manifest = File.ReadAllText(Path.Combine(Path.GetDirectoryName(b.Location)!, "manifest.json"));
        Assert.Contains("\"plaintextSha256\"", manifest);
        Assert.DoesNotContain(Pass, manifest);
        var again = BackupVault.OpenExisting(P("vault")).Select("main", b.Id, true, null)!;
        Assert.True(again.Encrypted);
        Assert.Equal(b.PlaintextSha256, again.PlaintextSha256);
        Assert.True(again.Encryption.Passphrase);

        // docs/vault-format.md: gpg --decrypt … | zstd -d > db.sqlite
        gpg.Ok("--passphrase", Pass, "--output", P("hand.db.zst"), "--decrypt", b.Location);
        Assert.Equal(b.PlaintextSha256, ArtifactSha(P("hand.db.zst")));
        var z = Peers.Run(Peers.Require("zstd"), new[] { "-d", "-q", "-o", P("hand.db"), P("hand.db.zst") });
        Assert.True(z.Code == 0, z.Stderr);
        Assert.Equal("ok", Scalar(P("hand.db"), "PRAGMA integrity_check"));
        Assert.Equal(3000, Count(P("hand.db"), "t"));
    }

    private static string ArtifactSha(string path) => Engine.IO.ArtifactStreams.HashFile(path);

    [SkippableFact]
    public void Restore_and_test_need_the_key_and_a_wrong_or_missing_one_writes_nothing()
    {
        string db = NewDatabase("main");
        var b = Backup(db, ForPassphrase());
        Directory.CreateDirectory(P("out"));

        var wrong = Assert.Throws<TursoBackupException>(() => new BackupRestore { Keys = OpenWith("not it") }.Restore(b, P("out/r.db"), false, null));
        Assert.Equal("WrongKey", wrong.ErrorId);
        Assert.Contains($"The passphrase does not open backup {b.Id} of 'main'", wrong.Message);
        Assert.DoesNotContain("not it", wrong.Message);
        Assert.Empty(Directory.GetFileSystemEntries(P("out")));

        var none = Assert.Throws<TursoBackupException>(() => new BackupRestore().Restore(b, P("out/r.db"), false, null));
        Assert.Equal("KeyRequired", none.ErrorId);
        Assert.Contains("-Passphrase", none.Message);
        Assert.Contains("TURSO_BACKUP_PASSPHRASE", none.Message);
        Assert.Empty(Directory.GetFileSystemEntries(P("out")));

        var ok = new BackupRestore { Keys = OpenWith() }.Restore(b, P("out/r.db"), false, null);
        Assert.Equal(3000, Count(ok.Destination, "t"));

        var test = new BackupVerifier { Keys = OpenWith() }.Test(b);
        Assert.True(test.Passed, test.FailedChecks);
        var decryption = test.Checks.Single(c => c.Name == BackupVerifier.Decryption);
        Assert.True(decryption.Passed);
        Assert.Equal(b.PlaintextSha256, decryption.Actual);

        var failed = new BackupVerifier { Keys = OpenWith("not it") }.Test(b);
        Assert.False(failed.Passed);
        Assert.False(failed.Checks.Single(c => c.Name == BackupVerifier.Decryption).Passed);
        Assert.True(failed.Checks.Single(c => c.Name == BackupVerifier.Checksum).Passed); // storage verified without the key
    }

    [SkippableFact]
    public void A_backup_for_public_keys_is_opened_by_each_secret_key_and_gpg_and_not_by_a_passphrase()
    {
        var gpg = new GpgKeys(P("g"));
        var admin = gpg.NewKey("admin@example.com");
        var escrow = gpg.NewKey("escrow@example.com");
        string db = NewDatabase("main", 500);
        var b = Backup(db, new EncryptionKeys { Recipients = { admin.Public, File.ReadAllText(escrow.Public) } });
        Assert.False(b.Encryption.Passphrase);
        Assert.Equal(2, b.Encryption.KeyIds.Length);
        foreach (var key in new[] { admin.Secret, escrow.Secret })
        {
            string target = P(Path.GetFileNameWithoutExtension(key) + ".db");
            new BackupRestore { Keys = new DecryptionKeys { KeyFile = key } }.Restore(b, target, false, null);
            Assert.Equal(500, Count(target, "t"));
        }
        Assert.Equal("WrongKey", Assert.Throws<TursoBackupException>(() => new BackupRestore { Keys = OpenWith() }.Restore(b, P("pp.db"), false, null)).ErrorId);
        gpg.Ok("--output", P("g.db.zst"), "--decrypt", b.Location);
        Assert.Equal(b.PlaintextSha256, ArtifactSha(P("g.db.zst")));
    }

    [SkippableFact]
    public void An_encrypted_dump_restores_and_gpg_opens_it()
    {
        var gpg = new GpgKeys(P("g"));
        string db = NewDatabase("main", 800);
        var b = Backup(db, ForPassphrase(), BackupKind.Dump);
        Assert.EndsWith(".sql.zst.gpg", b.Location);
        var r = new BackupRestore { Keys = OpenWith() }.Restore(b, P("d.db"), false, null);
        Assert.Equal(800, Count(r.Destination, "t"));
        Assert.True(new BackupVerifier { Keys = OpenWith() }.Test(b).Passed);
        gpg.Ok("--passphrase", Pass, "--output", P("d.sql.zst"), "--decrypt", b.Location);
        Assert.Equal(b.PlaintextSha256, ArtifactSha(P("d.sql.zst")));
    }

    [SkippableFact]
    public void A_vault_that_requires_encryption_refuses_a_plain_backup_and_lists_without_the_key()
    {
        string db = NewDatabase("main", 100);
        var first = Backup(db, ForPassphrase());
        var vault = BackupVault.OpenExisting(P("vault"));
        vault.SetEncryptionRequired(true);
        Assert.Contains("\"encryption\": \"required\"", File.ReadAllText(P("vault/vault.json")).Replace("\":\"", "\": \""));
        var refused = Assert.Throws<TursoBackupException>(() => Backup(db, null));
        Assert.Equal("EncryptionRequired", refused.ErrorId);
        Assert.Contains("-Passphrase", refused.Message);
        Assert.Single(vault.List("main")); // nothing was written
        Backup(db, ForPassphrase());
        Assert.Equal(2, vault.List("main").Count());
        // The WAL archive too.
        string walDb = NewDatabase("w", 10, wal: true);
        using (var archiver = new WalArchiver(walDb, P("vault")))
        {
            Assert.Equal("EncryptionRequired", Assert.Throws<TursoBackupException>(() => archiver.Sync()).ErrorId);
        }
        Assert.Equal(first.Id, vault.List("main").Last().Id);
    }

    [SkippableFact]
    public void An_encrypted_wal_archive_restores_with_the_key_verifies_without_it_and_packs_with_a_passphrase()
    {
        var gpg = new GpgKeys(P("g"));
        string db = NewDatabase("app", 200, wal: true);
        var marks = new List<(DateTimeOffset At, long Rows)>();
        using (var archiver = new WalArchiver(db, P("vault")) { Encryption = ForPassphrase(), PackFanIn = 4, CheckpointInterval = TimeSpan.Zero })
        {
            archiver.Sync();
            using var w = SqliteFile.OpenReadWrite(db, TimeSpan.FromSeconds(10));
            for (int i = 0; i < 12; i++)
            {
                Exec(w, $"INSERT INTO t(v, note) SELECT randomblob(300), 'batch {i}' FROM t LIMIT 50;");
                Thread.Sleep(20);
                archiver.Sync();
                marks.Add((DateTimeOffset.UtcNow, Count(db, "t")));
                Thread.Sleep(20);
            }
        }
        var layout = new WalArchiveLayout(P("vault"), "app");
        var generation = layout.Generations().Single();
        var files = layout.SegmentFiles(generation);
        Assert.Contains(files, f => f.EndsWith(".pack")); // packed: the archiver can read its own segments
        Assert.All(files, f => Assert.True(WalSegment.ReadFile(f)!.All(s => s.Encrypted)));
        Assert.Contains("\"encrypted\":true", File.ReadAllText(layout.SnapshotInfoPath(generation)).Replace(" ", ""));

        // The snapshot opens by hand with gpg, like a backup.
        gpg.Ok("--passphrase", Pass, "--output", P("snap.db.zst"), "--decrypt", layout.SnapshotPath(generation));

        var mid = marks[5];
        var none = Assert.Throws<TursoBackupException>(() => WalRestore.Restore(P("vault"), "app", mid.At, P("none.db"), false, null, DateTimeOffset.UtcNow));
        Assert.Equal("KeyRequired", none.ErrorId);
        Assert.False(File.Exists(P("none.db")));
        Assert.Equal("WrongKey", Assert.Throws<TursoBackupException>(() => WalRestore.Restore(P("vault"), "app", mid.At, P("w.db"), false, null, DateTimeOffset.UtcNow, keys: OpenWith("nope"))).ErrorId);
        var r = WalRestore.Restore(P("vault"), "app", mid.At, P("mid.db"), false, null, DateTimeOffset.UtcNow, keys: OpenWith());
        Assert.Equal(mid.Rows, Count(r.Destination, "t"));
        var end = WalRestore.Restore(P("vault"), "app", marks[^1].At, P("end.db"), false, null, DateTimeOffset.UtcNow, keys: OpenWith());
        Assert.Equal(marks[^1].Rows, Count(end.Destination, "t"));

        // Health's verification works without the key (headers, order, snapshots), and with it reads every frame.
        var log = new List<string>();
        var window = WalRestore.Verify(P("vault"), "app", DateTimeOffset.UtcNow, log.Add);
        Assert.Empty(window.Gaps);
        Assert.Contains(log, l => l.Contains("encrypted"));
        Assert.Empty(WalRestore.Verify(P("vault"), "app", DateTimeOffset.UtcNow, null, default, OpenWith()).Gaps);
    }

    [SkippableFact]
    public void A_wal_archive_for_public_keys_only_is_not_packed_and_restores_with_the_secret_key()
    {
        var gpg = new GpgKeys(P("g"));
        var admin = gpg.NewKey("admin@example.com");
        string db = NewDatabase("app", 100, wal: true);
        DateTimeOffset at;
        using (var archiver = new WalArchiver(db, P("vault")) { Encryption = new EncryptionKeys { Recipients = { admin.Public } }, PackFanIn = 2 })
        {
            archiver.Sync();
            for (int i = 0; i < 5; i++)
            {
                Exec(db, $"INSERT INTO t(v, note) VALUES (randomblob(100), 'x{i}');");
                archiver.Sync();
            }
            at = DateTimeOffset.UtcNow;
        }
        var layout = new WalArchiveLayout(P("vault"), "app");
        Assert.DoesNotContain(layout.SegmentFiles(layout.Generations().Single()), f => f.EndsWith(".pack"));
        var r = WalRestore.Restore(P("vault"), "app", at, P("r.db"), false, null, DateTimeOffset.UtcNow, keys: new DecryptionKeys { KeyFile = admin.Secret });
        Assert.Equal(105, Count(r.Destination, "t"));
    }

    [SkippableFact]
    public void A_plain_vault_synced_with_a_passphrase_arrives_encrypted_restores_from_there_alone_and_resyncs_nothing()
    {
        var gpg = new GpgKeys(P("g"));
        string db = NewDatabase("main", 1000, wal: true);
        var b = Backup(db, null);
        DateTimeOffset at;
        using (var archiver = new WalArchiver(db, P("vault")))
        {
            archiver.Sync();
            Exec(db, "INSERT INTO t(v, note) VALUES (randomblob(10), 'late');");
            archiver.Sync();
            at = DateTimeOffset.UtcNow;
        }
        using var src = new DirectoryStore(P("vault"));
        using var dst = new DirectoryStore(P("offsite"));
        var keys = ForPassphrase();
        using (var view = new EncryptingView(src, dst.DisplayName, keys))
        {
            view.Prepare(null, default);
            Assert.Empty(view.Problems);
            var result = new VaultSync(view, dst).Run();
            Assert.Equal(0, result.Failed);
            Assert.Contains($"main/{b.Id}", result.Backups);
        }
        // At the destination: encrypted, checksums of what is stored, plaintext checksum as the plain manifest's.
        var there = BackupVault.OpenExisting(P("offsite")).Select("main", b.Id, true, null)!;
        Assert.True(there.Encrypted);
        Assert.Equal(b.Sha256, there.PlaintextSha256);
        Assert.Equal(ArtifactSha(there.Location), there.Sha256);
        Assert.False(File.Exists(Path.Combine(P("offsite"), "databases", "main", b.Id, Path.GetFileName(b.Location)))); // no plain copy
        gpg.Ok("--passphrase", Pass, "--output", P("o.db.zst"), "--decrypt", there.Location);
        Assert.Equal(b.Sha256, ArtifactSha(P("o.db.zst")));
        // The local vault is untouched and plain.
        Assert.False(BackupVault.OpenExisting(P("vault")).Select("main", b.Id, true, null)!.Encrypted);

        // Restores and PITR from the destination alone.
        Directory.Delete(P("vault"), true);
        var restored = new BackupRestore { Keys = OpenWith() }.Restore(there, P("r.db"), false, null);
        Assert.Equal(1000, Count(restored.Destination, "t"));
        Assert.True(new BackupVerifier { Keys = OpenWith() }.Test(there).Passed);
        var pitr = WalRestore.Restore(P("offsite"), "main", at, P("p.db"), false, null, DateTimeOffset.UtcNow, keys: OpenWith());
        Assert.Equal(1001, Count(pitr.Destination, "t"));
        Assert.Equal("KeyRequired", Assert.Throws<TursoBackupException>(() => WalRestore.Restore(P("offsite"), "main", at, P("q.db"), false, null, DateTimeOffset.UtcNow)).ErrorId);
    }

    [SkippableFact]
    public void A_second_encrypted_sync_copies_nothing_and_a_damaged_plain_artifact_is_not_sent()
    {
        string db = NewDatabase("main", 300);
        var good = Backup(db, null);
        var bad = Backup(db, null);
        var bytes = File.ReadAllBytes(bad.Location);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(bad.Location, bytes);
        using var src = new DirectoryStore(P("vault"));
        using var dst = new DirectoryStore(P("offsite"));
        var keys = ForPassphrase();
        for (int round = 1; round <= 2; round++)
        {
            using var view = new EncryptingView(src, dst.DisplayName, keys);
            view.Prepare(null, default);
            Assert.Single(view.Problems);
            Assert.Contains(bad.Id, view.Problems[0].Key);
            var result = new VaultSync(view, dst).Run();
            Assert.Equal(0, result.Failed);
            if (round == 2) Assert.Equal(0, result.Copied);
        }
        var listed = BackupVault.OpenExisting(P("offsite")).List("main").ToList();
        Assert.Equal(good.Id, Assert.Single(listed).Id);
    }

    [SkippableFact]
    public void A_key_rotation_keeps_the_content_refuses_a_damaged_backup_and_cleans_up_after_an_interrupted_one()
    {
        var gpg = new GpgKeys(P("g"));
        var admin = gpg.NewKey("admin@example.com");
        string db = NewDatabase("main", 400);
        var b = Backup(db, ForPassphrase("old"));
        string dir = Path.GetDirectoryName(b.Location)!;
        // What an interrupted rotation leaves: a re-wrapped file the manifest does not name yet.
        File.Copy(b.Location, Path.Combine(dir, "main.db.zst.k7.gpg"));

        var rotated = BackupKeyRotation.Rewrap(b, OpenWith("old"), new EncryptionKeys { Recipients = { admin.Public } }, DateTimeOffset.UtcNow);
        Assert.Equal(new[] { "main.db.zst.k1.gpg", "manifest.json" }, Directory.GetFiles(dir).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).ToArray());
        Assert.Equal(b.PlaintextSha256, rotated.PlaintextSha256);
        Assert.NotNull(rotated.Encryption.RewrappedAt);
        Assert.False(rotated.Encryption.Passphrase);
        var listed = BackupVault.OpenExisting(P("vault")).Select("main", b.Id, true, null)!;
        Assert.Equal(rotated.Sha256, listed.Sha256);
        Assert.Equal(rotated.Location, listed.Location);
        Assert.Equal("WrongKey", Assert.Throws<TursoBackupException>(() => new BackupRestore { Keys = OpenWith("old") }.Restore(listed, P("old.db"), false, null)).ErrorId);
        Assert.True(new BackupVerifier { Keys = new DecryptionKeys { KeyFile = admin.Secret } }.Test(listed).Passed);
        gpg.Ok("--output", P("k.db.zst"), "--decrypt", listed.Location);
        Assert.Equal(b.PlaintextSha256, ArtifactSha(P("k.db.zst")));

        // A second rotation names the next file; a damaged artifact is refused and the backup stays as it was.
        var again = BackupKeyRotation.Rewrap(listed, new DecryptionKeys { KeyFile = admin.Secret }, ForPassphrase("new"), DateTimeOffset.UtcNow);
        Assert.EndsWith("main.db.zst.k2.gpg", again.Location);
        var bytes = File.ReadAllBytes(again.Location);
        bytes[^40] ^= 0x01;
        File.WriteAllBytes(again.Location, bytes);
        string manifestBefore = File.ReadAllText(Path.Combine(dir, "manifest.json"));
        Assert.ThrowsAny<TursoBackupException>(() => BackupKeyRotation.Rewrap(again, OpenWith("new"), ForPassphrase("newer"), DateTimeOffset.UtcNow));
        Assert.Equal(manifestBefore, File.ReadAllText(Path.Combine(dir, "manifest.json")));
        Assert.Equal(new[] { "main.db.zst.k2.gpg", "manifest.json" }, Directory.GetFiles(dir).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).ToArray());

        // A plain backup has nothing to re-wrap.
        var plain = Backup(db, null);
        Assert.Equal("NotEncrypted", Assert.Throws<TursoBackupException>(() => BackupKeyRotation.Rewrap(plain, OpenWith(), ForPassphrase(), DateTimeOffset.UtcNow)).ErrorId);
    }
}
