using System.Collections.Specialized;
using System.Text;

namespace TursoBackup
{
    /// <summary>
    /// Compare-TursoDatabase's answer for one table (or one view) of a Reference database against a Difference
    /// database: how many rows each side holds and how many were added (in the Difference only), removed (in the
    /// Reference only) or changed (same key, other values), and what differs in the schema.
    /// </summary>
    public sealed class TableComparison
    {
        /// <summary>The table's name (as the Reference spells it when it has the table).</summary>
        public string Table { get; set; }

        /// <summary>"table", or "view" for an entry that reports a view that differs (it holds no rows: counts are 0).</summary>
        public string Type { get; set; } = "table";

        public long ReferenceRows { get; set; }
        public long DifferenceRows { get; set; }

        /// <summary>Rows in the Difference whose key is not in the Reference.</summary>
        public long Added { get; set; }

        /// <summary>Rows in the Reference whose key is not in the Difference.</summary>
        public long Removed { get; set; }

        /// <summary>Rows whose key is on both sides with some common column holding another value.</summary>
        public long Changed { get; set; }

        public bool SchemaDiffers { get; set; }

        /// <summary>One sentence per schema difference ("column 'x' is only in the reference", "index 'i' differs", …).</summary>
        public string[] SchemaDifferences { get; set; } = new string[0];

        /// <summary>The columns rows are matched by: the declared PRIMARY KEY in key order, or "rowid" when there is none.</summary>
        public string[] KeyColumns { get; set; } = new string[0];

        /// <summary>No row differs and the schema does not.</summary>
        public bool Identical { get; set; }

        public override string ToString()
        {
            var sb = new StringBuilder(Table ?? "");
            if (Type == "view")
            {
                sb.Append(" (view): ");
                sb.Append(SchemaDifferences != null && SchemaDifferences.Length > 0 ? string.Join("; ", SchemaDifferences) : "differs");
                return sb.ToString();
            }
            if (Identical) return sb.Append(": identical (").Append(ReferenceRows).Append(" rows)").ToString();
            sb.Append(": ").Append(Added).Append(" added, ").Append(Removed).Append(" removed, ").Append(Changed)
              .Append(" changed (").Append(ReferenceRows).Append(" rows in the reference, ").Append(DifferenceRows).Append(" in the difference)");
            if (SchemaDiffers && SchemaDifferences != null && SchemaDifferences.Length > 0) sb.Append("; schema: ").Append(string.Join("; ", SchemaDifferences));
            return sb.ToString();
        }
    }

    /// <summary>What happened to one row between the Reference and the Difference.</summary>
    public enum RowChange
    {
        /// <summary>The row is in the Difference only.</summary>
        Added,
        /// <summary>The row is in the Reference only.</summary>
        Removed,
        /// <summary>The row's key is on both sides and some common column holds another value.</summary>
        Changed,
    }

    /// <summary>
    /// One row that differs (Compare-TursoDatabase -IncludeRows). Values are as SQLite gives them: long, double,
    /// string, byte[], or null for NULL. The dictionaries keep the table's column order and look names up without
    /// regard to case, as SQLite does.
    /// </summary>
    public sealed class RowDifference
    {
        public string Table { get; set; }
        public RowChange Kind { get; set; }

        /// <summary>Key column → value ("rowid" when the table has no declared primary key).</summary>
        public OrderedDictionary Key { get; set; }

        /// <summary>Column → value of the Reference row; null for an added row.</summary>
        public OrderedDictionary Before { get; set; }

        /// <summary>Column → value of the Difference row; null for a removed row.</summary>
        public OrderedDictionary After { get; set; }

        /// <summary>The common columns whose values differ (Changed rows); empty otherwise.</summary>
        public string[] ChangedColumns { get; set; } = new string[0];

        public override string ToString()
        {
            var sb = new StringBuilder();
            sb.Append(Table).Append(' ').Append(Kind).Append(' ');
            bool first = true;
            if (Key != null)
            {
                foreach (System.Collections.DictionaryEntry e in Key)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    sb.Append(e.Key).Append('=').Append(Show(e.Value));
                }
            }
            if (Kind == RowChange.Changed && ChangedColumns != null && ChangedColumns.Length > 0)
            {
                sb.Append(": ").Append(string.Join(", ", ChangedColumns));
            }
            return sb.ToString();
        }

        private static string Show(object value)
        {
            if (value == null) return "NULL";
            if (value is byte[] b) return "x'" + TursoBackup.Engine.Sqlite.Hex.Of(b.Length > 16 ? Sub(b, 16) : b) + (b.Length > 16 ? "…'" : "'");
            if (value is string s) return "'" + s + "'";
            return System.Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture);
        }

        private static byte[] Sub(byte[] b, int n)
        {
            var r = new byte[n];
            System.Array.Copy(b, r, n);
            return r;
        }
    }
}
