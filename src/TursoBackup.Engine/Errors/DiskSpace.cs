using System;
using System.IO;

namespace TursoBackup.Engine.Errors
{
    /// <summary>Recognises "the disk is full" across platforms (ENOSPC on Unix, ERROR_DISK_FULL on Windows).</summary>
    public static class DiskSpace
    {
        public static bool IsFull(IOException ex)
        {
            const int ENOSPC = 28, ERROR_DISK_FULL = 0x70, ERROR_HANDLE_DISK_FULL = 0x27;
            int code = ex.HResult & 0xFFFF;
            return code == ENOSPC || code == ERROR_DISK_FULL || code == ERROR_HANDLE_DISK_FULL
                   || ex.Message.IndexOf("No space left", StringComparison.OrdinalIgnoreCase) >= 0
                   || ex.Message.IndexOf("not enough space", StringComparison.OrdinalIgnoreCase) >= 0;
        }

        /// <summary>
        /// The bytes this account may still write on the volume that holds <paramref name="folder"/> (an existing folder;
        /// local, UNC or NFS), or null when the system does not say.
        /// </summary>
        public static long? FreeBytes(string folder)
        {
            try
            {
                if (System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Windows))
                {
                    string dir = folder.EndsWith("\\", StringComparison.Ordinal) ? folder : folder + "\\";
                    return GetDiskFreeSpaceExW(dir, out ulong available, out _, out _) ? (long?)Math.Min((ulong)long.MaxValue, available) : null;
                }
                // On Unix DriveInfo takes any path and asks statvfs(3) about the file system holding it.
                return new DriveInfo(folder).AvailableFreeSpace;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is ArgumentException
                                       || ex is DllNotFoundException || ex is EntryPointNotFoundException)
            {
                return null;
            }
        }

        [System.Runtime.InteropServices.DllImport("kernel32", CharSet = System.Runtime.InteropServices.CharSet.Unicode, SetLastError = true)]
        [return: System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.Bool)]
        private static extern bool GetDiskFreeSpaceExW(string directory, out ulong freeBytesAvailable, out ulong totalBytes, out ulong totalFreeBytes);
    }
}
