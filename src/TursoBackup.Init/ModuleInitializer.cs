using System.Management.Automation;

namespace TursoBackup.Init
{
    /// <summary>
    /// Imported first (the manifest's NestedModules): makes out/TursoBackup/dependencies reachable for the module's own
    /// assemblies before PowerShell loads the cmdlet dll (RootModule), whose exported types already need the engine.
    /// </summary>
    /// <remarks>
    /// No IModuleAssemblyCleanup: what this sets up is per process, shared by every runspace that imports the module, and
    /// assemblies cannot be unloaded, so Remove-Module in one runspace must not take it away from the others.
    /// </remarks>
    public sealed class ModuleInitializer : IModuleAssemblyInitializer
    {
        public void OnImport() => Dependencies.Install();
    }
}
