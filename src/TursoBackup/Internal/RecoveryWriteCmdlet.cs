using System;
using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Recovery;

namespace TursoBackup.Internal
{
    /// <summary>
    /// A recovery that writes (Restore-TursoRow, Restore-TursoTable): a source that is only read, a destination, the vault
    /// that keeps the undo data and the journal entry, a reason, and how long to wait for another writer's lock.
    /// </summary>
    public abstract class RecoveryWriteCmdlet : RecoveryCmdlet
    {
        /// <summary>Where the rows or the table come from (only read).</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNull]
        [DatabaseSourceTransformation]
        public DatabaseSource Source { get; set; }

        /// <summary>The database written to.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string Destination { get; set; }

        /// <summary>The vault that keeps the undo data and the journal entry.</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Reason { get; set; }

        [Parameter]
        public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>The vault's root (created when new).</summary>
        protected string VaultRoot() => Engine.Vault.BackupVault.OpenOrCreate(ResolveNewPath(Vault)).Root;

        /// <summary>Opens -Source (a scratch copy where it is not a local file), runs <paramref name="work"/>, reports a failure as this command's error, and removes the scratch copy.</summary>
        protected void WithSource(Action<SourceDatabase> work)
        {
            SourceDatabase source = null;
            try
            {
                source = OpenSource(Source, "-Source");
                work(source);
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
            }
            finally
            {
                source?.Dispose();
            }
        }
    }
}
