using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Vault;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Lists the backups in a vault, newest first.</summary>
    [Cmdlet(VerbsCommon.Get, "TursoBackup")]
    [OutputType(typeof(BackupInfo))]
    public sealed class GetTursoBackupCommand : TursoCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[] Database { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Id { get; set; }

        [Parameter]
        public SwitchParameter Latest { get; set; }

        /// <summary>With -Latest: the newest backup of each database even when it is an emergency backup.</summary>
        [Parameter]
        public SwitchParameter IncludeEmergency { get; set; }

        [Parameter]
        public BackupKind[] Kind { get; set; }

        /// <summary>Only backups created before this time.</summary>
        [Parameter]
        public DateTimeOffset? Before { get; set; }

        /// <summary>Only backups created at or after this time.</summary>
        [Parameter]
        public DateTimeOffset? After { get; set; }

        [Parameter]
        public BackupTier[] Tier { get; set; }

        [Parameter]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[] Tag { get; set; }

        protected override void ProcessRecord()
        {
            BackupVault vault;
            try
            {
                vault = BackupVault.OpenExisting(ResolveNewPath(Vault));
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
                return;
            }
            var patterns = (Database ?? new[] { "*" }).Select(d => new WildcardPattern(d, WildcardOptions.IgnoreCase)).ToArray();
            WriteVerbose($"Reading manifests in vault '{vault.Root}'.");
            var all = vault.List(null, (manifest, ex) =>
            {
                // Only what cannot be read of the databases asked for.
                string database = System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(manifest)));
                if (!patterns.Any(p => p.IsMatch(database))) return;
                WriteFailure(new TursoBackupException(FailureKind.InvalidData,
                    UnreadableBackup(manifest, ex) + " That backup is skipped. Inspect the folder; repair its manifest or remove it.", manifest, ex));
            });
            IEnumerable<BackupInfo> selected = all.Where(b => patterns.Any(p => p.IsMatch(b.Database)));
            if (Id != null) selected = selected.Where(b => string.Equals(b.Id, Id, StringComparison.OrdinalIgnoreCase));
            if (Kind != null) selected = selected.Where(b => Kind.Contains(b.Kind));
            if (Before.HasValue) selected = selected.Where(b => b.CreatedAt < Before.Value);
            if (After.HasValue) selected = selected.Where(b => b.CreatedAt >= After.Value);
            if (Tier != null) selected = selected.Where(b => Tier.Contains(b.Tier));
            if (Tag != null)
            {
                var tagPatterns = Tag.Select(t => new WildcardPattern(t, WildcardOptions.IgnoreCase)).ToArray();
                selected = selected.Where(b => (b.Tags ?? new string[0]).Any(t => tagPatterns.Any(p => p.IsMatch(t))));
            }
            if (Latest)
            {
                // The newest backup of a database by name is never an emergency backup (of a file a restore or import replaced), unless asked.
                if (!IncludeEmergency) selected = selected.Where(b => b.Emergency == null);
                selected = selected.GroupBy(b => b.Database).Select(g => g.First());
            }
            var list = selected.ToList();
            if (list.Count == 0 && (Id != null || (Database != null && !Database.Any(WildcardPattern.ContainsWildcardCharacters))))
            {
                string what = Id != null ? $"backup '{Id}'" : $"backups of '{string.Join("', '", Database)}'";
                WriteFailure(new TursoBackupException(FailureKind.NotFound,
                    $"The vault '{vault.Root}' has no {what}. List what it has with Get-TursoBackup -Vault '{vault.Root}'.", Id ?? (object)string.Join(",", Database)));
                return;
            }
            foreach (var b in list) WriteObject(b);
        }
    }
}
