using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Text;
using System.Threading.Tasks;

namespace TursoBackup.TestSupport;

/// <summary>
/// A real HTTP server on 127.0.0.1 standing in for a Slack or Teams webhook: it records every request and answers the
/// n-th with the n-th of <c>answers</c> (the last one repeats; none given: 200 "ok"). The one fake webhook of both test
/// projects (the engine's alert sender and the alert cmdlets).
/// </summary>
public sealed class WebhookServer : IDisposable
{
    private readonly HttpListener listener;
    private readonly Func<HttpListenerContext, Task>[] answers;
    private readonly List<Request> requests = new List<Request>();
    private int count;

    public WebhookServer(params Func<HttpListenerContext, Task>[] answers)
    {
        this.answers = answers.Length > 0 ? answers : new[] { Answer(200) };
        Uri baseUri;
        (listener, baseUri) = Ports.StartHttpListener();
        BaseUrl = baseUri.GetLeftPart(UriPartial.Authority);
        Port = baseUri.Port;
        _ = Task.Run(Loop);
    }

    public int Port { get; }

    /// <summary>http://127.0.0.1:&lt;port&gt; (no trailing slash).</summary>
    public string BaseUrl { get; }

    /// <summary>A webhook URL on this server, with a path that stands for the secret part of a real one.</summary>
    public string Url(string path = "services/T000/B000/secret-part-of-the-url") => BaseUrl + "/" + path.TrimStart('/');

    /// <summary>The requests received so far, in order.</summary>
    public List<Request> Requests
    {
        get { lock (requests) return requests.ToList(); }
    }

    /// <summary>The bodies of the requests received so far, in order.</summary>
    public List<string> Bodies => Requests.Select(r => r.Body).ToList();

    /// <summary>An answer: <paramref name="status"/> with a text body (and a Retry-After header when given).</summary>
    public static Func<HttpListenerContext, Task> Answer(int status, string body = "ok", string retryAfter = null) => ctx =>
    {
        ctx.Response.StatusCode = status;
        if (retryAfter != null) ctx.Response.Headers["Retry-After"] = retryAfter;
        byte[] bytes = Encoding.UTF8.GetBytes(body);
        ctx.Response.ContentType = "text/plain";
        ctx.Response.OutputStream.Write(bytes, 0, bytes.Length);
        ctx.Response.Close();
        return Task.CompletedTask;
    };

    private async Task Loop()
    {
        while (listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await listener.GetContextAsync(); }
            catch { return; }
            _ = Task.Run(async () =>
            {
                string body;
                using (var reader = new StreamReader(ctx.Request.InputStream, Encoding.UTF8)) body = await reader.ReadToEndAsync();
                int n;
                lock (requests)
                {
                    requests.Add(new Request(ctx.Request.HttpMethod, ctx.Request.Url.AbsolutePath, ctx.Request.ContentType, body));
                    n = count++;
                }
                try { await answers[Math.Min(n, answers.Length - 1)](ctx); }
                catch { }
            });
        }
    }

    public void Dispose()
    {
        try { listener.Stop(); listener.Close(); } catch { }
    }

    public sealed record Request(string Method, string Path, string ContentType, string Body);
}
