using System;
using System.IO;
using System.Reflection;

namespace TursoBackup.Init
{
    /// <summary>
    /// Where the module's dependencies load from. The module folder holds the cmdlet dll only; the engine and every
    /// third-party assembly (Microsoft.Data.Sqlite, SQLitePCLRaw, ZstdSharp, the netstandard polyfills) are in
    /// &lt;module&gt;/dependencies/, with SQLite's natives in dependencies/&lt;rid&gt;/, so PowerShell never finds them by itself.
    /// <list type="bullet">
    /// <item>pwsh 7 (.NET Core): they load into the module's own AssemblyLoadContext (TursoBackup.LoadContext.dll, loaded by
    /// path and reached by reflection, since netstandard2.0 has no AssemblyLoadContext). When the cmdlet dll, a script or a host
    /// asks the default context for TursoBackup.Engine, that context answers with the engine from ours; the engine's own
    /// references are then resolved inside ours. Other modules' copies, in the default context, are never used by us and
    /// never see ours.</item>
    /// <item>Windows PowerShell 5.1 (.NET Framework, one load context per AppDomain): an AppDomain.AssemblyResolve handler
    /// loads &lt;dependencies&gt;/&lt;name&gt;.dll with Assembly.LoadFrom, whatever version was asked for (the binding
    /// redirects a netstandard2.0 library needs there), for requests from our own assemblies or with no requester.</item>
    /// </list>
    /// </summary>
    internal static class Dependencies
    {
        private static readonly object Gate = new object();
        private static bool installed;

        /// <summary>&lt;module&gt;/dependencies: the folder this dll was loaded from.</summary>
        public static string DependencyDirectory { get; } = Path.GetDirectoryName(typeof(Dependencies).Assembly.Location) ?? AppContext.BaseDirectory;

        /// <summary>The module folder (the cmdlet dll's).</summary>
        public static string ModuleDirectory { get; } = Path.GetDirectoryName(DependencyDirectory);

        /// <summary>The assemblies the default context may have from us: the engine, which defines the result types.</summary>
        private static readonly string[] Bridged = { "TursoBackup.Engine" };

        /// <summary>The module's AssemblyLoadContext on .NET Core (as object: the type is not in netstandard2.0); null on .NET Framework.</summary>
        public static object LoadContext { get; private set; }

        public static bool IsNetCore { get; } = typeof(object).Assembly.GetType("System.Runtime.Loader.AssemblyLoadContext", false) != null;

        public static void Install()
        {
            lock (Gate)
            {
                if (installed) return;
                if (IsNetCore)
                {
                    string shim = Path.Combine(DependencyDirectory, "TursoBackup.LoadContext.dll");
                    var type = Assembly.LoadFrom(shim).GetType("TursoBackup.LoadContext.ModuleLoadContext", true);
                    var install = type.GetMethod("Install", BindingFlags.Public | BindingFlags.Static);
                    try
                    {
                        LoadContext = install.Invoke(null, new object[] { DependencyDirectory, Bridged });
                    }
                    catch (TargetInvocationException ex) when (ex.InnerException != null)
                    {
                        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
                        throw;
                    }
                }
                else
                {
                    AppDomain.CurrentDomain.AssemblyResolve += ResolveOnNetFramework;
                }
                installed = true;
            }
        }

        private static Assembly ResolveOnNetFramework(object sender, ResolveEventArgs args)
        {
            if (args.RequestingAssembly != null && !IsOurs(args.RequestingAssembly)) return null;
            string name;
            try
            {
                name = new AssemblyName(args.Name).Name;
            }
            catch (Exception ex) when (ex is ArgumentException || ex is FileLoadException)
            {
                return null;
            }
            string file = Path.Combine(DependencyDirectory, name + ".dll");
            return File.Exists(file) ? Assembly.LoadFrom(file) : null;
        }

        private static bool IsOurs(Assembly assembly)
        {
            if (assembly.IsDynamic) return false;
            string dir;
            try
            {
                dir = Path.GetDirectoryName(assembly.Location);
            }
            catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException)
            {
                return false;
            }
            return string.Equals(dir, ModuleDirectory, StringComparison.OrdinalIgnoreCase)
                || string.Equals(dir, DependencyDirectory, StringComparison.OrdinalIgnoreCase);
        }
    }
}
