using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Retention
{
    /// <summary>
    /// Decides which backups a <see cref="RetentionPolicy"/> keeps. A pure function: no I/O, no clock of its own
    /// (the caller passes <c>now</c>); removing what it says is the cmdlet's job, under ShouldProcess.
    /// <para>Rules, per database (backups of different databases never affect each other):</para>
    /// <list type="bullet">
    /// <item>Order: newest first by <see cref="BackupInfo.CreatedAt"/> (compared as instants, so the offset does not
    /// matter), equal times broken by <see cref="BackupInfo.Id"/> in ordinal order, the greater Id counting as newer (ids
    /// are time-sortable). Input order does not matter; the output is grouped by database (ordinal order) and newest
    /// first within each.</item>
    /// <item>Always kept, whatever the policy: "newest" — the newest backup dated at or before <c>now</c>;
    /// "newest verified" — the newest backup whose Id is in <c>verifiedPassedIds</c> (ids whose newest Test-Backup
    /// passed); each backup in <c>pinned</c>, with the pin's reason (e.g. "needed by WAL generation 3");
    /// "newer than now (clock skew)" — a backup dated after <c>now</c>; "younger than 1h" — a backup younger than
    /// <see cref="RetentionPolicy.MinimumAge"/>.</item>
    /// <item>Backups dated after <c>now</c> take no part in "newest", "last" or the period rules: a wrong clock on one
    /// run must not use up the slots of the real backups.</item>
    /// <item>"last k": the k-th newest of the first <see cref="RetentionPolicy.KeepLast"/>. "daily 2026-11-23",
    /// "weekly 2026-W48", "monthly 2026-11": the newest backup of one of the N most recent UTC periods that have a
    /// backup (see <see cref="RetentionPolicy"/>).</item>
    /// <item>A backup kept for several reasons lists them all, protections first, separated by "; ", e.g.
    /// "newest; last 1; daily 2026-11-23; weekly 2026-W48; monthly 2026-11". Any other backup is removed with
    /// "not kept by any rule (daily 7, weekly 4, monthly 12, last 0)".</item>
    /// <item>Emergency backups (<see cref="BackupInfo.Emergency"/> set: the file a restore or import replaced) are a
    /// series of their own within their database: the same rules apply to them among themselves, each of their reasons
    /// prefixed "emergency: " (e.g. "emergency: newest; daily 2026-11-23"), so the newest emergency backup is always
    /// kept, older ones age out like any backup — and they never take "newest", "newest verified", a "last k" place or
    /// a period's slot from the database's own backups (nor the other way round). Tags do not matter (the manifest
    /// reader marks older manifests tagged "emergency"); kinds (snapshot, dump) are not told apart either.</item>
    /// </list>
    /// <para>
    /// Deterministic and idempotent: the same input (in any order) gives the same decisions, and planning again on the
    /// survivors with the same <c>now</c> removes nothing — every backup a rule picks is the newest of its period, and
    /// the N most recent periods of the survivors are the N most recent periods of the input.
    /// </para>
    /// </summary>
    public static class RetentionPlanner
    {
        public const string NewestReason = "newest";
        public const string NewestVerifiedReason = "newest verified";
        public const string ClockSkewReason = "newer than now (clock skew)";
        public const string PinnedDefaultReason = "pinned";
        /// <summary>What the reasons of an emergency backup's decision start with.</summary>
        public const string EmergencyPrefix = "emergency: ";

        /// <summary>Orders backups newest first: CreatedAt (as an instant) descending, then Id (ordinal) descending.</summary>
        public static readonly IComparer<BackupInfo> NewestFirst = new NewestFirstComparer();

        /// <summary>
        /// One decision per backup, grouped by database (ordinal) and newest first within each.
        /// </summary>
        /// <param name="backups">The backups to decide on, in any order; each (Database, Id) at most once.</param>
        /// <param name="policy">The rules; validated here.</param>
        /// <param name="now">The current time (injected, for tests): decides "newer than now" and MinimumAge.</param>
        /// <param name="verifiedPassedIds">Ids of backups whose newest Test-Backup passed; the newest of them per database is kept.</param>
        /// <param name="pinned">Backup id → why it must stay (e.g. "needed by WAL generation 3"); these are kept.</param>
        public static List<RetentionDecision> Plan(
            IEnumerable<BackupInfo> backups,
            RetentionPolicy policy,
            DateTimeOffset now,
            ISet<string> verifiedPassedIds = null,
            IDictionary<string, string> pinned = null)
        {
            if (backups == null) throw new ArgumentNullException(nameof(backups));
            if (policy == null) throw new ArgumentNullException(nameof(policy));
            policy.Validate();

            var byDatabase = new SortedDictionary<string, List<BackupInfo>>(StringComparer.Ordinal);
            foreach (var b in backups)
            {
                if (b == null) throw new TursoBackupException(FailureKind.InvalidArgument, "A backup to decide retention for is null.");
                if (string.IsNullOrEmpty(b.Id))
                {
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"A backup of database '{b.Database}' has no Id, so retention cannot decide on it. Check the vault with Get-TursoBackup.", b);
                }
                string key = b.Database ?? string.Empty;
                if (!byDatabase.TryGetValue(key, out var list)) byDatabase[key] = list = new List<BackupInfo>();
                list.Add(b);
            }

            var result = new List<RetentionDecision>();
            foreach (var group in byDatabase.Values)
            {
                var seenIds = new HashSet<string>(StringComparer.Ordinal);
                foreach (var b in group.OrderBy(b => b, NewestFirst))
                {
                    if (!seenIds.Add(b.Id))
                    {
                        throw new TursoBackupException(FailureKind.InvalidArgument,
                            $"Backup '{b}' is given twice; pass each backup once.", b);
                    }
                }
                var decisions = new List<RetentionDecision>();
                PlanDatabase(group.Where(b => b.Emergency == null).ToList(), policy, now, verifiedPassedIds, pinned, decisions, "");
                PlanDatabase(group.Where(b => b.Emergency != null).ToList(), policy, now, verifiedPassedIds, pinned, decisions, EmergencyPrefix);
                decisions.Sort((x, y) => NewestFirst.Compare(x.Backup, y.Backup));
                result.AddRange(decisions);
            }
            return result;
        }

        private static void PlanDatabase(List<BackupInfo> backups, RetentionPolicy policy, DateTimeOffset now,
            ISet<string> verifiedPassedIds, IDictionary<string, string> pinned, List<RetentionDecision> result, string prefix)
        {
            if (backups.Count == 0) return;
            backups.Sort(NewestFirst);

            int n = backups.Count;
            // Protections and rule reasons are collected apart so the Reason lists protections first.
            var protections = new List<string>[n];
            var reasons = new List<string>[n];
            for (int i = 0; i < n; i++)
            {
                protections[i] = new List<string>(2);
                reasons[i] = new List<string>(4);
            }

            // Backups dated after now: kept, and left out of everything below except the verified/pinned protections.
            int firstPast = 0;
            while (firstPast < n && backups[firstPast].CreatedAt > now) firstPast++;

            if (firstPast < n) protections[firstPast].Add(NewestReason);

            if (verifiedPassedIds != null && verifiedPassedIds.Count > 0)
            {
                for (int i = 0; i < n; i++)
                {
                    if (verifiedPassedIds.Contains(backups[i].Id))
                    {
                        protections[i].Add(NewestVerifiedReason);
                        break;
                    }
                }
            }

            if (pinned != null && pinned.Count > 0)
            {
                for (int i = 0; i < n; i++)
                {
                    if (pinned.TryGetValue(backups[i].Id, out string why))
                    {
                        protections[i].Add(string.IsNullOrWhiteSpace(why) ? PinnedDefaultReason : why.Trim());
                    }
                }
            }

            for (int i = 0; i < firstPast; i++) protections[i].Add(ClockSkewReason);

            if (policy.MinimumAge > TimeSpan.Zero)
            {
                string young = "younger than " + RetentionPolicy.FormatDuration(policy.MinimumAge);
                for (int i = firstPast; i < n; i++)
                {
                    if (now - backups[i].CreatedAt < policy.MinimumAge) protections[i].Add(young);
                    else break; // sorted newest first: the rest are older
                }
            }

            for (int i = firstPast, k = 1; i < n && k <= policy.KeepLast; i++, k++)
            {
                reasons[i].Add("last " + k.ToString(CultureInfo.InvariantCulture));
            }

            KeepNewestPerPeriod(backups, firstPast, policy.Daily, "daily ", utc => utc.Ticks / TimeSpan.TicksPerDay,
                utc => utc.ToString("yyyy'-'MM'-'dd", CultureInfo.InvariantCulture), reasons);
            KeepNewestPerPeriod(backups, firstPast, policy.Weekly, "weekly ", WeekKey, IsoWeek.Format, reasons);
            KeepNewestPerPeriod(backups, firstPast, policy.Monthly, "monthly ", utc => utc.Year * 12L + utc.Month,
                utc => utc.ToString("yyyy'-'MM", CultureInfo.InvariantCulture), reasons);

            string removeReason = "not kept by any rule (" + string.Format(CultureInfo.InvariantCulture,
                "daily {0}, weekly {1}, monthly {2}, last {3}", policy.Daily, policy.Weekly, policy.Monthly, policy.KeepLast) + ")";

            for (int i = 0; i < n; i++)
            {
                var b = backups[i];
                protections[i].AddRange(reasons[i]);
                bool keep = protections[i].Count > 0;
                result.Add(new RetentionDecision
                {
                    Backup = b,
                    Database = b.Database,
                    Id = b.Id,
                    CreatedAt = b.CreatedAt,
                    Keep = keep,
                    Reason = prefix + (keep ? string.Join("; ", protections[i]) : removeReason),
                });
            }
        }

        /// <summary>
        /// Marks the newest backup of each of the <paramref name="count"/> most recent periods that have a backup.
        /// The list is sorted newest first and periods follow time, so each period is one run of the list.
        /// </summary>
        private static void KeepNewestPerPeriod(List<BackupInfo> backups, int start, int count, string label,
            Func<DateTime, long> periodOf, Func<DateTime, string> nameOf, List<string>[] reasons)
        {
            if (count <= 0) return;
            long current = long.MinValue;
            int periods = 0;
            for (int i = start; i < backups.Count; i++)
            {
                DateTime utc = backups[i].CreatedAt.UtcDateTime;
                long period = periodOf(utc);
                if (period == current) continue;
                current = period;
                reasons[i].Add(label + nameOf(utc));
                if (++periods == count) return;
            }
        }

        private static long WeekKey(DateTime utc)
        {
            IsoWeek.Get(utc, out int year, out int week);
            return year * 100L + week;
        }

        private sealed class NewestFirstComparer : IComparer<BackupInfo>
        {
            public int Compare(BackupInfo x, BackupInfo y)
            {
                if (ReferenceEquals(x, y)) return 0;
                if (x == null) return 1;
                if (y == null) return -1;
                int c = y.CreatedAt.UtcTicks.CompareTo(x.CreatedAt.UtcTicks);
                return c != 0 ? c : string.CompareOrdinal(y.Id, x.Id);
            }
        }
    }
}
