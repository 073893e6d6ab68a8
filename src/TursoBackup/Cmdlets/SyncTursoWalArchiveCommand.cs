using System;
using System.Management.Automation;
using TursoBackup.Engine.Wal;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>One incremental capture of a WAL-mode database's new transactions into a vault, for schedulers.</summary>
    [Cmdlet(VerbsData.Sync, "TursoWalArchive", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = ParameterSets.Path)]
    [OutputType(typeof(WalArchiveStatus))]
    public sealed class SyncTursoWalArchiveCommand : TursoCmdlet
    {
        /// <summary>WAL-mode databases (wildcards expanded); binds strings from the pipeline and an object's Path property.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.Path)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>A WAL-mode database taken as it is (never expanded); FileInfo binds here by PSPath / FullName.</summary>
        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.LiteralPath)]
        [Alias("PSPath", "LP", "FullName")]
        [ValidateNotNullOrEmpty]
        public string LiteralPath { get; set; }

        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; }

        [Parameter]
        public TimeSpan SnapshotInterval { get; set; } = TimeSpan.FromDays(1);

        [Parameter]
        public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

        /// <summary>Encrypts the archive's segments and snapshots (OpenPGP AES-256) for this passphrase (default: $env:TURSO_BACKUP_PASSPHRASE).</summary>
        [Parameter]
        [SecretTransformation]
        public System.Security.SecureString Passphrase { get; set; }

        /// <summary>Encrypts the archive for these OpenPGP public keys (files as `gpg --export [--armor]` writes them, or armored text).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] Recipient { get; set; }

        protected override void ProcessRecord()
        {
            bool literal = ParameterSetName == ParameterSets.LiteralPath;
            foreach (var source in ResolveExistingPaths(literal ? LiteralPath : Path, literal))
            {
                if (!ShouldProcessUnattended(source, $"Archive new WAL frames into vault '{ResolveNewPath(Vault)}'", "Archiving", "archive it", "archived")) continue;
                WalArchiveStatus status = null;
                bool ok = TryRun(() =>
                {
                    using (var archiver = new WalArchiver(source, ResolveNewPath(Vault), Name) { Log = VerboseFromAnyThread, SnapshotInterval = SnapshotInterval, Retention = Retention, Owner = "Sync-TursoWalArchive", Encryption = WriteKeys(Passphrase, Recipient) })
                    {
                        // One archiver per archive: an overlapping scheduled run is waited for (briefly), a running
                        // Start-TursoWalArchive refuses this one with its name (it already archives the database).
                        archiver.Acquire(TimeSpan.FromSeconds(30), Cancellation);
                        status = archiver.Sync(Cancellation);
                        // Between scheduled runs nobody holds the WAL: leave it fully archived and checkpointed.
                        archiver.Seal(Cancellation);
                    }
                }, source);
                FlushVerbose();
                if (ok) WriteObject(status);
            }
        }
    }
}
