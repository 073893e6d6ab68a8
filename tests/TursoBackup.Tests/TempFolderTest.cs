using Microsoft.Data.Sqlite;

namespace TursoBackup.Tests;

/// <summary>
/// A test class whose every test gets a temp folder of its own (xunit makes one instance per test): <see cref="dir"/>,
/// with <see cref="P"/> for the paths in it. After the test, pooled SQLite connections are closed and the folder is removed.
/// </summary>
public abstract class TempFolderTest : IDisposable
{
    private readonly TempDir temp;

    /// <summary>The test's folder (tb-&lt;test class&gt;-&lt;random&gt; under the system temp folder).</summary>
    protected readonly string dir;

    protected TempFolderTest()
    {
        temp = new TempDir(GetType().Name);
        dir = temp.Path;
    }

    /// <summary>A path in the test's folder.</summary>
    protected string P(string name) => temp[name];

    public virtual void Dispose()
    {
        SqliteConnection.ClearAllPools();
        temp.Dispose();
    }
}
