using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Engine.Wal
{
    /// <summary>
    /// Continuous archiving of a WAL-mode database's committed frames into a vault (docs/decisions.md #18).
    /// <para>It holds a read transaction on the database at all times, so other connections' checkpoints cannot
    /// backfill past it nor restart the WAL over frames it has not archived. Each sync reads the WAL's committed frames
    /// after the last archived one and writes them as one segment stamped with the capture time. When the WAL is long
    /// (or on <see cref="Seal"/>), it blocks writers for a moment (BEGIN IMMEDIATE on a second connection), archives
    /// the rest, releases its read transaction, checkpoints, takes a new read transaction and lets writers go: the next
    /// writer restarts the WAL, and the archive knows that restart loses nothing ("sealed").</para>
    /// <para>Any other change of the WAL's salts, or a WAL shorter than what was archived, means continuity is lost:
    /// a new generation starts from a fresh snapshot, and the interval is recorded as a gap.</para>
    /// </summary>
    public sealed class WalArchiver : IDisposable
    {
        private readonly string dbPath;
        private readonly string walPath;
        private readonly WalArchiveLayout layout;
        private readonly Func<DateTimeOffset> clock;
        private SqliteConnection hold;
        private SqliteConnection spare; // takes the next read snapshot before the held one is let go (see Checkpoint)
        private readonly object gate = new object(); // Sync and the checkpoint's sealing phase, one at a time
        private Task checkpointTask; // a checkpoint or a compaction, beside the syncs
        private long packedThrough; // segments up to this sequence are in packs (level 0 counts from here)
        private readonly Stopwatch pruned = Stopwatch.StartNew();
        private int generationCount = -1;
        private readonly Stopwatch lastCheckpoint = Stopwatch.StartNew();
        private FileStream databaseFile; // kept open while the hold lives: closing it would drop SQLite's POSIX locks
        private SqliteTransaction holdTx;
        private WalArchiveState state;
        private long lastWalLength = -1;
        private DateTime lastWalWrite;

        public WalArchiver(string databasePath, string vaultPath, string name = null, Func<DateTimeOffset> clock = null)
        {
            dbPath = Path.GetFullPath(databasePath);
            walPath = dbPath + "-wal";
            SqliteFile.RequireDatabaseFile(dbPath);
            Database = BackupVault.ValidateDatabaseName(name ?? Path.GetFileNameWithoutExtension(dbPath), "Pass -Name to choose one.");
            Vault = BackupVault.OpenOrCreate(vaultPath);
            layout = new WalArchiveLayout(Vault.Root, Database);
            this.clock = clock ?? (() => DateTimeOffset.UtcNow);
        }

        public string Database { get; }
        public BackupVault Vault { get; }
        public Action<string> Log { get; set; }

        /// <summary>A fresh snapshot (new generation) is started when the current one is older than this.</summary>
        public TimeSpan SnapshotInterval { get; set; } = TimeSpan.FromDays(1);

        /// <summary>Generations whose whole span is older than this are removed (0 = keep everything).</summary>
        public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

        /// <summary>The WAL is checkpointed (and restarted) once it holds this many frames.</summary>
        public long CheckpointFrames { get; set; } = 1000;

        /// <summary>
        /// Checkpoints are at least this far apart: under a busy writer the WAL then grows past
        /// <see cref="CheckpointFrames"/> for a moment, and a page rewritten many times is copied back once, not each time.
        /// </summary>
        public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(1);

        public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>
        /// This many segment files are packed into one file (level 1), this many level-1 packs into a level-2 pack, and so
        /// on: a day of 100 ms syncs is a few hundred files, not hundreds of thousands, and a restore opens few files.
        /// Packs keep every segment's capture time, so the restorable points stay the same (docs/decisions.md #21).
        /// </summary>
        public int PackFanIn { get; set; } = 64;

        /// <summary>Captures what the WAL holds beyond what is archived. Cheap when nothing changed.</summary>
        public WalArchiveStatus Sync(CancellationToken cancel = default(CancellationToken))
        {
            lock (gate) return SyncLocked(cancel);
        }

        private WalArchiveStatus SyncLocked(CancellationToken cancel)
        {
            // A checkpoint that ran in the background and failed is reported by the next sync.
            if (checkpointTask != null && checkpointTask.IsCompleted)
            {
                var failed = checkpointTask.Exception;
                checkpointTask = null;
                if (failed != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failed.GetBaseException()).Throw();
            }
            var status = new WalArchiveStatus { Database = Database, Vault = Vault.Root };
            EnsureHold();
            state = state ?? WalArchiveState.Load(layout.StatePath);
            var now = clock();
            var walInfo = new FileInfo(walPath);
            long walLength = walInfo.Exists ? walInfo.Length : 0;
            DateTime walWrite = walInfo.Exists ? walInfo.LastWriteTimeUtc : DateTime.MinValue;
            bool unchanged = state != null && walLength == lastWalLength && walWrite == lastWalWrite;
            if (!unchanged)
            {
                var wal = ReadWal();
                // The capture time is taken after the WAL was read: every transaction captured committed before it.
                now = clock();
                string reason = Continuity(wal);
                if (reason != null)
                {
                    WaitForCheckpoint();
                    StartGeneration(reason, now, cancel);
                    status.NewGenerationReason = reason;
                }
                else if (wal.CommittedFrames > state.Frames)
                {
                    status.FramesCaptured = wal.CommittedFrames - state.Frames;
                    status.Lag = state.LastSyncAt == default(DateTimeOffset) ? TimeSpan.Zero : now - state.LastSyncAt;
                    status.BytesCaptured = ArchiveNewFrames(wal, now);
                }
                lastWalLength = walLength;
                lastWalWrite = walWrite;
                bool checkpointDue = wal.CommittedFrames >= CheckpointFrames && lastCheckpoint.Elapsed >= CheckpointInterval;
                bool packDue = state.NextSegment - 1 - packedThrough >= PackFanIn;
                if (checkpointTask == null && (checkpointDue || packDue))
                {
                    // In the background: copying pages back into the database file (and its fsync), and packing old
                    // segment files, must not delay captures.
                    if (checkpointDue) lastCheckpoint.Restart();
                    string generation = state.Generation;
                    checkpointTask = Task.Run(() =>
                    {
                        if (checkpointDue) Checkpoint(cancel);
                        if (packDue) Compact(generation);
                    });
                }
            }
            if (SnapshotInterval > TimeSpan.Zero && now - state.GenerationStartedAt >= SnapshotInterval)
            {
                WaitForCheckpoint();
                StartGeneration(null, now, cancel);
                status.NewGenerationReason = "snapshot interval";
            }
            if (state.LastSyncAt > now) now = state.LastSyncAt; // a new generation's snapshot is stamped after its copy
            state.LastSyncAt = now;
            state.Save(layout.StatePath, force: false);
            if (pruned.Elapsed >= TimeSpan.FromMinutes(1) || status.NewGenerationReason != null || generationCount < 0)
            {
                // Retention is about days: once a minute (and at a new generation) is often enough.
                PruneGenerations(now);
                generationCount = layout.Generations().Count;
                pruned.Restart();
            }
            status.Generation = state.Generation;
            status.LastSyncAt = now;
            status.Snapshots = generationCount;
            status.Segments = (int)(state.NextSegment - 1);
            return status;
        }

        /// <summary>The WAL, read from the first frame not yet archived when it still continues the archive (else whole).</summary>
        private WalFile ReadWal() => state == null
            ? WalFile.Read(walPath)
            : WalFile.ReadAfter(walPath, state.Salt1, state.Salt2, state.CheckpointSequence, state.Frames, state.Seed0, state.Seed1);

        /// <summary>Writes the WAL's committed frames after the archived ones as the next segment; returns its stored size.</summary>
        private long ArchiveNewFrames(WalFile wal, DateTimeOffset captureTime)
        {
            var segment = new WalSegment
            {
                Sequence = state.NextSegment, CaptureTime = captureTime, PageSize = wal.PageSize, Salt1 = wal.Salt1, Salt2 = wal.Salt2,
                Seed0 = state.Seed0, Seed1 = state.Seed1, BigEndianChecksums = wal.BigEndianChecksums, DatabasePages = wal.DatabasePages,
            };
            long stored = WalSegment.Write(walPath, wal, state.Frames + 1, wal.CommittedFrames - state.Frames,
                layout.SegmentPath(state.Generation, state.NextSegment), segment);
            state.NextSegment++;
            state.Frames = wal.CommittedFrames;
            state.Seed0 = wal.CommittedChecksum0;
            state.Seed1 = wal.CommittedChecksum1;
            state.Sealed = false;
            state.LastCaptureAt = captureTime;
            return stored;
        }

        /// <summary>Archives everything, checkpoints the WAL fully when it can and records that, then releases the database.</summary>
        public void Seal(CancellationToken cancel = default(CancellationToken))
        {
            Sync(cancel);
            WaitForCheckpoint();
            Checkpoint(cancel);
            // Pack what is due, so a scheduled Sync-TursoWalArchive (which seals every run) keeps the chain short too.
            if (state.NextSegment - 1 - packedThrough >= PackFanIn) Compact(state.Generation);
            lock (gate) state.Save(layout.StatePath);
        }

        /// <summary>Waits for a background checkpoint (its failure is not this caller's: the WAL stays held either way).</summary>
        private void WaitForCheckpoint()
        {
            var task = checkpointTask;
            if (task == null) return;
            try { task.Wait(); }
            catch (AggregateException ex) { Log?.Invoke($"A checkpoint of '{Database}' failed: {ex.GetBaseException().Message}"); }
            checkpointTask = null;
        }

        /// <summary>Why the WAL on disk does not continue the archive (null when it does).</summary>
        private string Continuity(WalFile wal)
        {
            if (state == null || !File.Exists(layout.SnapshotInfoPath(state.Generation))) return "the archive starts";
            if (wal.PageSize == 0)
            {
                // No valid WAL header: nothing written since the WAL was truncated, or frames were checkpointed and the
                // WAL truncated while nobody archived them. The database file tells which.
                if ((state.Sealed || (state.Frames == 0 && state.PageSize == 0)) && DatabaseUnchangedSinceSeal()) return null;
                return "the WAL was checkpointed and truncated before its frames were archived";
            }
            if (wal.Salt1 == state.Salt1 && wal.Salt2 == state.Salt2 && wal.CheckpointSequence == state.CheckpointSequence)
            {
                return wal.CommittedFrames < state.Frames ? "the WAL holds fewer frames than were archived (the database was replaced or its WAL rewritten)" : null;
            }
            bool firstWal = state.PageSize == 0 && state.Frames == 0 && DatabaseUnchangedSinceSeal();
            if (firstWal || (state.Sealed && wal.CheckpointSequence == state.CheckpointSequence + 1 && wal.Salt1 == unchecked(state.Salt1 + 1)))
            {
                // The restart the last seal prepared: the new WAL continues the archived state from frame 1.
                state.Salt1 = wal.Salt1;
                state.Salt2 = wal.Salt2;
                state.CheckpointSequence = wal.CheckpointSequence;
                state.Frames = 0;
                state.PageSize = wal.PageSize;
                WalFile empty = WalFile.HeaderOnly(walPath);
                state.Seed0 = empty.CommittedChecksum0;
                state.Seed1 = empty.CommittedChecksum1;
                return null;
            }
            return "the WAL was restarted before all its frames were archived (a checkpoint ran while the archiver was not holding the WAL)";
        }

        /// <summary>The database file is as it was when the WAL was last known to be fully archived (no checkpoint since).</summary>
        private bool DatabaseUnchangedSinceSeal()
        {
            var db = new FileInfo(dbPath);
            return db.Length == state.SealedDatabaseLength && db.LastWriteTimeUtc.Ticks == state.SealedDatabaseWriteTicks;
        }

        private void StartGeneration(string lossReason, DateTimeOffset now, CancellationToken cancel)
        {
            var lostSince = lossReason != null && state != null ? state.LastSyncAt : (DateTimeOffset?)null;
            string generation = BackupVault.NewBackupId(now);
            packedThrough = 0;
            string dir = layout.GenerationPath(generation);
            OwnerOnly.CreateDirectory(dir);
            string snapshot = layout.SnapshotPath(generation);
            Log?.Invoke($"Starting WAL generation {generation} of '{Database}' from a snapshot" + (lossReason == null ? "." : $": {lossReason}."));
            WalFile wal;
            string sha;
            long bytes;
            using (var file = new FileStream(snapshot + ".partial", FileMode.Create, FileAccess.Write, FileShare.None, 1))
            {
                OwnerOnly.File(snapshot + ".partial");
                using (var hashing = new ParallelHashStream(new EarlyWritebackStream(file)))
                {
                    using (var z = ArtifactStreams.Compress(hashing, CompressionKind.Zstd))
                    {
                        // Inside the held read transaction (see PageCopy for why this is one transaction boundary).
                        databaseFile = databaseFile ?? PageCopy.OpenDatabaseFile(dbPath);
                        bytes = PageCopy.Copy(databaseFile, dbPath, true, z, null, cancel, out wal);
                    }
                    sha = hashing.Finish();
                }
                file.Flush(true);
            }
            // The snapshot holds every transaction committed when the copy read the WAL, which is after the sync's
            // clock reading: it is stamped with the time after the copy, so nothing in it is later than its stamp.
            now = clock();
            if (lostSince.HasValue)
            {
                // At the last sync the WAL was fully archived, so whatever was lost was committed after it.
                layout.AppendGap(new RestoreGap { From = lostSince.Value, To = now, Reason = lossReason });
            }
            File.Move(snapshot + ".partial", snapshot);
            DurableFile.WriteAllText(layout.SnapshotInfoPath(generation), Json.Write(new Dictionary<string, object>
            {
                ["format"] = "tursobackup-wal-snapshot",
                ["formatVersion"] = 1,
                ["createdAt"] = BackupManifest.Time(now),
                ["bytes"] = bytes,
                ["sha256"] = sha,
                ["reason"] = lossReason ?? "scheduled",
            }));
            state = new WalArchiveState
            {
                Generation = generation,
                GenerationStartedAt = now,
                Salt1 = wal?.Salt1 ?? 0,
                Salt2 = wal?.Salt2 ?? 0,
                CheckpointSequence = wal?.CheckpointSequence ?? 0,
                Frames = wal?.CommittedFrames ?? 0,
                Seed0 = wal?.CommittedChecksum0 ?? 0,
                Seed1 = wal?.CommittedChecksum1 ?? 0,
                PageSize = wal?.PageSize ?? 0,
                LastCaptureAt = now,
                LastSyncAt = now,
            };
            var dbFile = new FileInfo(dbPath);
            state.SealedDatabaseLength = dbFile.Length;
            state.SealedDatabaseWriteTicks = dbFile.LastWriteTimeUtc.Ticks;
            state.Save(layout.StatePath);
        }

        /// <summary>
        /// Checkpoints in two phases so writers wait only for the tail. Phase 1, writers running: the read snapshot moves
        /// to the WAL's end (a second connection takes the new snapshot before the old one is let go, so the WAL cannot
        /// restart in between), and a PASSIVE checkpoint backfills the database file up to it — the bulk of the work.
        /// Phase 2, writers blocked (BEGIN IMMEDIATE): archive what they added meanwhile, let go of the snapshot,
        /// checkpoint that small rest, hold again; the next writer restarts the WAL, and the archive knows the restart
        /// loses nothing ("sealed").
        /// </summary>
        private void Checkpoint(CancellationToken cancel)
        {
            // Phase 1 repeats while the writers added more than a small tail during it (a busy writer on a big database:
            // the backfill's scattered writes and fsync take long), so that phase 2 — which blocks writers and captures —
            // has little left to copy back.
            long tail = 0, walFrames = 0;
            for (int round = 0; round < 4; round++)
            {
                SqliteConnection idle;
                lock (gate)
                {
                    MoveHoldToWalEnd();
                    idle = spare;
                }
                long log, done;
                PassiveCheckpoint(idle, out log, out done); // captures go on meanwhile (Sync does not use the spare connection)
                // A second PASSIVE copies nothing more (the held snapshot bounds it) but reports the WAL's frames now:
                // log - done is what the writers added during the first.
                if (done >= 0) PassiveCheckpoint(idle, out log, out done);
                tail = done < 0 ? 0 : log - done;
                walFrames = log;
                if (done < 0 || tail <= SealTailFrames) break;
                Log?.Invoke($"Checkpoint of '{Database}': {log - done} frame(s) were written meanwhile; copying them back before blocking writers.");
            }
            if (tail > SealTailFrames && walFrames < ForceSealFrames)
            {
                // The writers outrun the copying back: blocking them now would stall them (and the captures) for as long
                // as the rest takes. The WAL stays held (it cannot restart) and grows; the next checkpoint tries again.
                Log?.Invoke($"Checkpoint of '{Database}': writers are busy ({tail} frame(s) behind); the WAL is restarted at a quieter moment.");
                return;
            }
            lock (gate) SealLocked(cancel);
        }

        /// <summary>Phase 2 of a checkpoint starts once at most this many frames are left to copy back (see <see cref="Checkpoint"/>).</summary>
        private const long SealTailFrames = 1000;

        /// <summary>A WAL this long (about 256 MiB at 4 KiB pages) is sealed even under busy writers, so it stays bounded.</summary>
        private const long ForceSealFrames = 65536;

        /// <summary>Phase 2 of <see cref="Checkpoint"/>: writers blocked, the tail archived, the WAL let go fully backfilled.</summary>
        private void SealLocked(CancellationToken cancel)
        {
            long log, done;
            using (var writerLock = SqliteFile.OpenReadWrite(dbPath, LockTimeout))
            {
                using (var cmd = writerLock.CreateCommand())
                {
                    cmd.CommandText = "BEGIN IMMEDIATE";
                    cmd.ExecuteNonQuery();
                }
                try
                {
                    lastWalLength = -1; // force a read
                    var wal = ReadWal();
                    if (Continuity(wal) == null && wal.CommittedFrames > state.Frames)
                    {
                        ArchiveNewFrames(wal, clock()); // the capture time after the read: see Sync
                    }
                    if (wal.CommittedFrames != state.Frames || wal.Salt1 != state.Salt1) return; // not archived: do not let it go
                    ReleaseHold();
                    PassiveCheckpoint(hold, out log, out done);
                    state.Sealed = log >= 0 && log == done && log == state.Frames;
                    if (state.Sealed)
                    {
                        var db = new FileInfo(dbPath);
                        state.SealedDatabaseLength = db.Length;
                        state.SealedDatabaseWriteTicks = db.LastWriteTimeUtc.Ticks;
                    }
                    Log?.Invoke(state.Sealed
                        ? $"Checkpointed {done} archived frame(s) of '{Database}'; the WAL restarts with the next write."
                        : $"Checkpoint of '{Database}' copied {done} of {log} frame(s) (a reader holds older ones); the WAL keeps growing until the next try.");
                    EnsureHold();
                }
                finally
                {
                    using (var cmd = writerLock.CreateCommand())
                    {
                        cmd.CommandText = "ROLLBACK";
                        cmd.ExecuteNonQuery();
                    }
                }
            }
        }

        /// <summary>Takes a read snapshot at the WAL's current end on the spare connection, then lets the old one go (and swaps them).</summary>
        private void MoveHoldToWalEnd()
        {
            if (spare == null)
            {
                spare = SqliteFile.OpenReadWrite(dbPath, LockTimeout);
                using (var cmd = spare.CreateCommand())
                {
                    cmd.CommandText = "PRAGMA wal_autocheckpoint = 0";
                    cmd.ExecuteNonQuery();
                }
            }
            var newTx = SqliteFile.BeginReadSnapshot(spare);
            ReleaseHold();
            var old = hold;
            hold = spare;
            holdTx = newTx;
            spare = old;
        }

        private static void PassiveCheckpoint(SqliteConnection connection, out long log, out long done)
        {
            using (var cmd = connection.CreateCommand())
            {
                cmd.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
                using (var r = cmd.ExecuteReader())
                {
                    r.Read();
                    log = r.GetInt64(1);
                    done = r.GetInt64(2);
                }
            }
        }

        private void EnsureHold()
        {
            if (hold == null)
            {
                hold = SqliteFile.OpenReadWrite(dbPath, LockTimeout);
                string mode = Convert.ToString(SqliteFile.Scalar(hold, "PRAGMA journal_mode"));
                if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                {
                    hold.Dispose();
                    hold = null;
                    throw new TursoBackupException(FailureKind.NotEnabled,
                        $"'{dbPath}' is not in WAL mode (its journal mode is '{mode}'), so its changes cannot be archived continuously. Switch it once, while no application has it open: sqlite3 '{dbPath}' 'PRAGMA journal_mode=WAL;' (or Backup-TursoDatabase takes snapshots in any mode).", dbPath);
                }
                using (var cmd = hold.CreateCommand())
                {
                    // The archiver checkpoints itself, after archiving; its own connection must never do it on close.
                    cmd.CommandText = "PRAGMA wal_autocheckpoint = 0";
                    cmd.ExecuteNonQuery();
                }
            }
            if (holdTx == null) holdTx = SqliteFile.BeginReadSnapshot(hold);
        }

        private void ReleaseHold()
        {
            holdTx?.Dispose();
            holdTx = null;
        }

        /// <summary>
        /// Packs the oldest <see cref="PackFanIn"/> files of a level into one file of the next level, level by level, and
        /// removes files a pack already holds. Runs beside the syncs (it never touches the newest segments' files: a
        /// level is packed only when it has a full set, oldest first). A damaged file stops it, leaving everything as is.
        /// </summary>
        private void Compact(string generation)
        {
            for (int i = 0; i < 1000 && CompactOnce(generation); i++) { }
        }

        /// <summary>One pack (the lowest level that has a full set); false when no level has one.</summary>
        private bool CompactOnce(string generation)
        {
            for (int level = 0; level < 6; level++)
            {
                var files = new List<(string File, long First, long Last)>();
                long covered = 0;
                foreach (var f in layout.SegmentFiles(generation))
                {
                    var range = WalArchiveLayout.SequenceRange(f);
                    if (range.Last <= covered) { DurableFile.TryDelete(f); continue; } // left by an interrupted compaction
                    covered = range.Last;
                    if (LevelOf(range.First, range.Last) == level) files.Add((f, range.First, range.Last));
                    else if (files.Count > 0 && files.Count < PackFanIn) files.Clear(); // only a contiguous run of one level
                }
                if (files.Count < PackFanIn)
                {
                    if (level == 0) packedThrough = Math.Max(packedThrough, covered - files.Count);
                    continue;
                }
                var run = files.Take(PackFanIn).ToList();
                var segments = new List<WalSegment>();
                foreach (var f in run)
                {
                    var list = WalSegment.ReadFile(f.File);
                    if (list == null) return false;
                    segments.AddRange(list);
                }
                string pack = layout.PackPath(generation, run[0].First, run[run.Count - 1].Last);
                long bytes = WalSegment.WritePack(segments, pack, level + 1);
                if (bytes < 0) return false;
                foreach (var f in run) DurableFile.TryDelete(f.File);
                DurableFile.FlushDirectory(layout.SegmentsPath(generation));
                if (level == 0) packedThrough = run[run.Count - 1].Last;
                Log?.Invoke($"Packed segments {run[0].First}–{run[run.Count - 1].Last} of '{Database}' into one file ({bytes:N0} bytes, level {level + 1}).");
                return true;
            }
            return false;
        }

        /// <summary>The level of a file holding segments first…last: 0 for one segment, L for up to PackFanIn^L.</summary>
        private int LevelOf(long first, long last)
        {
            long count = last - first + 1, capacity = 1;
            int level = 0;
            while (capacity < count) { capacity *= PackFanIn; level++; }
            return level;
        }

        /// <summary>Removes generations that only cover times before the retention window (never the current one).</summary>
        private void PruneGenerations(DateTimeOffset now)
        {
            if (Retention <= TimeSpan.Zero) return;
            var generations = layout.Generations();
            // A generation is needed while the next one starts inside the window (it covers the window's start).
            for (int i = 0; i + 1 < generations.Count; i++)
            {
                var nextStart = ReadSnapshotTime(generations[i + 1]);
                if (nextStart.HasValue && nextStart.Value <= now - Retention && generations[i] != state.Generation)
                {
                    Log?.Invoke($"Removing WAL generation {generations[i]} of '{Database}': older than the retention of {Retention}.");
                    DurableFile.TryDeleteDirectory(layout.GenerationPath(generations[i]));
                }
            }
        }

        internal DateTimeOffset? ReadSnapshotTime(string generation) => WalRestore.SnapshotTime(layout, generation);

        public void Dispose()
        {
            WaitForCheckpoint();
            ReleaseHold();
            hold?.Dispose();
            hold = null;
            spare?.Dispose();
            spare = null;
            databaseFile?.Dispose(); // after SQLite let go of its locks
            databaseFile = null;
        }
    }
}
