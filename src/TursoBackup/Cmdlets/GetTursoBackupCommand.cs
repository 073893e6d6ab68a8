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
                vault = BackupVault.OpenExisting(ResolveVaultForRead(Vault));
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
                return;
            }
            var patterns = (Database ?? new[] { "*" }).Select(d => new WildcardPattern(d, WildcardOptions.IgnoreCase)).ToArray();
            WriteVerbose($"Reading manifests in vault '{VaultName(vault.Root)}'.");
            var unreadable = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            var all = vault.List(null, (manifest, ex) =>
            {
                // Only what cannot be read of the databases asked for.
                string database = System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(manifest)));
                if (!patterns.Any(p => p.IsMatch(database))) return;
                unreadable.Add(database);
                WriteFailure(new TursoBackupException(FailureKind.InvalidData,
                    UnreadableBackup(manifest, ex) + " That backup is skipped. Inspect the folder; repair its manifest or remove it.", manifest, ex));
            });
            var ofDatabases = all.Where(b => patterns.Any(p => p.IsMatch(b.Database))).ToList();
            // An error only for what truly is not there: a database named without wildcards that has no backup at all (one
            // whose backups could not be read was reported above), or an -Id that none of the databases has. Filters
            // (-Kind, -Before, -After, -Tier, -Tag, -Latest) that match nothing are an empty result, silently.
            var missing = new List<string>();
            foreach (var name in (Database ?? new string[0]).Where(d => !WildcardPattern.ContainsWildcardCharacters(d)))
            {
                if (!ofDatabases.Any(b => string.Equals(b.Database, name, StringComparison.OrdinalIgnoreCase)) && !unreadable.Contains(name)) missing.Add(name);
            }
            if (missing.Count > 0)
            {
                WriteFailure(new TursoBackupException(FailureKind.NotFound,
                    $"The vault '{VaultName(vault.Root)}' has no backups of '{string.Join("', '", missing)}'. List what it has with Get-TursoBackup -Vault '{VaultName(vault.Root)}'.", string.Join(",", missing))
                    { ErrorId = ErrorIds.BackupNotFound });
            }
            if (Id != null && !ofDatabases.Any(b => string.Equals(b.Id, Id, StringComparison.OrdinalIgnoreCase)) && missing.Count == 0)
            {
                WriteFailure(new TursoBackupException(FailureKind.NotFound,
                    $"The vault '{VaultName(vault.Root)}' has no backup '{Id}'" + (Database != null ? $" of '{string.Join("', '", Database)}'" : "") +
                    $". List what it has with Get-TursoBackup -Vault '{VaultName(vault.Root)}'.", Id) { ErrorId = ErrorIds.BackupNotFound });
                return;
            }
            IEnumerable<BackupInfo> selected = ofDatabases;
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
            foreach (var b in selected) WriteObject(b);
        }
    }
}
