using System.Text.RegularExpressions;

namespace TursoBackup.Benchmarks
{
    /// <summary>The many-small-databases measurement: one Backup-TursoDatabase pipeline per run, in one pwsh process.</summary>
    public sealed class ManyResult
    {
        public int Count;
        public long Bytes;
        public int Runs;
        public double OtherCores;
        public string PwshDll, ModulePsd1;
        /// <summary>Whether the module's TursoBackup.Engine.dll is byte-identical to the one this program measured in process.</summary>
        public bool ModuleEngineMatches;
        /// <summary>The same pipeline over one database: process start, runtime, PowerShell and module load, one backup.</summary>
        public readonly List<Sample> Startup = new List<Sample>();
        public int StartupThrottle;
        public readonly SortedDictionary<int, List<Sample>> ByThrottle = new SortedDictionary<int, List<Sample>>();
        /// <summary>`cp -r` of the folder, then fsync of every copy: the floor for "copy 1,000 files durably".</summary>
        public readonly List<Sample> CpSync = new List<Sample>();

        public static double Best(List<Sample> s) => s.Min(x => x.Seconds);
        public static double Median(List<Sample> s) => SizeResult.MedianOf(s.Select(x => x.Seconds));
        public static long? Rss(List<Sample> s) => s.Any(x => x.PeakRssKiB.HasValue) ? s.Max(x => x.PeakRssKiB ?? 0) : (long?)null;

        /// <summary>Seconds per database once pwsh is up: (best of N − best of 1) ÷ (N − 1).</summary>
        public double PerDatabase(int throttle) => (Best(ByThrottle[throttle]) - Best(Startup)) / (Count - 1);
    }

    public sealed class ManyBench
    {
        private readonly Options options;
        private readonly string folder, work;
        private readonly long bytes;

        public ManyBench(Options options, string folder, long bytes, string work)
        {
            this.options = options;
            this.folder = folder;
            this.bytes = bytes;
            this.work = work;
        }

        public ManyResult Run()
        {
            string root = Report.RepoRoot();
            string pwshDll;
            try { pwshDll = options.PwshDll ?? Pwsh.Dll(root); }
            catch (FileNotFoundException ex) { Console.Error.WriteLine($"warning: {ex.Message} The many-databases section is left out."); return null; }
            string psd1 = options.ModulePsd1 ?? Path.Combine(root, "out", "TursoBackup", "TursoBackup.psd1");
            if (!File.Exists(pwshDll) || !File.Exists(psd1))
            {
                Console.Error.WriteLine($"warning: {pwshDll} or {psd1} is missing (`dotnet tool restore`, then build with `dotnet build TursoBackup.sln -c Release`); the many-databases section is left out.");
                return null;
            }
            // A private copy of the module: another build replacing it half-way would spoil the measurement (pwsh is a
            // pinned package in the NuGet folder, which no build changes).
            string moduleCopy = Path.Combine(work, "pwsh-module");
            CopyDirectory(Path.GetDirectoryName(psd1), moduleCopy);
            string module = Path.Combine(moduleCopy, Path.GetFileName(psd1));

            var result = new ManyResult
            {
                Count = options.Many, Bytes = bytes, Runs = options.ManyRuns, PwshDll = pwshDll, ModulePsd1 = psd1,
                ModuleEngineMatches = SameBytes(Path.Combine(moduleCopy, "TursoBackup.Engine.dll"), typeof(TursoBackup.Engine.Backup.SnapshotBackup).Assembly.Location),
                StartupThrottle = 4,
            };
            if (!result.ModuleEngineMatches)
            {
                Console.Error.WriteLine("note: the module's TursoBackup.Engine.dll differs from the engine this program was built with (rebuild both from the same tree).");
            }
            foreach (int t in options.Throttles) result.ByThrottle[t] = new List<Sample>();

            var variants = new List<(string Name, Func<Sample> Run, List<Sample> Into)>
            {
                ("cp -r + fsync", () => CopyFolder(), result.CpSync),
                ("1 database", () => Pipeline(pwshDll, module, 1, result.StartupThrottle), result.Startup),
            };
            variants.AddRange(options.Throttles.Select(t => ($"{options.Many} databases, -ThrottleLimit {t}", (Func<Sample>)(() => Pipeline(pwshDll, module, options.Many, t)), result.ByThrottle[t])));

            // Warm-up (untimed): the sources, pwsh and the module into the page cache; the first vault folder.
            foreach (var v in variants.Take(2)) v.Run();
            var random = new Random(options.Many);
            for (int run = 1; run <= options.ManyRuns; run++)
            {
                foreach (var v in variants.OrderBy(_ => random.Next()))
                {
                    Tools.SyncAll();
                    var s = v.Run();
                    Console.Error.WriteLine($"  run {run}   {v.Name,-36} {s.Seconds,8:F3} s  peak RSS {s.PeakRssKiB / 1024.0:F1} MiB");
                    v.Into.Add(s);
                }
            }
            return result;
        }

        /// <summary>One pwsh process: the first n files | Backup-TursoDatabase -ThrottleLimit t into a fresh vault.</summary>
        private Sample Pipeline(string pwshDll, string module, int n, int throttle)
        {
            string vault = Path.Combine(work, "many-vault");
            string Q(string s) => "'" + s.Replace("'", "''") + "'";
            // .NET does the listing (not Get-ChildItem): the same work in every run, whatever the shell adds.
            string script =
                $"$files = [System.IO.Directory]::GetFiles({Q(folder)}, '*.db'); [Array]::Sort($files); $files = $files[0..{n - 1}]; " +
                $"$n = @($files | Backup-TursoDatabase -Vault {Q(vault)} -ThrottleLimit {throttle}).Count; " +
                "\"RESULT count=$n\"";
            try
            {
                var s = Tools.Run("dotnet", Pwsh.Args(pwshDll, module, script));
                var m = Regex.Match(s.Output ?? "", @"RESULT count=(\d+)");
                if (!m.Success || int.Parse(m.Groups[1].Value) != n)
                {
                    throw new InvalidOperationException($"the pipeline backed up {(m.Success ? m.Groups[1].Value : "?")} of {n} databases: {s.Output}");
                }
                return s;
            }
            finally
            {
                if (Directory.Exists(vault)) Directory.Delete(vault, true);
            }
        }

        private Sample CopyFolder()
        {
            string dst = Path.Combine(work, "many-copy");
            try
            {
                return Tools.Bash("cp -r \"$1\" \"$2\" && sync \"$2\"/*.db", folder, dst);
            }
            finally
            {
                if (Directory.Exists(dst)) Directory.Delete(dst, true);
            }
        }

        private static void CopyDirectory(string from, string to)
        {
            if (Directory.Exists(to)) Directory.Delete(to, true);
            foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            {
                Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
            }
            Directory.CreateDirectory(to);
            foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            {
                File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
            }
        }

        private static bool SameBytes(string a, string b) =>
            File.Exists(a) && File.Exists(b) && File.ReadAllBytes(a).AsSpan().SequenceEqual(File.ReadAllBytes(b));
    }
}
