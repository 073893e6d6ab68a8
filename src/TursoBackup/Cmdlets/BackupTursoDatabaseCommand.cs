using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Errors;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Backs up local SQLite/libSQL databases into a vault as consistent snapshots. Databases from the pipeline are
    /// backed up in parallel (-ThrottleLimit); one database's failure is a non-terminating error and the others
    /// finish. Engine work runs on worker threads; everything PowerShell sees (output, errors, verbose, progress) is
    /// written from the pipeline thread.
    /// </summary>
    [Cmdlet(VerbsData.Backup, "TursoDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = ParameterSets.Path)]
    [OutputType(typeof(BackupInfo))]
    public sealed class BackupTursoDatabaseCommand : TursoCmdlet
    {
        private readonly BlockingCollection<Action> pipelineActions = new BlockingCollection<Action>();
        private int running;
        private int queued;
        private int finished;
        private long bytesDone;

        /// <summary>Database files; wildcards are expanded. Binds strings from the pipeline, and an object's Path property.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.Path)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[] Path { get; set; }

        /// <summary>Database files taken as they are (never expanded); FileInfo (Get-ChildItem) binds here by PSPath / FullName.</summary>
        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.LiteralPath)]
        [Alias("PSPath", "LP", "FullName")]
        [ValidateNotNullOrEmpty]
        public string[] LiteralPath { get; set; }

        /// <summary>A remote libSQL / Turso database (libsql://, https://, http://), backed up as a SQL dump; a TursoBranch binds by its Url.</summary>
        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.Url)]
        [ValidateNotNullOrEmpty]
        public string Url { get; set; }

        /// <summary>The database token for -Url (default: $env:TURSO_AUTH_TOKEN); plain text is accepted and kept as a SecureString.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.Url)]
        [SecretTransformation]
        public System.Security.SecureString AuthToken { get; set; }

        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter(ParameterSetName = ParameterSets.Path)]
        [Parameter(ParameterSetName = ParameterSets.LiteralPath)]
        [Parameter(ParameterSetName = ParameterSets.Url, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; }

        /// <summary>Snapshot (a SQLite file), Dump (SQL text that sqlite3 loads) or Incremental (pages in the vault's page store, each stored once).</summary>
        [Parameter]
        public BackupKind Kind { get; set; } = BackupKind.Snapshot;

        [Parameter]
        public CompressionKind Compression { get; set; } = CompressionKind.Zstd;

        [Parameter]
        public BackupTier Tier { get; set; } = BackupTier.General;

        [Parameter]
        [ValidateNotNull]
        public string[] Tag { get; set; } = new string[0];

        [Parameter]
        public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>Where a compressed snapshot's uncompressed copy is made (outside the vault); the temp folder by default.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string ScratchPath { get; set; }

        /// <summary>Encrypts the backup (OpenPGP AES-256) for this passphrase (default: $env:TURSO_BACKUP_PASSPHRASE); plain text is accepted and kept as a SecureString.</summary>
        [Parameter]
        [SecretTransformation]
        public System.Security.SecureString Passphrase { get; set; }

        /// <summary>Encrypts the backup for these OpenPGP public keys (files as `gpg --export [--armor]` writes them, or armored text): each one's secret key opens it, and this host cannot.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] Recipient { get; set; }

        /// <summary>How many databases are backed up at the same time.</summary>
        [Parameter]
        [ValidateRange(1, 64)]
        public int ThrottleLimit { get; set; } = 4;

        private Engine.Crypto.EncryptionKeys keys;

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            // One set of keys for the whole pipeline: its session key is wrapped once (one passphrase derivation), not per database.
            keys = WriteKeys(Passphrase, Recipient);
        }

        protected override void ProcessRecord()
        {
            string vault = ResolveNewPath(Vault);
            if (ParameterSetName == ParameterSets.Url)
            {
                if (ShouldProcessUnattended(Url, $"Back up as a SQL dump into vault '{vault}'" + (Name != null ? $" as '{Name}'" : ""), "Backing up", "back it up", "written"))
                {
                    RunPipelineActions(untilFreeSlot: true);
                    Start(Url, vault, Name, remote: true);
                }
                RunPipelineActions(untilFreeSlot: false);
                return;
            }
            bool literal = ParameterSetName == ParameterSets.LiteralPath;
            foreach (var input in literal ? LiteralPath : Path)
            {
                foreach (var source in ResolveExistingPaths(input, literal))
                {
                    // A local database's -Name counts only from the command line (a piped FileInfo's Name is "x.db").
                    string given = FromCommandLine(nameof(Name)) ? Name : null;
                    string name = given ?? SnapshotBackup.DefaultName(source);
                    if (!ShouldProcessUnattended(source, $"Back up as '{name}' into vault '{vault}'", "Backing up", "back it up", "written")) continue;
                    RunPipelineActions(untilFreeSlot: true);
                    Start(source, vault, given);
                }
            }
            RunPipelineActions(untilFreeSlot: false);
        }

        protected override void EndProcessing()
        {
            while (Volatile.Read(ref running) > 0 || pipelineActions.Count > 0)
            {
                if (pipelineActions.TryTake(out var action, 250)) action();
            }
            if (queued > 1) CompleteProgress(ActivityId, "Backing up databases");
            base.EndProcessing();
        }

        private void Start(string source, string vault, string name, bool remote = false)
        {
            Interlocked.Increment(ref running);
            queued++;
            int activity = NewActivityId();
            var request = new BackupRequest
            {
                SourcePath = remote ? null : source,
                SourceUrl = remote ? source : null,
                AuthToken = remote ? RemoteAuth.Token(AuthToken) : null,
                VaultPath = vault,
                Name = name,
                Compression = Compression,
                Kind = Kind,
                Tier = Tier,
                Tags = Tag,
                LockTimeout = LockTimeout,
                ScratchPath = ScratchPath == null ? null : ResolveNewPath(ScratchPath),
                Encryption = keys,
            };
            var engine = new SnapshotBackup
            {
                Log = message => Post(() => WriteVerbose(message)),
                Progress = Throttled(p => Post(() => ShowDatabaseProgress(activity, source, p))),
            };
            var token = Cancellation;
            Task.Run(() =>
            {
                BackupInfo info = null;
                Exception failure = null;
                try
                {
                    info = engine.Run(request, token);
                }
                catch (Exception ex)
                {
                    failure = ex;
                }
                Post(() =>
                {
                    CompleteProgress(activity, "Backing up " + source);
                    finished++;
                    if (info != null)
                    {
                        bytesDone += info.SourceBytes;
                        WriteObject(info);
                    }
                    else if (failure is TursoBackupException || failure is System.IO.IOException || failure is UnauthorizedAccessException)
                    {
                        TryRun(() => throw failure, source);
                    }
                    else if (!(failure is OperationCanceledException))
                    {
                        WriteError(new ErrorRecord(failure, ErrorIds.Unexpected, ErrorCategory.NotSpecified, source));
                    }
                    if (queued > 1)
                    {
                        ShowProgress(ActivityId, "Backing up databases", $"{finished} of {queued} databases done, {bytesDone / 1048576.0:N1} MiB", finished * 100 / queued);
                    }
                });
                Interlocked.Decrement(ref running);
                Post(() => { }); // wake the pipeline thread
            });
        }

        /// <summary>Runs what the workers posted; with <paramref name="untilFreeSlot"/>, waits until a worker slot is free.</summary>
        private void RunPipelineActions(bool untilFreeSlot)
        {
            while (pipelineActions.TryTake(out var action)) action();
            while (untilFreeSlot && Volatile.Read(ref running) >= ThrottleLimit)
            {
                if (pipelineActions.TryTake(out var action, 250)) action();
            }
        }

        private void Post(Action action) => pipelineActions.Add(action);

        private void ShowDatabaseProgress(int activity, string source, BackupProgress p)
        {
            string unit = p.Phase == "Copying" ? "pages" : p.Phase == "Dumping" ? "rows" : "bytes";
            string status = p.Total > 0 ? $"{p.Phase}: {p.Done:N0} of {p.Total:N0} {unit}" : $"{p.Phase}: {p.Done:N0} {unit}";
            var record = new ProgressRecord(activity, "Backing up " + source, status)
            {
                PercentComplete = p.Total > 0 ? p.Percent : -1,
                ParentActivityId = queued > 1 ? ActivityId : -1,
            };
            WriteProgress(record);
        }

        private static Action<BackupProgress> Throttled(Action<BackupProgress> report)
        {
            var clock = Stopwatch.StartNew();
            return p =>
            {
                if (clock.ElapsedMilliseconds < 250 && p.Done < p.Total) return;
                clock.Restart();
                report(p);
            };
        }
    }
}
