using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Restore;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Verification;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests;

/// <summary>The engine used directly, without PowerShell: real SQLite files and real vault folders.</summary>
public sealed class EngineTests : TempFolderTest
{
    private string MakeDatabase(string name, int rows = 500, string journal = "WAL")
    {
        string path = P(name);
        using var c = SqliteFile.OpenOrCreate(path);
        Exec(c, $"PRAGMA journal_mode={journal}; CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), payload BLOB);");
        Exec(c, $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < {rows}) INSERT INTO parent SELECT i, 'p' || i FROM n;");
        Exec(c, $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < {rows * 2}) INSERT INTO child SELECT i, 1 + i % {rows}, randomblob(100) FROM n;");
        return path;
    }

    [Theory]
    [InlineData(CompressionKind.None)]
    [InlineData(CompressionKind.Gzip)]
    public void SnapshotRestoreAndVerifyRoundTrip(CompressionKind compression)
    {
        string db = MakeDatabase("app.db");
        var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = P("vault"), Compression = compression, Tags = new[] { "t1" } });
        Assert.Equal("app", info.Database);
        Assert.Equal(new[] { ("child", 1000L), ("parent", 500L) }, info.Tables.Select(t => (t.Name, t.Rows)));
        Assert.Equal(ArtifactStreams.HashFile(info.Location), info.Sha256);
        Assert.Equal(new FileInfo(info.Location).Length, info.StoredBytes);
        Assert.Equal(info.PageSize * info.PageCount, info.SourceBytes);
        Assert.Equal("wal", info.JournalMode);
        if (compression == CompressionKind.Gzip) Assert.True(info.StoredBytes < info.SourceBytes);

        var listed = BackupVault.OpenExisting(P("vault")).List();
        var again = Assert.Single(listed);
        Assert.Equal(info.Id, again.Id);
        Assert.Equal(info.Sha256, again.Sha256);
        Assert.Equal(info.Location, again.Location);
        Assert.Equal(info.Tags, again.Tags);
        Assert.Equal(info.PointInTime, again.PointInTime);

        var restored = new BackupRestore().Restore(again, P("restored.db"), overwrite: false, fileEmergency: (_, _) => throw new InvalidOperationException());
        Assert.Equal(500, Count(restored.Destination, "parent"));
        Assert.Equal(1000, Count(restored.Destination, "child"));

        var test = new BackupVerifier().Test(again);
        Assert.True(test.Passed, test.FailedChecks);
    }

    [Fact]
    public void TheSourceIsNeverWritten()
    {
        string db = MakeDatabase("src.db", journal: "DELETE");
        var before = File.ReadAllBytes(db);
        var stamp = File.GetLastWriteTimeUtc(db);
        new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = P("vault") });
        Assert.Equal(before, File.ReadAllBytes(db));
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(db));
        Assert.False(File.Exists(db + "-journal"));
    }

    [Fact]
    public void ManifestRecordsTheSnapshotNotLaterWrites()
    {
        string db = MakeDatabase("moving.db");
        var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = P("vault") });
        using (var c = SqliteFile.OpenReadWrite(db)) Exec(c, "DELETE FROM child WHERE id < 100");
        var test = new BackupVerifier().Test(info);
        Assert.True(test.Passed);
        Assert.Equal(1000, info.Tables.Single(t => t.Name == "child").Rows);
    }

    [Fact]
    public void RestoreRefusesAnExistingFileWithoutOverwrite()
    {
        string db = MakeDatabase("a.db");
        var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = P("vault") });
        File.WriteAllText(P("taken.db"), "precious");
        var ex = Assert.Throws<TursoBackupException>(() => new BackupRestore().Restore(info, P("taken.db"), false, null));
        Assert.Equal(FailureKind.AlreadyExists, ex.Kind);
        Assert.Equal("precious", File.ReadAllText(P("taken.db")));
    }

    [Fact]
    public void RestoreReplacesOnlyAfterTheEmergencyBackupAndDropsStaleWalFiles()
    {
        string db = MakeDatabase("a.db");
        var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = P("vault") });
        string target = MakeDatabase("target.db", rows: 3);
        File.WriteAllText(target + "-wal", "stale");
        // A failing emergency backup stops the restore: the target is untouched.
        var before = File.ReadAllBytes(target);
        Assert.Throws<TursoBackupException>(() => new BackupRestore().Restore(info, target, true,
            (_, _) => throw new TursoBackupException(FailureKind.WriteFailed, "emergency failed")));
        Assert.Equal(before, File.ReadAllBytes(target));
        Assert.Equal(3L, Count(target, "parent"));
        Assert.Empty(Directory.GetFiles(dir, "*.partial"));

        BackupInfo emergency = null;
        var result = new BackupRestore().Restore(info, target, true, (copy, replaced) =>
            emergency = new SnapshotBackup().Run(new BackupRequest { SourcePath = copy, Name = "target", VaultPath = P("vault"), Tags = new[] { "emergency" } }));
        Assert.Same(emergency, result.EmergencyBackup);
        Assert.Equal(3, emergency.Tables.Single(t => t.Name == "parent").Rows);
        Assert.Equal(500, Count(target, "parent"));
    }

    [Fact]
    public void VerifierFlagsAChangedSchemaAndRowCounts()
    {
        string db = MakeDatabase("a.db");
        var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = P("vault"), Compression = CompressionKind.None });
        info.SchemaHash = new string('0', 64);
        info.Tables = new[] { new TableRowCount("parent", 499), new TableRowCount("child", 1000), new TableRowCount("ghost", 1) };
        var test = new BackupVerifier().Test(info);
        Assert.False(test.Passed);
        Assert.Equal("RowCounts, SchemaHash", test.FailedChecks);
        var rows = test.Checks.Single(c => c.Name == "RowCounts").Detail;
        Assert.Contains("ghost: 1 rows in the manifest, table missing", rows);
        Assert.Contains("parent: 499 rows in the manifest, 500 restored", rows);
    }

    [Fact]
    public void VerifierReportsForeignKeyViolations()
    {
        string db = MakeDatabase("fk.db");
        using (var c = SqliteFile.OpenReadWrite(db)) Exec(c, "PRAGMA foreign_keys=OFF; INSERT INTO child VALUES (99999, 123456, NULL);");
        var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = P("vault") });
        var test = new BackupVerifier().Test(info);
        Assert.False(test.Passed);
        Assert.Equal("ForeignKeyCheck", test.FailedChecks);
    }

    [Fact]
    public void AMissingArtifactFailsChecksWithoutThrowing()
    {
        string db = MakeDatabase("a.db");
        var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = P("vault") });
        File.Delete(info.Location);
        var test = new BackupVerifier().Test(info);
        Assert.False(test.Passed);
        Assert.Contains("missing", test.Checks.Single(c => c.Name == "Checksum").Detail);
    }

    [Fact]
    public void NotADatabaseAndMissingFilesAreClearFailures()
    {
        File.WriteAllText(P("notes.txt"), "hello, not sqlite at all");
        var notDb = Assert.Throws<TursoBackupException>(() => new SnapshotBackup().Run(new BackupRequest { SourcePath = P("notes.txt"), VaultPath = P("vault") }));
        Assert.Equal(FailureKind.InvalidData, notDb.Kind);
        var missing = Assert.Throws<TursoBackupException>(() => new SnapshotBackup().Run(new BackupRequest { SourcePath = P("nope.db"), VaultPath = P("vault") }));
        Assert.Equal(FailureKind.NotFound, missing.Kind);
        Assert.False(Directory.Exists(P("vault")));
    }

    [Fact]
    public void ALockedRollbackJournalDatabaseWaitsThenFailsClearly()
    {
        string db = MakeDatabase("locked.db", journal: "DELETE");
        using var writer = SqliteFile.OpenReadWrite(db);
        Exec(writer, "BEGIN EXCLUSIVE; INSERT INTO parent VALUES (100000, 'x');");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var ex = Assert.Throws<TursoBackupException>(() => new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = P("vault"), LockTimeout = TimeSpan.FromSeconds(1) }));
        Assert.Equal(FailureKind.Busy, ex.Kind);
        Assert.InRange(watch.Elapsed.TotalSeconds, 0.9, 20);
        Assert.Empty(BackupVault.OpenExisting(P("vault")).List());
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(P("vault"), BackupVault.StagingFolder)));
        Exec(writer, "COMMIT;");
    }
}
