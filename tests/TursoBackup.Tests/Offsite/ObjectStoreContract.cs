using System.Security.Cryptography;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Offsite;

namespace TursoBackup.Tests.Offsite;

/// <summary>
/// What every <see cref="IObjectStore"/> promises (atomic, verified on arrival, streamed), checked against a real
/// destination: each store's test class derives from this one and says how to open its store on its real server.
/// </summary>
public abstract class ObjectStoreContract : TempFolderTest
{
    /// <summary>A store on a fresh, empty, existing destination (container, bucket, folder) of the real server.</summary>
    protected abstract IObjectStore CreateStore();

    /// <summary>Bytes per block/part the store is opened with for the large-object tests (the service's minimum or more).</summary>
    protected virtual int BlockSize => 5 * 1024 * 1024;

    protected static byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        new Random(n).NextBytes(b);
        return b;
    }

    protected static string Sha(byte[] b) => DirectoryStore.Hex(SHA256.HashData(b));

    protected static StoredObject PutBytes(IObjectStore store, string key, byte[] data, string? sha = null) =>
        store.Put(key, new MemoryStream(data), data.Length, sha ?? Sha(data), null, CancellationToken.None);

    protected static byte[] ReadAll(IObjectStore store, string key)
    {
        using var s = store.OpenRead(key, CancellationToken.None);
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }

    [SkippableFact]
    public void Put_then_list_stat_and_read_give_the_same_bytes()
    {
        using var store = CreateStore();
        store.Probe(CancellationToken.None);
        var a = RandomBytes(1000);
        var b = RandomBytes(0);
        var c = RandomBytes(70_000);
        PutBytes(store, "databases/main/20261207T000000.000Z-aaaaaa/manifest.json", a);
        PutBytes(store, "databases/main/20261207T000000.000Z-aaaaaa/main.db.zst", b);
        PutBytes(store, "wal/main/generations/g1/segments/0000000001.seg", c);

        var all = store.List("", CancellationToken.None).OrderBy(o => o.Key, StringComparer.Ordinal).ToList();
        Assert.Equal(new[] { "databases/main/20261207T000000.000Z-aaaaaa/main.db.zst", "databases/main/20261207T000000.000Z-aaaaaa/manifest.json", "wal/main/generations/g1/segments/0000000001.seg" },
            all.Select(o => o.Key));
        Assert.Equal(new long[] { 0, 1000, 70_000 }, all.Select(o => o.Length));
        Assert.All(all, o => Assert.True(o.Sha256 == null || o.Sha256 == Sha(o.Key.EndsWith(".seg") ? c : o.Key.EndsWith(".zst") ? b : a)));

        Assert.Equal(2, store.List("databases/", CancellationToken.None).Count());
        Assert.Single(store.List("wal/", CancellationToken.None));
        Assert.Equal(2, store.List("databases/main/20261207T000000.000Z-aaaaaa/", CancellationToken.None).Count());
        Assert.Empty(store.List("databases/other/", CancellationToken.None));

        var stat = store.Stat("wal/main/generations/g1/segments/0000000001.seg", CancellationToken.None);
        Assert.NotNull(stat);
        Assert.Equal(70_000, stat!.Length);
        Assert.Null(store.Stat("wal/main/generations/g1/segments/0000000002.seg", CancellationToken.None));
        Assert.Equal(c, ReadAll(store, "wal/main/generations/g1/segments/0000000001.seg"));
        Assert.Equal(a, ReadAll(store, "databases/main/20261207T000000.000Z-aaaaaa/manifest.json"));
        Assert.Empty(ReadAll(store, "databases/main/20261207T000000.000Z-aaaaaa/main.db.zst"));
    }

    [SkippableFact]
    public void Put_replaces_an_object_whole()
    {
        using var store = CreateStore();
        PutBytes(store, "wal/main/state.json", RandomBytes(500));
        var second = RandomBytes(300);
        PutBytes(store, "wal/main/state.json", second);
        Assert.Equal(second, ReadAll(store, "wal/main/state.json"));
        Assert.Equal(300, store.Stat("wal/main/state.json", CancellationToken.None)!.Length);
        Assert.Single(store.List("wal/", CancellationToken.None));
    }

    [SkippableFact]
    public void An_upload_stopped_part_way_leaves_nothing_listed_and_the_old_object_intact()
    {
        using var store = CreateStore();
        var old = RandomBytes(1234);
        PutBytes(store, "big/kept.db", old);
        int size = BlockSize * 2 + 12345;
        var data = RandomBytes(size);
        foreach (long stopAt in new long[] { 10, BlockSize + 100, size - 5 })
        {
            foreach (var key in new[] { "big/new.db", "big/kept.db" })
            {
                var failing = new FailingStream(new MemoryStream(data), stopAt);
                Assert.ThrowsAny<Exception>(() => store.Put(key, failing, data.Length, Sha(data), null, CancellationToken.None));
            }
            Assert.Null(store.Stat("big/new.db", CancellationToken.None));
            Assert.Equal(new[] { "big/kept.db" }, store.List("", CancellationToken.None).Select(o => o.Key));
            Assert.Equal(old, ReadAll(store, "big/kept.db"));
        }
        // and the next attempt succeeds
        PutBytes(store, "big/new.db", data);
        Assert.Equal(Sha(data), Sha(ReadAll(store, "big/new.db")));
    }

    [SkippableFact]
    public void A_checksum_that_does_not_match_is_an_error_and_stores_nothing()
    {
        using var store = CreateStore();
        foreach (int size in new[] { 100, BlockSize * 2 + 7 })
        {
            var data = RandomBytes(size);
            var ex = Assert.Throws<TursoBackupException>(() => PutBytes(store, "x/bad.db", data, new string('0', 64)));
            Assert.Equal(FailureKind.InvalidData, ex.Kind);
            Assert.Contains(store.DisplayName, ex.Message);
            Assert.Null(store.Stat("x/bad.db", CancellationToken.None));
            Assert.Empty(store.List("", CancellationToken.None));
        }
    }

    [SkippableFact]
    public void A_large_object_goes_in_blocks_and_comes_back_equal()
    {
        using var store = CreateStore();
        int size = BlockSize * 5 + 999;
        var data = RandomBytes(size);
        long lastProgress = 0;
        var stored = store.Put("big/large.db", new MemoryStream(data), size, Sha(data), n => lastProgress = n, CancellationToken.None);
        Assert.Equal(size, stored.Length);
        Assert.Equal(size, lastProgress);
        using var hash = SHA256.Create();
        using (var s = store.OpenRead("big/large.db", CancellationToken.None))
        {
            Assert.Equal(Sha(data), DirectoryStore.Hex(hash.ComputeHash(s)));
        }
    }

    [SkippableFact]
    public void Delete_removes_and_a_missing_object_is_no_error()
    {
        using var store = CreateStore();
        PutBytes(store, "a/b/c.json", RandomBytes(10));
        store.Delete("a/b/c.json", CancellationToken.None);
        store.Delete("a/b/c.json", CancellationToken.None);
        Assert.Null(store.Stat("a/b/c.json", CancellationToken.None));
        Assert.Empty(store.List("", CancellationToken.None));
        var ex = Assert.Throws<TursoBackupException>(() => store.OpenRead("a/b/c.json", CancellationToken.None).Dispose());
        Assert.Equal(FailureKind.NotFound, ex.Kind);
    }

    [SkippableFact]
    public void Listing_pages_through_many_objects()
    {
        using var store = CreateStore();
        int n = ManyObjects;
        for (int i = 0; i < n; i++) PutBytes(store, $"many/{i:D5}.seg", new[] { (byte)i });
        Assert.Equal(n, store.List("many/", CancellationToken.None).Select(o => o.Key).Distinct().Count());
    }

    /// <summary>Objects for the paging test: more than one page of the service's listing where that is cheap.</summary>
    protected virtual int ManyObjects => 120;

    /// <summary>Reads like its inner stream until <c>stopAt</c> bytes, then throws (an upload killed part-way).</summary>
    protected sealed class FailingStream : Stream
    {
        private readonly Stream inner;
        private readonly long stopAt;
        private long position;

        public FailingStream(Stream inner, long stopAt)
        {
            this.inner = inner;
            this.stopAt = stopAt;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (position >= stopAt) throw new IOException("the source went away (test)");
            int n = inner.Read(buffer, offset, (int)Math.Min(count, stopAt - position));
            position += n;
            return n;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>The folder store (another disk, a share; and the cache of remote vaults).</summary>
public sealed class DirectoryStoreTests : ObjectStoreContract
{
    protected override IObjectStore CreateStore()
    {
        var s = new DirectoryStore(P("dest"));
        s.CreateRoot();
        return s;
    }

    [Fact]
    public void Keys_cannot_leave_the_root()
    {
        using var store = CreateStore();
        foreach (var key in new[] { "../x", "a/../../x", "/etc/passwd", "a//b", "a\\b", "" })
        {
            var ex = Assert.Throws<TursoBackupException>(() => PutBytes(store, key, new byte[1]));
            Assert.Equal(FailureKind.InvalidData, ex.Kind);
        }
        Assert.False(File.Exists(P("x")));
    }

    [Fact]
    public void A_missing_folder_is_named_in_the_error()
    {
        using var store = new DirectoryStore(P("nowhere"));
        var ex = Assert.Throws<TursoBackupException>(() => store.Probe(CancellationToken.None));
        Assert.Equal(FailureKind.NotFound, ex.Kind);
        Assert.Contains(P("nowhere"), ex.Message);
    }
}
