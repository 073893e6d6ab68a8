// TursoBackup benchmarks: one run measures, on the same database files and the same disk,
//   - our snapshot backup (none / zstd / gzip) against `cp`, `cp` + fsync and `sqlite3 .backup`;
//   - our SQL dump (Export to a .sql file, and a Dump backup with zstd) against `sqlite3 .dump > file`;
//   - zstd (levels 1 and 3) against gzip: ratio, throughput, and the restore side;
//   - 1,000 small databases through Backup-TursoDatabase (one pwsh process), -ThrottleLimit 1 / 4 / 8;
//   - peak memory (max RSS) of each, in a child process.
// It reports ratios (not absolute pass/fail timings). See docs/benchmarks.md.
//
//   dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --sizes 64,256,2048 --write-doc
//
// Options:
//   --sizes 64,256,2048  database sizes in MiB
//   --runs 3             timed runs per method; the best is reported (one untimed warm-up run comes first)
//   --codec-size 256     the size at which zstd level 3 is measured too (the compression table); default 256,
//                        or the first size when 256 is not measured
//   --many 1000          how many small databases Backup-TursoDatabase backs up in one pipeline (0: skip)
//   --throttles 1,4,8    the -ThrottleLimit values measured over them
//   --many-runs 2        timed runs per many-databases variant
//   --pwsh PATH          pwsh.dll (default: the PowerShell pinned in .config/dotnet-tools.json; `dotnet tool restore`)
//   --module PATH        TursoBackup.psd1 (default: out/TursoBackup/TursoBackup.psd1); copied into the work folder
//                        first, so a build running meanwhile cannot change it under the measurement
//   --wait-load 0.8      before measuring, wait (up to 10 minutes) until the 1-minute load average is below this
//   --dir PATH           work folder for the databases, copies and vaults (default: <temp>/tursobackup-bench);
//                        put it on the disk you want to measure
//   --fresh              regenerate the databases even if the work folder has them from a previous run
//   --clean              delete the work folder at the end (by default the databases are kept for the next run)
//   --write-doc          write docs/benchmarks.md (Release builds only)
//   --doc PATH           write the doc somewhere else
//
// Point-in-time recovery (Layer 2) against Litestream 0.3.13, its own section of docs/benchmarks.md:
//   dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --pitr --write-doc
//   (--size 1024 --transactions 100000 --steady-size 64 --steady-rate 50 --steady-minutes 3 --sync-interval 100 --runs 3)
//
// Remote dumps over the libSQL protocol against @libsql/client (Node), tursodb .dump and sqlite3 .dump:
//   dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --remote --write-doc   (--size 256 --runs 3)
//
// Test-Backup against restore + sqlite3 integrity_check:
//   dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --verify --write-doc   (--size 1024 --runs 3)
//
// Encryption (OpenPGP AES-256) against no encryption and against gpg:
//   dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --encrypt --write-doc   (--size 256 --runs 3)
//
// Internal modes (the parent re-invokes its own dll so memory is measured in a clean process):
//   --child-backup SRC VAULT none|gzip|zstd PageCopy|BackupApi Snapshot|Dump LEVEL
//                                         run one backup, print peak RSS (VmHWM) and elapsed time
//   --child-export SRC OUT                write one dump file with DumpFiles.Export, same output
//   --child-baseline SRC                  load the engine, open SRC, print peak RSS: the .NET + engine floor

using System.Globalization;

namespace TursoBackup.Benchmarks
{
    public static class Program
    {
        public static int Main(string[] args)
        {
            CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
            CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
            try
            {
                if (args.Length > 0 && args[0] == "--child-backup") return Child.Backup(args[1], args[2], args[3], args[4], args[5], int.Parse(args[6]));
                if (args.Length > 0 && args[0] == "--child-export") return Child.Export(args[1], args[2]);
                if (args.Length > 0 && args[0] == "--child-baseline") return Child.Baseline(args[1]);
                if (args.Length > 0 && args[0] == "--remote") return RemoteBench.Start(args);
                if (args.Length > 0 && args[0] == "--verify") return VerifyBench.Start(args);
                if (args.Length > 0 && args[0] == "--compare") return CompareBench.Start(args);
                if (args.Length > 0 && args[0] == "--recover") return RecoverBench.Start(args);
                if (args.Length > 0 && args[0] == "--disk") return DiskBench.Start(args);
                if (args.Length > 0 && args[0] == "--disk-dump") return DiskBench.Dump(args);
                if (args.Length > 0 && args[0] == "--disk-restore") return DiskBench.RestoreTrace(args);
                if (args.Length > 0 && args[0] == "--disk-levels") return DiskBench.Levels(args);
                if (args.Length > 0 && args[0] == "--encrypt") return EncryptBench.Start(args);
                if (args.Length > 0 && args[0] == "--incremental") return IncrementalBench.Start(args);
                if (args.Length > 0 && args[0] == "--many-trace") return ManyTrace.Start(args);
                if (args.Length > 0 && args[0] == "--writer-overhead") return WriterOverhead.Start(args);
                if (args.Length > 0 && args[0] == "--pitr")
                {
                    var pitr = PitrOptions.Parse(args);
                    return pitr == null ? 2 : new PitrBench(pitr).Run();
                }
                var options = Options.Parse(args);
                if (options == null) return 2;
                return new Bench(options).Run();
            }
            catch (Exception ex)
            {
                Console.Error.WriteLine("benchmark failed: " + ex);
                return 1;
            }
        }
    }

    public sealed class Options
    {
        public static readonly int[] DefaultSizes = { 64, 256, 2048 };
        public static readonly int[] DefaultThrottles = { 1, 4, 8 };
        public const int DefaultRuns = 3, DefaultMany = 1000, DefaultManyRuns = 2;

        public int[] SizesMiB { get; private set; } = DefaultSizes;
        public int Runs { get; private set; } = DefaultRuns;
        public int? CodecSizeGiven { get; private set; }
        public int Many { get; private set; } = DefaultMany;
        public int[] Throttles { get; private set; } = DefaultThrottles;
        public int ManyRuns { get; private set; } = DefaultManyRuns;
        public string PwshDll { get; private set; }
        public string ModulePsd1 { get; private set; }
        public double? WaitLoad { get; private set; }
        public string Dir { get; private set; } = Path.Combine(Path.GetTempPath(), "tursobackup-bench");
        public bool DirGiven { get; private set; }
        public bool Fresh { get; private set; }
        public bool Clean { get; private set; }
        public bool WriteDoc { get; private set; }
        public string DocPath { get; private set; }

        /// <summary>The size at which zstd level 3 is measured too.</summary>
        public int CodecSize => CodecSizeGiven ?? (SizesMiB.Contains(256) ? 256 : SizesMiB[0]);

        public static Options Parse(string[] args)
        {
            var o = new Options();
            int[] Ints(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException(args[i] + " needs a value");
                switch (args[i])
                {
                    case "--sizes": o.SizesMiB = Ints(Next()); break;
                    case "--runs": o.Runs = Math.Max(1, int.Parse(Next())); break;
                    case "--codec-size": o.CodecSizeGiven = int.Parse(Next()); break;
                    case "--many": o.Many = Math.Max(0, int.Parse(Next())); break;
                    case "--throttles": o.Throttles = Ints(Next()); break;
                    case "--many-runs": o.ManyRuns = Math.Max(1, int.Parse(Next())); break;
                    case "--pwsh": o.PwshDll = Path.GetFullPath(Next()); break;
                    case "--module": o.ModulePsd1 = Path.GetFullPath(Next()); break;
                    case "--wait-load": o.WaitLoad = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--dir": o.Dir = Path.GetFullPath(Next()); o.DirGiven = true; break;
                    case "--fresh": o.Fresh = true; break;
                    case "--clean": o.Clean = true; break;
                    case "--write-doc": o.WriteDoc = true; break;
                    case "--doc": o.DocPath = Path.GetFullPath(Next()); o.WriteDoc = true; break;
                    case "-h":
                    case "--help":
                        Console.WriteLine("usage: TursoBackup.Benchmarks [--sizes 64,256,2048] [--runs 3] [--codec-size 256] [--many 1000] [--throttles 1,4,8] [--many-runs 2]\n" +
                                          "                              [--pwsh pwsh.dll] [--module TursoBackup.psd1] [--wait-load 0.8] [--dir PATH] [--fresh] [--clean] [--write-doc] [--doc PATH]");
                        return null;
                    default:
                        Console.Error.WriteLine("unknown option " + args[i] + " (try --help)");
                        return null;
                }
            }
            if (o.SizesMiB.Length == 0) throw new ArgumentException("--sizes needs at least one size");
            if (!o.SizesMiB.Contains(o.CodecSize)) throw new ArgumentException("--codec-size must be one of --sizes");
            return o;
        }

        /// <summary>The command line that reproduces this run, as it goes into the doc.</summary>
        public string ReproduceCommand()
        {
            var parts = new List<string> { "dotnet run -c Release --project tests/TursoBackup.Benchmarks --", "--sizes " + string.Join(",", SizesMiB) };
            if (Runs != DefaultRuns) parts.Add("--runs " + Runs);
            if (CodecSizeGiven.HasValue) parts.Add("--codec-size " + CodecSizeGiven);
            if (Many != DefaultMany) parts.Add("--many " + Many);
            if (!Throttles.SequenceEqual(DefaultThrottles)) parts.Add("--throttles " + string.Join(",", Throttles));
            if (ManyRuns != DefaultManyRuns) parts.Add("--many-runs " + ManyRuns);
            if (WaitLoad.HasValue) parts.Add("--wait-load " + WaitLoad.Value.ToString(CultureInfo.InvariantCulture));
            if (DirGiven) parts.Add("--dir " + Dir);
            parts.Add("--write-doc");
            return string.Join(" ", parts);
        }
    }
}
