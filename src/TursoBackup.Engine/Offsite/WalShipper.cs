using System;
using System.Collections.Generic;
using System.Threading;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Wal;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>
    /// Ships a database's WAL archive to an offsite vault while the archiver runs (Start-TursoWalArchive -Offsite): on
    /// its own thread, each time the archiver reports a sync (at most every <see cref="Interval"/>), it copies the new
    /// segments, snapshots and state with <see cref="VaultSync"/> — so the offsite copy trails by one interval, and a
    /// destination that is slow or down never holds up the capture. What has reached the destination is remembered, so
    /// only the first run lists it. Failures are kept in <see cref="LastError"/> and retried.
    /// </summary>
    public sealed class WalShipper : IDisposable
    {
        private readonly string vaultRoot;
        private readonly string database;
        private readonly IObjectStore destination;
        private readonly HashSet<string> known = new HashSet<string>(StringComparer.Ordinal);
        private readonly AutoResetEvent wake = new AutoResetEvent(false);
        private readonly CancellationTokenSource stop = new CancellationTokenSource();
        private readonly object runGate = new object();
        private Thread thread;
        private long pendingTicks;   // the newest archived sync time (UTC ticks) the archiver reported
        private long shippedTicks;   // the newest one known to be at the destination
        private DateTime lastRecorded;
        private bool listed;
        private volatile string lastError;
        private int errorVersion;

        public WalShipper(string vaultRoot, string database, IObjectStore destination)
        {
            this.vaultRoot = vaultRoot;
            this.database = database;
            this.destination = destination;
        }

        /// <summary>The shortest time between two shipments (default 1 second).</summary>
        public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

        public Action<string> Log { get; set; }

        public string Destination => destination.DisplayName;

        /// <summary>Why the last shipment failed; null after a shipment succeeded.</summary>
        public string LastError => lastError;

        /// <summary>Grows by one each time a new failure streak begins (so a caller warns once per streak).</summary>
        public int ErrorVersion => Volatile.Read(ref errorVersion);

        /// <summary>The newest archived sync that has reached the destination; null before the first shipment.</summary>
        public DateTimeOffset? ShippedThrough
        {
            get
            {
                long t = Interlocked.Read(ref shippedTicks);
                return t == 0 ? (DateTimeOffset?)null : new DateTimeOffset(t, TimeSpan.Zero);
            }
        }

        /// <summary>How far the destination trails the archive: the newest archived sync minus the newest shipped (0 when all is there).</summary>
        public TimeSpan Lag
        {
            get
            {
                long p = Interlocked.Read(ref pendingTicks), s = Interlocked.Read(ref shippedTicks);
                return p > s ? TimeSpan.FromTicks(p - s) : TimeSpan.Zero;
            }
        }

        public void Start()
        {
            thread = new Thread(Loop) { IsBackground = true, Name = "TursoBackup WAL shipper " + database };
            thread.Start();
        }

        /// <summary>The archiver archived everything up to <paramref name="syncedAt"/>: ship it.</summary>
        public void Notify(DateTimeOffset syncedAt)
        {
            long t = syncedAt.UtcTicks;
            long seen;
            while ((seen = Interlocked.Read(ref pendingTicks)) < t && Interlocked.CompareExchange(ref pendingTicks, t, seen) != seen) { }
            wake.Set();
        }

        /// <summary>
        /// Stops the thread and ships what is left (after the archiver's seal), waiting at most <paramref name="timeout"/>.
        /// True when everything archived is at the destination.
        /// </summary>
        public bool Finish(TimeSpan timeout)
        {
            stop.Cancel();
            wake.Set();
            thread?.Join(timeout);
            using (var limit = new CancellationTokenSource(timeout))
            {
                return RunOnce(limit.Token, true);
            }
        }

        private void Loop()
        {
            var backoff = TimeSpan.Zero;
            var sinceRun = new System.Diagnostics.Stopwatch();
            while (!stop.IsCancellationRequested)
            {
                var pause = backoff > Interval ? backoff : Interval;
                wake.WaitOne(pause);
                if (stop.IsCancellationRequested) break;
                if (Interlocked.Read(ref pendingTicks) <= Interlocked.Read(ref shippedTicks) && listed) continue;
                // However often the archiver reports: one shipment per Interval at most, one try per back-off while it fails.
                var left = pause - sinceRun.Elapsed;
                if (sinceRun.IsRunning && left > TimeSpan.Zero && stop.Token.WaitHandle.WaitOne(left)) break;
                sinceRun.Restart();
                bool ok = RunOnce(stop.Token, false);
                backoff = ok ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Min(60, Math.Max(2, backoff.TotalSeconds * 2)));
            }
        }

        private bool RunOnce(CancellationToken cancel, bool final)
        {
            lock (runGate)
            {
                long target = Interlocked.Read(ref pendingTicks);
                string prefix = WalArchiveLayout.Folder + "/" + database + "/";
                var sync = new VaultSync(new DirectoryStore(vaultRoot), destination)
                {
                    Filter = k => k.StartsWith(prefix, StringComparison.Ordinal) || k == "vault.json",
                    KnownAtDestination = known,
                    ListDestination = !listed,
                    Transfers = 4,
                };
                try
                {
                    var result = sync.Run(cancel);
                    listed = true;
                    if (result.Failed > 0)
                    {
                        Fail(string.Join("; ", System.Linq.Enumerable.Select(System.Linq.Enumerable.Take(result.FailedItems, 3), i => i.Key + ": " + i.Reason)));
                        return false;
                    }
                    if (target > Interlocked.Read(ref shippedTicks)) Interlocked.Exchange(ref shippedTicks, target);
                    if (lastError != null) Log?.Invoke($"WAL shipping to {destination.DisplayName} works again.");
                    lastError = null;
                    if (result.Copied > 0) Log?.Invoke($"Shipped {result.Copied} WAL object(s), {result.Bytes} bytes, to {destination.DisplayName}.");
                    // offsite.json at most every 10 s while running, and always at the end (else it shows a lag that is not there).
                    if ((final || DateTime.UtcNow - lastRecorded > TimeSpan.FromSeconds(10)) && target > 0)
                    {
                        lastRecorded = DateTime.UtcNow;
                        try { OffsiteLog.RecordWalShipped(vaultRoot, destination.DisplayName, database, new DateTimeOffset(target, TimeSpan.Zero)); }
                        catch (Exception ex) when (ex is System.IO.IOException || ex is UnauthorizedAccessException) { }
                    }
                    return true;
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
                catch (Exception ex) when (ex is TursoBackupException || ex is System.IO.IOException || ex is UnauthorizedAccessException)
                {
                    Fail(ex.Message);
                    return false;
                }
            }
        }

        private void Fail(string message)
        {
            if (lastError == null) Interlocked.Increment(ref errorVersion);
            lastError = message;
            Log?.Invoke($"WAL shipping to {destination.DisplayName} failed (retrying): {message}");
            try { OffsiteLog.RecordFailure(vaultRoot, destination.DisplayName, message, database); }
            catch (Exception ex) when (ex is System.IO.IOException || ex is UnauthorizedAccessException) { }
        }

        public void Dispose()
        {
            stop.Cancel();
            wake.Set();
            // A thread still inside an upload that ignores cancellation must not wake up to a disposed event.
            if (thread == null || thread.Join(TimeSpan.FromSeconds(5))) wake.Dispose();
        }
    }
}
