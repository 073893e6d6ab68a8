using System;
using System.Globalization;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Wal
{
    /// <summary>The -Timestamp forms of the contract: DateTimeOffset, DateTime, or ISO 8601 text (full, or a date alone = start of that day, UTC).</summary>
    public static class Timestamps
    {
        public const string InvalidFormat = "Invalid timestamp format: use ISO 8601 such as 2024-01-15T10:30:00Z";

        public static DateTimeOffset Parse(object value)
        {
            switch (value)
            {
                case DateTimeOffset dto: return dto.ToUniversalTime();
                case DateTime dt: return (dt.Kind == DateTimeKind.Unspecified ? new DateTimeOffset(dt, TimeSpan.Zero) : new DateTimeOffset(dt)).ToUniversalTime();
                case string s: return ParseText(s);
                default: throw new TursoBackupException(FailureKind.InvalidArgument, InvalidFormat + ".", value) { ErrorId = "TimestampFormat" };
            }
        }

        private static DateTimeOffset ParseText(string text)
        {
            string s = (text ?? "").Trim();
            if (DateTime.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var day))
            {
                return new DateTimeOffset(day, TimeSpan.Zero);
            }
            string[] formats =
            {
                "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mmK",
                "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", "yyyy-MM-dd'T'HH:mm",
            };
            if (DateTimeOffset.TryParseExact(s, formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
            {
                return t.ToUniversalTime();
            }
            throw new TursoBackupException(FailureKind.InvalidArgument, InvalidFormat + $" ('{text}' is not one).", text) { ErrorId = "TimestampFormat" };
        }
    }
}
