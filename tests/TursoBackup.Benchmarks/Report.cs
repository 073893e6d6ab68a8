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
        private ManyResult Many => bench.Many;

        public Report(Bench bench, Options options)
        {
            this.bench = bench;
            this.options = options;
        }

        private static string ZstdName(int level) =>
            $"zstd level {level}{(level == Ours.DefaultZstdLevel && Ours.DefaultCompression == CompressionKind.Zstd ? " (default)" : "")}";

        /// <summary>Display names of the methods.</summary>
        private static string Name(Method m) => m switch
        {
            Method.Cp => "`cp`",
            Method.CpFsync => "`cp` + `sync <dst>` (fsync)",
            Method.Sqlite3Backup => "`sqlite3 .backup`",
            Method.OursNone => "TursoBackup, no compression",
            Method.OursZstd => "TursoBackup, " + ZstdName(Ours.DefaultZstdLevel),
            Method.OursZstdAlt => "TursoBackup, " + ZstdName(Ours.AltZstdLevel),
            Method.OursGzip => "TursoBackup, gzip" + (Ours.DefaultCompression == CompressionKind.Gzip ? " (default)" : ""),
            Method.OursNoneBackupApi => "TursoBackup, no compression, backup API (fallback method)",
            Method.Sqlite3Dump => "`sqlite3 db .dump > file`",
            Method.Sqlite3DumpZstd => "`sqlite3 db .dump | zstd -1 -T0 > file`, then fsync",
            Method.OursExport => "TursoBackup `DumpFiles.Export` (Export-TursoDatabase) to `.sql`, fsynced",
            Method.OursDumpZstd => $"TursoBackup Dump backup, zstd level {Ours.DefaultZstdLevel}",
            _ => m.ToString(),
        };

        /// <summary>Short names for column headers and lists.</summary>
        private static string Short(Method m) => m switch
        {
            Method.OursNone => "none",
            Method.OursZstd => $"zstd {Ours.DefaultZstdLevel}",
            Method.OursZstdAlt => $"zstd {Ours.AltZstdLevel}",
            Method.OursGzip => "gzip",
            Method.OursNoneBackupApi => "none, backup API",
            Method.OursDumpZstd => "dump backup, zstd",
            Method.OursExport => "dump to .sql",
            _ => m.ToString(),
        };

        /// <summary>The method a plain Backup-TursoDatabase uses: page copy with the engine's default compression.</summary>
        private static Method DefaultMethod =>
            Ours.DefaultCompression == CompressionKind.None ? Method.OursNone
            : Ours.DefaultCompression == CompressionKind.Gzip ? Method.OursGzip : Method.OursZstd;

        private static readonly Method[] SnapshotRows =
            { Method.Cp, Method.CpFsync, Method.Sqlite3Backup, Method.OursNone, Method.OursZstd, Method.OursZstdAlt, Method.OursGzip, Method.OursNoneBackupApi };

        private static readonly Method[] OurSnapshots = { Method.OursNone, Method.OursZstd, Method.OursGzip, Method.OursNoneBackupApi };

        private static string MiB(double bytes) => (bytes / 1048576.0).ToString("N1") + " MiB";
        private static string Rss(long? kib) => kib.HasValue ? (kib.Value / 1024.0).ToString("N1") + " MiB" : "n/a";
        private static string X(double ratio) => ratio.ToString("F2") + "×";
        private static string Ms(double seconds) => (seconds * 1000).ToString("N0") + " ms";
        private static string S(double seconds) => seconds.ToString(seconds < 10 ? "F3" : "F2") + " s";
        private static string Pct(double part, double whole) => (100.0 * part / whole).ToString("F0") + " %";

        /// <summary>"lo–hi×" over the sizes (or one value when they agree to the digits shown).</summary>
        private string Range(Func<SizeResult, double> f, string fmt = "F2", string unit = "×") => RangeOf(Results, f, fmt, unit);

        private static string RangeOf(IEnumerable<SizeResult> rs, Func<SizeResult, double> f, string fmt = "F2", string unit = "×")
        {
            string lo = rs.Min(f).ToString(fmt), hi = rs.Max(f).ToString(fmt);
            return lo == hi ? lo + unit : $"{lo}–{hi}{unit}";
        }

        private string PerSize(Func<SizeResult, string> f) => string.Join(", ", Results.Select(r => $"{f(r)} at {r.SizeMiB} MiB"));

        /// <summary>"3 runs (5 for methods that take under 5 s)".</summary>
        private string RunsText => options.Runs >= Bench.FastRuns ? $"{options.Runs} run(s)" : $"{options.Runs} run(s) ({Bench.FastRuns} for methods that take under {Bench.FastSeconds:F0} s)";

        private SizeResult CodecResult => Results.First(r => r.SizeMiB == options.CodecSize);

        // ------------------------------------------------------------------------------------------------ tables

        /// <summary>The result tables.</summary>
        public string Tables()
        {
            var sb = new StringBuilder();
            SnapshotTables(sb);
            DumpTables(sb);
            CompressionTables(sb);
            if (Many != null) ManyTable(sb);
            MemoryTable(sb);
            PhaseTable(sb);
            PiecesTable(sb);
            return sb.ToString();
        }

        private void SnapshotTables(StringBuilder sb)
        {
            bool sq = bench.HasSqlite3;
            foreach (var r in Results)
            {
                sb.AppendLine($"### Snapshot of the {r.SizeMiB} MiB database ({r.DbBytes:N0} bytes, WAL mode)").AppendLine();
                sb.Append("| Method | Best time | Median | Throughput | × `cp` | × `cp` + fsync |").Append(sq ? " × `sqlite3 .backup` |" : "").AppendLine(" Peak RSS |");
                sb.Append("|---|---:|---:|---:|---:|---:|").Append(sq ? "---:|" : "").AppendLine("---:|");
                foreach (var m in SnapshotRows.Where(r.Has))
                {
                    var best = r.Best(m);
                    string label = best.StoredBytes > 0 && m != Method.OursNone && m != Method.OursNoneBackupApi
                        ? $"{Name(m)}, stored {MiB(best.StoredBytes)} ({Pct(best.StoredBytes, r.DbBytes)})" : Name(m);
                    sb.Append($"| {label} | {best.Seconds:F3} s | {r.Median(m):F3} s | {r.MiBps(m):N0} MiB/s | {X(r.Ratio(m, Method.Cp))} | {X(r.Ratio(m, Method.CpFsync))} |");
                    if (sq) sb.Append($" {X(r.Ratio(m, Method.Sqlite3Backup))} |");
                    sb.AppendLine($" {Rss(r.PeakRssKiB(m))} |");
                }
                sb.AppendLine();
            }
            sb.Append($"Best and median of {RunsText} per method after one untimed warm-up round" +
                      (Results.Any(r => r.SizeMiB >= 1024) ? " (at 1 GiB and more: the file is read into the page cache instead — one round takes most of a minute)" : "") +
                      ", page cache warm, `sync` before every run. " +
                      "× X is throughput relative to X (X's best time ÷ this method's best time): above 1.00× is faster than X. " +
                      "TursoBackup rows use the page copy unless the backup API is named; \"(default)\" marks what a backup uses when nothing is chosen " +
                      $"(compression {Ours.DefaultCompression}, zstd level {Ours.DefaultZstdLevel}, {Ours.WorkersText}). " +
                      $"Zstd level {Ours.AltZstdLevel} is measured at {options.CodecSize} MiB only (`ArtifactStreams.ZstdLevel`). " +
                      "Peak RSS of TursoBackup is measured in a separate child process (one cold backup); of `cp` and `sqlite3`, with GNU `time -f %M` (max over the runs).");
            AppendNoisy(sb, SnapshotRows);
            sb.AppendLine().AppendLine();
        }

        private void AppendNoisy(StringBuilder sb, IEnumerable<Method> methods)
        {
            // Call out noisy measurements rather than let a lucky best time stand unremarked.
            var noisy = Results.SelectMany(r => methods.Where(r.Has).Select(m => (r, m, spread: r.Median(m) / r.BestSeconds(m)))).Where(x => x.spread > 1.15).ToList();
            if (noisy.Count > 0)
            {
                sb.Append(" Noisy (median more than 1.15× the best): " + string.Join(", ", noisy.Select(x => $"{Name(x.m)} at {x.r.SizeMiB} MiB ({x.spread:F2}×)")) +
                          "; ratios involving these are less certain.");
            }
        }

        private void DumpTables(StringBuilder sb)
        {
            bool sq = bench.HasSqlite3;
            foreach (var r in Results)
            {
                sb.AppendLine($"### SQL dump of the {r.SizeMiB} MiB database").AppendLine();
                sb.Append("| Method | Best time | Median | Throughput (database MiB/s) | Output |");
                if (sq) sb.Append(" × `sqlite3 .dump` | × `sqlite3 .dump` + fsync |");
                sb.AppendLine(" Peak RSS |");
                sb.Append("|---|---:|---:|---:|---:|").Append(sq ? "---:|---:|" : "").AppendLine("---:|");
                void Row(string name, double best, double median, long output, long? rss)
                {
                    sb.Append($"| {name.Replace("|", "\\|")} | {best:F3} s | {median:F3} s | {r.MiB / best:N0} MiB/s | {MiB(output)} ({Pct(output, r.DbBytes)}) |");
                    if (sq) sb.Append($" {X(r.BestSeconds(Method.Sqlite3Dump) / best)} | {X(r.BestDurable(Method.Sqlite3Dump) / best)} |");
                    sb.AppendLine($" {Rss(rss)} |");
                }
                if (r.Has(Method.Sqlite3Dump))
                {
                    var s = r.Best(Method.Sqlite3Dump);
                    Row(Name(Method.Sqlite3Dump), s.Seconds, r.Median(Method.Sqlite3Dump), s.StoredBytes, r.PeakRssKiB(Method.Sqlite3Dump));
                    Row(Name(Method.Sqlite3Dump) + ", then fsync", r.BestDurable(Method.Sqlite3Dump), r.MedianDurable(Method.Sqlite3Dump), s.StoredBytes, r.PeakRssKiB(Method.Sqlite3Dump));
                }
                if (r.Has(Method.Sqlite3DumpZstd))
                {
                    Row(Name(Method.Sqlite3DumpZstd), r.BestDurable(Method.Sqlite3DumpZstd), r.MedianDurable(Method.Sqlite3DumpZstd), r.Best(Method.Sqlite3DumpZstd).StoredBytes,
                        r.PeakRssKiB(Method.Sqlite3DumpZstd));
                }
                foreach (var m in new[] { Method.OursExport, Method.OursDumpZstd }.Where(r.Has))
                {
                    Row(Name(m), r.BestSeconds(m), r.Median(m), r.Best(m).StoredBytes, r.PeakRssKiB(m));
                }
                sb.AppendLine();
            }
            bool big = Results.Any(r => r.SizeMiB >= 1024);
            sb.Append($"Best and median of {RunsText}" + (big ? "; one untimed warm-up round, except at 1 GiB and more, where the source is in the page cache from the snapshots" : " after one untimed warm-up") +
                      ", `sync` before every run. Throughput is MiB of database per second; Output is the file written (its share of the database in brackets). " +
                      "The `sqlite3` rows are timed without and with the fsync of the output (`sync <file>` right after, the same run); ours always fsync. " +
                      "The attachments are random blobs, written as `X'…'` hex in SQL, so that third of the database doubles in the text. " +
                      "Peak RSS: ours in a child process, `sqlite3` (and `zstd`) with GNU `time`.");
            AppendNoisy(sb, new[] { Method.Sqlite3Dump, Method.Sqlite3DumpZstd, Method.OursExport, Method.OursDumpZstd });
            sb.AppendLine().AppendLine();
        }

        private void CompressionTables(StringBuilder sb)
        {
            var r = CodecResult;
            sb.AppendLine($"### Compression: zstd against gzip ({r.SizeMiB} MiB database, snapshot)").AppendLine();
            sb.AppendLine("| Compression | Stored | Ratio | Snapshot backup | Compressor alone | Restore | Decompressor alone |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (var m in new[] { Method.OursNone, Method.OursZstd, Method.OursZstdAlt, Method.OursGzip }.Where(r.Has))
            {
                var best = r.Best(m);
                string name = m == Method.OursNone ? "none" : m == Method.OursGzip ? "gzip (Fastest)" : ZstdName(Methods.Settings(m).ZstdLevel) + ", " + Ours.WorkersText;
                string comp = r.Compress.TryGetValue(m, out var c) ? $"{r.MiB / c:N0} MiB/s" : "—";
                string decomp = r.Decompress.TryGetValue(m, out var d) ? $"{r.MiB / d:N0} MiB/s" : "—";
                double restore = r.Restore[m].Min();
                sb.AppendLine($"| {name} | {MiB(best.StoredBytes)} ({Pct(best.StoredBytes, r.DbBytes)}) | {(double)r.DbBytes / best.StoredBytes:F2} | " +
                              $"{best.Seconds:F3} s, {r.MiBps(m):N0} MiB/s | {comp} | {restore:F3} s, {r.MiB / restore:N0} MiB/s | {decomp} |");
            }
            sb.AppendLine();
            sb.AppendLine("Ratio is database bytes ÷ stored bytes. Throughputs are MiB of database per second. Snapshot backup: the best run of the table above. " +
                          $"Compressor alone: the engine's compressor over the database file into `Stream.Null`; decompressor alone: over the stored artifact — in process, best of {r.PieceRuns}. " +
                          "Restore: `BackupRestore.Restore` (what Restore-TursoBackup calls) to a new file — read the artifact, SHA-256 of the stored bytes, decompress, write, fsync, rename — " +
                          $"best of {bench.RestoreRuns(r.SizeMiB)}, `sync` before each" +
                          (Results.Any(x => x.SizeMiB >= 1024) ? $" (best of {bench.RestoreRuns(Results.Max(x => x.SizeMiB))} at 1 GiB and more)." : ".")).AppendLine();

            sb.AppendLine("### Restore time by database size (to a new file)").AppendLine();
            sb.Append("| Compression |").Append(string.Concat(Results.Select(x => $" {x.SizeMiB} MiB db |"))).AppendLine();
            sb.Append("|---|").Append(string.Concat(Results.Select(_ => "---:|"))).AppendLine();
            foreach (var m in new[] { Method.OursNone, Method.OursZstd, Method.OursGzip })
            {
                sb.Append($"| {(m == Method.OursNone ? "none" : m == Method.OursGzip ? "gzip" : ZstdName(Ours.DefaultZstdLevel))} |")
                  .Append(string.Concat(Results.Select(x => $" {x.Restore[m].Min():F3} s ({x.MiB / x.Restore[m].Min():N0} MiB/s) |"))).AppendLine();
            }
            sb.Append("| `cp` + fsync, for comparison |").Append(string.Concat(Results.Select(x => $" {x.BestSeconds(Method.CpFsync):F3} s ({x.MiBps(Method.CpFsync):N0} MiB/s) |"))).AppendLine();
            sb.AppendLine();
        }

        private void ManyTable(StringBuilder sb)
        {
            var m = Many;
            sb.AppendLine($"### {m.Count:N0} small databases through one Backup-TursoDatabase pipeline ({MiB(m.Bytes)} in all, {m.Bytes / 1024.0 / m.Count:N0} KiB on average)").AppendLine();
            sb.AppendLine("| Run | Best time | Median | Databases/s | Per database, start-up excluded | Peak RSS |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|");
            double startup = ManyResult.Best(m.Startup);
            sb.AppendLine($"| `cp -r` of the folder, then fsync of every copy (`sync <files>`) | {S(ManyResult.Best(m.CpSync))} | {S(ManyResult.Median(m.CpSync))} | " +
                          $"{m.Count / ManyResult.Best(m.CpSync):N0} | {ManyResult.Best(m.CpSync) / m.Count * 1000:F2} ms | {Rss(ManyResult.Rss(m.CpSync))} |");
            sb.AppendLine($"| pwsh + module start-up and 1 database (`-ThrottleLimit {m.StartupThrottle}`) | {S(startup)} | {S(ManyResult.Median(m.Startup))} | — | — | {Rss(ManyResult.Rss(m.Startup))} |");
            foreach (var (t, samples) in m.ByThrottle)
            {
                double best = ManyResult.Best(samples);
                sb.AppendLine($"| {m.Count:N0} databases, `-ThrottleLimit {t}` | {S(best)} | {S(ManyResult.Median(samples))} | " +
                              $"{m.Count / best:N0} ({(m.Count - 1) / (best - startup):N0} after start-up) | {m.PerDatabase(t) * 1000:F2} ms | {Rss(ManyResult.Rss(samples))} |");
            }
            sb.AppendLine();
            sb.AppendLine($"Each run is one process: `dotnet pwsh.dll -NoProfile -NonInteractive -Command \"Import-Module <module>; $files | Backup-TursoDatabase -Vault <new vault> -ThrottleLimit T\"` " +
                          "with `$files` the first N paths of the folder (sorted), timed from start to exit (so .NET, PowerShell and module start-up are in it), " +
                          $"default compression (zstd level {Ours.DefaultZstdLevel}), a fresh vault each run, `sync` before each, best and median of {m.Runs} run(s) after an untimed warm-up. " +
                          "Databases/s is N ÷ best time, and in brackets (N − 1) ÷ (best time − the 1-database run), which leaves out the start-up; " +
                          "per database is the same without start-up, as time. Peak RSS: GNU `time` on the pwsh process (max over the runs). " +
                          $"Each database: the four tables of the big ones with fewer rows (customers, orders with an index, events, attachments), 50–200 KiB, WAL mode. " +
                          "pwsh is the PowerShell pinned in .config/dotnet-tools.json; the module is copied from the repository's Release build into the work folder before the runs" +
                          (m.ModuleEngineMatches ? "; the module's engine is byte-identical to the one measured in process above." : "; **the module's TursoBackup.Engine.dll differs from the engine measured in process above** (built at another time).")).AppendLine();
        }

        private void MemoryTable(StringBuilder sb)
        {
            sb.AppendLine("### Peak memory (max RSS) by database size").AppendLine();
            sb.Append("| Process |").Append(string.Concat(Results.Select(r => $" {r.SizeMiB} MiB db |"))).AppendLine();
            sb.Append("|---|").Append(string.Concat(Results.Select(_ => "---:|"))).AppendLine();
            void RssRow(string name, Func<SizeResult, long?> kib) =>
                sb.Append($"| {name} |").Append(string.Concat(Results.Select(r => $" {Rss(kib(r))} |"))).AppendLine();
            foreach (var m in OurSnapshots.Concat(new[] { Method.OursDumpZstd, Method.OursExport }))
            {
                RssRow((m == Method.OursExport ? Name(m).Replace(", fsynced", "") : Name(m)) + " (child process)", r => r.PeakRssKiB(m));
            }
            RssRow(".NET + engine floor (child that only opens the database)", r => r.Baseline.PeakRssKiB);
            if (bench.HasSqlite3)
            {
                RssRow("`sqlite3 .backup`", r => r.PeakRssKiB(Method.Sqlite3Backup));
                RssRow("`sqlite3 .dump > file`", r => r.PeakRssKiB(Method.Sqlite3Dump));
            }
            RssRow("`cp`", r => r.PeakRssKiB(Method.Cp));
            sb.AppendLine();
            if (Many != null)
            {
                sb.AppendLine($"pwsh over {Many.Count:N0} small databases (no database size applies): start-up run with 1 database {Rss(ManyResult.Rss(Many.Startup))}; " +
                              string.Join(", ", Many.ByThrottle.Select(t => $"-ThrottleLimit {t.Key} {Rss(ManyResult.Rss(t.Value))}")) + ".").AppendLine();
            }
            sb.Append("The child processes also time their one backup, cold (no JIT warm-up, as in a fresh shell; .NET start-up excluded): ")
              .Append(string.Join("; ", Results.Select(r => $"{r.SizeMiB} MiB: " +
                  string.Join(", ", r.Child.Select(c => $"{c.Value.Seconds:F3} s {Short(c.Key)}")))))
              .AppendLine(".").AppendLine();
        }

        private void PhaseTable(StringBuilder sb)
        {
            sb.AppendLine("### Where a snapshot's time goes (best run, from the engine's Log/Progress callbacks)").AppendLine();
            var columns = Results.SelectMany(r => OurSnapshots.Where(r.Has).Select(m => (r, m))).ToList();
            sb.Append("| Phase |").Append(string.Concat(columns.Select(c => $" {c.r.SizeMiB} MiB, {Short(c.m)} |"))).AppendLine();
            sb.Append("|---|").Append(string.Concat(columns.Select(_ => "---:|"))).AppendLine();
            var phases = columns.Select(c => c.r.Best(c.m).Phases).ToList();
            var names = phases[0].Durations().Select(d => d.Name).ToList();
            for (int i = 0; i < names.Count; i++)
            {
                sb.Append($"| {names[i]} |");
                foreach (var p in phases)
                {
                    double ms = p.Durations().ElementAt(i).Ms;
                    sb.Append($" {ms:N0} ms ({100 * ms / p.End:F0} %) |");
                }
                sb.AppendLine();
            }
            sb.Append("| total |").Append(string.Concat(phases.Select(p => $" {p.End:N0} ms |"))).AppendLine();
            sb.AppendLine();
        }

        private void PiecesTable(StringBuilder sb)
        {
            sb.AppendLine("### The pieces on their own (in process, page cache warm)").AppendLine();
            sb.Append("| Piece |").Append(string.Concat(Results.Select(r => $" {r.SizeMiB} MiB db |"))).AppendLine();
            sb.Append("|---|").Append(string.Concat(Results.Select(_ => "---:|"))).AppendLine();
            void Row(string name, Func<SizeResult, double?> seconds) =>
                sb.Append($"| {name} |").Append(string.Concat(Results.Select(r => seconds(r) is double s ? $" {Ms(s)} ({r.MiB / s:N0} MiB/s) |" : " — |"))).AppendLine();
            double? Get(Dictionary<Method, double> d, Method m) => d.TryGetValue(m, out var v) ? v : (double?)null;
            Row("`cp` (for comparison, best run)", r => r.BestSeconds(Method.Cp));
            Row("fsync of a freshly written copy (the `sync dst` after `cp`, best run)", r => r.FsyncSeconds);
            Row("SHA-256 of the file (1 MiB reads)", r => r.Sha256Seconds);
            Row($"zstd level {Ours.DefaultZstdLevel} ({Ours.WorkersText}) of the file, output discarded", r => Get(r.Compress, Method.OursZstd));
            Row($"zstd level {Ours.AltZstdLevel} ({Ours.WorkersText}) of the file, output discarded", r => Get(r.Compress, Method.OursZstdAlt));
            Row("gzip (Fastest) of the file, output discarded", r => Get(r.Compress, Method.OursGzip));
            Row($"zstd level {Ours.DefaultZstdLevel} decompression of the artifact, output discarded", r => Get(r.Decompress, Method.OursZstd));
            Row("gzip decompression of the artifact, output discarded", r => Get(r.Decompress, Method.OursGzip));
            Row("SQL dump text (SqlDumpWriter → UTF-8 → `Stream.Null`): formatting alone, no file", r => r.DumpFormatSeconds);
            Row("content profile: page count, schema hash, `count(*)` of every table", r => r.ProfileSeconds);
            Row($"zstd level {Ours.DefaultZstdLevel} snapshot stream without the staged copy: read transaction, page copy → zstd → SHA-256 (second thread) → artifact, fsync (engine pieces; `sync` before)",
                r => r.ZstdStreamNoStagingSeconds);
            sb.AppendLine();
            sb.AppendLine($"Best of {string.Join(" / ", Results.Select(r => r.PieceRuns).Distinct())} run(s) (one at 1 GiB and more); MiB/s is of the database (for decompression: of the database it restores).").AppendLine();
        }

        // ------------------------------------------------------------------------------------------------ document

        /// <summary>docs/benchmarks.md: intro, machine, command, tables, interpretation.</summary>
        public string Document()
        {
            var sb = new StringBuilder();
            sb.AppendLine("# Benchmarks").AppendLine();
            sb.AppendLine("How fast are TursoBackup's snapshots and dumps compared with the tools an admin would otherwise use, what do zstd and gzip cost and save, " +
                          "how fast does a pipeline of many small databases go, and how much memory does each take? The benchmark program in " +
                          "`tests/TursoBackup.Benchmarks` builds SQLite databases in WAL mode (customers, orders with an index, JSON event rows, and attachments " +
                          "holding random — incompressible — blobs of 0.5–4 KiB, about a third of the bytes), then, in the same run, on the same files and the same disk:").AppendLine();
            sb.AppendLine("- **snapshots** — `cp src dst` (reaches the page cache only: the ceiling for copying a file, but not a durable copy); `cp` followed by " +
                          "`sync dst` (an fsync: a durable copy, which is what a backup has to be); `sqlite3 src \".backup dst\"` (SQLite's online backup, 100 pages " +
                          "per step; its commit fsyncs); and TursoBackup's snapshot (`SnapshotBackup.Run`, what `Backup-TursoDatabase` calls) into a fresh vault " +
                          "each time, with no compression, zstd and gzip. A snapshot is a consistent page copy inside a read transaction that streams " +
                          "page copy → compressor → artifact in one pass, SHA-256 of the stored bytes on a second thread, then fsync, content profile, manifest, " +
                          "and the rename that publishes it. The fallback method, SQLite's online backup API, is measured too, uncompressed;");
            sb.AppendLine("- **SQL dumps** — `sqlite3 db .dump > file` (without and with an fsync of the file), `sqlite3 db .dump | zstd -1 -T0 > file`; " +
                          "TursoBackup's `DumpFiles.Export` (Export-TursoDatabase) to a plain `.sql` file, and a vault backup with `Kind = Dump` and zstd;");
            sb.AppendLine($"- **compression** — zstd level {Ours.DefaultZstdLevel} (the default) and level {Ours.AltZstdLevel} against gzip (Fastest): ratio, backup and " +
                          "compressor throughput, and the restore side (`BackupRestore.Restore` to a new file, and the decompressor alone);");
            if (Many != null)
            {
                sb.AppendLine($"- **many databases** — {Many.Count:N0} small databases backed up by one `Backup-TursoDatabase` pipeline in one pwsh process " +
                              $"(the PowerShell pinned in `.config/dotnet-tools.json`), with `-ThrottleLimit` {string.Join(", ", Many.ByThrottle.Keys)}, against the start-up cost (the same pipeline with one database);");
            }
            sb.AppendLine("- **memory** — the peak RSS of each of ours in a child process, of the tools with GNU `time`.").AppendLine();
            sb.AppendLine("Each method runs once untimed to warm the page cache (and the JIT), then the given number of times in a shuffled order; the best " +
                          "time counts, and the median is shown so a lucky best stands out. `sync` runs before every measurement so one method's write-back is " +
                          "not charged to the next. Figures are ratios to the tools on the same files, so they carry over between machines better than absolute " +
                          "times — they are benchmarks, not timed tests, and nothing fails when they move.").AppendLine();

            sb.AppendLine("## Machine").AppendLine();
            foreach (var line in MachineLines()) sb.AppendLine("- " + line);
            sb.AppendLine();

            sb.AppendLine("## Reproduce").AppendLine();
            sb.AppendLine("From the repository root, after `dotnet build TursoBackup.sln -c Release` and `dotnet tool restore` (the many-databases runs use the pinned pwsh and the module the build assembles):").AppendLine();
            sb.AppendLine("```sh").AppendLine(options.ReproduceCommand()).AppendLine("```").AppendLine();
            sb.AppendLine($"This run took {bench.Elapsed.TotalMinutes:F1} minutes. Leave out `--write-doc` to print the tables only; `--sizes 64,256` and `--many 200` make a quicker run; " +
                          "`--wait-load 0.8` waits for a quiet machine before measuring. The databases are kept in the work folder (`--dir`, default " +
                          "`<temp>/tursobackup-bench`) and reused by the next run; `--fresh` rebuilds them, `--clean` deletes the folder at the end. " +
                          "On a machine shared with other builds, build to a private folder and run from there " +
                          "(`dotnet build -c Release tests/TursoBackup.Benchmarks -o /tmp/tb-bench-out`, then `dotnet /tmp/tb-bench-out/TursoBackup.Benchmarks.dll …`).").AppendLine();

            sb.AppendLine("## Results").AppendLine();
            sb.Append(Tables());

            sb.AppendLine("## Against the aims").AppendLine();
            sb.Append(Interpretation());
            return sb.ToString();
        }

        // ------------------------------------------------------------------------------------------------ interpretation

        /// <summary>
        /// The aims: snapshot ≥ 0.7× cp throughput (cp + fsync like-for-like) and ahead of sqlite3 .backup; dump faster
        /// than sqlite3 .dump; memory flat as the database grows. Plus what compression and parallelism buy.
        /// </summary>
        public string Interpretation()
        {
            var rs = Results;
            var first = rs.First();
            var last = rs.Last();
            var sb = new StringBuilder();

            // Aim 1: at least 0.7x the throughput of cp.
            double noneCpMin = rs.Min(r => r.Ratio(Method.OursNone, Method.Cp));
            double noneSyncMin = rs.Min(r => r.Ratio(Method.OursNone, Method.CpFsync));
            sb.Append($"**Snapshot throughput against `cp` (aim ≥ 0.70×).** The uncompressed snapshot reached {Range(r => r.Ratio(Method.OursNone, Method.Cp))} " +
                      $"the throughput of plain `cp` ({PerSize(r => $"{r.MiBps(Method.OursNone):N0} vs {r.MiBps(Method.Cp):N0} MiB/s")}), ");
            sb.Append(noneCpMin >= 0.7 ? "so the aim is met against plain `cp`. " : "so **the aim is missed against plain `cp`**. ");
            sb.Append("Against `cp` followed by an fsync — the like-for-like comparison, since our backup fsyncs its artifact and `cp` alone leaves " +
                      $"the copy in the page cache — it reached {Range(r => r.Ratio(Method.OursNone, Method.CpFsync))}");
            sb.Append(noneSyncMin >= 0.7 ? ", which meets the aim" : rs.Max(r => r.Ratio(Method.OursNone, Method.CpFsync)) >= 0.7 ? ", which **meets the aim at some sizes only**" : ", which **misses the aim** too");
            sb.Append($" (with the backup API instead of the page copy: {Range(r => r.Ratio(Method.OursNoneBackupApi, Method.CpFsync))}). ");
            foreach (var m in new[] { Method.OursZstd, Method.OursGzip })
            {
                sb.Append($"With {Short(m)} it reached {Range(r => r.Ratio(m, Method.Cp))} of `cp` and {Range(r => r.Ratio(m, Method.CpFsync))} of `cp` + fsync" +
                          $" (artifact {Range(r => (double)r.Best(m).StoredBytes / r.DbBytes, "P0", "")} of the database). ");
            }
            double defMin = rs.Min(r => r.Ratio(DefaultMethod, Method.CpFsync));
            sb.Append("Compression trades speed for a smaller artifact");
            sb.Append(DefaultMethod == Method.OursNone
                ? " and is not held to the aim."
                : $", and it is the default: a backup that does not choose a compression uses {Short(DefaultMethod)} and runs at " +
                  $"{Range(r => r.Ratio(DefaultMethod, Method.CpFsync))} of `cp` + fsync" +
                  (defMin >= 0.7 ? ", which meets the aim too." : rs.Max(r => r.Ratio(DefaultMethod, Method.CpFsync)) >= 0.7 ? ", **meeting the aim at some sizes only**." : ", **short of the aim**."));
            sb.AppendLine().AppendLine();

            // The checksum floor: SHA-256 of every byte runs on one core, even on a second thread, and bounds any design that keeps it.
            sb.Append($"The checksum sets a floor: SHA-256 of the file on its own takes {Range(r => r.Sha256Seconds / r.BestSeconds(Method.Cp), "F1")} as long as " +
                      $"the whole `cp` ({Ms(last.Sha256Seconds)} vs {Ms(last.BestSeconds(Method.Cp))} at {last.SizeMiB} MiB). A snapshot that hashes every byte " +
                      "cannot finish before its hasher does, even when the hash runs beside the copy, which caps it on this machine at " +
                      $"{Range(r => r.BestSeconds(Method.Cp) / r.Sha256Seconds)} of `cp` and {Range(r => r.BestSeconds(Method.CpFsync) / r.Sha256Seconds)} of `cp` + fsync");
            sb.Append(rs.Max(r => r.BestSeconds(Method.Cp) / r.Sha256Seconds) < 0.7
                ? ": 0.70× of plain `cp` is out of reach while the checksum is one SHA-256 stream. " : ". ");
            sb.Append($"The uncompressed snapshot takes {Range(r => r.BestSeconds(Method.OursNone) / r.Sha256Seconds)} the time of that hash alone " +
                      $"(the backup API variant: {Range(r => r.BestSeconds(Method.OursNoneBackupApi) / r.Sha256Seconds)}).");
            sb.AppendLine().AppendLine();

            // Aim 2: ahead of sqlite3 .backup.
            if (bench.HasSqlite3)
            {
                double min = rs.Min(r => r.Ratio(Method.OursNone, Method.Sqlite3Backup));
                double max = rs.Max(r => r.Ratio(Method.OursNone, Method.Sqlite3Backup));
                sb.Append($"**Snapshot against `sqlite3 .backup` (aim > 1×).** The uncompressed snapshot ran at {Range(r => r.Ratio(Method.OursNone, Method.Sqlite3Backup))} " +
                          $"the throughput of `sqlite3 .backup` ({PerSize(r => $"{S(r.BestSeconds(Method.OursNone))} vs {S(r.BestSeconds(Method.Sqlite3Backup))}")})");
                sb.Append(min > 1 ? ": ahead at every size, so the aim is met, although it also checksums the copy and writes and publishes a manifest. "
                          : max > 1 ? ": **ahead at some sizes only, so the aim is missed**. "
                          : ": **behind it at every size, so the aim is missed**. ");
                sb.Append($"Through the backup API (the fallback method) it runs at {Range(r => r.Ratio(Method.OursNoneBackupApi, Method.Sqlite3Backup))}. ");
                foreach (var m in new[] { Method.OursZstd, Method.OursGzip })
                {
                    double cMin = rs.Min(r => r.Ratio(m, Method.Sqlite3Backup)), cMax = rs.Max(r => r.Ratio(m, Method.Sqlite3Backup));
                    sb.Append($"With {Short(m)}{(m == DefaultMethod ? " (the default)" : "")} it ran at {Range(r => r.Ratio(m, Method.Sqlite3Backup))}");
                    sb.Append(cMin > 1 ? ", still ahead while also compressing. " : cMax > 1 ? ", ahead at some sizes only. " : ", behind it: the compressor, not the copy, sets that pace. ");
                }
                sb.Length -= 1;
                sb.AppendLine().AppendLine();
            }

            // Aim 3: dump faster than sqlite3 .dump.
            if (bench.HasSqlite3 && rs.All(r => r.Has(Method.OursExport) && r.Has(Method.Sqlite3Dump)))
            {
                double Plain(SizeResult r) => r.BestSeconds(Method.Sqlite3Dump) / r.BestSeconds(Method.OursExport);
                double Durable(SizeResult r) => r.BestDurable(Method.Sqlite3Dump) / r.BestSeconds(Method.OursExport);
                sb.Append($"**Dump against `sqlite3 .dump` (aim > 1×).** Our dump to a plain `.sql` file ran at {Range(Plain)} the throughput of " +
                          $"`sqlite3 .dump > file` ({PerSize(r => $"{S(r.BestSeconds(Method.OursExport))} vs {S(r.BestSeconds(Method.Sqlite3Dump))}")})");
                sb.Append(rs.Min(Plain) > 1 ? ": faster at every size, so **the aim is met** — and ours also fsyncs the file and renames it into place. "
                          : rs.Max(Plain) > 1 ? ": **faster at some sizes only, so the aim is missed**. " : ": **slower at every size, so the aim is missed**. ");
                sb.Append($"Against `sqlite3 .dump` followed by an fsync of its file (like for like) it ran at {Range(Durable)}. ");
                sb.Append($"The text is {Range(r => (double)r.Best(Method.OursExport).StoredBytes / r.Best(Method.Sqlite3Dump).StoredBytes, "F2")} the size of sqlite3's " +
                          $"({MiB(last.Best(Method.OursExport).StoredBytes)} vs {MiB(last.Best(Method.Sqlite3Dump).StoredBytes)} at {last.SizeMiB} MiB; " +
                          $"{Range(r => (double)r.Best(Method.OursExport).StoredBytes / r.DbBytes, "F2")} the database, the hex of the random blobs doubling their third). ");
                sb.Append($"Formatting the text alone (SqlDumpWriter into UTF-8, no file) takes {Range(r => r.DumpFormatSeconds / r.BestSeconds(Method.OursExport), "P0", "")} of our dump's time " +
                          $"({Ms(last.DumpFormatSeconds)} of {Ms(last.BestSeconds(Method.OursExport))} at {last.SizeMiB} MiB), so " +
                          (rs.Min(r => r.DumpFormatSeconds / r.BestSeconds(Method.OursExport)) >= 0.6 ? "the single-threaded formatter, not the disk, bounds the dump; " : "writing the file is a large share of it; ") +
                          $"encoding and writing the text into the file and its fsync add the other {Ms(last.BestSeconds(Method.OursExport) - last.DumpFormatSeconds)} on the same thread, in turn with the formatter rather than beside it. "
                          + (rs.Any(r => r.DumpFormatSeconds < r.BestSeconds(Method.Sqlite3Dump)) ? $"The formatter alone is {Range(r => r.BestSeconds(Method.Sqlite3Dump) / r.DumpFormatSeconds)} as fast as the whole `sqlite3 .dump > file`. " : ""));
                if (rs.All(r => r.Has(Method.OursDumpZstd)))
                {
                    sb.Append($"As a vault backup with zstd (dump → zstd → SHA-256 → artifact, content profile, manifest) it took {PerSize(r => S(r.BestSeconds(Method.OursDumpZstd)))}, " +
                              $"{Range(r => r.BestSeconds(Method.Sqlite3Dump) / r.BestSeconds(Method.OursDumpZstd))} the throughput of `sqlite3 .dump > file`");
                    if (rs.All(r => r.Has(Method.Sqlite3DumpZstd)))
                    {
                        sb.Append($" and {Range(r => r.BestDurable(Method.Sqlite3DumpZstd) / r.BestSeconds(Method.OursDumpZstd))} that of `sqlite3 .dump | zstd -1 -T0` + fsync " +
                                  $"(stored {Range(r => (double)r.Best(Method.OursDumpZstd).StoredBytes / r.Best(Method.Sqlite3DumpZstd).StoredBytes, "F2")} the size of zstd's output)");
                    }
                    sb.Append($"; the dump compresses to {Range(r => (double)r.Best(Method.OursDumpZstd).StoredBytes / r.DbBytes, "P0", "")} of the database " +
                              $"(a zstd snapshot: {Range(r => (double)r.Best(Method.OursZstd).StoredBytes / r.DbBytes, "P0", "")}).");
                }
                sb.AppendLine().AppendLine();
            }

            // Compression: zstd vs gzip, level 1 vs 3, and the restore side.
            var c = CodecResult;
            if (c.Has(Method.OursZstd) && c.Has(Method.OursGzip))
            {
                double Ratio(Method m) => (double)c.DbBytes / c.Best(m).StoredBytes;
                sb.Append($"**Zstd against gzip** (at {c.SizeMiB} MiB). Zstd level {Ours.DefaultZstdLevel} stores {Ratio(Method.OursZstd):F2}:1 against gzip's {Ratio(Method.OursGzip):F2}:1 " +
                          $"({MiB(c.Best(Method.OursZstd).StoredBytes)} vs {MiB(c.Best(Method.OursGzip).StoredBytes)}) and backs up at {c.MiBps(Method.OursZstd):N0} MiB/s against " +
                          $"{c.MiBps(Method.OursGzip):N0} MiB/s ({c.Ratio(Method.OursZstd, Method.OursGzip):F1}× as fast; the compressors alone: " +
                          $"{c.MiB / c.Compress[Method.OursZstd]:N0} vs {c.MiB / c.Compress[Method.OursGzip]:N0} MiB/s). ");
                if (c.Has(Method.OursZstdAlt))
                {
                    double gain = 1 - (double)c.Best(Method.OursZstdAlt).StoredBytes / c.Best(Method.OursZstd).StoredBytes;
                    sb.Append($"Level {Ours.AltZstdLevel} stores {Ratio(Method.OursZstdAlt):F2}:1 ({(gain >= 0 ? $"{gain:P1} smaller" : $"{-gain:P1} larger")} than level {Ours.DefaultZstdLevel}) " +
                              $"at {c.MiBps(Method.OursZstdAlt):N0} MiB/s ({c.BestSeconds(Method.OursZstdAlt) / c.BestSeconds(Method.OursZstd):F2}× the time of level {Ours.DefaultZstdLevel}). ");
                }
                double zr = c.Restore[Method.OursZstd].Min(), gr = c.Restore[Method.OursGzip].Min(), nr = c.Restore[Method.OursNone].Min();
                sb.Append($"Restoring takes {S(nr)} uncompressed, {S(zr)} from zstd and {S(gr)} from gzip ({c.MiB / nr:N0} / {c.MiB / zr:N0} / {c.MiB / gr:N0} MiB/s; " +
                          $"decompression alone: zstd {c.MiB / c.Decompress[Method.OursZstd]:N0}, gzip {c.MiB / c.Decompress[Method.OursGzip]:N0} MiB/s)" +
                          $"; at {last.SizeMiB} MiB: {S(last.Restore[Method.OursNone].Min())} / {S(last.Restore[Method.OursZstd].Min())} / {S(last.Restore[Method.OursGzip].Min())}. ");
                sb.Append($"An uncompressed restore reads, hashes (SHA-256 on the reading thread, not beside it as the backup does) and writes; it runs at {Range(r => r.BestSeconds(Method.CpFsync) / r.Restore[Method.OursNone].Min())} " +
                          $"the throughput of `cp` + fsync, and the hash alone is {Range(r => r.Sha256Seconds / r.Restore[Method.OursNone].Min(), "P0", "")} of its time.");
                sb.AppendLine().AppendLine();
            }

            // Parallelism over many small databases.
            if (Many != null && Many.ByThrottle.Count > 0)
            {
                var m = Many;
                double startup = ManyResult.Best(m.Startup);
                int lo = m.ByThrottle.Keys.Min();
                double tLo = ManyResult.Best(m.ByThrottle[lo]);
                var bestT = m.ByThrottle.OrderBy(t => ManyResult.Best(t.Value)).First();
                sb.Append($"**Many small databases.** One pipeline backed up {m.Count:N0} databases ({MiB(m.Bytes)}) in {S(tLo)} with `-ThrottleLimit {lo}` " +
                          $"({m.PerDatabase(lo) * 1000:F1} ms per database once pwsh is up)");
                foreach (var (t, samples) in m.ByThrottle.Where(t => t.Key != lo))
                {
                    double tt = ManyResult.Best(samples);
                    sb.Append($", {S(tt)} with {t} ({m.PerDatabase(t) * 1000:F1} ms; {(tLo - startup) / (tt - startup):F2}× the throughput of {lo} after start-up)");
                }
                sb.Append($". pwsh's start-up with one database takes {S(startup)} — paid once per pipeline, so it matters for one database and not for a thousand. ");
                sb.Append($"The fastest setting, `-ThrottleLimit {bestT.Key}`, reached {m.Count / ManyResult.Best(bestT.Value):N0} databases/s " +
                          $"({(m.Count - 1) / (ManyResult.Best(bestT.Value) - startup):N0}/s after start-up); `cp -r` + fsync of the same files took {S(ManyResult.Best(m.CpSync))}. ");
                int cores = Environment.ProcessorCount;
                double speedup = (tLo - startup) / (ManyResult.Best(bestT.Value) - startup);
                if (bestT.Key > lo)
                {
                    sb.Append($"Parallel backups paid off: {(bestT.Key > cores ? $"{bestT.Key} workers on {cores} cores" : $"{bestT.Key} workers")} gave {speedup:F2}× the throughput of {lo} after start-up, " +
                              "because a backup of a small database spends much of its time waiting — on the fsyncs of the artifact, the manifest and two folders, and the publishing rename — " +
                              "and the other workers use the cores meanwhile. ");
                }
                else
                {
                    sb.Append($"Parallel backups did not pay off here: {lo} worker was as fast as any. ");
                }
                var keys = m.ByThrottle.Keys.ToList();
                if (keys.Count >= 3)
                {
                    int a = keys[^2], b = keys[^1];
                    double ta = ManyResult.Best(m.ByThrottle[a]), tb = ManyResult.Best(m.ByThrottle[b]);
                    sb.Append(tb < ta * 0.95 ? $"Going from {a} to {b} workers still helped ({S(ta)} → {S(tb)}). "
                              : tb > ta * 1.05 ? $"Going from {a} to {b} workers made it slower ({S(ta)} → {S(tb)}): the {cores} cores are the limit by then. "
                              : $"Going from {a} to {b} workers changed little ({S(ta)} → {S(tb)}): the {cores} cores are the limit by then. ");
                }
                double cpPer = ManyResult.Best(m.CpSync) / m.Count;
                sb.Append($"Per database, a backup costs {m.PerDatabase(bestT.Key) * 1000:F1} ms of wall time at the best setting against {cpPer * 1000:F2} ms to copy and fsync the file: " +
                          "with ~" + (m.Bytes / 1024.0 / m.Count).ToString("N0") + " KiB each, the fixed work dominates — open the source and take a read transaction, create a staging folder, " +
                          "start a zstd stream with its worker threads, write and fsync the artifact, the manifest and the folder, read the content profile, rename into the vault.");
                sb.AppendLine().AppendLine();
            }

            // Aim 4: flat memory.
            sb.Append("**Memory (aim: flat as the database grows).** ");
            // Flat = within max(8 MiB, 5 %) from the smallest to the largest database. When that fails but the last step
            // (second-largest to largest) is within it, memory is bounded rather than proportional: say both.
            bool Within(double from, double to) => Math.Abs(to - from) <= Math.Max(8, 0.05 * from);
            bool allFlat = true;
            foreach (var m in OurSnapshots.Concat(new[] { Method.OursDumpZstd, Method.OursExport }))
            {
                var mib = rs.Select(r => r.PeakRssKiB(m).Value / 1024.0).ToList();
                double growth = mib[^1] - mib[0];
                sb.Append($"Peak RSS ({Short(m)}) was {string.Join(" / ", mib.Select(x => x.ToString("N1")))} MiB at {string.Join(" / ", rs.Select(r => r.SizeMiB))} MiB");
                if (rs.Count < 2) sb.Append(" (only one size was measured). ");
                else if (Within(mib[0], mib[^1])) sb.Append($" ({growth:+0.0;-0.0;0.0} MiB end to end): flat. ");
                else if (rs.Count >= 3 && Within(mib[^2], mib[^1]))
                {
                    allFlat = false;
                    sb.Append($": **{growth:+0.0;-0.0} MiB end to end, so not flat**, but {mib[^1] - mib[^2]:+0.0;-0.0;0.0} MiB over the last {rs[^1].SizeMiB - rs[^2].SizeMiB:N0} MiB of database — bounded, not growing with it. ");
                }
                else
                {
                    allFlat = false;
                    sb.Append($" (**{growth:+0.0;-0.0} MiB — not flat**{(rs.Count < 3 ? "; measure a third size to see whether it levels off" : "")}). ");
                }
            }
            double floor = rs.Max(r => r.Baseline.PeakRssKiB.Value) / 1024.0;
            sb.Append($"The database grew {(last.DbBytes - first.DbBytes) / 1048576.0:N0} MiB meanwhile" + (rs.Count >= 2 ? (allFlat ? ", so **the aim is met**. " : ", so **the aim is missed** where marked. ") : ". "));
            sb.Append($"Most of the footprint is the .NET runtime and the engine: a child that only opens the database peaks at {floor:N1} MiB; the rest is fixed-size buffers " +
                      $"(1 MiB chunks, a hash queue of 4, the zstd workers' windows), none proportional to the database. ");
            if (bench.HasSqlite3 && first.PeakRssKiB(Method.Sqlite3Backup).HasValue)
            {
                sb.Append($"`sqlite3 .backup`, a small C program, peaks at {Rss(rs.Max(r => r.PeakRssKiB(Method.Sqlite3Backup)))}, `sqlite3 .dump` at {Rss(rs.Max(r => r.PeakRssKiB(Method.Sqlite3Dump)))}. ");
            }
            if (Many != null)
            {
                sb.Append($"pwsh running the {Many.Count:N0}-database pipeline peaked at " +
                          string.Join(", ", Many.ByThrottle.Select(t => $"{Rss(ManyResult.Rss(t.Value))} (-ThrottleLimit {t.Key})")) +
                          $", against {Rss(ManyResult.Rss(Many.Startup))} for one database: PowerShell and the module, plus a bounded amount per backup running at the same time.");
            }
            sb.AppendLine().AppendLine();

            // Where the time goes, set against the pieces measured on their own.
            var none = last.Best(Method.OursNone).Phases;
            var api = last.Best(Method.OursNoneBackupApi).Phases;
            var zs = last.Best(Method.OursZstd).Phases;
            var gz = last.Best(Method.OursGzip).Phases;
            sb.Append($"**Where the time goes** (at {last.SizeMiB} MiB). Uncompressed, the page copy ({none.End:N0} ms) spends {none.Copy:N0} ms copying the pages " +
                      $"while a second thread hashes them (SHA-256 alone: {Ms(last.Sha256Seconds)}; `cp`: {Ms(last.BestSeconds(Method.Cp))}), then {none.Finish:N0} ms " +
                      $"finishing the hash, fsyncing, joining the content profile and writing the manifest (a bare fsync of a fresh copy: {Ms(last.FsyncSeconds)}). ");
            sb.Append($"With zstd level {Ours.DefaultZstdLevel} ({zs.End:N0} ms) the pages stream through the compressor in {zs.Copy:N0} ms (the compressor alone: {Ms(last.Compress[Method.OursZstd])}), " +
                      $"then {zs.Finish:N0} ms for the compressor's tail, fsync, profile and manifest. ");
            sb.Append($"With gzip ({gz.End:N0} ms): {gz.Copy:N0} ms streaming (the compressor alone: {Ms(last.Compress[Method.OursGzip])}) — single-threaded deflate, not I/O, bounds the gzip backup. ");
            sb.Append($"The zstd backup takes {Range(r => r.BestSeconds(Method.OursZstd) / r.Compress[Method.OursZstd], "F1")} the time of its compressor alone. Besides the SHA-256 of the stored bytes " +
                      "(on the second thread), a compressed snapshot tees every page into an uncompressed staging copy beside the artifact for the content profile to read " +
                      $"(deleted at the end): {MiB(last.DbBytes)} written on top of the {MiB(last.Best(Method.OursZstd).StoredBytes)} artifact at {last.SizeMiB} MiB. " +
                      $"The same stream rebuilt from the engine's pieces without that copy (read transaction, page copy → zstd → SHA-256 → artifact, fsync) takes " +
                      $"{PerSize(r => $"{Ms(r.ZstdStreamNoStagingSeconds)} against the backup's {Ms(r.BestSeconds(Method.OursZstd))}")}: " +
                      (rs.Max(r => 1 - r.ZstdStreamNoStagingSeconds / r.BestSeconds(Method.OursZstd)) < 0.1
                          ? "the staged copy costs little here. "
                          : $"the staged copy (and whatever else separates the backup from that stream) costs {Range(r => 1 - r.ZstdStreamNoStagingSeconds / r.BestSeconds(Method.OursZstd), "P0", "")} of a zstd snapshot's time " +
                            $"(without it the default backup would run at about {Range(r => r.BestSeconds(Method.CpFsync) / r.ZstdStreamNoStagingSeconds)} of `cp` + fsync). "));
            sb.Append($"The backup API variant ({api.End:N0} ms) copies in {api.Copy:N0} ms through SQLite's pager, then reads the copy again to hash it and fsyncs ({api.Finish:N0} ms): " +
                      "the same work one step after another.");
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
            yield return $"SQLite in the engine (e_sqlite3): {engineSqlite}; `sqlite3` CLI: {(bench.HasSqlite3 ? Tools.Output(Tools.Sqlite3, "--version")?.Split(' ')[0] : "not installed")}" +
                         (bench.HasZstdCli ? $"; `zstd` CLI: {Tools.Output(Tools.Zstd, "--version")?.Split(',')[0].Replace("*** ", "").Trim()}" : "");
            yield return $"`cp`: {Tools.Output("cp", "--version") ?? "unknown"}";
            yield return $"Run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {RunsText} per method, {bench.Elapsed.TotalMinutes:F1} minutes in all";
            if (DamonPageout() is string damon) yield return damon;
            var loads = Results.Select(r => (Name: $"{r.SizeMiB} MiB", r.OtherCores)).ToList();
            if (Many != null) loads.Add(("many databases", Many.OtherCores));
            double worst = loads.Count == 0 ? 0 : loads.Max(l => double.IsNaN(l.OtherCores) ? 0 : l.OtherCores);
            yield return $"Other work on the machine: 1-minute load average {bench.LoadAtStart:F2} when the measurements started; cores kept busy by other processes " +
                         "while each section ran (from /proc/stat, less this program's own CPU and its children's — the kernel's write-back threads count as other): " +
                         string.Join(", ", loads.Select(l => $"{l.Name} {l.OtherCores:F2}")) +
                         (worst <= NoisyCores
                             ? " — quiet"
                             : $" — **other processes were busy during this run (up to {worst:F2} of {Environment.ProcessorCount} cores on average); the figures are noisier than usual**");
        }

        /// <summary>
        /// The VM's proactive reclaim, when there is one: DAMON schemes that page out memory idle for a while. They take
        /// page cache from files not read for that long, so "page cache warm" needs a fresh read (the benchmark does one
        /// before the big sizes, the restores and the pieces), and a fresh copy's pages may need the host to fault them in.
        /// </summary>
        private string DamonPageout()
        {
            try
            {
                const string root = "/sys/kernel/mm/damon/admin/kdamonds";
                if (!Directory.Exists(root)) return null;
                foreach (var kd in Directory.GetDirectories(root).Where(d => File.Exists(Path.Combine(d, "state"))))
                {
                    if (File.ReadAllText(Path.Combine(kd, "state")).Trim() != "on") continue;
                    foreach (var ctx in Directory.GetDirectories(Path.Combine(kd, "contexts")))
                    {
                        double aggrUs = double.Parse(File.ReadAllText(Path.Combine(ctx, "monitoring_attrs", "intervals", "aggr_us")));
                        foreach (var scheme in Directory.GetDirectories(Path.Combine(ctx, "schemes")))
                        {
                            if (File.ReadAllText(Path.Combine(scheme, "action")).Trim() != "pageout") continue;
                            double minAge = double.Parse(File.ReadAllText(Path.Combine(scheme, "access_pattern", "age", "min")));
                            return $"Memory: the VM runs DAMON proactive reclaim (`pageout` of memory idle for about {minAge * aggrUs / 1e6:F0} s), so page cache does not stay warm between " +
                                   "sections: the benchmark reads the databases of 1 GiB and more, the artifacts to restore and the files of the pieces into the page cache right before their runs" +
                                   (Results.LastOrDefault(r => r.SizeMiB >= 1024) is SizeResult big && big.Has(Method.Cp)
                                       ? $". Writing a fresh multi-GiB copy still varies from run to run here (`cp` of the {big.SizeMiB} MiB file: {big.Timed[Method.Cp].Min(x => x.Seconds):F2}–{big.Timed[Method.Cp].Max(x => x.Seconds):F2} s over its runs), more than on a bare machine"
                                       : "");
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is FormatException)
            {
            }
            return null;
        }

        /// <summary>Average cores busy in other processes above which a section counts as noisy.</summary>
        private const double NoisyCores = 0.15;

        /// <summary>The repository root: the nearest folder holding TursoBackup.sln.</summary>
        public static string RepoRoot() => RepoRootFrom();

        /// <summary>Searches up from the current folder, the program's folder, and this source file's folder (the program may run from a private build folder).</summary>
        private static string RepoRootFrom([System.Runtime.CompilerServices.CallerFilePath] string sourceFile = "")
        {
            foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory, Path.GetDirectoryName(sourceFile) ?? "" }.Where(d => d.Length > 0 && Directory.Exists(d)))
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
