using System;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace TursoBackup.TestSupport;

/// <summary>
/// The real s3rver 3.7.1 (tools/peers, pinned) on 127.0.0.1, a free port and a temp folder, for one test class
/// (<c>IClassFixture&lt;S3rverFixture&gt;</c>); stopped and its folder removed after. s3rver's one account has the access
/// key id and secret <see cref="AccessKey"/>/<see cref="SecretKey"/>. A missing s3rver skips the tests (fails them under
/// CI=true) when a test calls <see cref="Require"/>, not in the fixture (xunit would report a fixture error, not a skip).
/// </summary>
public sealed class S3rverFixture : IDisposable
{
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private readonly Process process;
    private readonly TempDir folder;
    private readonly string missing;

    public S3rverFixture()
    {
        string program = Path.Combine(Repo.Root, "tools", "peers", "node_modules", ".bin", "s3rver");
        if (!File.Exists(program))
        {
            missing = "The peer program 's3rver' is not installed. .ci/run installs it (npm ci --prefix tools/peers).";
            return;
        }
        folder = new TempDir("s3rver");
        DataDirectory = folder.Path;
        for (int attempt = 0; ; attempt++)
        {
            int port = Ports.Free();
            // s3rver 3.7.1 makes its ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node 17+) keeps in its
            // legacy provider: without it every listing past the first 1000 keys is an InternalError.
            var env = new System.Collections.Generic.Dictionary<string, string> { ["NODE_OPTIONS"] = "--openssl-legacy-provider" };
            var p = Peers.Start(program, new[] { "--address", "127.0.0.1", "--port", port.ToString(), "--directory", folder.Path, "--silent" }, env);
            // Drain its output so a chatty server never blocks on a full pipe.
            p.OutputDataReceived += (_, _) => { };
            p.BeginOutputReadLine();
            string error = "";
            p.ErrorDataReceived += (_, e) => { if (e.Data != null) error += e.Data + "\n"; };
            p.BeginErrorReadLine();
            if (WaitForPort(p, port, TimeSpan.FromSeconds(30)))
            {
                process = p;
                Port = port;
                Endpoint = $"http://127.0.0.1:{port}";
                return;
            }
            Peers.Kill(p);
            p.Dispose();
            // Another test's server may have taken the port between the probe and the start: try another.
            if (attempt >= 5) throw new InvalidOperationException("s3rver did not start: " + error);
        }
    }

    /// <summary>The service URL (http://127.0.0.1:port), for OffsiteOptions.Endpoint / AmazonS3Config.ServiceURL.</summary>
    public string Endpoint { get; }

    public int Port { get; }

    /// <summary>s3rver's data folder: &lt;bucket&gt;/… holds the objects, &lt;bucket&gt;/._S3rver_uploads/&lt;id&gt; the unfinished multipart uploads.</summary>
    public string DataDirectory { get; }

    /// <summary>Skips the test (fails it under CI=true) when s3rver is not installed.</summary>
    public void Require()
    {
        if (missing != null) Peers.Unavailable(missing);
    }

    private static bool WaitForPort(Process p, int port, TimeSpan within)
    {
        var until = DateTime.UtcNow + within;
        while (DateTime.UtcNow < until)
        {
            if (p.HasExited) return false;
            if (Ports.Accepts(port))
            {
                // Something answered; make sure it is this s3rver (not another program that took the port first).
                Thread.Sleep(200);
                return !p.HasExited;
            }
            Thread.Sleep(100);
        }
        return false;
    }

    public void Dispose()
    {
        if (process != null)
        {
            Peers.Kill(process);
            process.Dispose();
        }
        folder?.Dispose();
    }
}
