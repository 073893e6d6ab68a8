using System;
using TursoBackup.Engine.Recovery;

namespace TursoBackup.Internal
{
    /// <summary>The recovery journal: every restore, point-in-time restore, branch and row/table recovery appends an entry.</summary>
    public abstract partial class TursoCmdlet
    {
        /// <summary>
        /// Appends <paramref name="entry"/> to the journal of the vault at <paramref name="vaultRoot"/> (a local vault; an
        /// offsite vault's mirror keeps no journal). A journal that cannot be written is a warning, never a failure of the
        /// recovery that already happened.
        /// </summary>
        protected void Journal(string vaultRoot, RecoveryLogEntry entry)
        {
            if (string.IsNullOrEmpty(vaultRoot) || entry == null) return;
            if (Engine.Offsite.OffsiteVault.ForMirror(vaultRoot) != null) return;
            entry.At = entry.At == default(DateTimeOffset) ? DateTimeOffset.UtcNow : entry.At;
            entry.User = entry.User ?? Environment.UserName + "@" + Environment.MachineName;
            try
            {
                RecoveryJournal.Append(vaultRoot, entry);
            }
            catch (Exception ex) when (ex is System.IO.IOException || ex is UnauthorizedAccessException || ex is Engine.Errors.TursoBackupException)
            {
                WriteWarning($"The recovery journal of '{vaultRoot}' could not be written ({ex.Message}); Get-TursoRecoveryHistory will not show this {entry.Action}.");
            }
        }
    }
}
