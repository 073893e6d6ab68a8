using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Vault
{
    /// <summary>
    /// databases/&lt;database&gt;/index.json: a cache of that database's manifests, so listing thousands of backups reads
    /// one file instead of thousands. The manifests stay the source of truth: every listing compares the index with
    /// the backup folders and each manifest's size and modification time, re-reads what changed, drops what is gone,
    /// and rewrites the index (atomically) when it differs. A missing or damaged index is rebuilt from the manifests.
    /// A listing serves an unchanged manifest from the index; a command that uses a backup (restore, test, remove)
    /// reads its manifest again (<see cref="BackupVault.Reload"/>), and when that disagrees with the index the index
    /// is rebuilt from every manifest of the database.
    /// </summary>
    public static class BackupIndex
    {
        public const string FileName = "index.json";
        public const string FormatName = "tursobackup-index";
        public const int FormatVersion = 1;

        /// <summary>
        /// The backups of one database folder. Each backup folder must hold a manifest that names it (its id is the
        /// folder's name, its database the database folder's name); a folder without a manifest (an orphaned artifact)
        /// and a manifest that cannot be read or names another folder (a copied or crafted one) are reported through
        /// <paramref name="onDamaged"/> (a <see cref="FileNotFoundException"/> for a missing manifest) and left out.
        /// </summary>
        /// <param name="trustCache">False: every manifest is read from disk and the index rewritten from them.</param>
        public static List<BackupInfo> Load(string vaultRoot, string databaseDirectory, Action<string, Exception> onDamaged, bool trustCache = true)
        {
            string indexPath = Path.Combine(databaseDirectory, FileName);
            var cached = trustCache ? ReadIndex(indexPath) : null;
            var entries = new List<Dictionary<string, object>>();
            var result = new List<BackupInfo>();
            bool changed = cached == null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            string database = Path.GetFileName(databaseDirectory);
            foreach (var backupDir in Directory.GetDirectories(databaseDirectory))
            {
                string id = Path.GetFileName(backupDir);
                if (id.StartsWith(".", StringComparison.Ordinal)) continue; // hidden folders (a filer's .snapshot) are no backups
                string manifestPath = Path.Combine(backupDir, BackupManifest.FileName);
                var file = new FileInfo(manifestPath);
                if (!file.Exists)
                {
                    onDamaged?.Invoke(manifestPath, new FileNotFoundException(
                        $"The backup folder '{backupDir}' holds no {BackupManifest.FileName} (its manifest was deleted): what is in it cannot be listed, checked or restored by name.",
                        manifestPath));
                    continue;
                }
                seen.Add(id);
                string stamp = file.Length.ToString(CultureInfo.InvariantCulture) + ":" + file.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture);
                BackupInfo info = null;
                Dictionary<string, object> manifest = null;
                if (cached != null && cached.TryGetValue(id, out var entry) && entry.TryGetValue("stamp", out var s) && (s as string) == stamp)
                {
                    manifest = entry.TryGetValue("manifest", out var m) ? m as Dictionary<string, object> : null;
                    // A cached entry that does not hold this folder's manifest is not believed: read the manifest.
                    info = manifest == null ? null : TryRead(manifest, vaultRoot, backupDir, database, out _);
                }
                if (info == null)
                {
                    changed = true;
                    Exception error;
                    try
                    {
                        manifest = Json.Parse(File.ReadAllText(manifestPath)) as Dictionary<string, object>
                                   ?? throw new FormatException("The manifest is not a JSON object.");
                        info = TryRead(manifest, vaultRoot, backupDir, database, out error);
                    }
                    catch (Exception ex) when (ex is FormatException || ex is IOException || ex is UnauthorizedAccessException)
                    {
                        error = ex;
                    }
                    if (info == null)
                    {
                        onDamaged?.Invoke(manifestPath, error);
                        continue;
                    }
                }
                result.Add(info);
                entries.Add(new Dictionary<string, object> { ["id"] = id, ["stamp"] = stamp, ["manifest"] = manifest });
            }
            if (cached != null && cached.Keys.Any(id => !seen.Contains(id))) changed = true;
            if (changed) TryWrite(indexPath, entries);
            return result;
        }

        /// <summary>Reads a manifest object as the backup of <paramref name="backupDir"/>; null (and why) when it is not that.</summary>
        private static BackupInfo TryRead(Dictionary<string, object> manifest, string vaultRoot, string backupDir, string database, out Exception error)
        {
            error = null;
            try
            {
                var info = BackupManifest.FromObject(manifest, vaultRoot, backupDir);
                string folder = Path.GetFileName(backupDir);
                if (!string.Equals(info.Id, folder, StringComparison.Ordinal) || !string.Equals(info.Database, database, StringComparison.Ordinal))
                {
                    throw new FormatException(
                        $"The manifest names backup '{info.Id}' of '{info.Database}', but lies in folder '{database}{Path.DirectorySeparatorChar}{folder}' (a copied, moved or crafted manifest).");
                }
                return info;
            }
            catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is OverflowException)
            {
                error = ex is FormatException ? ex : new FormatException(ex.Message, ex);
                return null;
            }
        }

        private static Dictionary<string, Dictionary<string, object>> ReadIndex(string path)
        {
            try
            {
                if (!File.Exists(path)) return null;
                var doc = Json.Parse(File.ReadAllText(path)) as Dictionary<string, object>;
                if (doc == null || !(doc.TryGetValue("format", out var f) && (f as string) == FormatName)) return null;
                if (!(doc.TryGetValue("backups", out var b) && b is List<object> list)) return null;
                var map = new Dictionary<string, Dictionary<string, object>>(StringComparer.Ordinal);
                foreach (var item in list.OfType<Dictionary<string, object>>())
                {
                    if (item.TryGetValue("id", out var id) && id is string s) map[s] = item;
                }
                return map;
            }
            catch (Exception ex) when (ex is FormatException || ex is IOException || ex is UnauthorizedAccessException)
            {
                return null; // rebuilt from the manifests
            }
        }

        private static void TryWrite(string path, List<Dictionary<string, object>> entries)
        {
            try
            {
                DurableFile.WriteAllText(path, Json.Write(new Dictionary<string, object>
                {
                    ["format"] = FormatName,
                    ["formatVersion"] = FormatVersion,
                    ["backups"] = entries.OrderBy(e => (string)e["id"], StringComparer.Ordinal).Cast<object>().ToList(),
                }));
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                // A read-only vault (an offsite copy, a snapshot mount) is listed from the manifests every time.
            }
        }
    }
}
