// A runnable stand-in for the Turso Platform API (NOT Turso): PlatformApiStandIn on a free loopback port, every database
// of which is served by ONE local tursodb --sync-server (a real libSQL/Hrana server) holding a copy of --seed.
//
//   dotnet TursoBackup.StandIn.dll --seed main.db --tursodb <path> [--org acme] [--token T]
//
// stdout, one line each:  READY <api base uri> <libSQL server url>   (after start and after each "reset")
// stdin commands:         reset       a fresh API state (new port, the same databases as at start, nothing issued)
//                         violations  one line: JSON array of departures from the OpenAPI document since the last reset
//                         quit / EOF  stop the API and the tursodb server, remove the server's folder
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using TursoBackup.Tests.Cloud;

internal static class Program
{
    private static int Main(string[] args)
    {
        var opt = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["org"] = "acme", ["token"] = "standin-api-token" };
        for (int i = 0; i + 1 < args.Length; i += 2) opt[args[i].TrimStart('-')] = args[i + 1];
        if (!opt.ContainsKey("seed") || !opt.ContainsKey("tursodb"))
        {
            Console.Error.WriteLine("usage: TursoBackup.StandIn --seed <database> --tursodb <tursodb binary> [--org acme] [--token T]");
            return 2;
        }

        string folder = Path.Combine(Path.GetTempPath(), "tb-standin-" + Guid.NewGuid().ToString("N").Substring(0, 10));
        Directory.CreateDirectory(folder);
        Process server = null;
        PlatformApiStandIn api = null;
        try
        {
            string db = Path.Combine(folder, "server.db");
            File.Copy(opt["seed"], db);
            if (File.Exists(opt["seed"] + "-wal")) File.Copy(opt["seed"] + "-wal", db + "-wal");
            int port;
            (server, port) = StartTursodb(opt["tursodb"], db, folder);
            string hostname = "127.0.0.1:" + port;

            PlatformApiStandIn NewApi()
            {
                var a = new PlatformApiStandIn(opt["org"]) { ApiToken = opt["token"] };
                // A database waiting for an upload (seed database_upload) takes it on the stand-in's own upload endpoints;
                // every other database is served by the local libSQL server.
                a.HostnameFor = n => a.Database(n)?.SeedType == "database_upload" ? a.UploadHostname : hostname;
                a.AddGroup("europe", "aws-eu-west-1");
                DateTimeOffset created = DateTimeOffset.UtcNow.AddDays(-7);
                a.AddDatabase("main", "default", created);
                a.AddDatabase("shop-eu", "europe", created);
                a.AddDatabase("shop-us", "default", created);
                return a;
            }

            api = NewApi();
            Console.Out.WriteLine($"READY {api.BaseUri} http://{hostname}");
            Console.Out.Flush();
            string line;
            while ((line = Console.In.ReadLine()) != null)
            {
                switch (line.Trim())
                {
                    case "reset":
                        api.Dispose();
                        api = NewApi();
                        Console.Out.WriteLine($"READY {api.BaseUri} http://{hostname}");
                        break;
                    case "violations":
                        Console.Out.WriteLine(JsonSerializer.Serialize(api.Violations));
                        break;
                    case "quit":
                        return 0;
                    default:
                        Console.Out.WriteLine("ERROR unknown command: " + line);
                        break;
                }
                Console.Out.Flush();
            }
            return 0;
        }
        finally
        {
            api?.Dispose();
            if (server != null && !server.HasExited) { server.Kill(true); server.WaitForExit(10_000); }
            try { Directory.Delete(folder, true); } catch (IOException) { }
        }
    }

    private static (Process, int) StartTursodb(string binary, string db, string folder)
    {
        for (int attempt = 0; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var psi = new ProcessStartInfo(binary)
            {
                UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
                WorkingDirectory = folder,
            };
            psi.ArgumentList.Add("--sync-server");
            psi.ArgumentList.Add("127.0.0.1:" + port);
            psi.ArgumentList.Add(db);
            var p = Process.Start(psi);
            var log = new StringBuilder();
            p.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            p.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < TimeSpan.FromSeconds(30) && !p.HasExited)
            {
                try
                {
                    using var body = new StringContent("{\"baton\":null,\"requests\":[{\"type\":\"execute\",\"stmt\":{\"sql\":\"SELECT 1\"}}]}", Encoding.UTF8, "application/json");
                    using var answer = http.PostAsync($"http://127.0.0.1:{port}/v2/pipeline", body).GetAwaiter().GetResult();
                    if (answer.IsSuccessStatusCode) return (p, port);
                }
                catch (HttpRequestException) { }
                catch (System.Threading.Tasks.TaskCanceledException) { }
                Thread.Sleep(50);
            }
            if (!p.HasExited) p.Kill(true);
            if (attempt >= 2) throw new InvalidOperationException("tursodb --sync-server did not start: " + log);
        }
    }
}
