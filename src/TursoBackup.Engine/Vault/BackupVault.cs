using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Vault
{
    /// <summary>
    /// A backup repository on a local or UNC folder. Layout (docs/vault-format.md):
    /// <code>
    /// vault.json                                   format marker
    /// databases/&lt;database&gt;/&lt;backup id&gt;/manifest.json  the source of truth for one backup
    /// databases/&lt;database&gt;/&lt;backup id&gt;/&lt;artifact&gt;       e.g. main.db.gz
    /// .staging/                                    work in progress; never listed
    /// </code>
    /// A backup is built in .staging and published by renaming its folder into databases/, so a crash never leaves
    /// a half-written backup that Get-TursoBackup lists.
    /// </summary>
    public sealed class BackupVault
    {
        public const string MarkerFile = "vault.json";
        public const string DatabasesFolder = "databases";
        public const string StagingFolder = ".staging";
        public const int FormatVersion = 1;

        private BackupVault(string root)
        {
            Root = root;
        }

        public string Root { get; }

        public string DatabasesPath => Path.Combine(Root, DatabasesFolder);

        public string StagingPath => Path.Combine(Root, StagingFolder);

        /// <summary>Opens an existing vault for reading; a folder that is not a vault is a clear error.</summary>
        public static BackupVault OpenExisting(string root)
        {
            root = Path.GetFullPath(root);
            if (File.Exists(root))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, $"Vault '{root}' is a file, not a folder. Give the vault's folder.", root);
            }
            if (!Directory.Exists(root))
            {
                throw new TursoBackupException(FailureKind.NotFound,
                    $"Vault '{root}' does not exist. Check the path, or make a backup into it first with Backup-TursoDatabase -Vault '{root}'.", root);
            }
            if (!File.Exists(Path.Combine(root, MarkerFile)) && !Directory.Exists(Path.Combine(root, DatabasesFolder)))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{root}' is not a TursoBackup vault (it has no {MarkerFile}). Check the path.", root);
            }
            return new BackupVault(root);
        }

        /// <summary>Opens a vault for writing, creating it if needed. An unwritable location is a clear error.</summary>
        public static BackupVault OpenOrCreate(string root)
        {
            root = Path.GetFullPath(root);
            if (File.Exists(root))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, $"Vault '{root}' is a file, not a folder. Give a folder for the vault.", root);
            }
            try
            {
                OwnerOnly.CreateDirectory(root);
                OwnerOnly.CreateDirectory(Path.Combine(root, DatabasesFolder));
                OwnerOnly.CreateDirectory(Path.Combine(root, StagingFolder));
                string marker = Path.Combine(root, MarkerFile);
                if (!File.Exists(marker))
                {
                    DurableFile.WriteAllText(marker, Json.Write(new Dictionary<string, object>
                    {
                        ["format"] = "tursobackup-vault",
                        ["formatVersion"] = FormatVersion,
                        ["createdAt"] = BackupManifest.Time(DateTimeOffset.UtcNow),
                    }));
                }
                // Prove that files can be created here before any work is done.
                string probe = Path.Combine(root, StagingFolder, ".probe-" + Guid.NewGuid().ToString("N"));
                File.WriteAllBytes(probe, new byte[0]);
                File.Delete(probe);
            }
            catch (Exception ex) when (ex is UnauthorizedAccessException || ex is IOException || ex is NotSupportedException)
            {
                throw new TursoBackupException(FailureKind.PermissionDenied,
                    $"Vault '{root}' is not writable: {ex.Message} Choose a vault folder this account can write to, or grant it write access. Nothing was written.", root, ex);
            }
            return new BackupVault(root);
        }

        /// <summary>Checks a database name is usable as a vault folder name.</summary>
        public static string ValidateDatabaseName(string name)
        {
            if (string.IsNullOrWhiteSpace(name) || name == "." || name == ".." || name.StartsWith(".", StringComparison.Ordinal)
                || name.IndexOfAny(new[] { '/', '\\', ':', '*', '?', '"', '<', '>', '|' }) >= 0 || name.Any(char.IsControl) || name.Length > 200)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{name}' cannot be used as a database name in a vault: use letters, digits, '-', '_' or '.', not starting with '.'. Pass -Name to choose one.", name);
            }
            return name;
        }

        /// <summary>A new, time-sortable backup id: yyyyMMddTHHmmss.fffZ-xxxxxx.</summary>
        public static string NewBackupId(DateTimeOffset at) =>
            at.ToUniversalTime().ToString("yyyyMMdd'T'HHmmss.fff'Z'", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N").Substring(0, 6);

        /// <summary>
        /// Makes a private work folder <c>.staging/&lt;id&gt;</c>, owned through its lock file <c>.staging/.&lt;id&gt;.lock</c>
        /// for as long as the returned folder is not disposed (see <see cref="LockedFolder"/>). Disposing deletes what is
        /// left of it (nothing once <see cref="Publish"/> renamed it away) and releases the lock.
        /// </summary>
        public LockedFolder CreateStaging(string id, string purpose) =>
            LockedFolder.Take(StagingPath, id, purpose + " in vault " + Root);

        /// <summary>
        /// Publishes a finished staging folder as databases/&lt;database&gt;/&lt;id&gt; with one rename, then flushes the
        /// parent folder so the rename is durable.
        /// </summary>
        public string Publish(string stagingDirectory, string database, string id)
        {
            string dbDir = Path.Combine(DatabasesPath, database);
            if (!Directory.Exists(dbDir))
            {
                OwnerOnly.CreateDirectory(dbDir);
                DurableFile.FlushDirectory(DatabasesPath); // the new database folder itself must survive a power cut
            }
            string final = Path.Combine(dbDir, id);
            Directory.Move(stagingDirectory, final);
            DurableFile.FlushDirectory(dbDir);
            return final;
        }

        /// <summary>
        /// Removes the staging and removal folders whose owner is gone (a killed backup or removal), so interrupted work
        /// leaves no stray files after the next run: a folder goes only when its lock can be taken (its owner has exited,
        /// in whatever PID namespace or on whatever host it ran), or, without a lock file (made by a version before the
        /// locks), when nothing in it was written for <see cref="LockedFolder.UnlockedAge"/>.
        /// </summary>
        public int CleanAbandonedStaging() => LockedFolder.CleanAbandoned(StagingPath);

        /// <summary>
        /// Every backup whose manifest can be read, newest first. Unreadable manifests are reported through
        /// <paramref name="onDamaged"/> and skipped. Listing goes through each database's index (see
        /// <see cref="BackupIndex"/>), which is brought up to date with the manifests on the way.
        /// </summary>
        public List<BackupInfo> List(string database = null, Action<string, Exception> onDamaged = null)
        {
            var result = new List<BackupInfo>();
            if (!Directory.Exists(DatabasesPath)) return result;
            IEnumerable<string> dbDirs = database == null
                ? Directory.GetDirectories(DatabasesPath)
                : new[] { Path.Combine(DatabasesPath, database) }.Where(Directory.Exists);
            foreach (var dbDir in dbDirs)
            {
                result.AddRange(BackupIndex.Load(Root, dbDir, onDamaged));
            }
            return result.OrderByDescending(b => b.CreatedAt).ThenByDescending(b => b.Id, StringComparer.Ordinal).ToList();
        }

        /// <summary>
        /// Removes a backup: its folder is first renamed into .staging (so it disappears from listings at once, and a
        /// crash half-way leaves only an abandoned staging folder), then deleted.
        /// </summary>
        public void Remove(BackupInfo backup)
        {
            string folder = Path.Combine(DatabasesPath, backup.Database, backup.Id);
            if (!Directory.Exists(folder))
            {
                throw new TursoBackupException(FailureKind.NotFound,
                    $"Backup {backup.Id} of '{backup.Database}' is not in vault '{Root}' (already removed?). List what is there with Get-TursoBackup -Vault '{Root}'.", backup.Id);
            }
            using (var trash = LockedFolder.Take(StagingPath, "removing-" + backup.Id, $"removal of backup {backup.Id} of '{backup.Database}' in vault {Root}", create: false))
            {
                Directory.Move(folder, trash.Path);
                DurableFile.FlushDirectory(Path.Combine(DatabasesPath, backup.Database));
                Directory.Delete(trash.Path, true);
            }
        }

        public IEnumerable<string> DatabaseNames() =>
            Directory.Exists(DatabasesPath)
                ? Directory.GetDirectories(DatabasesPath).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal)
                : Enumerable.Empty<string>();
    }
}
