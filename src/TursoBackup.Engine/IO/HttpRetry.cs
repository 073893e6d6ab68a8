using System;
using System.Net.Http.Headers;

namespace TursoBackup.Engine.IO
{
    /// <summary>The retry arithmetic the HTTP clients share (Platform API, webhooks): Retry-After and exponential backoff.</summary>
    public static class HttpRetry
    {
        /// <summary>The wait a Retry-After header asks for (seconds or an HTTP date; never negative), or null without one.</summary>
        public static TimeSpan? RetryAfter(RetryConditionHeaderValue header, DateTimeOffset now)
        {
            if (header == null) return null;
            if (header.Delta.HasValue) return header.Delta.Value < TimeSpan.Zero ? TimeSpan.Zero : header.Delta.Value;
            if (header.Date.HasValue)
            {
                var wait = header.Date.Value - now;
                return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
            }
            return null;
        }

        /// <summary>The wait before attempt <paramref name="attempt"/> + 1: initial × 2^(attempt − 1), at most <paramref name="max"/>.</summary>
        public static TimeSpan Backoff(int attempt, TimeSpan initial, TimeSpan max) =>
            TimeSpan.FromMilliseconds(Math.Min(initial.TotalMilliseconds * Math.Pow(2, attempt - 1), max.TotalMilliseconds));
    }
}
