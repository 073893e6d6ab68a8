using System;
using System.Collections.Generic;

namespace TursoBackup.Engine.Remote
{
    /// <summary>A result column: its name and, when the server reports it, the declared type of the table column.</summary>
    public sealed class HranaColumn
    {
        public HranaColumn(string name, string declType)
        {
            Name = name;
            DeclType = declType;
        }

        public string Name { get; }

        /// <summary>The declared type (e.g. "INTEGER") of a column that comes straight from a table; null otherwise or when the server does not say.</summary>
        public string DeclType { get; }

        public override string ToString() => DeclType == null ? Name : Name + " " + DeclType;
    }

    /// <summary>
    /// The result of one statement. Row values are <c>null</c>, <see cref="long"/>, <see cref="double"/>,
    /// <see cref="string"/> or <c>byte[]</c>, exactly as SQLite stored them.
    /// </summary>
    public sealed class HranaResult
    {
        private static readonly IReadOnlyList<HranaColumn> NoColumns = new HranaColumn[0];
        private static readonly IReadOnlyList<object[]> NoRows = new object[0][];

        internal HranaResult(IReadOnlyList<HranaColumn> columns, IReadOnlyList<object[]> rows, long affectedRowCount, long? lastInsertRowid)
        {
            Columns = columns ?? NoColumns;
            Rows = rows ?? NoRows;
            AffectedRowCount = affectedRowCount;
            LastInsertRowid = lastInsertRowid;
        }

        public IReadOnlyList<HranaColumn> Columns { get; }

        public IReadOnlyList<object[]> Rows { get; }

        /// <summary>Rows changed by an INSERT, UPDATE or DELETE, as the server reports it (tursodb 0.7.0 always reports 0).</summary>
        public long AffectedRowCount { get; }

        /// <summary>The rowid of the last insert as the server reports it; null when it does not (tursodb 0.7.0 never does).</summary>
        public long? LastInsertRowid { get; }

        public IReadOnlyList<string> ColumnNames
        {
            get
            {
                var names = new string[Columns.Count];
                for (int i = 0; i < names.Length; i++) names[i] = Columns[i].Name;
                return names;
            }
        }

        /// <summary>The first value of the first row, or null when there is no row.</summary>
        public object Scalar => Rows.Count > 0 && Rows[0].Length > 0 ? Rows[0][0] : null;

        public override string ToString() => $"{Columns.Count} columns, {Rows.Count} rows, {AffectedRowCount} affected";
    }

    /// <summary>One statement with its arguments, for pipelines and batches.</summary>
    public sealed class HranaStatement
    {
        public HranaStatement(string sql, IReadOnlyList<object> args = null, IReadOnlyDictionary<string, object> named = null)
        {
            Sql = sql ?? throw new ArgumentNullException(nameof(sql));
            Args = args;
            Named = named;
        }

        public string Sql { get; }

        /// <summary>Positional arguments: the first binds ?1 (or the first ?).</summary>
        public IReadOnlyList<object> Args { get; }

        /// <summary>Named arguments (":name", "@name", "$name"; a name without a prefix matches any of them).</summary>
        public IReadOnlyDictionary<string, object> Named { get; }

        /// <summary>False to have the server return no rows (for statements whose rows are not needed).</summary>
        public bool WantRows { get; set; } = true;

        public override string ToString() => Sql;
    }
}
