using System.Diagnostics;
using System.Reflection;
using TursoBackup.Engine.Backup;

namespace TursoBackup.Benchmarks
{
    /// <summary>The methods compared; each reads the same source file and writes a new file on the same disk.</summary>
    public enum Method
    {
        // ---- snapshots: a copy of the database file ----
        /// <summary>`cp src dst`: the bytes reach the page cache only; the ceiling for "copy a file".</summary>
        Cp,
        /// <summary>`cp src dst` then `sync dst` (fsync of dst): a durable copy, which is what a backup must be.</summary>
        CpFsync,
        /// <summary>`sqlite3 src ".backup dst"`: SQLite's own online backup (100 pages per step; commits with fsync).</summary>
        Sqlite3Backup,
        /// <summary>SnapshotBackup.Run, page copy, Compression None: copy + SHA-256 + fsync + profile + manifest + publish.</summary>
        OursNone,
        /// <summary>SnapshotBackup.Run, page copy, Compression Zstd at the engine's level (the default backup).</summary>
        OursZstd,
        /// <summary>The same with the other zstd level (3 when the engine uses 1); measured at the codec size only.</summary>
        OursZstdAlt,
        /// <summary>SnapshotBackup.Run, page copy, Compression Gzip (fastest level).</summary>
        OursGzip,
        /// <summary>SnapshotBackup.Run with SnapshotMethod.BackupApi (the fallback), Compression None: for comparison.</summary>
        OursNoneBackupApi,

        // ---- dumps: SQL text ----
        /// <summary>`sqlite3 src .dump > file`; the fsync of the file afterwards is timed on its own (FsyncSeconds).</summary>
        Sqlite3Dump,
        /// <summary>`sqlite3 src .dump | zstd -1 -T0 > file.zst`; fsync timed on its own.</summary>
        Sqlite3DumpZstd,
        /// <summary>DumpFiles.Export (Export-TursoDatabase) to a plain .sql file: dump, fsync, rename.</summary>
        OursExport,
        /// <summary>SnapshotBackup.Run with Kind Dump, Compression Zstd: dump → zstd → SHA-256 → artifact, profile, manifest, publish.</summary>
        OursDumpZstd,
    }

    public static class Methods
    {
        public static bool IsDump(Method m) => m >= Method.Sqlite3Dump;

        public static bool IsOurs(Method m) => m >= Method.OursNone && m <= Method.OursNoneBackupApi || m == Method.OursExport || m == Method.OursDumpZstd;

        /// <summary>Our backup's settings (not for OursExport, which is not a vault backup).</summary>
        public static OurSettings Settings(Method m) => m switch
        {
            Method.OursNone => new OurSettings(CompressionKind.None, SnapshotMethod.PageCopy, BackupKind.Snapshot, Ours.DefaultZstdLevel),
            Method.OursZstd => new OurSettings(CompressionKind.Zstd, SnapshotMethod.PageCopy, BackupKind.Snapshot, Ours.DefaultZstdLevel),
            Method.OursZstdAlt => new OurSettings(CompressionKind.Zstd, SnapshotMethod.PageCopy, BackupKind.Snapshot, Ours.AltZstdLevel),
            Method.OursGzip => new OurSettings(CompressionKind.Gzip, SnapshotMethod.PageCopy, BackupKind.Snapshot, Ours.DefaultZstdLevel),
            Method.OursNoneBackupApi => new OurSettings(CompressionKind.None, SnapshotMethod.BackupApi, BackupKind.Snapshot, Ours.DefaultZstdLevel),
            Method.OursDumpZstd => new OurSettings(CompressionKind.Zstd, SnapshotMethod.PageCopy, BackupKind.Dump, Ours.DefaultZstdLevel),
            _ => throw new ArgumentOutOfRangeException(nameof(m)),
        };

        /// <summary>The snapshot methods whose last backup is kept and restored.</summary>
        public static readonly Method[] Restored = { Method.OursNone, Method.OursZstd, Method.OursZstdAlt, Method.OursGzip };
    }

    /// <summary>Everything measured for one database size.</summary>
    public sealed class SizeResult
    {
        public int SizeMiB;
        public long DbBytes;
        public double OtherCores;
        public readonly Dictionary<Method, List<Sample>> Timed = new Dictionary<Method, List<Sample>>();
        public readonly Dictionary<Method, Sample> Child = new Dictionary<Method, Sample>();
        public readonly Dictionary<Method, List<double>> Restore = new Dictionary<Method, List<double>>();
        /// <summary>Decompression alone of the kept artifact (OursZstd, OursZstdAlt, OursGzip), best run.</summary>
        public readonly Dictionary<Method, double> Decompress = new Dictionary<Method, double>();
        /// <summary>Compression alone, output discarded (OursZstd, OursZstdAlt, OursGzip), best run.</summary>
        public readonly Dictionary<Method, double> Compress = new Dictionary<Method, double>();
        public Sample Baseline;
        public double ProfileSeconds, Sha256Seconds, DumpFormatSeconds, ZstdStreamNoStagingSeconds;
        public int PieceRuns;

        public bool Has(Method m) => Timed.TryGetValue(m, out var s) && s.Count > 0;

        public Sample Best(Method m) => Has(m) ? Timed[m].OrderBy(x => x.Seconds).First() : null;

        public double BestSeconds(Method m) => Best(m).Seconds;

        /// <summary>Best time of the command followed by the fsync of its output (dumps by sqlite3).</summary>
        public double BestDurable(Method m) => Timed[m].Min(x => x.Seconds + x.FsyncSeconds);

        public double Median(Method m) => MedianOf(Timed[m].Select(x => x.Seconds));

        public double MedianDurable(Method m) => MedianOf(Timed[m].Select(x => x.Seconds + x.FsyncSeconds));

        public static double MedianOf(IEnumerable<double> values)
        {
            var s = values.OrderBy(x => x).ToArray();
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }

        /// <summary>Peak RSS of a method: the child's for ours, GNU time's max over the runs for cp/sqlite3.</summary>
        public long? PeakRssKiB(Method m)
        {
            if (Child.TryGetValue(m, out var c)) return c.PeakRssKiB;
            var values = Timed.TryGetValue(m, out var t) ? t.Where(x => x.PeakRssKiB.HasValue).Select(x => x.PeakRssKiB.Value).ToList() : null;
            return values == null || values.Count == 0 ? (long?)null : values.Max();
        }

        /// <summary>Throughput ratio of <paramref name="m"/> to <paramref name="reference"/>: &gt; 1 means m is faster.</summary>
        public double Ratio(Method m, Method reference) => BestSeconds(reference) / BestSeconds(m);

        /// <summary>The fastest fsync of a freshly copied file (the `sync dst` part of cp + fsync).</summary>
        public double FsyncSeconds => Timed[Method.CpFsync].Min(s => s.FsyncSeconds);

        public double MiB => DbBytes / 1048576.0;

        public double MiBps(Method m) => MiB / BestSeconds(m);
    }

    public sealed class Bench
    {
        private readonly Options options;
        public readonly List<SizeResult> Results = new List<SizeResult>();
        public ManyResult Many;
        public double LoadAtStart;
        public TimeSpan Elapsed;
        public bool HasSqlite3 => File.Exists(Tools.Sqlite3);
        public bool HasZstdCli => File.Exists(Tools.Zstd);

        public Bench(Options options)
        {
            this.options = options;
        }

        public static bool IsOptimizedBuild(Assembly assembly) =>
            !(assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled ?? false);

        public int Run()
        {
            bool release = IsOptimizedBuild(typeof(SnapshotBackup).Assembly) && IsOptimizedBuild(typeof(Bench).Assembly);
            if (!release)
            {
                Console.Error.WriteLine("warning: this is a Debug build; figures are not representative. Use -c Release.");
                if (options.WriteDoc)
                {
                    Console.Error.WriteLine("refusing to --write-doc from a Debug build.");
                    return 2;
                }
            }
            if (!HasSqlite3) Console.Error.WriteLine($"warning: {Tools.Sqlite3} not found; the sqlite3 rows are left out.");
            if (!HasZstdCli) Console.Error.WriteLine($"note: {Tools.Zstd} not found; the `sqlite3 .dump | zstd` row is left out.");
            if (Tools.GnuTime == null) Console.Error.WriteLine("note: /usr/bin/time not found; peak RSS of cp, sqlite3 and pwsh is not measured.");

            Directory.CreateDirectory(options.Dir);
            string work = Path.Combine(options.Dir, "work");
            var total = Stopwatch.StartNew();
            // Make every database before measuring anything, so the write-back of a freshly built database does not
            // overlap the measurements of a smaller one.
            Console.Error.WriteLine($"[{total.Elapsed:mm\\:ss}] databases in {options.Dir}");
            var sources = options.SizesMiB.ToDictionary(size => size, size => Workload.Ensure(options.Dir, size, options.Fresh));
            var many = options.Many > 0 ? Workload.EnsureMany(options.Dir, options.Many, options.Fresh) : default;
            Tools.SyncAll();
            LoadAtStart = Tools.WaitForQuiet(options.WaitLoad);
            Console.Error.WriteLine($"  load average {LoadAtStart:F2}");
            foreach (int size in options.SizesMiB)
            {
                Console.Error.WriteLine($"[{total.Elapsed:mm\\:ss}] {size} MiB database");
                if (Directory.Exists(work)) Directory.Delete(work, true);
                Directory.CreateDirectory(work);
                var mark = Tools.MarkCpu();
                var result = MeasureSize(size, sources[size], work);
                result.OtherCores = Tools.OtherCores(mark, Tools.MarkCpu());
                Console.Error.WriteLine($"  other processes kept {result.OtherCores:F2} cores busy on average");
                Results.Add(result);
                Directory.Delete(work, true);
            }
            if (options.Many > 0)
            {
                Console.Error.WriteLine($"[{total.Elapsed:mm\\:ss}] {options.Many:N0} small databases through Backup-TursoDatabase");
                Directory.CreateDirectory(work);
                var mark = Tools.MarkCpu();
                Many = new ManyBench(options, many.Dir, many.Bytes, work).Run();
                if (Many != null)
                {
                    Many.OtherCores = Tools.OtherCores(mark, Tools.MarkCpu());
                    Console.Error.WriteLine($"  other processes kept {Many.OtherCores:F2} cores busy on average");
                }
                Directory.Delete(work, true);
            }
            if (options.Clean) Directory.Delete(options.Dir, true);
            Elapsed = total.Elapsed;
            Console.Error.WriteLine($"[{total.Elapsed:mm\\:ss}] done");

            var report = new Report(this, options);
            Console.WriteLine(report.Tables());
            if (options.WriteDoc)
            {
                string path = options.DocPath ?? Path.Combine(Report.RepoRoot(), "docs", "benchmarks.md");
                Directory.CreateDirectory(Path.GetDirectoryName(path));
                // The point-in-time section is written by --pitr and kept as it is.
                File.WriteAllText(path, report.Document().TrimEnd() + "\n"
                    + (DocSections.Extract(path, "pitr") is string pitr ? "\n" + pitr : "")
                    + (DocSections.Extract(path, "remote") is string remote ? "\n" + remote : "")
                    + (DocSections.Extract(path, "verify") is string verify ? "\n" + verify : ""));
                Console.Error.WriteLine("wrote " + path);
            }
            return 0;
        }

        private SizeResult MeasureSize(int sizeMiB, string source, string work)
        {
            var result = new SizeResult { SizeMiB = sizeMiB, DbBytes = new FileInfo(source).Length };
            bool big = sizeMiB >= 1024;

            // 1. Snapshots. Round 0 is the warm-up (page cache, JIT, first-touch of the vault folder) and is not
            // recorded; at 1 GiB and more, where one round takes most of a minute, the file is read once into the page
            // cache instead (the JIT is warm from the smaller sizes, and a few ms of it are noise against seconds).
            // The methods run in a shuffled (fixed-seed) order every round so none always follows the same neighbour.
            // Our last round keeps its backups for the restore measurements.
            var snapshots = new[] { Method.Cp, Method.CpFsync, Method.Sqlite3Backup, Method.OursNone, Method.OursZstd, Method.OursZstdAlt, Method.OursGzip, Method.OursNoneBackupApi }
                .Where(m => (m != Method.Sqlite3Backup || HasSqlite3) && (m != Method.OursZstdAlt || sizeMiB == options.CodecSize)).ToArray();
            if (big) PreRead(source);
            Rounds(result, snapshots, source, work, warmUp: !big, seed: sizeMiB);

            // 2. Dumps. The source is in the page cache from the snapshots already; the big sizes skip the warm-up
            // round here too.
            var dumps = new[] { Method.Sqlite3Dump, Method.Sqlite3DumpZstd, Method.OursExport, Method.OursDumpZstd }
                .Where(m => (m != Method.Sqlite3Dump && m != Method.Sqlite3DumpZstd || HasSqlite3) && (m != Method.Sqlite3DumpZstd || HasZstdCli)).ToArray();
            Rounds(result, dumps, source, work, warmUp: !big, seed: sizeMiB + 1);

            // 3. Restores of the kept snapshots: decompress + verify + write + fsync + rename, to a new file.
            foreach (var m in Methods.Restored.Where(result.Has))
            {
                var info = result.Timed[m].First(x => x.Info != null).Info;
                result.Restore[m] = new List<double>();
                for (int i = 0; i < RestoreRuns(sizeMiB); i++)
                {
                    PreRead(info.Location);
                    Tools.SyncAll();
                    string dst = Path.Combine(work, "restored.db");
                    double s = Ours.Restore(info, dst);
                    File.Delete(dst);
                    Console.Error.WriteLine($"  restore {m,-17} {s,8:F3} s");
                    result.Restore[m].Add(s);
                }
            }

            // 4. Peak memory of our backups and dump, each in a fresh child process so the parent's heap does not count.
            foreach (var m in new[] { Method.OursNone, Method.OursZstd, Method.OursZstdAlt, Method.OursGzip, Method.OursNoneBackupApi, Method.OursDumpZstd, Method.OursExport }.Where(result.Has))
            {
                Tools.SyncAll();
                var s = m == Method.OursExport
                    ? Ours.ChildExport(source, Path.Combine(work, "child-export.sql"))
                    : Ours.ChildBackup(source, Path.Combine(work, "vault-child"), Methods.Settings(m));
                Console.Error.WriteLine($"  child   {m,-17} {s.Seconds,8:F3} s  peak RSS {s.PeakRssKiB / 1024.0:F1} MiB");
                result.Child[m] = s;
            }
            result.Baseline = Ours.ChildBaseline(source);

            // 5. The pieces on their own, in process, on the (cached) source file or the kept artifacts: floors for each phase.
            int n = result.PieceRuns = big ? 1 : 3;
            double Best(Func<double> f) => Enumerable.Range(0, n).Min(_ => f());
            PreRead(source);
            result.ProfileSeconds = Best(() => Ours.ProfileSeconds(source));
            result.Sha256Seconds = Best(() => Ours.Sha256Seconds(source));
            result.DumpFormatSeconds = Best(() => Ours.DumpFormatSeconds(source));
            result.ZstdStreamNoStagingSeconds = Best(() =>
            {
                Tools.SyncAll();
                return Ours.StreamWithoutStagingSeconds(source, Path.Combine(work, "stream.db.zst"), CompressionKind.Zstd, Ours.DefaultZstdLevel);
            });
            foreach (var m in new[] { Method.OursZstd, Method.OursZstdAlt, Method.OursGzip }.Where(result.Has))
            {
                var s = Methods.Settings(m);
                result.Compress[m] = Best(() => Ours.CompressSeconds(source, s.Compression, s.ZstdLevel));
                var kept = result.Timed[m].First(x => x.Info != null).Info;
                PreRead(kept.Location);
                result.Decompress[m] = Best(() => Ours.DecompressSeconds(kept.Location, kept.Compression));
            }
            Console.Error.WriteLine($"  pieces: sha256 {result.Sha256Seconds:F3} s, dump format {result.DumpFormatSeconds:F3} s, zstd stream without staging {result.ZstdStreamNoStagingSeconds:F3} s, " +
                                    string.Join(", ", result.Compress.Select(c => $"{c.Key} {c.Value:F3} s / unpack {result.Decompress[c.Key]:F3} s")));
            return result;
        }

        /// <summary>Restores per codec: the runs asked for, at most 2 at 1 GiB and more.</summary>
        public int RestoreRuns(int sizeMiB) => sizeMiB >= 1024 ? Math.Min(2, options.Runs) : options.Runs;

        private void Rounds(SizeResult result, Method[] methods, string source, string work, bool warmUp, int seed)
        {
            foreach (var m in methods) result.Timed[m] = new List<Sample>();
            var random = new Random(seed);
            for (int round = warmUp ? 0 : 1; round <= options.Runs; round++)
            {
                var order = round == 0 ? methods : methods.OrderBy(_ => random.Next()).ToArray();
                foreach (var m in order)
                {
                    Tools.SyncAll();
                    var sample = RunOnce(m, source, work, keep: round == options.Runs && Methods.Restored.Contains(m));
                    Console.Error.WriteLine($"  {(round == 0 ? "warm-up" : "run " + round),-7} {m,-17} {sample.Seconds,8:F3} s" +
                                            (sample.FsyncSeconds > 0 ? $" + fsync {sample.FsyncSeconds:F3} s" : ""));
                    if (round > 0) result.Timed[m].Add(sample);
                }
            }
            // Methods that take less than FastSeconds get FastRuns runs in all: cheap, and their best is what the
            // ratios are made of (on this VM the write of a fresh 2 GiB copy varies by ±50 % from run to run).
            for (int round = options.Runs + 1; round <= FastRuns; round++)
            {
                foreach (var m in methods.Where(m => result.Median(m) < FastSeconds).OrderBy(_ => random.Next()))
                {
                    Tools.SyncAll();
                    var sample = RunOnce(m, source, work, keep: false);
                    Console.Error.WriteLine($"  run {round,-3} {m,-17} {sample.Seconds,8:F3} s" + (sample.FsyncSeconds > 0 ? $" + fsync {sample.FsyncSeconds:F3} s" : ""));
                    result.Timed[m].Add(sample);
                }
            }
        }

        /// <summary>Methods faster than this (median of the first rounds) are run <see cref="FastRuns"/> times.</summary>
        public const double FastSeconds = 5;
        public const int FastRuns = 5;

        /// <summary>Reads a file once into the page cache (untimed): this VM pages out page cache idle for about a minute.</summary>
        private static void PreRead(string path) => Tools.Bash("cat \"$1\" > /dev/null", path);

        private static Sample RunOnce(Method m, string source, string work, bool keep)
        {
            string dst = Path.Combine(work, "copy.db");
            string dump = Path.Combine(work, "dump.sql");
            try
            {
                switch (m)
                {
                    case Method.Cp:
                        return Tools.Run("cp", source, dst);
                    case Method.CpFsync:
                        var cp = Tools.Run("cp", source, dst);
                        var sync = Tools.Run("sync", dst); // coreutils `sync FILE` = fsync(FILE)
                        return new Sample { Seconds = cp.Seconds + sync.Seconds, PeakRssKiB = cp.PeakRssKiB, FsyncSeconds = sync.Seconds };
                    case Method.Sqlite3Backup:
                        return Tools.Run(Tools.Sqlite3, source, ".backup '" + dst + "'");
                    case Method.Sqlite3Dump:
                    case Method.Sqlite3DumpZstd:
                        // exec: GNU time measures sqlite3 itself; with the pipe, the larger of sqlite3 and zstd.
                        var run = m == Method.Sqlite3Dump
                            ? Tools.Bash($"exec {Tools.Sqlite3} \"$1\" .dump > \"$2\"", source, dump)
                            : Tools.Bash($"{Tools.Sqlite3} \"$1\" .dump | {Tools.Zstd} -1 -T0 -q > \"$2\"", source, dump);
                        run.FsyncSeconds = Tools.Run("sync", dump).Seconds;
                        run.StoredBytes = new FileInfo(dump).Length;
                        return run;
                    case Method.OursExport:
                        return Ours.Export(source, dump);
                    default:
                        return Ours.Backup(source, Path.Combine(work, keep ? "keep-" + m : "vault"), Methods.Settings(m), keep);
                }
            }
            finally
            {
                File.Delete(dst);
                File.Delete(dst + "-journal");
                File.Delete(dump);
            }
        }
    }
}
