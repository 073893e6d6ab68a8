using System;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;

namespace TursoBackup.Engine.Files
{
    /// <summary>
    /// A file's Unix permission bits and owner, read from one file and applied to another: a database that replaces
    /// another keeps its mode, and (where the process may) its owner and group, so an application does not lose access
    /// and its data does not become readable by others. Windows keeps the folder's ACL and needs none of this.
    /// </summary>
    public sealed class FileOwnership
    {
        private static readonly bool Unix = !RuntimeInformation.IsOSPlatform(OSPlatform.Windows);

        /// <summary>The permission bits (e.g. 0600 octal).</summary>
        public int Mode { get; private set; }

        /// <summary>Owner and group, or -1 when the platform's stat layout is not known here.</summary>
        public long UserId { get; private set; } = -1;

        public long GroupId { get; private set; } = -1;

        /// <summary>What <paramref name="path"/> has now; null on Windows or when it cannot be read.</summary>
        public static FileOwnership Of(string path)
        {
            if (!Unix || !File.Exists(path)) return null;
            int? mode = GetMode(path);
            if (mode == null) return null;
            var result = new FileOwnership { Mode = mode.Value };
            if (TryStatOwner(path, out long uid, out long gid))
            {
                result.UserId = uid;
                result.GroupId = gid;
            }
            return result;
        }

        /// <summary>Applies this mode, then this owner and group where permitted (changing the owner needs privileges).</summary>
        /// <returns>Whether the owner and group were applied too (false when not permitted or unknown).</returns>
        public bool ApplyTo(string path)
        {
            if (!Unix) return false;
            SetMode(path, Mode);
            if (UserId < 0) return false;
            try
            {
                return chown(path, (uint)UserId, (uint)GroupId) == 0;
            }
            catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException)
            {
                return false;
            }
        }

        /// <summary>Sets permission bits (no-op on Windows).</summary>
        public static void SetMode(string path, int mode)
        {
            if (!Unix) return;
            try { chmod(path, (uint)mode); }
            catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException) { }
        }

        /// <summary>The permission bits, through .NET's own File.GetUnixFileMode (on .NET 7+, which pwsh 7 runs on).</summary>
        public static int? GetMode(string path)
        {
            var method = typeof(File).GetMethod("GetUnixFileMode", BindingFlags.Public | BindingFlags.Static, null, new[] { typeof(string) }, null);
            if (method == null) return null;
            try
            {
                return Convert.ToInt32(method.Invoke(null, new object[] { path })) & 0xFFF;
            }
            catch (TargetInvocationException)
            {
                return null;
            }
        }

        /// <summary>
        /// Owner and group from stat(2). The struct's layout differs by platform; only the ones the module ships natives
        /// for are known (glibc x86-64 and AArch64, macOS); elsewhere the owner is left as the process makes it.
        /// </summary>
        private static bool TryStatOwner(string path, out long uid, out long gid)
        {
            uid = gid = -1;
            int uidOffset;
            if (RuntimeInformation.IsOSPlatform(OSPlatform.OSX)) uidOffset = 16;
            else if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && RuntimeInformation.ProcessArchitecture == Architecture.X64) uidOffset = 28;
            else if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && RuntimeInformation.ProcessArchitecture == Architecture.Arm64) uidOffset = 24;
            else return false;
            var buffer = new byte[256];
            try
            {
                if (stat(path, buffer) != 0) return false;
            }
            catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException)
            {
                return false; // glibc before 2.33 exports only __xstat
            }
            uid = BitConverter.ToUInt32(buffer, uidOffset);
            gid = BitConverter.ToUInt32(buffer, uidOffset + 4);
            return true;
        }

        [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)]
        private static extern int chmod(string path, uint mode);

        [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)]
        private static extern int chown(string path, uint owner, uint group);

        [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)]
        private static extern int stat(string path, byte[] buffer);
    }
}
