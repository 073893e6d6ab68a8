using System.IO;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Restore
{
    /// <summary>Where a restore lands, and the rule for an existing file — one place for every kind of restore.</summary>
    public static class RestoreTarget
    {
        /// <summary>The full path a restore of <paramref name="database"/> writes; a folder gets &lt;database&gt;.db.</summary>
        public static string Resolve(string destination, string database)
        {
            string full = Path.GetFullPath(destination);
            return Directory.Exists(full) ? Path.Combine(full, database + ".db") : full;
        }

        /// <summary>Throws AlreadyExists unless the target is free or replacing it is allowed; returns whether it exists.</summary>
        public static bool CheckOverwrite(string target, bool overwrite)
        {
            bool exists = File.Exists(target);
            if (exists && !overwrite)
            {
                throw new TursoBackupException(FailureKind.AlreadyExists,
                    $"'{target}' already exists. Use -Force to replace it (an emergency backup of it is taken into the vault first), or choose another -Destination.", target);
            }
            return exists;
        }
    }
}
