using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Engine.Wal
{
    /// <summary>
    /// Where a database's WAL archive lives in a vault (docs/vault-format.md, "WAL archive"):
    /// <code>
    /// wal/&lt;database&gt;/state.json                         where the archiver stands (WAL salts, frames archived, …)
    /// wal/&lt;database&gt;/gaps.jsonl                         intervals that cannot be restored to, one JSON line each
    /// wal/&lt;database&gt;/generations/&lt;id&gt;/snapshot.db.zst  the generation's starting point
    /// wal/&lt;database&gt;/generations/&lt;id&gt;/snapshot.json    its capture time, size, SHA-256
    /// wal/&lt;database&gt;/generations/&lt;id&gt;/segments/&lt;seq&gt;.seg  WAL frames captured by one sync
    /// wal/&lt;database&gt;/generations/&lt;id&gt;/segments/&lt;first&gt;-&lt;last&gt;.pack  many segments in one file (compaction)
    /// </code>
    /// </summary>
    public sealed class WalArchiveLayout
    {
        public const string Folder = "wal";

        public WalArchiveLayout(string vaultRoot, string database)
        {
            VaultRoot = vaultRoot;
            Database = database;
            Root = Path.Combine(vaultRoot, Folder, database);
        }

        public string VaultRoot { get; }
        public string Database { get; }
        public string Root { get; }
        public string StatePath => Path.Combine(Root, "state.json");
        public string GapsPath => Path.Combine(Root, "gaps.jsonl");
        public string VerifyPath => Path.Combine(Root, "verify.json");
        public string GenerationsPath => Path.Combine(Root, "generations");
        public string GenerationPath(string generation) => Path.Combine(GenerationsPath, generation);
        public string SnapshotPath(string generation) => Path.Combine(GenerationPath(generation), "snapshot.db.zst");
        public string SnapshotInfoPath(string generation) => Path.Combine(GenerationPath(generation), "snapshot.json");
        public string SegmentsPath(string generation) => Path.Combine(GenerationPath(generation), "segments");
        public string SegmentPath(string generation, long seq) => Path.Combine(SegmentsPath(generation), seq.ToString("D10", CultureInfo.InvariantCulture) + ".seg");

        /// <summary>Generations that have a complete snapshot, oldest first.</summary>
        public List<string> Generations() =>
            Directory.Exists(GenerationsPath)
                ? Directory.GetDirectories(GenerationsPath).Select(Path.GetFileName)
                    .Where(g => File.Exists(SnapshotInfoPath(g))).OrderBy(g => g, StringComparer.Ordinal).ToList()
                : new List<string>();

        public string PackPath(string generation, long first, long last) =>
            Path.Combine(SegmentsPath(generation), first.ToString("D10", CultureInfo.InvariantCulture) + "-" + last.ToString("D10", CultureInfo.InvariantCulture) + ".pack");

        /// <summary>
        /// Segment files and packs, ordered by first sequence (a pack before the segment files it replaced, which an
        /// interrupted compaction may have left behind).
        /// </summary>
        public List<string> SegmentFiles(string generation) =>
            Directory.Exists(SegmentsPath(generation))
                ? Directory.GetFiles(SegmentsPath(generation)).Where(f => f.EndsWith(".seg", StringComparison.Ordinal) || f.EndsWith(".pack", StringComparison.Ordinal))
                    .Select(f => (File: f, Range: SequenceRange(f))).Where(x => x.Range.First > 0)
                    .OrderBy(x => x.Range.First).ThenByDescending(x => x.Range.Last).Select(x => x.File).ToList()
                : new List<string>();

        /// <summary>The sequence numbers a segment file ("0000000007.seg") or pack ("0000000001-0000000256.pack") holds; (0, 0) if neither.</summary>
        public static (long First, long Last) SequenceRange(string file)
        {
            string name = Path.GetFileNameWithoutExtension(file);
            var parts = name.Split('-');
            if (parts.Length == 1 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long one)) return (one, one);
            if (parts.Length == 2 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long first)
                && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long last) && last >= first) return (first, last);
            return (0, 0);
        }

        public void AppendGap(RestoreGap gap)
        {
            OwnerOnly.CreateDirectory(Root);
            JsonLines.Append(GapsPath, new Dictionary<string, object>
            {
                ["from"] = BackupManifest.Time(gap.From),
                ["to"] = BackupManifest.Time(gap.To),
                ["reason"] = gap.Reason,
            });
        }

        /// <summary>Records a verification of the whole archive (verify.json): when, and what it found damaged.</summary>
        public void WriteVerification(DateTimeOffset at, IEnumerable<ArchiveDamage> damage)
        {
            OwnerOnly.CreateDirectory(Root);
            DurableFile.WriteAllText(VerifyPath, Json.Write(new Dictionary<string, object>
            {
                ["format"] = "tursobackup-walarchive-verify",
                ["formatVersion"] = 1,
                ["verifiedAt"] = BackupManifest.Time(at),
                ["damaged"] = damage.Select(d => (object)new Dictionary<string, object>
                {
                    ["generation"] = d.Generation,
                    ["from"] = BackupManifest.Time(d.From),
                    ["file"] = d.File,
                    ["reason"] = d.Reason,
                }).ToList(),
            }));
        }

        /// <summary>What the last verification found damaged (empty when none was recorded); <paramref name="verifiedAt"/> is when it ran.</summary>
        public List<ArchiveDamage> RecordedDamage(out DateTimeOffset? verifiedAt)
        {
            verifiedAt = null;
            var list = new List<ArchiveDamage>();
            if (!File.Exists(VerifyPath)) return list;
            try
            {
                var d = (Dictionary<string, object>)Json.Parse(File.ReadAllText(VerifyPath));
                verifiedAt = BackupManifest.ParseTime((string)d["verifiedAt"]);
                foreach (Dictionary<string, object> x in (List<object>)d["damaged"])
                {
                    list.Add(new ArchiveDamage
                    {
                        Generation = (string)x["generation"], From = BackupManifest.ParseTime((string)x["from"]),
                        File = x.TryGetValue("file", out var f) ? f as string : null, Reason = (string)x["reason"],
                    });
                }
            }
            catch (Exception ex) when (ex is IOException || ex is FormatException || ex is InvalidCastException || ex is KeyNotFoundException || ex is NullReferenceException)
            {
                verifiedAt = null; // an unreadable record counts as no verification: the next health check verifies again
            }
            return list;
        }

        public List<RestoreGap> RecordedGaps()
        {
            var gaps = new List<RestoreGap>();
            foreach (var d in JsonLines.Read(GapsPath))
            {
                try
                {
                    gaps.Add(new RestoreGap { From = BackupManifest.ParseTime((string)d["from"]), To = BackupManifest.ParseTime((string)d["to"]), Reason = (string)d["reason"] });
                }
                catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is KeyNotFoundException) { }
            }
            return gaps;
        }
    }

    /// <summary>Something a verification found damaged: times after <see cref="From"/> in the generation cannot be restored to.</summary>
    public sealed class ArchiveDamage
    {
        public string Generation { get; set; }
        /// <summary>The last restorable point before the damage (the previous segment's capture, or just before the snapshot).</summary>
        public DateTimeOffset From { get; set; }
        /// <summary>The damaged file.</summary>
        public string File { get; set; }
        public string Reason { get; set; }
    }

    /// <summary>The archiver's position, saved after every sync (state.json).</summary>
    public sealed class WalArchiveState
    {
        public string Generation { get; set; }
        public DateTimeOffset GenerationStartedAt { get; set; }
        public uint Salt1 { get; set; }
        public uint Salt2 { get; set; }
        public uint CheckpointSequence { get; set; }
        /// <summary>Frames of the current WAL (by its salts) that are archived.</summary>
        public long Frames { get; set; }
        public uint Seed0 { get; set; }
        public uint Seed1 { get; set; }
        public int PageSize { get; set; }
        /// <summary>The WAL was fully checkpointed after everything was archived: the next WAL restart loses nothing.</summary>
        public bool Sealed { get; set; }
        public long SealedDatabaseLength { get; set; }
        public long SealedDatabaseWriteTicks { get; set; }
        public long NextSegment { get; set; } = 1;
        public DateTimeOffset LastSyncAt { get; set; }
        public DateTimeOffset LastCaptureAt { get; set; }

        public static WalArchiveState Load(string path)
        {
            if (!File.Exists(path)) return null;
            try
            {
                var d = (Dictionary<string, object>)Json.Parse(File.ReadAllText(path));
                long L(string k) => d.TryGetValue(k, out var v) && v != null ? Convert.ToInt64(v, CultureInfo.InvariantCulture) : 0;
                return new WalArchiveState
                {
                    Generation = (string)d["generation"],
                    GenerationStartedAt = BackupManifest.ParseTime((string)d["generationStartedAt"]),
                    Salt1 = (uint)L("salt1"), Salt2 = (uint)L("salt2"), CheckpointSequence = (uint)L("checkpointSequence"),
                    Frames = L("frames"), Seed0 = (uint)L("seed0"), Seed1 = (uint)L("seed1"), PageSize = (int)L("pageSize"),
                    Sealed = d.TryGetValue("sealed", out var s) && s is bool b && b,
                    SealedDatabaseLength = L("sealedDatabaseLength"), SealedDatabaseWriteTicks = L("sealedDatabaseWriteTicks"),
                    NextSegment = Math.Max(1, L("nextSegment")),
                    LastSyncAt = BackupManifest.ParseTime((string)d["lastSyncAt"]),
                    LastCaptureAt = BackupManifest.ParseTime((string)d["lastCaptureAt"]),
                };
            }
            catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is KeyNotFoundException || ex is IOException)
            {
                return null; // a damaged state starts a new generation: safe, never silent data loss
            }
        }

        /// <summary>
        /// Writes the state durably. Unless <paramref name="force"/>, a state that differs from the one last saved only
        /// in <see cref="LastSyncAt"/> is written at most every 10 s: an idle sync then touches no file (after a crash
        /// the last sync time is a little older, which only widens a recorded gap — never narrows it).
        /// </summary>
        public void Save(string path, bool force = true)
        {
            string key = Fingerprint();
            if (!force && key == savedFingerprint && savedAt.Elapsed < TimeSpan.FromSeconds(10)) return;
            WriteState(path);
            savedFingerprint = key;
            savedAt.Restart();
        }

        private string savedFingerprint;
        private readonly System.Diagnostics.Stopwatch savedAt = System.Diagnostics.Stopwatch.StartNew();

        private string Fingerprint() => string.Join("|", Generation, GenerationStartedAt.UtcTicks, Salt1, Salt2, CheckpointSequence, Frames, Seed0, Seed1, PageSize,
            Sealed, SealedDatabaseLength, SealedDatabaseWriteTicks, NextSegment, LastCaptureAt.UtcTicks);

        private void WriteState(string path)
        {
            DurableFile.WriteAllText(path, Json.Write(new Dictionary<string, object>
            {
                ["format"] = "tursobackup-walarchive-state",
                ["formatVersion"] = 1,
                ["generation"] = Generation,
                ["generationStartedAt"] = BackupManifest.Time(GenerationStartedAt),
                ["salt1"] = (long)Salt1, ["salt2"] = (long)Salt2, ["checkpointSequence"] = (long)CheckpointSequence,
                ["frames"] = Frames, ["seed0"] = (long)Seed0, ["seed1"] = (long)Seed1, ["pageSize"] = (long)PageSize,
                ["sealed"] = Sealed, ["sealedDatabaseLength"] = SealedDatabaseLength, ["sealedDatabaseWriteTicks"] = SealedDatabaseWriteTicks,
                ["nextSegment"] = NextSegment,
                ["lastSyncAt"] = BackupManifest.Time(LastSyncAt),
                ["lastCaptureAt"] = BackupManifest.Time(LastCaptureAt),
            }));
        }
    }
}
