using System.Net;
using System.Text;

namespace TursoBackup.Module.Tests;

/// <summary>A real HTTP listener on 127.0.0.1 that answers 200 and keeps every body posted to it (alert tests).</summary>
public sealed class WebhookListener : IDisposable
{
    private readonly HttpListener listener = new HttpListener();
    private readonly List<string> bodies = new List<string>();

    public WebhookListener()
    {
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        listener.Start();
        _ = Task.Run(() =>
        {
            while (true)
            {
                HttpListenerContext ctx;
                try { ctx = listener.GetContext(); } catch (Exception) { return; }
                using (var r = new StreamReader(ctx.Request.InputStream, Encoding.UTF8)) lock (bodies) bodies.Add(r.ReadToEnd());
                ctx.Response.StatusCode = 200;
                ctx.Response.Close();
            }
        });
    }

    public int Port { get; }

    /// <summary>A webhook URL on this listener, with a path that stands for the secret part of a real one.</summary>
    public string Url(string path = "services/T000/B000/secret-part-of-the-url") => $"http://127.0.0.1:{Port}/{path}";

    public List<string> Bodies
    {
        get { lock (bodies) return bodies.ToList(); }
    }

    public void Dispose()
    {
        try { listener.Stop(); listener.Close(); } catch (HttpListenerException) { } catch (ObjectDisposedException) { }
    }
}
