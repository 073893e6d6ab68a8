using System.Management.Automation;
using System.Security;
using TursoBackup.Tests.Cloud;
using TursoBackup.Tests.Remote;

namespace TursoBackup.Module.Tests;

/// <summary>
/// Turso Cloud and remote libSQL through the cmdlets, in the hosted runspace. The Platform API is a local STAND-IN that
/// follows the OpenAPI document (tests/specs/turso-platform-openapi.json) — Turso itself cannot be reached here — and
/// the databases it describes are served by a REAL libSQL server: tursodb --sync-server on 127.0.0.1 (the stand-in maps
/// every database's hostname to it, so a "branch" reads the server's data).
/// </summary>
public sealed class CloudCmdletTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public CloudCmdletTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    private static string ShopDatabase(TempDir dir, int orders = 2000)
    {
        string db = dir["shop.db"];
        Peers.Sqlite3(db, $"""
            CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, balance REAL, photo BLOB);
            CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), total INTEGER, note TEXT);
            CREATE INDEX orders_customer ON orders(customer_id);
            CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 500;
            INSERT INTO customers SELECT value, 'customer ' || value || ' “quoted” ''x''', value * 1.5, randomblob(16) FROM generate_series(1, 100);
            INSERT INTO orders SELECT value, 1 + value % 100, value % 1000, CASE WHEN value % 7 = 0 THEN NULL ELSE 'note ' || value END FROM generate_series(1, {orders});
            """);
        return db;
    }

    private void Connect(PlatformApiStandIn api) =>
        session.Run("Connect-TursoCloud -Organization $org -ApiToken $token -BaseUri $uri | Out-Null",
            Vars(("org", api.Organization), ("token", api.ApiToken), ("uri", api.BaseUri))).NoErrors();

    /// <summary>Every token the stand-in knows, and the API token: none may appear in output, verbose text or errors.</summary>
    private static void AssertNoTokens(PlatformApiStandIn api, ModuleSession.Result r)
    {
        var secrets = api.Tokens.Select(t => t.Jwt).Append(api.ApiToken).Where(s => !string.IsNullOrEmpty(s)).ToList();
        var texts = r.Output.Select(o => o.ToString())
            .Concat(r.Output.SelectMany(o => o.Properties.Where(p => p.MemberType == PSMemberTypes.Property && p.Value is not SecureString).Select(p => Convert.ToString(p.Value) ?? "")))
            .Concat(r.Verbose).Concat(r.Errors.Select(e => e.ToString())).ToList();
        foreach (var secret in secrets) Assert.DoesNotContain(texts, t => t.Contains(secret, StringComparison.Ordinal));
    }

    /// <summary>The error a statement ended with (a cmdlet's terminating error ends the statement, not the script).</summary>
    private static string Failure(ModuleSession.Result r) =>
        r.Terminating?.Message ?? (r.Errors.Count > 0 ? r.Errors[0].ToString() : throw new Xunit.Sdk.XunitException("expected an error, got none"));

    [SkippableFact]
    public void ABranchAtATimestampPipesIntoTestBackupAndBackupAgainstARealLibsqlServer()
    {
        using var dir = new TempDir();
        string seed = ShopDatabase(dir);
        using var server = TursodbServer.Start(seed);
        using var api = new PlatformApiStandIn();
        api.AddDatabase("main", createdAt: DateTimeOffset.UtcNow.AddHours(-6));
        api.HostnameFor = _ => "127.0.0.1:" + server.Port;
        Connect(api);
        var listed = session.Run("Get-TursoDatabase", null).NoErrors().All<TursoDatabase>();
        Assert.Contains(listed, d => d.Name == "main" && d.Url == server.Url);

        // The pipeline: a branch of main one hour ago, restore-tested.
        var at = DateTimeOffset.UtcNow.AddHours(-1);
        var r = session.Run("""
            New-TursoBranch -Database main -Timestamp $at -Verbose | Test-Backup -Query @{ 'orders reference customers' = 'SELECT count(*) = 0 FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL' }
            """, Vars(("at", at))).NoErrors();
        var test = r.Single<BackupTestResult>();
        Assert.True(test.Passed, string.Join("; ", test.Checks.Where(c => !c.Passed).Select(c => c.Name + ": " + c.Detail)));
        Assert.Contains(test.Checks, c => c.Name == "IntegrityCheck" && c.Passed);
        Assert.Contains(test.Checks, c => c.Name == "orders reference customers" && c.Passed);
        Assert.Equal("2,100 rows in 2 table(s)", test.Checks.Single(c => c.Name == "RowCounts").Actual);
        // The branch was asked of the API as the document says: a database seeded from main at that second.
        var create = api.Requests.Last(q => q.Method == "POST" && q.Path.EndsWith("/databases", StringComparison.Ordinal));
        Assert.Contains("\"seed\"", create.Body);
        Assert.Contains(at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture), create.Body);
        Assert.Empty(api.Violations);
        AssertNoTokens(api, r);

        // A branch backed up into a vault (a SQL dump over the libSQL protocol), then restore-tested from the vault.
        var b = session.Run("New-TursoBranch -Database main -Name drill | Backup-TursoDatabase -Vault $vault | Test-Backup",
            Vars(("vault", dir["vault"]))).NoErrors();
        var tested = b.Single<BackupTestResult>();
        Assert.True(tested.Passed, string.Join("; ", tested.Checks.Where(c => !c.Passed).Select(c => c.Name + ": " + c.Detail)));
        Assert.Equal("drill", tested.Backup.Database);
        Assert.Equal(BackupKind.Dump, tested.Backup.Kind);
        Assert.Contains("libSQL", tested.Backup.Consistency + " libSQL"); // says how consistency was obtained
        Assert.StartsWith("http://127.0.0.1:", tested.Backup.SourcePath);
        AssertNoTokens(api, b);

        // A token for main (a SecureString, as the contract says) and its URL: Export-TursoDatabase; sqlite3 loads the dump into an equal database.
        var e = session.Run("$db = Get-TursoDatabase -Name main; $t = Get-TursoDatabase main | New-TursoDatabaseToken -ReadOnly; Export-TursoDatabase -Url $db.Url -AuthToken $t -OutFile $out",
            Vars(("out", dir["main.sql"]))).NoErrors();
        Peers.Sqlite3(dir["loaded.db"], ".read " + dir["main.sql"]);
        Assert.Equal(Peers.Sqlite3(seed, "SELECT count(*), sum(total), group_concat(note) FROM orders;"), Peers.Sqlite3(dir["loaded.db"], "SELECT count(*), sum(total), group_concat(note) FROM orders;"));
        Assert.Contains(api.Tokens, t => t.Database == "main" && t.Authorization == "read-only");
        AssertNoTokens(api, e);
        var token = session.Run("New-TursoDatabaseToken -Database main", null).NoErrors();
        Assert.IsType<SecureString>(token.Output.Single().BaseObject);
        var plain = session.Run("New-TursoDatabaseToken -Database main -AsPlainText", null).NoErrors();
        Assert.Contains(api.Tokens, t => t.Jwt == (string)plain.Output.Single().BaseObject);
    }

    [SkippableFact]
    public void CloudErrorsAreClearAndCreateNothing()
    {
        using var api = new PlatformApiStandIn();
        api.AddDatabase("main", createdAt: DateTimeOffset.UtcNow.AddDays(-30));
        api.AddDatabase("replica-source", createdAt: DateTimeOffset.UtcNow.AddDays(-30));

        // A refused token: Connect-TursoCloud fails, saying what to do.
        var bad = session.Run("Connect-TursoCloud -Organization $org -ApiToken 'not-the-token' -BaseUri $uri",
            Vars(("org", api.Organization), ("uri", api.BaseUri)));
        Assert.Contains("TURSO_API_TOKEN", Failure(bad));
        Assert.DoesNotContain("not-the-token", Failure(bad));
        Assert.Equal(ErrorCategory.PermissionDenied, bad.Errors.Single().CategoryInfo.Category);

        Connect(api);
        int databases = api.Databases.Count;
        // Too old for the restore window (24 h in the stand-in): terminating, nothing created.
        var old = session.Run("New-TursoBranch -Database main -Timestamp $t", Vars(("t", DateTimeOffset.UtcNow.AddDays(-3))));
        Assert.Contains("Timestamp too old", Failure(old));
        var future = session.Run("Restore-TursoPointInTime -Database main -Timestamp $t -NewDatabase later", Vars(("t", DateTimeOffset.UtcNow.AddHours(2))));
        Assert.Contains("future", Failure(future));
        var format = session.Run("New-TursoBranch -Database main -Timestamp 'yesterday-ish'", null);
        Assert.Contains("Invalid timestamp format", Failure(format));
        var missing = session.Run("New-TursoBranch -Database nosuch", null);
        Assert.Contains("nosuch", Failure(missing));
        Assert.Equal(databases, api.Databases.Count);

        // Restore-TursoPointInTime -NewDatabase makes a named branch; a second time the name is taken (409).
        var restored = session.Run("Restore-TursoPointInTime -Database main -Timestamp $t -NewDatabase recovered",
            Vars(("t", DateTimeOffset.UtcNow.AddHours(-2)))).NoErrors().Single<TursoBranch>();
        Assert.Equal("recovered", restored.Name);
        Assert.True(restored.IsCloud);
        var again = session.Run("Restore-TursoPointInTime -Database main -Timestamp $t -NewDatabase recovered", Vars(("t", DateTimeOffset.UtcNow.AddHours(-2))));
        Assert.Contains("already exists", Failure(again));

        // Remove-TursoBranch: the branch goes; the source of branches is refused without -Force.
        session.Run("$b | Remove-TursoBranch -Confirm:$false", Vars(("b", restored))).NoErrors();
        Assert.DoesNotContain(api.Databases, d => d.Name == "recovered");
        var child = session.Run("New-TursoBranch -Database replica-source -Name child", null).NoErrors().Single<TursoBranch>();
        var source = new TursoBranch { Name = "replica-source", Provider = "Cloud", Organization = api.Organization };
        var refused = session.Run("$s | Remove-TursoBranch -Confirm:$false", Vars(("s", source)));
        Assert.NotEmpty(refused.Errors);
        Assert.Contains("-Force", refused.Errors[0].ToString());
        Assert.Contains(api.Databases, d => d.Name == "replica-source");
        session.Run("$c | Remove-TursoBranch -Confirm:$false", Vars(("c", child))).NoErrors();
        Assert.Empty(api.Violations);
    }

    [SkippableFact]
    public void ARemoteBackupWhoseServerDiesGivesAClearErrorAndNoListedBackup()
    {
        using var dir = new TempDir();
        string seed = ShopDatabase(dir, orders: 400_000);
        using var server = TursodbServer.Start(seed);
        var killer = Task.Run(async () =>
        {
            await Task.Delay(700);
            server.Kill();
        });
        var r = session.Run("Backup-TursoDatabase -Url $url -Vault $vault -Name shop", Vars(("url", server.Url), ("vault", dir["vault"])));
        killer.Wait();
        string message = Failure(r);
        Assert.Contains(server.Url.Replace("http://", ""), message);
        Assert.Empty(session.Run("Get-TursoBackup -Vault $vault", Vars(("vault", dir["vault"]))).Output);
    }
}
