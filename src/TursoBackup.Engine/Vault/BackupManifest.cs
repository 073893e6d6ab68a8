using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Vault
{
    /// <summary>
    /// Reads and writes manifest.json, the source of truth for one backup (docs/vault-format.md).
    /// </summary>
    public static class BackupManifest
    {
        public const string FileName = "manifest.json";
        public const string FormatName = "tursobackup-manifest";
        public const int FormatVersion = 1;

        public static string ToJson(BackupInfo b, string artifactFileName, string toolVersion)
        {
            var doc = new Dictionary<string, object>
            {
                ["format"] = FormatName,
                ["formatVersion"] = FormatVersion,
                ["id"] = b.Id,
                ["database"] = b.Database,
                ["kind"] = b.Kind.ToString(),
                ["createdAt"] = Time(b.CreatedAt),
                ["pointInTime"] = Time(b.PointInTime),
                ["durationMs"] = (long)Math.Round(b.Duration.TotalMilliseconds),
                ["tier"] = b.Tier.ToString(),
                ["tags"] = (b.Tags ?? new string[0]).Cast<object>().ToList(),
                ["source"] = new Dictionary<string, object>
                {
                    ["path"] = b.SourcePath,
                    ["bytes"] = b.SourceBytes,
                    ["journalMode"] = b.JournalMode,
                    ["consistency"] = b.Consistency,
                },
                ["artifact"] = new Dictionary<string, object>
                {
                    ["file"] = artifactFileName,
                    ["compression"] = b.Compression.ToString(),
                    ["encrypted"] = b.Encrypted,
                    ["bytes"] = b.StoredBytes,
                    ["sha256"] = b.Sha256,
                },
                ["content"] = new Dictionary<string, object>
                {
                    ["pageSize"] = (long)b.PageSize,
                    ["pageCount"] = b.PageCount,
                    ["autoVacuum"] = b.AutoVacuum.HasValue ? (object)(long)b.AutoVacuum.Value : null,
                    ["reservedBytes"] = b.ReservedBytes.HasValue ? (object)(long)b.ReservedBytes.Value : null,
                    ["schemaHash"] = b.SchemaHash,
                    ["sqliteVersion"] = b.SqliteVersion,
                    ["tables"] = (b.Tables ?? new TableRowCount[0])
                        .Select(t => (object)new Dictionary<string, object> { ["name"] = t.Name, ["rows"] = t.Rows })
                        .ToList(),
                },
                ["tool"] = new Dictionary<string, object> { ["name"] = "TursoBackup", ["version"] = toolVersion },
            };
            if (b.Encrypted)
            {
                var artifactObject = (Dictionary<string, object>)doc["artifact"];
                artifactObject["encryption"] = (b.Encryption ?? new EncryptionInfo()).ToJson();
                artifactObject["plaintextSha256"] = b.PlaintextSha256;
            }
            if (b.Pages != null)
            {
                doc["pages"] = new Dictionary<string, object>
                {
                    ["store"] = b.Pages.Store, ["newPages"] = b.Pages.NewPages, ["newBytes"] = b.Pages.NewBytes,
                    ["packs"] = (b.Pages.Packs ?? new string[0]).Cast<object>().ToList(),
                };
            }
            if (b.Emergency != null)
            {
                doc["emergency"] = new Dictionary<string, object> { ["replaced"] = b.Emergency.Replaced, ["reason"] = b.Emergency.Reason };
            }
            return Json.Write(doc);
        }

        /// <summary>Parses a manifest; <paramref name="backupDirectory"/> is the folder that holds it.</summary>
        public static BackupInfo FromJson(string json, string vaultRoot, string backupDirectory) =>
            FromObject(Json.Parse(json) as Dictionary<string, object> ?? throw new FormatException("The manifest is not a JSON object."), vaultRoot, backupDirectory);

        /// <summary>Reads a parsed manifest object (from manifest.json or from the index).</summary>
        public static BackupInfo FromObject(Dictionary<string, object> doc, string vaultRoot, string backupDirectory)
        {
            if (Str(doc, "format") != FormatName) throw new FormatException("The manifest's 'format' is not '" + FormatName + "'.");
            long version = Long(doc, "formatVersion");
            if (version > FormatVersion)
            {
                throw new FormatException($"The manifest has format version {version}; this TursoBackup reads up to {FormatVersion}. Update the module.");
            }
            var source = Obj(doc, "source");
            var artifact = Obj(doc, "artifact");
            var content = Obj(doc, "content");
            var info = new BackupInfo
            {
                Id = PlainName(doc, "id"),
                Database = PlainName(doc, "database"),
                Kind = Enum<BackupKind>(Str(doc, "kind")),
                CreatedAt = ParseTime(Required(doc, "createdAt")),
                PointInTime = ParseTime(Required(doc, "pointInTime")),
                Duration = TimeSpan.FromMilliseconds(Long(doc, "durationMs")),
                Tier = doc.ContainsKey("tier") ? Enum<BackupTier>(Str(doc, "tier")) : BackupTier.General,
                Tags = (doc.TryGetValue("tags", out var tags) && tags is List<object> tagList) ? tagList.Select(t => Convert.ToString(t, CultureInfo.InvariantCulture)).ToArray() : new string[0],
                SourcePath = Str(source, "path"),
                SourceBytes = Long(source, "bytes"),
                JournalMode = Str(source, "journalMode"),
                Consistency = Str(source, "consistency"),
                Compression = Enum<CompressionKind>(Str(artifact, "compression")),
                Encrypted = artifact.TryGetValue("encrypted", out var enc) && enc is bool e && e,
                StoredBytes = Long(artifact, "bytes"),
                Sha256 = Required(artifact, "sha256"),
                Encryption = artifact.TryGetValue("encryption", out var how) ? EncryptionInfo.FromJson(how as Dictionary<string, object>) : null,
                PageSize = (int)Long(content, "pageSize"),
                PageCount = Long(content, "pageCount"),
                AutoVacuum = OptionalInt(content, "autoVacuum"),
                ReservedBytes = OptionalInt(content, "reservedBytes"),
                SchemaHash = Str(content, "schemaHash"),
                SqliteVersion = Str(content, "sqliteVersion"),
                Tables = (content.TryGetValue("tables", out var tables) && tables is List<object> tl)
                    ? tl.OfType<Dictionary<string, object>>().Select(t => new TableRowCount(Str(t, "name"), Long(t, "rows"))).ToArray()
                    : new TableRowCount[0],
                Vault = vaultRoot,
                FormatVersion = (int)version,
            };
            info.Emergency = ReadEmergency(doc, info);
            if (doc.TryGetValue("pages", out var pg) && pg is Dictionary<string, object> pages)
            {
                info.Pages = new IncrementalInfo
                {
                    Store = Str(pages, "store"), NewPages = Long(pages, "newPages"), NewBytes = Long(pages, "newBytes"),
                    Packs = (pages.TryGetValue("packs", out var pk) && pk is List<object> pl) ? pl.Select(x => Convert.ToString(x, CultureInfo.InvariantCulture)).ToArray() : new string[0],
                };
            }
            else if (info.Kind == BackupKind.Incremental) throw new FormatException("The manifest of an Incremental backup has no 'pages' object.");
            info.PlaintextSha256 = info.Encrypted ? Str(artifact, "plaintextSha256") : info.Sha256;
            if (info.Encrypted && info.Encryption == null) info.Encryption = new EncryptionInfo();
            string file = Required(artifact, "file");
            if (file.IndexOfAny(new[] { '/', '\\' }) >= 0 || file == ".." ) throw new FormatException("The manifest's artifact file name is not a plain file name.");
            info.Location = System.IO.Path.Combine(backupDirectory, file);
            return info;
        }

        /// <summary>
        /// The manifest's "emergency" object; an older manifest without one but tagged "emergency" (what the module wrote
        /// before the field existed) is an emergency backup too: the replaced file is its source, the reason its other tags.
        /// </summary>
        private static EmergencyInfo ReadEmergency(Dictionary<string, object> doc, BackupInfo info)
        {
            if (doc.TryGetValue("emergency", out var e) && e is Dictionary<string, object> em)
            {
                return new EmergencyInfo { Replaced = Str(em, "replaced"), Reason = Str(em, "reason") };
            }
            if (info.Tags.Any(t => string.Equals(t, EmergencyTag, StringComparison.OrdinalIgnoreCase)))
            {
                var other = info.Tags.Where(t => !string.Equals(t, EmergencyTag, StringComparison.OrdinalIgnoreCase)).ToArray();
                return new EmergencyInfo { Replaced = info.SourcePath, Reason = other.Length > 0 ? string.Join(", ", other) : EmergencyTag };
            }
            return null;
        }

        /// <summary>The tag every emergency backup also carries (older readers know only the tag).</summary>
        public const string EmergencyTag = "emergency";

        /// <summary>
        /// A name the vault builds a path from (a database folder or a backup folder): not empty, not "." or "..", no path
        /// separator or other character a folder name cannot hold, not starting with ".". Anything else is a damaged or
        /// crafted manifest.
        /// </summary>
        private static string PlainName(Dictionary<string, object> d, string key)
        {
            string value = Required(d, key);
            if (!BackupVault.IsPlainName(value))
            {
                throw new FormatException($"The manifest's '{key}' ('{value}') is not a plain folder name (no separators, not '.' or '..').");
            }
            return value;
        }

        public static string Time(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

        public static DateTimeOffset ParseTime(string s) =>
            DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

        private static Dictionary<string, object> Obj(Dictionary<string, object> d, string key) =>
            d.TryGetValue(key, out var v) && v is Dictionary<string, object> o ? o : throw new FormatException($"The manifest has no '{key}' object.");

        private static string Str(Dictionary<string, object> d, string key) =>
            d.TryGetValue(key, out var v) && v != null ? Convert.ToString(v, CultureInfo.InvariantCulture) : null;

        private static string Required(Dictionary<string, object> d, string key) =>
            Str(d, key) ?? throw new FormatException($"The manifest has no '{key}'.");

        private static long Long(Dictionary<string, object> d, string key) =>
            d.TryGetValue(key, out var v) && v != null ? Convert.ToInt64(v, CultureInfo.InvariantCulture) : 0;

        private static int? OptionalInt(Dictionary<string, object> d, string key) =>
            d.TryGetValue(key, out var v) && v != null ? (int?)Convert.ToInt32(v, CultureInfo.InvariantCulture) : null;

        private static T Enum<T>(string s) where T : struct =>
            System.Enum.TryParse<T>(s, true, out var value) ? value : throw new FormatException($"The manifest has an unknown {typeof(T).Name} '{s}'.");
    }
}
