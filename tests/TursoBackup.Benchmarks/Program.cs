// TursoBackup benchmarks: one run measures our snapshot backup against `cp`, `cp` + fsync and `sqlite3 .backup`
// on the same database files, and reports ratios (not absolute pass/fail timings). See docs/benchmarks.md.
//
//   dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --sizes 64,256 --write-doc
//
// Options:
//   --sizes 64,256     database sizes in MiB (add 1024 for a 1 GiB database)
//   --runs 3           timed runs per method; the best is reported (one untimed warm-up run comes first)
//   --dir PATH         work folder for the databases, copies and vaults (default: <temp>/tursobackup-bench);
//                      put it on the disk you want to measure
//   --fresh            regenerate the databases even if the work folder has them from a previous run
//   --clean            delete the work folder at the end (by default the databases are kept for the next run)
//   --write-doc        write docs/benchmarks.md (Release builds only)
//   --doc PATH         write the doc somewhere else
//
// Internal modes (the parent re-invokes its own dll so memory is measured in a clean process):
//   --child-backup SRC VAULT none|gzip PageCopy|BackupApi
//                                         run one backup, print peak RSS (VmHWM) and elapsed time
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
                if (args.Length > 0 && args[0] == "--child-backup") return Child.Backup(args[1], args[2], args[3], args[4]);
                if (args.Length > 0 && args[0] == "--child-baseline") return Child.Baseline(args[1]);
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
        public int[] SizesMiB { get; private set; } = { 64, 256 };
        public int Runs { get; private set; } = 3;
        public string Dir { get; private set; } = Path.Combine(Path.GetTempPath(), "tursobackup-bench");
        public bool DirGiven { get; private set; }
        public bool Fresh { get; private set; }
        public bool Clean { get; private set; }
        public bool WriteDoc { get; private set; }
        public string DocPath { get; private set; }

        public static Options Parse(string[] args)
        {
            var o = new Options();
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException(args[i] + " needs a value");
                switch (args[i])
                {
                    case "--sizes": o.SizesMiB = Next().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray(); break;
                    case "--runs": o.Runs = Math.Max(1, int.Parse(Next())); break;
                    case "--dir": o.Dir = Path.GetFullPath(Next()); o.DirGiven = true; break;
                    case "--fresh": o.Fresh = true; break;
                    case "--clean": o.Clean = true; break;
                    case "--write-doc": o.WriteDoc = true; break;
                    case "--doc": o.DocPath = Path.GetFullPath(Next()); o.WriteDoc = true; break;
                    case "-h":
                    case "--help":
                        Console.WriteLine("usage: TursoBackup.Benchmarks [--sizes 64,256[,1024]] [--runs 3] [--dir PATH] [--fresh] [--clean] [--write-doc] [--doc PATH]");
                        return null;
                    default:
                        Console.Error.WriteLine("unknown option " + args[i] + " (try --help)");
                        return null;
                }
            }
            return o;
        }

        /// <summary>The command line that reproduces this run, as it goes into the doc.</summary>
        public string ReproduceCommand()
        {
            var parts = new List<string> { "dotnet run -c Release --project tests/TursoBackup.Benchmarks --", "--sizes " + string.Join(",", SizesMiB) };
            if (Runs != 3) parts.Add("--runs " + Runs);
            if (DirGiven) parts.Add("--dir " + Dir);
            parts.Add("--write-doc");
            return string.Join(" ", parts);
        }
    }
}
