using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Dump;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Remote;
using TursoBackup.Engine.Sqlite;
using Xunit.Abstractions;

namespace TursoBackup.Tests.Remote;

/// <summary>LibsqlUrl and the parts of the Hrana client that need no server.</summary>
public sealed class HranaOfflineTests
{
    [Theory]
    [InlineData("libsql://db-org.turso.io", "https://db-org.turso.io")]
    [InlineData("libsql://db-org.turso.io/", "https://db-org.turso.io")]
    [InlineData("LIBSQL://host:8080/some/path/", "https://host:8080/some/path")]
    [InlineData("libsql://127.0.0.1:8080?tls=0", "http://127.0.0.1:8080")]
    [InlineData("libsql://127.0.0.1:8080?tls=1", "https://127.0.0.1:8080")]
    [InlineData("http://127.0.0.1:8080", "http://127.0.0.1:8080")]
    [InlineData("  https://db.example.com//  ", "https://db.example.com")]
    public void LibsqlUrlsAreNormalized(string input, string expected)
    {
        Assert.Equal(expected, LibsqlUrl.Normalize(input));
    }

    [Theory]
    [InlineData("")]
    [InlineData("db-org.turso.io")]
    [InlineData("ws://db-org.turso.io")]
    [InlineData("file:///tmp/x.db")]
    [InlineData("https://")]
    [InlineData("https://host/#frag")]
    [InlineData("https://host/?foo=1")]
    public void OtherUrlsAreRefused(string input)
    {
        var ex = Assert.Throws<TursoBackupException>(() => LibsqlUrl.Normalize(input));
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
    }

    [Fact]
    public void CredentialsInTheUrlAreRefusedWithoutRepeatingThem()
    {
        var ex = Assert.Throws<TursoBackupException>(() => LibsqlUrl.Normalize("libsql://db.turso.io?authToken=SECRET-IN-QUERY"));
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        Assert.DoesNotContain("SECRET", ex.Message);
        Assert.Contains("-AuthToken", ex.Message);
        ex = Assert.Throws<TursoBackupException>(() => LibsqlUrl.Normalize("https://user:SECRET-IN-USERINFO@db.turso.io"));
        Assert.DoesNotContain("SECRET", ex.Message);
        Assert.Equal("https://***@h/x?***", LibsqlUrl.Redact("https://u:p@h/x?authToken=t"));
    }

    [Fact]
    public void ParametersAreNumberedLikeSqlite()
    {
        var names = new Dictionary<string, int>();
        int n = HranaParameters.Scan("SELECT :a, ?, :a, @b, ?5, ?, $c, ':x', \"@y\", [$z], a$b -- :comment\n /* @c2 */ FROM t", names);
        Assert.Equal(7, n);
        Assert.Equal(1, names[":a"]);
        Assert.Equal(3, names["@b"]);
        Assert.Equal(5, names["?5"]);
        Assert.Equal(7, names["$c"]);
        Assert.Equal(4, names.Count);

        var bound = HranaParameters.Bind("SELECT :a, ?, @b, :a", new object[] { 1L, 2L }, new Dictionary<string, object> { ["a"] = "A", ["@b"] = "B" });
        Assert.Equal(new object[] { "A", 2L, "B" }, bound);
        var ex = Assert.Throws<TursoBackupException>(() => HranaParameters.Bind("SELECT :a", null, new Dictionary<string, object> { ["nope"] = 1 }));
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        ex = Assert.Throws<TursoBackupException>(() => HranaParameters.Bind("SELECT :a, :b", null, new Dictionary<string, object> { ["a"] = 1 }));
        Assert.Contains(":b", ex.Message);
    }

    [Fact]
    public void ValuesAreWrittenExactly()
    {
        var sb = new StringBuilder();
        HranaProtocol.Value(sb, long.MinValue, 0);
        HranaProtocol.Value(sb, 9007199254740993L, 0);
        HranaProtocol.Value(sb, 0.1, 0);
        HranaProtocol.Value(sb, -0.0, 0);
        HranaProtocol.Value(sb, new byte[] { 0, 255 }, 0);
        HranaProtocol.Value(sb, "q\"\n", 0);
        Assert.Equal("{\"type\":\"integer\",\"value\":\"-9223372036854775808\"}{\"type\":\"integer\",\"value\":\"9007199254740993\"}"
                     + "{\"type\":\"float\",\"value\":0.1}{\"type\":\"float\",\"value\":-0.0}{\"type\":\"blob\",\"base64\":\"AP8=\"}"
                     + "{\"type\":\"text\",\"value\":\"q\\\"\\n\"}", sb.ToString());
        Assert.Throws<TursoBackupException>(() => HranaProtocol.Value(new StringBuilder(), double.NaN, 0));
        Assert.Throws<TursoBackupException>(() => HranaProtocol.Value(new StringBuilder(), DateTime.Now, 0));
    }

    [Fact]
    public void HttpStatusesBecomeClearErrorsWithoutTheToken()
    {
        const string token = "tok-SECRET-0123456789";
        using var handler = new HranaTestHandler { FixedStatus = HttpStatusCode.Unauthorized, FixedBody = "{\"error\":\"Unauthorized: token tok-SECRET-0123456789 expired\"}" };
        using var client = new HranaClient("libsql://db-org.turso.io", token, handler);
        var ex = Assert.Throws<TursoBackupException>(() => client.Execute("SELECT 1"));
        Assert.Equal(FailureKind.PermissionDenied, ex.Kind);
        Assert.Contains("the auth token was refused; pass -AuthToken or set TURSO_AUTH_TOKEN", ex.Message);
        Assert.Contains("https://db-org.turso.io", ex.Message);
        Assert.DoesNotContain("SECRET", ex.ToString());
        Assert.DoesNotContain("SECRET", client.ToString());
        Assert.Equal("Bearer " + token, handler.Authorizations[0]);

        handler.FixedStatus = HttpStatusCode.Forbidden;
        using var noToken = new HranaClient("libsql://db-org.turso.io", null, handler);
        ex = Assert.Throws<TursoBackupException>(() => noToken.Execute("SELECT 1"));
        Assert.Equal(FailureKind.PermissionDenied, ex.Kind);
        Assert.Contains("-AuthToken", ex.Message);

        handler.FixedStatus = HttpStatusCode.ServiceUnavailable;
        handler.FixedBody = "overloaded";
        using var busy = new HranaClient("https://db.example.com", token, handler);
        ex = Assert.Throws<TursoBackupException>(() => busy.Execute("SELECT 1"));
        Assert.Equal(FailureKind.Busy, ex.Kind);

        var bad = Assert.Throws<TursoBackupException>(() => new HranaClient("https://db.example.com", "bad token\nwith newline"));
        Assert.DoesNotContain("newline", bad.Message);
    }

    [Fact]
    public void ARefusedConnectionNamesTheUrlAndFailsFast()
    {
        int port = Ports.Free();
        using var client = new HranaClient("http://127.0.0.1:" + port, "tok-SECRET", timeout: TimeSpan.FromSeconds(10));
        var watch = Stopwatch.StartNew();
        var ex = Assert.Throws<TursoBackupException>(() => client.Execute("SELECT 1"));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10));
        Assert.Equal(FailureKind.WriteFailed, ex.Kind);
        Assert.Contains("http://127.0.0.1:" + port, ex.Message);
        Assert.Contains("refused", ex.Message);
        Assert.DoesNotContain("SECRET", ex.ToString());
    }
}

/// <summary>A server that accepts connections and then stalls: before its headers, or in the middle of its body.</summary>
public sealed class HranaTimeoutTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AServerThatStopsAnsweringTimesOutAsBusy(bool midBody)
    {
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var open = new List<System.Net.Sockets.TcpClient>();
        var accept = Task.Run(() =>
        {
            try
            {
                while (true)
                {
                    var c = listener.AcceptTcpClient();
                    lock (open) open.Add(c);
                    var stream = c.GetStream();
                    var buf = new byte[65536];
                    stream.Read(buf, 0, buf.Length);
                    string path = Encoding.ASCII.GetString(buf).Split(' ')[1];
                    if (path.EndsWith("/v3"))
                    {
                        stream.Write(Encoding.ASCII.GetBytes("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
                    }
                    else if (midBody)
                    {
                        stream.Write(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"baton\":null,\"results\":["));
                    }
                }
            }
            catch (Exception)
            {
                // listener stopped
            }
        });
        try
        {
            using var client = new HranaClient("http://127.0.0.1:" + port, "tok-SECRET", timeout: TimeSpan.FromSeconds(1.5));
            var watch = Stopwatch.StartNew();
            var ex = Assert.Throws<TursoBackupException>(() => client.Execute("SELECT 1"));
            Assert.InRange(watch.Elapsed.TotalSeconds, 1.0, 10.0);
            Assert.Equal(FailureKind.Busy, ex.Kind);
            Assert.Contains("did not answer within 1.5 s", ex.Message);
            Assert.Contains("http://127.0.0.1:" + port, ex.Message);
            Assert.DoesNotContain("SECRET", ex.ToString());

            // The caller's own cancellation stays a cancellation.
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            Assert.ThrowsAny<OperationCanceledException>(() => client.Execute("SELECT 1", cancellationToken: cts.Token));
        }
        finally
        {
            listener.Stop();
            lock (open) foreach (var c in open) c.Dispose();
        }
    }
}

/// <summary>The Hrana client and the remote dump against a real libSQL server: tursodb --sync-server.</summary>
public sealed class RemoteTests : TempFolderTest
{
    private readonly ITestOutputHelper log;

    public RemoteTests(ITestOutputHelper log) => this.log = log;

    private static readonly object[] Values =
    {
        null, 0L, 1L, -1L, 9007199254740993L /* 2^53+1 */, long.MinValue, long.MaxValue,
        1.5, -2.25, 0.1, 1e-300, double.MaxValue, double.Epsilon, 123456789.0,
        "", "plain", "it's \"quoted\"", "héllo ✓ 😀 — ünïcode", "line\nbreak\r\ttab", "\u0001control",
        new byte[0], new byte[] { 0, 1, 2, 254, 255 }, Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7)).ToArray(),
    };

    [SkippableFact]
    public void EveryValueTypeRoundTripsWithPositionalAndNamedArguments()
    {
        using var server = TursodbServer.Start();
        using var client = new HranaClient(server.Url, timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(2, client.ProtocolVersion); // tursodb 0.7.0 has no /v3
        client.Execute("CREATE TABLE v(id INTEGER PRIMARY KEY, x)");
        for (int i = 0; i < Values.Length; i++)
        {
            // SELECT ? returns the argument as the server bound it; the table stores it and gives it back.
            var echoed = client.Execute("SELECT ?", new[] { Values[i] });
            AssertSame(Values[i], echoed.Rows[0][0], $"SELECT ? #{i}");
            if (i % 2 == 0) client.Execute("INSERT INTO v(id, x) VALUES(?, ?)", new object[] { (long)i, Values[i] });
            else client.Execute("INSERT INTO v(id, x) VALUES(:id, @x)", named: new Dictionary<string, object> { ["id"] = (long)i, ["@x"] = Values[i] });
        }
        var rows = client.Execute("SELECT id, x, typeof(x) FROM v ORDER BY id");
        Assert.Equal(Values.Length, rows.Rows.Count);
        Assert.Equal(new[] { "id", "x", "typeof(x)" }, rows.ColumnNames);
        foreach (var row in rows.Rows)
        {
            int i = (int)(long)row[0];
            AssertSame(Values[i], row[1], $"stored #{i} ({row[2]})");
        }
        // Named arguments with all three prefixes, a repeated name and a positional one among them.
        var named = client.Execute("SELECT :a, ?, @b, :a, $c", new object[] { null, 2L },
            new Dictionary<string, object> { ["a"] = long.MinValue, ["b"] = "B", ["$c"] = new byte[] { 9 } });
        Assert.Equal(new object[] { long.MinValue, 2L, "B", long.MinValue, new byte[] { 9 } }, named.Rows[0]);
    }

    private static void AssertSame(object expected, object actual, string what)
    {
        if (expected is double d)
        {
            Assert.True(actual is double, $"{what}: expected a double, got {actual?.GetType().Name ?? "null"}");
            Assert.Equal(BitConverter.DoubleToInt64Bits(d), BitConverter.DoubleToInt64Bits((double)actual));
        }
        else if (expected is byte[] b)
        {
            Assert.True(actual is byte[], $"{what}: expected a blob, got {actual?.GetType().Name ?? "null"}");
            Assert.Equal(b, (byte[])actual);
        }
        else
        {
            Assert.Equal(expected, actual);
        }
    }

    [SkippableFact]
    public void ABatchStopsAtTheFirstErrorAndReportsIt()
    {
        using var server = TursodbServer.Start();
        using var client = new HranaClient(server.Url);
        client.Execute("CREATE TABLE b(x INTEGER)");
        var ok = client.Batch(new (string, IReadOnlyList<object>)[] { ("INSERT INTO b VALUES(?)", new object[] { 1L }), ("SELECT count(*) FROM b", null) });
        Assert.Equal(2, ok.Count);
        Assert.Equal(1L, ok[1].Scalar);

        var ex = Assert.Throws<TursoBackupException>(() => client.Batch(new (string, IReadOnlyList<object>)[]
        {
            ("INSERT INTO b VALUES(2)", null),
            ("INSERT INTO no_such_table VALUES(3)", null),
            ("INSERT INTO b VALUES(4)", null),
        }));
        Assert.Equal(1, ex.Data["HranaStep"]);
        Assert.Contains("step 2 of the batch", ex.Message);
        Assert.Contains("no_such_table", ex.Message);
        // Step 1 ran, step 3 was skipped because step 2 failed.
        var left = client.Execute("SELECT x FROM b ORDER BY x").Rows.Select(r => (long)r[0]).ToArray();
        Assert.Equal(new[] { 1L, 2L }, left);
    }

    [SkippableFact]
    public void ServerErrorsSurfaceWithTheirMessageAndCode()
    {
        using var server = TursodbServer.Start();
        using var client = new HranaClient(server.Url, "tok-SECRET-42");
        var ex = Assert.Throws<TursoBackupException>(() => client.Execute("SELECT * FROM missing_table_xyz"));
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        Assert.Contains("missing_table_xyz", ex.Message);
        Assert.Contains(server.Url, ex.Message);
        Assert.Contains("missing_table_xyz", (string)ex.Data["HranaMessage"]);
        Assert.False(string.IsNullOrEmpty((string)ex.Data["HranaCode"]));
        Assert.Contains("(code " + ex.Data["HranaCode"] + ")", ex.Message);
        Assert.DoesNotContain("SECRET", ex.ToString());
        log.WriteLine(ex.Message);

        var syntax = Assert.Throws<TursoBackupException>(() => client.Execute("SELEC 1"));
        log.WriteLine(syntax.Message);

        // A wrong path is a 404.
        using var wrong = new HranaClient(server.Url + "/not/here");
        var nf = Assert.Throws<TursoBackupException>(() => wrong.Execute("SELECT 1"));
        Assert.Equal(FailureKind.NotFound, nf.Kind);
    }

    [SkippableFact]
    public void AStreamKeepsItsTransactionAcrossRequests()
    {
        using var server = TursodbServer.Start();
        // tursodb itself: no baton, but every request runs on its one connection, so BEGIN spans requests too.
        using (var client = new HranaClient(server.Url))
        {
            client.Execute("CREATE TABLE t(x)");
            using var s = client.OpenStream();
            s.Execute("BEGIN");
            s.Execute("INSERT INTO t VALUES(1)");
            Assert.Equal(1L, s.Execute("SELECT count(*) FROM t").Scalar);
            s.Execute("ROLLBACK");
            Assert.Equal(0L, s.Execute("SELECT count(*) FROM t").Scalar);
            Assert.False(s.IsServerStream);
            Assert.True(s.ServerKeepsNoStreams);
        }

        // A server that hands out batons (sqld, Turso Cloud): each request carries the last baton; close ends it.
        using var handler = new HranaTestHandler { AddBatons = true };
        using (var client = new HranaClient(server.Url, handler: handler))
        {
            using (var s = client.OpenStream())
            {
                s.Execute("BEGIN");
                Assert.True(s.IsServerStream);
                s.Execute("INSERT INTO t VALUES(2)");
                s.ExecuteAll(new[] { new HranaStatement("INSERT INTO t VALUES(3)"), new HranaStatement("SELECT 1") });
                Assert.Equal(2L, s.Execute("SELECT count(*) FROM t").Scalar);
                s.Execute("COMMIT");
            }
            Assert.Empty(handler.BatonErrors);
            Assert.Null(handler.SentBatons[0]);
            Assert.All(handler.SentBatons.Skip(1), b => Assert.NotNull(b));
            Assert.Contains("close", handler.Bodies.Last());
            Assert.Equal(2L, client.Execute("SELECT count(*) FROM t").Scalar);

            // The server ends the stream (no baton back): the transaction is gone, and the next request says so.
            handler.DropBatonAfter = 2;
            using var s2 = client.OpenStream();
            s2.Execute("SELECT 1");
            s2.Execute("SELECT 2");
            Assert.Equal(3L, s2.Execute("SELECT 3").Scalar); // ran on the stream; the response carried no baton
            Assert.False(s2.IsServerStream);
            var ex = Assert.Throws<TursoBackupException>(() => s2.Execute("SELECT 4"));
            Assert.Equal(FailureKind.Busy, ex.Kind);
            Assert.Contains("ended the stream", ex.Message);
        }
    }

    [SkippableFact]
    public void Version3IsUsedWhenOffered()
    {
        using var server = TursodbServer.Start();
        using var handler = new HranaTestHandler { OfferV3 = true };
        using var client = new HranaClient(server.Url, handler: handler);
        Assert.Equal(1L, client.Execute("SELECT 1").Scalar);
        Assert.Equal(3, client.ProtocolVersion);
        Assert.Equal("GET /v3", handler.Paths[0]);
        Assert.Equal("POST /v3/pipeline", handler.Paths[1]);
    }

    [SkippableFact]
    public void ReadTablePagesThroughATableWithKeysets()
    {
        string seed = P("pages.db");
        using (var c = SqliteFile.OpenOrCreate(seed))
        {
            TestDb.Exec(c, "PRAGMA journal_mode=WAL; CREATE TABLE p(a TEXT, b BLOB);");
            TestDb.Exec(c, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 12345) INSERT INTO p(rowid, a, b) SELECT i * 3 - 100, 'row ' || i, randomblob(i % 50) FROM n;");
            TestDb.Exec(c, "PRAGMA wal_checkpoint(TRUNCATE)");
        }
        SqliteConnection.ClearAllPools();
        using var server = TursodbServer.Start(seed);
        using var handler = new HranaTestHandler();
        using var client = new HranaClient(server.Url, handler: handler);
        using var s = client.OpenStream();
        int n = 0;
        foreach (var row in s.ReadTable("p", new[] { "a" }, maxPageRows: 1000))
        {
            n++;
            Assert.Equal("row " + n, row[0]);
            Assert.Single(row);
        }
        Assert.Equal(12345, n);
        Assert.InRange(handler.Pipelines, 13, 40); // PRAGMA + schema, then 1000-row pages
        Assert.Contains(handler.SqlSent(), sql => sql.Contains("WHERE rowid>?") && sql.Contains("ORDER BY rowid LIMIT 1000"));
    }

    /// <summary>Every kind of schema object and value, with rowid gaps, on a real server; the dump loads into an equal database.</summary>
    private string MakeSeed(string name, int bulkRows)
    {
        string seed = P(name);
        using (var c = SqliteFile.OpenOrCreate(seed))
        {
            TestDb.Exec(c, "PRAGMA journal_mode=WAL; PRAGMA user_version=7;");
            TestDb.Exec(c, @"CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, data BLOB);
CREATE TABLE big(a INTEGER, b TEXT, c REAL, d BLOB);
CREATE TABLE ""odd name""(""select"" TEXT, ""x""""y"" INTEGER);
CREATE TABLE seq(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);
CREATE INDEX big_b ON big(b);
CREATE UNIQUE INDEX parent_name ON parent(name);
CREATE VIEW big_view AS SELECT a, b FROM big WHERE a % 2 = 0;
CREATE TRIGGER parent_touch AFTER UPDATE ON parent BEGIN UPDATE parent SET score = score + 0 WHERE id = new.id; END;");
            TestDb.Exec(c, $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < {bulkRows}) INSERT INTO big(rowid, a, b, c, d) SELECT i * 2 + (i % 7), i * 1000003 % 1000000007, 'text ' || i || ' é ✓', i / 7.0, CASE WHEN i % 5 = 0 THEN NULL ELSE randomblob(i % 24) END FROM n;");
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = "INSERT INTO parent(id, name, score, data) VALUES($i, $n, $s, $d)";
                var pi = cmd.Parameters.Add("$i", SqliteType.Integer);
                var pn = cmd.Parameters.Add("$n", SqliteType.Text);
                var ps = cmd.Parameters.Add("$s", SqliteType.Real);
                var pd = cmd.Parameters.Add("$d", SqliteType.Blob);
                for (int i = 0; i < Values.Length; i++)
                {
                    pi.Value = i == 0 ? long.MinValue : i == 1 ? long.MaxValue : i * 10;
                    pn.Value = "name " + i + (Values[i] is string s ? s : "");
                    ps.Value = Values[i] is double d ? d : (object)DBNull.Value;
                    pd.Value = Values[i] is byte[] b ? b : (object)DBNull.Value;
                    cmd.ExecuteNonQuery();
                }
            }
            TestDb.Exec(c, @"INSERT INTO ""odd name"" VALUES('it''s', 1), (NULL, 2), ('x', NULL);
INSERT INTO seq(v) VALUES('a'), ('b'), ('c'); DELETE FROM seq WHERE v = 'b';");
            TestDb.Exec(c, "PRAGMA wal_checkpoint(TRUNCATE)");
        }
        SqliteConnection.ClearAllPools();
        return seed;
    }

    [SkippableFact]
    public void A200kRowDatabaseIsDumpedAndLoadsIntoAnEqualDatabase()
    {
        const int bulk = 200_000;
        string seed = MakeSeed("seed.db", bulk);
        long bigRows;
        using (var c = SqliteFile.OpenReadOnly(seed)) bigRows = (long)SqliteFile.Scalar(c, "SELECT count(*) FROM big");
        SqliteConnection.ClearAllPools();

        using var server = TursodbServer.Start(seed);
        using var client = new HranaClient(server.Url, timeout: TimeSpan.FromSeconds(60));
        var writer = new RemoteDumpWriter { Log = m => log.WriteLine(m) };
        string dump = P("remote.sql");
        var progress = new List<long>();
        var watch = Stopwatch.StartNew();
        SqlDumpStats stats;
        using (var file = new StreamWriter(dump, false, new UTF8Encoding(false), 1 << 16))
        {
            stats = writer.Write(client, file, progress.Add);
        }
        watch.Stop();
        long total = stats.Rows;
        log.WriteLine($"Dumped {total:N0} rows ({new FileInfo(dump).Length:N0} bytes) in {watch.Elapsed.TotalSeconds:F2} s: {total / watch.Elapsed.TotalSeconds:N0} rows/s. Consistency: {writer.Consistency}");
        Assert.Equal(RemoteDumpWriter.ConsistencyVerified, writer.Consistency);
        Assert.Equal(4, stats.Tables);
        Assert.Equal(2, stats.Indexes);
        Assert.Equal(1, stats.Views);
        Assert.Equal(1, stats.Triggers);
        Assert.Equal(bulk, bigRows);
        Assert.Equal(bigRows, stats.TableRows.Single(t => t.Name == "big").Rows);
        Assert.Equal(new FileInfo(dump).Length, stats.Utf8Bytes);
        Assert.True(progress.Count >= bulk / 10000);
        Assert.Equal(total, progress.Last());

        // Our importer and the sqlite3 shell both load it into a database equal to the seed (rowids, types, bits).
        string imported = P("imported.db");
        using (var reader = new StreamReader(dump, new UTF8Encoding(false, true)))
        {
            var import = new SqlDumpImporter().Import(reader, imported, overwrite: false);
            Assert.Equal(total, import.RowsInserted);
        }
        DbImage.AssertEqual(seed, imported);
        Assert.Equal(Checksum(seed), Checksum(imported));
        if (Peers.Find("sqlite3") != null)
        {
            string viaShell = P("shell.db");
            Peers.Sqlite3Files(new[] { viaShell }, stdinFile: dump);
            DbImage.AssertEqual(seed, viaShell);
        }
    }

    /// <summary>count and a hash of every row of every table (rowids and value bits included).</summary>
    private static string Checksum(string path)
    {
        var lines = DbImage.Of(path);
        using var sha = System.Security.Cryptography.SHA256.Create();
        foreach (var l in lines)
        {
            var b = Encoding.UTF8.GetBytes(l + "\n");
            sha.TransformBlock(b, 0, b.Length, null, 0);
        }
        sha.TransformFinalBlock(Array.Empty<byte>(), 0, 0);
        return lines.Count + ":" + Convert.ToHexString(sha.Hash!);
    }

    [SkippableFact]
    public void ADumpThroughAServerWithBatonsRunsInOneTransaction()
    {
        string seed = MakeSeed("seed-baton.db", 3000);
        using var server = TursodbServer.Start(seed);
        using var handler = new HranaTestHandler { AddBatons = true };
        using var client = new HranaClient(server.Url, handler: handler);
        var writer = new RemoteDumpWriter { PageRows = 500, RowsPerInsert = 50 };
        string dump = P("baton.sql");
        using (var file = new StreamWriter(dump, false, new UTF8Encoding(false)))
        {
            writer.Write(client, file);
        }
        Assert.Equal(RemoteDumpWriter.ConsistencyTransaction, writer.Consistency);
        var sql = handler.SqlSent();
        int begin = sql.IndexOf("BEGIN"), commit = sql.LastIndexOf("COMMIT");
        Assert.True(begin > 0 && commit == sql.Count - 1, string.Join("\n", sql));
        Assert.Empty(handler.BatonErrors);
        Assert.All(handler.SentBatons.Skip(1), b => Assert.NotNull(b)); // every request after the first on the stream
        Assert.DoesNotContain(sql, s => s.Contains("total_changes"));

        string imported = P("baton.db");
        using (var reader = new StreamReader(dump)) new SqlDumpImporter().Import(reader, imported, false);
        DbImage.AssertEqual(seed, imported);
    }

    [SkippableFact]
    public void WithoutRowidTablesArePagedByTheirKeyAndGeneratedColumnsLeftToTheLoader()
    {
        string seed = P("seed-wr.db");
        using (var c = SqliteFile.OpenOrCreate(seed))
        {
            TestDb.Exec(c, @"PRAGMA journal_mode=WAL;
CREATE TABLE w(k1 TEXT, k2 INTEGER, v, PRIMARY KEY(k1, k2)) WITHOUT ROWID;
CREATE TABLE g(a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL, c TEXT);
CREATE INDEX w_v ON w(v);");
            TestDb.Exec(c, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 5000) INSERT INTO w SELECT char(65 + i % 26) || (i % 3), i % 17, CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN i * 1.5 WHEN 2 THEN 'v' || i ELSE randomblob(4) END FROM n WHERE 1 ON CONFLICT DO NOTHING;");
            TestDb.Exec(c, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 700) INSERT INTO g(rowid, a, c) SELECT i * 5, i, 'g' || i FROM n;");
            TestDb.Exec(c, "PRAGMA wal_checkpoint(TRUNCATE)");
        }
        SqliteConnection.ClearAllPools();
        // tursodb 0.7.0 opens such a database only with these flags (without them: "WITHOUT ROWID tables are an
        // experimental feature", "uses generated columns but the generated_columns feature is not enabled").
        using var server = TursodbServer.Start(seed, new[] { "--experimental-without-rowid", "--experimental-generated-columns" });
        using var handler = new HranaTestHandler();
        using var client = new HranaClient(server.Url, handler: handler);
        var writer = new RemoteDumpWriter { PageRows = 300 };
        string dump = P("wr.sql");
        using (var file = new StreamWriter(dump, false, new UTF8Encoding(false))) writer.Write(client, file);
        var sql = handler.SqlSent();
        Assert.Contains(sql, q => q.Contains("FROM \"w\" WHERE (\"k1\">? OR (\"k1\"=? AND \"k2\">?)) ORDER BY \"k1\",\"k2\" LIMIT 300"));
        Assert.DoesNotContain(sql, q => q.Contains("\"b\""));
        string imported = P("wr.db");
        using (var reader = new StreamReader(dump)) new SqlDumpImporter().Import(reader, imported, false);
        DbImage.AssertEqual(seed, imported);

        using var s = client.OpenStream();
        var keys = s.ReadTable("w", new[] { "k1", "k2" }, maxPageRows: 100).Select(r => (string)r[0] + "/" + (long)r[1]).ToList();
        Assert.Equal(keys.Count, keys.Distinct().Count());
        using (var c = SqliteFile.OpenReadOnly(seed)) Assert.Equal((long)SqliteFile.Scalar(c, "SELECT count(*) FROM w"), keys.Count);
    }

    [SkippableFact]
    public void ADatabaseBuiltThroughTheServerDumpsWithoutTursoInternals()
    {
        using var server = TursodbServer.Start();
        using var client = new HranaClient(server.Url);
        foreach (var stmt in new[]
        {
            "CREATE TABLE s(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)",
            "CREATE TABLE plain(a, b)",
            "CREATE INDEX plain_a ON plain(a)",
            "CREATE VIEW sv AS SELECT v FROM s",
            "CREATE TRIGGER s_log AFTER INSERT ON s BEGIN INSERT INTO plain VALUES(new.id, new.v); END",
            "INSERT INTO s(v) VALUES('one'), ('two'), ('three')",
            "DELETE FROM s WHERE v = 'three'",
            "INSERT INTO plain(rowid, a, b) VALUES(100, 1.25, x'cafe')",
            "PRAGMA user_version = 3",
        })
        {
            client.Execute(stmt);
        }
        Assert.Contains(client.Execute("SELECT name FROM sqlite_master").Rows, r => ((string)r[0]).StartsWith("__turso_internal"));

        var writer = new RemoteDumpWriter();
        var text = new StringWriter();
        var stats = writer.Write(client, text);
        string dump = text.ToString();
        log.WriteLine(dump);
        Assert.DoesNotContain("__turso_internal", dump);
        Assert.Equal(2, stats.Tables);
        Assert.Equal(1, stats.Indexes);
        Assert.Equal(1, stats.Views);
        Assert.Equal(1, stats.Triggers);

        string imported = P("built.db");
        new SqlDumpImporter().Import(new StringReader(dump), imported, false);
        using var c = SqliteFile.OpenReadOnly(imported);
        Assert.Equal("s|3", SqliteFile.Scalar(c, "SELECT name || '|' || seq FROM sqlite_sequence"));
        Assert.Equal("1:one,2:two", SqliteFile.Scalar(c, "SELECT group_concat(id || ':' || v) FROM (SELECT * FROM s ORDER BY id)"));
        Assert.Equal(4L, SqliteFile.Scalar(c, "SELECT count(*) FROM plain"));
        Assert.Equal("CAFE", SqliteFile.Scalar(c, "SELECT hex(b) FROM plain WHERE rowid = 100"));
        Assert.Equal(3L, SqliteFile.Scalar(c, "PRAGMA user_version"));
        Assert.Equal("ok", SqliteFile.Scalar(c, "PRAGMA integrity_check"));
    }

    [SkippableFact]
    public void AWriteDuringADumpWithoutBatonsStopsIt()
    {
        string seed = MakeSeed("seed-write.db", 30_000);
        using var server = TursodbServer.Start(seed);
        using var client = new HranaClient(server.Url);
        using var other = new HranaClient(server.Url);
        var writer = new RemoteDumpWriter { PageRows = 1000, ProgressInterval = 5000 };
        bool wrote = false;
        var ex = Assert.Throws<TursoBackupException>(() =>
        {
            writer.Write(client, TextWriter.Null, rows =>
            {
                if (wrote) return;
                wrote = true;
                other.Execute("INSERT INTO parent(id, name) VALUES(424242, 'written during the dump')");
            });
        });
        Assert.Equal(FailureKind.Busy, ex.Kind);
        Assert.Contains("was written during the dump", ex.Message);
        log.WriteLine(ex.Message);
    }

    [SkippableFact]
    public void KillingTheServerMidDumpFailsClearlyAndFast()
    {
        string seed = MakeSeed("seed-kill.db", 50_000);
        var server = TursodbServer.Start(seed);
        try
        {
            using var client = new HranaClient(server.Url, "tok-SECRET-kill", timeout: TimeSpan.FromSeconds(10));
            var writer = new RemoteDumpWriter { PageRows = 1000, ProgressInterval = 10_000 };
            var watch = Stopwatch.StartNew();
            long killedAt = 0;
            var task = Task.Run(() => writer.Write(client, TextWriter.Null, rows =>
            {
                if (killedAt == 0) killedAt = rows;
                server.Kill();
            }));
            Assert.True(((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(60)), "the dump hung after the server died");
            Assert.True(task.IsFaulted, "the dump finished although the server was killed");
            Assert.Equal(10_000, killedAt);
            var ex = Assert.IsType<TursoBackupException>(task.Exception!.InnerException);
            Assert.Equal(FailureKind.WriteFailed, ex.Kind);
            Assert.Contains(server.Url, ex.Message);
            Assert.DoesNotContain("SECRET", ex.ToString());
            log.WriteLine($"{watch.Elapsed.TotalSeconds:F2} s: {ex.Message}");
        }
        finally
        {
            server.Dispose();
        }
    }
}
