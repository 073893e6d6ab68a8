using System;
using System.Collections.Generic;
using System.Linq;

namespace TursoBackup
{
    public enum VaultSyncAction
    {
        Copied,
        Skipped,
        Failed,
        /// <summary>-WhatIf: would be copied.</summary>
        WouldCopy,
    }

    /// <summary>One object of a <see cref="VaultSyncResult"/>.</summary>
    public sealed class VaultSyncItem
    {
        public string Key { get; set; }
        public VaultSyncAction Action { get; set; }
        public long Bytes { get; set; }
        /// <summary>Why it failed (a failure), or why it was skipped ("present").</summary>
        public string Reason { get; set; }
        /// <summary>The stable id of the failure (SourceDamaged, ChecksumMismatch, …); null when none.</summary>
        public string ErrorId { get; set; }

        public override string ToString() => Action + " " + Key;
    }

    /// <summary>What Sync-TursoVault (or Copy-TursoBackup) did from one vault to another.</summary>
    public sealed class VaultSyncResult
    {
        public string Source { get; set; }
        public string Destination { get; set; }
        public int Copied { get; set; }
        public int Skipped { get; set; }
        public int Failed { get; set; }
        /// <summary>Bytes copied (not skipped).</summary>
        public long Bytes { get; set; }
        public TimeSpan Duration { get; set; }
        /// <summary>Backups (database/id) whose every file is now at the destination.</summary>
        public string[] Backups { get; set; } = new string[0];
        public bool WhatIf { get; set; }
        public List<VaultSyncItem> Items { get; set; } = new List<VaultSyncItem>();

        /// <summary>Bytes per second over <see cref="Duration"/>.</summary>
        public double BytesPerSecond => Duration.TotalSeconds > 0 ? Bytes / Duration.TotalSeconds : 0;

        public IEnumerable<VaultSyncItem> FailedItems => Items.Where(i => i.Action == VaultSyncAction.Failed);

        public override string ToString() => $"{Source} -> {Destination}: {Copied} copied, {Skipped} skipped, {Failed} failed";
    }
}
