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
        private OwnerLock archiveLock; // one archiver per archive (Acquire)
        private string rebuildFailure; // why a state rebuilt from the segments cannot continue (then a gap)
        private DateTime damageCheckedWrite; // verify.json's write time when the archiver last looked at it

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

        /// <summary>Who runs this archiver (the cmdlet's name), written into the archive's lock for messages naming it.</summary>
        public string Owner { get; set; } = "WalArchiver";

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

        /// <summary>
        /// Encrypts every segment's body and every generation's snapshot (OpenPGP AES-256) when set; the vault's
        /// "encryption": "required" refuses an archive without it.
        /// </summary>
        public Crypto.EncryptionKeys Encryption { get; set; }

        /// <summary>
        /// Opens the archive's encrypted segments (packing them, continuing after a lost state file); by default the
        /// passphrase of <see cref="Encryption"/>. An archive encrypted only for public keys is not packed (this host
        /// cannot read it): each segment stays its own file.
        /// </summary>
        public Crypto.DecryptionKeys Decryption { get; set; }

        private Crypto.DecryptionKeys ReadKeys => Decryption ?? (Encryption?.Passphrase != null ? (Decryption = new Crypto.DecryptionKeys { Passphrase = Encryption.Passphrase }) : null);

        private bool policyChecked;

        private void CheckPolicy()
        {
            if (policyChecked) return;
            Vault.RequireKeyIfPolicy(Encryption != null && Encryption.Any, $"the WAL archive of '{Database}'");
            policyChecked = true;
        }

        /// <summary>The lock file that makes one archiver the only writer of this archive (docs/vault-format.md, "WAL archive").</summary>
        public string LockPath => OwnerLock.PathFor(layout.Root);

        /// <summary>
        /// Takes the archive's lock (the first sync does it too), so that no second archiver writes the same archive.
        /// When a scheduled Sync-TursoWalArchive holds it, waits up to <paramref name="waitForScheduledRun"/> for that
        /// short run to end; a continuous archiver (or a run that outlasts the wait) is refused with its name.
        /// </summary>
        /// <exception cref="TursoBackupException">Busy: another archiver holds the archive.</exception>
        public void Acquire(TimeSpan waitForScheduledRun = default(TimeSpan), CancellationToken cancel = default(CancellationToken))
        {
            if (archiveLock != null) return;
            OwnerOnly.CreateDirectory(Path.GetDirectoryName(LockPath));
            var taken = OwnerLock.TryAcquire(LockPath);
            if (taken == null && waitForScheduledRun > TimeSpan.Zero && OwnerLock.ReadDescription(LockPath).StartsWith("Sync-TursoWalArchive", StringComparison.Ordinal))
            {
                Log?.Invoke($"Waiting up to {waitForScheduledRun.TotalSeconds:N0} s for the running {OwnerLock.ReadDescription(LockPath)} to finish.");
                taken = OwnerLock.Acquire(LockPath, waitForScheduledRun, cancel);
            }
            if (taken == null)
            {
                string holder = OwnerLock.ReadDescription(LockPath);
                throw new TursoBackupException(FailureKind.Busy,
                    $"The WAL archive of '{Database}' in vault '{Vault.Root}' is already being written by " +
                    (holder.Length > 0 ? holder : $"another archiver (it holds '{LockPath}')") +
                    ". One archiver per archive: that one already archives this database — stop it first if this one should take over.", LockPath) { ErrorId = "ArchiverRunning" };
            }
            var me = Process.GetCurrentProcess();
            DateTimeOffset started;
            try { started = me.StartTime.ToUniversalTime(); } catch (Exception ex) when (ex is InvalidOperationException || ex is NotSupportedException || ex is System.ComponentModel.Win32Exception) { started = clock(); }
            taken.Describe($"{Owner} (pid {me.Id} on host {Environment.MachineName}, started {started.ToUniversalTime():yyyy-MM-dd HH:mm:ss'Z'}, archiving '{dbPath}')");
            archiveLock = taken;
        }

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
            Acquire();
            EnsureHold();
            state = state ?? LoadState();
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
                if (reason == null && checkpointTask == null) FollowWithTheHold();
                bool checkpointDue = wal.CommittedFrames >= CheckpointFrames && lastCheckpoint.Elapsed >= CheckpointInterval;
                bool packDue = state.NextSegment - 1 - packedThrough >= PackFanIn;
                if (checkpointTask == null && (checkpointDue || packDue))
                {
                    // In the background: copying pages back into the database file (and its fsync), and packing old
                    // segment files, must not delay captures.
                    if (checkpointDue) lastCheckpoint.Restart();
                    string generation = state.Generation;
                    long archived = state.NextSegment - 1; // the syncs meanwhile write newer segments: those are not packed
                    checkpointTask = Task.Run(() =>
                    {
                        if (checkpointDue) Checkpoint(cancel);
                        if (packDue) Compact(generation, archived);
                    });
                }
            }
            string damage = DamageOfCurrentGeneration();
            if (damage != null)
            {
                // A verification found a damaged segment or snapshot in this generation: nothing archived after it can
                // be restored to, so the archive continues in a new generation (the damage is a gap already).
                WaitForCheckpoint();
                StartGeneration(null, now, cancel, damage);
                status.NewGenerationReason = damage;
            }
            else if (SnapshotInterval > TimeSpan.Zero && now - state.GenerationStartedAt >= SnapshotInterval)
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

        /// <summary>
        /// The archiver's state: state.json when it agrees with the newest generation's segments, else rebuilt from them
        /// (docs/vault-format.md). A state that was lost is never "the archive starts": whatever the rebuilt state cannot
        /// prove continuous with the WAL on disk becomes a new generation after a recorded gap.
        /// </summary>
        private WalArchiveState LoadState()
        {
            var loaded = WalArchiveState.Load(layout.StatePath);
            var generations = layout.Generations();
            if (generations.Count == 0) return loaded; // nothing archived yet: the archive starts
            string newest = generations[generations.Count - 1];
            string problem = loaded == null ? (File.Exists(layout.StatePath) ? "is damaged" : "is missing")
                : loaded.Generation != newest ? $"names generation {loaded.Generation}, not the newest one ({newest})"
                : StateMismatch(loaded);
            if (problem == null) return loaded;
            Log?.Invoke($"The WAL archive state of '{Database}' ({layout.StatePath}) {problem}: rebuilding it from generation {newest}'s segments.");
            return Rebuild(newest, problem);
        }

        /// <summary>Why a loaded state does not describe the generation's last segment (null when it does).</summary>
        private string StateMismatch(WalArchiveState loaded)
        {
            var files = layout.SegmentFiles(loaded.Generation);
            long last = files.Count == 0 ? 0 : files.Max(f => WalArchiveLayout.SequenceRange(f).Last);
            if (last != loaded.NextSegment - 1) return $"says {loaded.NextSegment - 1} segment(s) were archived, but generation {loaded.Generation} holds {last}";
            if (loaded.Frames > 0 && last > 0)
            {
                var seg = WalSegment.ReadFile(files.OrderBy(f => WalArchiveLayout.SequenceRange(f).Last).Last())?.LastOrDefault();
                if (seg == null) return $"cannot be checked: segment {last} is damaged";
                if (seg.Salt1 != loaded.Salt1 || seg.Salt2 != loaded.Salt2 || seg.FirstFrame + seg.Pages.Length - 1 != loaded.Frames)
                    return $"does not match segment {last} (another WAL or frame count)";
            }
            return null;
        }

        /// <summary>The state as the generation's segments (or, without any, its snapshot.json) prove it.</summary>
        private WalArchiveState Rebuild(string generation, string problem)
        {
            var started = WalRestore.SnapshotTime(layout, generation);
            var rebuilt = new WalArchiveState { Generation = generation, GenerationStartedAt = started ?? clock() };
            rebuilt.LastSyncAt = rebuilt.LastCaptureAt = rebuilt.GenerationStartedAt;
            var files = layout.SegmentFiles(generation);
            rebuilt.NextSegment = (files.Count == 0 ? 0 : files.Max(f => WalArchiveLayout.SequenceRange(f).Last)) + 1;
            string lost = $"the archive's state file {problem}, and ";
            var segments = WalRestore.ValidSegments(layout, generation, out string broken);
            if (!started.HasValue)
            {
                rebuildFailure = lost + $"the snapshot.json of generation {generation} does not read";
            }
            else if (segments.Count > 0)
            {
                var last = segments[segments.Count - 1];
                rebuilt.LastSyncAt = rebuilt.LastCaptureAt = last.CaptureTime; // known to be complete up to here, no further
                if (broken != null || last.Sequence != rebuilt.NextSegment - 1) rebuildFailure = lost + (broken ?? $"segment {last.Sequence + 1} does not read");
                else if (last.Encrypted && ReadKeys == null) rebuildFailure = lost + $"its last segment ({Path.GetFileName(last.Path)}) is encrypted for public keys only, so this host cannot read where it ended";
                else if (!ReadLastSegment(last)) rebuildFailure = lost + $"its last segment ({Path.GetFileName(last.Path)}) is damaged or does not open with the keys given";
                else
                {
                    rebuilt.Salt1 = last.Salt1;
                    rebuilt.Salt2 = last.Salt2;
                    rebuilt.Frames = last.FirstFrame + last.Pages.Length - 1;
                    rebuilt.Seed0 = last.EndSeed0;
                    rebuilt.Seed1 = last.EndSeed1;
                    rebuilt.PageSize = last.PageSize;
                }
            }
            else if (!ReadSnapshotWal(generation, rebuilt))
            {
                rebuildFailure = lost + $"the snapshot of generation {generation} does not record where the WAL stood (written by an older version)";
            }
            // The checkpoint sequence is not in the segments; the WAL's header gives it when the WAL is the same one.
            var header = WalFile.HeaderOnly(walPath);
            if (rebuildFailure == null && header.PageSize != 0 && header.Salt1 == rebuilt.Salt1 && header.Salt2 == rebuilt.Salt2 && segments.Count > 0)
            {
                rebuilt.CheckpointSequence = header.CheckpointSequence;
            }
            if (rebuildFailure != null) Log?.Invoke($"The WAL archive of '{Database}' cannot be continued: {rebuildFailure}.");
            return rebuilt;
        }

        /// <summary>Fills the WAL position and database file facts a snapshot.json records; false when it records none.</summary>
        private bool ReadSnapshotWal(string generation, WalArchiveState into)
        {
            try
            {
                var d = (Dictionary<string, object>)Json.Parse(File.ReadAllText(layout.SnapshotInfoPath(generation)));
                if (!d.TryGetValue("wal", out var w) || !(w is Dictionary<string, object> wal)) return false;
                long L(string k) => Convert.ToInt64(wal[k], System.Globalization.CultureInfo.InvariantCulture);
                into.Salt1 = (uint)L("salt1");
                into.Salt2 = (uint)L("salt2");
                into.CheckpointSequence = (uint)L("checkpointSequence");
                into.Frames = L("frames");
                into.Seed0 = (uint)L("seed0");
                into.Seed1 = (uint)L("seed1");
                into.PageSize = (int)L("pageSize");
                into.SealedDatabaseLength = L("databaseLength");
                into.SealedDatabaseWriteTicks = L("databaseWriteTicks");
                return true;
            }
            catch (Exception ex) when (ex is IOException || ex is FormatException || ex is InvalidCastException || ex is KeyNotFoundException || ex is OverflowException)
            {
                return false;
            }
        }

        /// <summary>A damage a verification recorded (verify.json) in the current generation; looked at when that file changes.</summary>
        private string DamageOfCurrentGeneration()
        {
            var info = new FileInfo(layout.VerifyPath);
            if (!info.Exists || info.LastWriteTimeUtc == damageCheckedWrite) return null;
            damageCheckedWrite = info.LastWriteTimeUtc;
            var damage = layout.RecordedDamage(out _).FirstOrDefault(d => d.Generation == state.Generation);
            return damage == null ? null : $"a verification found this generation damaged ({damage.Reason})";
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
            CheckPolicy();
            long stored = WalSegment.Write(walPath, wal, state.Frames + 1, wal.CommittedFrames - state.Frames,
                layout.SegmentPath(state.Generation, state.NextSegment), segment, Encryption);
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
            if (state.NextSegment - 1 - packedThrough >= PackFanIn) Compact(state.Generation, state.NextSegment - 1);
            lock (gate) state.Save(layout.StatePath);
        }

        /// <summary>Waits for a background checkpoint (its failure is not this caller's: the WAL stays held either way).</summary>
        private void WaitForCheckpoint()
        {
            var task = checkpointTask;
            if (task == null) return;
            // A sync waits with the gate held (a new generation): the checkpoint takes the gate for its phases, so let go of
            // it while waiting — Monitor.Wait releases it however often this thread entered it, and takes it back.
            if (Monitor.IsEntered(gate)) while (!task.IsCompleted) Monitor.Wait(gate, 10);
            try { task.Wait(); }
            catch (AggregateException ex) { Log?.Invoke($"A checkpoint of '{Database}' failed: {ex.GetBaseException().Message}"); }
            checkpointTask = null;
        }

        /// <summary>For tests: waits until a checkpoint or compaction running beside the syncs has ended.</summary>
        internal void WaitForBackgroundWork() => WaitForCheckpoint();

        /// <summary>Why the WAL on disk does not continue the archive (null when it does).</summary>
        private string Continuity(WalFile wal)
        {
            if (state == null || !File.Exists(layout.SnapshotInfoPath(state.Generation))) return "the archive starts";
            if (rebuildFailure != null) return rebuildFailure;
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
            // Another WAL. Only a checkpoint changes the database file, and a WAL can only be restarted (or deleted by
            // the last connection's close) once it is fully checkpointed: while the database file is exactly as it was
            // when everything was archived and checkpointed (sealed), every transaction since is in this WAL, from frame
            // 1 — whatever its salts (a restart gives salt-1 + 1, a WAL created anew after the close gives random ones).
            // Salts alone prove nothing: frames appended to the old WAL, checkpointed and restarted over also give
            // checkpoint sequence + 1 and salt-1 + 1, but change the database file.
            bool clean = (state.Sealed || (state.PageSize == 0 && state.Frames == 0)) && DatabaseUnchangedSinceSeal();
            if (clean)
            {
                // The new WAL continues the archived state from frame 1.
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
            var dbNow = new FileInfo(dbPath);
            Log?.Invoke($"The WAL of '{Database}' is another one (salts {wal.Salt1:x8}/{wal.Salt2:x8}, checkpoint {wal.CheckpointSequence}, " +
                        $"{wal.CommittedFrames} frame(s)) than the archived one (salts {state.Salt1:x8}/{state.Salt2:x8}, checkpoint " +
                        $"{state.CheckpointSequence}, {state.Frames} frame(s) archived, " + (state.Sealed ? "sealed" : "not sealed") +
                        $"; database file {dbNow.Length} bytes written {dbNow.LastWriteTimeUtc:HH:mm:ss.fffffff}, at the seal " +
                        $"{state.SealedDatabaseLength} bytes written {new DateTime(state.SealedDatabaseWriteTicks, DateTimeKind.Utc):HH:mm:ss.fffffff}).");
            return "the WAL was restarted before all its frames were archived (a checkpoint ran while the archiver was not holding the WAL)";
        }

        /// <summary>The database file is as it was when the WAL was last known to be fully archived (no checkpoint since).</summary>
        private bool DatabaseUnchangedSinceSeal()
        {
            var db = new FileInfo(dbPath);
            return db.Length == state.SealedDatabaseLength && db.LastWriteTimeUtc.Ticks == state.SealedDatabaseWriteTicks;
        }

        private void StartGeneration(string lossReason, DateTimeOffset now, CancellationToken cancel, string why = null)
        {
            var lostSince = lossReason != null && state != null ? state.LastSyncAt : (DateTimeOffset?)null;
            why = lossReason ?? why;
            CheckPolicy();
            rebuildFailure = null;
            string generation = BackupVault.NewBackupId(now);
            packedThrough = 0;
            string dir = layout.GenerationPath(generation);
            OwnerOnly.CreateDirectory(dir);
            string snapshot = layout.SnapshotPath(generation);
            Log?.Invoke($"Starting WAL generation {generation} of '{Database}' from a snapshot" + (why == null ? "." : $": {why}."));
            WalFile wal;
            string sha, plaintextSha;
            long bytes;
            using (var file = new FileStream(snapshot + ".partial", FileMode.Create, FileAccess.Write, FileShare.None, 1))
            {
                OwnerOnly.File(snapshot + ".partial");
                using (var sink = new ArtifactSink(file, Encryption, Path.GetFileName(snapshot)))
                {
                    using (var z = ArtifactStreams.Compress(sink.Content, CompressionKind.Zstd))
                    {
                        // Inside the held read transaction (see PageCopy for why this is one transaction boundary).
                        databaseFile = databaseFile ?? PageCopy.OpenDatabaseFile(dbPath);
                        bytes = PageCopy.Copy(databaseFile, dbPath, true, z, null, cancel, out wal);
                    }
                    (sha, plaintextSha) = sink.Finish();
                }
                file.Flush(true);
            }
            bool encrypted = Encryption != null && Encryption.Any;
            // The snapshot holds every transaction committed when the copy read the WAL, which is after the sync's
            // clock reading: it is stamped with the time after the copy, so nothing in it is later than its stamp.
            now = clock();
            if (lostSince.HasValue)
            {
                // At the last sync the WAL was fully archived, so whatever was lost was committed after it.
                layout.AppendGap(new RestoreGap { From = lostSince.Value, To = now, Reason = lossReason });
            }
            File.Move(snapshot + ".partial", snapshot);
            var dbFile = new FileInfo(dbPath);
            DurableFile.WriteAllText(layout.SnapshotInfoPath(generation), Json.Write(new Dictionary<string, object>
            {
                ["format"] = "tursobackup-wal-snapshot",
                ["formatVersion"] = 1,
                ["createdAt"] = BackupManifest.Time(now),
                ["bytes"] = bytes,
                ["sha256"] = sha,
                ["encrypted"] = encrypted,
                ["plaintextSha256"] = plaintextSha,
                ["reason"] = why ?? "scheduled",
                // Where the WAL stood when the snapshot was taken: a lost state.json is rebuilt from this (and the segments).
                ["wal"] = new Dictionary<string, object>
                {
                    ["salt1"] = (long)(wal?.Salt1 ?? 0), ["salt2"] = (long)(wal?.Salt2 ?? 0), ["checkpointSequence"] = (long)(wal?.CheckpointSequence ?? 0),
                    ["frames"] = wal?.CommittedFrames ?? 0, ["seed0"] = (long)(wal?.CommittedChecksum0 ?? 0), ["seed1"] = (long)(wal?.CommittedChecksum1 ?? 0),
                    ["pageSize"] = (long)(wal?.PageSize ?? 0),
                    ["databaseLength"] = dbFile.Length, ["databaseWriteTicks"] = dbFile.LastWriteTimeUtc.Ticks,
                },
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
            // Sealed: everything the WAL held is in the snapshot, and the database file is as recorded. A WAL restarted
            // while it stays so lost nothing (the held snapshot lets no checkpoint copy back frames after the snapshot's),
            // as after a seal — else a restart right after a new generation (its snapshot taken on a WAL fully copied
            // back, which does not keep writers from restarting it) was a gap at once.
            state.Sealed = true;
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
        /// <para>A read snapshot begun on a WAL that is fully copied back reads the database file alone (SQLite's read mark
        /// 0) and does not keep a writer from restarting the WAL; so the snapshot is moved only onto a WAL that is not, the
        /// archiver copies back only a WAL its state describes, and a WAL fully archived and copied back is recorded sealed
        /// even when another connection's checkpoint did the copying (docs/decisions.md #18).</para>
        /// </summary>
        private void Checkpoint(CancellationToken cancel)
        {
            // Phase 1 repeats while the writers added more than a small tail during it (a busy writer on a big database:
            // the backfill's scattered writes and fsync take long), so that phase 2 — which blocks writers and captures —
            // has little left to copy back.
            long tail = 0, walFrames = 0;
            for (int round = 0; round < 4; round++)
            {
                if (round == 0 && CopiedBackToTheHeldEnd())
                {
                    // Nothing after the held snapshot: a snapshot taken now would read the database file alone and keep no
                    // writer from restarting the WAL before phase 2 seals it — and a restart of an unsealed WAL looks like
                    // lost frames. The held snapshot does keep it; phase 2 has nothing to copy back but the writers' tail.
                    tail = 0;
                    break;
                }
                SqliteConnection idle;
                lock (gate)
                {
                    MoveHoldToWalEnd();
                    if (!StateDescribesWal()) return; // the next sync records the gap; nothing is copied back before it
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
            BeforeSealing?.Invoke();
            lock (gate) SealLocked(cancel);
        }

        /// <summary>For tests: called when a compaction starts (beside the syncs, when a sync started it).</summary>
        internal Action BeforeCompacting { get; set; }

        /// <summary>For tests: called between a checkpoint's phases (writers running, the snapshot held), to write there.</summary>
        internal Action BeforeSealing { get; set; }

        /// <summary>
        /// Whether the WAL is copied back into the database file up to its end (PASSIVE: it copies what the held snapshot
        /// allows first). Only the checkpoint uses the spare connection, so this runs beside the syncs.
        /// </summary>
        private bool CopiedBackToTheHeldEnd()
        {
            EnsureSpare();
            PassiveCheckpoint(spare, out long log, out long done);
            return log > 0 && log == done;
        }

        /// <summary>
        /// Under the gate, after the read snapshot was taken: whether the WAL is the one the archive's state describes, so
        /// that copying its frames back into the database file cannot hide a restart. After a seal, a writer may restart the
        /// WAL before any sync has seen it; the restart is clean only while the database file is as sealed, and this
        /// checkpoint would change it — so the continuity rule decides first (a clean restart is taken over now, none of
        /// its frames archived yet). False when the WAL does not continue the archive: then nothing is copied back and the
        /// next sync records the gap. A restart after this check needs a snapshot that saw the WAL fully copied back (read
        /// mark 0), and such a snapshot blocks copying back any of the new WAL's frames, so the database file stays as is.
        /// </summary>
        private bool StateDescribesWal()
        {
            var header = WalFile.HeaderOnly(walPath);
            if (header.PageSize != 0 && header.Salt1 == state.Salt1 && header.Salt2 == state.Salt2 && header.CheckpointSequence == state.CheckpointSequence) return true;
            lastWalLength = -1; // the next sync reads the WAL, whatever its length and time say
            return Continuity(ReadWal()) == null;
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
                    // -1: another connection's checkpoint holds the checkpoint lock (SQLite does not wait for it), and it may
                    // be copying this very WAL back. Writers are blocked; wait a moment for it rather than leave a WAL that
                    // is fully archived and copied back unsealed: the snapshot taken next would then not keep the next
                    // writer from restarting it (a snapshot of a fully copied-back WAL reads the database file alone),
                    // and that restart would look like lost frames.
                    for (int tries = 0; log < 0 && tries < 100; tries++)
                    {
                        Thread.Sleep(10);
                        PassiveCheckpoint(hold, out log, out done);
                    }
                    state.Sealed = log >= 0 && log == done && log == state.Frames;
                    if (state.Sealed)
                    {
                        var db = new FileInfo(dbPath);
                        state.SealedDatabaseLength = db.Length;
                        state.SealedDatabaseWriteTicks = db.LastWriteTimeUtc.Ticks;
                    }
                    Log?.Invoke(state.Sealed
                        ? $"Checkpointed {done} archived frame(s) of '{Database}'; the WAL restarts with the next write."
                        : log < 0
                        ? $"Checkpoint of '{Database}' did not run (another connection kept checkpointing for a second); the WAL keeps growing until the next try."
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

        /// <summary>
        /// After a sync, moves the held read snapshot to the WAL's end when the WAL grew past it, so that the writers' own
        /// checkpoints can copy back what is archived. A snapshot held still while the WAL grows makes every commit's
        /// auto-checkpoint walk all the frames after it (SQLite builds its frame iterator before it finds the reader in the
        /// way): a flat-out writer fell from 16,000 to 700 transactions/s. Safe only when the new snapshot holds a WAL
        /// frame (read mark above 0, which keeps any writer from restarting the WAL): it is taken while the old one is
        /// held, so copying back cannot have reached the WAL's end when the WAL is longer than the old snapshot — checked
        /// on the new snapshot's own wal-index header (same WAL, more frames) before the old one is let go; else the old
        /// one stays. Not while a background checkpoint uses the spare connection.
        /// </summary>
        private void FollowWithTheHold()
        {
            if (holdTx == null || hold == null) return;
            var held = WalIndexHeader.OfReadTransaction(hold);
            if (held == null) return; // no snapshot facts (an old SQLite): the checkpoint moves the hold as before
            var header = WalFile.HeaderOnly(walPath);
            // Only a WAL the archive describes (this sync took it over if it was restarted), with archived frames past the hold.
            if (header.PageSize == 0 || state == null || header.Salt1 != state.Salt1 || header.Salt2 != state.Salt2) return;
            // The hold on another WAL: that one was restarted under it, which only a snapshot reading the database file
            // alone allows (read mark 0), and such a snapshot lets no checkpoint copy back a frame of the new WAL.
            bool sameWal = held.Salt1 == header.Salt1 && held.Salt2 == header.Salt2;
            if (sameWal ? state.Frames <= held.MaxFrame : state.Frames == 0) return;
            EnsureSpare();
            var newTx = SqliteFile.BeginReadSnapshot(spare);
            var moved = WalIndexHeader.OfReadTransaction(spare);
            if (moved == null || moved.Salt1 != header.Salt1 || moved.Salt2 != header.Salt2 || (sameWal ? moved.MaxFrame <= held.MaxFrame : moved.MaxFrame == 0))
            {
                newTx.Dispose(); // keep the old snapshot: the new one may read the database file alone
                return;
            }
            HoldOnSpare(newTx);
        }

        /// <summary>Takes a read snapshot at the WAL's current end on the spare connection, then lets the old one go (and swaps them).</summary>
        private void MoveHoldToWalEnd()
        {
            EnsureSpare();
            HoldOnSpare(SqliteFile.BeginReadSnapshot(spare));
        }

        /// <summary>Lets the held snapshot go for <paramref name="newTx"/>, begun on the spare connection, which becomes the hold.</summary>
        private void HoldOnSpare(SqliteTransaction newTx)
        {
            ReleaseHold();
            var old = hold;
            hold = spare;
            holdTx = newTx;
            spare = old;
        }

        private void EnsureSpare()
        {
            if (spare != null) return;
            spare = SqliteFile.OpenReadWrite(dbPath, LockTimeout);
            using (var cmd = spare.CreateCommand())
            {
                cmd.CommandText = "PRAGMA wal_autocheckpoint = 0";
                cmd.ExecuteNonQuery();
            }
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
                        $"'{dbPath}' is not in WAL mode (its journal mode is '{mode}'), so its changes cannot be archived continuously. Switch it once, while no application has it open: sqlite3 '{dbPath}' 'PRAGMA journal_mode=WAL;' (or Backup-TursoDatabase takes snapshots in any mode).", dbPath) { ErrorId = "NotWalMode" };
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
        /// removes files a pack already holds. Runs beside the syncs: it packs only segments up to <paramref name="through"/>
        /// (archived when it started), never one a sync writes meanwhile, and a level only when it has a full set, oldest
        /// first. A damaged file stops it, leaving everything as is.
        /// </summary>
        private void Compact(string generation, long through)
        {
            BeforeCompacting?.Invoke();
            for (int i = 0; i < 1000 && CompactOnce(generation, through); i++) { }
        }

        /// <summary>One pack (the lowest level that has a full set) of segments up to <paramref name="through"/>; false when no level has one.</summary>
        private bool CompactOnce(string generation, long through)
        {
            for (int level = 0; level < 6; level++)
            {
                var files = new List<(string File, long First, long Last)>();
                long covered = 0;
                foreach (var f in layout.SegmentFiles(generation))
                {
                    var range = WalArchiveLayout.SequenceRange(f);
                    // A segment a sync is writing now (renamed into place, not yet counted) is not this compaction's.
                    if (range.First > through) break;
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
                if (segments.Any(x => x.Encrypted) && ReadKeys == null)
                {
                    if (!packingSkippedLogged) Log?.Invoke($"The WAL archive of '{Database}' is encrypted for public keys only: its segments are not packed (this host cannot read them).");
                    packingSkippedLogged = true;
                    return false;
                }
                string pack = layout.PackPath(generation, run[0].First, run[run.Count - 1].Last);
                long bytes;
                try
                {
                    bytes = WalSegment.WritePack(segments, pack, level + 1, ReadKeys, Encryption);
                }
                catch (Errors.TursoBackupException ex) when (Crypto.KeyRings.IsKeyProblem(ex))
                {
                    Log?.Invoke($"Segments of '{Database}' were not packed: {ex.Message}");
                    return false;
                }
                if (bytes < 0) return false;
                foreach (var f in run) DurableFile.TryDelete(f.File);
                DurableFile.FlushDirectory(layout.SegmentsPath(generation));
                if (level == 0) packedThrough = run[run.Count - 1].Last;
                Log?.Invoke($"Packed segments {run[0].First}–{run[run.Count - 1].Last} of '{Database}' into one file ({bytes:N0} bytes, level {level + 1}).");
                return true;
            }
            return false;
        }

        private bool packingSkippedLogged;

        private bool ReadLastSegment(WalSegment last)
        {
            try
            {
                return WalSegment.ReadMany(new[] { last }, _ => false, null, out _, ReadKeys);
            }
            catch (Errors.TursoBackupException ex) when (Crypto.KeyRings.IsKeyProblem(ex))
            {
                return false;
            }
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
            archiveLock?.Release(); // last: the archive is left complete
            archiveLock = null;
        }
    }
}
