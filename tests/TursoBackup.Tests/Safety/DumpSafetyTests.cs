using System.Text;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Dump;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Restore;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Verification;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests.Safety;

/// <summary>
/// A dump is data: hostile statements are refused before they reach outside the new database, a truncated dump is an
/// error that leaves nothing, the page format survives a dump backup, and a stored dump's checksum is checked before
/// a byte of it runs.
/// </summary>
public sealed class DumpSafetyTests : TempFolderTest
{
    private static SqlImportStats Load(string sql, string target) => new SqlDumpImporter().Import(new StringReader(sql), target, overwrite: false);

    /// <summary>The refusal: InvalidData, names the line and the statement, and nothing is left of the target.</summary>
    private void AssertRefused(string sql, string target, string mustName, int line)
    {
        var ex = Assert.Throws<TursoBackupException>(() => Load(sql, target));
        Assert.Equal(FailureKind.InvalidData, ex.Kind);
        Assert.Contains("Line " + line, ex.Message);
        Assert.Contains(mustName, ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(target));
        Assert.Empty(Directory.GetFiles(dir, "*.partial*"));
    }

    [Fact]
    public void AttachInADumpIsRefusedAndNothingOutsideIsWritten()
    {
        string outside = P("outside.db");
        string sql = "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE a(x);\n"
                     + $"ATTACH DATABASE '{outside}' AS evil;\n"
                     + "CREATE TABLE evil.stolen(x);\nINSERT INTO evil.stolen VALUES('written outside');\nCOMMIT;\n";
        AssertRefused(sql, P("target.db"), "ATTACH", 4);
        Assert.False(File.Exists(outside), "the ATTACH created a file outside the target");

        // An existing file outside is not changed either (ATTACH of an existing database, then a write into it).
        using (var c = SqliteFile.OpenOrCreate(outside)) Exec(c, "CREATE TABLE precious(x); INSERT INTO precious VALUES (1);");
        SqliteConnection.ClearAllPools();
        byte[] before = File.ReadAllBytes(outside);
        AssertRefused(sql.Replace("CREATE TABLE evil.stolen(x);\n", "").Replace("evil.stolen", "evil.precious"), P("target.db"), "ATTACH", 4);
        Assert.Equal(before, File.ReadAllBytes(outside));

        // The same dump through Import-TursoDatabase's file route.
        File.WriteAllText(P("hostile.sql"), sql.Replace("CREATE TABLE evil.stolen(x);\n", "").Replace("evil.stolen", "evil.precious"));
        var ex = Assert.Throws<TursoBackupException>(() => DumpFiles.Import(P("hostile.sql"), P("t2.db"), false, null, null, CancellationToken.None));
        Assert.Contains("ATTACH", ex.Message);
        Assert.Equal(before, File.ReadAllBytes(outside));
        Assert.False(File.Exists(P("t2.db")));
    }

    [Fact]
    public void AttachHiddenInsideAStatementOrBehindWhitespaceIsRefusedToo()
    {
        string outside = P("outside2.db");
        // Lower case, a comment in front, on one line with other statements.
        AssertRefused($"CREATE TABLE a(x); /* harmless */ attach\n'{outside}' as e; INSERT INTO a VALUES(1);\n", P("t.db"), "ATTACH", 1);
        Assert.False(File.Exists(outside));
        // VACUUM INTO writes a whole copy elsewhere.
        AssertRefused($"CREATE TABLE a(x);\nINSERT INTO a VALUES(1);\nVACUUM INTO '{outside}';\n", P("t.db"), "VACUUM", 3);
        Assert.False(File.Exists(outside));
    }

    [SkippableFact]
    public void LoadExtensionIsRefusedAtTopLevelAndInATriggerTheDumpFiresItself()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "reads /proc/self/maps to prove the library was not loaded");
        // A real shared library this process has not loaded (Debian's libsqlite3, beside the sqlite3 shell), under a
        // name of its own: if it were loaded it would show in /proc/self/maps.
        string lib = new[] { "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0", "/usr/lib/aarch64-linux-gnu/libsqlite3.so.0" }.FirstOrDefault(File.Exists);
        if (lib == null && Peers.InCi) Assert.Fail("libsqlite3.so.0 (Debian's libsqlite3-0, installed with sqlite3) is missing");
        Skip.If(lib == null, "libsqlite3.so.0 is not installed");
        string evil = P("evil-extension.so");
        File.Copy(lib, evil);

        AssertRefused($"CREATE TABLE a(x);\nSELECT load_extension('{evil}');\n", P("t.db"), "load_extension", 2);
        // The trigger is created first; the dump's own INSERT then fires it.
        string viaTrigger = "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE a(x);\nCREATE TABLE log(y);\n"
                            + $"CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO log SELECT load_extension('{evil}'); END;\n"
                            + "INSERT INTO a VALUES(1);\nCOMMIT;\n";
        AssertRefused(viaTrigger, P("t.db"), "load_extension", 6);
        // A view that calls it, read by a later INSERT ... SELECT.
        string viaView = $"CREATE TABLE a(x);\nCREATE VIEW v AS SELECT load_extension('{evil}') AS x;\nINSERT INTO a SELECT x FROM v;\n";
        AssertRefused(viaView, P("t.db"), "load_extension", 3);
        Assert.DoesNotContain(evil, File.ReadAllText("/proc/self/maps"));
    }

    [Fact]
    public void PragmasOtherThanADumpsOwnAreRefused()
    {
        AssertRefused("CREATE TABLE a(x);\nPRAGMA mmap_size=1000000000;\n", P("t.db"), "mmap_size", 2);
        AssertRefused("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE a(x);\nPRAGMA trusted_schema=ON;\nCOMMIT;\n", P("t.db"), "trusted_schema", 4);
        AssertRefused("CREATE TABLE a(x);\nPRAGMA temp_store_directory='/tmp';\n", P("t.db"), "temp_store_directory", 2);
        // A dump's own pragmas load.
        Load("PRAGMA foreign_keys=OFF;\nPRAGMA page_size=8192;\nPRAGMA auto_vacuum=INCREMENTAL;\nBEGIN TRANSACTION;\nCREATE TABLE a(x);\nINSERT INTO a VALUES(1);\n"
             + "PRAGMA writable_schema=ON;\nPRAGMA writable_schema=OFF;\nPRAGMA user_version=7;\nPRAGMA application_id=9;\nCOMMIT;\n", P("ok.db"));
        Assert.Equal(7L, Scalar(P("ok.db"), "PRAGMA user_version"));
        Assert.Equal(8192L, Scalar(P("ok.db"), "PRAGMA page_size"));
        Assert.Equal(2L, Scalar(P("ok.db"), "PRAGMA auto_vacuum"));
    }

    private string BigDump(int rows)
    {
        string src = P("big.db");
        using (var c = SqliteFile.OpenOrCreate(src))
        {
            Exec(c, $"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < {rows}) INSERT INTO t SELECT i, 'row ' || i FROM n; CREATE INDEX tv ON t(v);");
        }
        SqliteConnection.ClearAllPools();
        DumpFiles.Export(src, P("big.sql"), false, null, CancellationToken.None);
        return P("big.sql");
    }

    [SkippableFact]
    public void ATruncatedDumpIsAnErrorThatLeavesNothingAsSqlite3Does()
    {
        Peers.Require("sqlite3");
        string full = BigDump(20000);
        string text = File.ReadAllText(full);
        Assert.EndsWith("COMMIT;\n", text);
        // Cut on a line end about 60% in: every line before it is a whole statement, only the end is missing.
        int cut = text.IndexOf('\n', text.Length * 6 / 10) + 1;
        File.WriteAllText(P("truncated.sql"), text[..cut]);

        // sqlite3 runs the statements inside the dump's BEGIN and rolls back at the end of input: no rows.
        Peers.Sqlite3Files(new[] { P("sqlite3.db") }, stdinFile: P("truncated.sql"));
        long sqliteRows = File.Exists(P("sqlite3.db")) && new FileInfo(P("sqlite3.db")).Length > 0
            ? Convert.ToInt64(Scalar(P("sqlite3.db"), "SELECT count(*) FROM sqlite_master"))
            : 0;
        Assert.Equal(0L, sqliteRows);

        var ex = Assert.Throws<TursoBackupException>(() => DumpFiles.Import(P("truncated.sql"), P("ours.db"), false, null, null, CancellationToken.None));
        Assert.Equal(FailureKind.InvalidData, ex.Kind);
        Assert.Contains("COMMIT", ex.Message);
        Assert.Contains("truncated", ex.Message);
        Assert.False(File.Exists(P("ours.db")));
        Assert.Empty(Directory.GetFiles(dir, "*.partial*"));

        // Cut in the middle of a statement, and cut just before the final COMMIT.
        File.WriteAllText(P("mid.sql"), text[..(cut + 7)]);
        Assert.Throws<TursoBackupException>(() => DumpFiles.Import(P("mid.sql"), P("ours.db"), false, null, null, CancellationToken.None));
        File.WriteAllText(P("nocommit.sql"), text[..^"COMMIT;\n".Length]);
        ex = Assert.Throws<TursoBackupException>(() => DumpFiles.Import(P("nocommit.sql"), P("ours.db"), false, null, null, CancellationToken.None));
        Assert.Contains("COMMIT", ex.Message);
        Assert.False(File.Exists(P("ours.db")));

        // The whole dump loads.
        DumpFiles.Import(full, P("whole.db"), false, null, null, CancellationToken.None);
        Assert.Equal(20000L, Scalar(P("whole.db"), "SELECT count(*) FROM t"));
    }

    [SkippableFact]
    public void ADumpBackupKeepsPageSizeAutoVacuumAndReservedBytes()
    {
        Peers.Require("sqlite3");
        string src = P("wide.db");
        using (var c = SqliteFile.OpenOrCreate(src))
        {
            Exec(c, "PRAGMA page_size=65536; PRAGMA auto_vacuum=FULL; CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t(v) VALUES ('a'), ('b');");
        }
        SqliteConnection.ClearAllPools();
        // Reserved bytes at the end of every page (as a checksum VFS or an encryption extension keeps them): set by the sqlite3 shell.
        Peers.Sqlite3Files(new[] { src, ".filectrl reserve_bytes 8", "VACUUM" }, stdoutFile: P("out.txt"));
        Assert.Equal(8, ReservedBytes(src));
        Assert.Equal(65536L, Scalar(src, "PRAGMA page_size"));
        Assert.Equal(1L, Scalar(src, "PRAGMA auto_vacuum"));

        var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = src, VaultPath = P("vault"), Kind = BackupKind.Dump, Compression = CompressionKind.Gzip });
        Assert.Equal(65536, info.PageSize);
        var stored = BackupVault.OpenExisting(P("vault")).List().Single();
        Assert.Equal(1, stored.AutoVacuum);
        Assert.Equal(8, stored.ReservedBytes);

        new BackupRestore().Restore(stored, P("restored.db"), false, (_, _) => throw new InvalidOperationException());
        Assert.Equal(65536L, Scalar(P("restored.db"), "PRAGMA page_size"));
        Assert.Equal(1L, Scalar(P("restored.db"), "PRAGMA auto_vacuum"));
        Assert.Equal(8, ReservedBytes(P("restored.db")));
        Assert.Equal("ok", Scalar(P("restored.db"), "PRAGMA integrity_check"));

        var test = new BackupVerifier().Test(stored);
        Assert.True(test.Passed, test.FailedChecks);
        var format = test.Checks.Single(c => c.Name == BackupVerifier.PageFormat);
        Assert.Contains("65536", format.Actual);

        // A dump file on its own (Export/Import) carries page size and auto_vacuum in its PRAGMAs.
        DumpFiles.Export(src, P("wide.sql"), false, null, CancellationToken.None);
        DumpFiles.Import(P("wide.sql"), P("imported.db"), false, null, null, CancellationToken.None);
        Assert.Equal(65536L, Scalar(P("imported.db"), "PRAGMA page_size"));
        Assert.Equal(1L, Scalar(P("imported.db"), "PRAGMA auto_vacuum"));
        // ... and sqlite3 honours them too.
        Peers.Sqlite3Files(new[] { "-bail", P("by-sqlite3.db") }, stdinFile: P("wide.sql"));
        Assert.Equal(65536L, Scalar(P("by-sqlite3.db"), "PRAGMA page_size"));
        Assert.Equal(1L, Scalar(P("by-sqlite3.db"), "PRAGMA auto_vacuum"));
    }

    [Fact]
    public void TestBackupFailsTheFormatCheckWhenARestoreComesBackDifferent()
    {
        string src = P("plain.db");
        using (var c = SqliteFile.OpenOrCreate(src)) Exec(c, "CREATE TABLE t(v); INSERT INTO t VALUES (1);");
        SqliteConnection.ClearAllPools();
        // A manifest that says more than the restored file has (a restore that lost the format): the check must see it.
        var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = src, VaultPath = P("vault"), Compression = CompressionKind.None });
        info.PageSize = 65536;
        info.AutoVacuum = 1;
        var test = new BackupVerifier { RecordInVault = false }.Test(info);
        Assert.False(test.Passed);
        var format = test.Checks.Single(c => c.Name == BackupVerifier.PageFormat);
        Assert.False(format.Passed);
        Assert.Contains("page size", format.Detail);
        Assert.Contains("auto_vacuum", format.Detail);
    }

    private static int ReservedBytes(string db)
    {
        using var fs = File.OpenRead(db);
        fs.Position = 20;
        return fs.ReadByte();
    }

    [Fact]
    public void ADamagedStoredDumpIsCaughtByItsChecksumBeforeAnyStatementRuns()
    {
        string src = P("shop.db");
        using (var c = SqliteFile.OpenOrCreate(src)) Exec(c, "CREATE TABLE t(v); INSERT INTO t VALUES (1), (2);");
        SqliteConnection.ClearAllPools();
        var vault = P("vault");
        var older = new SnapshotBackup().Run(new BackupRequest { SourcePath = src, VaultPath = vault, Kind = BackupKind.Dump, Compression = CompressionKind.None });
        Thread.Sleep(1100);
        var newer = new SnapshotBackup().Run(new BackupRequest { SourcePath = src, VaultPath = vault, Kind = BackupKind.Dump, Compression = CompressionKind.None });
        Assert.NotEqual(older.Id, newer.Id);
        // The damage: a statement that would fail (and one that would run) if the text were executed before the check.
        string text = File.ReadAllText(newer.Location);
        File.WriteAllText(newer.Location, text.Replace("COMMIT;\n", "INSERT INTO nosuch VALUES(\u00e9);\nCOMMIT;\n"));

        var ex = Assert.Throws<TursoBackupException>(() => new BackupRestore().Restore(newer, P("restored.db"), false, (_, _) => throw new InvalidOperationException()));
        Assert.Equal(FailureKind.InvalidData, ex.Kind);
        Assert.Contains("damaged", ex.Message);
        Assert.Contains("SHA-256", ex.Message);
        Assert.Contains(newer.Id, ex.Message);
        Assert.Contains(Path.GetFullPath(vault), ex.Message);
        Assert.Contains($"Restore-TursoBackup -Vault '{Path.GetFullPath(vault)}' -Database 'shop' -Id {older.Id} -Destination '{P("restored.db")}'", ex.Message);
        Assert.DoesNotContain("nosuch", ex.Message);
        Assert.DoesNotContain(".partial", ex.Message);
        Assert.DoesNotContain("<", ex.Message);
        Assert.False(File.Exists(P("restored.db")));
        Assert.Empty(Directory.GetFiles(dir, "*.partial*"));

        // Test-Backup: the checksum check fails with the same reason; no SQL error.
        var test = new BackupVerifier { RecordInVault = false }.Test(newer);
        Assert.False(test.Passed);
        var checksum = test.Checks.Single(c => c.Name == BackupVerifier.Checksum);
        Assert.False(checksum.Passed);
        Assert.DoesNotContain(test.Checks, c => (c.Detail ?? "").Contains("nosuch"));
    }
}
