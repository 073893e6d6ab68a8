using System.Diagnostics;
using System.Text;
using TursoBackup.Engine;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Restore;

namespace TursoBackup.Benchmarks
{
    /// <summary>
    /// Issue 16's first rows: the default snapshot (zstd level 1) and a restore to a new file against `cp` + fsync of the
    /// same database, in one run, on the same disk — the "at the disk's limit" aims (≥ 0.9× `cp` + fsync). Each method
    /// gets `sync` before it; best and median of --runs after a warm-up round; the database is in the page cache.
    ///   dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --disk [--sizes 256,2048] [--runs 3] [--write-doc]
    /// </summary>
    public static class DiskBench
    {
        /// <summary>The compressor alone at several levels over the benchmark database: throughput and ratio (`--disk-levels [--size 256] [--levels 1,-1,-3,-5]`).</summary>
        public static int Levels(string[] args)
        {
            int size = 256;
            var levels = new List<int> { 3, 1, -1, -3, -5, -10 };
            string dir = Path.Combine(Path.GetTempPath(), "tursobackup-bench");
            for (int i = 1; i < args.Length; i++)
            {
                if (args[i] == "--size") size = int.Parse(args[++i]);
                else if (args[i] == "--levels") levels = args[++i].Split(',').Select(int.Parse).ToList();
            }
            string db = Workload.Ensure(dir, size, false);
            long bytes = new FileInfo(db).Length;
            Tools.Bash("cat \"$1\" > /dev/null", db);
            foreach (int level in levels)
            {
                double best = double.MaxValue;
                long outBytes = 0;
                for (int r = 0; r < 3; r++)
                {
                    var counter = new CountingStream();
                    var w = Stopwatch.StartNew();
                    using (var input = new FileStream(db, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 20))
                    using (var z = TursoBackup.Engine.IO.ArtifactStreams.Compress(counter, CompressionKind.Zstd, null, level))
                        input.CopyTo(z, 1 << 20);
                    best = Math.Min(best, w.Elapsed.TotalSeconds);
                    outBytes = counter.Length;
                }
                Console.WriteLine($"zstd level {level,4}: {bytes / best / 1048576:F0} MiB/s, stored {outBytes * 100.0 / bytes:F1} %");
            }
            return 0;
        }

        /// <summary>Counts what is written and keeps nothing.</summary>
        private sealed class CountingStream : TursoBackup.Engine.IO.ForwardOnlyStream
        {
            public override bool CanWrite => true;
            public override void Write(byte[] buffer, int offset, int count) => Count += count;
        }

        /// <summary>Where a restore's time goes: the artifact read, hashed and decompressed into nothing, against the whole restore (`--disk-restore [--size 2048]`).</summary>
        public static int RestoreTrace(string[] args)
        {
            int size = 2048;
            for (int i = 1; i < args.Length; i++) if (args[i] == "--size") size = int.Parse(args[++i]);
            string dir = Path.Combine(Path.GetTempPath(), "tursobackup-bench");
            string db = Workload.Ensure(dir, size, false);
            string work = Path.Combine(dir, "disk-restore");
            if (Directory.Exists(work)) Directory.Delete(work, true);
            Directory.CreateDirectory(work);
            var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = Path.Combine(work, "vault"), Compression = CompressionKind.Zstd });
            for (int r = 0; r < 3; r++)
            {
                Tools.SyncAll();
                var w = Stopwatch.StartNew();
                TursoBackup.Engine.IO.ArtifactStreams.ReadArtifact(info.Location, info.Compression, content => content.CopyTo(Stream.Null, 1 << 20));
                double read = w.Elapsed.TotalSeconds;
                string restored = Path.Combine(work, "r.db");
                Tools.SyncAll();
                w.Restart();
                new BackupRestore { Log = m => Console.Error.WriteLine($"    {w.Elapsed.TotalSeconds:F3} s {m}") }.Restore(info, restored, false, null);
                double full = w.Elapsed.TotalSeconds;
                File.Delete(restored);
                double Variant(Func<FileStream, Stream> wrap)
                {
                    Tools.SyncAll();
                    var sw = Stopwatch.StartNew();
                    TursoBackup.Engine.IO.ArtifactStreams.ReadArtifact(info.Location, info.Compression, content =>
                    {
                        using var f = new FileStream(restored, FileMode.Create, FileAccess.Write, FileShare.None, 1);
                        var o = wrap(f);
                        content.CopyTo(o, 1 << 20);
                        if (o is TursoBackup.Engine.IO.WriteBehindStream wb) wb.Finish();
                        f.Flush(true);
                    });
                    double t = sw.Elapsed.TotalSeconds;
                    File.Delete(restored);
                    return t;
                }
                double both = Variant(f => new TursoBackup.Engine.IO.WriteBehindStream(new TursoBackup.Engine.IO.EarlyWritebackStream(f)));
                double plain = Variant(f => f);
                double early = Variant(f => new TursoBackup.Engine.IO.EarlyWritebackStream(f));
                double behind = Variant(f => new TursoBackup.Engine.IO.WriteBehindStream(f));
                Tools.SyncAll();
                var cw = Stopwatch.StartNew();
                Tools.Bash("cp \"$1\" \"$2\" && sync \"$2\"", db, restored);
                double cp = cw.Elapsed.TotalSeconds;
                File.Delete(restored);
                Console.WriteLine($"read + hash + decompress into nothing {read:F3} s; restore {full:F3} s; both {both:F3} s; plain file {plain:F3} s; early write-back only {early:F3} s; write-behind {behind:F3} s; cp + sync {cp:F3} s");
            }
            Directory.Delete(work, true);
            return 0;
        }

        /// <summary>The SQL dump against `sqlite3 .dump`, both to a file and fsynced (`--disk-dump [--size 256] [--runs 3]`).</summary>
        public static int Dump(string[] args)
        {
            int size = 256, runs = 3;
            for (int i = 1; i < args.Length; i++)
            {
                if (args[i] == "--size") size = int.Parse(args[++i]);
                else if (args[i] == "--runs") runs = int.Parse(args[++i]);
            }
            string dir = Path.Combine(Path.GetTempPath(), "tursobackup-bench");
            string db = Workload.Ensure(dir, size, false);
            Tools.Bash("cat \"$1\" > /dev/null", db);
            string outFile = Path.Combine(dir, "dump.sql");
            var ours = new List<double>();
            var peer = new List<double>();
            for (int r = 0; r <= runs; r++)
            {
                for (int side = 0; side < 2; side++)
                {
                    if (File.Exists(outFile)) File.Delete(outFile);
                    Tools.SyncAll();
                    if ((side == 0) == (r % 2 == 0))
                    {
                        var w = Stopwatch.StartNew();
                        TursoBackup.Engine.Dump.DumpFiles.Export(db, outFile, false, null, CancellationToken.None);
                        if (r > 0) ours.Add(w.Elapsed.TotalSeconds);
                        Console.Error.WriteLine($"  ours {w.Elapsed.TotalSeconds:F3} s");
                    }
                    else
                    {
                        var s = Tools.Bash("\"$1\" \"$2\" .dump > \"$3\" && sync \"$3\"", Tools.Sqlite3, db, outFile);
                        if (r > 0) peer.Add(s.Seconds);
                        Console.Error.WriteLine($"  sqlite3 .dump {s.Seconds:F3} s");
                    }
                }
            }
            File.Delete(outFile);
            Console.WriteLine($"dump {size} MiB: ours best {ours.Min():F3} s (median {Median(ours):F3}); sqlite3 .dump + fsync best {peer.Min():F3} s (median {Median(peer):F3}); ratio {peer.Min() / ours.Min():F2}x");
            return 0;
        }

        public static int Start(string[] args)
        {
            var sizes = new List<int> { 256, 2048 };
            int runs = 3;
            bool writeDoc = false;
            string docPath = null, dir = Path.Combine(Path.GetTempPath(), "tursobackup-bench");
            for (int i = 1; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "--sizes": sizes = args[++i].Split(',').Select(int.Parse).ToList(); break;
                    case "--runs": runs = Math.Max(1, int.Parse(args[++i])); break;
                    case "--dir": dir = Path.GetFullPath(args[++i]); break;
                    case "--write-doc": writeDoc = true; break;
                    case "--doc": docPath = Path.GetFullPath(args[++i]); writeDoc = true; break;
                    default: Console.Error.WriteLine("usage: --disk [--sizes 256,2048] [--runs 3] [--dir PATH] [--write-doc] [--doc PATH]"); return 2;
                }
            }
            var total = Stopwatch.StartNew();
            Directory.CreateDirectory(dir);
            string work = Path.Combine(dir, "disk");
            var rows = new List<(int Size, long Bytes, double Cp, double CpMed, double Snap, double SnapMed, long Stored, double Restore, double RestoreMed)>();
            foreach (int size in sizes)
            {
                string db = Workload.Ensure(dir, size, false);
                long bytes = new FileInfo(db).Length;
                if (Directory.Exists(work)) Directory.Delete(work, true);
                Directory.CreateDirectory(work);
                Tools.Bash("cat \"$1\" > /dev/null", db); // into the page cache
                var cp = new List<double>();
                var snap = new List<double>();
                var restore = new List<double>();
                long stored = 0;
                for (int i = 0; i <= runs; i++)
                {
                    string copy = Path.Combine(work, "cp.db");
                    Tools.SyncAll();
                    var c = Tools.Bash("cp \"$1\" \"$2\" && sync \"$2\"", db, copy);
                    File.Delete(copy);

                    string vault = Path.Combine(work, "vault" + i);
                    Tools.SyncAll();
                    var w = Stopwatch.StartNew();
                    var info = new SnapshotBackup().Run(new BackupRequest { SourcePath = db, VaultPath = vault, Compression = CompressionKind.Zstd });
                    double tSnap = w.Elapsed.TotalSeconds;
                    stored = info.StoredBytes;

                    string restored = Path.Combine(work, "restored.db");
                    Tools.SyncAll();
                    w.Restart();
                    new BackupRestore().Restore(info, restored, false, null);
                    double tRestore = w.Elapsed.TotalSeconds;
                    foreach (var s in new[] { "", "-wal", "-shm" }) if (File.Exists(restored + s)) File.Delete(restored + s);
                    Directory.Delete(vault, true);
                    Console.Error.WriteLine($"  {size} MiB: cp + fsync {c.Seconds:F3} s; snapshot (zstd) {tSnap:F3} s; restore {tRestore:F3} s");
                    if (i > 0) { cp.Add(c.Seconds); snap.Add(tSnap); restore.Add(tRestore); }
                }
                rows.Add((size, bytes, cp.Min(), Median(cp), snap.Min(), Median(snap), stored, restore.Min(), Median(restore)));
            }
            Directory.Delete(work, true);

            var sb = new StringBuilder();
            sb.AppendLine("## At the disk's limit: snapshot and restore against `cp` + fsync (issue 16)").AppendLine();
            sb.AppendLine("The benchmark database (WAL mode; a third of its bytes incompressible), in the page cache. In one run, each method after `sync`: " +
                          "`cp db copy && sync copy` (a durable copy: what a backup must at least be), the default snapshot (`SnapshotBackup.Run`, zstd level 1, " +
                          "SHA-256, content profile, manifest, published by rename: what `Backup-TursoDatabase` runs) into a fresh vault, and a restore of that " +
                          "backup to a new file (`BackupRestore.Restore`: checksum, decompression, one fsync, rename: `Restore-TursoBackup`). Throughput ratios " +
                          $"are `cp` + fsync's time ÷ ours (aim ≥ 0.9×). Best of {runs} after a warm-up round; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, " +
                          $"{total.Elapsed.TotalMinutes:F1} minutes, {Environment.ProcessorCount} logical processors.").AppendLine();
            sb.AppendLine("```sh").AppendLine($"dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --disk --sizes {string.Join(",", sizes)}{(runs != 3 ? " --runs " + runs : "")} --write-doc").AppendLine("```").AppendLine();
            sb.AppendLine("| database | `cp` + fsync | snapshot, zstd 1 (stored) | × `cp` + fsync | restore to a new file | × `cp` + fsync |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|");
            foreach (var r in rows)
                sb.AppendLine($"| {r.Size} MiB | {r.Cp:F3} s (median {r.CpMed:F3}) | {r.Snap:F3} s (median {r.SnapMed:F3}; {r.Stored / 1048576.0:F0} MiB) | {r.Cp / r.Snap:F2}× | {r.Restore:F3} s (median {r.RestoreMed:F3}) | {r.Cp / r.Restore:F2}× |");
            sb.AppendLine();
            Console.WriteLine(sb.ToString());
            if (writeDoc) DocSections.Replace(docPath ?? Path.Combine(Report.RepoRoot(), "docs", "benchmarks.md"), "disk", sb.ToString());
            return 0;
        }

        private static double Median(List<double> x) => x.OrderBy(v => v).ElementAt(x.Count / 2);
    }
}
