using System.Management.Automation;

namespace TursoBackup.Module.Tests;

/// <summary>Dump backups, Export-TursoDatabase and Import-TursoDatabase, interoperating with the real sqlite3.</summary>
public sealed class DumpCmdletTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public DumpCmdletTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    [SkippableTheory]
    [InlineData("shop.sql")]
    [InlineData("shop.sql.gz")]
    [InlineData("shop.sql.zst")]
    public void OurExportLoadsIntoSqlite3AsAnEqualDatabase(string file)
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var r = session.Run("Export-TursoDatabase -Path $db -OutFile $out", Vars(("db", db), ("out", dir[file]))).NoErrors();
        var info = r.Single<ExportResult>();
        Assert.Equal(dir[file], info.OutFile);
        Assert.Equal(new FileInfo(dir[file]).Length, info.Bytes);
        Assert.Equal(file.EndsWith(".gz") ? "Gzip" : file.EndsWith(".zst") ? "Zstd" : "None", info.Compression);
        Assert.True(info.Tables >= 3 && info.Rows > 0, $"{info.Tables} tables, {info.Rows} rows");
        string decompress = file.EndsWith(".gz") ? "gunzip -c" : file.EndsWith(".zst") ? "zstd -d -c" : "cat";
        Peers.Require(decompress.Split(' ')[0]);
        var (code, _, err) = Peers.Run("/bin/sh", new[] { "-c", $"{decompress} '{dir[file]}' | sqlite3 '{dir["loaded.db"]}'" });
        Assert.True(code == 0, err);
        Assert.Equal(Peers.TableContents(db), Peers.TableContents(dir["loaded.db"]));
        Assert.Equal(Peers.Sqlite3(db, "SELECT * FROM sqlite_sequence;"), Peers.Sqlite3(dir["loaded.db"], "SELECT * FROM sqlite_sequence;"));
    }

    [SkippableFact]
    public void Sqlite3DumpImportsIntoAnEqualDatabase()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        File.WriteAllText(dir["dump.sql"], Peers.Sqlite3(db, ".dump"));
        var r = session.Run("Import-TursoDatabase -InFile $in -Path $new", Vars(("in", dir["dump.sql"]), ("new", dir["imported.db"]))).NoErrors();
        Assert.Equal(dir["imported.db"], r.Single<ImportResult>().Path);
        Assert.Equal(Peers.TableContents(db), Peers.TableContents(dir["imported.db"]));
        Assert.Equal("ok\n", Peers.Sqlite3(dir["imported.db"], "PRAGMA integrity_check;"));
    }

    [SkippableFact]
    public void ImportRefusesANonEmptyTargetWithoutForceAndKeepsACopyWithForce()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        session.Run("Export-TursoDatabase -Path $db -OutFile $out", Vars(("db", db), ("out", dir["shop.sql.zst"]))).NoErrors();
        string other = SampleDatabases.CreateLarge(dir["other.db"], 1);
        var before = Peers.TableContents(other);
        var vars = Vars(("in", dir["shop.sql.zst"]), ("t", other), ("vault", dir["vault"]));
        var refused = session.Run("Import-TursoDatabase -InFile $in -Path $t -Confirm:$false", vars);
        Assert.Equal(ErrorCategory.ResourceExists, Assert.Single(refused.Errors).CategoryInfo.Category);
        Assert.Equal(before, Peers.TableContents(other));

        session.Run("Import-TursoDatabase -InFile $in -Path $t -Force -Vault $vault -Confirm:$false", vars).NoErrors();
        Assert.Equal(Peers.TableContents(db), Peers.TableContents(other));
        var emergency = session.Run("Get-TursoBackup -Vault $vault -Tag emergency", vars).NoErrors().Single<BackupInfo>();
        Assert.Equal("other", emergency.Database);

        // Broken SQL: a clear error naming the line, and nothing written.
        File.WriteAllText(dir["broken.sql"], "CREATE TABLE a(x);\nINSERT INTO a VALUES (1);\nINSERT INTO nosuch VALUES (2);\n");
        var broken = session.Run("Import-TursoDatabase -InFile $b -Path $n", Vars(("b", dir["broken.sql"]), ("n", dir["never.db"])));
        var error = Assert.Single(broken.Errors);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Contains("line 3", error.Exception.Message, StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(dir["never.db"]));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.partial"));
    }

    [SkippableTheory]
    [InlineData("Zstd")]
    [InlineData("Gzip")]
    [InlineData("None")]
    public void DumpBackupsPassTestBackupAndRestore(string compression)
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var r = session.Run("""
            $b = Backup-TursoDatabase -Path $db -Vault $vault -Kind Dump -Compression $c
            $b
            $b | Test-Backup
            $b | Restore-TursoBackup -Destination $restored -Confirm:$false
            """, Vars(("db", db), ("vault", dir["vault"]), ("c", compression), ("restored", dir["restored.db"]))).NoErrors();
        var backup = r.Single<BackupInfo>();
        Assert.Equal(BackupKind.Dump, backup.Kind);
        Assert.EndsWith(".sql" + (compression == "Zstd" ? ".zst" : compression == "Gzip" ? ".gz" : ""), backup.Location);
        Assert.Equal(1000, backup.Tables.Single(t => t.Name == "orders").Rows);
        Assert.Equal("read transaction; SQL dump", backup.Consistency);
        var test = r.Single<BackupTestResult>();
        Assert.True(test.Passed, test.FailedChecks + " " + string.Join("; ", test.Checks.Where(c => !c.Passed).Select(c => c.Detail)));
        Assert.Equal(Peers.TableContents(db), Peers.TableContents(dir["restored.db"]));
        // A dump backup loads with the standard tools alone.
        string decompress = compression == "Zstd" ? "zstd -d -c" : compression == "Gzip" ? "gunzip -c" : "cat";
        var (code, _, err) = Peers.Run("/bin/sh", new[] { "-c", $"{decompress} '{backup.Location}' | sqlite3 '{dir["by-hand.db"]}'" });
        Assert.True(code == 0, err);
        Assert.Equal(Peers.TableContents(db), Peers.TableContents(dir["by-hand.db"]));
    }
}
