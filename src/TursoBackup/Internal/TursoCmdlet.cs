using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Internal
{
    /// <summary>
    /// What every TursoBackup cmdlet shares: a cancellation token tied to Ctrl+C (StopProcessing), the one place
    /// where engine failures become ErrorRecords, path resolution through the provider, and progress records that
    /// always complete.
    /// </summary>
    public abstract class TursoCmdlet : PSCmdlet
    {
        private static int nextActivityId = 1;
        private CancellationTokenSource cancellation;

        protected internal CancellationToken Cancellation => cancellation.Token;

        /// <summary>This invocation's own progress activity id (never 0, never shared with another invocation).</summary>
        protected int ActivityId { get; private set; }

        private readonly System.Collections.Concurrent.ConcurrentQueue<string> verboseQueue = new System.Collections.Concurrent.ConcurrentQueue<string>();
        private int pipelineThread;

        /// <summary>
        /// A log callback for engine classes that may call it from their own threads (the archiver's background
        /// checkpoints and compactions): on the pipeline thread it writes at once, from others it queues the message
        /// for <see cref="FlushVerbose"/> — PowerShell only accepts Write* calls from the pipeline thread.
        /// </summary>
        protected internal void VerboseFromAnyThread(string message)
        {
            if (Thread.CurrentThread.ManagedThreadId == pipelineThread)
            {
                FlushVerbose();
                WriteVerbose(message);
            }
            else
            {
                verboseQueue.Enqueue(message);
            }
        }

        /// <summary>Writes the messages other threads queued (call on the pipeline thread).</summary>
        protected void FlushVerbose()
        {
            while (verboseQueue.TryDequeue(out var message)) WriteVerbose(message);
        }

        protected override void BeginProcessing()
        {
            pipelineThread = Thread.CurrentThread.ManagedThreadId;
            cancellation = new CancellationTokenSource();
            ActivityId = NewActivityId();
            NativeSqlite.EnsureInitialized();
        }

        /// <summary>
        /// The backup of <paramref name="database"/> with <paramref name="id"/>, or its newest one that is not an emergency
        /// backup when id is null (the newest of all with <paramref name="includeEmergency"/>), read from its manifest.
        /// Every backup of the database that could not be read is a warning that says which backup is used instead.
        /// </summary>
        protected BackupInfo FindBackup(string vaultPath, string database, string id, bool includeEmergency = false)
        {
            var vault = Engine.Vault.BackupVault.OpenExisting(ResolveNewPath(vaultPath));
            var unreadable = new List<KeyValuePair<string, Exception>>();
            var backup = vault.Select(database, id, includeEmergency, (path, ex) => unreadable.Add(new KeyValuePair<string, Exception>(path, ex)));
            foreach (var u in unreadable)
            {
                string folderId = Path.GetFileName(Path.GetDirectoryName(u.Key));
                string instead = backup == null ? "" :
                    string.CompareOrdinal(folderId, backup.Id) > 0
                        ? $" It may be newer than backup {backup.Id}, which is used instead."
                        : $" Backup {backup.Id} is used.";
                WriteWarning(UnreadableBackup(u.Key, u.Value) + " It was not considered." + instead +
                             $" Repair or remove it (Get-TursoBackup -Vault '{vault.Root}' -Database '{database}' lists what cannot be read).");
            }
            if (backup != null) return backup;
            if (id == null && !includeEmergency && vault.List(database).Any(b => b.Emergency != null))
            {
                throw new TursoBackupException(FailureKind.NotFound,
                    $"The vault '{vault.Root}' has only emergency backups of '{database}' (taken of files a restore or import replaced). " +
                    $"Pass -IncludeEmergency to use the newest of them, or choose one with -Id (Get-TursoBackup -Vault '{vault.Root}' -Database '{database}' lists them).", database);
            }
            throw new TursoBackupException(FailureKind.NotFound, id == null
                    ? $"The vault '{vault.Root}' has no backup of '{database}'. List what it has with Get-TursoBackup -Vault '{vault.Root}'."
                    : $"The vault '{vault.Root}' has no backup '{id}' of '{database}'. List them with Get-TursoBackup -Vault '{vault.Root}' -Database '{database}'.",
                id ?? database);
        }

        /// <summary>
        /// A backup given as an object (the pipeline), as its manifest says now: its folder must lie in its vault and
        /// the manifest there must name it (the index a listing came from, or the object itself, may be wrong).
        /// An object without a vault is used as it is.
        /// </summary>
        protected static BackupInfo ReloadBackup(BackupInfo backup) =>
            backup.Vault == null ? backup : Engine.Vault.BackupVault.OpenExisting(backup.Vault).Reload(backup);

        /// <summary>What is wrong with a backup folder a listing could not read (a damaged or foreign manifest, or none).</summary>
        protected internal static string UnreadableBackup(string manifestPath, Exception ex) =>
            ex is FileNotFoundException
                ? $"The backup folder '{Path.GetDirectoryName(manifestPath)}' has no manifest ('{manifestPath}' was deleted): its artifact cannot be listed, tested or restored by name."
                : $"The manifest '{manifestPath}' cannot be read ({ex.Message}).";

        protected override void StopProcessing()
        {
            cancellation?.Cancel();
        }

        protected override void EndProcessing()
        {
            FlushVerbose();
            cancellation?.Dispose();
        }

        /// <summary>A fresh activity id for one progress bar.</summary>
        protected static int NewActivityId() => Interlocked.Increment(ref nextActivityId);

        /// <summary>-Timestamp as the contract reads it (DateTimeOffset, DateTime or ISO 8601 text).</summary>
        protected internal static DateTimeOffset ParseTimestamp(object value) =>
            Engine.Wal.Timestamps.Parse(value is PSObject pso ? pso.BaseObject : value);

        /// <summary>
        /// A snapshot of a database about to be replaced, into the vault: marked as an emergency backup in its manifest
        /// (what it replaced and why; name-based selection skips it) and tagged 'emergency' and why.
        /// </summary>
        protected BackupInfo EmergencyBackup(string existing, string vaultRoot, string why) =>
            new Engine.Backup.SnapshotBackup { Log = WriteVerbose }.Run(new Engine.Backup.BackupRequest
            {
                SourcePath = existing,
                VaultPath = vaultRoot,
                Tags = new[] { "emergency", why },
                Emergency = new EmergencyInfo { Replaced = existing, Reason = why },
            }, Cancellation);

        /// <summary>Resolves a path that may not exist yet against the current PowerShell location.</summary>
        protected string ResolveNewPath(string path) => GetUnresolvedProviderPathFromPSPath(path);

        /// <summary>Resolves an existing path (wildcards allowed); a miss is a non-terminating ObjectNotFound error.</summary>
        protected IEnumerable<string> ResolveExistingPaths(string path)
        {
            if (!WildcardPattern.ContainsWildcardCharacters(path))
            {
                string resolved = GetUnresolvedProviderPathFromPSPath(path);
                if (File.Exists(resolved) || Directory.Exists(resolved)) return new[] { resolved };
                WriteFailure(new TursoBackupException(FailureKind.NotFound,
                    $"Database file '{resolved}' does not exist. Check the path (relative paths are resolved against the current location); nothing was written.", resolved));
                return new string[0];
            }
            try
            {
                return GetResolvedProviderPathFromPSPath(path, out _);
            }
            catch (ItemNotFoundException)
            {
                WriteFailure(new TursoBackupException(FailureKind.NotFound, $"No file matches '{path}'. Check the path and the wildcard.", path));
                return new string[0];
            }
        }

        /// <summary>Reports an engine failure as a non-terminating error with a matching category.</summary>
        protected internal void WriteFailure(TursoBackupException ex) => WriteError(ToErrorRecord(ex));

        protected internal void ThrowFailure(TursoBackupException ex) => ThrowTerminatingError(ToErrorRecord(ex));

        protected ErrorRecord ToErrorRecord(TursoBackupException ex)
        {
            string command = MyInvocation?.MyCommand?.Name?.Replace("-", "") ?? "TursoBackup";
            return new ErrorRecord(ex, command + "," + ex.Kind, Category(ex.Kind), ex.Target);
        }

        public static ErrorCategory Category(FailureKind kind)
        {
            switch (kind)
            {
                case FailureKind.NotFound: return ErrorCategory.ObjectNotFound;
                case FailureKind.InvalidData: return ErrorCategory.InvalidData;
                case FailureKind.InvalidArgument: return ErrorCategory.InvalidArgument;
                case FailureKind.PermissionDenied: return ErrorCategory.PermissionDenied;
                case FailureKind.AlreadyExists: return ErrorCategory.ResourceExists;
                case FailureKind.Busy: return ErrorCategory.ResourceBusy;
                case FailureKind.WriteFailed: return ErrorCategory.WriteError;
                case FailureKind.NotEnabled: return ErrorCategory.NotEnabled;
                case FailureKind.OperationStopped: return ErrorCategory.OperationStopped;
                default: return ErrorCategory.NotSpecified;
            }
        }

        /// <summary>
        /// Runs engine work, turning its failures into non-terminating errors; I/O and permission exceptions that
        /// escaped the engine are reported the same way. Returns false when the work failed.
        /// </summary>
        protected bool TryRun(Action work, object target)
        {
            try
            {
                work();
                return true;
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
            }
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }
            catch (UnauthorizedAccessException ex)
            {
                WriteFailure(new TursoBackupException(FailureKind.PermissionDenied, ex.Message + " Run as an account with access, or choose another location.", target, ex));
            }
            catch (IOException ex)
            {
                WriteFailure(new TursoBackupException(FailureKind.WriteFailed, ex.Message + " Check the disk and the path, then try again.", target, ex));
            }
            return false;
        }

        /// <summary>Shows progress for one activity; <see cref="CompleteProgress"/> must follow.</summary>
        protected void ShowProgress(int activityId, string activity, string status, int percent)
        {
            WriteProgress(new ProgressRecord(activityId, activity, status) { PercentComplete = Math.Max(0, Math.Min(100, percent)) });
        }

        protected void CompleteProgress(int activityId, string activity)
        {
            WriteProgress(new ProgressRecord(activityId, activity, "Done") { RecordType = ProgressRecordType.Completed });
        }
    }
}
