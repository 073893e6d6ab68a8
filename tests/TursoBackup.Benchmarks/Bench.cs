using System.Diagnostics;
using System.Reflection;

namespace TursoBackup.Benchmarks
{
    /// <summary>The methods compared; each copies the same source file to a new file on the same disk.</summary>
    public enum Method
    {
        /// <summary>`cp src dst`: the bytes reach the page cache only; the ceiling for "copy a file".</summary>
        Cp,
        /// <summary>`cp src dst` then `sync dst` (fsync of dst): a durable copy, which is what a backup must be.</summary>
        CpFsync,
        /// <summary>`sqlite3 src ".backup dst"`: SQLite's own online backup (100 pages per step; commits with fsync).</summary>
        Sqlite3Backup,
        /// <summary>SnapshotBackup.Run, default method (page copy), Compression None: copy + SHA-256 + fsync + manifest + publish.</summary>
        OursNone,
        /// <summary>SnapshotBackup.Run, default method, Compression Gzip: the copy is staged, then gzipped into the artifact.</summary>
        OursGzip,
        /// <summary>SnapshotBackup.Run, default method, Compression Zstd (measured only when the engine has it).</summary>
        OursZstd,
        /// <summary>SnapshotBackup.Run with SnapshotMethod.BackupApi (the fallback), Compression None: for comparison.</summary>
        OursNoneBackupApi,
    }

    /// <summary>Everything measured for one database size.</summary>
    public sealed class SizeResult
    {
        public int SizeMiB;
        public long DbBytes;
        public readonly Dictionary<Method, List<Sample>> Timed = new Dictionary<Method, List<Sample>>();
        public readonly Dictionary<Method, List<Sample>> Child = new Dictionary<Method, List<Sample>>();
        public Sample Baseline;
        public double ProfileSeconds, Sha256Seconds, GzipSeconds;
        public double? ZstdSeconds;

        public Sample Best(Method m) => Timed.TryGetValue(m, out var s) && s.Count > 0 ? s.OrderBy(x => x.Seconds).First() : null;

        public double Median(Method m)
        {
            var s = Timed[m].Select(x => x.Seconds).OrderBy(x => x).ToArray();
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }

        /// <summary>Peak RSS of a method: the child's max over its runs for ours, GNU time's for cp/sqlite3.</summary>
        public long? PeakRssKiB(Method m)
        {
            var source = Child.ContainsKey(m) ? Child[m] : Timed.TryGetValue(m, out var t) ? t : null;
            var values = source?.Where(x => x.PeakRssKiB.HasValue).Select(x => x.PeakRssKiB.Value).ToList();
            return values == null || values.Count == 0 ? (long?)null : values.Max();
        }

        /// <summary>Throughput ratio of <paramref name="m"/> to <paramref name="reference"/>: &gt; 1 means m is faster.</summary>
        public double Ratio(Method m, Method reference) => Best(reference).Seconds / Best(m).Seconds;

        /// <summary>The fastest fsync of a freshly copied file (the `sync dst` part of cp + fsync).</summary>
        public double FsyncSeconds => Timed[Method.CpFsync].Min(s => s.FsyncSeconds);

        public double MiBps(Method m) => DbBytes / 1048576.0 / Best(m).Seconds;
    }

    public sealed class Bench
    {
        private readonly Options options;
        public readonly List<SizeResult> Results = new List<SizeResult>();
        public bool HasSqlite3 => File.Exists(Tools.Sqlite3);

        public Bench(Options options)
        {
            this.options = options;
        }

        public static bool IsOptimizedBuild(Assembly assembly) =>
            !(assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled ?? false);

        public int Run()
        {
            bool release = IsOptimizedBuild(typeof(TursoBackup.Engine.Backup.SnapshotBackup).Assembly) && IsOptimizedBuild(typeof(Bench).Assembly);
            if (!release)
            {
                Console.Error.WriteLine("warning: this is a Debug build; figures are not representative. Use -c Release.");
                if (options.WriteDoc)
                {
                    Console.Error.WriteLine("refusing to --write-doc from a Debug build.");
                    return 2;
                }
            }
            if (!HasSqlite3) Console.Error.WriteLine($"warning: {Tools.Sqlite3} not found; the sqlite3 .backup column is left out.");
            if (Tools.GnuTime == null) Console.Error.WriteLine("note: /usr/bin/time not found; peak RSS of cp and sqlite3 is not measured.");

            Directory.CreateDirectory(options.Dir);
            string work = Path.Combine(options.Dir, "work");
            var total = Stopwatch.StartNew();
            // Make every database before measuring anything, so the write-back of a freshly built database does not
            // overlap the measurements of a smaller one.
            Console.Error.WriteLine($"[{total.Elapsed:mm\\:ss}] databases in {options.Dir}");
            var sources = options.SizesMiB.ToDictionary(size => size, size => Workload.Ensure(options.Dir, size, options.Fresh));
            Tools.SyncAll();
            foreach (int size in options.SizesMiB)
            {
                Console.Error.WriteLine($"[{total.Elapsed:mm\\:ss}] {size} MiB database");
                if (Directory.Exists(work)) Directory.Delete(work, true);
                Directory.CreateDirectory(work);
                Results.Add(MeasureSize(size, sources[size], work));
                Directory.Delete(work, true);
            }
            if (options.Clean) Directory.Delete(options.Dir, true);
            Console.Error.WriteLine($"[{total.Elapsed:mm\\:ss}] done");

            var report = new Report(this, options);
            Console.WriteLine(report.Tables());
            if (options.WriteDoc)
            {
                string path = options.DocPath ?? Path.Combine(Report.RepoRoot(), "docs", "benchmarks.md");
                Directory.CreateDirectory(Path.GetDirectoryName(path));
                File.WriteAllText(path, report.Document());
                Console.Error.WriteLine("wrote " + path);
            }
            return 0;
        }

        private SizeResult MeasureSize(int sizeMiB, string source, string work)
        {
            var result = new SizeResult { SizeMiB = sizeMiB, DbBytes = new FileInfo(source).Length };
            var methods = Enum.GetValues<Method>().Where(m => (m != Method.Sqlite3Backup || HasSqlite3) && Ours.Available(m)).ToArray();
            foreach (var m in methods) result.Timed[m] = new List<Sample>();

            // Round 0 is the warm-up (page cache, JIT, first-touch of the vault folder) and is not recorded.
            // The methods run in a shuffled (fixed-seed) order every round so none always follows the same neighbour.
            var random = new Random(sizeMiB);
            for (int round = 0; round <= options.Runs; round++)
            {
                var order = round == 0 ? methods : methods.OrderBy(_ => random.Next()).ToArray();
                foreach (var m in order)
                {
                    Tools.SyncAll();
                    var sample = RunOnce(m, source, work);
                    Console.Error.WriteLine($"  {(round == 0 ? "warm-up" : "run " + round),-7} {m,-13} {sample.Seconds,8:F3} s");
                    if (round > 0) result.Timed[m].Add(sample);
                }
            }

            // Peak memory of our backup, each in a fresh child process so the parent's heap does not count.
            foreach (var m in methods.Where(Ours.IsOurs))
            {
                result.Child[m] = new List<Sample>();
                for (int i = 0; i < options.Runs; i++)
                {
                    Tools.SyncAll();
                    var (compression, method) = Ours.Settings(m);
                    var s = Ours.ChildBackup(source, Path.Combine(work, "vault-child"), compression, method);
                    Console.Error.WriteLine($"  child   {m,-13} {s.Seconds,8:F3} s  peak RSS {s.PeakRssKiB / 1024.0:F1} MiB");
                    result.Child[m].Add(s);
                }
            }
            result.Baseline = Ours.ChildBaseline(source);

            // The pieces of our backup on their own, in process, on the (cached) source file: floors for each phase.
            result.ProfileSeconds = Enumerable.Range(0, 3).Min(_ => Ours.ProfileSeconds(source));
            result.Sha256Seconds = Enumerable.Range(0, 3).Min(_ => Ours.Sha256Seconds(source));
            result.GzipSeconds = Enumerable.Range(0, 3).Min(_ => Ours.CompressSeconds(source, CompressionKind.Gzip));
            if (Ours.Zstd.HasValue) result.ZstdSeconds = Enumerable.Range(0, 3).Min(_ => Ours.CompressSeconds(source, Ours.Zstd.Value));
            return result;
        }

        private static Sample RunOnce(Method m, string source, string work)
        {
            string dst = Path.Combine(work, "copy.db");
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
                    default:
                        var (compression, method) = Ours.Settings(m);
                        return Ours.Backup(source, Path.Combine(work, "vault"), compression, method);
                }
            }
            finally
            {
                File.Delete(dst);
                File.Delete(dst + "-journal");
            }
        }
    }
}
