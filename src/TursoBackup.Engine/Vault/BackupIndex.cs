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
    /// </summary>
    public static class BackupIndex
    {
        public const string FileName = "index.json";
        public const string FormatName = "tursobackup-index";
        public const int FormatVersion = 1;

        public static List<BackupInfo> Load(string vaultRoot, string databaseDirectory, Action<string, Exception> onDamaged)
        {
            string indexPath = Path.Combine(databaseDirectory, FileName);
            var cached = ReadIndex(indexPath);
            var entries = new List<Dictionary<string, object>>();
            var result = new List<BackupInfo>();
            bool changed = cached == null;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var backupDir in Directory.GetDirectories(databaseDirectory))
            {
                string id = Path.GetFileName(backupDir);
                string manifestPath = Path.Combine(backupDir, BackupManifest.FileName);
                var file = new FileInfo(manifestPath);
                if (!file.Exists) continue;
                seen.Add(id);
                string stamp = file.Length.ToString(CultureInfo.InvariantCulture) + ":" + file.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture);
                Dictionary<string, object> manifest = null;
                if (cached != null && cached.TryGetValue(id, out var entry) && entry.TryGetValue("stamp", out var s) && (s as string) == stamp)
                {
                    manifest = entry.TryGetValue("manifest", out var m) ? m as Dictionary<string, object> : null;
                }
                if (manifest == null)
                {
                    changed = true;
                    try
                    {
                        manifest = Json.Parse(File.ReadAllText(manifestPath)) as Dictionary<string, object>
                                   ?? throw new FormatException("The manifest is not a JSON object.");
                    }
                    catch (Exception ex) when (ex is FormatException || ex is IOException)
                    {
                        onDamaged?.Invoke(manifestPath, ex);
                        continue;
                    }
                }
                try
                {
                    result.Add(BackupManifest.FromObject(manifest, vaultRoot, backupDir));
                    entries.Add(new Dictionary<string, object> { ["id"] = id, ["stamp"] = stamp, ["manifest"] = manifest });
                }
                catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is OverflowException)
                {
                    onDamaged?.Invoke(manifestPath, ex);
                }
            }
            if (cached != null && cached.Keys.Any(id => !seen.Contains(id))) changed = true;
            if (changed) TryWrite(indexPath, entries);
            return result;
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
