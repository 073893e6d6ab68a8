using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Recovery;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Compares two databases table by table: rows added, removed and changed (by primary key, else rowid) and schema
    /// differences; -IncludeRows streams each differing row. Sources: paths, TursoBranch, BackupInfo, a point in time
    /// (-Vault -Database -Timestamp, as the reference), libSQL URLs. Both are only read.
    /// </summary>
    [Cmdlet(VerbsData.Compare, "TursoDatabase", DefaultParameterSetName = Objects)]
    [OutputType(typeof(TableComparison), typeof(RowDifference))]
    public sealed class CompareTursoDatabaseCommand : RecoveryCmdlet
    {
        private const string Objects = "Reference";
        private const string AtTime = "PointInTime";

        /// <summary>The baseline (a branch, a backup, a path, a URL); "Added" rows are in -Difference only.</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = Objects)]
        [ValidateNotNull]
        [DatabaseSourceTransformation]
        public DatabaseSource Reference { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = AtTime)]
        [ValidateNotNullOrEmpty]
        public string Vault { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = AtTime)]
        [ValidateNotNullOrEmpty]
        public string Database { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = AtTime)]
        [TimestampTransformation]
        public DateTimeOffset Timestamp { get; set; }

        /// <summary>What is compared with the reference (production, typically).</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNull]
        [DatabaseSourceTransformation]
        public DatabaseSource Difference { get; set; }

        [Parameter]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[] Table { get; set; }

        /// <summary>Writes a RowDifference for every differing row (streamed), before the table's TableComparison.</summary>
        [Parameter]
        public SwitchParameter IncludeRows { get; set; }

        protected override void ProcessRecord()
        {
            SourceDatabase reference = null, difference = null;
            try
            {
                reference = ParameterSetName == AtTime
                    ? RecoverySources.AtTime(Engine.Vault.BackupVault.OpenExisting(ResolveVaultForRead(Vault, Database)).Root, Database, Timestamp, Keys, null, VerboseFromAnyThread, Cancellation)
                    : OpenSource(Reference, "-Reference");
                difference = OpenSource(Difference, "-Difference");
                var tables = Table == null ? null : ExpandTables(reference.Path, difference.Path);
                WriteVerbose($"Comparing {difference.Description} with {reference.Description}.");
                string activity = "Comparing " + difference.Description;
                var comparer = new DatabaseComparer
                {
                    Log = VerboseFromAnyThread,
                    Progress = (table, rows) => ShowProgress(ActivityId, activity, $"{table}: {rows:N0} rows compared", -1),
                };
                var result = comparer.Compare(reference.Path, difference.Path, tables, IncludeRows ? (Action<RowDifference>)(r => { FlushVerbose(); WriteObject(r); }) : null, Cancellation);
                CompleteProgress(ActivityId, activity);
                foreach (var t in result) WriteObject(t);
            }
            catch (TursoBackupException ex)
            {
                WriteFailure(ex);
            }
            finally
            {
                reference?.Dispose();
                difference?.Dispose();
            }
        }

        /// <summary>The -Table patterns as the table names of either database; a pattern that matches nothing is an error.</summary>
        private List<string> ExpandTables(string a, string b)
        {
            var names = new SortedSet<string>(RecoverySources.TableNames(a), StringComparer.Ordinal);
            names.UnionWith(RecoverySources.TableNames(b));
            var chosen = new List<string>();
            foreach (var p in Table)
            {
                var pattern = new WildcardPattern(p, WildcardOptions.IgnoreCase);
                var matched = names.Where(n => pattern.IsMatch(n)).ToList();
                if (matched.Count == 0)
                {
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"No table matches -Table '{p}' in either database. The tables are: {string.Join(", ", names)}.", p) { ErrorId = "TableNotFound" };
                }
                chosen.AddRange(matched.Where(m => !chosen.Contains(m)));
            }
            return chosen;
        }
    }
}
