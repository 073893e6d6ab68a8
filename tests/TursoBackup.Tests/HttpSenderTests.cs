using System.Net;
using System.Net.Sockets;
using System.Net.Http.Headers;
using System.Net.Sockets;
using TursoBackup.Engine.IO;

namespace TursoBackup.Tests;

/// <summary>The one retrying HTTP sender behind the Platform API client and the webhook sender.</summary>
public sealed class HttpSenderTests
{
    private static readonly DateTimeOffset Now = new DateTimeOffset(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Answers from a script, one per request, and records what was sent.</summary>
    private sealed class Scripted : HttpMessageHandler
    {
        private readonly Queue<Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>>> answers = new();
        public List<(HttpRequestMessage Request, string Body)> Seen { get; } = new();

        public Scripted Then(HttpStatusCode status, string body = "", Action<HttpResponseMessage> edit = null)
        {
            answers.Enqueue((_, _) =>
            {
                var r = new HttpResponseMessage(status) { Content = new StringContent(body) };
                edit?.Invoke(r);
                return Task.FromResult(r);
            });
            return this;
        }

        public Scripted Then(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> answer)
        {
            answers.Enqueue(answer);
            return this;
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancel)
        {
            Seen.Add((request, request.Content == null ? null : await request.Content.ReadAsStringAsync(cancel)));
            Assert.True(answers.Count > 0, "more requests than the script has answers");
            return await answers.Dequeue()(request, cancel);
        }
    }

    private sealed class Harness
    {
        public readonly Scripted Handler = new();
        public readonly List<TimeSpan> Waits = new();
        public readonly List<string> Log = new();
        public readonly List<HttpTransient> Failures = new();
        public readonly RetryingHttpSender Sender;

        public Harness(Func<TimeSpan, CancellationToken, Task> delay = null)
        {
            Sender = new RetryingHttpSender(new HttpClient(Handler), delay ?? ((w, _) => { Waits.Add(w); return Task.CompletedTask; }),
                text => text.Replace("s3cr3t", "***"))
            {
                Name = "Test API", MaxAttempts = 3, Clock = () => Now, Log = Log.Add,
            };
        }

        public HttpSend<string> Send(string body = "payload") => new HttpSend<string>
        {
            Describe = "POST http://test/s3cr3t",
            Request = () => new HttpRequestMessage(HttpMethod.Post, "http://test/s3cr3t") { Content = new StringContent(body) },
            Accepted = a => HttpOutcome<string>.Done("ok " + a.Status + " after " + a.Attempt),
            TransientText = a => $"HTTP {a.Status}: {a.Text}",
            Refused = a => new InvalidOperationException($"refused {a.Status}"),
            GaveUp = (f, n) => new TimeoutException($"gave up after {n}: {f.Status} {f.Text}"),
            WaitTooLong = (f, w) => new OperationCanceledException($"too long: {w.TotalSeconds} s after {f.Text}"),
            Failed = Failures.Add,
        };
    }

    [Fact]
    public async Task ServerFailuresAreRetriedWithExponentialBackoffAndAFreshRequestEachTime()
    {
        var h = new Harness();
        h.Handler.Then(HttpStatusCode.ServiceUnavailable, "busy").Then(HttpStatusCode.BadGateway, "down").Then(HttpStatusCode.OK, "{}");
        Assert.Equal("ok 200 after 3", await h.Sender.SendAsync(h.Send()));
        Assert.Equal(new[] { TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2) }, h.Waits);
        Assert.Equal(3, h.Handler.Seen.Select(s => s.Request).Distinct().Count());
        Assert.All(h.Handler.Seen, s => Assert.Equal("payload", s.Body));
        Assert.Equal(new[] { 503, 502 }, h.Failures.Select(f => f.Status));
        Assert.Equal(new[]
        {
            "POST http://test/***",
            "Test API: HTTP 503: busy; waiting 1 s before attempt 2 of 3.",
            "POST http://test/*** (attempt 2 of 3)",
            "Test API: HTTP 502: down; waiting 2 s before attempt 3 of 3.",
            "POST http://test/*** (attempt 3 of 3)",
        }, h.Log);
    }

    [Fact]
    public async Task BackoffStopsGrowingAtItsMaximum()
    {
        var h = new Harness();
        h.Sender.MaxAttempts = 6;
        h.Sender.InitialBackoff = TimeSpan.FromSeconds(2);
        h.Sender.MaxBackoff = TimeSpan.FromSeconds(5);
        for (int i = 0; i < 5; i++) h.Handler.Then(HttpStatusCode.InternalServerError);
        h.Handler.Then(HttpStatusCode.NoContent);
        Assert.Equal("ok 204 after 6", await h.Sender.SendAsync(h.Send()));
        Assert.Equal(new[] { 2, 4, 5, 5, 5 }, h.Waits.Select(w => (int)w.TotalSeconds));
    }

    [Fact]
    public async Task RetryAfterInSecondsOrAsADateIsHonoured()
    {
        var h = new Harness();
        h.Handler
            .Then(HttpStatusCode.TooManyRequests, "slow down", r => r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(7)))
            .Then(HttpStatusCode.TooManyRequests, "", r => r.Headers.RetryAfter = new RetryConditionHeaderValue(Now.AddSeconds(42)))
            .Then(HttpStatusCode.OK);
        await h.Sender.SendAsync(h.Send());
        Assert.Equal(new[] { TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(42) }, h.Waits);
        Assert.Contains("Test API: HTTP 429: slow down; waiting 7 s (Retry-After) before attempt 2 of 3.", h.Log);
        Assert.Equal(TimeSpan.FromSeconds(42), h.Failures[1].RetryAfter);
    }

    [Fact]
    public async Task ARetryAfterLongerThanTheSenderWaitsIsReportedAtOnce()
    {
        var h = new Harness();
        h.Handler.Then(HttpStatusCode.TooManyRequests, "quota", r => r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromHours(1)));
        var ex = await Assert.ThrowsAsync<OperationCanceledException>(() => h.Sender.SendAsync(h.Send()));
        Assert.Equal("too long: 3600 s after HTTP 429: quota", ex.Message);
        Assert.Single(h.Handler.Seen);
        Assert.Empty(h.Waits);
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest)]
    [InlineData(HttpStatusCode.Unauthorized)]
    [InlineData(HttpStatusCode.NotFound)]
    [InlineData(HttpStatusCode.Conflict)]
    [InlineData(HttpStatusCode.Found)]
    [InlineData(HttpStatusCode.RequestTimeout)]
    public async Task OtherAnswersAreRefusedAtOnce(HttpStatusCode status)
    {
        var h = new Harness();
        h.Handler.Then(status, "no");
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => h.Sender.SendAsync(h.Send()));
        Assert.Equal($"refused {(int)status}", ex.Message);
        Assert.Single(h.Handler.Seen);
        Assert.Empty(h.Failures);
    }

    [Fact]
    public async Task StatusesNamedInAlsoRetryAreRetried()
    {
        var h = new Harness();
        h.Sender.AlsoRetry = new[] { 408 };
        h.Handler.Then(HttpStatusCode.RequestTimeout, "slow").Then(HttpStatusCode.Accepted);
        Assert.Equal("ok 202 after 2", await h.Sender.SendAsync(h.Send()));
        Assert.Equal(408, Assert.Single(h.Failures).Status);
    }

    [Fact]
    public async Task AfterTheLastAttemptTheCallersErrorGetsTheLastFailure()
    {
        var h = new Harness();
        h.Handler.Then(HttpStatusCode.ServiceUnavailable, "a").Then(HttpStatusCode.ServiceUnavailable, "b").Then(HttpStatusCode.GatewayTimeout, "c");
        var ex = await Assert.ThrowsAsync<TimeoutException>(() => h.Sender.SendAsync(h.Send()));
        Assert.Equal("gave up after 3: 504 HTTP 504: c", ex.Message);
        Assert.Equal(2, h.Waits.Count); // no wait after the last attempt
        Assert.Equal(3, h.Failures.Count);
    }

    [Fact]
    public async Task ASuccessThatReportsAFailureCanAskForARetry()
    {
        var h = new Harness();
        h.Handler.Then(HttpStatusCode.OK, "delivery failed: 429").Then(HttpStatusCode.OK, "fine");
        var send = h.Send();
        send.Accepted = a => a.Text.Contains("failed") ? HttpOutcome<string>.RetryAs(429, "rate-limited inside a 200") : HttpOutcome<string>.Done(a.Text);
        Assert.Equal("fine", await h.Sender.SendAsync(send));
        var failure = Assert.Single(h.Failures);
        Assert.Equal((429, "rate-limited inside a 200", (TimeSpan?)null), (failure.Status, failure.Text, failure.RetryAfter));
        Assert.Equal(new[] { TimeSpan.FromSeconds(1) }, h.Waits);
    }

    [Fact]
    public async Task AnAttemptWithoutAnAnswerInTimeIsRetried()
    {
        var h = new Harness();
        h.Sender.RequestTimeout = TimeSpan.FromMilliseconds(100);
        h.Handler.Then(async (_, cancel) => { await Task.Delay(Timeout.Infinite, cancel); return null; }).Then(HttpStatusCode.OK);
        Assert.Equal("ok 200 after 2", await h.Sender.SendAsync(h.Send()));
        var failure = Assert.Single(h.Failures);
        Assert.Equal((0, "no answer within 0.1 s"), (failure.Status, failure.Text));
    }

    [Fact]
    public async Task AConnectionThatFailsIsRetriedAndItsErrorIsScrubbed()
    {
        var h = new Harness();
        h.Handler
            .Then((_, _) => throw new HttpRequestException("outer", new SocketException((int)SocketError.ConnectionRefused)))
            .Then((_, _) => throw new HttpRequestException("proxy refused http://test/s3cr3t"))
            .Then(HttpStatusCode.OK);
        await h.Sender.SendAsync(h.Send());
        Assert.Equal(2, h.Failures.Count);
        Assert.All(h.Failures, f => Assert.Equal(0, f.Status));
        Assert.StartsWith("the connection failed: ", h.Failures[0].Text);
        Assert.DoesNotContain("outer", h.Failures[0].Text); // the innermost cause is what helps
        Assert.Equal("the connection failed: proxy refused http://test/***", h.Failures[1].Text);
        Assert.DoesNotContain(h.Log, l => l.Contains("s3cr3t"));
    }

    [Fact]
    public async Task AClosedPortOnLoopbackIsAConnectionFailure()
    {
        int port = Ports.Free();
        var waits = new List<TimeSpan>();
        var sender = new RetryingHttpSender(new HttpClient(), (w, _) => { waits.Add(w); return Task.CompletedTask; }) { MaxAttempts = 2 };
        HttpTransient last = null;
        var ex = await Assert.ThrowsAsync<TimeoutException>(() => sender.SendAsync(new HttpSend<string>
        {
            Request = () => new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/"),
            GaveUp = (f, n) => { last = f; return new TimeoutException("gave up"); },
        }));
        Assert.Equal(0, last.Status);
        Assert.StartsWith("the connection failed: ", last.Text);
        Assert.Single(waits);
    }

    [Fact]
    public async Task CancellationStopsTheWaitAndSendsNothingMore()
    {
        using var cts = new CancellationTokenSource();
        var h = new Harness(async (w, cancel) => { cts.Cancel(); await Task.Delay(w, cancel); });
        h.Handler.Then(HttpStatusCode.ServiceUnavailable).Then(HttpStatusCode.OK);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => h.Sender.SendAsync(h.Send(), cts.Token));
        Assert.Single(h.Handler.Seen);
    }

    [Fact]
    public async Task CancellationDuringARequestIsNotMistakenForATimeout()
    {
        using var cts = new CancellationTokenSource();
        var h = new Harness();
        h.Handler.Then(async (_, cancel) => { cts.Cancel(); await Task.Delay(Timeout.Infinite, cancel); return null; });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => h.Sender.SendAsync(h.Send(), cts.Token));
        Assert.Empty(h.Failures);
        Assert.Empty(h.Waits);
    }
}
