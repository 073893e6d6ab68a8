using System;

namespace TursoBackup.Engine.Backup
{
    /// <summary>What to back up and how.</summary>
    public sealed class BackupRequest
    {
        public string SourcePath { get; set; }

        /// <summary>A remote libSQL / Turso database (libsql://, https://, http://) instead of <see cref="SourcePath"/>: always a Dump.</summary>
        public string SourceUrl { get; set; }

        /// <summary>The bearer token for <see cref="SourceUrl"/> (never logged or stored).</summary>
        public string AuthToken { get; set; }
        public string VaultPath { get; set; }
        /// <summary>Name in the vault; defaults to the file's base name (main.db → main).</summary>
        public string Name { get; set; }
        public CompressionKind Compression { get; set; } = CompressionKind.Zstd;
        /// <summary>Snapshot (a SQLite file) or Dump (SQL text that sqlite3 loads).</summary>
        public BackupKind Kind { get; set; } = BackupKind.Snapshot;
        public BackupTier Tier { get; set; } = BackupTier.General;
        public string[] Tags { get; set; } = new string[0];
        /// <summary>
        /// Marks the backup as an emergency backup (the database about to be replaced): written to the manifest, and
        /// the tag "emergency" is added for older readers. Name-based selection skips such backups unless asked.
        /// </summary>
        public EmergencyInfo Emergency { get; set; }
        /// <summary>How the snapshot is copied (docs/decisions.md); PageCopy unless there is a reason not to.</summary>
        public SnapshotMethod Method { get; set; } = SnapshotMethod.PageCopy;

        /// <summary>
        /// Where a compressed snapshot's uncompressed copy (which the manifest's facts are read from) is made: a folder
        /// outside the vault, so the vault needs room only for what is stored. Null: the system temp folder (TMPDIR, TEMP),
        /// or the vault's staging folder when only the vault has room for it.
        /// </summary>
        public string ScratchPath { get; set; }

        /// <summary>
        /// Encrypts the artifact with OpenPGP (AES-256) for a passphrase and/or public keys; null or empty: not encrypted
        /// (refused by a vault whose vault.json says "encryption": "required").
        /// </summary>
        public Crypto.EncryptionKeys Encryption { get; set; }

        internal bool Encrypt => Encryption != null && Encryption.Any;

        /// <summary>How long to wait for another process's lock on the source.</summary>
        public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);
    }

    /// <summary>How a snapshot is copied while its read transaction is open.</summary>
    public enum SnapshotMethod
    {
        /// <summary>The database file and the WAL's committed frames, read directly in one sequential pass.</summary>
        PageCopy,
        /// <summary>SQLite's online backup API (sqlite3_backup_step), page by page through the pager.</summary>
        BackupApi,
    }

    /// <summary>Progress of one backup, reported by the engine to whoever shows it.</summary>
    public sealed class BackupProgress
    {
        public BackupProgress(string phase, long done, long total)
        {
            Phase = phase;
            Done = done;
            Total = total;
        }

        /// <summary>Copying, Compressing, Checksumming, Publishing.</summary>
        public string Phase { get; }
        public long Done { get; }
        public long Total { get; }
        public int Percent => Total <= 0 ? 0 : (int)Math.Min(100, Done * 100 / Total);
    }
}
