using System;
using System.Linq;

namespace TursoBackup
{
    /// <summary>One check of a backup test.</summary>
    public sealed class CheckResult
    {
        public CheckResult() { }

        public CheckResult(string name, bool passed, string expected, string actual, string detail)
        {
            Name = name;
            Passed = passed;
            Expected = expected;
            Actual = actual;
            Detail = detail;
        }

        public string Name { get; set; }
        public bool Passed { get; set; }
        public string Expected { get; set; }
        public string Actual { get; set; }
        public string Detail { get; set; }

        public override string ToString() => (Passed ? "PASS " : "FAIL ") + Name + (Passed ? "" : ": " + Detail);
    }

    /// <summary>The outcome of restoring a backup into scratch space and checking it.</summary>
    public sealed class BackupTestResult
    {
        public string Database { get; set; }
        public BackupInfo Backup { get; set; }
        public bool Passed { get; set; }
        public CheckResult[] Checks { get; set; } = new CheckResult[0];
        public TimeSpan RestoreDuration { get; set; }
        public TimeSpan? RecoveryTimeObjective { get; set; }
        public bool? RtoMet { get; set; }
        public DateTimeOffset TestedAt { get; set; }
        /// <summary>Where the restored copy was kept (with -KeepRestored), else null.</summary>
        public string RestoredPath { get; set; }

        /// <summary>Names of the checks that failed, comma-separated (empty when all passed).</summary>
        public string FailedChecks => string.Join(", ", (Checks ?? new CheckResult[0]).Where(c => !c.Passed).Select(c => c.Name));
    }
}
