using System.Diagnostics;
using TursoBackup.Engine.Backup;

namespace TursoBackup.Benchmarks
{
    /// <summary>
    /// Where a small database's backup time goes, in process (no pwsh): N small databases backed up one after the other,
    /// the per-database time, and each narrated step's time for the last one (`--many-trace [--count 200]`).
    /// </summary>
    public static class ManyTrace
    {
        public static int Start(string[] args)
        {
            int count = 200;
            for (int i = 1; i < args.Length; i++) if (args[i] == "--count") count = int.Parse(args[++i]);
            string dir = Path.Combine(Path.GetTempPath(), "tursobackup-bench", "many-trace");
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
            Directory.CreateDirectory(dir);
            string template = Path.Combine(dir, "template.db");
            // About the many-databases benchmark's size (~145 KiB): WAL mode, two tables, an index.
            Tools.Run(Tools.Sqlite3, template, "PRAGMA journal_mode=WAL; CREATE TABLE c(id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE o(id INTEGER PRIMARY KEY, c INTEGER, note TEXT); CREATE INDEX o_c ON o(c); " +
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) INSERT INTO c SELECT i, 'customer ' || i FROM n; " +
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO o SELECT i, i % 300, hex(randomblob(20)) FROM n;");
            var sources = Enumerable.Range(0, count).Select(i => Path.Combine(dir, $"db{i:D4}.db")).ToList();
            foreach (var s in sources) File.Copy(template, s);
            string vault = Path.Combine(dir, "vault");
            new SnapshotBackup().Run(new BackupRequest { SourcePath = template, VaultPath = vault }); // warm-up (JIT)
            var w = Stopwatch.StartNew();
            foreach (var s in sources.Take(count - 1)) new SnapshotBackup().Run(new BackupRequest { SourcePath = s, VaultPath = vault });
            double per = w.Elapsed.TotalMilliseconds / (count - 1);
            var step = Stopwatch.StartNew();
            new SnapshotBackup { Log = m => Console.WriteLine($"  {step.Elapsed.TotalMilliseconds,7:F2} ms  {m}") }.Run(new BackupRequest { SourcePath = sources[count - 1], VaultPath = vault });
            Console.WriteLine($"  {step.Elapsed.TotalMilliseconds,7:F2} ms  (returned)");
            Console.WriteLine($"{count - 1} backups one after the other: {per:F2} ms per database");
            Directory.Delete(dir, true);
            return 0;
        }
    }
}
