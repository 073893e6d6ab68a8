using System;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Wal;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Archives a WAL-mode database continuously until -Duration has passed or Ctrl+C / StopProcessing. It holds the
    /// WAL so other connections' checkpoints cannot discard frames it has not archived.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Start, "TursoWalArchive", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = ParameterSets.Path)]
    [OutputType(typeof(WalArchiveStatus))]
    public sealed class StartTursoWalArchiveCommand : TursoCmdlet
    {
        /// <summary>The WAL-mode database; a wildcard must match one file. Binds an object's Path property.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.Path)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; }

        /// <summary>The WAL-mode database taken as it is (never expanded); FileInfo binds here by PSPath / FullName.</summary>
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

        /// <summary>How often the WAL is looked at (at most 1 s).</summary>
        [Parameter]
        public TimeSpan SyncInterval { get; set; } = TimeSpan.FromMilliseconds(100);

        [Parameter]
        public TimeSpan SnapshotInterval { get; set; } = TimeSpan.FromDays(1);

        [Parameter]
        public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

        /// <summary>Stop after this long (default: run until stopped).</summary>
        [Parameter]
        public TimeSpan? Duration { get; set; }

        /// <summary>Offsite vaults each new segment, snapshot and state is shipped to as it is written (credentials: Connect-TursoVault or the environment).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] Offsite { get; set; }

        /// <summary>Encrypts the archive's segments and snapshots (OpenPGP AES-256) for this passphrase (default: $env:TURSO_BACKUP_PASSPHRASE).</summary>
        [Parameter]
        [SecretTransformation]
        public System.Security.SecureString Passphrase { get; set; }

        /// <summary>Encrypts the archive for these OpenPGP public keys (files as `gpg --export [--armor]` writes them, or armored text).</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] Recipient { get; set; }

        /// <summary>How often a cumulative status is written while running.</summary>
        [Parameter]
        public TimeSpan StatusInterval { get; set; } = TimeSpan.FromMinutes(1);

        protected override void ProcessRecord()
        {
            if (SyncInterval <= TimeSpan.Zero || SyncInterval > TimeSpan.FromSeconds(1))
            {
                ThrowFailure(new TursoBackupException(FailureKind.InvalidArgument, "-SyncInterval must be more than 0 and at most 1 second.", SyncInterval)
                    { ErrorId = ErrorIds.InvalidSyncInterval });
            }
            // A missing database is reported by the first sync below (terminating); a wildcard must match one file.
            bool literal = ParameterSetName == ParameterSets.LiteralPath;
            string source = literal || !WildcardPattern.ContainsWildcardCharacters(Path)
                ? GetUnresolvedProviderPathFromPSPath(literal ? LiteralPath : Path)
                : ResolveOneExistingPath(Path, false, nameof(Path));
            if (source == null) return;
            string vault = ResolveNewPath(Vault);
            if (!ShouldProcessUnattended(source, $"Archive WAL frames continuously into vault '{vault}'", "Archiving", "archive it", "archived")) return;
            WalArchiver archiver = null;
            var shippers = new System.Collections.Generic.List<Engine.Offsite.WalShipper>();
            try
            {
                archiver = new WalArchiver(source, vault, Name) { Log = VerboseFromAnyThread, SnapshotInterval = SnapshotInterval, Retention = Retention, Owner = "Start-TursoWalArchive", Encryption = WriteKeys(Passphrase, Recipient) };
                // A second archiver of the same archive is refused at once (the loop below retries failed syncs).
                archiver.Acquire();
                foreach (var destination in Offsite ?? new string[0])
                {
                    var address = Engine.Offsite.OffsiteAddress.Parse(destination);
                    var store = address.IsRemote ? ConnectOffsite(address, null).Store : new Engine.Offsite.DirectoryStore(ResolveNewPath(destination));
                    // A destination that cannot be reached is known before the archive starts.
                    Engine.Offsite.VaultSync.PrepareDestination(store, false, VerboseFromAnyThread, Cancellation);
                    shippers.Add(new Engine.Offsite.WalShipper(vault, archiver.Database, store) { Log = VerboseFromAnyThread });
                }
            }
            catch (TursoBackupException ex)
            {
                archiver?.Dispose();
                ThrowFailure(ex);
            }
            // SIGTERM (systemd's default stop, docker stop) ends the loop like Ctrl+C: the rest is archived and sealed.
            using (archiver)
            using (var stop = CancellationTokenSource.CreateLinkedTokenSource(Cancellation))
            using (TerminationSignal.OnSigterm(() =>
            {
                VerboseFromAnyThread("SIGTERM received: archiving the rest and sealing the archive.");
                stop.Cancel();
            }))
            {
                var total = new WalArchiveStatus { Database = archiver.Database, Vault = vault, Offsite = shippers.Select(s => s.Destination).ToArray() };
                var warnedVersions = new int[shippers.Count];
                foreach (var shipper in shippers) shipper.Start();
                var run = Stopwatch.StartNew();
                var sinceStatus = Stopwatch.StartNew();
                var token = stop.Token;
                WriteVerbose($"Archiving '{source}' into '{vault}' every {SyncInterval.TotalMilliseconds:N0} ms" + (Duration.HasValue ? $" for {Duration.Value}." : " until stopped."));
                bool started = false;
                try
                {
                    while (!token.IsCancellationRequested && (!Duration.HasValue || run.Elapsed < Duration.Value))
                    {
                        WalArchiveStatus status = null;
                        bool synced;
                        try
                        {
                            if (!started)
                            {
                                // The first sync proves the setup (a database in WAL mode, a writable vault): its failure is
                                // one terminating error and no status — nothing was archived, and a service supervisor
                                // (systemd Restart=, a scheduled task's restart) sees the exit instead of a silent retry loop.
                                RunOrThrow(() => status = archiver.Sync(token), source);
                                started = true;
                                synced = true;
                            }
                            else synced = TryRun(() => status = archiver.Sync(token), source);
                        }
                        catch (OperationCanceledException) when (token.IsCancellationRequested)
                        {
                            break; // stopped in the middle of the first sync: the seal below archives the rest
                        }
                        catch (PipelineStoppedException) when (token.IsCancellationRequested)
                        {
                            break; // stopped in the middle of a sync: the seal below archives the rest
                        }
                        if (!synced)
                        {
                            // A failed sync (disk full, vault unreachable) is reported and retried: the WAL is still held.
                            token.WaitHandle.WaitOne(TimeSpan.FromSeconds(5));
                            continue;
                        }
                        foreach (var shipper in shippers) shipper.Notify(status.LastSyncAt);
                        for (int i = 0; i < shippers.Count; i++)
                        {
                            if (shippers[i].LastError != null && shippers[i].ErrorVersion != warnedVersions[i])
                            {
                                warnedVersions[i] = shippers[i].ErrorVersion;
                                WriteWarning($"Shipping the WAL archive of '{archiver.Database}' to {shippers[i].Destination} fails ({shippers[i].LastError}); the local archive goes on and shipping is retried. OffsiteLag grows until it works.");
                            }
                        }
                        FlushVerbose();
                        Accumulate(total, status);
                        if (shippers.Count > 0) total.OffsiteLag = shippers.Max(s => s.Lag);
                        if (status.NewGenerationReason != null) WriteObject(status);
                        if (sinceStatus.Elapsed >= StatusInterval)
                        {
                            WriteObject(Copy(total));
                            sinceStatus.Restart();
                        }
                        token.WaitHandle.WaitOne(SyncInterval);
                    }
                }
                catch (PipelineStoppedException) when (Stopping)
                {
                    // Stopped while a status or a verbose line was being written (WriteObject throws once the pipeline
                    // stops): the run ends here like any other stop, and the seal below archives the rest.
                }
                // The end of every run — -Duration, Ctrl+C, SIGINT (systemd's KillSignal), StopProcessing: archive the
                // rest, checkpoint, record the archive sealed, so the next run continues the generation. A stopping
                // pipeline takes no records, so this must not write any (the log is queued) and must not be cut short.
                if (Stopping)
                {
                    // Stopped and sealed: a service stop, not a failure (pwsh -Command would exit 1).
                    if (SealWhileStopping(archiver, source)) TerminationSignal.ExitCleanlyIfNonInteractive(Host);
                }
                else TryRun(() => archiver.Seal(CancellationToken.None), source);
                FinishShipping(shippers, archiver, total);
                FlushVerbose();
                if (!Stopping) WriteObject(total);
            }
        }

        /// <summary>After the seal: what is left goes offsite (at most 60 s per destination, so a dead one cannot hold up a service stop).</summary>
        private void FinishShipping(System.Collections.Generic.List<Engine.Offsite.WalShipper> shippers, WalArchiver archiver, WalArchiveStatus total)
        {
            foreach (var shipper in shippers)
            {
                shipper.Notify(DateTimeOffset.UtcNow);
                bool complete = shipper.Finish(TimeSpan.FromSeconds(60));
                string message = complete
                    ? $"The WAL archive of '{archiver.Database}' is complete at {shipper.Destination}."
                    : $"The WAL archive of '{archiver.Database}' could not be completed at {shipper.Destination} ({shipper.LastError ?? "timed out"}): the next Start-TursoWalArchive -Offsite or Sync-TursoVault sends the rest.";
                if (complete || Stopping) VerboseFromAnyThread(message);
                else WriteWarning(message);
                shipper.Dispose();
            }
            if (shippers.Count > 0) total.OffsiteLag = shippers.Max(s => s.Lag);
        }

        /// <summary>Seals after a stop request; a failure goes to the host (the pipeline no longer takes error records).</summary>
        private bool SealWhileStopping(WalArchiver archiver, string source)
        {
            try
            {
                archiver.Seal(CancellationToken.None);
                return true;
            }
            catch (Exception ex) when (ex is TursoBackupException || ex is System.IO.IOException || ex is UnauthorizedAccessException)
            {
                Host?.UI?.WriteErrorLine($"Start-TursoWalArchive: the final capture and checkpoint of '{source}' failed while stopping: {ex.Message}");
                return false;
            }
        }

        private static void Accumulate(WalArchiveStatus total, WalArchiveStatus s)
        {
            total.Generation = s.Generation;
            total.LastSyncAt = s.LastSyncAt;
            total.FramesCaptured += s.FramesCaptured;
            total.BytesCaptured += s.BytesCaptured;
            total.Lag = s.Lag;
            total.Snapshots = s.Snapshots;
            total.Segments = s.Segments;
        }

        private static WalArchiveStatus Copy(WalArchiveStatus s) => new WalArchiveStatus
        {
            Database = s.Database, Vault = s.Vault, Generation = s.Generation, LastSyncAt = s.LastSyncAt, FramesCaptured = s.FramesCaptured,
            BytesCaptured = s.BytesCaptured, Lag = s.Lag, Snapshots = s.Snapshots, Segments = s.Segments, Offsite = s.Offsite, OffsiteLag = s.OffsiteLag,
        };
    }
}
