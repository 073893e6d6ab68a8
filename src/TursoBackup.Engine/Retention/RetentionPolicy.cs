using System;
using System.Collections.Generic;
using System.Globalization;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Retention
{
    /// <summary>
    /// A grandfather-father-son retention policy, applied to each database on its own by
    /// <see cref="RetentionPlanner.Plan"/>.
    /// <para>
    /// Periods are UTC calendar periods: the day (yyyy-MM-dd), the ISO-8601 week (Monday to Sunday, numbered by
    /// <see cref="IsoWeek"/>, e.g. 2026-W53) and the calendar month (yyyy-MM), taken from
    /// <see cref="BackupInfo.CreatedAt"/> converted to UTC, whatever offset it carries; there is no daylight saving time.
    /// </para>
    /// <para>
    /// <see cref="Daily"/> = N keeps the newest backup of each of the N most recent days <i>that have a backup</i> (restic's
    /// semantics), not of the last N calendar days; likewise <see cref="Weekly"/> and <see cref="Monthly"/>. This is the
    /// safer reading: if backups stop (a broken schedule, a holiday, a decommissioned server), retention keeps running and
    /// would otherwise delete the last good backups one by one as they age out of the calendar window, until only the
    /// protected newest one is left. With "periods that have a backup", a stopped schedule removes nothing more; the
    /// history shrinks only when new backups take the slots.
    /// </para>
    /// <para><see cref="KeepLast"/> = N keeps the N newest backups. Zero disables a rule.</para>
    /// </summary>
    public sealed class RetentionPolicy
    {
        public RetentionPolicy() { }

        public RetentionPolicy(int daily, int weekly, int monthly, int keepLast = 0)
        {
            Daily = daily;
            Weekly = weekly;
            Monthly = monthly;
            KeepLast = keepLast;
        }

        /// <summary>Keep the newest backup of each of this many most recent UTC days that have a backup.</summary>
        public int Daily { get; set; }

        /// <summary>Keep the newest backup of each of this many most recent ISO weeks (UTC, Monday start) that have a backup.</summary>
        public int Weekly { get; set; }

        /// <summary>Keep the newest backup of each of this many most recent UTC calendar months that have a backup.</summary>
        public int Monthly { get; set; }

        /// <summary>Keep this many newest backups.</summary>
        public int KeepLast { get; set; }

        /// <summary>
        /// Backups younger than this (now − CreatedAt) are never removed, with the reason "younger than 1h". Protects a
        /// backup that an overlapping schedule has only just made. Zero (the default) disables it.
        /// </summary>
        public TimeSpan MinimumAge { get; set; } = TimeSpan.Zero;

        /// <summary>
        /// True when every rule is zero, so only protected backups stay (the newest, the newest verified, pinned ones,
        /// those dated after now or younger than <see cref="MinimumAge"/>). The cmdlet warns about it.
        /// </summary>
        public bool KeepsOnlyProtected => Daily == 0 && Weekly == 0 && Monthly == 0 && KeepLast == 0;

        /// <summary>Throws <see cref="TursoBackupException"/> (InvalidArgument) for a negative count or age.</summary>
        public void Validate()
        {
            var bad = new List<string>();
            if (Daily < 0) bad.Add("Daily");
            if (Weekly < 0) bad.Add("Weekly");
            if (Monthly < 0) bad.Add("Monthly");
            if (KeepLast < 0) bad.Add("KeepLast");
            if (bad.Count > 0)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"Retention counts cannot be negative ({string.Join(", ", bad)}). Give 0 to turn a rule off, or a positive number of periods to keep.",
                    this);
            }
            if (MinimumAge < TimeSpan.Zero)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"MinimumAge cannot be negative ({MinimumAge}). Give 0 to turn it off, or how long a new backup is safe from removal (e.g. 01:00:00).",
                    this);
            }
        }

        /// <summary>"daily 7, weekly 4, monthly 12, last 0" (plus ", minimum age 1h" when set).</summary>
        public override string ToString()
        {
            string s = string.Format(CultureInfo.InvariantCulture, "daily {0}, weekly {1}, monthly {2}, last {3}", Daily, Weekly, Monthly, KeepLast);
            return MinimumAge > TimeSpan.Zero ? s + ", minimum age " + FormatDuration(MinimumAge) : s;
        }

        /// <summary>A short duration such as "1h", "1d12h", "90s" → "1m30s", "250ms".</summary>
        public static string FormatDuration(TimeSpan value)
        {
            if (value < TimeSpan.Zero) return "-" + FormatDuration(value.Negate());
            if (value == TimeSpan.Zero) return "0s";
            var parts = new System.Text.StringBuilder();
            void Part(long n, string unit)
            {
                if (n != 0) parts.Append(n.ToString(CultureInfo.InvariantCulture)).Append(unit);
            }
            Part((long)Math.Floor(value.TotalDays), "d");
            Part(value.Hours, "h");
            Part(value.Minutes, "m");
            Part(value.Seconds, "s");
            Part(value.Milliseconds, "ms");
            // Below a millisecond: say so rather than print nothing.
            return parts.Length == 0 ? "<1ms" : parts.ToString();
        }
    }
}
