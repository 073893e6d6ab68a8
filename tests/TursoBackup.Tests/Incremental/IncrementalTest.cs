using System.Security.Cryptography;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Restore;
using TursoBackup.Engine.Sqlite;
using static TursoBackup.Tests.TestDb;

namespace TursoBackup.Tests.Incremental;

/// <summary>What the Incremental tests share: a WAL database of 500-byte rows, backups into P("vault"), changes, restores by SHA-256.</summary>
public abstract class IncrementalTest : TempFolderTest
{
    /// <summary>A checkpointed WAL database app.db of <paramref name="rows"/> rows (id, v, 500 random bytes), with an index on v when asked.</summary>
    protected string MakeDatabase(int rows, bool indexed)
    {
        string db = P("app.db");
        using var c = SqliteFile.OpenOrCreate(db);
        Exec(c, "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, body BLOB); " +
                $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) INSERT INTO t SELECT i, i, randomblob(500) FROM n; " +
                (indexed ? "CREATE INDEX t_v ON t(v); " : "") + "PRAGMA wal_checkpoint(TRUNCATE);");
        return db;
    }

    protected BackupInfo Backup(string db, BackupKind kind = BackupKind.Incremental) =>
        new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = P("vault"), Kind = kind });

    /// <summary>Changes the rows whose id is a multiple of <paramref name="every"/>, then checkpoints.</summary>
    protected static void TouchRows(string db, int every)
    {
        using var c = SqliteFile.OpenReadWrite(db);
        Exec(c, $"UPDATE t SET v = v + 1 WHERE id % {every} = 0; PRAGMA wal_checkpoint(TRUNCATE);");
    }

    protected static string Sha(string file)
    {
        using var f = File.OpenRead(file);
        return Convert.ToHexString(SHA256.HashData(f));
    }

    /// <summary>Restores <paramref name="b"/> to a new file <paramref name="name"/>; returns the file's SHA-256.</summary>
    protected string RestoreTo(BackupInfo b, string name)
    {
        new BackupRestore().Restore(b, P(name), false, null);
        return Sha(P(name));
    }
}
