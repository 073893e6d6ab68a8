using System.Diagnostics;
using System.Globalization;
using System.Text;
using TursoBackup.Engine.Wal;

namespace TursoBackup.Benchmarks
{
    /// <summary>Options of the point-in-time (Layer 2) benchmark: <c>--pitr</c>.</summary>
    public sealed class PitrOptions
    {
        public int SizeMiB { get; private set; } = 1024;
        public int Transactions { get; private set; } = 100_000;
        public int SteadySizeMiB { get; private set; } = 64;
        public double SteadyRate { get; private set; } = 50;
        public double SteadyMinutes { get; private set; } = 3;
        public int SyncIntervalMs { get; private set; } = 100;
        public int Runs { get; private set; } = 3;
        public double? WaitLoad { get; private set; }
        public string Dir { get; private set; } = Path.Combine(Path.GetTempPath(), "tursobackup-bench");
        public bool Fresh { get; private set; }
        public bool WriteDoc { get; private set; }
        public string DocPath { get; private set; }
        public bool SkipSteady { get; private set; }
        public bool Keep { get; private set; }
        /// <summary>Ours runs with -Verbose and every line either archiver prints goes to archiver.log in its run folder (implies --keep).</summary>
        public bool ArchiverLog { get; private set; }
        /// <summary>The -SyncInterval sweep (ms): lag and writer throughput under a flat-out writer on the steady-size database, and idle cost.</summary>
        public int[] Intervals { get; private set; } = { 25, 50, 100, 250, 1000 };
        public int SweepTransactions { get; private set; } = 30_000;

        public static PitrOptions Parse(string[] args)
        {
            var o = new PitrOptions();
            for (int i = 1; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException(args[i] + " needs a value");
                switch (args[i])
                {
                    case "--size": o.SizeMiB = int.Parse(Next()); break;
                    case "--transactions": o.Transactions = int.Parse(Next()); break;
                    case "--steady-size": o.SteadySizeMiB = int.Parse(Next()); break;
                    case "--steady-rate": o.SteadyRate = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--steady-minutes": o.SteadyMinutes = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--no-steady": o.SkipSteady = true; break;
                    case "--keep": o.Keep = true; break;
                    case "--archiver-log": o.ArchiverLog = o.Keep = true; break;
                    case "--intervals": o.Intervals = Next().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray(); break;
                    case "--sweep-transactions": o.SweepTransactions = int.Parse(Next()); break;
                    case "--sync-interval": o.SyncIntervalMs = int.Parse(Next()); break;
                    case "--runs": o.Runs = Math.Max(1, int.Parse(Next())); break;
                    case "--wait-load": o.WaitLoad = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--dir": o.Dir = Path.GetFullPath(Next()); break;
                    case "--fresh": o.Fresh = true; break;
                    case "--write-doc": o.WriteDoc = true; break;
                    case "--doc": o.DocPath = Path.GetFullPath(Next()); o.WriteDoc = true; break;
                    default:
                        Console.Error.WriteLine("usage: TursoBackup.Benchmarks --pitr [--size 1024] [--transactions 100000] [--steady-size 64] [--steady-rate 50] [--steady-minutes 3] [--no-steady] [--keep] [--archiver-log]\n" +
                                                "                                     [--sync-interval 100] [--runs 3] [--wait-load 0.8] [--dir PATH] [--fresh] [--write-doc] [--doc PATH]");
                        return null;
                }
            }
            return o;
        }

        public string ReproduceCommand()
        {
            var parts = new List<string> { "dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --pitr" };
            if (SizeMiB != 1024) parts.Add("--size " + SizeMiB);
            if (Transactions != 100_000) parts.Add("--transactions " + Transactions);
            if (SkipSteady) parts.Add("--no-steady");
            else
            {
                if (SteadySizeMiB != 64) parts.Add("--steady-size " + SteadySizeMiB);
                if (SteadyRate != 50) parts.Add("--steady-rate " + SteadyRate.ToString(CultureInfo.InvariantCulture));
                if (SteadyMinutes != 3) parts.Add("--steady-minutes " + SteadyMinutes.ToString(CultureInfo.InvariantCulture));
            }
            if (SyncIntervalMs != 100) parts.Add("--sync-interval " + SyncIntervalMs);
            if (!Intervals.SequenceEqual(new[] { 25, 50, 100, 250, 1000 })) parts.Add("--intervals " + (Intervals.Length == 0 ? "\"\"" : string.Join(",", Intervals)));
            if (SweepTransactions != 30_000) parts.Add("--sweep-transactions " + SweepTransactions);
            if (Runs != 3) parts.Add("--runs " + Runs);
            if (WaitLoad.HasValue) parts.Add("--wait-load " + WaitLoad.Value.ToString(CultureInfo.InvariantCulture));
            parts.Add("--write-doc");
            return string.Join(" ", parts);
        }
    }

    /// <summary>What one archiver did under one writer.</summary>
    public sealed class ArchiverRun
    {
        public string Name;
        public int Transactions;
        public double WriterSeconds;
        public double TransactionsPerSecond => Transactions / WriterSeconds;
        public double[] LagMs = new double[0];
        public int NeverArchived;
        public int Units;
        public long ArchiveBytes;
        public long[] Committed;
        public long FirstId;
        public string Database, Archive;
        public double Percentile(double p) => LagMs.Length == 0 ? double.NaN : Stats.Percentile(LagMs, p);
    }

    /// <summary>Restores of one archive to one point, against a cp of the restored file.</summary>
    public sealed class RestoreRun
    {
        public string Name;
        public string Point;
        public List<double> Seconds = new List<double>();
        public long Bytes;
        public long RowsPresent;
        public long RowsExpected;
        public string Error;
        public double Cp, CpSync;
        /// <summary>Ours only: the same cmdlet timed inside a PowerShell session that has the module loaded (no process start-up).</summary>
        public List<double> EngineSeconds = new List<double>();
        public double EngineBest => EngineSeconds.Count == 0 ? double.NaN : EngineSeconds.Min();
        public double Best => Seconds.Count == 0 ? double.NaN : Seconds.Min();
        public double Median => Seconds.Count == 0 ? double.NaN : Stats.Percentile(Seconds.ToArray(), 50);
    }

    public static class Stats
    {
        public static double Percentile(double[] values, double p)
        {
            var sorted = values.OrderBy(v => v).ToArray();
            if (sorted.Length == 0) return double.NaN;
            double rank = p / 100.0 * (sorted.Length - 1);
            int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
            return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
        }
    }

    /// <summary>
    /// Layer 2 side by side with Litestream 0.3.13 (file replica), in one run, on copies of the same database:
    /// a flat-out writer (throughput with no archiver, with ours, with Litestream; capture lag of every transaction;
    /// archive size; restore of the big database to the burst's midpoint), then a steady writer for minutes (a long
    /// chain of small units: restore to its midpoint and its end). Restores are compared with a cp of the restored file.
    /// </summary>
    public sealed class PitrBench
    {
        private readonly PitrOptions o;
        private readonly string root = Report.RepoRoot();
        private string pwsh, module, litestream, work;
        public readonly List<ArchiverRun> Flat = new List<ArchiverRun>();
        public readonly List<ArchiverRun> Steady = new List<ArchiverRun>();
        public readonly List<RestoreRun> Restores = new List<RestoreRun>();
        public readonly List<(int IntervalMs, ArchiverRun Run, double IdleCpuPerMinute)> Sweep = new List<(int, ArchiverRun, double)>();
        public double LoadAtStart;
        public TimeSpan Elapsed;
        public long BigBytes, SteadyBytes;
        public double WalArchiveSegmentsPerSecond;

        public PitrBench(PitrOptions options) { o = options; }

        public int Run()
        {
            var total = Stopwatch.StartNew();
            pwsh = Pwsh.Dll(root);
            module = Path.Combine(root, "out", "TursoBackup", "TursoBackup.psd1");
            litestream = Path.Combine(root, "tools", "peers", "node_modules", "@flydotio", "litestream-linux-x64", "litestream");
            foreach (var f in new[] { pwsh, module, litestream })
            {
                if (!File.Exists(f)) throw new FileNotFoundException($"{f} is missing: build with `dotnet build TursoBackup.sln -c Release` and install the peers with `cd tools/peers && npm ci`.");
            }
            Directory.CreateDirectory(o.Dir);
            work = Path.Combine(o.Dir, "pitr");
            if (Directory.Exists(work)) Directory.Delete(work, true);
            Directory.CreateDirectory(work);
            Console.Error.WriteLine("[pitr] databases");
            string big = Workload.Ensure(o.Dir, o.SizeMiB, o.Fresh);
            string steady = o.SkipSteady ? null : Workload.Ensure(o.Dir, o.SteadySizeMiB, o.Fresh);
            LoadAtStart = Tools.WaitForQuiet(o.WaitLoad);

            // ---- flat-out writer on the big database
            string bigBase = Path.Combine(work, "big-base.db");
            File.Copy(big, bigBase);
            PitrWriter.Prepare(bigBase);
            BigBytes = new FileInfo(bigBase).Length;
            foreach (var name in new[] { "none", "TursoBackup", "Litestream" })
            {
                Flat.Add(Archive(name, bigBase, "flat", o.Transactions, 0));
            }
            long mid = o.Transactions / 2;
            var ours = Flat.Single(r => r.Name == "TursoBackup");
            var ls = Flat.Single(r => r.Name == "Litestream");
            // The same wall-clock point in each run: when its middle transaction's COMMIT returned, plus one second
            // (so an archiver with a 1 s interval had its chance).
            foreach (var r in new[] { ours, ls })
            {
                var at = new DateTime(r.Committed[mid - 1], DateTimeKind.Utc).AddSeconds(1);
                long expected = r.Committed.Count(t => t <= at.Ticks);
                Restores.Add(RestoreTo(r, at, $"midpoint of the {o.Transactions:N0}-transaction burst", expected));
            }
            // And the end of the burst, where both archives hold every transaction (so both apply all their WAL).
            foreach (var r in new[] { ours, ls }) Restores.Add(RestoreTo(r, null, $"end of the {o.Transactions:N0}-transaction burst", o.Transactions));

            // ---- steady writer on the smaller database: a long chain of small units
            if (!o.SkipSteady)
            {
                string steadyBase = Path.Combine(work, "steady-base.db");
                File.Copy(steady, steadyBase);
                PitrWriter.Prepare(steadyBase);
                SteadyBytes = new FileInfo(steadyBase).Length;
                int count = (int)(o.SteadyRate * o.SteadyMinutes * 60);
                foreach (var name in new[] { "TursoBackup", "Litestream" }) Steady.Add(Archive(name, steadyBase, "steady", count, o.SteadyRate));
                foreach (var r in Steady)
                {
                    var at = new DateTime(r.Committed[count / 2 - 1], DateTimeKind.Utc).AddSeconds(1);
                    Restores.Add(RestoreTo(r, at, "midpoint of the steady writer", r.Committed.Count(t => t <= at.Ticks)));
                    Restores.Add(RestoreTo(r, null, "end of the steady writer", count));
                }
            }
            // ---- -SyncInterval sweep: flat-out lag and throughput on the smaller database, and what an idle archiver costs
            if (o.Intervals.Length > 0)
            {
                string sweepBase = Path.Combine(work, "sweep-base.db");
                File.Copy(Workload.Ensure(o.Dir, o.SteadySizeMiB, false), sweepBase);
                PitrWriter.Prepare(sweepBase);
                if (SteadyBytes == 0) SteadyBytes = new FileInfo(sweepBase).Length;
                foreach (int ms in o.Intervals)
                {
                    var run = Archive("TursoBackup", sweepBase, $"sweep-{ms}ms", o.SweepTransactions, 0, ms);
                    double idle = IdleCpu(sweepBase, ms);
                    Console.Error.WriteLine($"  idle: {idle:F2} CPU-seconds per minute");
                    Sweep.Add((ms, run, idle));
                }
            }
            Elapsed = total.Elapsed;
            var report = new PitrReport(this, o);
            Console.WriteLine(report.Tables());
            if (o.WriteDoc)
            {
                string path = o.DocPath ?? Path.Combine(root, "docs", "benchmarks.md");
                DocSections.Replace(path, "pitr", report.Section());
                Console.Error.WriteLine("wrote " + path);
            }
            if (!o.Keep) Directory.Delete(work, true);
            return 0;
        }

        /// <summary>Runs the writer on a fresh copy of <paramref name="baseDb"/> with the named archiver (or none) beside it.</summary>
        private ArchiverRun Archive(string name, string baseDb, string scenario, int count, double rate, int? syncIntervalMs = null)
        {
            int interval = syncIntervalMs ?? o.SyncIntervalMs;
            Console.Error.WriteLine($"[pitr] {scenario} writer ({count:N0} transactions{(rate > 0 ? $" at {rate}/s" : ", flat out")}) with {name}");
            string dir = Path.Combine(work, scenario + "-" + name.ToLowerInvariant());
            Directory.CreateDirectory(dir);
            string db = Path.Combine(dir, "app.db");
            File.Copy(baseDb, db);
            Tools.SyncAll();
            var run = new ArchiverRun { Name = name, Transactions = count, Database = db, FirstId = 1 };
            Process archiver = null;
            string archive = Path.Combine(dir, name == "Litestream" ? "replica" : "vault");
            run.Archive = archive;
            if (name == "TursoBackup")
            {
                archiver = StartProcess(o.ArchiverLog ? Path.Combine(dir, "archiver.log") : null, "dotnet", Pwsh.Args(pwsh, module,
                    $"Start-TursoWalArchive -Path '{db}' -Vault '{archive}' -Name app -SyncInterval ([TimeSpan]::FromMilliseconds({interval})) -StatusInterval ([TimeSpan]::FromHours(1))" + (o.ArchiverLog ? " -Verbose" : "")));
                WaitFor(() => new WalArchiveLayout(archive, "app").Generations().Any(g => File.Exists(new WalArchiveLayout(archive, "app").SnapshotInfoPath(g))), archiver, "our first snapshot");
            }
            else if (name == "Litestream")
            {
                string config = Path.Combine(dir, "litestream.yml");
                File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replicas:\n      - type: file\n        path: {archive}\n");
                archiver = StartProcess(o.ArchiverLog ? Path.Combine(dir, "archiver.log") : null, litestream, "replicate", "-config", config);
                WaitFor(() => Directory.Exists(Path.Combine(archive, "generations")) &&
                              Directory.EnumerateFiles(Path.Combine(archive, "generations"), "*.snapshot.lz4", SearchOption.AllDirectories).Any(), archiver, "Litestream's first snapshot");
            }
            var watch = Stopwatch.StartNew();
            run.Committed = PitrWriter.Run(db, run.FirstId, count, rate);
            run.WriterSeconds = watch.Elapsed.TotalSeconds;
            Console.Error.WriteLine($"  {run.TransactionsPerSecond:N0} transactions/s");
            if (archiver != null)
            {
                Thread.Sleep(3000); // let both archivers capture the tail (Litestream syncs every second)
                Stop(archiver);
                run.ArchiveBytes = PitrReplay.FolderBytes(archive);
                List<(DateTime At, long MaxId)> replay;
                if (name == "TursoBackup")
                {
                    replay = PitrReplay.ReplayOurs(Path.Combine(dir, "replay.db"), archive, "app");
                    run.Units = replay.Count;
                }
                else
                {
                    var (snapshot, steps) = PitrReplay.Litestream(archive);
                    run.Units = steps.Count;
                    replay = PitrReplay.Replay(Path.Combine(dir, "replay.db"), snapshot, steps);
                }
                (run.LagMs, run.NeverArchived) = PitrReplay.Lags(run.FirstId, run.Committed, replay);
                Console.Error.WriteLine($"  {run.Units:N0} units, {run.ArchiveBytes / 1048576.0:F1} MiB; lag p50 {run.Percentile(50):F0} ms, p99 {run.Percentile(99):F0} ms, max {run.Percentile(100):F0} ms; never archived {run.NeverArchived}");
            }
            if (name == "none") File.Delete(db);
            return run;
        }

        /// <summary>Restores the run's archive to <paramref name="at"/> (null: the latest point) o.Runs times; cp of the result for comparison.</summary>
        private RestoreRun RestoreTo(ArchiverRun r, DateTime? at, string point, long expected)
        {
            var result = new RestoreRun { Name = r.Name, Point = point, RowsExpected = expected };
            string dir = Path.GetDirectoryName(r.Archive);
            string target = Path.Combine(dir, "restored.db");
            string stamp = at?.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
            Console.Error.WriteLine($"[pitr] restore {r.Name} to the {point}" + (stamp != null ? $" ({stamp})" : ""));
            for (int i = 0; i <= o.Runs; i++)
            {
                foreach (var f in new[] { target, target + "-wal", target + "-shm" }) if (File.Exists(f)) File.Delete(f);
                Tools.SyncAll();
                try
                {
                    Sample s;
                    if (r.Name == "TursoBackup")
                    {
                        string ts = stamp ?? DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
                        s = Tools.Run("/usr/bin/env", new[] { "dotnet" }.Concat(Pwsh.Args(pwsh, module,
                            $"Restore-TursoPointInTime -Confirm:$false -Vault '{r.Archive}' -Database app -Timestamp '{ts}' -Destination '{target}' | Out-Null")).ToArray());

                    }
                    else
                    {
                        var args = new List<string> { "restore", "-o", target };
                        if (stamp != null) { args.Add("-timestamp"); args.Add(stamp); }
                        args.Add("file://" + r.Archive);
                        s = Tools.Run(litestream, args.ToArray());
                    }
                    if (i > 0) result.Seconds.Add(s.Seconds); // the first run warms the page cache
                }
                catch (InvalidOperationException ex)
                {
                    result.Error = ex.Message.Split('\n').FirstOrDefault(l => l.Trim().Length > 0)?.Trim();
                    Console.Error.WriteLine("  failed: " + ex.Message.Trim());
                    break;
                }
            }
            if (result.Error == null && r.Name == "TursoBackup")
            {
                // The same cmdlet in a PowerShell session that has the module loaded (a runbook, an admin's console):
                // one pwsh process runs it o.Runs + 1 times and times each call itself; the first is the warm-up.
                string ts = stamp ?? DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
                string script = $"foreach ($i in 0..{o.Runs}) {{ [IO.File]::Delete('{target}'); & /bin/sync; $w = [Diagnostics.Stopwatch]::StartNew(); " +
                                $"Restore-TursoPointInTime -Confirm:$false -Vault '{r.Archive}' -Database app -Timestamp '{ts}' -Destination '{target}' | Out-Null; " +
                                "'elapsed {0}' -f $w.Elapsed.TotalSeconds.ToString([Globalization.CultureInfo]::InvariantCulture) }";
                var session = Tools.Run("/usr/bin/env", new[] { "dotnet" }.Concat(Pwsh.Args(pwsh, module, script)).ToArray());
                var times = session.Output.Split('\n').Where(l => l.StartsWith("elapsed ")).Select(l => double.Parse(l.Substring(8), CultureInfo.InvariantCulture)).ToList();
                result.EngineSeconds.AddRange(times.Skip(1));
            }
            if (result.Error == null)
            {
                result.Bytes = new FileInfo(target).Length;
                result.RowsPresent = PitrWriter.Count(target);
                (result.Cp, result.CpSync) = CopyTimes(target);
                Console.Error.WriteLine($"  best {result.Best:F2} s, median {result.Median:F2} s; holds {result.RowsPresent:N0} of the {result.RowsExpected:N0} transactions committed by then");
            }
            return result;
        }

        /// <summary>CPU seconds per minute of an archiver on a database nobody writes (after its first snapshot), over 20 s.</summary>
        private double IdleCpu(string baseDb, int intervalMs)
        {
            string dir = Path.Combine(work, $"idle-{intervalMs}ms");
            Directory.CreateDirectory(dir);
            string db = Path.Combine(dir, "app.db");
            File.Copy(baseDb, db);
            string vault = Path.Combine(dir, "vault");
            var p = StartProcess(null, "dotnet", Pwsh.Args(pwsh, module,
                $"Start-TursoWalArchive -Path '{db}' -Vault '{vault}' -Name app -SyncInterval ([TimeSpan]::FromMilliseconds({intervalMs})) -StatusInterval ([TimeSpan]::FromHours(1))"));
            WaitFor(() => new WalArchiveLayout(vault, "app").Generations().Any(g => File.Exists(new WalArchiveLayout(vault, "app").SnapshotInfoPath(g))), p, "our first snapshot");
            Thread.Sleep(2000);
            double Cpu() => CpuSeconds(p.Id);
            double before = Cpu();
            var watch = Stopwatch.StartNew();
            Thread.Sleep(20_000);
            double used = Cpu() - before;
            double minutes = watch.Elapsed.TotalMinutes;
            Stop(p);
            Directory.Delete(dir, true);
            return used / minutes;
        }

        /// <summary>User + system CPU time of a process so far (Linux /proc).</summary>
        private static double CpuSeconds(int pid)
        {
            var fields = File.ReadAllText($"/proc/{pid}/stat").Split(')').Last().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // After "(comm)": state is field 3; utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 here.
            return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0;
        }

        /// <summary>cp (and cp + fsync) of a file of the restored size, best of o.Runs after a warm-up.</summary>
        public (double Cp, double CpSync) CopyTimes(string file)
        {
            string copy = file + ".cp";
            var cp = new List<double>();
            var cpSync = new List<double>();
            for (int i = 0; i <= o.Runs; i++)
            {
                if (File.Exists(copy)) File.Delete(copy);
                Tools.SyncAll();
                var a = Tools.Run("/bin/cp", file, copy).Seconds;
                File.Delete(copy);
                Tools.SyncAll();
                var b = Tools.Bash("cp \"$1\" \"$2\" && sync \"$2\"", file, copy).Seconds;
                File.Delete(copy);
                if (i > 0) { cp.Add(a); cpSync.Add(b); }
            }
            return (cp.Min(), cpSync.Min());
        }

        /// <summary>Starts an archiver; with <paramref name="logPath"/>, every line it prints goes there with the time it came.</summary>
        private static Process StartProcess(string logPath, string file, params string[] args)
        {
            var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            var p = Process.Start(psi);
            var log = logPath == null ? null : TextWriter.Synchronized(new StreamWriter(logPath) { AutoFlush = true });
            void Line(string data)
            {
                if (data != null) log?.WriteLine(DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture) + " " + data);
            }
            p.OutputDataReceived += (_, e) => Line(e.Data);
            p.ErrorDataReceived += (_, e) =>
            {
                Line(e.Data);
                if (e.Data != null && e.Data.Contains("rror")) Console.Error.WriteLine("  [archiver] " + e.Data);
            };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            return p;
        }

        private static void WaitFor(Func<bool> ready, Process p, string what)
        {
            var watch = Stopwatch.StartNew();
            while (!ready())
            {
                if (p.HasExited) throw new InvalidOperationException($"the archiver exited ({p.ExitCode}) before {what}");
                if (watch.Elapsed > TimeSpan.FromMinutes(5)) throw new TimeoutException("no " + what + " after 5 minutes");
                Thread.Sleep(50);
            }
            Thread.Sleep(500);
        }

        /// <summary>
        /// SIGTERM (systemd's stop): both archivers finish their last sync and exit. Not SIGINT: a benchmark started in the
        /// background of a non-interactive shell passes SIGINT on as ignored, and .NET keeps an ignored SIGINT ignored.
        /// </summary>
        private static void Stop(Process p)
        {
            Tools.Run("/bin/kill", "-TERM", p.Id.ToString(CultureInfo.InvariantCulture));
            if (!p.WaitForExit(120_000))
            {
                p.Kill(true);
                throw new TimeoutException("the archiver did not stop within 2 minutes of SIGTERM");
            }
        }
    }

    /// <summary>Replaces one marked section of a Markdown file (appending it when absent), leaving the rest as it is.</summary>
    public static class DocSections
    {
        public static string Begin(string name) => $"<!-- section:{name} -->";
        public static string End(string name) => $"<!-- /section:{name} -->";

        public static void Replace(string path, string name, string content)
        {
            string text = File.Exists(path) ? File.ReadAllText(path) : "# Benchmarks\n";
            string block = Begin(name) + "\n" + content.TrimEnd() + "\n" + End(name) + "\n";
            int a = text.IndexOf(Begin(name), StringComparison.Ordinal), b = text.IndexOf(End(name), StringComparison.Ordinal);
            text = a >= 0 && b > a ? text.Substring(0, a) + block + text.Substring(b + End(name).Length).TrimStart('\n') : text.TrimEnd() + "\n\n" + block;
            File.WriteAllText(path, text);
        }

        /// <summary>The marked section of an existing file (with its markers), or null: kept when the rest is rewritten.</summary>
        public static string Extract(string path, string name)
        {
            if (!File.Exists(path)) return null;
            string text = File.ReadAllText(path);
            int a = text.IndexOf(Begin(name), StringComparison.Ordinal), b = text.IndexOf(End(name), StringComparison.Ordinal);
            return a >= 0 && b > a ? text.Substring(a, b - a + End(name).Length) + "\n" : null;
        }
    }
}
