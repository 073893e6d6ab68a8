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
                    $"Vault '{root}' does not exist. Check the path, or make a backup into it first with Backup-TursoDatabase -Vault '{root}'.", root) { ErrorId = "VaultNotFound" };
            }
            if (!File.Exists(Path.Combine(root, MarkerFile)) && !Directory.Exists(Path.Combine(root, DatabasesFolder)))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{root}' is not a TursoBackup vault (it has no {MarkerFile}). Check the path.", root) { ErrorId = "NotAVault" };
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
                // Prove that files can be created here before any work is done (once a minute per vault: a pipeline of a
                // thousand backups into one vault need not prove it a thousand times).
                if (!Recently(provenWritable, root))
                {
                    string probe = Path.Combine(root, StagingFolder, ".probe-" + Guid.NewGuid().ToString("N"));
                    File.WriteAllBytes(probe, new byte[0]);
                    File.Delete(probe);
                    Remember(provenWritable, root);
                }
            }
            catch (Exception ex) when (ex is UnauthorizedAccessException || ex is IOException || ex is NotSupportedException)
            {
                throw new TursoBackupException(FailureKind.PermissionDenied,
                    $"Vault '{root}' is not writable: {ex.Message} Choose a vault folder this account can write to, or grant it write access. Nothing was written.", root, ex);
            }
            return new BackupVault(root);
        }

        /// <summary>The policy value of vault.json's "encryption" that refuses backups without a key.</summary>
        public const string EncryptionRequiredValue = "required";

        /// <summary>
        /// True when vault.json says <c>"encryption": "required"</c>: a backup (or WAL archive) written into this vault
        /// without a passphrase or recipient is refused. Reading, retention and health need no key.
        /// </summary>
        public bool EncryptionRequired
        {
            get
            {
                string marker = Path.Combine(Root, MarkerFile);
                try
                {
                    return File.Exists(marker) && Json.Parse(File.ReadAllText(marker)) is Dictionary<string, object> d
                        && d.TryGetValue("encryption", out var v) && string.Equals(v as string, EncryptionRequiredValue, StringComparison.OrdinalIgnoreCase);
                }
                catch (FormatException ex)
                {
                    // A damaged policy file must not silently allow plain backups.
                    throw new TursoBackupException(FailureKind.InvalidData, $"The vault's {MarkerFile} ('{marker}') cannot be read: {ex.Message} Repair it (it is a small JSON file; docs/vault-format.md) before backing up into this vault.", marker, ex);
                }
            }
        }

        /// <summary>Sets or clears the "encryption": "required" policy in vault.json (durably, by temporary file and rename).</summary>
        public void SetEncryptionRequired(bool required)
        {
            string marker = Path.Combine(Root, MarkerFile);
            var doc = File.Exists(marker) && Json.Parse(File.ReadAllText(marker)) is Dictionary<string, object> d ? d : new Dictionary<string, object>
            {
                ["format"] = "tursobackup-vault",
                ["formatVersion"] = FormatVersion,
                ["createdAt"] = BackupManifest.Time(DateTimeOffset.UtcNow),
            };
            if (required) doc["encryption"] = EncryptionRequiredValue;
            else doc.Remove("encryption");
            DurableFile.WriteAllText(marker, Json.Write(doc));
        }

        /// <summary>Refuses to write an unencrypted artifact into a vault that requires encryption.</summary>
        /// <param name="what">What would be written ("a backup of 'main'", "the WAL archive of 'main'").</param>
        public void RequireKeyIfPolicy(bool encrypted, string what)
        {
            if (encrypted || !EncryptionRequired) return;
            throw new TursoBackupException(FailureKind.InvalidArgument,
                $"The vault '{Root}' requires encryption (its {MarkerFile} says \"encryption\": \"required\"), so {what} without a key is refused. " +
                "Give -Passphrase (or set TURSO_BACKUP_PASSPHRASE) or -Recipient <public key file>. Nothing was written.", Root) { ErrorId = "EncryptionRequired" };
        }

        /// <summary>
        /// True for a name the vault may build a path from: a database folder or a backup id. Not empty, not "." or
        /// "..", not starting with ".", no path separator, no character Windows forbids in a file name, no control
        /// character, at most 200 characters.
        /// </summary>
        public static bool IsPlainName(string name) =>
            !(string.IsNullOrWhiteSpace(name) || name == "." || name == ".." || name.StartsWith(".", StringComparison.Ordinal)
              || name.IndexOfAny(new[] { '/', '\\', ':', '*', '?', '"', '<', '>', '|' }) >= 0 || name.Any(char.IsControl) || name.Length > 200);

        /// <summary>Checks a database name is usable as a vault folder name.</summary>
        /// <param name="nextStep">What the admin can do about it, naming a parameter the command really has (e.g. "Pass -Name to choose one.").</param>
        public static string ValidateDatabaseName(string name, string nextStep = null)
        {
            if (!IsPlainName(name))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{name}' cannot be used as a database name in a vault: use letters, digits, '-', '_' or '.', not starting with '.'. " +
                    (nextStep ?? "Give the name of a database the vault holds (Get-TursoBackup lists them)."), name);
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

        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTime> provenWritable = new System.Collections.Concurrent.ConcurrentDictionary<string, DateTime>(StringComparer.Ordinal);

        /// <summary>How long a vault's writability probe holds before it is made again.</summary>
        internal static TimeSpan RecheckAfter { get; set; } = TimeSpan.FromMinutes(1);

        private static bool Recently(System.Collections.Concurrent.ConcurrentDictionary<string, DateTime> seen, string root) =>
            seen.TryGetValue(root, out var at) && DateTime.UtcNow - at < RecheckAfter;

        private static void Remember(System.Collections.Concurrent.ConcurrentDictionary<string, DateTime> seen, string root) => seen[root] = DateTime.UtcNow;

        /// <summary>
        /// Every backup whose manifest can be read, newest first. Unreadable manifests, manifests that name another
        /// folder than their own, and backup folders without a manifest are reported through
        /// <paramref name="onDamaged"/> and skipped. Listing goes through each database's index (see
        /// <see cref="BackupIndex"/>), which is brought up to date with the manifests on the way.
        /// </summary>
        /// <exception cref="TursoBackupException"><paramref name="database"/> is not a plain folder name (InvalidArgument).</exception>
        public List<BackupInfo> List(string database = null, Action<string, Exception> onDamaged = null) => List(database, onDamaged, true);

        private List<BackupInfo> List(string database, Action<string, Exception> onDamaged, bool trustCache)
        {
            var result = new List<BackupInfo>();
            if (database != null) ValidateDatabaseName(database);
            if (!Directory.Exists(DatabasesPath)) return result;
            IEnumerable<string> dbDirs = database == null
                ? DatabaseNames().Select(n => Path.Combine(DatabasesPath, n))
                : new[] { Path.Combine(DatabasesPath, database) }.Where(Directory.Exists);
            foreach (var dbDir in dbDirs)
            {
                result.AddRange(BackupIndex.Load(Root, dbDir, onDamaged, trustCache));
            }
            return result.OrderByDescending(b => b.CreatedAt).ThenByDescending(b => b.Id, StringComparer.Ordinal).ToList();
        }

        /// <summary>
        /// The backup a name-based command uses: with <paramref name="id"/> that backup (emergency or not), else the
        /// newest backup of <paramref name="database"/> that is not an emergency backup (with
        /// <paramref name="includeEmergency"/>: the newest of all). Null when there is none. Every backup of the
        /// database that cannot be read is reported through <paramref name="onDamaged"/>. The result is read from its
        /// manifest (<see cref="Reload"/>), never only from the index.
        /// </summary>
        public BackupInfo Select(string database, string id, bool includeEmergency, Action<string, Exception> onDamaged)
        {
            ValidateDatabaseName(database);
            BackupInfo chosen = null;
            for (int attempt = 0; attempt < 2; attempt++)
            {
                var list = List(database, attempt == 0 ? onDamaged : null, attempt == 0);
                var pick = id != null
                    ? list.FirstOrDefault(b => string.Equals(b.Id, id, StringComparison.OrdinalIgnoreCase))
                    : list.FirstOrDefault(b => includeEmergency || b.Emergency == null);
                if (pick == null) return null;
                chosen = Reload(pick, out bool indexWasStale);
                if (!indexWasStale) break; // else the index was rebuilt from the manifests: choose again from them
            }
            return chosen;
        }

        /// <summary>
        /// The backup as its manifest on disk says, not as a listing (the index) or a caller's object says: checks that
        /// <paramref name="backup"/>'s folder lies in this vault and that the manifest there names it (see
        /// <see cref="CheckedFolder"/>). When the manifest disagrees with <paramref name="backup"/>, the database's index
        /// is rebuilt from its manifests.
        /// </summary>
        public BackupInfo Reload(BackupInfo backup) => Reload(backup, out _);

        private BackupInfo Reload(BackupInfo backup, out bool stale)
        {
            CheckedFolder(backup, "It was not used.", out var fresh);
            string Json(BackupInfo b) => BackupManifest.ToJson(b, Path.GetFileName(b.Location ?? ""), "");
            stale = !string.Equals(Json(backup), Json(fresh), StringComparison.Ordinal) || !string.Equals(backup.Location, fresh.Location, StringComparison.Ordinal);
            if (stale) BackupIndex.Load(Root, Path.Combine(DatabasesPath, fresh.Database), null, trustCache: false);
            return fresh;
        }

        /// <summary>
        /// The folder <paramref name="backup"/> was found in (the folder of its <see cref="BackupInfo.Location"/>), after
        /// checking that it is databases/&lt;database&gt;/&lt;id&gt; of this vault, not a link, and that the manifest in
        /// it names that folder and <paramref name="backup"/> (same id and database). Names in the object or the
        /// manifest are never used to build the path. Anything else is an error; <paramref name="consequence"/> ends its
        /// message ("Nothing was removed.").
        /// </summary>
        private string CheckedFolder(BackupInfo backup, string consequence, out BackupInfo fromManifest)
        {
            if (backup == null) throw new ArgumentNullException(nameof(backup));
            if (string.IsNullOrEmpty(backup.Location))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"Backup {backup} has no Location, so its folder is unknown. {consequence} Pass the backup as Get-TursoBackup -Vault '{Root}' lists it.", backup.Id);
            }
            string folder = Path.GetDirectoryName(Path.GetFullPath(backup.Location));
            string dbDir = folder == null ? null : Path.GetDirectoryName(folder);
            string databases = dbDir == null ? null : Path.GetDirectoryName(dbDir);
            if (databases == null || !SamePath(databases, DatabasesPath)
                || !IsPlainName(Path.GetFileName(dbDir)) || !IsPlainName(Path.GetFileName(folder)))
            {
                throw new TursoBackupException(FailureKind.InvalidData,
                    $"Backup {backup} is at '{backup.Location}', which is not in a backup folder of vault '{Root}' " +
                    $"({Path.Combine(DatabasesPath, "<database>", "<backup id>")}). {consequence} List the vault's backups with Get-TursoBackup -Vault '{Root}' and pass those.", backup.Location);
            }
            if (!Directory.Exists(folder))
            {
                throw new TursoBackupException(FailureKind.NotFound,
                    $"Backup {backup.Id} of '{backup.Database}' is not in vault '{Root}' (already removed?): '{folder}' does not exist. List what is there with Get-TursoBackup -Vault '{Root}'.", backup.Id) { ErrorId = "BackupNotFound" };
            }
            if ((File.GetAttributes(folder) & FileAttributes.ReparsePoint) != 0)
            {
                throw new TursoBackupException(FailureKind.InvalidData,
                    $"The backup folder '{folder}' is a link, not a folder of the vault. {consequence} Inspect it and remove the link by hand.", folder);
            }
            string manifestPath = Path.Combine(folder, BackupManifest.FileName);
            try
            {
                fromManifest = BackupManifest.FromJson(File.ReadAllText(manifestPath), Root, folder);
            }
            catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is OverflowException || ex is IOException)
            {
                string why = ex is FileNotFoundException ? "holds no " + BackupManifest.FileName : $"has a manifest that cannot be read ({ex.Message})";
                throw new TursoBackupException(FailureKind.InvalidData,
                    $"The backup folder '{folder}' {why}. {consequence} Inspect the folder; remove it by hand if it is not needed.", folder, ex);
            }
            if (!string.Equals(fromManifest.Id, Path.GetFileName(folder), StringComparison.Ordinal)
                || !string.Equals(fromManifest.Database, Path.GetFileName(dbDir), StringComparison.Ordinal))
            {
                throw new TursoBackupException(FailureKind.InvalidData,
                    $"The manifest in '{folder}' names backup {fromManifest.Database}/{fromManifest.Id}, not the folder it lies in (a copied, moved or crafted manifest). " +
                    $"{consequence} Move the folder back where it belongs, or remove it by hand after checking what it holds.", folder);
            }
            if (!string.Equals(backup.Id, fromManifest.Id, StringComparison.Ordinal) || !string.Equals(backup.Database, fromManifest.Database, StringComparison.Ordinal))
            {
                throw new TursoBackupException(FailureKind.InvalidData,
                    $"The backup given as {backup.Database}/{backup.Id} is at '{folder}', whose manifest names {fromManifest.Database}/{fromManifest.Id}. " +
                    $"{consequence} Pass the backup as Get-TursoBackup -Vault '{Root}' lists it.", folder);
            }
            return folder;
        }

        private static bool SamePath(string a, string b) =>
            string.Equals(a.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar), b.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar),
                Path.DirectorySeparatorChar == '\\' ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

        /// <summary>
        /// Removes a backup by the folder it was found in (<see cref="CheckedFolder"/>: inside this vault's database
        /// folder, its manifest naming it; anything else is an error that deletes nothing). The folder is first renamed
        /// into .staging (so it disappears from listings at once, and a crash half-way leaves only an abandoned staging
        /// folder), then deleted.
        /// </summary>
        /// <param name="collectPages">For an Incremental backup: then remove from the database's page store what no
        /// other backup holds (retention passes false and collects once per database, <see cref="CollectPages"/>).</param>
        public void Remove(BackupInfo backup, bool collectPages = true, Action<string> log = null)
        {
            string folder = CheckedFolder(backup, "Nothing was removed.", out _);
            using (var trash = LockedFolder.Take(StagingPath, "removing-" + Path.GetFileName(folder), $"removal of backup {backup.Id} of '{backup.Database}' in vault {Root}", create: false))
            {
                Directory.Move(folder, trash.Path);
                DurableFile.FlushDirectory(Path.GetDirectoryName(folder));
                Directory.Delete(trash.Path, true);
            }
            if (collectPages && backup.Kind == BackupKind.Incremental) CollectPages(backup.Database, log);
        }

        /// <summary>
        /// Removes the pages and packs of the database's page store that no Incremental backup references any more. A
        /// store busy for 30 s (a backup running) is left for the next removal; nothing is lost either way — pages no
        /// backup references only take room.
        /// </summary>
        public void CollectPages(string database, Action<string> log = null, System.Threading.CancellationToken cancel = default(System.Threading.CancellationToken))
        {
            try
            {
                Incremental.PageStore.CollectUnreferenced(Root, database, TimeSpan.FromSeconds(30), log, cancel);
            }
            catch (TursoBackupException ex) when (ex.Kind == FailureKind.Busy)
            {
                log?.Invoke(ex.Message + " Its unreferenced pages are removed by the next removal of an Incremental backup.");
            }
        }

        /// <summary>The database folders of the vault that are plain names (hidden and odd folders are no databases), ordinal order.</summary>
        public IEnumerable<string> DatabaseNames() =>
            Directory.Exists(DatabasesPath)
                ? Directory.GetDirectories(DatabasesPath).Select(Path.GetFileName).Where(IsPlainName).OrderBy(n => n, StringComparer.Ordinal)
                : Enumerable.Empty<string>();
    }
}
