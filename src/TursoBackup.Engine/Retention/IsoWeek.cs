using System;
using System.Globalization;

namespace TursoBackup.Engine.Retention
{
    /// <summary>
    /// ISO-8601 week numbers (netstandard2.0 has no <c>System.Globalization.ISOWeek</c>). Weeks start on Monday; week 1
    /// of a week-year is the week holding that year's first Thursday, so a week belongs to the year its Thursday is in.
    /// Hence 2026-12-31 (Thursday) to 2027-01-03 (Sunday) are 2026-W53, 2027-01-04 is 2027-W01, and 2024-12-30
    /// (Monday) is already 2025-W01. A year has 53 weeks when it starts on a Thursday, or is a leap year starting on a
    /// Wednesday.
    /// </summary>
    public static class IsoWeek
    {
        /// <summary>The ISO week-year and week (1..53) of a calendar date; the time of day and Kind are ignored.</summary>
        public static void Get(DateTime date, out int weekYear, out int week)
        {
            // Monday = 1 .. Sunday = 7.
            int isoDay = date.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)date.DayOfWeek;
            // The Thursday of the same Monday-to-Sunday week decides the week-year. No overflow at the ends of DateTime:
            // 0001-01-01 is a Monday (+3 days) and 9999-12-31 a Friday (-1 day).
            DateTime thursday = date.Date.AddDays(4 - isoDay);
            weekYear = thursday.Year;
            week = (thursday.DayOfYear - 1) / 7 + 1;
        }

        /// <summary>The ISO week number (1..53) of a calendar date.</summary>
        public static int GetWeekOfYear(DateTime date)
        {
            Get(date, out _, out int week);
            return week;
        }

        /// <summary>The ISO week-year of a calendar date (differs from <see cref="DateTime.Year"/> around 1 January).</summary>
        public static int GetYear(DateTime date)
        {
            Get(date, out int year, out _);
            return year;
        }

        /// <summary>52 or 53: the number of ISO weeks in a week-year.</summary>
        public static int GetWeeksInYear(int weekYear)
        {
            if (weekYear < 1 || weekYear > 9999) throw new ArgumentOutOfRangeException(nameof(weekYear));
            // 28 December is always in the last week of its week-year.
            return GetWeekOfYear(new DateTime(weekYear, 12, 28));
        }

        /// <summary>The Monday that starts the given ISO week.</summary>
        public static DateTime GetMonday(int weekYear, int week)
        {
            if (week < 1 || week > GetWeeksInYear(weekYear)) throw new ArgumentOutOfRangeException(nameof(week));
            // 4 January is always in week 1.
            var jan4 = new DateTime(weekYear, 1, 4);
            int isoDay = jan4.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)jan4.DayOfWeek;
            return jan4.AddDays(1 - isoDay + (week - 1) * 7);
        }

        /// <summary>"2026-W53": the week of a calendar date in ISO-8601 notation.</summary>
        public static string Format(DateTime date)
        {
            Get(date, out int year, out int week);
            return year.ToString("D4", CultureInfo.InvariantCulture) + "-W" + week.ToString("D2", CultureInfo.InvariantCulture);
        }
    }
}
