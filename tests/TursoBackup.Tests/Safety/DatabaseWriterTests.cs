using System.Diagnostics;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Files;
using TursoBackup.Engine.Sqlite;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests.Safety;

/// <summary>The one owner of database files the module writes, used directly: real files, a real sqlite3 process as the other user.</summary>
public sealed class DatabaseWriterTests : TempFolderTest
{

    /// <summary>Writes a database with <paramref name="pageSize"/> into the writer's temporary file.</summary>
    private static void Fill(DatabaseWriter w, int pageSize, string value)
    {
        Exec(w.PartialPath, $"PRAGMA page_size={pageSize}; CREATE TABLE t(v); INSERT INTO t VALUES ('{value}');");
        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public void ANewFileIsNeverWrittenOverOneThatAppearedMeanwhile()
    {
        string target = P("new.db");
        using var w = DatabaseWriter.Begin(target);
        Fill(w, 4096, "ours");
        File.WriteAllText(target, "someone else's");
        var ex = Assert.Throws<TursoBackupException>(() => w.Commit(null));
        Assert.Equal(FailureKind.AlreadyExists, ex.Kind);
        Assert.Equal("someone else's", File.ReadAllText(target));
    }

    [Fact]
    public void ATemporaryFileIsOwnerOnlyAndGoneAfterDispose()
    {
        string target = P("x.db");
        string partial;
        using (var w = DatabaseWriter.Begin(target))
        {
            partial = w.PartialPath;
            Assert.StartsWith(Path.Combine(dir, ".x.db.restore-"), partial);
            if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(partial));
            Assert.True(TursoBackup.Engine.IO.OwnerLock.IsHeld(partial + ".lock"));
        }
        Assert.Empty(Directory.GetFileSystemEntries(dir));
    }

    [SkippableFact]
    public void APageSizeChangeOfAWalDatabaseInUseIsRefusedWithNothingChanged()
    {
        Peers.Require("sqlite3");
        string target = P("live.db");
        Exec(target, "PRAGMA journal_mode=WAL; CREATE TABLE t(v); INSERT INTO t VALUES ('live');");
        using var app = Peers.Sqlite3Session(target);
        app.StandardInput.WriteLine("SELECT v FROM t;");
        app.StandardInput.Flush();
        Assert.Equal("live", app.StandardOutput.ReadLine());
        try
        {
            using var w = DatabaseWriter.Begin(target, new DatabaseWriteOptions { Overwrite = true });
            Fill(w, 65536, "restored");
            var ex = Assert.Throws<TursoBackupException>(() => w.Commit((copy, _) => throw new InvalidOperationException("must not get this far")));
            Assert.Equal(FailureKind.Busy, ex.Kind);
            Assert.Contains("page size", ex.Message);
            Assert.Contains("Stop the application", ex.Message);
        }
        finally
        {
            app.StandardInput.Close();
            app.WaitForExit();
        }
        Assert.Equal("live", Scalar(target, "SELECT v FROM t"));
        Assert.Equal("wal", Scalar(target, "PRAGMA journal_mode"));
    }

    [Fact]
    public void APageSizeChangeOfAWalDatabaseNobodyUsesIsMadeInPlace()
    {
        string target = P("idle.db");
        Exec(target, "PRAGMA journal_mode=WAL; CREATE TABLE t(v); INSERT INTO t VALUES ('old');");
        SqliteConnection.ClearAllPools();
        string kept = null;
        DatabaseWriteResult result;
        using (var w = DatabaseWriter.Begin(target, new DatabaseWriteOptions { Overwrite = true, Purpose = "import" }))
        {
            Fill(w, 65536, "restored");
            result = w.Commit((copy, replaced) => { kept = copy; Assert.Equal("old", Scalar(copy, "SELECT v FROM t")); return null; });
        }
        SqliteConnection.ClearAllPools();
        Assert.True(result.InPlace);
        Assert.NotNull(kept);
        Assert.Equal("old", Scalar(result.EmergencyCopy, "SELECT v FROM t"));
        Assert.StartsWith(target + ".before-import-", result.EmergencyCopy);
        Assert.Equal("restored", Scalar(target, "SELECT v FROM t"));
        Assert.Equal(65536L, Scalar(target, "PRAGMA page_size"));
        Assert.Equal("wal", Scalar(target, "PRAGMA journal_mode"));
        Assert.Equal("ok", Scalar(target, "PRAGMA integrity_check"));
    }
}
