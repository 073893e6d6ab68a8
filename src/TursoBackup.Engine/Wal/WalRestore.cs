using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Engine.Wal
{
    /// <summary>
    /// Point-in-time restore from a WAL archive and the restore window. Restoring to T takes the newest generation
    /// whose snapshot is at or before T, and the segments captured at or before T. Each page is written from the
    /// snapshot and then, if the segments changed it, once more with its newest version at or before T — never
    /// once per intermediate version, however long the chain.
    /// </summary>
    public static class WalRestore
    {
        public static DateTimeOffset? SnapshotTime(WalArchiveLayout layout, string generation)
        {
            try
            {
                var d = (Dictionary<string, object>)Json.Parse(File.ReadAllText(layout.SnapshotInfoPath(generation)));
                return BackupManifest.ParseTime((string)d["createdAt"]);
            }
            catch (Exception ex) when (ex is IOException || ex is FormatException || ex is InvalidCastException || ex is KeyNotFoundException)
            {
                return null;
            }
        }

        /// <summary>
        /// The generation's restorable segments in order (from segment files and packs), up to the first missing one or
        /// the first file whose header or trailer does not hold. Frames are verified when they are read.
        /// </summary>
        public static List<WalSegment> ValidSegments(WalArchiveLayout layout, string generation, out string brokenReason)
        {
            // A running archiver may pack files between the listing and the reading: a file gone since is read again from a new listing.
            for (int attempt = 1; ; attempt++)
            {
                var list = ValidSegmentsOnce(layout, generation, out brokenReason, out bool vanished);
                if (!vanished || attempt == 5) return list;
            }
        }

        private static List<WalSegment> ValidSegmentsOnce(WalArchiveLayout layout, string generation, out string brokenReason, out bool vanished)
        {
            vanished = false;
            var list = new List<WalSegment>();
            brokenReason = null;
            long expected = 1;
            foreach (var file in layout.SegmentFiles(generation))
            {
                // A segment file a pack already holds (a compaction stopped before removing it) is skipped.
                if (WalArchiveLayout.SequenceRange(file).Last < expected) continue;
                var segs = WalSegment.ReadFile(file);
                if (segs == null)
                {
                    vanished = !File.Exists(file);
                    brokenReason = $"segment {Path.GetFileName(file)} is damaged";
                    break;
                }
                foreach (var seg in segs)
                {
                    if (seg.Sequence != expected) { brokenReason = $"segment {expected} is missing"; break; }
                    list.Add(seg);
                    expected++;
                }
                if (brokenReason != null) break;
            }
            return list;
        }

        /// <summary>
        /// Reads every generation's snapshot (against its SHA-256) and every segment's frames (salts, checksum chain,
        /// the database size of the last commit, and the chain from one segment to the next), records what is damaged in
        /// verify.json and returns the window, whose gaps then include the damaged intervals: from the last restorable
        /// point before the damage to the next generation's start. A file packed away while it was read is read again.
        /// </summary>
        /// <param name="keys">Opens encrypted segments; without them the frames of encrypted segments are not read (their
        /// headers, order and snapshots are still checked), and the log says so.</param>
        public static RestoreWindow Verify(string vaultRoot, string database, DateTimeOffset now, Action<string> log = null, CancellationToken cancel = default(CancellationToken),
            Crypto.DecryptionKeys keys = null)
        {
            var layout = new WalArchiveLayout(vaultRoot, database);
            var damage = new List<ArchiveDamage>();
            long segments = 0;
            bool toldEncrypted = false;
            foreach (var generation in layout.Generations())
            {
                cancel.ThrowIfCancellationRequested();
                var start = SnapshotTime(layout, generation);
                if (!start.HasValue) continue; // not part of the window (Window skips it too)
                string snapshotProblem = SnapshotProblem(layout, generation);
                if (snapshotProblem != null)
                {
                    damage.Add(new ArchiveDamage { Generation = generation, From = start.Value.AddTicks(-1), File = layout.SnapshotPath(generation), Reason = snapshotProblem });
                    log?.Invoke($"Generation {generation} of '{database}': {snapshotProblem}.");
                    continue;
                }
                for (int attempt = 1; ; attempt++)
                {
                    var list = ValidSegments(layout, generation, out _);
                    if (keys == null && list.Any(x => x.Encrypted) && !toldEncrypted)
                    {
                        log?.Invoke($"The WAL archive of '{database}' is encrypted: without -Passphrase or -KeyFile its frames are not read, only its headers, order and snapshots checked.");
                        toldEncrypted = true;
                    }
                    var found = SegmentDamage(list, generation, start.Value, keys);
                    if (found != null && !File.Exists(found.File) && attempt < 5) continue; // packed meanwhile: list again
                    segments += list.Count;
                    if (found != null)
                    {
                        damage.Add(found);
                        log?.Invoke($"Generation {generation} of '{database}': {found.Reason}.");
                    }
                    break;
                }
            }
            layout.WriteVerification(now, damage);
            log?.Invoke($"Verified the WAL archive of '{database}': {layout.Generations().Count} generation(s), {segments:N0} segment(s), {damage.Count} damaged.");
            return Window(vaultRoot, database);
        }

        /// <summary>Why a generation's snapshot cannot be used (null when its SHA-256 matches snapshot.json).</summary>
        private static string SnapshotProblem(WalArchiveLayout layout, string generation)
        {
            try
            {
                var info = (Dictionary<string, object>)Json.Parse(File.ReadAllText(layout.SnapshotInfoPath(generation)));
                string sha;
                using (var fs = new FileStream(layout.SnapshotPath(generation), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
                using (var hash = System.Security.Cryptography.SHA256.Create())
                {
                    sha = BitConverter.ToString(hash.ComputeHash(fs)).Replace("-", "");
                }
                return string.Equals(sha, (string)info["sha256"], StringComparison.OrdinalIgnoreCase) ? null
                    : $"the snapshot of generation {generation} is damaged (SHA-256 mismatch)";
            }
            catch (Exception ex) when (ex is IOException || ex is FormatException || ex is InvalidCastException || ex is KeyNotFoundException || ex is UnauthorizedAccessException)
            {
                return $"the snapshot of generation {generation} cannot be read ({ex.Message})";
            }
        }

        /// <summary>The first damaged segment of a generation's (listed) segments, read in full; null when all hold.</summary>
        private static ArchiveDamage SegmentDamage(List<WalSegment> segments, string generation, DateTimeOffset start, Crypto.DecryptionKeys keys)
        {
            // Encrypted frames are read only with a key; without one, only what the plain headers show is checked.
            bool readFrames = keys != null || !segments.Any(x => x.Encrypted);
            WalSegment damaged = null;
            try
            {
                if (readFrames && !WalSegment.ReadMany(segments, _ => false, null, out damaged, keys))
                {
                    int i = segments.IndexOf(damaged);
                    return Damage(segments, i, generation, start, "its frames do not verify (checksum, salts or commit)");
                }
            }
            catch (TursoBackupException ex) when (Crypto.KeyRings.IsKeyProblem(ex))
            {
                readFrames = false; // the key given does not open it: not damage
            }
            for (int i = 1; i < segments.Count; i++)
            {
                var a = segments[i - 1];
                var b = segments[i];
                // Captured in order; frames of one WAL follow each other, each segment seeded by the one before.
                if (b.CaptureTime < a.CaptureTime) return Damage(segments, i, generation, start, "its capture time is before the previous segment's");
                if (a.Salt1 == b.Salt1 && a.Salt2 == b.Salt2 && (b.FirstFrame != a.FirstFrame + a.Pages.Length || (readFrames && (b.Seed0 != a.EndSeed0 || b.Seed1 != a.EndSeed1))))
                    return Damage(segments, i, generation, start, "it does not continue the previous segment's frames");
            }
            if (segments.Count > 0 && segments[0].CaptureTime < start) return Damage(segments, 0, generation, start, "its capture time is before the generation's snapshot");
            return null;
        }

        private static ArchiveDamage Damage(List<WalSegment> segments, int i, string generation, DateTimeOffset start, string why)
        {
            var seg = segments[i];
            string where = seg.InPack ? $"segment {seg.Sequence} (in {Path.GetFileName(seg.Path)})" : $"segment {Path.GetFileName(seg.Path)}";
            return new ArchiveDamage
            {
                Generation = generation,
                From = i > 0 ? segments[i - 1].CaptureTime : start,
                File = seg.Path,
                Reason = $"{where} of generation {generation} is damaged: {why}",
            };
        }

        public static RestoreWindow Window(string vaultRoot, string database)
        {
            var layout = new WalArchiveLayout(vaultRoot, database);
            var window = new RestoreWindow { Database = database, Vault = vaultRoot };
            var gaps = layout.RecordedGaps();
            var generations = layout.Generations();
            window.Generations = generations.Count;
            window.Snapshots = generations.Count;
            for (int i = 0; i < generations.Count; i++)
            {
                var start = SnapshotTime(layout, generations[i]);
                if (!start.HasValue) continue;
                if (!window.Earliest.HasValue || start < window.Earliest) window.Earliest = start;
                var segments = ValidSegments(layout, generations[i], out string broken);
                window.Segments += segments.Count;
                var end = segments.Count > 0 ? segments.Last().CaptureTime : start.Value;
                if (!window.Latest.HasValue || end > window.Latest) window.Latest = end;
                if (broken != null)
                {
                    var next = i + 1 < generations.Count ? SnapshotTime(layout, generations[i + 1]) : null;
                    gaps.Add(new RestoreGap { From = end, To = next ?? DateTimeOffset.MaxValue, Reason = broken });
                }
            }
            // What the last verification found damaged, while that generation is still kept: up to the next generation.
            var startsAfter = generations.Select(g => SnapshotTime(layout, g)).Where(t => t.HasValue).Select(t => t.Value).OrderBy(t => t).ToList();
            var recorded = layout.RecordedDamage(out var verifiedAt);
            foreach (var d in recorded)
            {
                if (!generations.Contains(d.Generation)) continue;
                var next = startsAfter.Where(t => t > d.From.AddTicks(1)).Cast<DateTimeOffset?>().FirstOrDefault();
                gaps.Add(new RestoreGap { From = d.From, To = next ?? DateTimeOffset.MaxValue, Reason = d.Reason });
            }
            window.VerifiedAt = verifiedAt;
            window.Gaps = gaps.OrderBy(g => g.From).ToArray();
            return window;
        }

        /// <summary>Restores the state as of <paramref name="timestamp"/> to a new file (temporary name, fsync, rename).</summary>
        public static RestoreResult Restore(string vaultRoot, string database, DateTimeOffset timestamp, string destination, bool overwrite,
            Files.EmergencyFiler fileEmergency, DateTimeOffset now, Action<string> log = null, CancellationToken cancel = default(CancellationToken),
            bool integrityCheck = false, Crypto.DecryptionKeys keys = null)
        {
            var watch = Stopwatch.StartNew();
            var layout = new WalArchiveLayout(vaultRoot, database);
            var window = Window(vaultRoot, database);
            if (timestamp > now)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"Timestamp {timestamp.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ} is in the future (now is {now.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}). Give a time in the past.", timestamp) { ErrorId = "TimestampInFuture" };
            }
            if (!window.Earliest.HasValue)
            {
                throw new TursoBackupException(FailureKind.NotFound,
                    $"The vault '{vaultRoot}' has no WAL archive of '{database}'. Start one with Start-TursoWalArchive or Sync-TursoWalArchive.", database) { ErrorId = "NoWalArchive" };
            }
            if (timestamp < window.Earliest.Value)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"Timestamp too old: the earliest restore point of '{database}' is {window.Earliest.Value.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}.", timestamp) { ErrorId = "TimestampTooOld" };
            }
            var gap = window.Gaps.FirstOrDefault(g => timestamp > g.From && timestamp < g.To);
            if (gap != null)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"Timestamp {timestamp.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ} falls in a gap of the archive of '{database}' ({gap.From.ToUniversalTime():u} – {(gap.To == DateTimeOffset.MaxValue ? "now" : gap.To.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture))}: {gap.Reason}). Choose a time outside it (Get-TursoRestorePoint shows the gaps).", timestamp) { ErrorId = "RestoreGap" };
            }
            string generation = layout.Generations().Where(g => SnapshotTime(layout, g) <= timestamp).Last();
            // Segments are verified (frames, salts, checksum chain) as they are applied to the temporary file: a damaged
            // one fails the restore before anything reaches the destination. A segment all of whose pages have newer
            // versions is not read at all — it cannot change the result.
            var segments = ValidSegments(layout, generation, out string broken);
            var afterCutoff = segments.Where(s => s.CaptureTime > timestamp).ToList();
            segments = segments.Where(s => s.CaptureTime <= timestamp).ToList();
            if (broken != null && afterCutoff.Count == 0)
            {
                var lastGood = segments.Count > 0 ? segments.Last().CaptureTime : SnapshotTime(layout, generation).Value;
                if (timestamp > lastGood)
                {
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"Timestamp {timestamp.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ} falls after the last restorable point of generation {generation} of '{database}' ({lastGood.ToUniversalTime():u}): {broken}. Choose a time up to {lastGood.ToUniversalTime():u}.", timestamp) { ErrorId = "RestoreGap" };
                }
            }
            var pointInTime = segments.Count > 0 ? segments.Last().CaptureTime : SnapshotTime(layout, generation).Value;

            string target = Files.DatabaseWriter.Resolve(destination, database);
            using (var writer = Files.DatabaseWriter.Begin(target, new Files.DatabaseWriteOptions { Overwrite = overwrite, Purpose = "pitr", Log = log }))
            {
                string temp = writer.PartialPath;
                log?.Invoke($"Restoring '{database}' to {timestamp.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}: generation {generation}, {segments.Count} segment(s).");
                // Pass 1 (headers only): the newest version of each page at or before the timestamp.
                var newest = new Dictionary<uint, (int Segment, int Frame)>();
                for (int s = 0; s < segments.Count; s++)
                {
                    var pages = segments[s].Pages;
                    for (int f = 0; f < pages.Length; f++) newest[pages[f]] = (s, f);
                }
                var segmentsWithWinners = new HashSet<int>(newest.Values.Select(v => v.Segment));
                // The snapshot, decompressed and checked against its SHA-256.
                var info = (Dictionary<string, object>)Json.Parse(File.ReadAllText(layout.SnapshotInfoPath(generation)));
                using (var output = new FileStream(temp, FileMode.Create, FileAccess.ReadWrite, FileShare.ReadWrite, 1))
                {
                    // The snapshot (on a second thread) and the segments (on this one) write disjoint pages: the snapshot
                    // skips every page a segment replaces, so each page is written once, with its version as of the timestamp.
                    int pageSize = segments.Count > 0 ? segments[0].PageSize : 0;
                    bool snapshotEncrypted = info.TryGetValue("encrypted", out var enc) && enc is bool eb && eb;
                    if (snapshotEncrypted || segments.Any(x => x.Encrypted)) keys = keys ?? new Crypto.DecryptionKeys();
                    var snapshotCopy = System.Threading.Tasks.Task.Run(() => ArtifactStreams.ReadArtifact(layout.SnapshotPath(generation), CompressionKind.Zstd,
                        content => CopySnapshotPages(content, output, pageSize, page => newest.ContainsKey(page), cancel),
                        snapshotEncrypted ? keys : null, $"the snapshot of WAL generation {generation} of '{database}'"));
                    try
                    {
                        var winners = new HashSet<WalSegment>(segmentsWithWinners.Select(i => segments[i]));
                        var index = new Dictionary<WalSegment, int>();
                        for (int s = 0; s < segments.Count; s++) index[segments[s]] = s;
                        // Segments after the last one with a winner cannot change the result: not read.
                        int lastNeeded = segmentsWithWinners.Count == 0 ? -1 : segmentsWithWinners.Max();
                        var needed = segments.Take(lastNeeded + 1).ToList();
                        using (var pagesOut = new FileStream(temp, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1))
                        {
                            bool ok = WalSegment.ReadMany(needed, seg => winners.Contains(seg), (seg, frame, page, bytes) =>
                            {
                                cancel.ThrowIfCancellationRequested();
                                if (newest.TryGetValue(page, out var win) && win.Segment == index[seg] && win.Frame == frame)
                                {
                                    pagesOut.Position = (long)(page - 1) * seg.PageSize;
                                    pagesOut.Write(bytes, 0, bytes.Length);
                                }
                            }, out WalSegment damaged, keys);
                            if (!ok) throw Damaged(damaged, database);
                        }
                        log?.Invoke($"{newest.Count:N0} changed page(s) from {needed.Count:N0} segment(s) written at {watch.Elapsed.TotalSeconds:F2} s.");
                    }
                    finally
                    {
                        // Never leave the snapshot thread writing into a file that is about to be deleted.
                        try { snapshotCopy.Wait(); } catch (AggregateException) { }
                    }
                    string sha = snapshotCopy.GetAwaiter().GetResult(); // its own failure, unwrapped
                    if (!string.Equals(sha, (string)info["sha256"], StringComparison.OrdinalIgnoreCase))
                    {
                        throw new TursoBackupException(FailureKind.InvalidData, $"The snapshot of WAL generation {generation} of '{database}' is damaged (SHA-256 mismatch).", generation);
                    }
                    log?.Invoke($"Snapshot written and its SHA-256 verified at {watch.Elapsed.TotalSeconds:F2} s.");
                    if (segments.Count > 0) output.SetLength((long)segments.Last().DatabasePages * segments.Last().PageSize);
                    output.Flush(true);
                    log?.Invoke($"Flushed to disk at {watch.Elapsed.TotalSeconds:F2} s.");
                }
                // Every input was verified on the way (the snapshot's SHA-256, every frame's checksum chain); a structural
                // check of the result costs a full read of it and is asked for with integrityCheck (Test-Backup always does one).
                using (var check = SqliteFile.OpenImmutable(temp))
                {
                    string quick = integrityCheck ? Convert.ToString(SqliteFile.Scalar(check, "PRAGMA quick_check"), CultureInfo.InvariantCulture) : null;
                    if (quick != null && quick != "ok") throw new TursoBackupException(FailureKind.InvalidData, $"The restored database failed PRAGMA quick_check: {quick}.", target);
                    // Always: the file opens as a database and its schema reads.
                    SqliteFile.Scalar(check, "SELECT count(*) FROM sqlite_master");
                    if (quick != null) log?.Invoke($"PRAGMA quick_check passed at {watch.Elapsed.TotalSeconds:F2} s.");
                }
                var written = writer.Commit(fileEmergency, cancel);
                return new RestoreResult
                {
                    Destination = target,
                    Database = database,
                    Source = window,
                    PointInTime = pointInTime,
                    Duration = watch.Elapsed,
                    Bytes = written.Bytes,
                    EmergencyBackup = written.EmergencyBackup,
                    ReplacedFileKeptAt = written.KeptAside ?? written.EmergencyCopy,
                    ReplacedInPlace = written.InPlace,
                };
            }
        }

        /// <summary>Copies the snapshot into the new file, leaving out the pages <paramref name="replaced"/> says (they are written later).</summary>
        private static void CopySnapshotPages(Stream content, FileStream output, int pageSize, Func<uint, bool> replaced, CancellationToken cancel)
        {
            if (pageSize == 0)
            {
                ArtifactStreams.Pump(content, output, null);
                return;
            }
            int perBuffer = Math.Max(1, (1 << 20) / pageSize);
            var buffer = new byte[perBuffer * pageSize];
            uint page = 1;
            int n;
            while ((n = SqliteFile.ReadFully(content, buffer, 0, buffer.Length)) > 0)
            {
                cancel.ThrowIfCancellationRequested();
                int pages = (n + pageSize - 1) / pageSize;
                int run = 0; // start of the current run of pages to write
                for (int i = 0; i <= pages; i++)
                {
                    bool skip = i < pages && replaced(page + (uint)i);
                    if (i == pages || skip)
                    {
                        int end = Math.Min(i * pageSize, n);
                        if (end > run * pageSize)
                        {
                            output.Position = (long)(page - 1 + run) * pageSize;
                            output.Write(buffer, run * pageSize, end - run * pageSize);
                        }
                        run = i + 1;
                    }
                }
                page += (uint)pages;
                if (n < buffer.Length) break;
            }
        }

        private static TursoBackupException Damaged(WalSegment seg, string database) =>
            new TursoBackupException(FailureKind.InvalidData,
                $"WAL segment {Path.GetFileName(seg.Path)} of '{database}' is damaged; restore to a time before {seg.CaptureTime.ToUniversalTime():u}.", seg.Path);
    }
}
