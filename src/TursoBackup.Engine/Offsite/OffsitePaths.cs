using System;
using System.IO;
using System.Runtime.InteropServices;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>Where the module keeps its own files for offsite vaults: the local caches of remote vaults and the SFTP known hosts.</summary>
    public static class OffsitePaths
    {
        /// <summary>
        /// The folder remote vaults are mirrored into for reading (manifests always, artifacts and WAL on demand): env
        /// TURSOBACKUP_CACHE, else %LOCALAPPDATA%\TursoBackup\offsite (Windows) or $XDG_CACHE_HOME/tursobackup/offsite, else
        /// ~/.cache/tursobackup/offsite.
        /// </summary>
        public static string CacheRoot(Func<string, string> env = null)
        {
            env = env ?? Environment.GetEnvironmentVariable;
            string set = env("TURSOBACKUP_CACHE");
            if (!string.IsNullOrEmpty(set)) return Path.GetFullPath(set);
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "TursoBackup", "offsite");
            }
            string xdg = env("XDG_CACHE_HOME");
            if (!string.IsNullOrEmpty(xdg)) return Path.Combine(xdg, "tursobackup", "offsite");
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "tursobackup", "offsite");
        }
    }
}
