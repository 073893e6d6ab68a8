using System;
using System.Diagnostics;
using System.Management.Automation;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Errors;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Backs up local SQLite/libSQL databases into a vault as consistent snapshots.</summary>
    [Cmdlet(VerbsData.Backup, "TursoDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(BackupInfo))]
    public sealed class BackupTursoDatabaseCommand : TursoCmdlet
    {
        private int activityId;

        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        [ValidateNotNullOrEmpty]
        public string[] Path { get; set; }

        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; }

        [Parameter]
        public CompressionKind Compression { get; set; } = CompressionKind.Gzip;

        [Parameter]
        public BackupTier Tier { get; set; } = BackupTier.General;

        [Parameter]
        [ValidateNotNull]
        public string[] Tag { get; set; } = new string[0];

        [Parameter]
        public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            activityId = NewActivityId();
        }

        protected override void ProcessRecord()
        {
            string vault = ResolveNewPath(Vault);
            foreach (var input in Path)
            {
                foreach (var source in ResolveExistingPaths(input))
                {
                    string name = Name ?? SnapshotBackup.DefaultName(source);
                    if (!ShouldProcess(source, $"Back up as '{name}' into vault '{vault}'")) continue;
                    var engine = new SnapshotBackup
                    {
                        Log = WriteVerbose,
                        Progress = ProgressReporter(source),
                    };
                    BackupInfo info = null;
                    bool ok = TryRun(() => info = engine.Run(new BackupRequest
                    {
                        SourcePath = source,
                        VaultPath = vault,
                        Name = Name,
                        Compression = Compression,
                        Tier = Tier,
                        Tags = Tag,
                        LockTimeout = LockTimeout,
                    }, Cancellation), source);
                    CompleteProgress(activityId, "Backing up " + source);
                    if (ok) WriteObject(info);
                }
            }
        }

        private Action<BackupProgress> ProgressReporter(string source)
        {
            var throttle = Stopwatch.StartNew();
            string activity = "Backing up " + source;
            return p =>
            {
                if (throttle.ElapsedMilliseconds < 200 && p.Done < p.Total) return;
                throttle.Restart();
                string unit = p.Phase == "Copying" ? "pages" : "bytes";
                ShowProgress(activityId, activity, $"{p.Phase}: {p.Done:N0} of {p.Total:N0} {unit}", p.Percent);
            };
        }
    }
}
