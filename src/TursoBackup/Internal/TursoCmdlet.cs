using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
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
    public abstract partial class TursoCmdlet : PSCmdlet
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
            // A stopping pipeline refuses every Write* call: work that must finish then (the archiver's seal) logs to the queue.
            if (Thread.CurrentThread.ManagedThreadId == pipelineThread && !Stopping)
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
            if (Stopping) return;
            while (verboseQueue.TryDequeue(out var message))
            {
                if (message.StartsWith(QueuedWarning, StringComparison.Ordinal)) WriteWarning(message.Substring(QueuedWarning.Length));
                else WriteVerbose(message);
            }
        }

        private HashSet<string> commandLine = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

        /// <summary>
        /// Whether <paramref name="parameter"/> was given on the command line (not bound from a pipeline object's
        /// property): a FileInfo piped to -LiteralPath also offers its Name, which means nothing to a local -Name.
        /// </summary>
        protected bool FromCommandLine(string parameter) => commandLine.Contains(parameter);

        protected override void BeginProcessing()
        {
            commandLine = new HashSet<string>(MyInvocation.BoundParameters.Keys, StringComparer.OrdinalIgnoreCase);
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
            var vault = Engine.Vault.BackupVault.OpenExisting(ResolveVaultForRead(vaultPath));
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
                             $" Repair or remove it (Get-TursoBackup -Vault '{VaultName(vault.Root)}' -Database '{database}' lists what cannot be read).");
            }
            if (backup != null) return FetchIfOffsite(backup);
            if (id == null && !includeEmergency && vault.List(database).Any(b => b.Emergency != null))
            {
                throw new TursoBackupException(FailureKind.NotFound,
                    $"The vault '{VaultName(vault.Root)}' has only emergency backups of '{database}' (taken of files a restore or import replaced). " +
                    $"Pass -IncludeEmergency to use the newest of them, or choose one with -Id (Get-TursoBackup -Vault '{VaultName(vault.Root)}' -Database '{database}' lists them).", database)
                { ErrorId = ErrorIds.OnlyEmergencyBackups };
            }
            throw new TursoBackupException(FailureKind.NotFound, id == null
                    ? $"The vault '{VaultName(vault.Root)}' has no backup of '{database}'. List what it has with Get-TursoBackup -Vault '{VaultName(vault.Root)}'."
                    : $"The vault '{VaultName(vault.Root)}' has no backup '{id}' of '{database}'. List them with Get-TursoBackup -Vault '{VaultName(vault.Root)}' -Database '{database}'.",
                id ?? database) { ErrorId = ErrorIds.BackupNotFound };
        }

        /// <summary>
        /// A backup given as an object (the pipeline), as its manifest says now: its folder must lie in its vault and
        /// the manifest there must name it (the index a listing came from, or the object itself, may be wrong).
        /// An object without a vault is used as it is; one listed from an offsite vault has its artifact fetched.
        /// </summary>
        protected BackupInfo ReloadBackup(BackupInfo backup) =>
            backup.Vault == null ? backup : FetchIfOffsite(Engine.Vault.BackupVault.OpenExisting(backup.Vault).Reload(backup));

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
            EndOffsiteNarration();
            FlushVerbose();
            cancellation?.Dispose();
        }

        /// <summary>A fresh activity id for one progress bar.</summary>
        protected static int NewActivityId() => Interlocked.Increment(ref nextActivityId);

        /// <summary>
        /// Files the consistent copy of a database about to be replaced (taken by the engine's DatabaseWriter under the
        /// database's write lock) into the vault as an emergency backup under the replaced file's name: marked as such in
        /// its manifest (what it replaced and why; name-based selection skips it) and tagged 'emergency' and why.
        /// </summary>
        /// When the vault is an offsite vault's mirror, the emergency backup is sent to that vault before anything is replaced.
        /// <param name="keys">What the emergency backup is encrypted for (see <see cref="EmergencyKeys"/>); null: plain, unless the vault requires encryption (then refused).</param>
        protected Engine.Files.EmergencyFiler EmergencyFiler(string vaultRoot, string why, Engine.Crypto.EncryptionKeys keys = null) => (copy, replaced) =>
        {
            var filed = new Engine.Backup.SnapshotBackup { Log = VerboseFromAnyThread }.Run(new Engine.Backup.BackupRequest
            {
                SourcePath = copy,
                VaultPath = vaultRoot,
                Name = EmergencyName(replaced),
                Tags = new[] { "emergency", why },
                Emergency = new EmergencyInfo { Replaced = replaced, Reason = why },
                Encryption = keys,
            }, Cancellation);
            var offsite = Engine.Offsite.OffsiteVault.ForMirror(vaultRoot);
            if (offsite != null)
            {
                string unit = Engine.Vault.BackupVault.DatabasesFolder + "/" + filed.Database + "/" + filed.Id + "/";
                var sent = new Engine.Offsite.VaultSync(new Engine.Offsite.DirectoryStore(vaultRoot), offsite.Store) { Filter = k => k.StartsWith(unit, StringComparison.Ordinal) || k == "vault.json", Log = VerboseFromAnyThread }.Run(Cancellation);
                if (sent.Failed > 0)
                {
                    throw new TursoBackupException(FailureKind.WriteFailed, $"The emergency backup of '{replaced}' could not be sent to the offsite vault {offsite.Address.DisplayName} ({sent.FailedItems.First().Reason}). Nothing was replaced.", replaced);
                }
                VerboseFromAnyThread($"Emergency backup {filed.Id} of '{replaced}' sent to {offsite.Address.DisplayName}.");
            }
            return filed;
        };

        /// <summary>The vault name an emergency backup of <paramref name="replaced"/> is filed under (a usable folder name even for '.hidden.db').</summary>
        internal static string EmergencyName(string replaced)
        {
            var name = new System.Text.StringBuilder();
            foreach (char c in System.IO.Path.GetFileNameWithoutExtension(replaced))
            {
                name.Append(char.IsLetterOrDigit(c) || c == '-' || c == '_' || c == '.' ? c : '_');
            }
            string result = name.ToString().TrimStart('.');
            return result.Length == 0 ? "database" : (result.Length > 200 ? result.Substring(0, 200) : result);
        }

        /// <summary>
        /// The one way every cmdlet asks before it writes a database file: a new file only goes through ShouldProcess
        /// (-WhatIf; no prompt by default); an existing one needs -Force (else a ResourceExists error), then
        /// ShouldProcess, then a confirmation that -Confirm:$false skips. A session that cannot ask (non-interactive)
        /// gets an error that says to add -Confirm:$false, and nothing is written. Returns whether to go on, and whether
        /// the target holds data.
        /// </summary>
        protected bool ShouldWriteDatabase(string target, bool force, string createAction, string replaceAction, out bool exists, string forceHint = null)
        {
            exists = false;
            try
            {
                exists = Engine.Files.DatabaseWriter.CheckOverwrite(target, force, forceHint);
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
                return false;
            }
            return exists ? ShouldOverwrite(target, replaceAction, "Replace a database") : ShouldProcessUnattended(target, createAction, "Writing", "write it", "written", terminating: false);
        }

        /// <summary>
        /// Overwriting an existing file (after -Force): ShouldProcess (-WhatIf), then a confirmation that -Confirm:$false
        /// skips (-Confirm asks once, through ShouldProcess). A session that cannot ask gets a ConfirmationRequired error
        /// (non-terminating: the next target is judged on its own) and nothing is written.
        /// </summary>
        protected bool ShouldOverwrite(string target, string replaceAction, string caption)
        {
            if (!ShouldProcessUnattended(target, replaceAction, "Replacing", "replace it", "written", terminating: false)) return false;
            bool confirmOff = MyInvocation.BoundParameters.TryGetValue("Confirm", out var confirm) && !((SwitchParameter)confirm).IsPresent;
            bool confirmOn = MyInvocation.BoundParameters.ContainsKey("Confirm") && !confirmOff; // ShouldProcess already asked
            if (confirmOff || confirmOn) return true;
            try
            {
                return ShouldContinue($"{replaceAction}: '{target}'?", caption);
            }
            catch (Exception ex) when (CannotPrompt(ex))
            {
                WriteFailure(ConfirmationRequired(target, "Replacing", "replace it", "written", ex));
                return false;
            }
        }

        /// <summary>
        /// ShouldProcess for work that may prompt (ConfirmImpact High: removing; or any cmdlet under -Confirm or a low
        /// $ConfirmPreference). When the session cannot prompt (pwsh -NonInteractive, a host without UI), the host's
        /// "NonInteractive mode" exception becomes a ConfirmationRequired error that says to add -Confirm:$false:
        /// terminating when <paramref name="terminating"/> (nothing further can be confirmed either), else written and false.
        /// </summary>
        protected internal bool ShouldProcessUnattended(string target, string action, string doing, string doIt, string done, bool terminating = true)
        {
            try
            {
                return ShouldProcess(target, action);
            }
            catch (Exception ex) when (CannotPrompt(ex))
            {
                var failure = ConfirmationRequired(target, doing, doIt, done, ex);
                if (terminating) ThrowFailure(failure);
                WriteFailure(failure);
                return false;
            }
        }

        private static bool CannotPrompt(Exception ex) =>
            ex is PSInvalidOperationException || ex is System.Management.Automation.Host.HostException || ex is NotImplementedException;

        private static TursoBackupException ConfirmationRequired(string target, string doing, string doIt, string done, Exception cause) =>
            new TursoBackupException(FailureKind.InvalidOperation,
                $"{doing} '{target}' needs a confirmation, and this session cannot ask for one (it is non-interactive). Add -Confirm:$false to {doIt}; nothing was {done}.", target, cause)
            { ErrorId = ErrorIds.ConfirmationRequired };

        /// <summary>-Mode as admins write it (octal: 600, 0640, '0o640').</summary>
        protected internal static int ParseMode(string text)
        {
            string t = text.Trim();
            if (t.StartsWith("0o", StringComparison.OrdinalIgnoreCase)) t = t.Substring(2);
            try
            {
                int mode = Convert.ToInt32(t, 8);
                if (mode >= 0 && mode <= 0xFFF) return mode;
            }
            catch (FormatException) { }
            catch (ArgumentException) { }
            catch (OverflowException) { }
            throw new TursoBackupException(FailureKind.InvalidArgument, $"-Mode '{text}' is not an octal permission mode. Give one such as 0600 or 0640.", text) { ErrorId = "InvalidMode" };
        }

        /// <summary>Resolves a path that may not exist yet against the current PowerShell location.</summary>
        protected string ResolveNewPath(string path) => GetUnresolvedProviderPathFromPSPath(path);

        /// <summary>
        /// Resolves an existing file path as -Path and -LiteralPath do: with <paramref name="literal"/> the path is taken
        /// as it is (never expanded: 'shop[1].db' is that file); otherwise wildcards are expanded through the provider
        /// (SessionState.Path.GetResolvedProviderPathFromPSPath, as Get-FileHash does). A missing file is a non-terminating
        /// PathNotFound error, a wildcard that matches nothing an ItemNotFound error, a path of another provider
        /// (Env:, HKLM:) a NotFileSystemPath error; each returns nothing.
        /// </summary>
        protected IEnumerable<string> ResolveExistingPaths(string path, bool literal = false)
        {
            if (literal || !WildcardPattern.ContainsWildcardCharacters(path))
            {
                string resolved;
                try
                {
                    resolved = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out var provider, out _);
                    if (!IsFileSystem(provider)) return NotFileSystem(path, provider);
                }
                catch (Exception ex) when (ex is NotSupportedException || ex is ProviderNotFoundException || ex is System.Management.Automation.DriveNotFoundException || ex is PSArgumentException)
                {
                    WriteFailure(new TursoBackupException(FailureKind.NotFound, $"'{path}' is not a file-system path: {ex.Message}", path, ex) { ErrorId = ErrorIds.PathNotFound });
                    return new string[0];
                }
                if (File.Exists(resolved) || Directory.Exists(resolved)) return new[] { resolved };
                WriteFailure(new TursoBackupException(FailureKind.NotFound,
                    $"Database file '{resolved}' does not exist. Check the path (relative paths are resolved against the current location); nothing was written.", resolved)
                    { ErrorId = ErrorIds.PathNotFound });
                return new string[0];
            }
            Collection<string> matches;
            ProviderInfo matchedProvider;
            try
            {
                matches = SessionState.Path.GetResolvedProviderPathFromPSPath(path, out matchedProvider);
            }
            catch (Exception ex) when (ex is ItemNotFoundException || ex is System.Management.Automation.DriveNotFoundException || ex is ProviderNotFoundException)
            {
                matches = null;
                matchedProvider = null;
            }
            if (matches == null || matches.Count == 0)
            {
                WriteFailure(new TursoBackupException(FailureKind.NotFound,
                    $"No file matches '{path}'. Check the path and the wildcard (use -LiteralPath for a name that contains [ ] * or ?); nothing was written.", path)
                    { ErrorId = ErrorIds.ItemNotFound });
                return new string[0];
            }
            if (!IsFileSystem(matchedProvider)) return NotFileSystem(path, matchedProvider);
            return matches;
        }

        /// <summary>
        /// The one existing database a single-database cmdlet (-Path or -LiteralPath) works on, or null after a
        /// non-terminating error: missing, or a wildcard that matches more than one file.
        /// </summary>
        protected string ResolveOneExistingPath(string path, bool literal, string parameter)
        {
            var matches = ResolveExistingPaths(path, literal).ToList();
            if (matches.Count > 1)
            {
                WriteFailure(new TursoBackupException(FailureKind.InvalidArgument,
                    $"-{parameter} '{path}' matches {matches.Count} files ({string.Join(", ", matches.Take(3).Select(m => "'" + m + "'"))}{(matches.Count > 3 ? ", …" : "")}), but this command works on one database. Give one path, or pipe several: Get-ChildItem <pattern> | {MyInvocation.MyCommand.Name} ….", path)
                    { ErrorId = ErrorIds.AmbiguousPath });
                return null;
            }
            return matches.Count == 1 ? matches[0] : null;
        }

        private static bool IsFileSystem(ProviderInfo provider) =>
            provider == null || string.Equals(provider.Name, "FileSystem", StringComparison.OrdinalIgnoreCase);

        private IEnumerable<string> NotFileSystem(string path, ProviderInfo provider)
        {
            WriteFailure(new TursoBackupException(FailureKind.InvalidArgument,
                $"'{path}' is a path of the {provider.Name} provider, not a file. Give the path of a database file.", path) { ErrorId = ErrorIds.NotFileSystemPath });
            return new string[0];
        }

        /// <summary>Reports an engine failure as a non-terminating error with a matching category.</summary>
        protected internal void WriteFailure(TursoBackupException ex) => WriteError(ToErrorRecord(ex));

        protected internal void ThrowFailure(TursoBackupException ex) => ThrowTerminatingError(ToErrorRecord(ex));

        protected ErrorRecord ToErrorRecord(TursoBackupException ex)
        {
            // PowerShell appends ",<cmdlet type>" to the id: FullyQualifiedErrorId = "TimestampTooOld,TursoBackup.Cmdlets.RestoreTursoPointInTimeCommand".
            return new ErrorRecord(ex, ex.ErrorId ?? ex.Kind.ToString(), Category(ex.Kind), ex.Target);
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
                case FailureKind.InvalidOperation: return ErrorCategory.InvalidOperation;
                case FailureKind.Unreachable: return ErrorCategory.ConnectionError;
                case FailureKind.AuthenticationFailed: return ErrorCategory.AuthenticationError;
                case FailureKind.QuotaExceeded: return ErrorCategory.QuotaExceeded;
                case FailureKind.SecurityError: return ErrorCategory.SecurityError;
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
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }
            catch (Exception ex) when (IsFailure(ex))
            {
                WriteFailure(AsFailure(ex, target));
            }
            return false;
        }

        /// <summary>
        /// Like <see cref="TryRun"/>, but a failure is terminating (nothing can continue without this work); a cancellation
        /// propagates as it is, for the caller to end its own way.
        /// </summary>
        protected void RunOrThrow(Action work, object target)
        {
            try
            {
                work();
            }
            catch (Exception ex) when (IsFailure(ex))
            {
                ThrowFailure(AsFailure(ex, target));
            }
        }

        /// <summary>What engine work throws that is a failure to report: ours, access refused, and I/O.</summary>
        protected static bool IsFailure(Exception ex) => ex is TursoBackupException || ex is UnauthorizedAccessException || ex is IOException;

        /// <summary>The one translation of such an exception into a failure that says what to do next.</summary>
        protected static TursoBackupException AsFailure(Exception ex, object target)
        {
            if (ex is TursoBackupException failure) return failure;
            if (ex is UnauthorizedAccessException)
                return new TursoBackupException(FailureKind.PermissionDenied, ex.Message + " Run as an account with access, or choose another location.", target, ex);
            return new TursoBackupException(FailureKind.WriteFailed, ex.Message + " Check the disk and the path, then try again.", target, ex);
        }

        /// <summary>Shows progress for one activity; <see cref="CompleteProgress"/> must follow.</summary>
        /// <summary>
        /// Progress, at most four records a second per cmdlet (a host draws each one, and the work it reports must not
        /// wait for that): a record is dropped when the last one went out less than 250 ms ago, unless it reports 100 %.
        /// </summary>
        protected void ShowProgress(int activityId, string activity, string status, int percent)
        {
            if (percent < 100 && progressClock.IsRunning && progressClock.ElapsedMilliseconds < ProgressIntervalMs) return;
            progressClock.Restart();
            WriteProgress(new ProgressRecord(activityId, activity, status) { PercentComplete = Math.Max(0, Math.Min(100, percent)) });
        }

        private const int ProgressIntervalMs = 250;
        private readonly System.Diagnostics.Stopwatch progressClock = new System.Diagnostics.Stopwatch();

        protected void CompleteProgress(int activityId, string activity)
        {
            WriteProgress(new ProgressRecord(activityId, activity, "Done") { RecordType = ProgressRecordType.Completed });
        }
    }
}
