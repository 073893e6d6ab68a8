using System.Diagnostics;
using System.Text;
using TursoBackup.Engine.Recovery;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Benchmarks
{
    /// <summary>
    /// Compare-TursoDatabase's cost (issue 15): DatabaseComparer.Compare of two databases of --rows rows over three
    /// tables (an INTEGER PRIMARY KEY table, a WITHOUT ROWID table keyed by text, a table without a key: by rowid), 1 %
    /// of the rows changed, removed or added, against `sqldiff a b > /dev/null` in the same run: ours with onRow (every
    /// differing row built and handed over: the -IncludeRows path) and without (counts only). Best of --runs after a
    /// warm-up; the databases are in the page cache for every method alike.
    ///   dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --compare [--rows 1000000] [--runs 3] [--write-doc]
    /// </summary>
    public static class CompareBench
    {
        private const string Sqldiff = "/usr/bin/sqldiff";

        public static int Start(string[] args)
        {
            int rows = 1_000_000, runs = 3;
            bool writeDoc = false;
            string docPath = null, dir = Path.Combine(Path.GetTempPath(), "tursobackup-bench");
            for (int i = 1; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "--rows": rows = int.Parse(args[++i]); break;
                    case "--runs": runs = Math.Max(1, int.Parse(args[++i])); break;
                    case "--dir": dir = Path.GetFullPath(args[++i]); break;
                    case "--write-doc": writeDoc = true; break;
                    case "--doc": docPath = Path.GetFullPath(args[++i]); writeDoc = true; break;
                    default: Console.Error.WriteLine("usage: --compare [--rows 1000000] [--runs 3] [--dir PATH] [--write-doc] [--doc PATH]"); return 2;
                }
            }
            if (!File.Exists(Sqldiff)) throw new InvalidOperationException("sqldiff is not installed (apt-get install sqlite3-tools).");
            var total = Stopwatch.StartNew();
            string work = Path.Combine(dir, "compare");
            if (Directory.Exists(work)) Directory.Delete(work, true);
            Directory.CreateDirectory(work);
            string a = Path.Combine(work, "reference.db"), b = Path.Combine(work, "difference.db");
            Console.Error.WriteLine($"[compare] building two databases of {rows:N0} rows");
            Build(a, b, rows);
            long bytes = new FileInfo(a).Length;

            // The counts must agree with sqldiff's before anything is timed.
            var expected = CountSqldiff(a, b, Path.Combine(work, "sqldiff.sql"));
            var check = new DatabaseComparer().Compare(a, b);
            foreach (var t in check)
            {
                expected.TryGetValue(t.Table, out var e);
                if ((e.Inserts, e.Deletes, e.Updates) != (t.Added, t.Removed, t.Changed))
                    throw new InvalidOperationException($"{t.Table}: sqldiff {e.Inserts}/{e.Deletes}/{e.Updates}, ours {t}");
            }
            long differing = check.Sum(t => t.Added + t.Removed + t.Changed);
            long compared = check.Sum(t => t.ReferenceRows + t.DifferenceRows);
            Console.Error.WriteLine($"[compare] {differing:N0} rows differ: " + string.Join("; ", check));

            var withRows = new List<double>();
            var countsOnly = new List<double>();
            var peer = new List<double>();
            for (int i = 0; i <= runs; i++)
            {
                long seen = 0;
                var w = Stopwatch.StartNew();
                new DatabaseComparer().Compare(a, b, null, r => seen++);
                double tRows = w.Elapsed.TotalSeconds;
                if (seen != differing) throw new InvalidOperationException($"onRow saw {seen} rows, the counts say {differing}");
                w.Restart();
                new DatabaseComparer().Compare(a, b);
                double tCounts = w.Elapsed.TotalSeconds;
                var s = Tools.Bash("\"$1\" \"$2\" \"$3\" > /dev/null", Sqldiff, a, b);
                Console.Error.WriteLine($"  Compare with rows {tRows:F2} s, counts only {tCounts:F2} s; sqldiff {s.Seconds:F2} s");
                if (i > 0) { withRows.Add(tRows); countsOnly.Add(tCounts); peer.Add(s.Seconds); }
            }
            double bestRows = withRows.Min(), bestCounts = countsOnly.Min(), bestPeer = peer.Min();
            static double Median(List<double> x) => x.OrderBy(v => v).ElementAt(x.Count / 2);

            var sb = new StringBuilder();
            sb.AppendLine("## Compare-TursoDatabase against `sqldiff`").AppendLine();
            sb.AppendLine($"Two databases of {rows:N0} rows each ({bytes / 1048576.0:F0} MiB) in three tables — an INTEGER PRIMARY KEY table, a WITHOUT ROWID table " +
                          "keyed by text, a table without a key (compared by rowid) — with 1 % of the rows changed, removed or added " +
                          $"({differing:N0} rows differ; the counts checked against sqldiff's output first). In the same run: `Compare-TursoDatabase`'s engine " +
                          "(`DatabaseComparer.Compare`) with a row callback (every differing row built with its key, before and after values: the `-IncludeRows` path) " +
                          "and without (counts only), against `sqldiff reference.db difference.db > /dev/null`. Both databases stay in the page cache for every method alike. " +
                          $"Best of {runs} after a warm-up; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {total.Elapsed.TotalMinutes:F1} minutes, {Environment.ProcessorCount} logical processors.").AppendLine();
            sb.AppendLine("```sh").AppendLine($"dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --compare{(rows != 1_000_000 ? " --rows " + rows : "")}{(runs != 3 ? " --runs " + runs : "")} --write-doc").AppendLine("```").AppendLine();
            sb.AppendLine("| method | best | median | rows compared per second |");
            sb.AppendLine("|---|---:|---:|---:|");
            sb.AppendLine($"| Compare, rows (`-IncludeRows`) | {bestRows:F2} s | {Median(withRows):F2} s | {compared / bestRows / 1e6:F1} M |");
            sb.AppendLine($"| Compare, counts only | {bestCounts:F2} s | {Median(countsOnly):F2} s | {compared / bestCounts / 1e6:F1} M |");
            sb.AppendLine($"| `sqldiff a b > /dev/null` | {bestPeer:F2} s | {Median(peer):F2} s | {compared / bestPeer / 1e6:F1} M |");
            sb.AppendLine();
            double ratio = bestRows / bestPeer;
            sb.AppendLine($"Compare with rows takes {ratio:F2}× sqldiff's time, counts only {bestCounts / bestPeer:F2}× (aim: as fast as sqldiff, ≤ 1.0×) — " +
                          (ratio <= 1.0 ? "met" : "**missed**") + ". " + Reason(ratio));
            Console.WriteLine(sb.ToString());
            if (writeDoc) DocSections.Replace(docPath ?? Path.Combine(Report.RepoRoot(), "docs", "benchmarks.md"), "compare", sb.ToString());
            Directory.Delete(work, true);
            return 0;
        }

        private static string Reason(double ratio) => ratio <= 1.0
            ? "Both let SQLite join the two files by key; Compare does it in two passes per table (the reference LEFT JOINed to the difference finds the removed " +
              "and the changed rows at once, the difference with NOT EXISTS the added ones) where sqldiff runs three arms of a UNION ALL and sorts them by key, " +
              "and it formats no SQL text; it adds one count(*) per table and side."
            : "sqldiff's three-arm query is the same join; the time over it is the managed side (building every differing row's dictionaries and the reader's values) " +
              "and the count(*) per table and side that sqldiff does not take.";

        /// <summary>The reference (three tables, <paramref name="rows"/> rows in all) and a copy of it with 1 % of the rows changed, removed or added.</summary>
        private static void Build(string a, string b, int rows)
        {
            int orders = rows * 60 / 100, accounts = rows * 25 / 100, events = rows - orders - accounts;
            using (var c = SqliteFile.OpenOrCreate(a))
            {
                Exec(c, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;");
                Exec(c, "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INT NOT NULL, amount REAL, status TEXT, note TEXT);" +
                        "CREATE INDEX orders_customer ON orders(customer);" +
                        "CREATE TABLE accounts(email TEXT PRIMARY KEY, name TEXT, balance INT, avatar BLOB) WITHOUT ROWID;" +
                        "CREATE TABLE events(at TEXT, kind TEXT, payload BLOB);");
                Exec(c, "BEGIN;" +
                        $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {orders}) " +
                        "INSERT INTO orders SELECT i, i % 50000, (i % 10000) / 100.0, CASE i % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'paid' ELSE 'shipped' END, 'order number ' || i FROM n;" +
                        $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {accounts}) " +
                        "INSERT INTO accounts SELECT printf('user%08d@example.com', i), 'User ' || i, i * 7, randomblob(32) FROM n;" +
                        $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {events}) " +
                        "INSERT INTO events SELECT datetime(1700000000 + i, 'unixepoch'), 'kind ' || (i % 20), randomblob(24) FROM n;" +
                        "COMMIT;");
            }
            File.Copy(a, b, true);
            using (var c = SqliteFile.OpenReadWrite(b))
            {
                // Per table: 0.5 % changed, 0.25 % removed, 0.25 % added.
                Exec(c, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN;" +
                        "UPDATE orders SET status = 'refunded' WHERE id % 200 = 0;" +
                        "DELETE FROM orders WHERE id % 400 = 1;" +
                        "INSERT INTO orders SELECT id + 100000000, customer, amount, status, note FROM orders WHERE id % 400 = 2;" +
                        "UPDATE accounts SET balance = -balance WHERE balance % 200 = 0;" +
                        "DELETE FROM accounts WHERE balance % 400 = 7;" +
                        "INSERT INTO accounts SELECT 'new.' || email, name, balance, avatar FROM accounts WHERE balance % 400 = 14;" +
                        "UPDATE events SET kind = 'edited' WHERE rowid % 200 = 0;" +
                        $"DELETE FROM events WHERE rowid % 400 = 1 AND rowid < {events - 1000};" +
                        $"INSERT INTO events SELECT at, kind, payload FROM events WHERE rowid % 400 = 2;" +
                        "COMMIT;");
            }
        }

        private static void Exec(Microsoft.Data.Sqlite.SqliteConnection c, string sql)
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            cmd.CommandTimeout = 0;
            cmd.ExecuteNonQuery();
        }

        /// <summary>sqldiff's INSERT INTO / DELETE FROM / UPDATE statements per table (its output has one statement a line here).</summary>
        private static Dictionary<string, (long Inserts, long Deletes, long Updates)> CountSqldiff(string a, string b, string outFile)
        {
            Tools.Bash("\"$1\" \"$2\" \"$3\" > \"$4\"", Sqldiff, a, b, outFile);
            var counts = new Dictionary<string, (long Inserts, long Deletes, long Updates)>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in File.ReadLines(outFile))
            {
                int kind = line.StartsWith("INSERT INTO ", StringComparison.Ordinal) ? 0 : line.StartsWith("DELETE FROM ", StringComparison.Ordinal) ? 1 : line.StartsWith("UPDATE ", StringComparison.Ordinal) ? 2 : -1;
                if (kind < 0) continue;
                string rest = line.Substring(kind == 2 ? 7 : 12);
                string table = rest.Substring(0, rest.IndexOfAny(new[] { '(', ' ', ';' }));
                counts.TryGetValue(table, out var c);
                if (kind == 0) c.Inserts++; else if (kind == 1) c.Deletes++; else c.Updates++;
                counts[table] = c;
            }
            File.Delete(outFile);
            return counts;
        }
    }
}
