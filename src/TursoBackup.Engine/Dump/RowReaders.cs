using System;
using System.Reflection;
using System.Runtime.InteropServices;
using SQLitePCL;

namespace TursoBackup.Engine.Dump
{
    /// <summary>
    /// The column accessors the dump's row loop is specialised on (struct type parameters, so the calls are direct).
    /// </summary>
    internal interface IRowReader
    {
        int Step();
        int Type(int i);
        long Int64(int i);
        double Double(int i);

        /// <summary>A TEXT value as UTF-8 (converted by SQLite when the database is UTF-16).</summary>
        ReadOnlySpan<byte> Text(int i);

        ReadOnlySpan<byte> Blob(int i);
    }

    /// <summary>Through SQLitePCLRaw: always available.</summary>
    internal struct PclRowReader : IRowReader
    {
        private readonly sqlite3_stmt stmt;
        private readonly bool utf8;

        public PclRowReader(sqlite3_stmt stmt, bool utf8Database)
        {
            this.stmt = stmt;
            utf8 = utf8Database;
        }

        public int Step() => raw.sqlite3_step(stmt);
        public int Type(int i) => raw.sqlite3_column_type(stmt, i);
        public long Int64(int i) => raw.sqlite3_column_int64(stmt, i);
        public double Double(int i) => raw.sqlite3_column_double(stmt, i);

        public ReadOnlySpan<byte> Text(int i)
        {
            if (!utf8) raw.sqlite3_column_text(stmt, i); // converts the value to UTF-8 in place; blob then returns those bytes
            return raw.sqlite3_column_blob(stmt, i);
        }

        public ReadOnlySpan<byte> Blob(int i) => raw.sqlite3_column_blob(stmt, i);
    }

    /// <summary>
    /// Straight P/Invoke on the statement pointer, about twice as fast per call as SQLitePCLRaw's SafeHandle route
    /// (a dump makes two native calls per value). Used only when <see cref="Available"/> proved that "e_sqlite3"
    /// from this assembly is the very library SQLitePCLRaw uses; values are copied into a reused buffer.
    /// </summary>
    internal struct DirectRowReader : IRowReader
    {
        private const string Lib = "e_sqlite3";
        private readonly IntPtr stmt;
        private readonly ByteBuffer buffer;

        public DirectRowReader(IntPtr stmt, ByteBuffer buffer)
        {
            this.stmt = stmt;
            this.buffer = buffer;
        }

        public int Step() => sqlite3_step(stmt);
        public int Type(int i) => sqlite3_column_type(stmt, i);
        public long Int64(int i) => sqlite3_column_int64(stmt, i);
        public double Double(int i) => sqlite3_column_double(stmt, i);

        public ReadOnlySpan<byte> Text(int i)
        {
            IntPtr p = sqlite3_column_text(stmt, i); // first text, then bytes: the documented order
            return Copy(p, sqlite3_column_bytes(stmt, i));
        }

        public ReadOnlySpan<byte> Blob(int i)
        {
            IntPtr p = sqlite3_column_blob(stmt, i);
            return Copy(p, sqlite3_column_bytes(stmt, i));
        }

        private ReadOnlySpan<byte> Copy(IntPtr p, int n)
        {
            if (n <= 0 || p == IntPtr.Zero) return ReadOnlySpan<byte>.Empty;
            if (buffer.Data.Length < n) buffer.Data = new byte[Math.Max(n, buffer.Data.Length * 2)];
            Marshal.Copy(p, buffer.Data, 0, n);
            return new ReadOnlySpan<byte>(buffer.Data, 0, n);
        }

        private static readonly Lazy<bool> Probe = new Lazy<bool>(ProbeLibrary);

        /// <summary>Whether the direct route calls the same native library as SQLitePCLRaw (checked once).</summary>
        public static bool Available => !Disabled && Probe.Value;

        /// <summary>For tests: force the SQLitePCLRaw route.</summary>
        internal static bool Disabled { get; set; }

        private static bool ProbeLibrary()
        {
            try
            {
                if (Environment.GetEnvironmentVariable("TURSOBACKUP_DUMP_NO_DIRECT") == "1") return false;
                if (!string.Equals(raw.GetNativeLibraryName(), Lib, StringComparison.Ordinal)) return false;
                var nativeLibrary = System.Type.GetType("System.Runtime.InteropServices.NativeLibrary, System.Runtime.InteropServices", false)
                                    ?? typeof(object).Assembly.GetType("System.Runtime.InteropServices.NativeLibrary", false);
                if (nativeLibrary != null)
                {
                    // .NET Core: resolve "e_sqlite3" the way DllImport does for this assembly and for the provider's
                    // (whose resolver the module may have set); the same handle means the same loaded library.
                    var load = nativeLibrary.GetMethod("Load", new[] { typeof(string), typeof(Assembly), typeof(DllImportSearchPath?) });
                    if (load == null) return false;
                    var mine = (IntPtr)load.Invoke(null, new object[] { Lib, typeof(DirectRowReader).Assembly, null });
                    var theirs = (IntPtr)load.Invoke(null, new object[] { Lib, typeof(SQLite3Provider_e_sqlite3).Assembly, null });
                    if (mine == IntPtr.Zero || mine != theirs) return false;
                }
                else if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
                {
                    return false; // not .NET Core and not Windows (Mono...): do not guess
                }
                // .NET Framework on Windows: a DllImport("e_sqlite3") binds to the already loaded e_sqlite3.dll, which
                // is what NativeSqlite relies on for the provider too.
                return sqlite3_libversion_number() == raw.sqlite3_libversion_number();
            }
            catch (Exception)
            {
                return false; // DllNotFoundException, EntryPointNotFoundException, reflection trouble: use SQLitePCLRaw
            }
        }

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        private static extern int sqlite3_libversion_number();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        private static extern int sqlite3_step(IntPtr stmt);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        private static extern int sqlite3_column_type(IntPtr stmt, int i);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        private static extern long sqlite3_column_int64(IntPtr stmt, int i);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        private static extern double sqlite3_column_double(IntPtr stmt, int i);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        private static extern IntPtr sqlite3_column_text(IntPtr stmt, int i);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        private static extern IntPtr sqlite3_column_blob(IntPtr stmt, int i);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, ExactSpelling = true)]
        private static extern int sqlite3_column_bytes(IntPtr stmt, int i);
    }

    internal sealed class ByteBuffer
    {
        public byte[] Data = new byte[1 << 12];
    }
}
