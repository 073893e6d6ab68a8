using System.Runtime.InteropServices;
using System.Text;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Benchmarks
{
    /// <summary>Markdown tables (stdout) and docs/benchmarks.md.</summary>
    public sealed class Report
    {
        private readonly Bench bench;
        private readonly Options options;
        private IEnumerable<SizeResult> Results => bench.Results;

        public Report(Bench bench, Options options)
        {
            this.bench = bench;
            this.options = options;
        }

        private static readonly Dictionary<Method, string> Names = new Dictionary<Method, string>
        {
            [Method.Cp] = "`cp`",
            [Method.CpFsync] = "`cp` + `sync <dst>` (fsync)",
            [Method.Sqlite3Backup] = "`sqlite3 .backup`",
            [Method.OursNone] = "TursoBackup snapshot, no compression",
            [Method.OursGzip] = "TursoBackup snapshot, gzip",
        };

        private static string MiB(double bytes) => (bytes / 1048576.0).ToString("N1") + " MiB";
        private static string Rss(long? kib) => kib.HasValue ? (kib.Value / 1024.0).ToString("N1") + " MiB" : "n/a";
        private static string X(double ratio) => ratio.ToString("F2") + "×";

        /// <summary>The result tables: throughput per size, peak memory across sizes, and our backup's phases.</summary>
        public string Tables()
        {
            var sb = new StringBuilder();
            foreach (var r in Results)
            {
                sb.AppendLine($"### {r.SizeMiB} MiB database ({r.DbBytes:N0} bytes, WAL mode)").AppendLine();
                sb.Append("| Method | Best time | Median | Throughput | × `cp` | × `cp` + fsync |");
                if (bench.HasSqlite3) sb.Append(" × `sqlite3 .backup` |");
                sb.AppendLine(" Peak RSS |");
                sb.Append("|---|---:|---:|---:|---:|---:|").Append(bench.HasSqlite3 ? "---:|" : "").AppendLine("---:|");
                foreach (var m in r.Timed.Keys)
                {
                    var best = r.Best(m);
                    string name = Names[m];
                    if (m == Method.OursGzip) name += $" (stored {MiB(best.StoredBytes)}, {100.0 * best.StoredBytes / r.DbBytes:F0} %)";
                    sb.Append($"| {name} | {best.Seconds:F3} s | {r.Median(m):F3} s | {r.MiBps(m):N0} MiB/s | {X(r.Ratio(m, Method.Cp))} | {X(r.Ratio(m, Method.CpFsync))} |");
                    if (bench.HasSqlite3) sb.Append($" {X(r.Ratio(m, Method.Sqlite3Backup))} |");
                    sb.AppendLine($" {Rss(r.PeakRssKiB(m))} |");
                }
                sb.AppendLine();
            }
            sb.AppendLine($"Best and median of {options.Runs} run(s) per method after one untimed warm-up, page cache warm, `sync` before every run. " +
                          "× X is throughput relative to X (X's best time ÷ this method's best time): above 1.00× is faster than X. " +
                          "Peak RSS of TursoBackup is measured in a separate child process (max over its runs); of `cp` and `sqlite3`, with GNU `time -f %M`.")
              .AppendLine();

            // Memory across sizes: flat rows mean memory does not grow with the database.
            var sizes = Results.ToList();
            sb.AppendLine("### Peak memory (max RSS) by database size").AppendLine();
            sb.Append("| Process |").Append(string.Concat(sizes.Select(r => $" {r.SizeMiB} MiB db |"))).AppendLine();
            sb.Append("|---|").Append(string.Concat(sizes.Select(_ => "---:|"))).AppendLine();
            sb.Append("| TursoBackup, no compression (child process) |").Append(string.Concat(sizes.Select(r => $" {Rss(r.PeakRssKiB(Method.OursNone))} |"))).AppendLine();
            sb.Append("| TursoBackup, gzip (child process) |").Append(string.Concat(sizes.Select(r => $" {Rss(r.PeakRssKiB(Method.OursGzip))} |"))).AppendLine();
            sb.Append("| .NET + engine floor (child that only opens the database) |").Append(string.Concat(sizes.Select(r => $" {Rss(r.Baseline.PeakRssKiB)} |"))).AppendLine();
            if (bench.HasSqlite3) sb.Append("| `sqlite3 .backup` |").Append(string.Concat(sizes.Select(r => $" {Rss(r.PeakRssKiB(Method.Sqlite3Backup))} |"))).AppendLine();
            sb.Append("| `cp` |").Append(string.Concat(sizes.Select(r => $" {Rss(r.PeakRssKiB(Method.Cp))} |"))).AppendLine();
            sb.AppendLine();
            sb.Append("The child processes also time their single backup, cold (no JIT warm-up, as a backup in a fresh shell would be): ")
              .Append(string.Join("; ", sizes.Select(r =>
                  $"{r.SizeMiB} MiB: {r.Child[Method.OursNone].Min(s => s.Seconds):F3} s uncompressed, {r.Child[Method.OursGzip].Min(s => s.Seconds):F3} s gzip")))
              .AppendLine(" (best of the child runs, .NET start-up excluded).").AppendLine();

            // Where the time goes inside our backup (best in-process run).
            sb.AppendLine("### Where TursoBackup's time goes (best run, from the engine's Log/Progress callbacks)").AppendLine();
            var columns = sizes.SelectMany(r => new[] { (r, Method.OursNone), (r, Method.OursGzip) }).ToList();
            sb.Append("| Phase |").Append(string.Concat(columns.Select(c => $" {c.r.SizeMiB} MiB, {(c.Item2 == Method.OursNone ? "none" : "gzip")} |"))).AppendLine();
            sb.Append("|---|").Append(string.Concat(columns.Select(_ => "---:|"))).AppendLine();
            var phaseNames = columns.Select(c => c.r.Best(c.Item2).Phases.Durations(c.Item2 == Method.OursGzip).ToList()).ToList();
            for (int i = 0; i < phaseNames[0].Count; i++)
            {
                string name = i == 2 ? "read staged copy, SHA-256 (none) / gzip + SHA-256 + write artifact (gzip)" : phaseNames[0][i].Name;
                sb.Append($"| {name} |");
                for (int c = 0; c < columns.Count; c++)
                {
                    double ms = phaseNames[c][i].Ms, totalMs = columns[c].r.Best(columns[c].Item2).Phases.End;
                    sb.Append($" {ms:N0} ms ({100 * ms / totalMs:F0} %) |");
                }
                sb.AppendLine();
            }
            sb.Append("| total |").Append(string.Concat(columns.Select(c => $" {c.r.Best(c.Item2).Phases.End:N0} ms |"))).AppendLine();
            sb.AppendLine();
            sb.Append("For scale: reading the content profile (page count, schema hash, `count(*)` of every table), which runs on a second thread " +
                      "while the staged copy is hashed, takes ")
              .Append(string.Join(", ", sizes.Select(r => $"{r.ProfileSeconds * 1000:N0} ms ({r.SizeMiB} MiB)")))
              .Append(" on its own; an fsync of a freshly copied file (`cp` + fsync minus `cp`) takes ")
              .Append(string.Join(", ", sizes.Select(r => $"{(r.Best(Method.CpFsync).Seconds - r.Best(Method.Cp).Seconds) * 1000:N0} ms ({r.SizeMiB} MiB)")))
              .AppendLine(".");
            return sb.ToString();
        }

        /// <summary>docs/benchmarks.md: intro, machine, command, tables, interpretation.</summary>
        public string Document()
        {
            var sb = new StringBuilder();
            sb.AppendLine("# Benchmarks").AppendLine();
            sb.AppendLine("How fast is a TursoBackup snapshot compared with copying the file, and how much memory does it take? " +
                          "The benchmark program in `tests/TursoBackup.Benchmarks` builds SQLite databases in WAL mode (customers, orders with an index, " +
                          "JSON event rows, and attachments holding random — incompressible — blobs of 0.5–4 KiB, about a third of the bytes), then copies " +
                          "each one, in the same run and on the same disk, with:").AppendLine();
            sb.AppendLine("- `cp src dst` — only reaches the page cache; the ceiling for copying a file, but not a durable copy;");
            sb.AppendLine("- `cp src dst` followed by `sync dst` (an fsync of the copy) — a durable copy, which is what a backup has to be;");
            sb.AppendLine("- `sqlite3 src \".backup dst\"` — SQLite's own online backup (100 pages per step; its commit fsyncs the copy);");
            sb.AppendLine("- TursoBackup's snapshot (`SnapshotBackup.Run`, what `Backup-TursoDatabase` calls) with no compression and with gzip, " +
                          "each into a fresh vault: online backup API into a staging folder, SHA-256 (and gzip), fsync, content profile, manifest, " +
                          "and the rename that publishes it.").AppendLine();
            sb.AppendLine("Each method runs once untimed to warm the page cache (and the JIT), then the given number of times; the best time counts. " +
                          "`sync` runs before every measurement so one method's write-back is not charged to the next. Figures are ratios " +
                          "to `cp` and `sqlite3 .backup` on the same files, so they carry over between machines better than absolute times — " +
                          "they are benchmarks, not timed tests, and nothing fails when they move.").AppendLine();

            sb.AppendLine("## Machine").AppendLine();
            foreach (var line in MachineLines()) sb.AppendLine("- " + line);
            sb.AppendLine();

            sb.AppendLine("## Reproduce").AppendLine();
            sb.AppendLine("From the repository root:").AppendLine();
            sb.AppendLine("```sh").AppendLine(options.ReproduceCommand()).AppendLine("```").AppendLine();
            sb.AppendLine("Leave out `--write-doc` to print the tables only; add `1024` to `--sizes` for a 1 GiB database. " +
                          "The databases are kept in the work folder (`--dir`, default `<temp>/tursobackup-bench`) and reused by the next run; " +
                          "`--fresh` rebuilds them, `--clean` deletes the folder at the end.").AppendLine();

            sb.AppendLine("## Results").AppendLine();
            sb.Append(Tables()).AppendLine();

            sb.AppendLine("## Against the aims").AppendLine();
            sb.AppendLine(Interpretation()).AppendLine();
            return sb.ToString();
        }

        /// <summary>The aims are: snapshot ≥ 0.7× cp throughput, ahead of sqlite3 .backup, memory flat as the db grows.</summary>
        public string Interpretation()
        {
            var rs = Results.ToList();
            string Range(Func<SizeResult, double> f, string fmt = "F2")
            {
                double lo = rs.Min(f), hi = rs.Max(f);
                return Math.Abs(hi - lo) < 0.005 ? lo.ToString(fmt) + "×" : $"{lo.ToString(fmt)}–{hi.ToString(fmt)}×";
            }
            string PerSize(Func<SizeResult, string> f) => string.Join(", ", rs.Select(r => $"{f(r)} at {r.SizeMiB} MiB"));
            var sb = new StringBuilder();

            // Aim 1: at least 0.7x the throughput of cp.
            double noneCpMin = rs.Min(r => r.Ratio(Method.OursNone, Method.Cp));
            double noneSyncMin = rs.Min(r => r.Ratio(Method.OursNone, Method.CpFsync));
            sb.Append($"**Throughput against `cp` (aim ≥ 0.70×).** The uncompressed snapshot reached {Range(r => r.Ratio(Method.OursNone, Method.Cp))} " +
                      $"of plain `cp` ({PerSize(r => $"{r.MiBps(Method.OursNone):N0} vs {r.MiBps(Method.Cp):N0} MiB/s")}), ");
            sb.Append(noneCpMin >= 0.7 ? "so the aim is met against plain `cp`. " : "so **the aim is missed against plain `cp`**. ");
            sb.Append($"Against `cp` followed by an fsync — the like-for-like comparison, since our backup fsyncs its artifact and `cp` alone leaves " +
                      $"the copy in the page cache — it reached {Range(r => r.Ratio(Method.OursNone, Method.CpFsync))}");
            sb.Append(noneSyncMin >= 0.7 ? ", which meets the aim. " : ", which **misses the aim** too. ");
            sb.Append($"With gzip it reached {Range(r => r.Ratio(Method.OursGzip, Method.Cp))} of `cp` and {Range(r => r.Ratio(Method.OursGzip, Method.CpFsync))} " +
                      "of `cp` + fsync; gzip trades speed for a smaller artifact and is not held to the aim.");
            sb.AppendLine().AppendLine();

            // Aim 2: ahead of sqlite3 .backup.
            if (bench.HasSqlite3)
            {
                double noneSqlMin = rs.Min(r => r.Ratio(Method.OursNone, Method.Sqlite3Backup));
                double gzipSqlMin = rs.Min(r => r.Ratio(Method.OursGzip, Method.Sqlite3Backup));
                sb.Append($"**Against `sqlite3 .backup` (aim > 1×).** The uncompressed snapshot ran at {Range(r => r.Ratio(Method.OursNone, Method.Sqlite3Backup))} " +
                          $"the throughput of `sqlite3 .backup` ({PerSize(r => $"{r.Best(Method.OursNone).Seconds:F2} s vs {r.Best(Method.Sqlite3Backup).Seconds:F2} s")})");
                sb.Append(noneSqlMin > 1 ? ": ahead at every size, so the aim is met, even though it also hashes the copy and writes and publishes a manifest. "
                                         : ": **not ahead at every size, so the aim is missed**. ");
                sb.Append($"With gzip it ran at {Range(r => r.Ratio(Method.OursGzip, Method.Sqlite3Backup))}");
                sb.Append(gzipSqlMin > 1 ? ", still ahead." : rs.Max(r => r.Ratio(Method.OursGzip, Method.Sqlite3Backup)) > 1 ? ", ahead at some sizes only." : ", behind it.");
                sb.AppendLine().AppendLine();
            }

            // Aim 3: flat memory.
            foreach (var m in new[] { Method.OursNone, Method.OursGzip })
            {
                var first = rs.First();
                var last = rs.Last();
                double a = first.PeakRssKiB(m).Value / 1024.0, b = last.PeakRssKiB(m).Value / 1024.0;
                double growth = b - a;
                double dbGrowth = (last.DbBytes - first.DbBytes) / 1048576.0;
                if (m == Method.OursNone) sb.Append("**Memory (aim: flat as the database grows).** ");
                sb.Append($"Peak RSS {(m == Method.OursNone ? "uncompressed" : "with gzip")} went from {a:N1} MiB ({first.SizeMiB} MiB db) to {b:N1} MiB ({last.SizeMiB} MiB db), ");
                sb.Append(rs.Count < 2 ? "only one size was measured. "
                          : Math.Abs(growth) <= Math.Max(8, 0.05 * a)
                              ? $"{growth:+0.0;-0.0;0.0} MiB while the database grew by {dbGrowth:N0} MiB: flat. "
                              : $"**{growth:+0.0;-0.0} MiB while the database grew by {dbGrowth:N0} MiB — not flat**. ");
            }
            var floor = rs.Max(r => r.Baseline.PeakRssKiB.Value) / 1024.0;
            sb.Append($"Most of it is the .NET runtime and the engine itself: a child that only opens the database peaks at {floor:N1} MiB. ");
            if (bench.HasSqlite3 && rs.First().PeakRssKiB(Method.Sqlite3Backup).HasValue)
            {
                sb.Append($"`sqlite3 .backup` (a small C program) peaks at {Rss(rs.Max(r => r.PeakRssKiB(Method.Sqlite3Backup)))}.");
            }
            sb.AppendLine().AppendLine();

            // Where the time goes.
            var big = rs.Last();
            var none = big.Best(Method.OursNone).Phases.Durations(false).ToList();
            var gz = big.Best(Method.OursGzip).Phases.Durations(true).ToList();
            var topNone = none.OrderByDescending(p => p.Ms).First();
            var topGz = gz.OrderByDescending(p => p.Ms).First();
            sb.Append($"**Where the time goes.** At {big.SizeMiB} MiB the largest phase of the uncompressed snapshot is \"{topNone.Name}\" " +
                      $"({topNone.Ms:N0} of {big.Best(Method.OursNone).Phases.End:N0} ms); with gzip it is \"{topGz.Name}\" ({topGz.Ms:N0} of {big.Best(Method.OursGzip).Phases.End:N0} ms). " +
                      "The snapshot reads the data twice (once through the online backup API into the staging copy, once to hash or compress it), " +
                      "writes it once (twice with gzip: the staged copy, then the artifact) and fsyncs it, where `cp` reads and writes it once " +
                      "(in the kernel, with `copy_file_range`, on coreutils 9).");
            return sb.ToString();
        }

        private IEnumerable<string> MachineLines()
        {
            string Read(string path) => File.Exists(path) ? File.ReadAllText(path) : "";
            string cpu = Read("/proc/cpuinfo").Split('\n').FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown";
            string mem = Read("/proc/meminfo").Split('\n').FirstOrDefault(l => l.StartsWith("MemTotal"))?.Split(':', 2)[1].Trim();
            string os = Read("/etc/os-release").Split('\n').FirstOrDefault(l => l.StartsWith("PRETTY_NAME="))?.Split('=', 2)[1].Trim('"');
            string kernel = Read("/proc/sys/kernel/osrelease").Trim();
            string fs = Tools.Output("findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", options.Dir);
            string engineSqlite;
            using (var db = SqliteFile.OpenOrCreate(":memory:")) engineSqlite = Convert.ToString(SqliteFile.Scalar(db, "SELECT sqlite_version()"));

            yield return $"CPU: {cpu}, {Environment.ProcessorCount} logical processors (`nproc`)";
            if (mem != null) yield return $"Memory: {(long.Parse(mem.Split(' ')[0]) / 1048576.0):F1} GiB";
            yield return $"OS: {os ?? RuntimeInformation.OSDescription}, kernel {kernel}";
            yield return $"Disk: work folder on {fs ?? "unknown"}" + (options.DirGiven ? "" : " (the default `<temp>/tursobackup-bench`)");
            yield return $".NET: {RuntimeInformation.FrameworkDescription} (SDK {Tools.Output("dotnet", "--version") ?? "unknown"}), Release build";
            yield return $"SQLite in the engine (e_sqlite3): {engineSqlite}; `sqlite3` CLI: {(bench.HasSqlite3 ? Tools.Output(Tools.Sqlite3, "--version")?.Split(' ')[0] : "not installed")}";
            yield return $"`cp`: {Tools.Output("cp", "--version") ?? "unknown"}";
            yield return $"Run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {options.Runs} timed run(s) per method";
        }

        /// <summary>The repository root: the nearest folder above the program (or the current folder) holding TursoBackup.sln.</summary>
        public static string RepoRoot()
        {
            foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            {
                for (var d = new DirectoryInfo(start); d != null; d = d.Parent)
                {
                    if (File.Exists(Path.Combine(d.FullName, "TursoBackup.sln"))) return d.FullName;
                }
            }
            throw new InvalidOperationException("Cannot find the repository root (TursoBackup.sln); pass --doc PATH.");
        }
    }
}
