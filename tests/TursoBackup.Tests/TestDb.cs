using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Tests;

/// <summary>SQLite in this process (the engine's own SqliteFile) for the engine tests: statements, scalars, databases made from SQL.</summary>
internal static class TestDb
{
    /// <summary>Runs <paramref name="sql"/> (any number of statements) with named parameters.</summary>
    public static void Exec(SqliteConnection c, string sql, params (string Name, object Value)[] args)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v ?? DBNull.Value);
        cmd.ExecuteNonQuery();
    }

    /// <summary>Opens (or creates) <paramref name="db"/> and runs <paramref name="sql"/> on it.</summary>
    public static void Exec(string db, string sql)
    {
        using var c = SqliteFile.OpenOrCreate(db);
        Exec(c, sql);
    }

    /// <summary>Creates <paramref name="path"/> from <paramref name="sql"/> and returns the path.</summary>
    public static string Create(string path, string sql)
    {
        Exec(path, sql);
        return path;
    }

    /// <summary>The first column of the first row of <paramref name="sql"/>, read-only.</summary>
    public static object Scalar(string db, string sql)
    {
        using var c = SqliteFile.OpenReadOnly(db);
        return SqliteFile.Scalar(c, sql);
    }

    /// <summary><see cref="Scalar"/> as a 64-bit integer.</summary>
    public static long Long(string db, string sql) => Convert.ToInt64(Scalar(db, sql));

    /// <summary>The number of rows in <paramref name="table"/>.</summary>
    public static long Count(string db, string table) => Long(db, "SELECT count(*) FROM " + table);
}
