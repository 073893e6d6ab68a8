using System.Diagnostics;
using System.Globalization;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using TursoBackup.Engine.Dump;
using TursoBackup.Engine.Remote;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Benchmarks
{
    /// <summary>
    /// Remote dumps (issue 5): rows per second of TursoBackup's SQL dump of a database served by a real libSQL server
    /// (tursodb --sync-server on 127.0.0.1), against a Node script sending the same pipeline requests (fetch + JSON) and
    /// reading the same tables page by page from the same server (the official @libsql/client cannot talk to tursodb 0.7.0), and — reading the file directly, not over the network — tursodb's and
    /// sqlite3's own .dump of the same database. One run, same database, best of --runs after a warm-up.
    ///   dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --remote [--size 256] [--runs 3] [--write-doc]
    /// </summary>
    public sealed class RemoteBench
    {
        private int sizeMiB = 256, runs = 3;
        private bool writeDoc;
        private string docPath, dir = Path.Combine(Path.GetTempPath(), "tursobackup-bench");
        private readonly string root = Report.RepoRoot();
        private readonly List<(string Name, string What, List<double> Seconds, long Rows)> results = new List<(string, string, List<double>, long)>();
        private long totalRows;
        private long bytes;

        public static int Start(string[] args)
        {
            var b = new RemoteBench();
            for (int i = 1; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "--size": b.sizeMiB = int.Parse(args[++i]); break;
                    case "--runs": b.runs = int.Parse(args[++i]); break;
                    case "--dir": b.dir = Path.GetFullPath(args[++i]); break;
                    case "--write-doc": b.writeDoc = true; break;
                    case "--doc": b.docPath = Path.GetFullPath(args[++i]); b.writeDoc = true; break;
                    default: Console.Error.WriteLine("usage: --remote [--size 256] [--runs 3] [--dir PATH] [--write-doc] [--doc PATH]"); return 2;
                }
            }
            return b.Run();
        }

        private string Peer(string relative) => Path.Combine(root, "tools", "peers", "node_modules", relative);

        private int Run()
        {
            var watch = Stopwatch.StartNew();
            string tursodb = Peer("@tursodatabase/cli-linux-x64-gnu/tursodb");
            if (!File.Exists(tursodb))
            {
                throw new FileNotFoundException("tursodb is missing: run `cd tools/peers && npm ci`.");
            }
            Directory.CreateDirectory(dir);
            string work = Path.Combine(dir, "remote");
            if (Directory.Exists(work)) Directory.Delete(work, true);
            Directory.CreateDirectory(work);
            string source = Workload.Ensure(dir, sizeMiB, false);
            string served = Path.Combine(work, "served.db"), local = Path.Combine(work, "local.db");
            File.Copy(source, served);
            File.Copy(source, local);
            bytes = new FileInfo(served).Length;
            using (var c = SqliteFile.OpenImmutable(local))
            {
                var tableNames = new List<string>();
                using (var cmd = c.CreateCommand())
                {
                    cmd.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'";
                    using var r = cmd.ExecuteReader();
                    while (r.Read()) tableNames.Add(r.GetString(0));
                }
                foreach (var t in tableNames) totalRows += Convert.ToInt64(SqliteFile.Scalar(c, $"SELECT count(*) FROM {SqliteFile.QuoteIdentifier(t)}"));
            }
            Console.Error.WriteLine($"[remote] {bytes / 1048576.0:F1} MiB, {totalRows:N0} rows; starting tursodb --sync-server");
            int port = FreePort();
            var server = Process.Start(new ProcessStartInfo(tursodb)
            {
                ArgumentList = { "--sync-server", "127.0.0.1:" + port, served },
                RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            });
            server.OutputDataReceived += (_, _) => { };
            server.ErrorDataReceived += (_, _) => { };
            server.BeginOutputReadLine();
            server.BeginErrorReadLine();
            string url = "http://127.0.0.1:" + port;
            try
            {
                WaitUntilServing(url);
                string outFile = Path.Combine(work, "ours.sql");
                Measure("TursoBackup", "`DumpFiles.ExportRemote` (what `Export-TursoDatabase -Url` runs): SQL text to a file, fsynced", () =>
                {
                    if (File.Exists(outFile)) File.Delete(outFile);
                    var sw = Stopwatch.StartNew();
                    var stats = DumpFiles.ExportRemote(url, null, outFile, false, null, CancellationToken.None, out _);
                    return (sw.Elapsed.TotalSeconds, stats.Rows);
                });
                Measure("TursoBackup, reading only", "`RemoteDumpWriter` to `TextWriter.Null`: the protocol and the SQL formatting, no file", () =>
                {
                    var sw = Stopwatch.StartNew();
                    using var client = new HranaClient(url);
                    var stats = new RemoteDumpWriter().Write(client, TextWriter.Null);
                    return (sw.Elapsed.TotalSeconds, stats.Rows);
                });
                string script = Path.Combine(root, "tests", "TursoBackup.Benchmarks", "node", "read-all.mjs");
                Measure("Node (fetch)", "`node read-all.mjs`: the same pipeline requests from Node (fetch + JSON), every table page by page (5,000 rows, rowid order), rows read, nothing written; timed inside Node (start-up excluded)", () =>
                {
                    var s = Tools.Run("/usr/bin/env", "node", script, url, "5000");
                    var parts = s.Output.Trim().Split(' ');
                    return (double.Parse(parts[3], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
                });
                server.Kill(true);
                server.WaitForExit();
                string tdump = Path.Combine(work, "tursodb.sql"), sdump = Path.Combine(work, "sqlite3.sql");
                Measure("tursodb .dump (local file)", "`tursodb -q db .dump > file`: reads the file directly, no network", () =>
                {
                    var s = Tools.Bash("\"$1\" -q \"$2\" .dump > \"$3\"", tursodb, local, tdump);
                    return (s.Seconds, totalRows);
                });
                Measure("sqlite3 .dump (local file)", "`sqlite3 db .dump > file`: reads the file directly, no network", () =>
                {
                    var s = Tools.Bash("sqlite3 \"$1\" .dump > \"$2\"", local, sdump);
                    return (s.Seconds, totalRows);
                });
            }
            finally
            {
                if (!server.HasExited) server.Kill(true);
            }
            string tables = Tables();
            Console.WriteLine(tables);
            if (writeDoc)
            {
                var sb = new StringBuilder();
                sb.AppendLine("## Remote dumps over the libSQL protocol (Turso Cloud / libSQL servers)").AppendLine();
                sb.AppendLine("TursoBackup reads a remote database over the libSQL remote protocol (Hrana over HTTP, `/v2/pipeline`), table by table in " +
                              "rowid order, 5,000 rows a request at most, and writes SQL text that `sqlite3` and `Import-TursoDatabase` load. The server is a real " +
                              "libSQL server on 127.0.0.1: `tursodb --sync-server` (npm `@tursodatabase/cli-linux-x64-gnu` 0.7.0), serving a copy of the " +
                              $"benchmark database ({bytes / 1048576.0:F1} MiB, {totalRows:N0} rows in the four workload tables). The peer over the same protocol is the " +
                              "Node script `tests/TursoBackup.Benchmarks/node/read-all.mjs`, which sends the same pipeline requests with Node's fetch and reads the same tables the same way " +
                              "(the official `@libsql/client` 0.18.0 cannot talk to `tursodb` 0.7.0: each of its requests ends with a `close`, which tursodb rejects with HTTP 500, " +
                              "\"unknown variant `close`\"). For scale, `tursodb`'s and `sqlite3`'s own " +
                              "`.dump` of the same database read the file directly (no network, no protocol). Best of " + runs + " runs after a warm-up; " +
                              $"run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {watch.Elapsed.TotalMinutes:F1} minutes, {Environment.ProcessorCount} logical processors.").AppendLine();
                sb.AppendLine("```sh").AppendLine($"dotnet run -c Release --project tests/TursoBackup.Benchmarks -- --remote{(sizeMiB != 256 ? " --size " + sizeMiB : "")}{(runs != 3 ? " --runs " + runs : "")} --write-doc").AppendLine("```").AppendLine();
                sb.Append(tables);
                DocSections.Replace(docPath ?? Path.Combine(root, "docs", "benchmarks.md"), "remote", sb.ToString());
            }
            Directory.Delete(work, true);
            return 0;
        }

        private string Tables()
        {
            var sb = new StringBuilder();
            var ours = results.First();
            var node = results.FirstOrDefault(r => r.Name.StartsWith("Node", StringComparison.Ordinal));
            sb.AppendLine("| reader | what it does | best | median | rows/s | vs. the Node reader |");
            sb.AppendLine("|---|---|---:|---:|---:|---:|");
            foreach (var r in results)
            {
                double best = r.Seconds.Min();
                double median = r.Seconds.OrderBy(x => x).ElementAt(r.Seconds.Count / 2);
                double nodeBest = node.Seconds?.Min() ?? double.NaN;
                sb.AppendLine($"| {r.Name} | {r.What} | {best:F2} s | {median:F2} s | {r.Rows / best:N0} | {(nodeBest / best):F2}× |");
            }
            sb.AppendLine();
            if (node.Seconds != null)
            {
                double ratio = node.Seconds.Min() / ours.Seconds.Min();
                sb.AppendLine($"TursoBackup's remote dump, to an fsynced file, runs at {ratio:F2}× the rows per second of the Node reader merely reading the same rows over the same protocol.");
            }
            return sb.ToString();
        }

        private void Measure(string name, string what, Func<(double Seconds, long Rows)> run)
        {
            Console.Error.WriteLine($"[remote] {name}");
            run(); // warm-up
            var seconds = new List<double>();
            long rows = 0;
            for (int i = 0; i < runs; i++)
            {
                Tools.SyncAll();
                var (s, n) = run();
                seconds.Add(s);
                rows = n;
                Console.Error.WriteLine($"  {s:F2} s, {n / s:N0} rows/s");
            }
            results.Add((name, what, seconds, rows));
        }

        private static void WaitUntilServing(string url)
        {
            using var http = new HttpClient();
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < TimeSpan.FromSeconds(30))
            {
                try
                {
                    var body = new StringContent("{\"requests\":[{\"type\":\"execute\",\"stmt\":{\"sql\":\"SELECT 1\"}}]}", Encoding.UTF8, "application/json");
                    if (http.PostAsync(url + "/v2/pipeline", body).Result.IsSuccessStatusCode) return;
                }
                catch (AggregateException) { }
                Thread.Sleep(100);
            }
            throw new TimeoutException("tursodb did not answer at " + url);
        }

        private static int FreePort()
        {
            var l = new TcpListener(System.Net.IPAddress.Loopback, 0);
            l.Start();
            int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }
    }
}
