using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.Dump;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Engine.Backup
{
    /// <summary>
    /// Backs up a local SQLite/libSQL database into a vault, as a Snapshot (page copy inside a read transaction) or a
    /// Dump (SQL text written inside a read transaction): artifact into a private staging folder, checksummed and
    /// compressed as it streams, content profile (row counts, schema hash) → manifest → one rename publishes the
    /// backup. Nothing is listed until the rename.
    /// </summary>
    public sealed class SnapshotBackup
    {
        public static string ToolVersion => typeof(SnapshotBackup).Assembly.GetName().Version.ToString(3);

        private readonly Func<DateTimeOffset> clock;

        public SnapshotBackup(Func<DateTimeOffset> clock = null)
        {
            this.clock = clock ?? (() => DateTimeOffset.UtcNow);
        }

        /// <summary>Receives narration (the cmdlet shows it with -Verbose).</summary>
        public Action<string> Log { get; set; }

        public Action<BackupProgress> Progress { get; set; }

        public static string DefaultName(string sourcePath) => Path.GetFileNameWithoutExtension(sourcePath);

        public BackupInfo Run(BackupRequest request, CancellationToken cancel = default(CancellationToken))
        {
            bool remote = request.SourceUrl != null;
            string source = remote ? Remote.LibsqlUrl.Normalize(request.SourceUrl) : Path.GetFullPath(request.SourcePath);
            if (!remote) SqliteFile.RequireDatabaseFile(source);
            string name = BackupVault.ValidateDatabaseName(request.Name ?? (remote ? RemoteName(source) : DefaultName(source)), "Pass -Name to choose one.");
            var vault = BackupVault.OpenOrCreate(request.VaultPath);
            vault.RequireKeyIfPolicy(request.Encrypt, $"a backup of '{name}'");
            int cleaned = vault.CleanAbandonedStaging();
            if (cleaned > 0) Log?.Invoke($"Removed {cleaned} abandoned staging folder(s) left by interrupted backups.");

            var watch = Stopwatch.StartNew();
            bool incremental = !remote && request.Kind == BackupKind.Incremental;
            if (incremental && request.Encrypt)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"Incremental backups are not encrypted (their pages are shared in the vault's page store, which has no encryption yet): back '{name}' up with -Kind Snapshot to encrypt it.", source) { ErrorId = "IncrementalNotEncrypted" };
            }
            // The store's one writer from the dedup against it to the publication (a collection must not remove a page
            // this backup counts on in between).
            var storeLock = incremental ? new Incremental.PageStore(vault.Root, name).Lock(request.LockTimeout, $"Incremental backup of '{source}'", cancel) : null;
            DateTimeOffset createdAt = clock();
            string id = BackupVault.NewBackupId(createdAt);
            LockedFolder held = null;
            try
            {
                // The staging folder is ours while we hold its lock; another backup (another PID namespace, another host
                // on a shared vault) removes it only once it can take the lock, i.e. once we are gone.
                held = vault.CreateStaging(id, $"backup of '{source}' as '{name}'");
                string staging = held.Path;
                var artifact = remote ? WriteRemoteDump(source, staging, name, request, cancel)
                    : request.Kind == BackupKind.Dump ? WriteDump(source, staging, name, request, cancel)
                    : incremental ? CopyIncremental(source, staging, name, id, vault, request, cancel)
                    : CopySnapshot(source, staging, name, request, cancel);
                cancel.ThrowIfCancellationRequested();
                return Publish(vault, staging, name, id, createdAt, watch, source, request, artifact);
            }
            catch (IOException ex) when (DiskSpace.IsFull(ex))
            {
                throw new TursoBackupException(FailureKind.WriteFailed,
                    $"The vault's disk is full while backing up '{source}': {ex.Message} Free space or choose another vault; no partial backup was kept.", source, ex);
            }
            catch (SqliteException ex)
            {
                throw OnlineBackup.Translate(ex.SqliteErrorCode, ex.Message, $"back up '{source}'");
            }
            finally
            {
                held?.Dispose();
                storeLock?.Dispose();
            }
        }

        /// <summary>
        /// A consistent copy of a live database to a new file outside any vault (branches of now, copies for tests):
        /// page copy inside a read transaction into a <see cref="Files.DatabaseWriter"/>'s temporary file, installed by
        /// rename. Never replaces a file.
        /// </summary>
        public static long CopyDatabase(string sourcePath, string destinationPath, TimeSpan lockTimeout, CancellationToken cancel, string purpose = "copy")
        {
            string source = Path.GetFullPath(sourcePath);
            SqliteFile.RequireDatabaseFile(source);
            string target = Path.GetFullPath(destinationPath);
            using (var writer = Files.DatabaseWriter.Begin(target, new Files.DatabaseWriteOptions { Purpose = purpose, ForceHint = "Choose another name." }))
            {
                long bytes;
                // The database file is opened before the connection and closed after it: closing a descriptor of it while
                // SQLite holds its locks would drop them (POSIX locks are the process's).
                using (var dbFile = PageCopy.OpenDatabaseFile(source))
                using (var src = OpenSource(source, lockTimeout))
                {
                    bool wal = IsWal(Convert.ToString(SqliteFile.Scalar(src, "PRAGMA journal_mode")));
                    using (SqliteFile.BeginReadSnapshot(src))
                    using (var file = new FileStream(writer.PartialPath, FileMode.Create, FileAccess.Write, FileShare.None, 1))
                    {
                        bytes = PageCopy.Copy(dbFile, source, wal, new EarlyWritebackStream(file), null, cancel, out _);
                        file.Flush(true);
                    }
                }
                writer.Commit(null, cancel);
                return bytes;
            }
        }

        /// <summary>What one backup wrote into its staging folder, before the manifest.</summary>
        private sealed class Artifact
        {
            public BackupKind Kind;
            public string FileName;
            public DateTimeOffset PointInTime;
            public string JournalMode;
            public string Consistency;
            public string Sha256;
            public string PlaintextSha256;
            public long SourceBytes;
            public long StoredBytes;
            public DatabaseProfile Profile;
            public CompressionKind? Compression;
            public IncrementalInfo Pages;
        }

        /// <summary>
        /// Incremental: the same page copy as a Snapshot (exactly the read transaction's snapshot, the profile read in that
        /// transaction), written into the page store — each page hashed, only pages the store does not hold stored, a
        /// page map as the artifact. The caller holds the store's lock.
        /// </summary>
        private Artifact CopyIncremental(string source, string staging, string name, string id, BackupVault vault, BackupRequest request, CancellationToken cancel)
        {
            var store = new Incremental.PageStore(vault.Root, name);
            if (request.Compression != CompressionKind.Zstd) Log?.Invoke($"An Incremental backup stores its pages zstd-compressed, in frames of {Incremental.PageStore.PackWriter.PagesPerFrame} pages: -Compression {request.Compression} does not apply.");
            var loadWatch = Stopwatch.StartNew();
            var known = store.LoadIndex(m => Log?.Invoke(m));
            Log?.Invoke($"The page store of '{name}' holds {known.Count:N0} page(s) ({loadWatch.Elapsed.TotalMilliseconds:N0} ms to read its indexes).");
            string artifactName = ArtifactStreams.ArtifactFileName(name, BackupKind.Incremental, CompressionKind.Zstd, false);
            string mapPath = Path.Combine(staging, artifactName);
            DateTimeOffset pointInTime;
            string journalMode, mapSha;
            DatabaseProfile profile = null;
            long copiedBytes = -1;
            Incremental.IncrementalPageSink sink;
            bool pinned;
            using (var dbFile = PageCopy.OpenDatabaseFile(source))
            using (var src = OpenSource(source, request.LockTimeout))
            {
                journalMode = Convert.ToString(SqliteFile.Scalar(src, "PRAGMA journal_mode"));
                bool wal = IsWal(journalMode);
                WalIndexHeader snapshot = null;
                using (var tx = wal ? SqliteFile.BeginReadSnapshot(src, source, out snapshot) : SqliteFile.BeginReadSnapshot(src))
                using (sink = new Incremental.IncrementalPageSink(store, known, mapPath, id))
                {
                    pinned = !wal || snapshot != null;
                    Log?.Invoke($"Copying '{source}' ({journalMode} mode) page by page inside a read transaction" +
                        (snapshot != null ? $" (its snapshot: WAL frame {snapshot.MaxFrame})" : "") + " into the page store, storing only pages it does not hold.");
                    Task<DatabaseProfile> sourceProfile;
                    // The sink (hashing, compressing new pages) works on a thread of its own, behind the reads.
                    using (var behind = new WriteBehindStream(sink))
                    {
                        copiedBytes = CopyPages(dbFile, source, wal, snapshot, src, pinned ? tx : null, behind, cancel, out sourceProfile);
                        behind.Finish();
                    }
                    pointInTime = clock();
                    mapSha = sink.Finish();
                    profile = ProfileOf(sourceProfile, dbFile);
                }
            }
            if (profile == null)
            {
                // No pinned snapshot (a SQLite without snapshots): the profile is read from the backup itself, rebuilt.
                string scratch = mapPath + ".profile.db";
                try
                {
                    Incremental.IncrementalRestore.Rebuild(new BackupInfo { Vault = vault.Root, Database = name, Id = id, Location = mapPath, Sha256 = mapSha }, scratch, null, cancel);
                    profile = ReadProfile(scratch);
                }
                finally
                {
                    DurableFile.TryDelete(scratch);
                }
            }
            Log?.Invoke($"{sink.Pages:N0} page(s); {sink.NewPages:N0} new ({sink.NewBytes:N0} bytes in {sink.NewPacks.Count} pack(s)), the rest already in the store.");
            return new Artifact
            {
                Kind = BackupKind.Incremental, FileName = artifactName, PointInTime = pointInTime, JournalMode = journalMode,
                Consistency = PageCopyConsistency(IsWal(journalMode)) + "; pages in the vault's page store by SHA-256",
                Sha256 = mapSha, PlaintextSha256 = mapSha, SourceBytes = copiedBytes, StoredBytes = new FileInfo(mapPath).Length, Profile = profile,
                Compression = CompressionKind.Zstd,
                Pages = new IncrementalInfo
                {
                    Store = Incremental.PageStore.Folder + "/" + name, NewPages = sink.NewPages, NewBytes = sink.NewBytes, Packs = sink.NewPacks.ToArray(),
                },
            };
        }

        /// <summary>What a manifest says of a page copy's consistency.</summary>
        private static string PageCopyConsistency(bool wal) => wal
            ? "read transaction; page copy of the database file and the WAL's committed frames"
            : "read transaction (shared lock); page copy of the database file";

        /// <summary>
        /// The page copy (of <paramref name="snapshot"/> in WAL mode) into <paramref name="output"/>. Given
        /// <paramref name="profileTx"/>, SQLite meanwhile reads the content profile in that transaction on its own thread
        /// (<paramref name="profile"/>; never left running when the copy fails). Returns the bytes copied.
        /// </summary>
        private long CopyPages(FileStream dbFile, string source, bool wal, WalIndexHeader snapshot, SqliteConnection src, SqliteTransaction profileTx,
            Stream output, CancellationToken cancel, out Task<DatabaseProfile> profile)
        {
            var reading = profileTx != null ? Task.Run(() => DatabaseProfile.Read(src, profileTx)) : null;
            long copied = -1;
            try
            {
                copied = PageCopy.Copy(dbFile, source, wal, output, (done, total) => Progress?.Invoke(new BackupProgress("Copying", done, total)), cancel, out _, snapshot);
            }
            finally
            {
                if (reading != null && copied < 0) try { reading.Wait(); } catch (AggregateException) { }
            }
            profile = reading;
            return copied;
        }

        /// <summary>The profile read beside the copy (null when none was), with page 1's reserved-bytes field from the open file.</summary>
        private static DatabaseProfile ProfileOf(Task<DatabaseProfile> reading, FileStream dbFile)
        {
            if (reading == null) return null;
            var profile = reading.GetAwaiter().GetResult();
            profile.ReservedBytes = SqliteFile.ReadReservedBytes(dbFile);
            return profile;
        }

        /// <summary>
        /// Snapshot: a page copy (or the backup API) inside one read transaction. The pages stream through the
        /// compressor and a second-thread SHA-256 straight into the artifact; when compressing, they are also teed into
        /// an uncompressed copy, which the content profile reads (it must describe exactly the copied state). That copy is
        /// made in a scratch folder outside the vault (<see cref="ChooseScratch"/>), so the vault needs room only for what
        /// is stored.
        /// </summary>
        private Artifact CopySnapshot(string source, string staging, string name, BackupRequest request, CancellationToken cancel)
        {
            string artifactName = ArtifactStreams.ArtifactFileName(name, BackupKind.Snapshot, request.Compression, request.Encrypt);
            string artifactPath = Path.Combine(staging, artifactName);
            // Compressed or encrypted, an uncompressed copy is made only where the profile cannot be read from the source
            // in the copy's own transaction (the backup API; a WAL snapshot that could not be pinned): its scratch folder
            // is taken when first needed.
            bool compressed = request.Compression != CompressionKind.None || request.Encrypt;
            LockedFolder scratch = null;
            bool taken = false;
            try
            {
                string CopyPath()
                {
                    if (!compressed) return artifactPath;
                    if (!taken) { scratch = ChooseScratch(request, source, staging); taken = true; }
                    return Path.Combine(scratch?.Path ?? staging, "snapshot.db.partial");
                }
                return CopySnapshot(source, artifactName, artifactPath, CopyPath, () => scratch, request, cancel);
            }
            finally
            {
                scratch?.Dispose();
            }
        }

        private Artifact CopySnapshot(string source, string artifactName, string artifactPath, Func<string> makeCopyPath,
            Func<LockedFolder> scratchOf, BackupRequest request, CancellationToken cancel)
        {
            bool compressed = request.Compression != CompressionKind.None || request.Encrypt; // "compressed": stored other than as the database itself
            string copyPath = compressed ? null : artifactPath;
            DateTimeOffset pointInTime;
            string journalMode, consistency, sha, plaintextSha = null;
            Task<DatabaseProfile> profileTask = null;
            DatabaseProfile profile = null;
            bool profileFromSource = false;
            long copiedBytes = -1;
            // Opened before the connection and closed after it (closing a descriptor of the file while SQLite holds its
            // POSIX locks would drop them); the page copy and page 1's reserved-bytes field are read through it.
            using (var dbFile = request.Method == SnapshotMethod.BackupApi ? null : PageCopy.OpenDatabaseFile(source))
            using (var src = OpenSource(source, request.LockTimeout))
            {
                journalMode = Convert.ToString(SqliteFile.Scalar(src, "PRAGMA journal_mode"));
                Action<long, long> progress = (done, total) => Progress?.Invoke(new BackupProgress("Copying", done, total));
                if (request.Method == SnapshotMethod.BackupApi)
                {
                    copyPath = makeCopyPath();
                    var scratch = scratchOf();
                    using (SqliteFile.BeginReadSnapshot(src))
                    {
                        pointInTime = clock();
                        Log?.Invoke($"Copying '{source}' ({journalMode} mode) with the online backup API inside a read transaction.");
                        try
                        {
                            OnlineBackup.Copy(src, copyPath, progress, cancel);
                        }
                        catch (SqliteException ex) when (ex.SqliteErrorCode == 13 /* SQLITE_FULL */ && scratch != null)
                        {
                            throw ScratchFull(source, scratch.Path, ex);
                        }
                    }
                    consistency = "read transaction; SQLite online backup API";
                    sha = compressed ? null : ArtifactStreams.HashAndFlush(artifactPath, null);
                }
                else
                {
                    bool wal = IsWal(journalMode);
                    WalIndexHeader snapshot = null;
                    using (var tx = wal ? SqliteFile.BeginReadSnapshot(src, source, out snapshot) : SqliteFile.BeginReadSnapshot(src))
                    {
                        // The copy is exactly this transaction's snapshot (rollback modes: its SHARED lock; WAL: the frames up
                        // to its mxFrame), so the content profile is read from the source, in this transaction, while the
                        // pages stream — no uncompressed copy to write and read back. Without a known WAL snapshot (a SQLite built
                        // without snapshots), the pages are teed into a copy and the profile read from it.
                        profileFromSource = !wal || snapshot != null;
                        bool tee = compressed && !profileFromSource;
                        if (tee) copyPath = makeCopyPath();
                        var scratch = tee ? scratchOf() : null;
                        using (var artifact = new FileStream(artifactPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
                        using (var copy = tee ? new FileStream(copyPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1) : null)
                        {
                            OwnerOnly.File(artifactPath);
                            if (copy != null) OwnerOnly.File(copyPath);
                            using (var sink = new ArtifactSink(artifact, request.Encryption, ArtifactStreams.InnerName(artifactPath)))
                            {
                                using (var compressor = ArtifactStreams.Compress(sink.Content, request.Compression, CompressorWorkers(source)))
                                using (var output = tee ? (Stream)new TeeStream(scratch != null ? new ScratchGuard(copy, source, scratch.Path) : (Stream)copy, compressor) : compressor)
                                {
                                    Log?.Invoke($"Copying '{source}' ({journalMode} mode) page by page inside a read transaction" +
                                        (snapshot != null ? $" (its snapshot: WAL frame {snapshot.MaxFrame})" : "") +
                                        (request.Compression != CompressionKind.None ? $", compressing with {request.Compression}" : "") +
                                        (request.Encrypt ? ", encrypting with OpenPGP AES-256." : "."));
                                    copiedBytes = CopyPages(dbFile, source, wal, snapshot, src, profileFromSource ? tx : null, output, cancel, out var sourceProfile);
                                    // The copy holds what was committed when it read the WAL: stamped after, never before.
                                    pointInTime = clock();
                                    profile = ProfileOf(sourceProfile, dbFile);
                                }
                                (sha, plaintextSha) = sink.Finish();
                            }
                            // Every page is written: read the content profile while the artifact is flushed to disk.
                            if (!profileFromSource) profileTask = Task.Run(() => ReadProfile(copyPath));
                            artifact.Flush(true);
                        }
                    }
                    consistency = PageCopyConsistency(wal);
                }
            }
            long sourceBytes = profileFromSource ? copiedBytes : new FileInfo(copyPath).Length;
            if (compressed && sha == null)
            {
                // The backup API path wrote the copy first; compress it now.
                var written = ArtifactStreams.WriteArtifact(copyPath, artifactPath, request.Compression,
                    done => Progress?.Invoke(new BackupProgress("Compressing", done, sourceBytes)), request.Encryption);
                sha = written.Sha256;
                plaintextSha = written.ContentSha256;
            }
            if (profile == null) profile = profileTask != null ? profileTask.GetAwaiter().GetResult() : ReadProfile(copyPath);
            if (compressed && !profileFromSource) File.Delete(copyPath);
            return new Artifact
            {
                Kind = BackupKind.Snapshot, FileName = artifactName, PointInTime = pointInTime, JournalMode = journalMode,
                Consistency = consistency, Sha256 = sha, PlaintextSha256 = plaintextSha ?? sha, SourceBytes = sourceBytes, StoredBytes = new FileInfo(artifactPath).Length, Profile = profile,
            };
        }

        /// <summary>Below this size (file and WAL) a snapshot compresses on its own thread: starting zstd's workers costs more than they save.</summary>
        internal const long SmallDatabaseBytes = 8L << 20;

        private static int? CompressorWorkers(string source) =>
            FileLength(source) + FileLength(source + "-wal") < SmallDatabaseBytes ? 0 : (int?)null;

        /// <summary>Names of scratch folders (and, with a leading dot and .lock, of their lock files) in a scratch parent.</summary>
        internal const string ScratchPrefix = "tursobackup-scratch-";

        /// <summary>
        /// The scratch folder for the uncompressed copy of a compressed snapshot, held by its lock; null to make the copy
        /// in the staging folder. -ScratchPath when given; else the system temp folder if it has room for the database
        /// (its file and WAL, plus 64 MiB); else the vault's staging folder if the vault has room for the copy and a
        /// stored artifact as large; else the temp folder all the same (a full one is then reported as such). Abandoned
        /// scratch folders of killed backups in the chosen parent are removed first, by their locks.
        /// </summary>
        private LockedFolder ChooseScratch(BackupRequest request, string source, string staging)
        {
            string parent;
            if (!string.IsNullOrEmpty(request.ScratchPath))
            {
                parent = Path.GetFullPath(request.ScratchPath);
                if (File.Exists(parent))
                {
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"Scratch path '{parent}' is a file, not a folder. Give a folder with room for the whole database to -ScratchPath.", parent);
                }
            }
            else
            {
                parent = Path.GetTempPath();
                long need = FileLength(source) + FileLength(source + "-wal") + (64L << 20);
                long? tempFree = DiskSpace.FreeBytes(parent);
                if (tempFree.HasValue && tempFree.Value < need)
                {
                    long? vaultFree = DiskSpace.FreeBytes(staging);
                    if (vaultFree.HasValue && vaultFree.Value >= 2 * need)
                    {
                        Log?.Invoke($"The temp folder '{parent}' has {tempFree.Value:N0} bytes free, less than the {need:N0} the uncompressed copy of '{source}' may take; making it in the vault's staging folder instead (pass -ScratchPath to choose a folder).");
                        return null;
                    }
                }
            }
            try
            {
                int cleaned = LockedFolder.CleanAbandoned(parent, ScratchPrefix);
                if (cleaned > 0) Log?.Invoke($"Removed {cleaned} scratch folder(s) left in '{parent}' by interrupted backups.");
                var scratch = LockedFolder.Take(parent, ScratchPrefix + Guid.NewGuid().ToString("N"), $"uncompressed copy of '{source}' for its backup");
                Log?.Invoke($"Making the uncompressed copy that the manifest is read from in '{scratch.Path}' (outside the vault).");
                return scratch;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new TursoBackupException(FailureKind.PermissionDenied,
                    $"No scratch folder can be made in '{parent}' for the uncompressed copy of '{source}': {ex.Message} Pass -ScratchPath a folder this account can write to (or set TMPDIR / TEMP).", parent, ex);
            }
        }

        private static long FileLength(string path)
        {
            try { return File.Exists(path) ? new FileInfo(path).Length : 0; }
            catch (IOException) { return 0; }
        }

        private static TursoBackupException ScratchFull(string source, string scratch, Exception ex) =>
            new TursoBackupException(FailureKind.WriteFailed,
                $"The scratch folder '{scratch}' ran out of space for the uncompressed copy of '{source}' that the manifest is read from: {ex.Message} " +
                $"Pass -ScratchPath a folder with room for the whole database (or set TMPDIR / TEMP); no partial backup was kept.", source, ex);

        /// <summary>The scratch copy's stream: a full disk there is reported as the scratch folder's, not the vault's.</summary>
        private sealed class ScratchGuard : ForwardOnlyStream
        {
            private readonly Stream inner;
            private readonly string source, scratch;

            public ScratchGuard(Stream inner, string source, string scratch)
            {
                this.inner = inner;
                this.source = source;
                this.scratch = scratch;
            }

            public override bool CanWrite => true;

            public override void Write(byte[] buffer, int offset, int count)
            {
                try { inner.Write(buffer, offset, count); }
                catch (IOException ex) when (DiskSpace.IsFull(ex)) { throw ScratchFull(source, scratch, ex); }
                Count += count;
            }

            public override void Flush()
            {
                try { inner.Flush(); }
                catch (IOException ex) when (DiskSpace.IsFull(ex)) { throw ScratchFull(source, scratch, ex); }
            }
        }

        private static DatabaseProfile ReadProfile(string copyPath)
        {
            try
            {
                using (var copy = SqliteFile.OpenImmutable(copyPath))
                {
                    var profile = DatabaseProfile.Read(copy);
                    profile.ReservedBytes = SqliteFile.ReadReservedBytes(copyPath);
                    return profile;
                }
            }
            catch (SqliteException ex)
            {
                throw OnlineBackup.Translate(ex.SqliteErrorCode, ex.Message, "read the snapshot's content");
            }
        }

        /// <summary>Dump: SQL text written inside one read transaction, compressed and hashed as it streams.</summary>
        private Artifact WriteDump(string source, string staging, string name, BackupRequest request, CancellationToken cancel)
        {
            string artifactName = ArtifactStreams.ArtifactFileName(name, BackupKind.Dump, request.Compression, request.Encrypt);
            string artifactPath = Path.Combine(staging, artifactName);
            // Opened before the connection, closed after it (see CopySnapshot): page 1's reserved-bytes field.
            using (var dbFile = PageCopy.OpenDatabaseFile(source))
            using (var src = OpenSource(source, request.LockTimeout))
            {
                string journalMode = Convert.ToString(SqliteFile.Scalar(src, "PRAGMA journal_mode"));
                using (var tx = SqliteFile.BeginReadSnapshot(src))
                {
                    var pointInTime = clock();
                    Log?.Invoke($"Dumping '{source}' ({journalMode} mode) as SQL inside a read transaction.");
                    long pageCount = Convert.ToInt64(SqliteFile.Scalar(src, "PRAGMA page_count"));
                    Dump.SqlDumpStats stats;
                    string sha, plaintextSha;
                    long stored;
                    using (var file = new FileStream(artifactPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
                    {
                        OwnerOnly.File(artifactPath);
                        using (var sink = new ArtifactSink(file, request.Encryption, ArtifactStreams.InnerName(artifactPath)))
                        {
                            using (var compressed = ArtifactStreams.Compress(sink.Content, request.Compression))
                            using (var text = new StreamWriter(compressed, new System.Text.UTF8Encoding(false), 1 << 16))
                            {
                                stats = new Dump.SqlDumpWriter().Write(src, text, rows => Progress?.Invoke(new BackupProgress("Dumping", rows, 0)), cancel);
                            }
                            (sha, plaintextSha) = sink.Finish();
                        }
                        file.Flush(true);
                        stored = file.Length;
                    }
                    var known = new System.Collections.Generic.Dictionary<string, long>(StringComparer.Ordinal);
                    foreach (var t in stats.TableRows) known[t.Name] = t.Rows;
                    var profile = DatabaseProfile.Read(src, known);
                    profile.ReservedBytes = SqliteFile.ReadReservedBytes(dbFile); // page 1's header: only VACUUM changes it
                    return new Artifact
                    {
                        Kind = BackupKind.Dump, FileName = artifactName, PointInTime = pointInTime, JournalMode = journalMode,
                        Consistency = "read transaction; SQL dump", Sha256 = sha, PlaintextSha256 = plaintextSha, SourceBytes = profile.PageSize * pageCount,
                        StoredBytes = stored, Profile = profile,
                    };
                }
            }
        }

        /// <summary>The vault name of a remote database: the first label of its host (Turso: &lt;database&gt;-&lt;org&gt;.turso.io → the database).</summary>
        private static string RemoteName(string url)
        {
            var host = new Uri(url).Host;
            if (System.Net.IPAddress.TryParse(host, out _) || host == "localhost")
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{url}' names no database; give the backup a name with -Name.", url);
            }
            return host.Split('.')[0];
        }

        /// <summary>
        /// A remote database as a Dump: read over the libSQL remote protocol (Hrana) inside one read transaction on one
        /// stream where the server allows it, streamed through the compressor and the hash into the artifact. The dump is
        /// then loaded into a scratch database, which proves it loads and gives the content profile (schema hash, page
        /// size, rows per table) exactly as a restore will see it.
        /// </summary>
        private Artifact WriteRemoteDump(string url, string staging, string name, BackupRequest request, CancellationToken cancel)
        {
            if (request.Kind != BackupKind.Dump) Log?.Invoke($"'{url}' is a remote database: it is backed up as a SQL dump (Kind Dump).");
            string artifactName = ArtifactStreams.ArtifactFileName(name, BackupKind.Dump, request.Compression, request.Encrypt);
            string artifactPath = Path.Combine(staging, artifactName);
            var writer = new Remote.RemoteDumpWriter { Log = Log };
            Dump.SqlDumpStats stats;
            string sha, plaintextSha;
            long stored;
            DateTimeOffset pointInTime;
            // The scratch database is made outside the vault, like a compressed snapshot's copy: the vault holds only what is stored.
            using (var scratchFolder = ChooseScratch(request, url, staging))
            {
                string scratchDir = scratchFolder?.Path ?? staging;
                // Encrypted, the artifact may be for keys this host cannot open (-Recipient): the scratch database is loaded
                // from a plain copy of the dump made on the way, outside the vault, deleted after.
                string plainDump = request.Encrypt ? Path.Combine(scratchDir, "dump.sql" + ArtifactStreams.Extension(request.Compression) + ".partial") : null;
                using (var client = new Remote.HranaClient(url, request.AuthToken))
                using (var file = new FileStream(artifactPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
                using (var plainCopy = plainDump != null ? new FileStream(plainDump, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16) : null)
                {
                    OwnerOnly.File(artifactPath);
                    if (plainCopy != null) OwnerOnly.File(plainDump);
                    Log?.Invoke($"Dumping '{url}' over the libSQL remote protocol.");
                    using (var sink = new ArtifactSink(file, request.Encryption, ArtifactStreams.InnerName(artifactPath)))
                    {
                        using (var compressed = ArtifactStreams.Compress(plainCopy != null ? new TeeStream(plainCopy, sink.Content) : sink.Content, request.Compression))
                        using (var text = new StreamWriter(compressed, new System.Text.UTF8Encoding(false), 1 << 16))
                        {
                            stats = writer.Write(client, text, rows => Progress?.Invoke(new BackupProgress("Dumping", rows, 0)), cancel);
                        }
                        pointInTime = clock(); // the read transaction ended: everything in the dump committed before this
                        (sha, plaintextSha) = sink.Finish();
                    }
                    file.Flush(true);
                    stored = file.Length;
                }
                DatabaseProfile profile;
                long sourceBytes;
                string scratch = Path.Combine(scratchDir, "profile.db.partial");
                try
                {
                    Progress?.Invoke(new BackupProgress("Checking", 0, 1));
                    DumpFiles.Import(plainDump ?? artifactPath, scratch, false, null, null, cancel);
                    using (var copy = SqliteFile.OpenImmutable(scratch))
                    {
                        var known = new System.Collections.Generic.Dictionary<string, long>(StringComparer.Ordinal);
                        foreach (var t in stats.TableRows) known[t.Name] = t.Rows;
                        profile = DatabaseProfile.Read(copy, known);
                    }
                    profile.ReservedBytes = SqliteFile.ReadReservedBytes(scratch);
                    sourceBytes = new FileInfo(scratch).Length;
                    SqliteConnection.ClearAllPools();
                }
                finally
                {
                    DurableFile.TryDelete(scratch);
                    if (plainDump != null) DurableFile.TryDelete(plainDump);
                }
                return new Artifact
                {
                    Kind = BackupKind.Dump, FileName = artifactName, PointInTime = pointInTime, JournalMode = "remote",
                    Consistency = (writer.Consistency ?? "SQL dump over the libSQL remote protocol") + "; loaded into a scratch database at backup time",
                    Sha256 = sha, PlaintextSha256 = plaintextSha, SourceBytes = sourceBytes, StoredBytes = stored, Profile = profile,
                };
            }
        }

        /// <summary>Writes the manifest and publishes the staging folder with one rename.</summary>
        private BackupInfo Publish(BackupVault vault, string staging, string name, string id, DateTimeOffset createdAt, Stopwatch watch,
            string source, BackupRequest request, Artifact a)
        {
            var info = new BackupInfo
            {
                Id = id,
                Database = name,
                Kind = a.Kind,
                CreatedAt = createdAt,
                PointInTime = a.PointInTime,
                Vault = vault.Root,
                SourcePath = source,
                SourceBytes = a.SourceBytes,
                StoredBytes = a.StoredBytes,
                Compression = a.Compression ?? request.Compression,
                Encrypted = request.Encrypt,
                Pages = a.Pages,
                Encryption = request.Encrypt ? EncryptionInfo.OfFile(Path.Combine(staging, a.FileName)) : null,
                Sha256 = a.Sha256,
                PlaintextSha256 = a.PlaintextSha256 ?? a.Sha256,
                PageSize = a.Profile.PageSize,
                PageCount = a.Profile.PageCount,
                AutoVacuum = a.Profile.AutoVacuum,
                ReservedBytes = a.Profile.ReservedBytes,
                SchemaHash = a.Profile.SchemaHash,
                Tables = a.Profile.Tables.ToArray(),
                Tier = request.Tier,
                Tags = EmergencyTags(request),
                Emergency = request.Emergency,
                JournalMode = a.JournalMode,
                Consistency = a.Consistency,
                SqliteVersion = a.Profile.SqliteVersion,
                FormatVersion = BackupManifest.FormatVersion,
            };
            info.Duration = watch.Elapsed;
            // The staging folder is private until the rename below: the manifest is written in place, then the folder flushed once.
            DurableFile.WriteNewText(Path.Combine(staging, BackupManifest.FileName), BackupManifest.ToJson(info, a.FileName, ToolVersion));
            DurableFile.FlushDirectory(staging);
            Progress?.Invoke(new BackupProgress("Publishing", 1, 1));
            string final = vault.Publish(staging, name, id);
            info.Location = Path.Combine(final, a.FileName);
            Log?.Invoke($"Published {a.Kind.ToString().ToLowerInvariant()} backup {id} of '{name}': {info.SourceBytes:N0} bytes, {info.StoredBytes:N0} stored, {info.Tables.Length} table(s), in {watch.Elapsed.TotalSeconds:F2} s.");
            return info;
        }

        private static string[] EmergencyTags(BackupRequest request)
        {
            var tags = request.Tags ?? new string[0];
            if (request.Emergency == null || tags.Any(t => string.Equals(t, BackupManifest.EmergencyTag, StringComparison.OrdinalIgnoreCase))) return tags;
            return new[] { BackupManifest.EmergencyTag }.Concat(tags).ToArray();
        }

        private static SqliteConnection OpenSource(string source, TimeSpan lockTimeout)
        {
            try
            {
                return SqliteFile.OpenReadOnly(source, lockTimeout);
            }
            catch (SqliteException ex)
            {
                throw OnlineBackup.Translate(ex.SqliteErrorCode, ex.Message, $"open '{source}'");
            }
        }

        private static bool IsWal(string journalMode) => string.Equals(journalMode, "wal", StringComparison.OrdinalIgnoreCase);

    }
}
