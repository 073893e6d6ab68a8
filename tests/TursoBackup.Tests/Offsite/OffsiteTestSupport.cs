using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Offsite;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Wal;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests.Offsite;

/// <summary>
/// A local vault made by the real engine: snapshot backups of a WAL database "app" and its WAL archive (a sealed
/// generation of a few segments), with the restore points the archive holds.
/// </summary>
internal sealed class SourceVault
{
    public const string Database = "app";

    public string Root { get; private init; }
    public string DbPath { get; private init; }
    public List<BackupInfo> Backups { get; } = new();
    /// <summary>Rows in table t at each archived sync time.</summary>
    public List<(long Rows, DateTimeOffset At)> Points { get; } = new();

    public static SourceVault Make(string folder, int walSyncs = 4)
    {
        Directory.CreateDirectory(folder);
        var v = new SourceVault { Root = Path.Combine(folder, "vault"), DbPath = Path.Combine(folder, "app.db") };
        using (var c = SqliteFile.OpenOrCreate(v.DbPath))
        {
            Exec(c, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);");
            Exec(c, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 50) INSERT INTO t SELECT i, randomblob(300) FROM n;");
        }
        v.Backups.Add(v.Backup());
        using (var archiver = new WalArchiver(v.DbPath, v.Root, Database) { CheckpointInterval = TimeSpan.FromHours(1), CheckpointFrames = 100000 })
        using (var w = SqliteFile.OpenReadWrite(v.DbPath, TimeSpan.FromSeconds(10)))
        {
            var first = archiver.Sync();
            v.Points.Add((Count(v.DbPath, "t"), first.LastSyncAt));
            for (int i = 0; i < walSyncs; i++)
            {
                Exec(w, $"INSERT INTO t(v) SELECT randomblob(200) FROM t LIMIT {5 + i};");
                Thread.Sleep(3);
                var s = archiver.Sync();
                v.Points.Add((Count(v.DbPath, "t"), s.LastSyncAt));
            }
            archiver.Seal();
        }
        v.Backups.Add(v.Backup());
        SqliteConnection.ClearAllPools();
        return v;
    }

    public BackupInfo Backup() => new SnapshotBackup().Run(new BackupRequest { SourcePath = DbPath, VaultPath = Root, Name = Database });

    public DirectoryStore Store() => new DirectoryStore(Root);

    public string Unit(BackupInfo b) => "databases/" + b.Database + "/" + b.Id + "/";

    public string ArtifactKey(BackupInfo b) => Unit(b) + Path.GetFileName(b.Location);
}

/// <summary>What a vault folder holds, for comparing two of them.</summary>
internal static class VaultFiles
{
    /// <summary>Every key a sync copies (by role; verifications.jsonl excluded), with its SHA-256.</summary>
    public static SortedDictionary<string, string> Copyable(string root) =>
        new(new DirectoryStore(root).List("", CancellationToken.None)
                .Where(o => VaultKeys.Role(o.Key) != VaultObjectRole.NotCopied && !o.Key.EndsWith("/verifications.jsonl"))
                .ToDictionary(o => o.Key, o => DirectoryStore.Sha256Of(Path.Combine(root, o.Key))), StringComparer.Ordinal);

    /// <summary>Every file (hidden ones included) under <paramref name="root"/>, as '/'-keys.</summary>
    public static List<string> AllFiles(string root) =>
        Directory.Exists(root)
            ? Directory.GetFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f).Replace('\\', '/')).OrderBy(k => k, StringComparer.Ordinal).ToList()
            : new List<string>();

    /// <summary>
    /// What a reader of the vault folder <paramref name="root"/> sees is whole: every listed backup has its artifact with
    /// the manifest's SHA-256, every listed WAL generation its snapshot with snapshot.json's SHA-256 (and it restores to
    /// its snapshot time), and nothing is there without the vault marker.
    /// </summary>
    public static void AssertWhole(string root, string because)
    {
        var keys = new DirectoryStore(root).List("", CancellationToken.None).Select(o => o.Key).ToList();
        if (!File.Exists(Path.Combine(root, "vault.json")))
        {
            Assert.True(keys.Count == 0, because + ": files without vault.json: " + string.Join(", ", keys));
            return;
        }
        int manifests = keys.Count(k => k.StartsWith("databases/") && k.EndsWith("/manifest.json"));
        var damaged = new List<string>();
        // A unit whose files arrived but whose manifest did not yet is not listed (the listing reports its folder as one
        // without a manifest); anything else reported is a failure.
        var listed = BackupVault.OpenExisting(root).List(null, (what, ex) =>
        {
            if (!ex.Message.Contains("holds no manifest.json")) damaged.Add(what + ": " + ex.Message);
        });
        Assert.True(damaged.Count == 0, because + ": " + string.Join("; ", damaged));
        Assert.Equal(manifests, listed.Count);
        foreach (var b in listed)
        {
            Assert.True(File.Exists(b.Location), $"{because}: backup {b.Id} is listed without its artifact");
            Assert.Equal(b.Sha256, ArtifactStreams.HashFile(b.Location));
        }
        var layout = new WalArchiveLayout(root, SourceVault.Database);
        foreach (var g in layout.Generations())
        {
            Assert.True(File.Exists(layout.SnapshotPath(g)), $"{because}: generation {g} is listed without its snapshot");
            var info = (Dictionary<string, object>)Json.Parse(File.ReadAllText(layout.SnapshotInfoPath(g)));
            Assert.Equal((string)info["sha256"], DirectoryStore.Sha256Of(layout.SnapshotPath(g)));
            var at = WalRestore.SnapshotTime(layout, g).Value;
            string target = Path.Combine(Path.GetTempPath(), "tb-whole-" + Guid.NewGuid().ToString("N") + ".db");
            try
            {
                WalRestore.Restore(root, SourceVault.Database, at, target, false, null, DateTimeOffset.UtcNow);
                Assert.Equal("ok", TestDb.Scalar(target, "PRAGMA integrity_check"));
            }
            finally
            {
                SqliteConnection.ClearAllPools();
                foreach (var f in new[] { target, target + "-wal", target + "-shm" }) File.Delete(f);
            }
        }
    }
}

/// <summary>
/// An <see cref="IObjectStore"/> around a real one that misbehaves on purpose: dies at the N-th Put (that Put's stream
/// breaks half-way, every later call is Unreachable), is down while <see cref="Down"/>, damages the bytes of chosen
/// keys on the way, fails chosen deletes; and records what was called.
/// </summary>
internal sealed class FaultyStore : IObjectStore
{
    private readonly IObjectStore inner;
    private int puts;
    private int probes;
    private int lists;
    private int deletes;
    private volatile bool dead;

    public FaultyStore(IObjectStore inner) => this.inner = inner;

    public string DisplayName => "faulty:" + inner.DisplayName;

    /// <summary>The 0-based index of the Put that breaks half-way; the destination is gone from then on.</summary>
    public int? DieAtPut { get; set; }

    /// <summary>While true, every call is Unreachable.</summary>
    public volatile bool Down;

    /// <summary>Keys whose bytes get one bit flipped on the way.</summary>
    public Func<string, bool> CorruptKey { get; set; }

    /// <summary>The 0-based index of the Delete that fails (Unreachable); the store is gone from then on.</summary>
    public int? DieAtDelete { get; set; }

    /// <summary>Runs after each List (to change the store between a sync's listing and its copies).</summary>
    public Action AfterList { get; set; }

    public int Puts => Volatile.Read(ref puts);
    public int Probes => Volatile.Read(ref probes);
    public int Lists => Volatile.Read(ref lists);
    public ConcurrentQueue<string> PutKeys { get; } = new();
    public ConcurrentQueue<string> Deleted { get; } = new();

    private void Check()
    {
        if (Down || dead) throw new TursoBackupException(FailureKind.Unreachable, $"{DisplayName} is unreachable (test).", DisplayName);
    }

    public void Probe(CancellationToken cancel)
    {
        Interlocked.Increment(ref probes);
        Check();
        inner.Probe(cancel);
    }

    public IEnumerable<StoredObject> List(string prefix, CancellationToken cancel)
    {
        Interlocked.Increment(ref lists);
        Check();
        var list = inner.List(prefix, cancel).ToList();
        AfterList?.Invoke();
        return list;
    }

    public StoredObject Stat(string key, CancellationToken cancel)
    {
        Check();
        return inner.Stat(key, cancel);
    }

    public StoredObject Put(string key, Stream content, long length, string sha256, Action<long> progress, CancellationToken cancel)
    {
        int index = Interlocked.Increment(ref puts) - 1;
        Check();
        PutKeys.Enqueue(key);
        if (DieAtPut == index)
        {
            dead = true;
            return inner.Put(key, new BreakingStream(content, length / 2), length, sha256, progress, cancel);
        }
        if (CorruptKey != null && CorruptKey(key)) content = new CorruptingStream(content, length / 2);
        return inner.Put(key, content, length, sha256, progress, cancel);
    }

    public Stream OpenRead(string key, CancellationToken cancel)
    {
        Check();
        return inner.OpenRead(key, cancel);
    }

    public void Delete(string key, CancellationToken cancel)
    {
        int index = Interlocked.Increment(ref deletes) - 1;
        Check();
        if (DieAtDelete == index)
        {
            dead = true;
            Check();
        }
        Deleted.Enqueue(key);
        inner.Delete(key, cancel);
    }

    public void Dispose() => inner.Dispose();

    /// <summary>Reads through until <c>at</c> bytes, then the connection "resets".</summary>
    private sealed class BreakingStream(Stream inner, long at) : PassThrough(inner)
    {
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (Position >= at) throw new IOException("Connection reset by peer (test).");
            return Advance(Inner.Read(buffer, offset, (int)Math.Min(count, Math.Max(1, at - Position))));
        }
    }

    /// <summary>Flips one bit of the byte at <c>at</c>.</summary>
    private sealed class CorruptingStream(Stream inner, long at) : PassThrough(inner)
    {
        public override int Read(byte[] buffer, int offset, int count)
        {
            long start = Position;
            int n = Advance(Inner.Read(buffer, offset, count));
            if (at >= start && at < start + n) buffer[offset + (int)(at - start)] ^= 0x01;
            return n;
        }
    }

    private abstract class PassThrough(Stream inner) : Stream
    {
        protected Stream Inner => inner;
        private long position;
        protected int Advance(int n)
        {
            position += n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
