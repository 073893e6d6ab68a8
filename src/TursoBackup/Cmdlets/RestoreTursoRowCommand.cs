using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Text;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Recovery;
using TursoBackup.Internal;

namespace TursoBackup.Cmdlets
{
    /// <summary>
    /// Copies rows back from a source (a branch, a backup, a point in time) into a destination database in one
    /// transaction, tables in foreign-key order: -Table with -Where, or the RowDifference objects Compare-TursoDatabase
    /// -IncludeRows pipes in. What it overwrites is recorded in the vault first (Undo-TursoRecovery), and the recovery is
    /// journaled with -Reason.
    /// </summary>
    [Cmdlet(VerbsData.Restore, "TursoRow", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ByTable)]
    [OutputType(typeof(RowRecoveryResult))]
    public sealed class RestoreTursoRowCommand : RecoveryWriteCmdlet
    {
        private const string ByTable = "Table";
        private const string ByRows = "Rows";

        /// <summary>The tables to restore rows of; with several, the foreign keys decide the order (parents first).</summary>
        [Parameter(Mandatory = true, ParameterSetName = ByTable)]
        [ValidateNotNullOrEmpty]
        public string[] Table { get; set; }

        /// <summary>One SQL expression selecting the rows of the source to restore (default: all).</summary>
        [Parameter(ParameterSetName = ByTable)]
        [ValidateNotNullOrEmpty]
        public string Where { get; set; }

        /// <summary>Rows from Compare-TursoDatabase -IncludeRows: those missing (Removed) or different (Changed) in the destination are restored.</summary>
        [Parameter(ValueFromPipeline = true, ParameterSetName = ByRows)]
        public RowDifference[] InputObject { get; set; }

        /// <summary>
        /// The per-table summaries Compare-TursoDatabase -IncludeRows writes after each table's rows: taken from the pipeline
        /// and passed over (the rows say what to restore), so that Compare-TursoDatabase -IncludeRows | Restore-TursoRow works.
        /// </summary>
        [Parameter(ValueFromPipeline = true, ParameterSetName = ByRows)]
        public TableComparison[] Comparison { get; set; }

        [Parameter]
        public ConflictAction ConflictAction { get; set; } = ConflictAction.Abort;

        private readonly List<RowDifference> piped = new List<RowDifference>();

        private bool WhatIfRequested =>
            (MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) && w is SwitchParameter sw && sw.IsPresent)
            || (!MyInvocation.BoundParameters.ContainsKey("WhatIf") && LanguagePrimitives.IsTrue(SessionState.PSVariable.GetValue("WhatIfPreference")));

        protected override void ProcessRecord()
        {
            if (ParameterSetName == ByRows)
            {
                if (InputObject != null) piped.AddRange(InputObject.Where(r => r != null));
                return;
            }
            Run(Table, Where);
        }

        protected override void EndProcessing()
        {
            if (ParameterSetName == ByRows)
            {
                var wanted = piped.Where(r => r.Kind != RowChange.Added).ToList();
                if (wanted.Count == 0) WriteVerbose("No row to restore: every piped row is new in the destination (Added), which a restore leaves alone.");
                else
                {
                    // ONE recovery of every piped table, each with the predicate of its keys: parents are written first
                    // and the foreign keys hold in one transaction.
                    var byTable = wanted.GroupBy(r => r.Table, StringComparer.OrdinalIgnoreCase).ToList();
                    var where = byTable.ToDictionary(g => g.Key, g => KeyPredicate(g.ToList()), StringComparer.OrdinalIgnoreCase);
                    Run(byTable.Select(g => g.Key).ToArray(), null, where);
                }
            }
            base.EndProcessing();
        }

        private void Run(string[] tables, string where, IDictionary<string, string> tableWhere = null) => WithSource(source =>
        {
            // -Destination: a local path, or a libsql:// (https://, http://) URL of a Turso Cloud or libSQL database (token: -AuthToken or $env:TURSO_AUTH_TOKEN).
            bool remote = IsUrl(Destination);
            var request = new RowRecoveryRequest
            {
                SourcePath = source.Path,
                DestinationPath = remote ? Destination : ResolveExistingFile(Destination, "-Destination"),
                Tables = tables,
                Where = where,
                TableWhere = tableWhere,
                ConflictAction = ConflictAction,
                Reason = Reason,
                VaultPath = VaultRoot(),
                LockTimeout = LockTimeout,
                Log = VerboseFromAnyThread,
            };
            if (WhatIfRequested)
            {
                // -WhatIf: what each table would get, as ShouldProcess says it ("What if: …"), and nothing is written.
                var plans = remote ? RemoteRowRecovery.Plan(request, Destination, RemoteAuth.Token(AuthToken)) : RowRecovery.Plan(request);
                foreach (var p in plans)
                {
                    ShouldProcess(request.DestinationPath, $"Restore rows of '{p.Table}' from {source.Description}: {p.Matched:N0} matched, would insert {p.WouldInsert:N0}, replace {p.WouldReplace:N0}, skip {p.WouldSkip:N0}" +
                        (p.Conflicts > 0 ? $" ({p.Conflicts:N0} conflicting; first {p.FirstConflict})" : "") + (p.Sample.Length > 0 ? "; e.g. " + string.Join(" ", p.Sample) : ""));
                }
                return;
            }
            string action = $"Restore rows of {string.Join(", ", tables)} from {source.Description}";
            bool go = ConflictAction == ConflictAction.Replace
                ? ShouldOverwrite(request.DestinationPath, action + ", replacing rows that differ", "Replace rows")
                : ShouldProcessUnattended(request.DestinationPath, action, "Restoring rows into", "restore them", "written", terminating: false);
            if (!go) return;
            var results = remote ? RemoteRowRecovery.Restore(request, Destination, RemoteAuth.Token(AuthToken)) : RowRecovery.Restore(request);
            foreach (var r in results) WriteObject(r);
        });

        /// <summary>A predicate selecting exactly the piped rows' keys: <c>("a", "b") IN (VALUES (1, 'x'), …)</c>.</summary>
        internal static string KeyPredicate(IList<RowDifference> rows)
        {
            var columns = rows[0].Key.Keys.Cast<object>().Select(k => Engine.Sqlite.SqliteFile.QuoteIdentifier(k.ToString())).ToList();
            var sb = new StringBuilder();
            sb.Append('(').Append(string.Join(", ", columns)).Append(") IN (VALUES ");
            for (int i = 0; i < rows.Count; i++)
            {
                if (i > 0) sb.Append(", ");
                sb.Append('(').Append(string.Join(", ", rows[i].Key.Values.Cast<object>().Select(Literal))).Append(')');
            }
            return sb.Append(')').ToString();
        }

        private static string Literal(object v)
        {
            switch (v)
            {
                case null: return "NULL";
                case DBNull _: return "NULL";
                case byte[] b: return "X'" + Engine.Sqlite.Hex.Of(b) + "'";
                case string s: return "'" + s.Replace("'", "''") + "'";
                case double d: return d.ToString("R", CultureInfo.InvariantCulture);
                case float f: return ((double)f).ToString("R", CultureInfo.InvariantCulture);
                case IFormattable n: return n.ToString(null, CultureInfo.InvariantCulture);
                default: return "'" + v.ToString().Replace("'", "''") + "'";
            }
        }
    }
}
