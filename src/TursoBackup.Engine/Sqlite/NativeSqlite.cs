using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;

namespace TursoBackup.Engine.Sqlite
{
    /// <summary>
    /// Finds the module's own e_sqlite3 native library by platform and loads it by full path, then installs
    /// SQLitePCLRaw's e_sqlite3 provider. Neither pwsh nor Windows PowerShell probes NuGet's runtimes/&lt;rid&gt;/native,
    /// so the module ships the natives as &lt;module&gt;/&lt;rid&gt;/ and resolves them itself before the first connection.
    /// </summary>
    public static class NativeSqlite
    {
        private static readonly object Gate = new object();
        private static bool initialized;

        /// <summary>The full path of the native library that was loaded, or null when the host process supplied one.</summary>
        public static string LoadedFrom { get; private set; }

        /// <summary>The runtime identifier the module uses for this process: win-x64, linux-x64, linux-arm64, osx-x64, osx-arm64.</summary>
        public static string RuntimeIdentifier
        {
            get
            {
                string os = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "win"
                    : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "osx" : "linux";
                string arch;
                switch (RuntimeInformation.ProcessArchitecture)
                {
                    case Architecture.X64: arch = "x64"; break;
                    case Architecture.Arm64: arch = "arm64"; break;
                    case Architecture.X86: arch = "x86"; break;
                    case Architecture.Arm: arch = "arm"; break;
                    default: arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant(); break;
                }
                return os + "-" + arch;
            }
        }

        public static string LibraryFileName =>
            RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "e_sqlite3.dll"
            : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "libe_sqlite3.dylib" : "libe_sqlite3.so";

        /// <summary>
        /// Loads the native library from &lt;directory of this assembly&gt;/&lt;rid&gt;/ and sets the SQLite provider.
        /// Safe to call many times and from many threads.
        /// </summary>
        public static void EnsureInitialized()
        {
            if (initialized) return;
            lock (Gate)
            {
                if (initialized) return;
                string baseDir = Path.GetDirectoryName(typeof(NativeSqlite).Assembly.Location) ?? AppContext.BaseDirectory;
                string candidate = Path.Combine(baseDir, RuntimeIdentifier, LibraryFileName);
                if (File.Exists(candidate))
                {
                    LoadByFullPath(candidate);
                    LoadedFrom = candidate;
                }
                // Else: a process that carries its own copy (found through its deps.json, as a test host or an
                // application that references Microsoft.Data.Sqlite does) resolves e_sqlite3 itself.
                SQLitePCL.raw.SetProvider(new SQLitePCL.SQLite3Provider_e_sqlite3());
                initialized = true;
            }
        }

        private static void LoadByFullPath(string path)
        {
            // .NET Core / pwsh 7: route the provider's DllImport("e_sqlite3") to our file. NativeLibrary is not in
            // netstandard2.0, so it is reached by reflection.
            var nativeLibrary = Type.GetType("System.Runtime.InteropServices.NativeLibrary, System.Runtime.InteropServices", false)
                                ?? typeof(object).Assembly.GetType("System.Runtime.InteropServices.NativeLibrary", false);
            if (nativeLibrary != null)
            {
                var load = nativeLibrary.GetMethod("Load", new[] { typeof(string) });
                IntPtr handle = (IntPtr)load.Invoke(null, new object[] { path });
                HandleFromLoad = handle;
                var resolverType = nativeLibrary.Assembly.GetType("System.Runtime.InteropServices.DllImportResolver", true);
                var setResolver = nativeLibrary.GetMethod("SetDllImportResolver");
                var resolve = typeof(NativeSqlite).GetMethod(nameof(Resolve), BindingFlags.NonPublic | BindingFlags.Static);
                var resolver = Delegate.CreateDelegate(resolverType, resolve);
                // The provider's DllImports, and the engine's own (the dump's direct row reader), bind to this file.
                foreach (var assembly in new[] { typeof(SQLitePCL.SQLite3Provider_e_sqlite3).Assembly, typeof(NativeSqlite).Assembly })
                {
                    try
                    {
                        setResolver.Invoke(null, new object[] { assembly, resolver });
                    }
                    catch (TargetInvocationException ex) when (ex.InnerException is InvalidOperationException)
                    {
                        // A resolver is already set for that assembly (the module was imported twice): the first one stands.
                    }
                }
                return;
            }

            // .NET Framework / Windows PowerShell 5.1: a library already loaded under the name e_sqlite3.dll is the
            // one DllImport("e_sqlite3") binds to, so loading it by full path first is enough.
            if (LoadLibraryW(path) == IntPtr.Zero)
            {
                throw new DllNotFoundException("Could not load " + path + " (Win32 error " + Marshal.GetLastWin32Error() + ").");
            }
        }

        private static IntPtr HandleFromLoad;

        // Signature of System.Runtime.InteropServices.DllImportResolver.
        private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
        {
            if (libraryName == "e_sqlite3" || libraryName == "libe_sqlite3") return HandleFromLoad;
            return IntPtr.Zero;
        }

        private const int SQLITE_FCNTL_RESERVE_BYTES = 38;

        /// <summary>
        /// Reserves <paramref name="bytes"/> at the end of every page of the (still empty) main database of
        /// <paramref name="db"/> through SQLITE_FCNTL_RESERVE_BYTES, which SQLitePCLRaw does not expose. Only when this
        /// assembly's P/Invoke reaches the same native library as SQLitePCLRaw; false when it cannot or SQLite refused.
        /// </summary>
        internal static bool TrySetReservedBytes(SQLitePCL.sqlite3 db, int bytes)
        {
            if (bytes < 0 || bytes > 255 || !Dump.DirectRowReader.Available) return false;
            try
            {
                int value = bytes;
                if (sqlite3_file_control(db.DangerousGetHandle(), "main", SQLITE_FCNTL_RESERVE_BYTES, ref value) != 0) return false;
                int check = -1; // a negative value reads without changing
                return sqlite3_file_control(db.DangerousGetHandle(), "main", SQLITE_FCNTL_RESERVE_BYTES, ref check) == 0 && check == bytes;
            }
            catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException)
            {
                return false;
            }
        }

        [DllImport("e_sqlite3", CallingConvention = CallingConvention.Cdecl, ExactSpelling = true, CharSet = CharSet.Ansi, BestFitMapping = false)]
        private static extern int sqlite3_file_control(IntPtr db, string zDbName, int op, ref int arg);

        [DllImport("kernel32", SetLastError = true, CharSet = CharSet.Unicode)]
        private static extern IntPtr LoadLibraryW(string path);
    }
}
