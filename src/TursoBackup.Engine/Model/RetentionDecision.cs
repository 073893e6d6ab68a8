using System;

namespace TursoBackup
{
    /// <summary>What retention decided for one backup, and why.</summary>
    public sealed class RetentionDecision
    {
        public BackupInfo Backup { get; set; }
        /// <summary>"Backup", or "WalGeneration" for a generation of the WAL archive (its snapshot and segments go together).</summary>
        public string Item { get; set; } = "Backup";
        public string Database { get; set; }
        public string Id { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
        /// <summary>True when the backup stays.</summary>
        public bool Keep { get; set; }
        /// <summary>"Keep" or "Remove".</summary>
        public string Action => Keep ? "Keep" : "Remove";
        /// <summary>The rules that keep it (e.g. "newest", "daily 2026-11-23", "weekly 2026-W47", "last 3"), or why it goes.</summary>
        public string Reason { get; set; }
        /// <summary>Set by the cmdlet once a Remove decision was carried out.</summary>
        public bool Removed { get; set; }
    }
}
