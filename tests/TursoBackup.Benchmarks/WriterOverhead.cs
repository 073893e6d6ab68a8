using System.Diagnostics;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Wal;

namespace TursoBackup.Benchmarks
{
    /// <summary>
    /// What costs a flat-out writer its rate beside the archiver, in one process (`--writer-overhead [--size 1024]
    /// [--transactions 20000]`): the writer alone; beside a reader that holds a read transaction and takes a new one every
    /// second (what any WAL archiver does); beside WalArchiver syncing every 100 ms with its checkpoints; and beside
    /// WalArchiver with checkpoints every 10 s; without checkpoints; syncing every second.
    /// </summary>
    public static class WriterOverhead
    {
        public static int Start(string[] args)
        {
            int size = 1024, count = 20000;
            for (int i = 1; i < args.Length; i++)
            {
                if (args[i] == "--size") size = int.Parse(args[++i]);
                else if (args[i] == "--transactions") count = int.Parse(args[++i]);
            }
            string dir = Path.Combine(Path.GetTempPath(), "tursobackup-bench");
            string work = Path.Combine(dir, "writer-overhead");
            if (Directory.Exists(work)) Directory.Delete(work, true);
            Directory.CreateDirectory(work);
            string baseDb = Path.Combine(work, "base.db");
            File.Copy(Workload.Ensure(dir, size, false), baseDb);
            PitrWriter.Prepare(baseDb);
            long first = 1;
            foreach (var variant in new[] { "alone", "held reader", "archiver", "archiver, checkpoints 10 s apart", "archiver, no checkpoints", "archiver, syncs 1 s apart", "alone" })
            {
                string db = Path.Combine(work, "app.db");
                foreach (var f in new[] { db, db + "-wal", db + "-shm" }) if (File.Exists(f)) File.Delete(f);
                File.Copy(baseDb, db);
                Tools.Bash("cat \"$1\" > /dev/null", db);
                Tools.SyncAll();
                using var stop = new CancellationTokenSource();
                Task side = variant switch
                {
                    "held reader" => Task.Run(() =>
                    {
                        using var c = SqliteFile.OpenReadWrite(db);
                        while (!stop.IsCancellationRequested)
                        {
                            using (SqliteFile.BeginReadSnapshot(c)) stop.Token.WaitHandle.WaitOne(1000);
                        }
                    }),
                    _ when variant.StartsWith("archiver", StringComparison.Ordinal) => Task.Run(() =>
                    {
                        using var a = new WalArchiver(db, Path.Combine(work, "vault-" + first), "app");
                        if (variant.Contains("10 s")) a.CheckpointInterval = TimeSpan.FromSeconds(10);
                        if (variant.Contains("no checkpoints")) a.CheckpointFrames = long.MaxValue;
                        int interval = variant.Contains("syncs 1 s") ? 1000 : 100;
                        while (!stop.IsCancellationRequested) { a.Sync(); stop.Token.WaitHandle.WaitOne(interval); }
                        a.Seal();
                    }),
                    _ => Task.CompletedTask,
                };
                Thread.Sleep(500);
                var w = Stopwatch.StartNew();
                PitrWriter.Run(db, first, count, 0);
                double seconds = w.Elapsed.TotalSeconds;
                stop.Cancel();
                side.Wait();
                first += count;
                Console.WriteLine($"{variant,-34} {count / seconds,8:N0} transactions/s");
            }
            Directory.Delete(work, true);
            return 0;
        }
    }
}
