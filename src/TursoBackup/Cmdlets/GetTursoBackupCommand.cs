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
            var all = vault.List(null, (manifest, ex) => WriteFailure(new TursoBackupException(FailureKind.InvalidData,
                $"The manifest '{manifest}' cannot be read ({ex.Message}); that backup is skipped. Inspect or remove its folder.", manifest, ex)));
            IEnumerable<BackupInfo> selected = all.Where(b => patterns.Any(p => p.IsMatch(b.Database)));
            if (Id != null) selected = selected.Where(b => string.Equals(b.Id, Id, System.StringComparison.OrdinalIgnoreCase));
            if (Latest) selected = selected.GroupBy(b => b.Database).Select(g => g.First());
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
