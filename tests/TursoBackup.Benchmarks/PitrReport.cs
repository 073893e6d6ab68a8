using System.Globalization;
using System.Text;

namespace TursoBackup.Benchmarks
{
    /// <summary>The point-in-time section of docs/benchmarks.md; every sentence about the aims is derived from the figures.</summary>
    public sealed class PitrReport
    {
        private readonly PitrBench b;
        private readonly PitrOptions o;

        public PitrReport(PitrBench bench, PitrOptions options) { b = bench; o = options; }

        private static string Mib(long bytes) => (bytes / 1048576.0).ToString("N1", CultureInfo.InvariantCulture) + " MiB";
        private static string Ms(double ms) => double.IsNaN(ms) ? "—" : ms.ToString("N0", CultureInfo.InvariantCulture) + " ms";
        private static string S(double s) => double.IsNaN(s) ? "—" : s.ToString("F2", CultureInfo.InvariantCulture) + " s";
        private static string X(double r) => double.IsNaN(r) || double.IsInfinity(r) ? "—" : r.ToString("F2", CultureInfo.InvariantCulture) + "×";

        public string Tables()
        {
            var sb = new StringBuilder();
            var none = b.Flat.FirstOrDefault(r => r.Name == "none");
            sb.AppendLine($"**Flat-out writer**: {o.Transactions:N0} transactions on a {Mib(b.BigBytes)} database (one row appended, one random row updated, per transaction).").AppendLine();
            sb.AppendLine("| archiver | transactions/s | vs. no archiver | capture lag p50 | p90 | p99 | max | never archived | archive units | archive size |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in b.Flat)
            {
                bool archived = r.Name != "none";
                sb.AppendLine($"| {r.Name} | {r.TransactionsPerSecond:N0} | {(none == null ? "—" : (r.TransactionsPerSecond / none.TransactionsPerSecond).ToString("P0", CultureInfo.InvariantCulture))} | " +
                              (archived ? $"{Ms(r.Percentile(50))} | {Ms(r.Percentile(90))} | {Ms(r.Percentile(99))} | {Ms(r.Percentile(100))} | {r.NeverArchived:N0} | {r.Units:N0} | {Mib(r.ArchiveBytes)} |"
                                        : "— | — | — | — | — | — | — |"));
            }
            if (b.Steady.Count > 0)
            {
                sb.AppendLine().AppendLine($"**Steady writer**: {o.SteadyRate:N0} transactions/s for {o.SteadyMinutes:0.#} minutes on a {Mib(b.SteadyBytes)} database.").AppendLine();
                sb.AppendLine("| archiver | capture lag p50 | p99 | max | never archived | archive units | archive size |");
                sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
                foreach (var r in b.Steady)
                {
                    sb.AppendLine($"| {r.Name} | {Ms(r.Percentile(50))} | {Ms(r.Percentile(99))} | {Ms(r.Percentile(100))} | {r.NeverArchived:N0} | {r.Units:N0} | {Mib(r.ArchiveBytes)} |");
                }
            }
            if (b.Sweep.Count > 0)
            {
                sb.AppendLine().AppendLine($"**`-SyncInterval`**: TursoBackup alone, {o.SweepTransactions:N0} transactions flat out on the {Mib(b.SteadyBytes > 0 ? b.SteadyBytes : 0)} database per interval; idle cost measured on the same database with no writer for 20 s.").AppendLine();
                sb.AppendLine("| -SyncInterval | transactions/s | capture lag p50 | p99 | max | segments written | idle CPU per minute |");
                sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|");
                foreach (var (ms, r, idle) in b.Sweep)
                {
                    sb.AppendLine($"| {ms} ms | {r.TransactionsPerSecond:N0} | {Ms(r.Percentile(50))} | {Ms(r.Percentile(99))} | {Ms(r.Percentile(100))} | {r.Units:N0} | {idle:F2} s |");
                }
            }
            sb.AppendLine().AppendLine($"**Restores** (best of {o.Runs} after a warm-up run; each to a new file; `cp` of the restored file on the same disk for scale).").AppendLine();
            sb.AppendLine("| archive | restored to | best | median | vs. `cp` | vs. `cp` + fsync | Litestream ÷ ours | in a PowerShell session (module loaded) | restored size | transactions present / committed by then |");
            sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in b.Restores)
            {
                var peer = b.Restores.FirstOrDefault(x => x.Point == r.Point && x.Name != r.Name);
                string versus = r.Name == "TursoBackup" && peer != null ? (peer.Error != null ? "refused" : X(peer.Best / r.Best)) : "";
                if (r.Error != null)
                {
                    sb.AppendLine($"| {r.Name} | {r.Point} | failed: {r.Error.Replace("|", "\\|")} | | | | | | | |");
                    continue;
                }
                sb.AppendLine($"| {r.Name} | {r.Point} | {S(r.Best)} | {S(r.Median)} | {X(r.Best / r.Cp)} | {X(r.Best / r.CpSync)} | {versus} | {(r.EngineSeconds.Count > 0 ? $"{S(r.EngineBest)} ({X(r.EngineBest / r.Cp)} `cp`; Litestream ÷ this: {(peer == null || peer.Error != null ? "—" : X(peer.Best / r.EngineBest))})" : "")} | {Mib(r.Bytes)} | {r.RowsPresent:N0} / {r.RowsExpected:N0} |");
            }
            return sb.ToString();
        }

        public string Section()
        {
            var sb = new StringBuilder();
            sb.AppendLine("## Point-in-time recovery (Layer 2) against Litestream 0.3.13").AppendLine();
            sb.AppendLine("The same application workload runs on fresh copies of one database with no archiver, with TursoBackup's " +
                          $"`Start-TursoWalArchive` (in pwsh, `-SyncInterval {o.SyncIntervalMs} ms`) and with Litestream 0.3.13 " +
                          "(`litestream replicate` with a file replica and its defaults: WAL checked every second, replica synced every second). " +
                          "The writer is an ordinary application: WAL mode, `synchronous=NORMAL`, SQLite's default auto-checkpoint, a busy timeout; each transaction appends " +
                          "a row carrying its sequence number and updates a random row of the `orders` table, and the time its COMMIT returned is recorded.").AppendLine();
            sb.AppendLine("- **Capture lag** is measured for every transaction, the same way for both archives: start from the archive's snapshot, apply its units " +
                          "(our segments; Litestream's `wal/<index>_<offset>.wal.lz4` files) in order, and after each one read the highest sequence number the database holds. " +
                          "A transaction's lag is the capture time of the first unit that holds it (ours: the time stamped in the segment; Litestream: the file's " +
                          "modification time, which is what its own restore goes by) minus the time its COMMIT returned.");
            sb.AppendLine("- **Restores** run the admin's command: `Restore-TursoPointInTime` in a new pwsh process (`pwsh -NoProfile -NonInteractive -Command`, start-up of " +
                          "pwsh and the module included) and `litestream restore -timestamp … file://replica`; both write a new file. The point is given as the wall-clock " +
                          "time one second after the middle transaction's COMMIT returned in that run, so each archive is asked for the same moment of its own run.");
            sb.AppendLine("- **Archive size** is every file under the vault's folder or the replica's folder after the run.").AppendLine();
            sb.AppendLine("### Machine and run").AppendLine();
            sb.AppendLine($"- {Environment.ProcessorCount} logical processors, {Tools.Output("uname", "-sr")}, .NET {Environment.Version}");
            sb.AppendLine($"- Litestream: {Tools.Output(Path.Combine(Report.RepoRoot(), "tools", "peers", "node_modules", "@flydotio", "litestream-linux-x64", "litestream"), "version")} (npm `@flydotio/litestream-linux-x64` 1.0.1, pinned in `tools/peers`)");
            sb.AppendLine($"- Run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {b.Elapsed.TotalMinutes:F1} minutes in all; 1-minute load average {b.LoadAtStart:F2} when it started");
            sb.AppendLine().AppendLine("### Reproduce").AppendLine();
            sb.AppendLine("After `dotnet build TursoBackup.sln -c Release` and `(cd tools/peers && npm ci)`:").AppendLine();
            sb.AppendLine("```sh").AppendLine(o.ReproduceCommand()).AppendLine("```").AppendLine();
            sb.AppendLine("### Results").AppendLine();
            sb.Append(Tables()).AppendLine();
            sb.AppendLine("### Against the aims").AppendLine();
            foreach (var line in Aims()) sb.AppendLine("- " + line);
            return sb.ToString();
        }

        private IEnumerable<string> Aims()
        {
            var none = b.Flat.FirstOrDefault(r => r.Name == "none");
            var ours = b.Flat.FirstOrDefault(r => r.Name == "TursoBackup");
            var ls = b.Flat.FirstOrDefault(r => r.Name == "Litestream");
            if (none != null && ours != null)
            {
                double overhead = 1 - ours.TransactionsPerSecond / none.TransactionsPerSecond;
                double lsOverhead = ls == null ? double.NaN : 1 - ls.TransactionsPerSecond / none.TransactionsPerSecond;
                yield return $"Writer overhead at most 15 %: ours {overhead:P0} — {(overhead <= 0.15 ? "met" : "**missed**")}; Litestream's {lsOverhead:P0} in the same run.";
                double p99 = ours.Percentile(99);
                yield return $"Capture lag p99 at most 250 ms under the flat-out writer: ours {Ms(p99)} — {(p99 <= 250 ? "met" : "**missed**")}" +
                             (ls != null ? $"; Litestream's {Ms(ls.Percentile(99))}." : ".");
            }
            foreach (var r in b.Restores.Where(x => x.Name == "TursoBackup" && x.Error == null))
            {
                double vsCp = r.Best / r.Cp;
                var peer = b.Restores.FirstOrDefault(x => x.Point == r.Point && x.Name == "Litestream");
                double inSession = r.EngineBest;
                string peerText = peer == null ? "" : peer.Error != null ? $"; Litestream refused this point ({peer.Error})"
                    : $"; against `litestream restore` {X(peer.Best / inSession)} as fast in a session (aim 2×: {(peer.Best / inSession >= 2 ? "met" : "**missed**")}), " +
                      $"{X(peer.Best / r.Best)} from a cold pwsh" + (peer.RowsPresent < peer.RowsExpected ? $" (Litestream's restore held {peer.RowsPresent:N0} of {peer.RowsExpected:N0} transactions, ours {r.RowsPresent:N0})" : "");
                yield return $"Restore to the {r.Point} within 1.5× a `cp` of the restored file: {X(inSession / r.Cp)} in a PowerShell session with the module loaded, " +
                             $"{X(vsCp)} including pwsh's start-up ({X(inSession / r.CpSync)} of `cp` + fsync) — {(inSession / r.Cp <= 1.5 ? "met" : "**missed**")}{peerText}.";
            }
        }
    }
}
