using System;
using System.Linq;
using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Retention;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Verification;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Applies grandfather-father-son retention to a vault: decides per backup (RetentionPlanner), returns every
    /// decision with its reason, and removes the others under ShouldProcess (-WhatIf shows the plan).
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "TursoBackupRetention", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(RetentionDecision))]
    public sealed class InvokeTursoBackupRetentionCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter(Position = 1)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[] Database { get; set; }

        [Parameter]
        [ValidateRange(0, 10000)]
        public int Daily { get; set; } = 7;

        [Parameter]
        [ValidateRange(0, 10000)]
        public int Weekly { get; set; } = 4;

        [Parameter]
        [ValidateRange(0, 10000)]
        public int Monthly { get; set; } = 12;

        [Parameter]
        [ValidateRange(0, 100000)]
        public int KeepLast { get; set; }

        /// <summary>Backups younger than this are never removed.</summary>
        [Parameter]
        public TimeSpan MinimumAge { get; set; } = TimeSpan.Zero;

        /// <summary>
        /// How far back the WAL archive must reach: a generation (its snapshot and segments, removed together) goes once
        /// the generation after it began longer ago than this; the newest generation always stays. Default: 90 days for
        /// an offsite vault; a local archive is pruned by its archiver (Start-TursoWalArchive -Retention) unless this is given.
        /// </summary>
        [Parameter]
        public TimeSpan WalRetention { get; set; }

        protected override void ProcessRecord()
        {
            BackupVault vault;
            var policy = new RetentionPolicy(Daily, Weekly, Monthly, KeepLast) { MinimumAge = MinimumAge };
            try
            {
                policy.Validate();
                vault = BackupVault.OpenExisting(ResolveVaultForRead(Vault));
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
                return;
            }
            if (policy.KeepsOnlyProtected)
            {
                WriteWarning("Every retention rule is 0: only the newest backup, the newest verified one and pinned ones are kept (and the newest emergency backup).");
            }
            var patterns = (Database ?? new[] { "*" }).Select(d => new WildcardPattern(d, WildcardOptions.IgnoreCase)).ToArray();
            var now = DateTimeOffset.UtcNow;
            foreach (var database in vault.DatabaseNames().Where(n => patterns.Any(p => p.IsMatch(n))))
            {
                var backups = vault.List(database, (manifest, ex) => WriteFailure(new TursoBackupException(FailureKind.InvalidData,
                    UnreadableBackup(manifest, ex) + " Retention leaves that folder alone. Inspect it; repair its manifest or remove it.", manifest, ex)));
                var verified = VerificationLog.PassedBackupIds(vault.Root, database);
                WriteVerbose($"'{database}': {backups.Count} backup(s), {verified.Count} with a passing Test-Backup; policy {policy}.");
                bool removedAny = false;
                foreach (var decision in RetentionPlanner.Plan(backups, policy, now, verified))
                {
                    if (!decision.Keep && ShouldProcessUnattended($"{decision.Database}/{decision.Id} ({decision.CreatedAt:u})", "Remove backup (" + decision.Reason + ")",
                            "Removing backup", "apply retention", "removed"))
                    {
                        decision.Removed = TryRun(() => RemoveBackup(vault, decision.Backup), decision.Id);
                        removedAny |= decision.Removed;
                    }
                    WriteObject(decision);
                }
                // Once per database, after its removals: the pages of its page store no kept Incremental backup holds.
                if (removedAny && backups.Any(b => b.Kind == BackupKind.Incremental)) TryRun(() => vault.CollectPages(database, WriteVerbose, Cancellation), database);
            }
            var offsite = Engine.Offsite.OffsiteVault.ForMirror(vault.Root);
            TimeSpan? walRetention = MyInvocation.BoundParameters.ContainsKey(nameof(WalRetention)) ? WalRetention : offsite != null ? TimeSpan.FromDays(90) : (TimeSpan?)null;
            if (walRetention.HasValue) PruneWal(vault, offsite, patterns, now - walRetention.Value, walRetention.Value);
        }

        /// <summary>Removes a backup; from an offsite vault its manifest goes first (it is no longer listed), then its files, then the mirror's copy.</summary>
        private void RemoveBackup(BackupVault vault, BackupInfo backup)
        {
            var offsite = Engine.Offsite.OffsiteVault.ForMirror(vault.Root);
            if (offsite != null)
            {
                string unit = BackupVault.DatabasesFolder + "/" + backup.Database + "/" + backup.Id + "/";
                Engine.Offsite.VaultUnits.Remove(offsite.Store, unit, unit + BackupManifest.FileName, Cancellation);
            }
            vault.Remove(backup, collectPages: false);
        }

        /// <summary>WAL generations wholly before <paramref name="keepFrom"/> (never the newest), each removed whole: its snapshot.json first, so it is never listed without its snapshot.</summary>
        private void PruneWal(BackupVault vault, Engine.Offsite.OffsiteVault offsite, WildcardPattern[] patterns, DateTimeOffset keepFrom, TimeSpan walRetention)
        {
            string walRoot = System.IO.Path.Combine(vault.Root, Engine.Wal.WalArchiveLayout.Folder);
            if (!System.IO.Directory.Exists(walRoot)) return;
            foreach (var database in System.IO.Directory.GetDirectories(walRoot).Select(System.IO.Path.GetFileName).Where(BackupVault.IsPlainName).Where(n => patterns.Any(p => p.IsMatch(n))).OrderBy(n => n, StringComparer.Ordinal))
            {
                var layout = new Engine.Wal.WalArchiveLayout(vault.Root, database);
                var generations = layout.Generations();
                for (int i = 0; i < generations.Count; i++)
                {
                    var started = Engine.Wal.WalRestore.SnapshotTime(layout, generations[i]) ?? DateTimeOffset.MinValue;
                    var nextStart = i + 1 < generations.Count ? Engine.Wal.WalRestore.SnapshotTime(layout, generations[i + 1]) : null;
                    bool remove = nextStart.HasValue && nextStart.Value < keepFrom;
                    var decision = new RetentionDecision
                    {
                        Item = "WalGeneration", Database = database, Id = generations[i], CreatedAt = started, Keep = !remove,
                        Reason = remove ? $"WAL generation older than {walRetention.TotalDays:0.#} days" : (nextStart.HasValue ? $"WAL within {walRetention.TotalDays:0.#} days" : "newest WAL generation"),
                    };
                    if (remove && ShouldProcessUnattended($"{database} WAL generation {generations[i]} ({started:u})", "Remove WAL generation (" + decision.Reason + ")", "Removing WAL generation", "apply retention", "removed"))
                    {
                        string unit = Engine.Wal.WalArchiveLayout.Folder + "/" + database + "/generations/" + generations[i] + "/";
                        decision.Removed = TryRun(() =>
                        {
                            if (offsite != null) Engine.Offsite.VaultUnits.Remove(offsite.Store, unit, unit + "snapshot.json", Cancellation);
                            Engine.Offsite.VaultUnits.Remove(new Engine.Offsite.DirectoryStore(vault.Root), unit, unit + "snapshot.json", Cancellation);
                        }, generations[i]);
                    }
                    WriteObject(decision);
                }
            }
        }
    }
}
