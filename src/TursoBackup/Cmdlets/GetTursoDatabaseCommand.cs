using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>Lists the databases of the connected Turso Cloud organization.</summary>
    [Cmdlet(VerbsCommon.Get, "TursoDatabase")]
    [OutputType(typeof(TursoDatabase))]
    public sealed class GetTursoDatabaseCommand : TursoCmdlet
    {
        /// <summary>Database names; wildcards allowed (default: all).</summary>
        [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [SupportsWildcards]
        public string[] Name { get; set; }

        /// <summary>Only the databases of this group.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string Group { get; set; }

        protected override void ProcessRecord()
        {
            TryRun(() =>
            {
                var client = CloudSession.Require(VerboseFromAnyThread);
                if (Name != null && Name.Length == 1 && !WildcardPattern.ContainsWildcardCharacters(Name[0]) && Group == null)
                {
                    WriteObject(client.GetDatabase(Name[0], Cancellation));
                    return;
                }
                var patterns = Name == null ? null : System.Array.ConvertAll(Name, n => new WildcardPattern(n, WildcardOptions.IgnoreCase));
                foreach (var db in client.ListDatabases(Group, null, Cancellation))
                {
                    if (patterns == null || System.Array.Exists(patterns, p => p.IsMatch(db.Name))) WriteObject(db);
                }
            }, Name == null ? "*" : string.Join(",", Name));
        }
    }
}
