using System;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace TursoBackup.TestSupport;

/// <summary>
/// The real azurite (the Azure Storage emulator, tools/peers: azurite 3.37.0), its blob service started on 127.0.0.1 on
/// a free port in a temp folder, for one test class (an xunit class fixture), and stopped after it. Without
/// --skipApiVersionCheck: the store pins a service version azurite accepts, and these tests prove it still does.
/// </summary>
public sealed class AzuriteFixture : IDisposable
{
    /// <summary>The emulator's well-known account and key (public; azurite's default).</summary>
    public const string Account = "devstoreaccount1";

    public const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly TempDir folder = new TempDir("azurite");
    private readonly Process process;
    private readonly string missing;

    public AzuriteFixture()
    {
        string program = Path.Combine(Repo.Root, "tools", "peers", "node_modules", ".bin", "azurite-blob");
        if (!File.Exists(program) || Peers.Find("node") == null)
        {
            missing = "The peer program 'azurite-blob' (or node) is not installed. .ci/run installs it (npm ci --prefix tools/peers).";
            return;
        }
        string lastError = "";
        for (int attempt = 0; attempt < 5; attempt++)
        {
            int port = Ports.Free();
            var p = Peers.Start(program, "--blobHost", "127.0.0.1", "--blobPort", port.ToString(), "--location", folder.Path,
                "--silent", "--loose", "--disableTelemetry");
            var stderr = new System.Text.StringBuilder();
            p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.AppendLine(e.Data); };
            p.BeginErrorReadLine();
            p.OutputDataReceived += (_, _) => { };
            p.BeginOutputReadLine();
            var until = DateTime.UtcNow.AddSeconds(30);
            while (DateTime.UtcNow < until && !p.HasExited && !Ports.Accepts(port)) Thread.Sleep(50);
            if (!p.HasExited && Ports.Accepts(port))
            {
                process = p;
                Port = port;
                BlobEndpoint = $"http://127.0.0.1:{port}/{Account}";
                return;
            }
            Peers.Kill(p);
            lock (stderr) lastError = stderr.ToString();
        }
        throw new InvalidOperationException("azurite did not start: " + lastError);
    }

    public int Port { get; }

    /// <summary>http://127.0.0.1:&lt;port&gt;/devstoreaccount1 (path style, as azurite serves it).</summary>
    public string BlobEndpoint { get; }

    public string ConnectionString => $"DefaultEndpointsProtocol=http;AccountName={Account};AccountKey={Key};BlobEndpoint={BlobEndpoint};";

    /// <summary>Skips the test when azurite is not installed (fails it under CI=true).</summary>
    public void Require()
    {
        if (missing != null) Peers.Unavailable(missing);
    }

    public void Dispose()
    {
        if (process != null) Peers.Kill(process);
        process?.Dispose();
        folder.Dispose();
    }
}
