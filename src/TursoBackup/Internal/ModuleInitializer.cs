using System.Management.Automation;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Internal
{
    /// <summary>
    /// Runs when the module is imported: loads the module's own e_sqlite3 for this platform by full path
    /// (from &lt;module&gt;/&lt;rid&gt;/) before any connection is opened.
    /// </summary>
    public sealed class ModuleInitializer : IModuleAssemblyInitializer
    {
        public void OnImport()
        {
            NativeSqlite.EnsureInitialized();
            // Load Microsoft.Data.Sqlite now so scripts can use its types (the Quickstart makes its sample database with it).
            System.GC.KeepAlive(typeof(Microsoft.Data.Sqlite.SqliteConnection).Assembly);
        }
    }
}
