using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.Loader;

namespace TursoBackup.LoadContext
{
    /// <summary>
    /// pwsh 7 (.NET Core): the module's own assembly load context. Every assembly in out/TursoBackup/dependencies/ —
    /// the engine, Microsoft.Data.Sqlite, SQLitePCLRaw, ZstdSharp — loads here, never into PowerShell's default
    /// context, so another module's copies (of any version, loaded before or after) and ours never meet.
    /// </summary>
    /// <remarks>
    /// One rule for a name asked for from inside this context: the runtime's own assemblies (the trusted platform
    /// assemblies: .NET and PowerShell itself) come from the default context, one copy per process, unless the runtime's
    /// copy is older than the one asked for; every other name is the file &lt;dependencies&gt;/&lt;name&gt;.dll or nothing.
    /// The netstandard polyfills we ship (System.Memory, System.Buffers ...) are thus the runtime's on pwsh 7 and ours only
    /// on Windows PowerShell 5.1. From the default context only the bridged names (the engine, whose public result types
    /// the cmdlet dll and scripts use) are served, from this context; a request there for Microsoft.Data.Sqlite is not ours
    /// to answer.
    /// </remarks>
    public sealed class ModuleLoadContext : AssemblyLoadContext
    {
        private static readonly object Gate = new object();
        private static ModuleLoadContext instance;

        private readonly string directory;
        private readonly HashSet<string> bridged;
        private readonly Dictionary<string, string> platform = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        private ModuleLoadContext(string directory, IEnumerable<string> bridged)
        {
            this.directory = directory;
            this.bridged = new HashSet<string>(bridged, StringComparer.OrdinalIgnoreCase);
            if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is string tpa)
            {
                foreach (string path in tpa.Split(new[] { Path.PathSeparator }, StringSplitOptions.RemoveEmptyEntries))
                {
                    string name = Path.GetFileNameWithoutExtension(path);
                    if (!platform.ContainsKey(name)) platform.Add(name, path);
                }
            }
        }

        /// <summary>The folder this context loads from (out/TursoBackup/dependencies).</summary>
        public string Directory => directory;

        /// <summary>
        /// The process's one context for the module (made on the first call; later calls, from another runspace or a
        /// re-import, get the same one), with the default context's Resolving event hooked for <paramref name="bridgedAssemblies"/>.
        /// Called by the cmdlet dll through reflection.
        /// </summary>
        public static ModuleLoadContext Install(string dependencyDirectory, string[] bridgedAssemblies)
        {
            lock (Gate)
            {
                if (instance != null) return instance;
                if (!System.IO.Directory.Exists(dependencyDirectory))
                {
                    throw new DirectoryNotFoundException($"The TursoBackup module's dependencies folder '{dependencyDirectory}' is missing: the module is incomplete. Reinstall it (or rebuild: dotnet build TursoBackup.sln -c Release assembles out/TursoBackup).");
                }
                var context = new ModuleLoadContext(Path.GetFullPath(dependencyDirectory), bridgedAssemblies ?? new string[0]);
                Default.Resolving += context.ResolveFromDefault;
                instance = context;
                return context;
            }
        }

        /// <summary>Loads <paramref name="name"/> into this context (for the cmdlet dll, which holds this object as <c>object</c>).</summary>
        public Assembly LoadDependency(string name) => LoadFromAssemblyName(new AssemblyName(name));

        protected override Assembly Load(AssemblyName name)
        {
            if (platform.TryGetValue(name.Name, out string runtimeCopy) && !OlderThanAsked(runtimeCopy, name)) return null;
            string file = string.IsNullOrEmpty(name.CultureName) || name.CultureName == "neutral"
                ? Path.Combine(directory, name.Name + ".dll")
                : Path.Combine(directory, name.CultureName, name.Name + ".dll");
            return File.Exists(file) ? LoadFromAssemblyPath(file) : null;
        }

        private static bool OlderThanAsked(string path, AssemblyName asked)
        {
            if (asked.Version == null) return false;
            try
            {
                return AssemblyName.GetAssemblyName(path).Version < asked.Version;
            }
            catch (Exception ex) when (ex is IOException || ex is BadImageFormatException || ex is UnauthorizedAccessException)
            {
                return false;
            }
        }

        private Assembly ResolveFromDefault(AssemblyLoadContext context, AssemblyName name)
        {
            if (!bridged.Contains(name.Name)) return null;
            return LoadFromAssemblyName(name);
        }
    }
}
