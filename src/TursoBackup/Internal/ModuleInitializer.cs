using System.Management.Automation;
using System.Runtime.CompilerServices;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Internal
{
    /// <summary>
    /// Runs when the cmdlet dll is imported, after the nested module TursoBackup.Init (dependencies/) has made the module's
    /// dependencies reachable — pwsh 7: the module's own AssemblyLoadContext; Windows PowerShell 5.1: an AssemblyResolve
    /// handler. Loads the module's own e_sqlite3 for this platform by full path (dependencies/&lt;rid&gt;/, beside the
    /// engine) before any connection is opened, and makes the result types nameable in scripts (<see cref="PublicTypes"/>).
    /// </summary>
    public sealed class ModuleInitializer : IModuleAssemblyInitializer
    {
        public void OnImport()
        {
            InitializeEngine();
            PublicTypes.Register();
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void InitializeEngine() => NativeSqlite.EnsureInitialized();
    }
}
