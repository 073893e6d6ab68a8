using System.Net;
using System.Net.Http;
using System.Text;
using TursoBackup.Engine.IO;

namespace TursoBackup.Tests.Remote;

/// <summary>
/// An HTTP handler in front of a real tursodb for the protocol paths tursodb 0.7.0 lacks: it can hand out batons
/// like sqld does (and refuses a request whose baton is not the last one handed out, as sqld would), end a stream
/// by returning no baton, offer Hrana 3 (GET /v3 → 200, /v3/pipeline forwarded to /v2/pipeline), or answer every
/// request with a fixed HTTP status. It records what the client sent.
/// </summary>
internal sealed class HranaTestHandler : DelegatingHandler
{
    private readonly object gate = new();
    private int nextBaton;
    private readonly HashSet<string> live = new();

    public HranaTestHandler() : base(new HttpClientHandler()) { }

    /// <summary>Hand out batons (each response a new one; null after a close request).</summary>
    public bool AddBatons { get; set; }

    /// <summary>Answer GET /v3 with 200 and forward /v3/pipeline to tursodb's /v2/pipeline.</summary>
    public bool OfferV3 { get; set; }

    /// <summary>After this many pipeline responses on a stream, return no baton (the server ended the stream).</summary>
    public int DropBatonAfter { get; set; } = int.MaxValue;

    /// <summary>Answer everything with this status and body instead of forwarding.</summary>
    public HttpStatusCode? FixedStatus { get; set; }

    public string FixedBody { get; set; } = "";

    public List<string> Paths { get; } = new();
    public List<string> Bodies { get; } = new();
    public List<string> Authorizations { get; } = new();
    public List<string> SentBatons { get; } = new();
    public List<string> BatonErrors { get; } = new();

    public int Pipelines
    {
        get
        {
            lock (gate) return Paths.Count(p => p.EndsWith("/pipeline", StringComparison.Ordinal));
        }
    }

    /// <summary>The SQL of every execute and batch step the client sent, in order.</summary>
    public List<string> SqlSent()
    {
        var list = new List<string>();
        lock (gate)
        {
            foreach (var body in Bodies)
            {
                if (Json.Parse(body) is not Dictionary<string, object> o || o["requests"] is not List<object> reqs) continue;
                foreach (Dictionary<string, object> r in reqs)
                {
                    if (r.TryGetValue("stmt", out var stmt)) list.Add((string)((Dictionary<string, object>)stmt)["sql"]);
                    if (r.TryGetValue("batch", out var batch))
                    {
                        foreach (Dictionary<string, object> step in (List<object>)((Dictionary<string, object>)batch)["steps"])
                        {
                            list.Add((string)((Dictionary<string, object>)step["stmt"])["sql"]);
                        }
                    }
                }
            }
        }
        return list;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string path = request.RequestUri!.AbsolutePath;
        string body = request.Content == null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        lock (gate)
        {
            Paths.Add(request.Method + " " + path);
            if (body != null) Bodies.Add(body);
            Authorizations.Add(request.Headers.TryGetValues("Authorization", out var v) ? string.Join(",", v) : null);
        }
        if (FixedStatus.HasValue)
        {
            return new HttpResponseMessage(FixedStatus.Value) { Content = new StringContent(FixedBody, Encoding.UTF8, "application/json") };
        }
        if (OfferV3 && request.Method == HttpMethod.Get && path.EndsWith("/v3", StringComparison.Ordinal))
        {
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("") };
        }
        var uri = request.RequestUri;
        if (OfferV3 && path.EndsWith("/v3/pipeline", StringComparison.Ordinal))
        {
            uri = new Uri(uri, path.Substring(0, path.Length - "/v3/pipeline".Length) + "/v2/pipeline");
        }
        string incoming = null;
        bool closes = false;
        if (body != null && Json.Parse(body) is Dictionary<string, object> req)
        {
            incoming = req.TryGetValue("baton", out var b) ? b as string : null;
            closes = req["requests"] is List<object> rs && rs.Any(r => r is Dictionary<string, object> d && (string)d["type"] == "close");
            lock (gate) SentBatons.Add(incoming);
            if (AddBatons && incoming != null)
            {
                lock (gate)
                {
                    if (!live.Remove(incoming))
                    {
                        BatonErrors.Add(incoming);
                        return new HttpResponseMessage(HttpStatusCode.BadRequest)
                        {
                            Content = new StringContent("{\"message\":\"The stream has expired due to inactivity\",\"code\":\"STREAM_EXPIRED\"}", Encoding.UTF8, "application/json"),
                        };
                    }
                }
            }
        }
        // tursodb knows no "close" request (HTTP 500): answer those here, forward the rest.
        List<bool> isClose = null;
        string forwardBody = body;
        if (body != null && Json.Parse(body) is Dictionary<string, object> parsed && parsed["requests"] is List<object> all)
        {
            isClose = all.Select(r => r is Dictionary<string, object> d && (string)d["type"] == "close").ToList();
            parsed["requests"] = all.Where((r, i) => !isClose[i]).ToList();
            forwardBody = Json.WriteCompact(parsed);
        }
        Dictionary<string, object> resp;
        HttpStatusCode status = HttpStatusCode.OK;
        if (isClose != null && isClose.All(c => c))
        {
            resp = new Dictionary<string, object> { ["baton"] = null, ["base_url"] = null, ["results"] = new List<object>() };
        }
        else
        {
            var forward = new HttpRequestMessage(request.Method, uri);
            if (forwardBody != null) forward.Content = new StringContent(forwardBody, Encoding.UTF8, "application/json");
            var response = await base.SendAsync(forward, cancellationToken);
            if (body == null || !response.IsSuccessStatusCode || (!AddBatons && isClose?.Any(c => c) != true)) return response;
            status = response.StatusCode;
            resp = (Dictionary<string, object>)Json.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        }
        if (isClose != null && isClose.Any(c => c))
        {
            var results = (List<object>)resp["results"];
            var merged = new List<object>();
            int k = 0;
            foreach (bool c in isClose)
            {
                merged.Add(c
                    ? new Dictionary<string, object> { ["type"] = "ok", ["response"] = new Dictionary<string, object> { ["type"] = "close" } }
                    : results[k++]);
            }
            resp["results"] = merged;
        }
        string baton = null;
        if (AddBatons)
        {
            lock (gate)
            {
                int n = incoming == null ? 1 : int.Parse(incoming.Split('.')[1]) + 1;
                if (!closes && n <= DropBatonAfter)
                {
                    baton = $"b{++nextBaton}.{n}";
                    live.Add(baton);
                }
            }
        }
        resp["baton"] = baton;
        return new HttpResponseMessage(status) { Content = new StringContent(Json.WriteCompact(resp), Encoding.UTF8, "application/json") };
    }
}
