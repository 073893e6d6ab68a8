using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using System.Threading;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Remote
{
    /// <summary>
    /// A client of the libSQL remote protocol, Hrana over HTTP (JSON): Turso Cloud, sqld, tursodb --sync-server.
    /// <para>
    /// Version 3 (<c>/v3/pipeline</c>) is used when the server answers <c>GET /v3</c> with 2xx (probed once), version 2
    /// (<c>/v2/pipeline</c>) otherwise. <see cref="Execute"/> and <see cref="Batch"/> run on a fresh stream each;
    /// <see cref="OpenStream"/> gives a <see cref="HranaStream"/> that keeps the server's baton between requests, so
    /// <c>BEGIN</c>, several <c>SELECT</c>s and <c>COMMIT</c> run on one server-side connection.
    /// </para>
    /// <para>
    /// Values: null, long (sent and received as decimal strings: exact beyond 2^53), double, string, byte[].
    /// Failures are <see cref="TursoBackupException"/>s naming the URL, never the auth token; the server's message
    /// and code are in the message and in <c>Exception.Data["HranaMessage"]</c> / <c>["HranaCode"]</c>.
    /// </para>
    /// </summary>
    public sealed class HranaClient : IDisposable
    {
        private static readonly Encoding Utf8 = new UTF8Encoding(false);
        private readonly HttpClient http;
        private readonly bool ownHandler;
        private readonly string token;
        private readonly object gate = new object();
        private int version;
        private bool disposed;

        /// <param name="url">libsql://, https:// or http:// URL of the database (see <see cref="LibsqlUrl"/>).</param>
        /// <param name="authToken">Sent as <c>Authorization: Bearer</c>; null or empty for servers without authentication.</param>
        /// <param name="handler">The HTTP handler to use (tests, proxies); not disposed by the client. Null for a default one.</param>
        /// <param name="timeout">Limit for each HTTP request, response body included. Default 60 s.</param>
        public HranaClient(string url, string authToken = null, HttpMessageHandler handler = null, TimeSpan? timeout = null)
        {
            Url = LibsqlUrl.Normalize(url);
            if (!string.IsNullOrEmpty(authToken))
            {
                foreach (char c in authToken)
                {
                    if (c <= 0x20 || c >= 0x7F)
                    {
                        // The token itself is never repeated: not in messages, not in ToString().
                        throw new TursoBackupException(FailureKind.InvalidArgument,
                            "The auth token contains a space, a line break or a non-ASCII character, which cannot be sent in an HTTP header. Check that the whole token was copied (turso db tokens create <db>).");
                    }
                }
                token = authToken;
            }
            Timeout = timeout ?? TimeSpan.FromSeconds(60);
            if (Timeout <= TimeSpan.Zero)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, "The timeout must be positive.");
            }
            ownHandler = handler == null;
            http = handler == null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
            http.Timeout = System.Threading.Timeout.InfiniteTimeSpan; // each request has its own limit (body included)
        }

        /// <summary>The normalized http(s) base URL (never holds credentials).</summary>
        public string Url { get; }

        public TimeSpan Timeout { get; }

        /// <summary>Whether an auth token is sent (the token itself is not exposed).</summary>
        public bool HasAuthToken => token != null;

        /// <summary>The Hrana over HTTP version in use: 3 when the server offers it, else 2 (probed on first use).</summary>
        public int ProtocolVersion => EnsureVersion(CancellationToken.None);

        /// <summary>
        /// Whether the server keeps streams (returns batons): null until the first response. Servers that keep none
        /// (tursodb --sync-server 0.7.0) are never sent a "close" request, which they do not know (HTTP 500).
        /// </summary>
        public bool? ServerKeepsStreams { get; internal set; }

        /// <summary>Runs one statement on a fresh stream.</summary>
        /// <param name="args">Positional arguments: null, integers, double, string, byte[] (bool becomes 0/1).</param>
        /// <param name="named">Named arguments (":a", "@a", "$a"; "a" matches any prefix), bound on the client by position.</param>
        public HranaResult Execute(string sql, IReadOnlyList<object> args = null, IReadOnlyDictionary<string, object> named = null,
                                   CancellationToken cancellationToken = default(CancellationToken))
        {
            using (var stream = OpenStream()) return stream.ExecuteAndClose(new HranaStatement(sql, args, named), cancellationToken);
        }

        /// <summary>
        /// Runs the steps as one Hrana batch on a fresh stream, each step only when the one before it succeeded.
        /// Returns every step's result, or throws the first step's error (the steps before it stay done: put
        /// BEGIN/COMMIT steps around them for all or nothing).
        /// </summary>
        public IReadOnlyList<HranaResult> Batch(IReadOnlyList<(string Sql, IReadOnlyList<object> Args)> steps,
                                                CancellationToken cancellationToken = default(CancellationToken))
        {
            using (var stream = OpenStream()) return stream.BatchAndClose(HranaStream.ToStatements(steps), cancellationToken);
        }

        /// <summary>A stream: requests on it share one server-side connection as long as the server hands out batons.</summary>
        public HranaStream OpenStream()
        {
            ThrowIfDisposed();
            return new HranaStream(this);
        }

        public override string ToString() => "libSQL " + Url;

        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            http.Dispose();
        }

        private void ThrowIfDisposed()
        {
            if (disposed) throw new ObjectDisposedException(nameof(HranaClient));
        }

        // ---- transport -------------------------------------------------------------------------------------------

        private int EnsureVersion(CancellationToken ct)
        {
            if (version != 0) return version;
            lock (gate)
            {
                if (version != 0) return version;
                ThrowIfDisposed();
                using (var request = new HttpRequestMessage(HttpMethod.Get, Url + "/v3"))
                using (var limit = Limit(ct))
                {
                    AddAuth(request);
                    using (var response = Send(request, limit, ct, "check which protocol version the server speaks"))
                    {
                        int status = (int)response.StatusCode;
                        if (status == 401 || status == 403) throw HttpFailure(response, Url + "/v3");
                        if (status >= 500 && status != 501) throw HttpFailure(response, Url + "/v3");
                        version = status >= 200 && status < 300 ? 3 : 2;
                    }
                }
                return version;
            }
        }

        /// <summary>Sends one pipeline (baton + requests) and reads the results.</summary>
        internal PipelineResponse Pipeline(string baseUrl, string baton, IReadOnlyList<PendingRequest> requests, CancellationToken ct)
        {
            ThrowIfDisposed();
            int v = EnsureVersion(ct);
            string endpoint = (baseUrl ?? Url) + "/v" + v + "/pipeline";
            string body = HranaProtocol.Body(baton, requests);
            using (var request = new HttpRequestMessage(HttpMethod.Post, endpoint))
            using (var limit = Limit(ct))
            {
                request.Content = new StringContent(body, Utf8, "application/json");
                AddAuth(request);
                using (var response = Send(request, limit, ct, "send a request"))
                // The body is parsed as it arrives (no copy of a whole page in memory); the time limit covers it:
                // when it expires, the response is disposed, which ends a read that waits for the server.
                using (limit.Token.Register(() => response.Dispose()))
                {
                    if (!response.IsSuccessStatusCode) throw HttpFailure(response, endpoint);
                    {
                        try
                        {
                            using (var content = response.Content.ReadAsStreamAsync().ConfigureAwait(false).GetAwaiter().GetResult())
                            using (var reader = new StreamReader(content, Utf8, false, 1 << 16))
                            {
                                return HranaProtocol.ParsePipeline(new JsonPullReader(reader), requests);
                            }
                        }
                        catch (Exception ex) when (limit.IsCancellationRequested && (ex is IOException || ex is ObjectDisposedException || ex is OperationCanceledException || ex is HttpRequestException))
                        {
                            ct.ThrowIfCancellationRequested();
                            throw TimedOut(ex, "read its answer");
                        }
                        catch (FormatException ex)
                        {
                            throw new TursoBackupException(FailureKind.InvalidData,
                                $"The server at {Url} answered with a response this client does not understand ({Scrub(ex.Message)}). Check that the URL points at a libSQL server (Hrana over HTTP).", Url, ex);
                        }
                        catch (IOException ex)
                        {
                            throw Lost(ex, "reading its answer");
                        }
                        catch (HttpRequestException ex)
                        {
                            throw Lost(ex, "reading its answer");
                        }
                    }
                }
            }
        }

        private void AddAuth(HttpRequestMessage request)
        {
            if (token != null) request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        }

        /// <summary>A token source that cancels after <see cref="Timeout"/> or with <paramref name="ct"/>.</summary>
        private CancellationTokenSource Limit(CancellationToken ct)
        {
            var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(Timeout);
            return limit;
        }

        /// <summary>
        /// HttpClient.Send (.NET 5+): truly synchronous HTTP/1.1 with the built-in handler. Blocking on SendAsync
        /// instead needs a free thread-pool thread for every completion, and a pool whose threads all block (parallel
        /// workers, test hosts) adds a new one only about once a second. Null on .NET Framework.
        /// </summary>
        private static readonly Func<HttpClient, HttpRequestMessage, HttpCompletionOption, CancellationToken, HttpResponseMessage> SyncSend = FindSyncSend();

        private static Func<HttpClient, HttpRequestMessage, HttpCompletionOption, CancellationToken, HttpResponseMessage> FindSyncSend()
        {
            try
            {
                var method = typeof(HttpClient).GetMethod("Send", new[] { typeof(HttpRequestMessage), typeof(HttpCompletionOption), typeof(CancellationToken) });
                if (method == null || method.ReturnType != typeof(HttpResponseMessage)) return null;
                return (Func<HttpClient, HttpRequestMessage, HttpCompletionOption, CancellationToken, HttpResponseMessage>)Delegate.CreateDelegate(
                    typeof(Func<HttpClient, HttpRequestMessage, HttpCompletionOption, CancellationToken, HttpResponseMessage>), method);
            }
            catch (Exception)
            {
                return null;
            }
        }

        /// <summary>Sends under <paramref name="limit"/>; returns once the response headers are in.</summary>
        private HttpResponseMessage Send(HttpRequestMessage request, CancellationTokenSource limit, CancellationToken ct, string what)
        {
            try
            {
                // A caller's handler may implement only SendAsync (HttpMessageHandler.Send would bypass it).
                if (ownHandler && SyncSend != null) return SyncSend(http, request, HttpCompletionOption.ResponseHeadersRead, limit.Token);
                return http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, limit.Token).ConfigureAwait(false).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
            catch (OperationCanceledException ex)
            {
                throw TimedOut(ex, what);
            }
            catch (HttpRequestException ex)
            {
                throw Unreachable(ex, what);
            }
            catch (IOException ex)
            {
                throw Lost(ex, "trying to " + what);
            }
        }

        private TursoBackupException TimedOut(Exception ex, string what) =>
            new TursoBackupException(FailureKind.Busy,
                $"The libSQL server at {Url} did not answer within {Timeout.TotalSeconds:0.#} s (while trying to {what}). Check that it is running and reachable, then try again (or allow more time).", Url, ex);

        private TursoBackupException Unreachable(HttpRequestException ex, string what)
        {
            SocketException socket = null;
            bool tls = false;
            for (Exception e = ex; e != null; e = e.InnerException)
            {
                if (e is SocketException s) socket = s;
                if (e is AuthenticationException) tls = true;
            }
            if (socket != null)
            {
                switch (socket.SocketErrorCode)
                {
                    case SocketError.ConnectionRefused:
                        return new TursoBackupException(FailureKind.WriteFailed,
                            $"Could not connect to the libSQL server at {Url}: the connection was refused. Check that the server is running and that the URL and port are right.", Url, ex);
                    case SocketError.HostNotFound:
                    case SocketError.NoData:
                    case SocketError.TryAgain:
                        return new TursoBackupException(FailureKind.NotFound,
                            $"Could not find the host of {Url} ({Scrub(socket.Message)}). Check the database URL (libsql://<database>-<org>.turso.io) and the network's DNS.", Url, ex);
                    case SocketError.TimedOut:
                        return new TursoBackupException(FailureKind.Busy,
                            $"Connecting to the libSQL server at {Url} timed out. Check that it is reachable from this machine, then try again.", Url, ex);
                    case SocketError.ConnectionReset:
                    case SocketError.ConnectionAborted:
                    case SocketError.Shutdown:
                        return Lost(ex, "trying to " + what);
                }
            }
            if (tls)
            {
                return new TursoBackupException(FailureKind.WriteFailed,
                    $"The TLS handshake with {Url} failed ({Scrub(Innermost(ex).Message)}). Check the URL (http:// for servers without TLS) and the server's certificate.", Url, ex);
            }
            if (Innermost(ex) is IOException) return Lost(ex, "trying to " + what);
            return new TursoBackupException(FailureKind.WriteFailed,
                $"Could not reach the libSQL server at {Url} to {what}: {Scrub(Innermost(ex).Message)} Check that the server is running and the URL is right.", Url, ex);
        }

        private TursoBackupException Lost(Exception ex, string during) =>
            new TursoBackupException(FailureKind.WriteFailed,
                $"The connection to the libSQL server at {Url} was lost while {during} ({Scrub(Innermost(ex).Message)}). Check that the server is still running, then run the command again.", Url, ex);

        private static Exception Innermost(Exception ex)
        {
            while (ex.InnerException != null) ex = ex.InnerException;
            return ex;
        }

        /// <summary>An HTTP error status as an exception, with the server's message (Hrana Error JSON or text).</summary>
        private TursoBackupException HttpFailure(HttpResponseMessage response, string endpoint)
        {
            int status = (int)response.StatusCode;
            string text = string.Empty;
            try
            {
                text = response.Content?.ReadAsStringAsync().ConfigureAwait(false).GetAwaiter().GetResult() ?? string.Empty;
            }
            catch (Exception)
            {
                // the status alone has to do
            }
            string message = null, code = null;
            string trimmed = text.Trim();
            if (trimmed.StartsWith("{", StringComparison.Ordinal))
            {
                try
                {
                    var r = new JsonPullReader(new StringReader(trimmed));
                    r.BeginObject();
                    bool first = true;
                    while (r.NextProperty(ref first, out string name))
                    {
                        if (name == "message" || name == "error")
                        {
                            if (r.PeekValue() == '{')
                            {
                                var e = HranaProtocol.ParseError(r);
                                message = e.Message;
                                code = code ?? e.Code;
                            }
                            else
                            {
                                message = r.ReadScalarText();
                            }
                        }
                        else if (name == "code") code = r.ReadScalarText();
                        else r.SkipValue();
                    }
                }
                catch (FormatException)
                {
                    message = null;
                }
            }
            if (message == null && trimmed.Length > 0) message = trimmed.Length > 500 ? trimmed.Substring(0, 500) + "..." : trimmed;
            message = Scrub(message);
            string said = message == null ? string.Empty : $": {message}";
            string codeText = code == null ? string.Empty : $", code {Scrub(code)}";
            TursoBackupException ex;
            switch (status)
            {
                case 401:
                case 403:
                    ex = new TursoBackupException(FailureKind.PermissionDenied, token == null
                        ? $"The libSQL server at {Url} requires an auth token (HTTP {status}{said}); pass -AuthToken or set TURSO_AUTH_TOKEN."
                        : $"The libSQL server at {Url} refused the request (HTTP {status}{said}): the auth token was refused; pass -AuthToken or set TURSO_AUTH_TOKEN (a valid, unexpired token for this database).", Url);
                    break;
                case 404:
                    ex = new TursoBackupException(FailureKind.NotFound,
                        $"There is no libSQL endpoint at {LibsqlUrl.Redact(endpoint)} (HTTP 404{said}). Check the database URL (libsql://<database>-<org>.turso.io, or http://host:port of sqld / tursodb --sync-server).", Url);
                    break;
                case 408:
                case 429:
                case 502:
                case 503:
                case 504:
                    ex = new TursoBackupException(FailureKind.Busy,
                        $"The libSQL server at {Url} is busy or unavailable (HTTP {status}{said}{codeText}). Try again in a moment.", Url);
                    break;
                default:
                    {
                        var kind = status >= 400 && status < 500 ? KindOf(code, message, FailureKind.InvalidArgument) : KindOf(code, message, FailureKind.WriteFailed);
                        ex = new TursoBackupException(kind,
                            $"The libSQL server at {Url} failed the request (HTTP {status}{said}{codeText}). {Advice(kind)}", Url);
                        break;
                    }
            }
            ex.Data["HttpStatus"] = status;
            if (message != null) ex.Data["HranaMessage"] = message;
            if (code != null) ex.Data["HranaCode"] = code;
            return ex;
        }

        /// <summary>A statement the server refused, as an exception with its message and code.</summary>
        internal TursoBackupException StatementFailure(HranaError error, string sql, int? step, string context = null)
        {
            string message = Scrub(error.Message);
            string code = Scrub(error.Code);
            var kind = KindOf(code, message, FailureKind.InvalidArgument);
            string where = step.HasValue ? $"step {step.Value + 1} of the batch (\"{Preview(sql)}\")" : $"the statement \"{Preview(sql)}\"";
            string codeText = string.IsNullOrEmpty(code) ? string.Empty : $" (code {code})";
            string what = context == null ? string.Empty : $"Could not {context}: ";
            var ex = new TursoBackupException(kind,
                $"{what}the libSQL server at {Url} refused {where}: {message}{codeText}. {Advice(kind)}", Url);
            ex.Data["HranaMessage"] = message;
            if (!string.IsNullOrEmpty(code)) ex.Data["HranaCode"] = code;
            if (step.HasValue) ex.Data["HranaStep"] = step.Value;
            return ex;
        }

        private static FailureKind KindOf(string code, string message, FailureKind fallback)
        {
            string c = (code ?? string.Empty).ToUpperInvariant();
            string m = (message ?? string.Empty).ToLowerInvariant();
            if (c.Contains("BUSY") || c.Contains("LOCKED") || m.Contains("database is locked") || m.Contains("database is busy")) return FailureKind.Busy;
            if (c.Contains("STREAM_EXPIRED") || c.Contains("STREAM_CLOSED") || c.Contains("BATON")) return FailureKind.Busy;
            if (c.Contains("AUTH") || c.Contains("PERM") || c.Contains("READONLY") || c.Contains("FORBIDDEN")) return FailureKind.PermissionDenied;
            if (c.Contains("CORRUPT") || c.Contains("NOTADB")) return FailureKind.InvalidData;
            if (c.Contains("FULL") || c.Contains("IOERR")) return FailureKind.WriteFailed;
            return fallback;
        }

        private static string Advice(FailureKind kind)
        {
            switch (kind)
            {
                case FailureKind.Busy: return "Try again when the database is less busy.";
                case FailureKind.PermissionDenied: return "Check that the auth token allows this (a read-only token cannot write).";
                case FailureKind.InvalidData: return "The database may be damaged; check it on the server.";
                case FailureKind.WriteFailed: return "Check the server's logs and disk, then try again.";
                default: return "Check the SQL and its arguments.";
            }
        }

        internal static string Preview(string sql, int max = 100) => Dump.SqlText.Preview(sql, max);

        /// <summary>Text from elsewhere (server messages, exception messages) with the token blanked out, just in case.</summary>
        internal string Scrub(string text)
        {
            if (text == null || token == null) return text;
            return text.Replace(token, "***");
        }
    }
}
