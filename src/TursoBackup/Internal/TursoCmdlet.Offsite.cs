using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using TursoBackup.Engine.Offsite;

namespace TursoBackup.Internal
{
    /// <summary>Offsite vaults for every cmdlet that takes -Vault: a remote vault URI is read through its local mirror.</summary>
    public abstract partial class TursoCmdlet
    {
        /// <summary>
        /// The folder to open for a -Vault given to a read command: a path as it is; a remote vault URI (Azure Blob, S3,
        /// SFTP) through the session's connection to it (Connect-TursoVault's, else one opened now with the environment's
        /// credentials), refreshed — its manifests and metadata mirrored locally — with the WAL archive of
        /// <paramref name="walOf"/> fetched too ("*": of every database that has one).
        /// </summary>
        protected string ResolveVaultForRead(string vault, string walOf = null)
        {
            if (!OffsiteAddress.IsRemoteText(vault)) return ResolveNewPath(vault);
            var offsite = ConnectOffsite(OffsiteAddress.Parse(vault), null);
            WriteVerbose($"Reading the offsite vault {offsite.Address.DisplayName} through its local mirror {offsite.CacheRoot}.");
            RunWithProgress(() => { offsite.Refresh(Cancellation); return 0; }, null);
            if (walOf != null)
            {
                var databases = walOf == "*"
                    ? (Directory.Exists(Path.Combine(offsite.CacheRoot, Engine.Wal.WalArchiveLayout.Folder))
                        ? Directory.GetDirectories(Path.Combine(offsite.CacheRoot, Engine.Wal.WalArchiveLayout.Folder)).Select(Path.GetFileName).Where(Engine.Vault.BackupVault.IsPlainName).ToArray()
                        : new string[0])
                    : new[] { walOf };
                foreach (var db in databases) FetchWithProgress(offsite, "Fetching the WAL archive of '" + db + "'", p => offsite.FetchWal(db, p, Cancellation));
            }
            return offsite.CacheRoot;
        }

        /// <summary>How a vault folder is named to the admin: an offsite vault's mirror by the vault's own address.</summary>
        protected static string VaultName(string root) => OffsiteVault.ForMirror(root)?.Address.DisplayName ?? root;

        /// <summary>The session's connection to an offsite vault (opened with <paramref name="options"/>, else with the environment's defaults).</summary>
        protected OffsiteVault ConnectOffsite(OffsiteAddress address, OffsiteOptions options)
        {
            OffsiteNarrator = this;
            var vault = OffsiteVault.Connect(address, options ?? DefaultOffsiteOptions(), reopen: options != null);
            vault.Log = Narrate;
            return vault;
        }

        /// <summary>
        /// The cmdlet that narrates offsite work now. A session's connection outlives the cmdlet that opened it, so its
        /// stores log through this (the latest cmdlet using an offsite vault), never through a cmdlet that has ended.
        /// </summary>
        private static volatile TursoCmdlet OffsiteNarrator;

        private static void Narrate(string message) => OffsiteNarrator?.VerboseFromAnyThread(message);

        private static void NarrateWarning(string message) => OffsiteNarrator?.WarnFromAnyThread(message);

        /// <summary>Called as the cmdlet ends: it no longer narrates offsite work.</summary>
        private void EndOffsiteNarration()
        {
            if (ReferenceEquals(OffsiteNarrator, this)) OffsiteNarrator = null;
        }

        /// <summary>Settings for an offsite vault nobody gave parameters for: credentials come from the environment (see about_TursoBackup).</summary>
        protected OffsiteOptions DefaultOffsiteOptions() => new OffsiteOptions
        {
            Endpoint = Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL_S3") is string s3 && s3.Length > 0 ? s3
                : (Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL") is string any && any.Length > 0 ? any : null),
            Log = Narrate,
            Warn = NarrateWarning,
        };

        /// <summary>Marks a queued message as a warning (written with WriteWarning when the queue is flushed).</summary>
        private const string QueuedWarning = "\u0001warning:";

        /// <summary>A warning from any thread (queued as verbose text when not on the pipeline thread, and written then).</summary>
        protected internal void WarnFromAnyThread(string message)
        {
            if (Thread.CurrentThread.ManagedThreadId == pipelineThread && !Stopping) WriteWarning(message);
            else VerboseFromAnyThread(QueuedWarning + message);
        }

        /// <summary>A backup about to be restored or tested: when it was listed from an offsite vault's mirror, its artifact is fetched (and checked) first.</summary>
        protected BackupInfo FetchIfOffsite(BackupInfo backup)
        {
            var offsite = backup == null ? null : OffsiteVault.ForMirror(backup.Vault);
            if (offsite != null)
            {
                FetchWithProgress(offsite, $"Fetching backup {backup.Id} of '{backup.Database}' from {offsite.Address.DisplayName}", p => offsite.FetchBackup(backup, p, Cancellation));
            }
            return backup;
        }

        /// <summary>After a Test-Backup of a backup of an offsite vault: its verification log goes back to that vault (health reads it there).</summary>
        protected void PushVerificationIfOffsite(string vaultRoot, string database)
        {
            var offsite = OffsiteVault.ForMirror(vaultRoot);
            if (offsite == null) return;
            try
            {
                offsite.PushVerifications(database, Cancellation);
                WriteVerbose($"The verification was recorded in the offsite vault {offsite.Address.DisplayName}.");
            }
            catch (Engine.Errors.TursoBackupException ex)
            {
                WriteWarning($"The verification could not be recorded in the offsite vault {offsite.Address.DisplayName}: {ex.Message}");
            }
        }

        private void FetchWithProgress(OffsiteVault offsite, string activity, Action<Action<long, long>> fetch)
        {
            long done = 0, total = 0;
            int id = NewActivityId();
            RunWithProgress(() => { fetch((d, t) => { Interlocked.Exchange(ref done, d); Interlocked.Exchange(ref total, t); }); return 0; },
                () =>
                {
                    long t = Interlocked.Read(ref total);
                    if (t > 0) ShowProgress(id, activity, $"{Interlocked.Read(ref done) / 1048576.0:N1} of {t / 1048576.0:N1} MiB", (int)(Interlocked.Read(ref done) * 100 / t));
                });
            CompleteProgress(id, activity);
        }

        /// <summary>
        /// Runs <paramref name="work"/> on a worker thread while the pipeline thread shows its progress
        /// (<paramref name="tick"/>, five times a second) and writes what it logs; its exception is rethrown as it was.
        /// </summary>
        protected T RunWithProgress<T>(Func<T> work, Action tick)
        {
            var task = Task.Run(work);
            while (Task.WaitAny(new Task[] { task }, 200) < 0)
            {
                FlushVerbose();
                tick?.Invoke();
            }
            FlushVerbose();
            if (task.IsFaulted) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(task.Exception.InnerExceptions[0]).Throw();
            return task.Result;
        }
    }
}
