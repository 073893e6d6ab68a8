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
    }
}
