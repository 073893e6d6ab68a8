using System.Globalization;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Retention;

namespace TursoBackup.Tests;

public sealed class RetentionTests
{
    private static readonly RetentionPolicy Gfs = new RetentionPolicy(daily: 7, weekly: 4, monthly: 12);

    private static string IdAt(DateTimeOffset t, string suffix) =>
        t.UtcDateTime.ToString("yyyyMMdd'T'HHmmss.fff'Z'", CultureInfo.InvariantCulture) + "-" + suffix;

    private static BackupInfo B(DateTimeOffset t, string db = "main", string suffix = "000000", params string[] tags) => new BackupInfo
    {
        Id = IdAt(t, suffix),
        Database = db,
        Kind = BackupKind.Snapshot,
        CreatedAt = t,
        PointInTime = t,
        Tags = tags,
    };

    private static DateTimeOffset Utc(int y, int mo, int d, int h = 0, int mi = 0) => new DateTimeOffset(y, mo, d, h, mi, 0, TimeSpan.Zero);

    private static Dictionary<string, RetentionDecision> ById(IEnumerable<RetentionDecision> ds) => ds.ToDictionary(d => d.Id);

    // ---------------------------------------------------------------- two years of hourly backups

    /// <summary>
    /// Makes one backup an hour from <paramref name="first"/> for <paramref name="hours"/> hours, runs retention five
    /// minutes after each and removes what it says, checking the invariants at every step. Returns the survivors.
    /// </summary>
    private static List<BackupInfo> Simulate(RetentionPolicy policy, DateTimeOffset first, int hours,
        HashSet<string> verified = null, Dictionary<string, string> pinned = null,
        Action<int, BackupInfo, List<BackupInfo>> afterBackup = null, List<BackupInfo> all = null)
    {
        var vault = new List<BackupInfo>();
        int bound = policy.Daily + policy.Weekly + policy.Monthly + policy.KeepLast;
        for (int h = 0; h < hours; h++)
        {
            var t = first.AddHours(h);
            var b = B(t, suffix: h.ToString("x6", CultureInfo.InvariantCulture));
            vault.Add(b);
            all?.Add(b);
            afterBackup?.Invoke(h, b, vault);
            var now = t.AddMinutes(5);
            var plan = RetentionPlanner.Plan(vault, policy, now, verified, pinned);
            Assert.Equal(vault.Count, plan.Count);
            // The newest always stays.
            Assert.Equal(b.Id, plan[0].Id);
            Assert.True(plan[0].Keep);
            Assert.StartsWith("newest", plan[0].Reason);
            vault = plan.Where(d => d.Keep).Select(d => d.Backup).ToList();
            // Never more than the rules allow, plus the protections (the newest is covered by any nonzero rule).
            int extra = (bound == 0 ? 1 : 0) + (verified?.Count > 0 ? 1 : 0) + (pinned?.Count ?? 0);
            Assert.True(vault.Count <= bound + extra, $"{vault.Count} backups kept at {t:o}, bound {bound + extra}");
        }
        return vault;
    }

    /// <summary>The survivors computed from the calendar alone (System.Globalization.ISOWeek, not the engine's code).</summary>
    private static SortedSet<DateTimeOffset> ExpectedSurvivors(RetentionPolicy p, DateTimeOffset first, DateTimeOffset last)
    {
        var keep = new SortedSet<DateTimeOffset>();
        // An hourly series at minute first.Minute: the newest backup at or before an instant is the floor to that grid.
        DateTimeOffset NewestAtOrBefore(DateTimeOffset end)
        {
            if (end >= last) return last;
            long hoursBack = (long)Math.Ceiling((last - end).TotalHours);
            return last.AddHours(-hoursBack);
        }
        void Add(DateTimeOffset periodEndExclusive)
        {
            var t = NewestAtOrBefore(periodEndExclusive.AddTicks(-1));
            if (t >= first) keep.Add(t);
        }
        for (int i = 0; i < p.KeepLast; i++)
        {
            if (last.AddHours(-i) >= first) keep.Add(last.AddHours(-i));
        }
        var day = new DateTimeOffset(last.UtcDateTime.Date, TimeSpan.Zero);
        for (int i = 0; i < p.Daily; i++) Add(day.AddDays(-i + 1));
        var lastDate = last.UtcDateTime;
        var monday = new DateTimeOffset(ISOWeek.ToDateTime(ISOWeek.GetYear(lastDate), ISOWeek.GetWeekOfYear(lastDate), DayOfWeek.Monday), TimeSpan.Zero);
        for (int i = 0; i < p.Weekly; i++) Add(monday.AddDays(7 * (1 - i)));
        var month = new DateTimeOffset(lastDate.Year, lastDate.Month, 1, 0, 0, 0, TimeSpan.Zero);
        for (int i = 0; i < p.Monthly; i++) Add(month.AddMonths(1 - i));
        return keep;
    }

    private static readonly DateTimeOffset SimFirst = Utc(2025, 3, 1, 0, 15);
    // Two years and a few days: ends on Sunday 2027-01-03 23:15, the last day of 2026-W53 (2026 has 53 ISO weeks).
    private static readonly int SimHours = (int)(Utc(2027, 1, 3, 23, 15) - SimFirst).TotalHours + 1;

    [Theory]
    [InlineData(7, 4, 12, 0)]
    [InlineData(7, 4, 12, 3)]
    [InlineData(0, 0, 0, 5)]
    [InlineData(3, 0, 0, 0)]
    [InlineData(0, 2, 0, 0)]
    [InlineData(0, 0, 24, 0)]
    [InlineData(30, 10, 6, 48)]
    public void TwoYearsOfHourlyBackupsLeaveExactlyTheExpectedSurvivors(int daily, int weekly, int monthly, int last)
    {
        var policy = new RetentionPolicy(daily, weekly, monthly, last);
        var all = new List<BackupInfo>();
        var survivors = Simulate(policy, SimFirst, SimHours, all: all);
        var lastAt = SimFirst.AddHours(SimHours - 1);
        Assert.Equal(Utc(2027, 1, 3, 23, 15), lastAt);

        var expected = ExpectedSurvivors(policy, SimFirst, lastAt);
        Assert.Equal(expected.ToList(), survivors.Select(b => b.CreatedAt).OrderBy(t => t).ToList());

        // Removing step by step ends where one plan over the whole two years ends.
        var oneShot = RetentionPlanner.Plan(all, policy, lastAt.AddMinutes(5));
        Assert.Equal(survivors.Select(b => b.Id), oneShot.Where(d => d.Keep).Select(d => d.Id));
    }

    [Fact]
    public void GfsSevenFourTwelveSurvivorsAndReasonsAfterTwoYears()
    {
        var survivors = Simulate(Gfs, SimFirst, SimHours);
        var plan = RetentionPlanner.Plan(survivors, Gfs, Utc(2027, 1, 3, 23, 20));
        var got = plan.Select(d => d.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) + " " + d.Reason).ToList();
        var want = new List<string>
        {
            "2027-01-03 23:15 newest; daily 2027-01-03; weekly 2026-W53; monthly 2027-01",
            "2027-01-02 23:15 daily 2027-01-02",
            "2027-01-01 23:15 daily 2027-01-01",
            "2026-12-31 23:15 daily 2026-12-31; monthly 2026-12",
            "2026-12-30 23:15 daily 2026-12-30",
            "2026-12-29 23:15 daily 2026-12-29",
            "2026-12-28 23:15 daily 2026-12-28",
            "2026-12-27 23:15 weekly 2026-W52",
            "2026-12-20 23:15 weekly 2026-W51",
            "2026-12-13 23:15 weekly 2026-W50",
            "2026-11-30 23:15 monthly 2026-11",
            "2026-10-31 23:15 monthly 2026-10",
            "2026-09-30 23:15 monthly 2026-09",
            "2026-08-31 23:15 monthly 2026-08",
            "2026-07-31 23:15 monthly 2026-07",
            "2026-06-30 23:15 monthly 2026-06",
            "2026-05-31 23:15 monthly 2026-05",
            "2026-04-30 23:15 monthly 2026-04",
            "2026-03-31 23:15 monthly 2026-03",
            "2026-02-28 23:15 monthly 2026-02",
        };
        Assert.Equal(want, got);
        Assert.All(plan, d => Assert.True(d.Keep));
    }

    [Fact]
    public void NewestVerifiedSurvivesForMonthsUntilANewerOnePasses()
    {
        var verified = new HashSet<string>(StringComparer.Ordinal);
        string oldVerified = null, newVerified = null;
        int switchAt = SimHours - 100;
        var survivors = Simulate(Gfs, SimFirst, SimHours, verified: verified, afterBackup: (h, b, vault) =>
        {
            if (h == 2000) { oldVerified = b.Id; verified.Add(b.Id); }
            if (h == switchAt) { newVerified = b.Id; verified.Add(b.Id); }
            if (h > 2000 && h < switchAt) Assert.Contains(vault, x => x.Id == oldVerified);
        });
        Assert.DoesNotContain(survivors, b => b.Id == oldVerified);
        Assert.Contains(survivors, b => b.Id == newVerified);

        // Same run without the switch: the one verified backup, from 2025-05-24, is still there after two years.
        verified.Clear();
        var kept = Simulate(Gfs, SimFirst, SimHours, verified: verified, afterBackup: (h, b, _) => { if (h == 2000) verified.Add(b.Id); });
        var expected = ExpectedSurvivors(Gfs, SimFirst, SimFirst.AddHours(SimHours - 1));
        expected.Add(SimFirst.AddHours(2000));
        Assert.Equal(expected.ToList(), kept.Select(b => b.CreatedAt).OrderBy(t => t).ToList());
        var decision = RetentionPlanner.Plan(kept, Gfs, SimFirst.AddHours(SimHours), verified).Single(d => d.CreatedAt == SimFirst.AddHours(2000));
        Assert.Equal("newest verified", decision.Reason);
    }

    [Fact]
    public void PinnedBackupsSurviveWithTheirReason()
    {
        var pinned = new Dictionary<string, string>(StringComparer.Ordinal);
        var survivors = Simulate(Gfs, SimFirst, SimHours, pinned: pinned, afterBackup: (h, b, _) =>
        {
            if (h == 3000) pinned[b.Id] = "needed by WAL generation 3";
            if (h == 3001) pinned[b.Id] = "";
        });
        var expected = ExpectedSurvivors(Gfs, SimFirst, SimFirst.AddHours(SimHours - 1));
        expected.Add(SimFirst.AddHours(3000));
        expected.Add(SimFirst.AddHours(3001));
        Assert.Equal(expected.ToList(), survivors.Select(b => b.CreatedAt).OrderBy(t => t).ToList());
        var plan = ById(RetentionPlanner.Plan(survivors, Gfs, SimFirst.AddHours(SimHours), pinned: pinned));
        Assert.Equal("needed by WAL generation 3", plan[IdAt(SimFirst.AddHours(3000), 3000.ToString("x6"))].Reason);
        Assert.Equal("pinned", plan[IdAt(SimFirst.AddHours(3001), 3001.ToString("x6"))].Reason);
    }

    // ---------------------------------------------------------------- reasons

    [Fact]
    public void ABackupKeptBySeveralRulesListsThemAll()
    {
        var newest = B(Utc(2026, 11, 23, 10), suffix: "ffffff");
        var older = B(Utc(2026, 11, 23, 9), suffix: "eeeeee");
        var policy = new RetentionPolicy(7, 4, 12, keepLast: 1);
        var plan = RetentionPlanner.Plan(new[] { older, newest }, policy, Utc(2026, 11, 23, 11));
        Assert.Equal("newest; last 1; daily 2026-11-23; weekly 2026-W48; monthly 2026-11", plan[0].Reason);
        Assert.Equal("Keep", plan[0].Action);
        Assert.False(plan[1].Keep);
        Assert.Equal("Remove", plan[1].Action);
        Assert.Equal("not kept by any rule (daily 7, weekly 4, monthly 12, last 1)", plan[1].Reason);

        plan = RetentionPlanner.Plan(new[] { older, newest }, policy, Utc(2026, 11, 23, 11),
            new HashSet<string> { newest.Id, older.Id }, new Dictionary<string, string> { [newest.Id] = "needed by WAL generation 3" });
        Assert.Equal("newest; newest verified; needed by WAL generation 3; last 1; daily 2026-11-23; weekly 2026-W48; monthly 2026-11", plan[0].Reason);
        Assert.Equal("not kept by any rule (daily 7, weekly 4, monthly 12, last 1)", plan[1].Reason);

        Assert.Equal("not kept by any rule (daily 7, weekly 4, monthly 12, last 0)",
            RetentionPlanner.Plan(new[] { older, newest }, Gfs, Utc(2026, 11, 24)).Single(d => !d.Keep).Reason);
    }

    [Fact]
    public void DecisionsCarryTheBackup()
    {
        var b = B(Utc(2026, 1, 1), db: "orders");
        var d = RetentionPlanner.Plan(new[] { b }, Gfs, Utc(2026, 1, 2)).Single();
        Assert.Same(b, d.Backup);
        Assert.Equal("orders", d.Database);
        Assert.Equal(b.Id, d.Id);
        Assert.Equal(b.CreatedAt, d.CreatedAt);
        Assert.False(d.Removed);
    }

    // ---------------------------------------------------------------- protections

    [Fact]
    public void AllRulesZeroKeepsOnlyTheProtectedBackups()
    {
        var none = new RetentionPolicy();
        Assert.True(none.KeepsOnlyProtected);
        Assert.False(Gfs.KeepsOnlyProtected);
        var backups = Enumerable.Range(0, 10).Select(i => B(Utc(2026, 1, 1).AddDays(i))).ToList();
        var plan = RetentionPlanner.Plan(backups, none, Utc(2026, 2, 1),
            new HashSet<string> { backups[3].Id, backups[2].Id }, new Dictionary<string, string> { [backups[5].Id] = "needed by WAL generation 1" });
        Assert.Equal(new[] { backups[9].Id, backups[5].Id, backups[3].Id }, plan.Where(d => d.Keep).Select(d => d.Id));
        Assert.Equal(new[] { "newest", "needed by WAL generation 1", "newest verified" }, plan.Where(d => d.Keep).Select(d => d.Reason));
        Assert.All(plan.Where(d => !d.Keep), d => Assert.Equal("not kept by any rule (daily 0, weekly 0, monthly 0, last 0)", d.Reason));
    }

    [Fact]
    public void BackupsNewerThanNowAreKeptAndTakeNoSlot()
    {
        var now = Utc(2026, 6, 10, 12);
        var future = B(now.AddHours(3), suffix: "aaaaaa");
        var today = B(now.AddHours(-1), suffix: "bbbbbb");
        var yesterday = B(now.AddDays(-1), suffix: "cccccc");
        var twoDaysAgo = B(now.AddDays(-2), suffix: "dddddd");
        var input = new[] { yesterday, future, twoDaysAgo, today };

        var plan = RetentionPlanner.Plan(input, new RetentionPolicy(daily: 2, weekly: 0, monthly: 0), now);
        Assert.Equal(new[] { future.Id, today.Id, yesterday.Id, twoDaysAgo.Id }, plan.Select(d => d.Id));
        Assert.Equal("newer than now (clock skew)", plan[0].Reason);
        Assert.Equal("newest; daily 2026-06-10", plan[1].Reason);
        Assert.Equal("daily 2026-06-09", plan[2].Reason);
        Assert.False(plan[3].Keep);

        // Only protections: the future one and the newest real one both stay.
        plan = RetentionPlanner.Plan(input, new RetentionPolicy(), now);
        Assert.Equal(new[] { future.Id, today.Id }, plan.Where(d => d.Keep).Select(d => d.Id));
        Assert.Equal(new[] { "newer than now (clock skew)", "newest" }, plan.Where(d => d.Keep).Select(d => d.Reason));

        // A verified future backup says both.
        plan = RetentionPlanner.Plan(input, new RetentionPolicy(), now, new HashSet<string> { future.Id });
        Assert.Equal("newest verified; newer than now (clock skew)", plan[0].Reason);
    }

    [Fact]
    public void MinimumAgeProtectsYoungBackups()
    {
        var now = Utc(2026, 6, 10, 12);
        var ages = new[] { 10, 30, 59, 60, 61, 180 };
        var backups = ages.Select((m, i) => B(now.AddMinutes(-m), suffix: i.ToString("x6"))).ToList();
        var policy = new RetentionPolicy { KeepLast = 1, MinimumAge = TimeSpan.FromHours(1) };
        Assert.Equal("daily 0, weekly 0, monthly 0, last 1, minimum age 1h", policy.ToString());
        var plan = RetentionPlanner.Plan(backups, policy, now);
        Assert.Equal(new[] { "newest; younger than 1h; last 1", "younger than 1h", "younger than 1h" }, plan.Take(3).Select(d => d.Reason));
        Assert.All(plan.Skip(3), d => Assert.False(d.Keep));
        // Idempotent with the same now.
        Assert.All(RetentionPlanner.Plan(plan.Where(d => d.Keep).Select(d => d.Backup), policy, now), d => Assert.True(d.Keep));
        // Later, the young ones age out.
        Assert.Single(RetentionPlanner.Plan(backups, policy, now.AddHours(2)), d => d.Keep);
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(3600, "1h")]
    [InlineData(5400, "1h30m")]
    [InlineData(90, "1m30s")]
    [InlineData(129600, "1d12h")]
    public void DurationsAreShort(int seconds, string text) => Assert.Equal(text, RetentionPolicy.FormatDuration(TimeSpan.FromSeconds(seconds)));

    // ---------------------------------------------------------------- period semantics

    [Fact]
    public void DailyKeepsTheLastDaysThatHaveBackupsEvenAfterTheyStop()
    {
        // One backup a day, 1..10 January, then nothing for three weeks.
        var backups = Enumerable.Range(1, 10).Select(d => B(Utc(2026, 1, d, 2))).ToList();
        var plan = RetentionPlanner.Plan(backups, new RetentionPolicy(daily: 7, weekly: 0, monthly: 0), Utc(2026, 1, 31));
        Assert.Equal(Enumerable.Range(4, 7).Reverse().Select(d => B(Utc(2026, 1, d, 2)).Id), plan.Where(d => d.Keep).Select(d => d.Id));
        // Running it every day of the gap changes nothing.
        for (int day = 11; day <= 31; day++)
        {
            Assert.Equal(7, RetentionPlanner.Plan(backups, new RetentionPolicy(7, 0, 0), Utc(2026, 1, day)).Count(d => d.Keep));
        }
    }

    [Fact]
    public void WeeksFollowIsoNumberingAcrossTheYearEnd()
    {
        // Noon every day from Saturday 2026-12-26 to Wednesday 2027-01-06.
        var backups = Enumerable.Range(0, 12).Select(i => B(Utc(2026, 12, 26, 12).AddDays(i))).ToList();
        var plan = RetentionPlanner.Plan(backups, new RetentionPolicy(daily: 0, weekly: 3, monthly: 2), Utc(2027, 1, 6, 13));
        var kept = plan.Where(d => d.Keep).Select(d => d.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + " " + d.Reason).ToList();
        Assert.Equal(new[]
        {
            "2027-01-06 newest; weekly 2027-W01; monthly 2027-01",
            "2027-01-03 weekly 2026-W53",      // Sunday: Monday 2026-12-28 to Sunday 2027-01-03 is one week
            "2026-12-31 monthly 2026-12",
            "2026-12-27 weekly 2026-W52",
        }, kept);
    }

    [Theory]
    [InlineData(2026, 12, 31, "2026-W53")] // Thursday: 2026 has 53 weeks
    [InlineData(2027, 1, 1, "2026-W53")]
    [InlineData(2027, 1, 3, "2026-W53")]
    [InlineData(2027, 1, 4, "2027-W01")]
    [InlineData(2026, 12, 28, "2026-W53")]
    [InlineData(2026, 12, 27, "2026-W52")]
    [InlineData(2024, 12, 30, "2025-W01")] // Monday in December, already next week-year
    [InlineData(2021, 1, 3, "2020-W53")]
    [InlineData(2026, 1, 1, "2026-W01")] // a Thursday
    [InlineData(2026, 11, 23, "2026-W48")]
    [InlineData(2016, 1, 1, "2015-W53")]
    [InlineData(2032, 12, 31, "2032-W53")] // leap year starting on Thursday
    public void IsoWeekOfKnownDates(int y, int m, int d, string week) => Assert.Equal(week, IsoWeek.Format(new DateTime(y, m, d)));

    [Fact]
    public void IsoWeekMatchesTheFrameworkForEveryDayOfThreeCenturies()
    {
        Assert.Equal(DayOfWeek.Thursday, new DateTime(2026, 12, 31).DayOfWeek);
        Assert.Equal(53, IsoWeek.GetWeeksInYear(2026));
        for (var d = new DateTime(1900, 1, 1); d < new DateTime(2200, 1, 1); d = d.AddDays(1))
        {
            IsoWeek.Get(d.AddHours(23.99), out int year, out int week);
            Assert.Equal(ISOWeek.GetYear(d), year);
            Assert.Equal(ISOWeek.GetWeekOfYear(d), week);
        }
        for (int y = 1900; y < 2200; y++)
        {
            Assert.Equal(ISOWeek.GetWeeksInYear(y), IsoWeek.GetWeeksInYear(y));
            Assert.Equal(ISOWeek.ToDateTime(y, 1, DayOfWeek.Monday), IsoWeek.GetMonday(y, 1));
            Assert.Equal(ISOWeek.ToDateTime(y, ISOWeek.GetWeeksInYear(y), DayOfWeek.Monday), IsoWeek.GetMonday(y, IsoWeek.GetWeeksInYear(y)));
        }
        foreach (var edge in new[] { DateTime.MinValue, DateTime.MaxValue })
        {
            Assert.Equal(ISOWeek.GetWeekOfYear(edge), IsoWeek.GetWeekOfYear(edge));
            Assert.Equal(ISOWeek.GetYear(edge), IsoWeek.GetYear(edge));
        }
    }

    [Fact]
    public void PeriodsAreUtcWhateverTheOffsetAndDaylightSavingTime()
    {
        // Hourly around the EU switch to summer time (2026-03-29 01:00Z), written as Central European local time:
        // +01:00 before the switch, +02:00 after; the same instants in UTC must get the same decisions.
        var switchAt = Utc(2026, 3, 29, 1);
        var instants = Enumerable.Range(-72, 144).Select(h => switchAt.AddHours(h).AddMinutes(30)).ToList();
        var local = instants.Select((t, i) => { var b = B(t, suffix: i.ToString("x6")); b.CreatedAt = t.ToOffset(TimeSpan.FromHours(t < switchAt ? 1 : 2)); return b; }).ToList();
        var utc = instants.Select((t, i) => B(t, suffix: i.ToString("x6"))).ToList();
        var policy = new RetentionPolicy(daily: 5, weekly: 2, monthly: 2);
        var now = instants.Last().AddMinutes(1);
        var a = RetentionPlanner.Plan(local, policy, now.ToOffset(TimeSpan.FromHours(-7)));
        var b = RetentionPlanner.Plan(utc, policy, now);
        Assert.Equal(b.Select(d => d.Id + d.Action + d.Reason), a.Select(d => d.Id + d.Action + d.Reason));
        // 24 backups on every UTC day, one kept per day: 00:30+01:00 on the 29th local time is 23:30 on the 28th UTC.
        var keptDaily = a.Where(d => d.Keep && d.Reason.Contains("daily ")).ToList();
        Assert.Equal(5, keptDaily.Count);
        Assert.Contains(keptDaily, d => d.CreatedAt == new DateTimeOffset(2026, 3, 29, 0, 30, 0, TimeSpan.FromHours(1)) && d.Reason == "daily 2026-03-28");
        Assert.All(keptDaily.Skip(1), d => Assert.Equal(23, d.CreatedAt.UtcDateTime.Hour));
    }

    // ---------------------------------------------------------------- ordering, determinism, independence

    [Fact]
    public void EqualTimestampsAreBrokenById()
    {
        var t = Utc(2026, 5, 5, 5);
        var a = B(t, suffix: "aaaaaa");
        var b = B(t, suffix: "bbbbbb");
        foreach (var input in new[] { new[] { a, b }, new[] { b, a } })
        {
            var plan = RetentionPlanner.Plan(input, new RetentionPolicy(daily: 1, weekly: 0, monthly: 0, keepLast: 1), t);
            Assert.Equal(new[] { b.Id, a.Id }, plan.Select(d => d.Id));
            Assert.Equal("newest; last 1; daily 2026-05-05", plan[0].Reason);
            Assert.False(plan[1].Keep);
        }
        // Offsets do not matter for equality of instants.
        var c = B(t, suffix: "cccccc");
        c.CreatedAt = t.ToOffset(TimeSpan.FromHours(5));
        Assert.Equal(c.Id, RetentionPlanner.Plan(new[] { c, a, b }, new RetentionPolicy(), t)[0].Id);
    }

    private static List<BackupInfo> RandomVault(int seed)
    {
        var rng = new Random(seed);
        var dbs = new[] { "main", "orders", "Audit" };
        return Enumerable.Range(0, 600).Select(i =>
        {
            var t = Utc(2025, 1, 1).AddMinutes(rng.Next(0, 60 * 24 * 420));
            if (i % 50 == 0) t = Utc(2025, 6, 1); // some equal timestamps
            return B(t, dbs[rng.Next(dbs.Length)], i.ToString("x6"), i % 7 == 0 ? new[] { "emergency" } : new string[0]);
        }).ToList();
    }

    [Fact]
    public void PlansAreDeterministicWhateverTheInputOrderAndIdempotent()
    {
        var vault = RandomVault(42);
        var now = Utc(2026, 3, 1);
        var verified = new HashSet<string>(vault.Where((b, i) => i % 97 == 0).Select(b => b.Id));
        var pinned = vault.Where((b, i) => i % 131 == 0).ToDictionary(b => b.Id, b => "needed by WAL generation 7");
        var policy = new RetentionPolicy(7, 4, 12, 2) { MinimumAge = TimeSpan.FromDays(3) };
        string Render(IEnumerable<RetentionDecision> ds) => string.Join("\n", ds.Select(d => $"{d.Database}/{d.Id} {d.Action} {d.Reason}"));

        var plan = RetentionPlanner.Plan(vault, policy, now, verified, pinned);
        string first = Render(plan);
        var rng = new Random(7);
        for (int i = 0; i < 20; i++)
        {
            var shuffled = vault.OrderBy(_ => rng.Next()).ToList();
            Assert.Equal(first, Render(RetentionPlanner.Plan(shuffled, policy, now, verified, pinned)));
        }

        // Grouped by database in ordinal order, newest first within each.
        Assert.Equal(new[] { "Audit", "main", "orders" }, plan.Select(d => d.Database).Distinct());
        foreach (var g in plan.GroupBy(d => d.Database))
        {
            var list = g.ToList();
            for (int i = 1; i < list.Count; i++)
            {
                Assert.True(list[i - 1].CreatedAt > list[i].CreatedAt
                    || (list[i - 1].CreatedAt == list[i].CreatedAt && string.CompareOrdinal(list[i - 1].Id, list[i].Id) > 0));
            }
            Assert.StartsWith("newest", list[0].Reason);
        }
        Assert.Contains(plan, d => !d.Keep);

        // Planning again on the survivors removes nothing and gives the same reasons.
        var survivors = plan.Where(d => d.Keep).ToList();
        var again = RetentionPlanner.Plan(survivors.Select(d => d.Backup).Reverse(), policy, now, verified, pinned);
        Assert.Equal(Render(survivors), Render(again));
    }

    [Fact]
    public void DatabasesAreDecidedIndependently()
    {
        var old = Enumerable.Range(0, 5).Select(i => B(Utc(2025, 1, 1).AddDays(i), "archive")).ToList();
        var recent = Enumerable.Range(0, 48).Select(i => B(Utc(2026, 6, 1).AddHours(i), "main")).ToList();
        var policy = new RetentionPolicy(daily: 2, weekly: 0, monthly: 0);
        var alone = RetentionPlanner.Plan(old, policy, Utc(2026, 6, 3));
        var together = RetentionPlanner.Plan(recent.Concat(old), policy, Utc(2026, 6, 3));
        Assert.Equal(alone.Select(d => d.Id + d.Reason), together.Where(d => d.Database == "archive").Select(d => d.Id + d.Reason));
        Assert.Equal(new[] { "newest; daily 2025-01-05", "daily 2025-01-04" }, together.Where(d => d.Database == "archive" && d.Keep).Select(d => d.Reason));
        Assert.Equal(2, together.Count(d => d.Database == "main" && d.Keep));
    }

    /// <summary>
    /// The planner goes by BackupInfo.Emergency (the manifest reader sets it, also for older manifests tagged
    /// "emergency"); a tag on an object alone changes nothing. Emergency backups proper: Safety/VaultSafetyTests.
    /// </summary>
    [Fact]
    public void ATagAloneFollowsTheSameRules()
    {
        var regular = B(Utc(2026, 2, 2, 23), suffix: "bbbbbb");
        var emergency = B(Utc(2026, 2, 2, 10), "main", "aaaaaa", "emergency");
        var plan = RetentionPlanner.Plan(new[] { emergency, regular }, new RetentionPolicy(daily: 7, weekly: 0, monthly: 0), Utc(2026, 2, 3));
        Assert.False(plan.Single(d => d.Id == emergency.Id).Keep);
        // Newest of its day: kept like any other.
        plan = RetentionPlanner.Plan(new[] { emergency, B(Utc(2026, 2, 1, 23)) }, new RetentionPolicy(daily: 7, weekly: 0, monthly: 0), Utc(2026, 2, 3));
        Assert.Equal("newest; daily 2026-02-02", plan.Single(d => d.Id == emergency.Id).Reason);
    }

    // ---------------------------------------------------------------- bad input

    [Theory]
    [InlineData(-1, 0, 0, 0)]
    [InlineData(0, -1, 0, 0)]
    [InlineData(0, 0, -1, 0)]
    [InlineData(0, 0, 0, -1)]
    public void NegativeCountsAreRejected(int daily, int weekly, int monthly, int last)
    {
        var ex = Assert.Throws<TursoBackupException>(() => RetentionPlanner.Plan(new[] { B(Utc(2026, 1, 1)) }, new RetentionPolicy(daily, weekly, monthly, last), Utc(2026, 1, 2)));
        Assert.Equal(FailureKind.InvalidArgument, ex.Kind);
        Assert.Contains("cannot be negative", ex.Message);
    }

    [Fact]
    public void BadInputIsAClearError()
    {
        var b = B(Utc(2026, 1, 1));
        Assert.Equal(FailureKind.InvalidArgument, Assert.Throws<TursoBackupException>(() =>
            RetentionPlanner.Plan(new[] { b }, new RetentionPolicy { MinimumAge = TimeSpan.FromHours(-1) }, Utc(2026, 1, 2))).Kind);
        Assert.Equal(FailureKind.InvalidArgument, Assert.Throws<TursoBackupException>(() =>
            RetentionPlanner.Plan(new[] { b, b }, Gfs, Utc(2026, 1, 2))).Kind);
        Assert.Equal(FailureKind.InvalidArgument, Assert.Throws<TursoBackupException>(() =>
            RetentionPlanner.Plan(new[] { new BackupInfo { Database = "main", CreatedAt = Utc(2026, 1, 1) } }, Gfs, Utc(2026, 1, 2))).Kind);
        Assert.Empty(RetentionPlanner.Plan(new BackupInfo[0], Gfs, Utc(2026, 1, 2)));
        // The same id in two databases is two backups.
        Assert.Equal(2, RetentionPlanner.Plan(new[] { B(Utc(2026, 1, 1), "a"), B(Utc(2026, 1, 1), "b") }, Gfs, Utc(2026, 1, 2)).Count(d => d.Keep));
    }
}
