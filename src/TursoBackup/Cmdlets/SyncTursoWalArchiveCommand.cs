using System;
using System.Management.Automation;
using TursoBackup.Engine.Wal;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>One incremental capture of a WAL-mode database's new transactions into a vault, for schedulers.</summary>
    [Cmdlet(VerbsData.Sync, "TursoWalArchive", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(WalArchiveStatus))]
    public sealed class SyncTursoWalArchiveCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

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

        protected override void ProcessRecord()
        {
            foreach (var source in ResolveExistingPaths(Path))
            {
                if (!ShouldProcess(source, $"Archive new WAL frames into vault '{ResolveNewPath(Vault)}'")) continue;
                WalArchiveStatus status = null;
                bool ok = TryRun(() =>
                {
                    using (var archiver = new WalArchiver(source, ResolveNewPath(Vault), Name) { Log = VerboseFromAnyThread, SnapshotInterval = SnapshotInterval, Retention = Retention, Owner = "Sync-TursoWalArchive" })
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
