using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace TursoBackup.Internal
{
    /// <summary>
    /// On pwsh 7 the engine lives in the module's own load context, which PowerShell's type-name resolution does not
    /// search: without this, a script could use our result objects (members, views, pipeline binding all work on the
    /// object) but not name their types — <c>[TursoBackup.BackupInfo]</c>, <c>-is</c>, <c>[TursoBackup.BackupKind]::Dump</c>.
    /// So the module's public surface is registered as type accelerators under the types' full names: every engine type
    /// a cmdlet names as its output or takes as a parameter, and, transitively, the engine types of their public
    /// properties. Nothing else of the engine, and nothing third-party (a script's <c>[Microsoft.Data.Sqlite.SqliteConnection]</c>
    /// stays whatever the default context has, usually nothing). Windows PowerShell 5.1 sees every loaded assembly and
    /// needs none of this.
    /// </summary>
    internal static class PublicTypes
    {
        private static readonly object Gate = new object();
        private static bool registered;

        public static void Register()
        {
            if (typeof(object).Assembly.GetType("System.Runtime.Loader.AssemblyLoadContext", false) == null) return; // .NET Framework
            lock (Gate)
            {
                if (registered) return;
                var accelerators = typeof(PSObject).Assembly.GetType("System.Management.Automation.TypeAccelerators", false);
                var add = accelerators?.GetMethod("Add", BindingFlags.Public | BindingFlags.Static, null, new[] { typeof(string), typeof(Type) }, null);
                var existing = accelerators?.GetProperty("Get", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as IDictionary<string, Type>;
                if (add == null || existing == null) return; // a PowerShell without them: objects still work, type names do not
                foreach (var type in Collect(typeof(PublicTypes).Assembly, EngineAssembly()))
                {
                    if (!existing.ContainsKey(type.FullName)) add.Invoke(null, new object[] { type.FullName, type });
                }
                registered = true;
            }
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static Assembly EngineAssembly() => typeof(BackupInfo).Assembly;

        /// <summary>The engine types reachable from the cmdlets' OutputType and parameters, through public properties.</summary>
        internal static IReadOnlyCollection<Type> Collect(Assembly cmdlets, Assembly engine)
        {
            var found = new HashSet<Type>();
            var pending = new Queue<Type>();
            void Visit(Type type)
            {
                if (type == null) return;
                if (type.HasElementType) { Visit(type.GetElementType()); return; }
                if (type.IsGenericType) { foreach (var arg in type.GetGenericArguments()) Visit(arg); }
                if (type.Assembly != engine || !(type.IsPublic || type.IsNestedPublic) || type.IsGenericTypeDefinition) return;
                if (found.Add(type)) pending.Enqueue(type);
            }
            foreach (var cmdlet in cmdlets.GetExportedTypes().Where(t => t.GetCustomAttributes(typeof(CmdletAttribute), false).Length > 0))
            {
                foreach (OutputTypeAttribute output in cmdlet.GetCustomAttributes(typeof(OutputTypeAttribute), true))
                {
                    foreach (var name in output.Type) Visit(name.Type);
                }
                foreach (var property in cmdlet.GetProperties(BindingFlags.Public | BindingFlags.Instance))
                {
                    if (property.GetCustomAttributes(typeof(ParameterAttribute), true).Length > 0) Visit(property.PropertyType);
                }
            }
            while (pending.Count > 0)
            {
                foreach (var property in pending.Dequeue().GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static))
                {
                    Visit(property.PropertyType);
                }
            }
            return found;
        }
    }
}
