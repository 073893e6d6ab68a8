using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using TursoBackup.TestSupport;

namespace TursoBackup.Tests.Remote;

/// <summary>
/// A real libSQL server for tests: tursodb (npm @tursodatabase/cli-linux-x64-gnu, pinned in tools/peers) started with
/// <c>--sync-server 127.0.0.1:&lt;free port&gt; &lt;db&gt;</c> on a database file in its own temp folder, killed on Dispose.
/// Depends on the BCL, Xunit.SkippableFact and tests/Shared (no engine types), so other test projects can link this file.
/// The binary: $TURSODB if set, else tools/peers/node_modules/@tursodatabase/cli-linux-x64-gnu/tursodb under the
/// repository root (the folder holding TursoBackup.sln). Missing, tests are skipped — or fail when CI=true.
/// </summary>
public sealed class TursodbServer : IDisposable
{
    private const string RelativeBinary = "tools/peers/node_modules/@tursodatabase/cli-linux-x64-gnu/tursodb";
    private readonly Process process;
    private readonly StringBuilder log = new StringBuilder();
    private bool killed;

    private TursodbServer(string folder, string databasePath, int port, Process process)
    {
        Folder = folder;
        DatabasePath = databasePath;
        Port = port;
        this.process = process;
    }

    /// <summary>The temp folder holding the database (deleted on Dispose).</summary>
    public string Folder { get; }

    public string DatabasePath { get; }

    public int Port { get; }

    /// <summary>http://127.0.0.1:&lt;port&gt;</summary>
    public string Url => "http://127.0.0.1:" + Port;

    public bool HasExited => process.HasExited;

    /// <summary>What the server wrote to stdout and stderr so far.</summary>
    public string Log
    {
        get
        {
            lock (log) return log.ToString();
        }
    }

    /// <summary>The tursodb binary, or null when it is not installed.</summary>
    public static string BinaryPath { get; } = FindBinary();

    private static string FindBinary()
    {
        string env = Environment.GetEnvironmentVariable("TURSODB");
        if (!string.IsNullOrEmpty(env) && File.Exists(env)) return env;
        string path = Path.Combine(Repo.Root, RelativeBinary);
        return File.Exists(path) ? path : null;
    }

    /// <summary>Skips the calling test when tursodb is missing; under CI (CI=true) a missing peer fails it.</summary>
    public static void Require()
    {
        bool missing = BinaryPath == null;
        if (missing && Peers.InCi)
        {
            throw new InvalidOperationException(
                $"tursodb is not installed (expected {RelativeBinary} under the repository root, or $TURSODB); CI must run the libSQL server tests. Run 'npm ci' in tools/peers.");
        }
        Skip.If(missing, $"tursodb is not installed ({RelativeBinary}; run 'npm ci' in tools/peers); libSQL server tests skipped.");
    }

    /// <summary>
    /// Starts a server. <paramref name="seedDatabase"/> (with its -wal, if any) is copied into a new temp folder;
    /// without one the server creates an empty database. <paramref name="extraArgs"/> go before the database path
    /// (e.g. --experimental-without-rowid).
    /// </summary>
    public static TursodbServer Start(string seedDatabase = null, IEnumerable<string> extraArgs = null, TimeSpan? startTimeout = null)
    {
        Require();
        string folder = Path.Combine(Path.GetTempPath(), "tb-tursodb-" + Guid.NewGuid().ToString("N").Substring(0, 10));
        Directory.CreateDirectory(folder);
        string db = Path.Combine(folder, "server.db");
        if (seedDatabase != null)
        {
            File.Copy(seedDatabase, db);
            if (File.Exists(seedDatabase + "-wal")) File.Copy(seedDatabase + "-wal", db + "-wal");
        }

        Exception last = null;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            int port = Ports.Free();
            var psi = new ProcessStartInfo(BinaryPath)
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = folder,
            };
            psi.ArgumentList.Add("--sync-server");
            psi.ArgumentList.Add("127.0.0.1:" + port);
            if (extraArgs != null) foreach (var a in extraArgs) psi.ArgumentList.Add(a);
            psi.ArgumentList.Add(db);
            var p = new Process { StartInfo = psi };
            var server = new TursodbServer(folder, db, port, p);
            p.OutputDataReceived += (_, e) => server.Append(e.Data);
            p.ErrorDataReceived += (_, e) => server.Append(e.Data);
            p.Start();
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            try
            {
                server.WaitUntilReady(startTimeout ?? TimeSpan.FromSeconds(30));
                return server;
            }
            catch (Exception ex)
            {
                last = ex;
                server.Kill();
            }
        }
        try { Directory.Delete(folder, true); } catch (IOException) { }
        throw new InvalidOperationException("tursodb --sync-server did not start: " + last?.Message, last);
    }

    private void Append(string line)
    {
        if (line == null) return;
        lock (log)
        {
            if (log.Length < 1_000_000) log.AppendLine(line);
        }
    }

    /// <summary>Polls with a Hrana "SELECT 1" until the server answers 200.</summary>
    private void WaitUntilReady(TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        const string body = "{\"baton\":null,\"requests\":[{\"type\":\"execute\",\"stmt\":{\"sql\":\"SELECT 1\"}}]}";
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"tursodb exited with code {process.ExitCode} before it answered. Output:\n{Log}");
            }
            try
            {
                using var content = new StringContent(body, Encoding.UTF8, "application/json");
                using var response = http.PostAsync(Url + "/v2/pipeline", content).GetAwaiter().GetResult();
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException)
            {
                // slow start
            }
            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"tursodb did not answer on {Url} within {timeout.TotalSeconds:0} s. Output:\n{Log}");
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>Kills the server at once (for tests of a server that dies mid-operation). Safe to call twice.</summary>
    public void Kill()
    {
        if (killed) return;
        killed = true;
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    public void Dispose()
    {
        Kill();
        process.Dispose();
        for (int i = 0; i < 5; i++)
        {
            try
            {
                if (Directory.Exists(Folder)) Directory.Delete(Folder, true);
                return;
            }
            catch (IOException)
            {
                Thread.Sleep(100);
            }
            catch (UnauthorizedAccessException)
            {
                Thread.Sleep(100);
            }
        }
    }
}
