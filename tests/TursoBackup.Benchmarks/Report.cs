using System.Runtime.InteropServices;
using System.Text;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Benchmarks
{
    /// <summary>Markdown tables (stdout) and docs/benchmarks.md. Every sentence about the aims is derived from the figures.</summary>
    public sealed class Report
    {
        private readonly Bench bench;
        private readonly Options options;
        private List<SizeResult> Results => bench.Results;

        public Report(Bench bench, Options options)
        {
            this.bench = bench;
            this.options = options;
        }

        /// <summary>Display order and names of the methods.</summary>
        private static readonly (Method Method, string Name)[] Rows =
        {
            (Method.Cp, "`cp`"),
            (Method.CpFsync, "`cp` + `sync <dst>` (fsync)"),
            (Method.Sqlite3Backup, "`sqlite3 .backup`"),
            (Method.OursNone, "TursoBackup, no compression"),
            (Method.OursGzip, "TursoBackup, gzip"),
            (Method.OursZstd, "TursoBackup, zstd"),
            (Method.OursNoneBackupApi, "TursoBackup, no compression, backup API (fallback method)"),
        };

        private static readonly (Method Method, string Short)[] AllOurMethods =
        {
            (Method.OursNone, "none"),
            (Method.OursGzip, "gzip"),
            (Method.OursZstd, "zstd"),
            (Method.OursNoneBackupApi, "none, backup API"),
        };

        /// <summary>Our methods that were measured (zstd only when the engine has it).</summary>
        private IEnumerable<(Method Method, string Short)> OurMethods => AllOurMethods.Where(o => Results[0].Timed.ContainsKey(o.Method));

        private bool Has(Method m) => Results[0].Timed.ContainsKey(m);

        /// <summary>The method a plain Backup-TursoDatabase uses: page copy with the engine's default compression.</summary>
        private static Method DefaultMethod =>
            Ours.DefaultCompression == CompressionKind.None ? Method.OursNone
            : Ours.DefaultCompression == CompressionKind.Gzip ? Method.OursGzip : Method.OursZstd;

        private static string Name(Method m) => Rows.First(r => r.Method == m).Name + (m == DefaultMethod ? " (default)" : "");
        private static string MiB(double bytes) => (bytes / 1048576.0).ToString("N1") + " MiB";
        private static string Rss(long? kib) => kib.HasValue ? (kib.Value / 1024.0).ToString("N1") + " MiB" : "n/a";
        private static string X(double ratio) => ratio.ToString("F2") + "×";
        private static string Ms(double seconds) => (seconds * 1000).ToString("N0") + " ms";

        /// <summary>"lo–hi×" over the sizes (or one value when they agree to the digits shown).</summary>
        private string Range(Func<SizeResult, double> f, string fmt = "F2")
        {
            string lo = Results.Min(f).ToString(fmt), hi = Results.Max(f).ToString(fmt);
            return lo == hi ? lo + "×" : $"{lo}–{hi}×";
        }

        /// <summary>The result tables: throughput per size, peak memory across sizes, our backup's phases, the pieces alone.</summary>
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
                foreach (var m in Rows.Select(x => x.Method).Where(r.Timed.ContainsKey))
                {
                    var best = r.Best(m);
                    string label = m == Method.OursGzip || m == Method.OursZstd
                        ? $"{Name(m)}, stored {MiB(best.StoredBytes)} ({100.0 * best.StoredBytes / r.DbBytes:F0} %)" : Name(m);
                    sb.Append($"| {label} | {best.Seconds:F3} s | {r.Median(m):F3} s | {r.MiBps(m):N0} MiB/s | {X(r.Ratio(m, Method.Cp))} | {X(r.Ratio(m, Method.CpFsync))} |");
                    if (bench.HasSqlite3) sb.Append($" {X(r.Ratio(m, Method.Sqlite3Backup))} |");
                    sb.AppendLine($" {Rss(r.PeakRssKiB(m))} |");
                }
                sb.AppendLine();
            }
            sb.Append($"Best and median of {options.Runs} run(s) per method after one untimed warm-up, page cache warm, `sync` before every run. " +
                      "× X is throughput relative to X (X's best time ÷ this method's best time): above 1.00× is faster than X. " +
                      "TursoBackup rows without a method named use the default method (page copy); \"(default)\" marks what a backup " +
                      $"uses when nothing is chosen (compression {Ours.DefaultCompression}). " +
                      (Has(Method.OursZstd) ? $"Zstandard runs at the engine's settings: {Ours.ZstdSettings() ?? "unknown"}. " : "") +
                      "Peak RSS of TursoBackup is measured in a separate child process (max over its runs); of `cp` and `sqlite3`, with GNU `time -f %M`.");
            // Call out noisy measurements rather than let a lucky best time stand unremarked.
            var noisy = Results.SelectMany(r => r.Timed.Keys.Select(m => (r, m, spread: r.Median(m) / r.Best(m).Seconds))).Where(x => x.spread > 1.15).ToList();
            if (noisy.Count > 0)
            {
                sb.Append(" Noisy (median more than 1.15× the best): " + string.Join(", ", noisy.Select(x => $"{Name(x.m)} at {x.r.SizeMiB} MiB ({x.spread:F2}×)")) +
                          "; ratios involving these are less certain.");
            }
            sb.AppendLine().AppendLine();

            // Memory across sizes: flat rows mean memory does not grow with the database.
            sb.AppendLine("### Peak memory (max RSS) by database size").AppendLine();
            sb.Append("| Process |").Append(string.Concat(Results.Select(r => $" {r.SizeMiB} MiB db |"))).AppendLine();
            sb.Append("|---|").Append(string.Concat(Results.Select(_ => "---:|"))).AppendLine();
            void RssRow(string name, Func<SizeResult, long?> kib) =>
                sb.Append($"| {name} |").Append(string.Concat(Results.Select(r => $" {Rss(kib(r))} |"))).AppendLine();
            foreach (var (m, _) in OurMethods) RssRow(Name(m) + " (child process)", r => r.PeakRssKiB(m));
            RssRow(".NET + engine floor (child that only opens the database)", r => r.Baseline.PeakRssKiB);
            if (bench.HasSqlite3) RssRow("`sqlite3 .backup`", r => r.PeakRssKiB(Method.Sqlite3Backup));
            RssRow("`cp`", r => r.PeakRssKiB(Method.Cp));
            sb.AppendLine();
            sb.Append("The child processes also time their one backup, cold (no JIT warm-up, as in a fresh shell; .NET start-up excluded, best of the child runs): ")
              .Append(string.Join("; ", Results.Select(r => $"{r.SizeMiB} MiB: " +
                  string.Join(", ", OurMethods.Select(o => $"{r.Child[o.Method].Min(s => s.Seconds):F3} s {o.Short}")))))
              .AppendLine(".").AppendLine();

            // Where the time goes inside our backup (best in-process run).
            sb.AppendLine("### Where TursoBackup's time goes (best run, from the engine's Log/Progress callbacks)").AppendLine();
            var columns = Results.SelectMany(r => OurMethods.Select(o => (r, o.Method, o.Short))).ToList();
            sb.Append("| Phase |").Append(string.Concat(columns.Select(c => $" {c.r.SizeMiB} MiB, {c.Short} |"))).AppendLine();
            sb.Append("|---|").Append(string.Concat(columns.Select(_ => "---:|"))).AppendLine();
            var phases = columns.Select(c => c.r.Best(c.Method).Phases).ToList();
            var names = phases[0].Durations().Select(d => d.Name).ToList();
            for (int i = 0; i < names.Count; i++)
            {
                sb.Append($"| {names[i]} |");
                foreach (var p in phases)
                {
                    double? ms = p.Durations().ElementAt(i).Ms;
                    sb.Append(ms.HasValue ? $" {ms:N0} ms ({100 * ms / p.End:F0} %) |" : " — |");
                }
                sb.AppendLine();
            }
            sb.Append("| total |").Append(string.Concat(phases.Select(p => $" {p.End:N0} ms |"))).AppendLine();
            sb.AppendLine();

            // The pieces on their own: what each phase would cost if it ran alone.
            sb.AppendLine("### The pieces on their own (in process, page cache warm, best of 3)").AppendLine();
            sb.Append("| Piece |").Append(string.Concat(Results.Select(r => $" {r.SizeMiB} MiB db |"))).AppendLine();
            sb.Append("|---|").Append(string.Concat(Results.Select(_ => "---:|"))).AppendLine();
            void Row(string name, Func<SizeResult, double> seconds) =>
                sb.Append($"| {name} |").Append(string.Concat(Results.Select(r => $" {Ms(seconds(r))} |"))).AppendLine();
            Row("`cp` (for comparison, best run)", r => r.Best(Method.Cp).Seconds);
            Row("fsync of a freshly written copy (the `sync dst` after `cp`, best run)", r => r.FsyncSeconds);
            Row("SHA-256 of the file (1 MiB reads)", r => r.Sha256Seconds);
            Row("gzip of the file at the engine's level (Fastest), output discarded", r => r.GzipSeconds);
            if (Results.All(r => r.ZstdSeconds.HasValue)) Row($"zstd of the file at the engine's settings ({Ours.ZstdSettings()}), output discarded", r => r.ZstdSeconds.Value);
            Row("content profile: page count, schema hash, `count(*)` of every table (runs on a second thread)", r => r.ProfileSeconds);
            sb.AppendLine();
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
            sb.AppendLine("- TursoBackup's snapshot (`SnapshotBackup.Run`, what `Backup-TursoDatabase` calls) into a fresh vault each time, with no " +
                          $"compression, with gzip{(Has(Method.OursZstd) ? " and with zstd" : "")}: a consistent copy inside a read transaction, SHA-256 (and compression), fsync, content profile, " +
                          "manifest, and the rename that publishes it. The default method copies the database file and the WAL's committed frames " +
                          "directly (page copy); the fallback, SQLite's online backup API, is measured too, uncompressed, for comparison.").AppendLine();
            sb.AppendLine("Each method runs once untimed to warm the page cache (and the JIT), then the given number of times in a shuffled order; the best " +
                          "time counts. `sync` runs before every measurement so one method's write-back is not charged to the next. Figures are ratios " +
                          "to `cp` and `sqlite3 .backup` on the same files, so they carry over between machines better than absolute times — " +
                          "they are benchmarks, not timed tests, and nothing fails when they move.").AppendLine();

            sb.AppendLine("## Machine").AppendLine();
            foreach (var line in MachineLines()) sb.AppendLine("- " + line);
            sb.AppendLine();

            sb.AppendLine("## Reproduce").AppendLine();
            sb.AppendLine("From the repository root:").AppendLine();
            sb.AppendLine("```sh").AppendLine(options.ReproduceCommand()).AppendLine("```").AppendLine();
            sb.AppendLine("Leave out `--write-doc` to print the tables only" +
                          (options.SizesMiB.Contains(1024) ? "; leave `1024` out of `--sizes` for a quicker run" : "; add `1024` to `--sizes` for a 1 GiB database") + ". " +
                          "The databases are kept in the work folder (`--dir`, default `<temp>/tursobackup-bench`) and reused by the next run; " +
                          "`--fresh` rebuilds them, `--clean` deletes the folder at the end.").AppendLine();

            sb.AppendLine("## Results").AppendLine();
            sb.Append(Tables());

            sb.AppendLine("## Against the aims").AppendLine();
            sb.Append(Interpretation());
            return sb.ToString();
        }

        /// <summary>The aims are: snapshot ≥ 0.7× cp throughput, ahead of sqlite3 .backup, memory flat as the db grows.</summary>
        public string Interpretation()
        {
            var rs = Results;
            string PerSize(Func<SizeResult, string> f) => string.Join(", ", rs.Select(r => $"{f(r)} at {r.SizeMiB} MiB"));
            var sb = new StringBuilder();

            // Aim 1: at least 0.7x the throughput of cp.
            double noneCpMin = rs.Min(r => r.Ratio(Method.OursNone, Method.Cp));
            double noneSyncMin = rs.Min(r => r.Ratio(Method.OursNone, Method.CpFsync));
            sb.Append($"**Throughput against `cp` (aim ≥ 0.70×).** The uncompressed snapshot reached {Range(r => r.Ratio(Method.OursNone, Method.Cp))} " +
                      $"the throughput of plain `cp` ({PerSize(r => $"{r.MiBps(Method.OursNone):N0} vs {r.MiBps(Method.Cp):N0} MiB/s")}), ");
            sb.Append(noneCpMin >= 0.7 ? "so the aim is met against plain `cp`. " : "so **the aim is missed against plain `cp`**. ");
            sb.Append($"Against `cp` followed by an fsync — the like-for-like comparison, since our backup fsyncs its artifact and `cp` alone leaves " +
                      $"the copy in the page cache — it reached {Range(r => r.Ratio(Method.OursNone, Method.CpFsync))}");
            sb.Append(noneSyncMin >= 0.7 ? ", which meets the aim" : rs.Max(r => r.Ratio(Method.OursNone, Method.CpFsync)) >= 0.7 ? ", which **meets the aim at some sizes only**" : ", which **misses the aim** too");
            sb.Append($" (with the backup API instead of the page copy: {Range(r => r.Ratio(Method.OursNoneBackupApi, Method.CpFsync))}). ");
            foreach (var (m, label) in new[] { (Method.OursGzip, "gzip"), (Method.OursZstd, "zstd") }.Where(x => Has(x.Item1)))
            {
                sb.Append($"With {label} it reached {Range(r => r.Ratio(m, Method.Cp))} of `cp` and {Range(r => r.Ratio(m, Method.CpFsync))} of `cp` + fsync" +
                          $" (artifact {Range(r => (double)r.Best(m).StoredBytes / r.DbBytes, "P0").TrimEnd('×')} of the database). ");
            }
            sb.Append("Compression trades speed for a smaller artifact");
            sb.Append(DefaultMethod == Method.OursNone
                ? " and is not held to the aim."
                : $", and it is the default: a backup that does not choose a compression uses {Ours.DefaultCompression} and runs at " +
                  $"{Range(r => r.Ratio(DefaultMethod, Method.CpFsync))} of `cp` + fsync{(rs.Min(r => r.Ratio(DefaultMethod, Method.CpFsync)) >= 0.7 ? ", which meets the aim too." : ", **short of the aim**.")}");
            sb.AppendLine().AppendLine();

            // The checksum floor: SHA-256 of every byte runs on one core, even on a second thread, and bounds any design that keeps it.
            var last = rs.Last();
            sb.Append($"The checksum sets a floor: SHA-256 of the file on its own takes {Range(r => r.Sha256Seconds / r.Best(Method.Cp).Seconds, "F1")} as long as " +
                      $"the whole `cp` ({Ms(last.Sha256Seconds)} vs {Ms(last.Best(Method.Cp).Seconds)} at {last.SizeMiB} MiB). A snapshot that hashes every byte " +
                      "cannot finish before its hasher does, even when the hash runs beside the copy, which caps it on this machine at " +
                      $"{Range(r => r.Best(Method.Cp).Seconds / r.Sha256Seconds)} of `cp` and {Range(r => r.Best(Method.CpFsync).Seconds / r.Sha256Seconds)} of `cp` + fsync");
            sb.Append(rs.Max(r => r.Best(Method.Cp).Seconds / r.Sha256Seconds) < 0.7
                ? ": 0.70× of plain `cp` is out of reach while the checksum is one SHA-256 stream. " : ". ");
            sb.Append($"The uncompressed snapshot takes {Range(r => r.Best(Method.OursNone).Seconds / r.Sha256Seconds)} the time of that hash alone " +
                      $"(the backup API variant: {Range(r => r.Best(Method.OursNoneBackupApi).Seconds / r.Sha256Seconds)}).");
            sb.AppendLine().AppendLine();

            // Aim 2: ahead of sqlite3 .backup.
            if (bench.HasSqlite3)
            {
                double min = rs.Min(r => r.Ratio(Method.OursNone, Method.Sqlite3Backup));
                double max = rs.Max(r => r.Ratio(Method.OursNone, Method.Sqlite3Backup));
                sb.Append($"**Against `sqlite3 .backup` (aim > 1×).** The uncompressed snapshot ran at {Range(r => r.Ratio(Method.OursNone, Method.Sqlite3Backup))} " +
                          $"the throughput of `sqlite3 .backup` ({PerSize(r => $"{r.Best(Method.OursNone).Seconds:F2} s vs {r.Best(Method.Sqlite3Backup).Seconds:F2} s")})");
                sb.Append(min > 1 ? ": ahead at every size, so the aim is met, although it also checksums the copy and writes and publishes a manifest. "
                          : max > 1 ? ": **ahead at some sizes only, so the aim is missed**. "
                          : ": **behind it at every size, so the aim is missed**. ");
                sb.Append($"Through the backup API (the fallback method) it runs at {Range(r => r.Ratio(Method.OursNoneBackupApi, Method.Sqlite3Backup))}. ");
                foreach (var (m, label) in new[] { (Method.OursGzip, "gzip"), (Method.OursZstd, "zstd") }.Where(x => Has(x.Item1)))
                {
                    double cMin = rs.Min(r => r.Ratio(m, Method.Sqlite3Backup)), cMax = rs.Max(r => r.Ratio(m, Method.Sqlite3Backup));
                    sb.Append($"With {label}{(m == DefaultMethod ? " (the default)" : "")} it ran at {Range(r => r.Ratio(m, Method.Sqlite3Backup))}");
                    sb.Append(cMin > 1 ? ", still ahead while also compressing. " : cMax > 1 ? ", ahead at some sizes only. " : ", behind it: the compressor, not the copy, sets that pace. ");
                }
                sb.Length -= 1; // the trailing space
                sb.AppendLine().AppendLine();
            }

            // Aim 3: flat memory.
            sb.Append("**Memory (aim: flat as the database grows).** ");
            var first = rs.First();
            // Flat = within max(8 MiB, 5 %) from the smallest to the largest database. When that fails but the last step
            // (second-largest to largest) is within it, memory is bounded rather than proportional: say both.
            bool Within(double from, double to) => Math.Abs(to - from) <= Math.Max(8, 0.05 * from);
            foreach (var (m, label) in OurMethods)
            {
                var mib = rs.Select(r => r.PeakRssKiB(m).Value / 1024.0).ToList();
                double growth = mib[^1] - mib[0];
                sb.Append($"Peak RSS ({label}) was {string.Join(" / ", mib.Select(x => x.ToString("N1")))} MiB at {string.Join(" / ", rs.Select(r => r.SizeMiB))} MiB");
                if (rs.Count < 2) sb.Append(" (only one size was measured). ");
                else if (Within(mib[0], mib[^1])) sb.Append($" ({growth:+0.0;-0.0;0.0} MiB end to end): flat. ");
                else if (rs.Count >= 3 && Within(mib[^2], mib[^1]))
                    sb.Append($": **{growth:+0.0;-0.0} MiB end to end, so not flat**, but {mib[^1] - mib[^2]:+0.0;-0.0;0.0} MiB over the last {rs[^1].SizeMiB - rs[^2].SizeMiB:N0} MiB of database — bounded, not growing with it. ");
                else sb.Append($" (**{growth:+0.0;-0.0} MiB — not flat**{(rs.Count < 3 ? "; measure a third size to see whether it levels off" : "")}). ");
            }
            double floor = rs.Max(r => r.Baseline.PeakRssKiB.Value) / 1024.0;
            double overApi = rs.Max(r => r.PeakRssKiB(Method.OursNone).Value - r.PeakRssKiB(Method.OursNoneBackupApi).Value) / 1024.0;
            sb.Append($"The database grew {(last.DbBytes - first.DbBytes) / 1048576.0:N0} MiB meanwhile. Most of the footprint is the .NET runtime and the engine: " +
                      $"a child that only opens the database peaks at {floor:N1} MiB. ");
            if (overApi > 4) sb.Append($"The uncompressed page copy peaks up to {overApi:N1} MiB above the backup API — the fixed-size queue of chunks waiting for its hashing thread — and that does not grow with the database either. ");
            if (bench.HasSqlite3 && first.PeakRssKiB(Method.Sqlite3Backup).HasValue)
            {
                sb.Append($"`sqlite3 .backup`, a small C program, peaks at {Rss(rs.Max(r => r.PeakRssKiB(Method.Sqlite3Backup)))}.");
            }
            sb.AppendLine().AppendLine();

            // Where the time goes, set against the pieces measured on their own.
            var none = last.Best(Method.OursNone).Phases;
            var api = last.Best(Method.OursNoneBackupApi).Phases;
            var gz = last.Best(Method.OursGzip).Phases;
            sb.Append($"**Where the time goes** (at {last.SizeMiB} MiB). Uncompressed, the page copy ({none.End:N0} ms) spends {none.Copy:N0} ms copying the pages " +
                      $"while a second thread hashes them (SHA-256 alone: {Ms(last.Sha256Seconds)}; `cp`: {Ms(last.Best(Method.Cp).Seconds)}), then {none.Finish:N0} ms " +
                      $"finishing the hash, fsyncing, joining the content profile and writing the manifest (a bare fsync of a fresh copy: {Ms(last.FsyncSeconds)}). ");
            sb.Append($"The backup API variant ({api.End:N0} ms) copies in {api.Copy:N0} ms through SQLite's pager, then reads the copy again to hash it ({api.Stream:N0} ms) " +
                      $"and fsyncs ({api.Finish:N0} ms): the same work one step after another. ");
            sb.Append($"With gzip ({gz.End:N0} ms), the copy into staging takes {gz.Copy:N0} ms and compressing it {gz.Stream:N0} ms; " +
                      $"the compressor on its own (output discarded) takes {Ms(last.GzipSeconds)}, so single-threaded deflate, not I/O, bounds the gzip backup.");
            if (Has(Method.OursZstd) && last.ZstdSeconds.HasValue)
            {
                var zs = last.Best(Method.OursZstd).Phases;
                sb.Append($" With zstd ({zs.End:N0} ms): copy {zs.Copy:N0} ms, compression {zs.Stream:N0} ms (the compressor alone: {Ms(last.ZstdSeconds.Value)}), " +
                          $"fsync and manifest {zs.Finish:N0} ms.");
            }
            sb.AppendLine();
            return sb.ToString();
        }

        private IEnumerable<string> MachineLines()
        {
            string Read(string path) => File.Exists(path) ? File.ReadAllText(path) : "";
            string cpuinfo = Read("/proc/cpuinfo");
            string cpu = cpuinfo.Split('\n').FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
            bool vm = cpuinfo.Split('\n').Any(l => l.StartsWith("flags") && l.Split(' ').Contains("hypervisor"));
            string mem = Read("/proc/meminfo").Split('\n').FirstOrDefault(l => l.StartsWith("MemTotal"))?.Split(':', 2)[1].Trim();
            string os = Read("/etc/os-release").Split('\n').FirstOrDefault(l => l.StartsWith("PRETTY_NAME="))?.Split('=', 2)[1].Trim('"');
            string kernel = Read("/proc/sys/kernel/osrelease").Trim();
            string fs = Tools.Output("findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", options.Dir);
            fs = fs == null ? "unknown" : string.Join(" ", fs.Split(' ', StringSplitOptions.RemoveEmptyEntries));
            string engineSqlite;
            using (var db = SqliteFile.OpenOrCreate(":memory:")) engineSqlite = Convert.ToString(SqliteFile.Scalar(db, "SELECT sqlite_version()"));

            yield return $"CPU: {cpu}, {Environment.ProcessorCount} logical processors (`nproc`)" + (vm ? ", virtual machine" : "");
            if (mem != null) yield return $"Memory: {long.Parse(mem.Split(' ')[0]) / 1048576.0:F1} GiB";
            yield return $"OS: {os ?? RuntimeInformation.OSDescription}, kernel {kernel}";
            yield return $"Disk: work folder on {fs}" + (options.DirGiven ? "" : " (the default `<temp>/tursobackup-bench`)");
            yield return $".NET: {RuntimeInformation.FrameworkDescription} (SDK {Tools.Output("dotnet", "--version") ?? "unknown"}), Release build";
            yield return $"SQLite in the engine (e_sqlite3): {engineSqlite}; `sqlite3` CLI: {(bench.HasSqlite3 ? Tools.Output(Tools.Sqlite3, "--version")?.Split(' ')[0] : "not installed")}";
            yield return $"`cp`: {Tools.Output("cp", "--version") ?? "unknown"}";
            yield return $"Run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {options.Runs} timed run(s) per method";
        }

        /// <summary>The repository root: the nearest folder above the current folder (or the program) holding TursoBackup.sln.</summary>
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
