using System;

namespace TursoBackup
{
    /// <summary>What a restore produced.</summary>
    public sealed class RestoreResult
    {
        public string Destination { get; set; }
        public string Database { get; set; }
        /// <summary>The backup (or, for point-in-time restores, the restore point) that was used.</summary>
        public object Source { get; set; }
        public DateTimeOffset PointInTime { get; set; }
        public TimeSpan Duration { get; set; }
        public long Bytes { get; set; }
        /// <summary>The backup taken of the destination before it was overwritten, else null.</summary>
        public BackupInfo EmergencyBackup { get; set; }
        /// <summary>Where a replaced file that could not be backed up (not a database, hot journal) was kept, else null.</summary>
        public string ReplacedFileKeptAt { get; set; }
        /// <summary>The existing database was rewritten in place under its write lock (connections open on it see the restored content).</summary>
        public bool ReplacedInPlace { get; set; }
    }
}
