using System;
using System.IO;
using System.Runtime.InteropServices;

namespace TursoBackup.Engine.IO
{
    /// <summary>
    /// Makes what the vault creates readable by its owner only on Unix (files 0600, folders 0700): backups hold
    /// whole databases. On Windows, new files inherit the folder's ACL, which the admin controls.
    /// </summary>
    public static class OwnerOnly
    {
        private static readonly bool Unix = !RuntimeInformation.IsOSPlatform(OSPlatform.Windows);
        private static bool available = Unix;

        public static void File(string path) => Chmod(path, Convert.ToInt32("600", 8));

        public static void Directory(string path) => Chmod(path, Convert.ToInt32("700", 8));

        /// <summary>Creates a folder (and missing parents) and makes the ones it created owner-only.</summary>
        public static void CreateDirectory(string path)
        {
            string full = Path.GetFullPath(path);
            if (System.IO.Directory.Exists(full)) return;
            string parent = Path.GetDirectoryName(full);
            if (parent != null && !System.IO.Directory.Exists(parent)) CreateDirectory(parent);
            System.IO.Directory.CreateDirectory(full);
            Directory(full);
        }

        private static void Chmod(string path, int mode)
        {
            if (!available) return;
            try
            {
                chmod(path, (uint)mode);
            }
            catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException)
            {
                available = false;
            }
        }

        [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)]
        private static extern int chmod(string path, uint mode);
    }
}
