using System.Diagnostics;
using System.Text.RegularExpressions;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Benchmarks
{
    /// <summary>One timed run: wall time, and the peak RSS when the method is measured in its own process.</summary>
    public sealed class Sample
    {
        public double Seconds;
        public long? PeakRssKiB;
        public long StoredBytes;
        public double FsyncSeconds;   // cp + fsync only: the `sync dst` part on its own
        public Phases Phases;
    }

    /// <summary>Running the external tools and timing them.</summary>
    public static class Tools
    {
        public const string Sqlite3 = "/usr/bin/sqlite3";

        /// <summary>GNU time, for the max RSS of cp and sqlite3 (-f %M); null when it is not installed.</summary>
        public static readonly string GnuTime = File.Exists("/usr/bin/time") ? "/usr/bin/time" : null;

        /// <summary>
        /// Runs a program to completion and returns its wall time (from start to reaped) and, when GNU time is
        /// available, its max RSS. The program is started through /usr/bin/time in that case, which adds one
        /// fork+exec (about a millisecond) to the time: negligible against the copies measured here.
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
            var sample = new Sample { Seconds = watch.Elapsed.TotalSeconds };
            if (rssFile != null)
            {
                string text = File.ReadAllText(rssFile).Trim();
                File.Delete(rssFile);
                if (long.TryParse(text.Split('\n').Last().Trim(), out long kib)) sample.PeakRssKiB = kib;
            }
            return sample;
        }

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
    }

    /// <summary>
    /// When each phase of one in-process backup ended, from the engine's Log and Progress callbacks
    /// (milliseconds since Run was called). Which phases exist depends on the method and the compression:
    /// a separate checksum pass only with the backup API, a compression pass only with gzip.
    /// </summary>
    public sealed class Phases
    {
        public double CopyStart;      // Log "Copying …": source opened, read transaction taken
        public double CopyEnd;        // last "Copying" progress: every page copied (page copy, uncompressed: and queued for the hasher)
        public double StreamEnd;      // last "Checksumming"/"Compressing" progress, when there is such a pass
        public double PublishStart;   // "Publishing" progress: hash finished, fsync done, profile joined, manifest written
        public double End;            // Run returned: staging folder renamed into the vault
        public bool HasStreamPass;

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
                else if ((p.Phase == "Checksumming" || p.Phase == "Compressing") && p.Done >= p.Total) { StreamEnd = now; HasStreamPass = true; }
                else if (p.Phase == "Publishing") PublishStart = now;
            };
        }

        public void Stop()
        {
            End = watch.Elapsed.TotalMilliseconds;
            if (!HasStreamPass) StreamEnd = CopyEnd;
        }

        public double Copy => CopyEnd - CopyStart;
        public double Stream => StreamEnd - CopyEnd;
        public double Finish => PublishStart - StreamEnd;

        /// <summary>(phase name, milliseconds or null when the phase does not exist) in order.</summary>
        public IEnumerable<(string Name, double? Ms)> Durations()
        {
            yield return ("open source, take the read transaction, make the staging folder", CopyStart);
            yield return ("copy the pages (page copy: SHA-256 on a second thread when uncompressed)", Copy);
            yield return ("separate pass over the copy: SHA-256 (backup API) or compress + SHA-256 + write (gzip, zstd)", HasStreamPass ? Stream : (double?)null);
            yield return ("finish the hash, fsync, join the content profile, write the manifest", Finish);
            yield return ("publish (rename into the vault)", End - PublishStart);
        }
    }

    /// <summary>Our backup, in process (timed) and in a child process (peak memory).</summary>
    public static class Ours
    {
        /// <summary>Zstandard, when this build of the engine has it (looked up by name so the program builds either way).</summary>
        public static readonly CompressionKind? Zstd = Enum.TryParse<CompressionKind>("Zstd", out var z) ? z : null;

        /// <summary>What a backup request compresses with when it does not say.</summary>
        public static CompressionKind DefaultCompression => new BackupRequest().Compression;

        /// <summary>The engine's Zstandard settings ("level 3, 2 workers"), read by reflection; null if it has none.</summary>
        public static string ZstdSettings()
        {
            var type = typeof(TursoBackup.Engine.IO.ArtifactStreams);
            object level = type.GetProperty("ZstdLevel")?.GetValue(null), workers = type.GetProperty("ZstdWorkers")?.GetValue(null);
            if (level == null) return null;
            return $"level {level}" + (workers == null ? "" : Convert.ToInt32(workers) > 0 ? $", {workers} worker threads" : ", single-threaded");
        }

        public static bool IsOurs(Method m) => m >= Method.OursNone;

        public static bool Available(Method m) => m != Method.OursZstd || Zstd.HasValue;

        public static (CompressionKind, SnapshotMethod) Settings(Method m) => m switch
        {
            Method.OursNone => (CompressionKind.None, SnapshotMethod.PageCopy),
            Method.OursGzip => (CompressionKind.Gzip, SnapshotMethod.PageCopy),
            Method.OursZstd => (Zstd.Value, SnapshotMethod.PageCopy),
            Method.OursNoneBackupApi => (CompressionKind.None, SnapshotMethod.BackupApi),
            _ => throw new ArgumentOutOfRangeException(nameof(m)),
        };

        /// <summary>One snapshot into a fresh vault, timed with its phases. The vault is deleted afterwards (untimed).</summary>
        public static Sample Backup(string source, string vaultDir, CompressionKind compression, SnapshotMethod method)
        {
            var backup = new SnapshotBackup();
            var phases = new Phases();
            phases.Attach(backup);
            var watch = Stopwatch.StartNew();
            var info = backup.Run(new BackupRequest { SourcePath = source, VaultPath = vaultDir, Compression = compression, Method = method });
            watch.Stop();
            phases.Stop();
            Directory.Delete(vaultDir, true);
            return new Sample { Seconds = watch.Elapsed.TotalSeconds, StoredBytes = info.StoredBytes, Phases = phases };
        }

        /// <summary>
        /// Runs one backup in a new process (`dotnet this.dll --child-backup …`) and returns the child's peak RSS
        /// (VmHWM) and the backup's own elapsed time. The child starts cold (no JIT warm-up) like a real
        /// Backup-TursoDatabase call in a fresh shell.
        /// </summary>
        public static Sample ChildBackup(string source, string vaultDir, CompressionKind compression, SnapshotMethod method)
        {
            var sample = Child.Invoke("--child-backup", source, vaultDir, compression.ToString().ToLowerInvariant(), method.ToString());
            Directory.Delete(vaultDir, true);
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

        /// <summary>SHA-256 of the whole file with the engine's buffer size: the floor of the checksum pass.</summary>
        public static double Sha256Seconds(string source)
        {
            var watch = Stopwatch.StartNew();
            TursoBackup.Engine.IO.ArtifactStreams.HashFile(source);
            return watch.Elapsed.TotalSeconds;
        }

        /// <summary>The engine's compressor over the whole file into Stream.Null: the CPU cost of compression alone.</summary>
        public static double CompressSeconds(string source, CompressionKind compression)
        {
            var watch = Stopwatch.StartNew();
            using (var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, TursoBackup.Engine.IO.ArtifactStreams.BufferSize, FileOptions.SequentialScan))
            using (var gzip = TursoBackup.Engine.IO.ArtifactStreams.Compress(Stream.Null, compression))
            {
                TursoBackup.Engine.IO.ArtifactStreams.Pump(input, gzip, null);
            }
            return watch.Elapsed.TotalSeconds;
        }
    }

    /// <summary>The child-process side of the memory measurements.</summary>
    public static class Child
    {
        public static int Backup(string source, string vault, string compression, string method)
        {
            var kind = Enum.Parse<CompressionKind>(compression, ignoreCase: true);
            var how = Enum.Parse<SnapshotMethod>(method, ignoreCase: true);
            var watch = Stopwatch.StartNew();
            var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = source, VaultPath = vault, Compression = kind, Method = how });
            watch.Stop();
            Console.WriteLine($"RESULT vmhwm_kib={PeakRssKiB()} seconds={watch.Elapsed.TotalSeconds:R} stored={info.StoredBytes}");
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
