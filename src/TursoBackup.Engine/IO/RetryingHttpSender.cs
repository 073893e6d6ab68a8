using System;
using System.Globalization;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading;
using System.Threading.Tasks;

namespace TursoBackup.Engine.IO
{
    /// <summary>
    /// Sends one HTTP request with retries, for every HTTP client of the engine (the Turso Platform API, webhooks). Each
    /// attempt is a fresh request with its own time limit (<see cref="RequestTimeout"/>). The answer is classified:
    /// <list type="bullet">
    /// <item>2xx: the caller's <see cref="HttpSend{T}.Accepted"/> turns it into the result (or asks for a retry, for services
    /// that report failures inside a 200);</item>
    /// <item>429, 5xx and the statuses in <see cref="AlsoRetry"/>: retried, after the wait <c>Retry-After</c> asks for (seconds or
    /// an HTTP date) or else after an exponential backoff; a Retry-After longer than <see cref="MaxRetryAfter"/> is
    /// reported at once (<see cref="HttpSend{T}.WaitTooLong"/>);</item>
    /// <item>any other status (other 4xx, 3xx): the caller's <see cref="HttpSend{T}.Refused"/> error, at once;</item>
    /// <item>no answer in time, or no connection: retried like a 5xx.</item>
    /// </list>
    /// After <see cref="MaxAttempts"/> attempts the caller's <see cref="HttpSend{T}.GaveUp"/> error is thrown. The caller's
    /// cancellation token stops waits and requests at once (<see cref="OperationCanceledException"/>). Every line given to
    /// <see cref="Log"/> and every network error text passes through the scrubber first, which removes the caller's secrets
    /// (tokens, secret addresses).
    /// </summary>
    public sealed class RetryingHttpSender
    {
        private readonly HttpClient http;
        private readonly Func<TimeSpan, CancellationToken, Task> delay;
        private readonly Func<string, string> scrub;

        /// <param name="http">The client to send through (the caller owns it and its default headers).</param>
        /// <param name="delay">How to wait between attempts; <c>Task.Delay</c> when null (tests record the waits instead).</param>
        /// <param name="scrub">Removes secrets from text meant for people; identity when null.</param>
        public RetryingHttpSender(HttpClient http, Func<TimeSpan, CancellationToken, Task> delay = null, Func<string, string> scrub = null)
        {
            this.http = http ?? throw new ArgumentNullException(nameof(http));
            this.delay = delay ?? ((wait, cancel) => Task.Delay(wait, cancel));
            this.scrub = scrub ?? (text => text);
        }

        /// <summary>Who is being called, at the start of the lines about waits ("Turso API", "Webhook https://host/…").</summary>
        public string Name { get; set; } = "HTTP";

        /// <summary>Attempts per request, the first included (at least 1).</summary>
        public int MaxAttempts { get; set; } = 3;

        /// <summary>The first wait of the exponential backoff when there is no Retry-After (then twice as long each time).</summary>
        public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>The longest backoff wait.</summary>
        public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>The longest Retry-After waited for; a longer one is reported at once.</summary>
        public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(2);

        /// <summary>How long one attempt may take before it counts as failed and is retried.</summary>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>Statuses retried besides 429 and 5xx (e.g. 408).</summary>
        public int[] AlsoRetry { get; set; } = new int[0];

        /// <summary>The clock for HTTP-date Retry-After values.</summary>
        public Func<DateTimeOffset> Clock { get; set; } = () => DateTimeOffset.UtcNow;

        /// <summary>Narration (attempts, waits); every line scrubbed.</summary>
        public Action<string> Log { get; set; }

        /// <summary>Whether an answer with <paramref name="status"/> is retried.</summary>
        public bool IsRetried(int status) => status == 429 || status >= 500 || AlsoRetry.Contains(status);

        /// <summary>Sends <paramref name="send"/> until it is answered, refused, or the attempts are used up.</summary>
        public async Task<T> SendAsync<T>(HttpSend<T> send, CancellationToken cancel = default(CancellationToken))
        {
            if (send?.Request == null) throw new ArgumentException("An HttpSend needs a Request.", nameof(send));
            int attempts = Math.Max(1, MaxAttempts);
            for (int attempt = 1; ; attempt++)
            {
                cancel.ThrowIfCancellationRequested();
                if (send.Describe != null) Say(send.Describe + (attempt > 1 ? $" (attempt {attempt} of {attempts})" : ""));
                HttpTransient failure;
                try
                {
                    using (var request = send.Request())
                    using (var perAttempt = CancellationTokenSource.CreateLinkedTokenSource(cancel))
                    {
                        perAttempt.CancelAfter(RequestTimeout);
                        using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, perAttempt.Token).ConfigureAwait(false))
                        {
                            string text = response.Content == null ? "" : await response.Content.ReadAsStringAsync().ConfigureAwait(false);
                            var answer = new HttpAnswer((int)response.StatusCode, text, response.Headers, attempt);
                            if (answer.Status >= 200 && answer.Status < 300)
                            {
                                var outcome = send.Accepted != null ? send.Accepted(answer) : HttpOutcome<T>.Done(default(T));
                                if (!outcome.Retry) return outcome.Value;
                                failure = new HttpTransient(outcome.RetryStatus, outcome.RetryText, null, attempt);
                            }
                            else if (IsRetried(answer.Status))
                            {
                                string said = send.TransientText != null ? send.TransientText(answer) : $"HTTP {answer.Status}";
                                failure = new HttpTransient(answer.Status, said, HttpRetry.RetryAfter(response.Headers.RetryAfter, Clock()), attempt);
                            }
                            else
                            {
                                throw send.Refused != null ? send.Refused(answer) : new HttpRequestException(scrub($"HTTP {answer.Status}"));
                            }
                        }
                    }
                }
                catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                {
                    failure = new HttpTransient(0, $"no answer within {Seconds(RequestTimeout)}", null, attempt);
                }
                catch (HttpRequestException ex)
                {
                    failure = new HttpTransient(0, "the connection failed: " + scrub(Innermost(ex).Message), null, attempt);
                }

                send.Failed?.Invoke(failure);
                if (attempt >= attempts)
                {
                    throw send.GaveUp != null ? send.GaveUp(failure, attempts) : new HttpRequestException(scrub(failure.Text));
                }
                TimeSpan wait;
                if (failure.RetryAfter.HasValue)
                {
                    if (failure.RetryAfter.Value > MaxRetryAfter)
                    {
                        throw send.WaitTooLong != null
                            ? send.WaitTooLong(failure, failure.RetryAfter.Value)
                            : new HttpRequestException(scrub($"{failure.Text}; asked to wait {Seconds(failure.RetryAfter.Value)}"));
                    }
                    wait = failure.RetryAfter.Value;
                }
                else
                {
                    wait = HttpRetry.Backoff(attempt, InitialBackoff, MaxBackoff);
                }
                Say($"{Name}: {failure.Text}; waiting {Seconds(wait)}{(failure.RetryAfter.HasValue ? " (Retry-After)" : "")} before attempt {attempt + 1} of {attempts}.");
                await delay(wait, cancel).ConfigureAwait(false);
            }
        }

        private void Say(string line) => Log?.Invoke(scrub(line));

        /// <summary>"3 s", "0.25 s": a wait or time limit as people read it.</summary>
        public static string Seconds(TimeSpan t) =>
            t.TotalSeconds >= 1 && t.TotalSeconds == Math.Floor(t.TotalSeconds)
                ? t.TotalSeconds.ToString("0", CultureInfo.InvariantCulture) + " s"
                : t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

        private static Exception Innermost(Exception ex)
        {
            while (ex.InnerException != null) ex = ex.InnerException;
            return ex;
        }
    }

    /// <summary>One request for <see cref="RetryingHttpSender"/>: how to make it, and what its answers mean to the caller.</summary>
    public sealed class HttpSend<T>
    {
        /// <summary>Makes the request; called once per attempt (a request message can be sent only once).</summary>
        public Func<HttpRequestMessage> Request { get; set; }

        /// <summary>The line logged before each attempt ("GET https://…"); " (attempt n of N)" is added from the second on.</summary>
        public string Describe { get; set; }

        /// <summary>A 2xx answer: the result, or a retry (<see cref="HttpOutcome{T}.RetryAs"/>); may throw.</summary>
        public Func<HttpAnswer, HttpOutcome<T>> Accepted { get; set; }

        /// <summary>A retried answer in words ("HTTP 503 (Service Unavailable): …"), for logs and the final error.</summary>
        public Func<HttpAnswer, string> TransientText { get; set; }

        /// <summary>The error for an answer that is not retried (other 4xx, 3xx).</summary>
        public Func<HttpAnswer, Exception> Refused { get; set; }

        /// <summary>The error after the last attempt failed; given the last failure and the number of attempts.</summary>
        public Func<HttpTransient, int, Exception> GaveUp { get; set; }

        /// <summary>The error when Retry-After asks for longer than the sender waits; given the failure and the wait.</summary>
        public Func<HttpTransient, TimeSpan, Exception> WaitTooLong { get; set; }

        /// <summary>Told of each failed attempt (before the wait or the final error).</summary>
        public Action<HttpTransient> Failed { get; set; }
    }

    /// <summary>An HTTP answer as the caller's callbacks see it (while the response is still open).</summary>
    public sealed class HttpAnswer
    {
        public HttpAnswer(int status, string text, HttpResponseHeaders headers, int attempt)
        {
            Status = status;
            Text = text ?? "";
            Headers = headers;
            Attempt = attempt;
        }

        public int Status { get; }

        /// <summary>The body as text.</summary>
        public string Text { get; }

        public HttpResponseHeaders Headers { get; }

        /// <summary>Which attempt this answer came to (1 for the first).</summary>
        public int Attempt { get; }
    }

    /// <summary>A failed attempt that may be retried.</summary>
    public sealed class HttpTransient
    {
        public HttpTransient(int status, string text, TimeSpan? retryAfter, int attempt)
        {
            Status = status;
            Text = text;
            RetryAfter = retryAfter;
            Attempt = attempt;
        }

        /// <summary>The answer's status; 0 when there was none (timeout, no connection).</summary>
        public int Status { get; }

        /// <summary>What happened, in words (scrubbed of secrets).</summary>
        public string Text { get; }

        /// <summary>The wait the answer's Retry-After asked for, if any.</summary>
        public TimeSpan? RetryAfter { get; }

        public int Attempt { get; }
    }

    /// <summary>What a 2xx answer means: the result, or "retry, as if the answer had been this status".</summary>
    public struct HttpOutcome<T>
    {
        public T Value { get; private set; }
        public bool Retry { get; private set; }
        public int RetryStatus { get; private set; }
        public string RetryText { get; private set; }

        public static HttpOutcome<T> Done(T value) => new HttpOutcome<T> { Value = value };

        public static HttpOutcome<T> RetryAs(int status, string text) => new HttpOutcome<T> { Retry = true, RetryStatus = status, RetryText = text };
    }
}
