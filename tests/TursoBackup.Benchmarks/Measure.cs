using System.Diagnostics;
using System.Text.RegularExpressions;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Dump;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Restore;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Benchmarks
{
    /// <summary>One timed run: wall time, and the peak RSS when the method is measured in its own process.</summary>
    public sealed class Sample
    {
        public double Seconds;
        public long? PeakRssKiB;
        /// <summary>Bytes written: the stored artifact (ours), the dump file, or 0.</summary>
        public long StoredBytes;
        /// <summary>cp + fsync, sqlite3 .dump: the `sync dst` after the command, on its own (not in Seconds for the dumps).</summary>
        public double FsyncSeconds;
        public Phases Phases;
        /// <summary>Our backup, when it was kept (last round) for the restore measurements.</summary>
        public BackupInfo Info;
        public string Output;
    }

    /// <summary>Running the external tools and timing them.</summary>
    public static class Tools
    {
        public const string Sqlite3 = "/usr/bin/sqlite3";
        public const string Zstd = "/usr/bin/zstd";

        /// <summary>GNU time, for the max RSS of cp and sqlite3 (-f %M); null when it is not installed.</summary>
        public static readonly string GnuTime = File.Exists("/usr/bin/time") ? "/usr/bin/time" : null;

        /// <summary>
        /// Runs a program to completion and returns its wall time (from start to reaped) and, when GNU time is
        /// available, its max RSS (of the largest process in the tree it waited for). The program is started through
        /// /usr/bin/time in that case, which adds one fork+exec (about a millisecond) to the time: negligible here.
        /// </summary>
        public static Sample Run(string file, params string[] args)
        {
            string rssFile = GnuTime == null ? null : Path.GetTempFileName();
            var psi = new ProcessStartInfo(GnuTime ?? file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            if (GnuTime != null)
            {
                foreach (var a in new[] { "-f", "%M", "-o", rssFile, file }) psi.ArgumentList.Add(a);
            }
            foreach (var a in args) psi.ArgumentList.Add(a);
            var watch = Stopwatch.StartNew();
            using var p = Process.Start(psi);
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            p.WaitForExit();
            watch.Stop();
            if (p.ExitCode != 0)
            {
                throw new InvalidOperationException($"{file} {string.Join(" ", args)} exited with {p.ExitCode}: {stderr.Result}{stdout.Result}");
            }
            var sample = new Sample { Seconds = watch.Elapsed.TotalSeconds, Output = stdout.Result };
            if (rssFile != null)
            {
                string text = File.ReadAllText(rssFile).Trim();
                File.Delete(rssFile);
                if (long.TryParse(text.Split('\n').Last().Trim(), out long kib)) sample.PeakRssKiB = kib;
            }
            return sample;
        }

        /// <summary>Runs a bash script (with pipefail) given "$1", "$2"…: for redirections and pipes.</summary>
        public static Sample Bash(string script, params string[] args) =>
            Run("/bin/bash", new[] { "-c", "set -o pipefail; " + script, "bash" }.Concat(args).ToArray());

        /// <summary>Runs a command and returns its first line of output, or null (for the machine description).</summary>
        public static string Output(string file, params string[] args)
        {
            try
            {
                var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in args) psi.ArgumentList.Add(a);
                using var p = Process.Start(psi);
                string text = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                return p.ExitCode == 0 ? text.Split('\n')[0].Trim() : null;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return null;
            }
        }

        /// <summary>
        /// Flushes all dirty pages machine-wide before a timed run (untimed), so one method's write-back does not
        /// land in the next method's time. The page cache stays warm: nothing is dropped.
        /// </summary>
        public static void SyncAll() => Run("/bin/sync");

        /// <summary>The 1-minute load average (other work on the machine while we measure).</summary>
        public static double LoadAverage()
        {
            try
            {
                return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                return double.NaN;
            }
        }

        /// <summary>
        /// CPU time (clock ticks) used machine-wide and by this process with its waited-for children (cp, sqlite3, the
        /// child processes, pwsh), and the wall clock: the difference between two of these is the CPU that
        /// other processes used meanwhile — the noise in a measurement.
        /// </summary>
        public readonly record struct CpuMark(long MachineBusy, long Ours, DateTime At);

        public static CpuMark MarkCpu()
        {
            try
            {
                var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
                long busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + (cpu.Length > 7 ? cpu[7] : 0); // user nice system irq softirq steal
                string stat = File.ReadAllText("/proc/self/stat");
                var fields = stat.Substring(stat.LastIndexOf(')') + 2).Split(' '); // fields from 3 (state) on
                long ours = long.Parse(fields[11]) + long.Parse(fields[12]) + long.Parse(fields[13]) + long.Parse(fields[14]); // utime stime cutime cstime
                return new CpuMark(busy, ours, DateTime.UtcNow);
            }
            catch (Exception ex) when (ex is IOException || ex is FormatException || ex is IndexOutOfRangeException)
            {
                return new CpuMark(-1, -1, DateTime.UtcNow);
            }
        }

        /// <summary>Average number of cores that other processes kept busy between two marks (NaN when unknown).</summary>
        public static double OtherCores(CpuMark from, CpuMark to)
        {
            if (from.MachineBusy < 0 || to.MachineBusy < 0) return double.NaN;
            double seconds = (to.At - from.At).TotalSeconds;
            double ticks = (to.MachineBusy - from.MachineBusy) - (to.Ours - from.Ours);
            return Math.Max(0, ticks / 100.0 / seconds); // USER_HZ is 100 on Linux
        }

        /// <summary>Waits (up to 10 minutes) until the 1-minute load average is below <paramref name="limit"/>; returns the load then.</summary>
        public static double WaitForQuiet(double? limit)
        {
            double load = LoadAverage();
            if (!limit.HasValue || double.IsNaN(load)) return load;
            var watch = Stopwatch.StartNew();
            while (load >= limit.Value && watch.Elapsed < TimeSpan.FromMinutes(10))
            {
                Console.Error.WriteLine($"  load average {load:F2} ≥ {limit.Value:F2}: waiting");
                Thread.Sleep(15000);
                load = LoadAverage();
            }
            return load;
        }
    }

    /// <summary>
    /// When each phase of one in-process snapshot ended, from the engine's Log and Progress callbacks (milliseconds
    /// since Run was called). The page copy streams the pages through the compressor and the second-thread SHA-256
    /// into the artifact in one pass, so "copy" covers compression too; what is left after the last page is the
    /// compressor's tail, the end of the hash, fsync, the content profile and the manifest.
    /// </summary>
    public sealed class Phases
    {
        public double CopyStart;      // Log "Copying …": source opened, read transaction taken
        public double CopyEnd;        // last "Copying" progress: every page read and handed to the compressor/hasher
        public double PublishStart;   // "Publishing" progress: hash finished, fsync done, profile joined, manifest written
        public double End;            // Run returned: staging folder renamed into the vault

        private readonly Stopwatch watch = Stopwatch.StartNew();

        public void Attach(SnapshotBackup backup)
        {
            backup.Log = message =>
            {
                if (message.StartsWith("Copying", StringComparison.Ordinal)) CopyStart = watch.Elapsed.TotalMilliseconds;
            };
            backup.Progress = p =>
            {
                double now = watch.Elapsed.TotalMilliseconds;
                if (p.Phase == "Copying" && CopyStart == 0) CopyStart = now; // no "Copying" narration: start at the first page
                if (p.Phase == "Copying" && p.Done >= p.Total) CopyEnd = now;
                else if (p.Phase == "Publishing") PublishStart = now;
            };
        }

        public void Stop() => End = watch.Elapsed.TotalMilliseconds;

        public double Copy => CopyEnd - CopyStart;
        public double Finish => PublishStart - CopyEnd;

        /// <summary>(phase name, milliseconds) in order.</summary>
        public IEnumerable<(string Name, double Ms)> Durations()
        {
            yield return ("open source, take the read transaction, make the staging folder", CopyStart);
            yield return ("copy the pages → compressor → artifact, SHA-256 on a second thread (backup API: copy only)", Copy);
            yield return ("compressor tail, finish the hash (backup API: hash the copy), fsync, content profile, manifest", Finish);
            yield return ("publish (rename into the vault)", End - PublishStart);
        }
    }

    /// <summary>What one of our methods does: compression, snapshot method, kind, zstd level.</summary>
    public readonly record struct OurSettings(CompressionKind Compression, SnapshotMethod Method, BackupKind Kind, int ZstdLevel);

    /// <summary>Our backup, dump, restore and their pieces, in process (timed) and in a child process (peak memory).</summary>
    public static class Ours
    {
        /// <summary>The engine's Zstandard level as shipped (read before anything changes it).</summary>
        public static readonly int DefaultZstdLevel = ArtifactStreams.ZstdLevel;

        /// <summary>The other level measured for comparison: 3 (zstd's own default) when the engine uses 1, else 1.</summary>
        public static readonly int AltZstdLevel = DefaultZstdLevel == 3 ? 1 : 3;

        /// <summary>What a backup request compresses with when it does not say.</summary>
        public static CompressionKind DefaultCompression => new BackupRequest().Compression;

        public static int ZstdWorkers => ArtifactStreams.ZstdWorkers;

        /// <summary>"2 worker threads" / "single-threaded".</summary>
        public static string WorkersText => ZstdWorkers > 0 ? $"{ZstdWorkers} worker thread{(ZstdWorkers == 1 ? "" : "s")}" : "single-threaded";

        /// <summary>Runs <paramref name="action"/> with ArtifactStreams.ZstdLevel set to <paramref name="level"/>.</summary>
        public static T WithZstdLevel<T>(int level, Func<T> action)
        {
            int before = ArtifactStreams.ZstdLevel;
            ArtifactStreams.ZstdLevel = level;
            try
            {
                return action();
            }
            finally
            {
                ArtifactStreams.ZstdLevel = before;
            }
        }

        /// <summary>
        /// One backup into a fresh vault, timed (snapshots: with their phases). The vault is deleted afterwards
        /// (untimed) unless <paramref name="keep"/>: then the sample carries the BackupInfo for a restore.
        /// </summary>
        public static Sample Backup(string source, string vaultDir, OurSettings s, bool keep)
        {
            var backup = new SnapshotBackup();
            var phases = s.Kind == BackupKind.Snapshot ? new Phases() : null;
            phases?.Attach(backup);
            var request = new BackupRequest { SourcePath = source, VaultPath = vaultDir, Compression = s.Compression, Method = s.Method, Kind = s.Kind };
            var watch = Stopwatch.StartNew();
            var info = WithZstdLevel(s.ZstdLevel, () => backup.Run(request));
            watch.Stop();
            phases?.Stop();
            if (!keep) Directory.Delete(vaultDir, true);
            return new Sample { Seconds = watch.Elapsed.TotalSeconds, StoredBytes = info.StoredBytes, Phases = phases, Info = keep ? info : null };
        }

        /// <summary>Export-TursoDatabase's engine call: a plain .sql dump file (temporary name, fsync, rename).</summary>
        public static Sample Export(string source, string outFile)
        {
            var watch = Stopwatch.StartNew();
            DumpFiles.Export(source, outFile, overwrite: false, progress: null, cancel: CancellationToken.None);
            watch.Stop();
            return new Sample { Seconds = watch.Elapsed.TotalSeconds, StoredBytes = new FileInfo(outFile).Length };
        }

        /// <summary>Restore-TursoBackup's engine call to a new file: read + verify SHA-256 + decompress + write + fsync + rename.</summary>
        public static double Restore(BackupInfo info, string destination)
        {
            var watch = Stopwatch.StartNew();
            new BackupRestore().Restore(info, destination, overwrite: false, fileEmergency: null);
            watch.Stop();
            return watch.Elapsed.TotalSeconds;
        }

        /// <summary>
        /// Runs one backup in a new process (`dotnet this.dll --child-backup …`) and returns the child's peak RSS
        /// (VmHWM) and the backup's own elapsed time. The child starts cold (no JIT warm-up) like a real
        /// Backup-TursoDatabase call in a fresh shell.
        /// </summary>
        public static Sample ChildBackup(string source, string vaultDir, OurSettings s)
        {
            var sample = Child.Invoke("--child-backup", source, vaultDir, s.Compression.ToString().ToLowerInvariant(), s.Method.ToString(),
                                      s.Kind.ToString(), s.ZstdLevel.ToString());
            Directory.Delete(vaultDir, true);
            return sample;
        }

        /// <summary>DumpFiles.Export in a new process, for its peak RSS.</summary>
        public static Sample ChildExport(string source, string outFile)
        {
            var sample = Child.Invoke("--child-export", source, outFile);
            File.Delete(outFile);
            return sample;
        }

        /// <summary>Peak RSS of a child that loads the engine and opens the database but backs nothing up.</summary>
        public static Sample ChildBaseline(string source) => Child.Invoke("--child-baseline", source);

        /// <summary>Time to read the content profile (row counts, schema hash) of a database, which every backup does.</summary>
        public static double ProfileSeconds(string source)
        {
            var watch = Stopwatch.StartNew();
            using (var db = SqliteFile.OpenImmutable(source)) DatabaseProfile.Read(db);
            return watch.Elapsed.TotalSeconds;
        }

        /// <summary>SHA-256 of the whole file with the engine's buffer size: the floor of the checksum.</summary>
        public static double Sha256Seconds(string source)
        {
            var watch = Stopwatch.StartNew();
            ArtifactStreams.HashFile(source);
            return watch.Elapsed.TotalSeconds;
        }

        /// <summary>The engine's compressor over the whole file into Stream.Null: the CPU cost of compression alone.</summary>
        public static double CompressSeconds(string source, CompressionKind compression, int zstdLevel)
        {
            return WithZstdLevel(zstdLevel, () =>
            {
                var watch = Stopwatch.StartNew();
                using (var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, ArtifactStreams.BufferSize, FileOptions.SequentialScan))
                using (var compressor = ArtifactStreams.Compress(Stream.Null, compression))
                {
                    ArtifactStreams.Pump(input, compressor, null);
                }
                return watch.Elapsed.TotalSeconds;
            });
        }

        /// <summary>SqlDumpWriter over the database into a UTF-8 StreamWriter on Stream.Null: formatting + encoding, no file.</summary>
        public static double DumpFormatSeconds(string source)
        {
            var watch = Stopwatch.StartNew();
            using (var db = SqliteFile.OpenReadOnly(source))
            using (var text = new StreamWriter(Stream.Null, new System.Text.UTF8Encoding(false), 1 << 16))
            {
                new SqlDumpWriter().Write(db, text);
            }
            return watch.Elapsed.TotalSeconds;
        }

        /// <summary>
        /// The compressed snapshot's streaming path rebuilt from the engine's public pieces, without the uncompressed
        /// staging copy the engine tees off for the content profile: inside a read transaction, PageCopy → compressor →
        /// ParallelHashStream (SHA-256 on a second thread) → EarlyWritebackStream → artifact, then fsync. No profile, no
        /// manifest, no publish (they take milliseconds). What a compressed snapshot would cost without the staged copy.
        /// </summary>
        public static double StreamWithoutStagingSeconds(string source, string artifact, CompressionKind compression, int zstdLevel)
        {
            return WithZstdLevel(zstdLevel, () =>
            {
                var watch = Stopwatch.StartNew();
                using (var src = SqliteFile.OpenReadOnly(source))
                {
                    bool wal = string.Equals(Convert.ToString(SqliteFile.Scalar(src, "PRAGMA journal_mode")), "wal", StringComparison.OrdinalIgnoreCase);
                    using (var tx = src.BeginTransaction(deferred: true))
                    {
                        using (var cmd = src.CreateCommand())
                        {
                            cmd.Transaction = tx;
                            cmd.CommandText = "SELECT count(*) FROM sqlite_master";
                            cmd.ExecuteScalar();
                        }
                        using (var file = new FileStream(artifact, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
                        {
                            using (var hashing = new ParallelHashStream(new EarlyWritebackStream(file)))
                            {
                                using (var compressor = ArtifactStreams.Compress(hashing, compression))
                                {
                                    using (var db = PageCopy.OpenDatabaseFile(source)) PageCopy.Copy(db, source, wal, compressor, null, CancellationToken.None, out _);
                                }
                                hashing.Finish();
                            }
                            file.Flush(true);
                        }
                    }
                }
                double seconds = watch.Elapsed.TotalSeconds;
                File.Delete(artifact);
                return seconds;
            });
        }

        /// <summary>The engine's decompressor over a stored artifact into Stream.Null: the CPU cost of decompression alone.</summary>
        public static double DecompressSeconds(string artifact, CompressionKind compression)
        {
            var watch = Stopwatch.StartNew();
            using (var input = new FileStream(artifact, FileMode.Open, FileAccess.Read, FileShare.Read, ArtifactStreams.BufferSize, FileOptions.SequentialScan))
            using (var decompressor = ArtifactStreams.Decompress(input, compression))
            {
                ArtifactStreams.Pump(decompressor, Stream.Null, null);
            }
            return watch.Elapsed.TotalSeconds;
        }
    }

    /// <summary>The child-process side of the memory measurements.</summary>
    public static class Child
    {
        public static int Backup(string source, string vault, string compression, string method, string kind, int zstdLevel)
        {
            var request = new BackupRequest
            {
                SourcePath = source,
                VaultPath = vault,
                Compression = Enum.Parse<CompressionKind>(compression, ignoreCase: true),
                Method = Enum.Parse<SnapshotMethod>(method, ignoreCase: true),
                Kind = Enum.Parse<BackupKind>(kind, ignoreCase: true),
            };
            ArtifactStreams.ZstdLevel = zstdLevel;
            var watch = Stopwatch.StartNew();
            var info = new SnapshotBackup().Run(request);
            watch.Stop();
            Console.WriteLine($"RESULT vmhwm_kib={PeakRssKiB()} seconds={watch.Elapsed.TotalSeconds:R} stored={info.StoredBytes}");
            return 0;
        }

        public static int Export(string source, string outFile)
        {
            var watch = Stopwatch.StartNew();
            DumpFiles.Export(source, outFile, overwrite: false, progress: null, cancel: CancellationToken.None);
            watch.Stop();
            Console.WriteLine($"RESULT vmhwm_kib={PeakRssKiB()} seconds={watch.Elapsed.TotalSeconds:R} stored={new FileInfo(outFile).Length}");
            return 0;
        }

        public static int Baseline(string source)
        {
            using (var db = SqliteFile.OpenReadOnly(source))
            {
                SqliteFile.Scalar(db, "PRAGMA page_count");
            }
            Console.WriteLine($"RESULT vmhwm_kib={PeakRssKiB()} seconds=0 stored=0");
            return 0;
        }

        /// <summary>VmHWM ("high water mark"): the process's peak resident set size so far, in KiB.</summary>
        public static long PeakRssKiB()
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) return long.Parse(Regex.Match(line, @"\d+").Value);
            }
            return -1;
        }

        /// <summary>Starts `dotnet &lt;this dll&gt; args…`, waits, and parses the RESULT line.</summary>
        public static Sample Invoke(params string[] args)
        {
            string host = Environment.ProcessPath;
            if (host == null || !Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase)) host = "dotnet";
            var psi = new ProcessStartInfo(host) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(typeof(Child).Assembly.Location);
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi);
            var stderr = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            var m = Regex.Match(stdout, @"RESULT vmhwm_kib=(\d+) seconds=([\d.E+-]+) stored=(\d+)");
            if (p.ExitCode != 0 || !m.Success)
            {
                throw new InvalidOperationException($"child {string.Join(" ", args)} exited with {p.ExitCode}: {stderr.Result}{stdout}");
            }
            return new Sample
            {
                PeakRssKiB = long.Parse(m.Groups[1].Value),
                Seconds = double.Parse(m.Groups[2].Value),
                StoredBytes = long.Parse(m.Groups[3].Value),
            };
        }
    }
}
