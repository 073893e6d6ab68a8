using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Engine.Verification
{
    /// <summary>
    /// Restores a backup into scratch space and proves the result, one CheckResult per check. A failed check never
    /// throws: the result says which check failed and why.
    /// </summary>
    public sealed class BackupVerifier
    {
        public const string Checksum = "Checksum";
        public const string Decompression = "Decompression";
        public const string Decryption = "Decryption";
        /// <summary>An Incremental backup: every page it references was found in the page store and matches its SHA-256.</summary>
        public const string Pages = "Pages";
        public const string IntegrityCheck = "IntegrityCheck";
        public const string ForeignKeyCheck = "ForeignKeyCheck";
        public const string RowCounts = "RowCounts";
        public const string SchemaHash = "SchemaHash";
        public const string PageFormat = "PageFormat";
        public const string RestoreTime = "RestoreTime";

        private readonly Func<DateTimeOffset> clock;

        public BackupVerifier(Func<DateTimeOffset> clock = null)
        {
            this.clock = clock ?? (() => DateTimeOffset.UtcNow);
        }

        public Action<string> Log { get; set; }

        public Action<long, long> Progress { get; set; }

        /// <summary>Time spent inside <see cref="Progress"/> during the current restore, left out of its measured duration.</summary>
        private TimeSpan reportingTime;

        private Action<long, long> TimedProgress()
        {
            var progress = Progress;
            if (progress == null) return null;
            return (done, total) =>
            {
                long start = Stopwatch.GetTimestamp();
                try { progress(done, total); }
                finally { reportingTime += TimeSpan.FromSeconds((Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency); }
            };
        }

        /// <summary>What opens encrypted backups (-Passphrase, or -KeyFile [-KeyPassphrase]).</summary>
        public Crypto.DecryptionKeys Keys { get; set; }

        /// <summary>Record each result in the vault's verification log (when the backup belongs to a vault).</summary>
        public bool RecordInVault { get; set; } = true;

        /// <summary>Scratch folder for restores (defaults to the system temp folder).</summary>
        public string ScratchRoot { get; set; } = Path.GetTempPath();

        /// <summary>Warnings for the caller to show (the result could not be recorded in the vault).</summary>
        public Action<string> Warn { get; set; }

        /// <summary>Stops a test (Ctrl+C); the scratch folder is removed all the same.</summary>
        public System.Threading.CancellationToken Cancellation { get; set; }

        /// <summary>An owner-only scratch folder under <see cref="ScratchRoot"/> (it holds a whole copy of the database).</summary>
        private string NewScratch()
        {
            string scratch = Path.Combine(ScratchRoot, "tursobackup-test-" + Guid.NewGuid().ToString("N").Substring(0, 12));
            Directory.CreateDirectory(scratch);
            OwnerOnly.Directory(scratch);
            return scratch;
        }

        /// <summary>Records the result in the vault's log; a vault that cannot be written (read-only) is a warning, not a failure of the test.</summary>
        private void Record(BackupTestResult result)
        {
            try
            {
                VerificationLog.Append(result);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                string log = VerificationLog.PathFor(result.Backup.Vault, result.Backup.Database);
                Warn?.Invoke($"The result of testing backup {result.Backup.Id} of '{result.Database}' ({(result.Passed ? "passed" : "FAILED")}) was not recorded in '{log}': {ex.Message} "
                             + "Retention and Get-TursoBackupHealth will not know of this test. Make the vault writable and run Test-Backup again to record it.");
            }
        }

        /// <param name="queries">Named SQL checks; each must return a truthy scalar.</param>
        /// <param name="keepRestoredDirectory">When set, the restored copy is moved there instead of deleted.</param>
        public BackupTestResult Test(BackupInfo backup, TimeSpan? recoveryTimeObjective = null,
            IDictionary<string, string> queries = null, string keepRestoredDirectory = null)
        {
            var checks = new List<CheckResult>();
            var result = new BackupTestResult
            {
                Database = backup.Database,
                Backup = backup,
                RecoveryTimeObjective = recoveryTimeObjective,
                TestedAt = clock(),
            };
            string scratch = NewScratch();
            string restored = Path.Combine(scratch, backup.Database + ".db");
            try
            {
                var watch = Stopwatch.StartNew();
                reportingTime = TimeSpan.Zero;
                bool restoredOk = RestoreToScratch(backup, restored, checks);
                // The restore's own work: the time the caller spent drawing progress is not part of it (RTO).
                result.RestoreDuration = watch.Elapsed - reportingTime;
                if (restoredOk)
                {
                    CheckDatabaseSafely(backup, restored, queries, checks);
                }
                else
                {
                    foreach (var name in new[] { IntegrityCheck, ForeignKeyCheck, RowCounts, SchemaHash, PageFormat }.Concat(queries?.Keys ?? Enumerable.Empty<string>()))
                    {
                        checks.Add(new CheckResult(name, false, null, null, "Not run: the backup could not be restored."));
                    }
                }
                if (recoveryTimeObjective.HasValue)
                {
                    bool met = result.RestoreDuration <= recoveryTimeObjective.Value;
                    result.RtoMet = met;
                    checks.Add(new CheckResult(RestoreTime, met, "<= " + Format(recoveryTimeObjective.Value), Format(result.RestoreDuration),
                        met ? "The restore finished within the recovery time objective."
                            : $"The restore took {Format(result.RestoreDuration)}, over the recovery time objective of {Format(recoveryTimeObjective.Value)}."));
                }
                else
                {
                    checks.Add(new CheckResult(RestoreTime, true, "(no objective given)", Format(result.RestoreDuration), "Measured; pass -RecoveryTimeObjective to hold it to a limit."));
                }
                if (keepRestoredDirectory != null && restoredOk)
                {
                    Directory.CreateDirectory(keepRestoredDirectory);
                    string kept = Path.Combine(Path.GetFullPath(keepRestoredDirectory), backup.Database + "-" + backup.Id + ".db");
                    File.Move(restored, kept);
                    result.RestoredPath = kept;
                }
            }
            finally
            {
                DurableFile.TryDeleteDirectory(scratch);
            }
            result.Checks = checks.ToArray();
            result.Passed = checks.All(c => c.Passed);
            if (RecordInVault) Record(result);
            Log?.Invoke(result.Passed
                ? $"Backup {backup.Id} of '{backup.Database}' passed all {checks.Count} checks."
                : $"Backup {backup.Id} of '{backup.Database}' FAILED: {result.FailedChecks}.");
            return result;
        }

        /// <summary>A live database's copy (local file or remote server) in scratch space: the rows per table the copy reported, and how it was made.</summary>
        public delegate (IList<TableRowCount> Tables, string Detail) Materializer(string restoredPath);

        /// <summary>
        /// Test-Backup -Path / -Url: the same checks on a live database, through a copy in scratch space (a consistent
        /// page copy of a local file; for a remote database, a SQL dump read over the libSQL protocol and loaded). The
        /// copy's time is measured against the RTO. A live database has no manifest: row counts compare with what the
        /// copy reported (remote) or are only counted (local), and the schema hash is recorded. Not logged in a vault.
        /// </summary>
        /// <param name="vaultForLog">A restore point's vault: the result is recorded in its verification log (as backup id
        /// <c>restore-point</c>), where Get-TursoBackupHealth reads it. Null for live databases (no vault).</param>
        public BackupTestResult TestLive(string name, string source, Materializer materialize, TimeSpan? recoveryTimeObjective = null,
            IDictionary<string, string> queries = null, string keepRestoredDirectory = null, string vaultForLog = null)
        {
            var checks = new List<CheckResult>();
            var pseudo = new BackupInfo
            {
                Id = vaultForLog == null ? "live" : "restore-point", Database = name, SourcePath = source, CreatedAt = clock(), PointInTime = clock(), Vault = vaultForLog,
            };
            var result = new BackupTestResult { Database = name, Backup = pseudo, RecoveryTimeObjective = recoveryTimeObjective, TestedAt = clock() };
            string scratch = NewScratch();
            string restored = Path.Combine(scratch, name + ".db");
            try
            {
                var watch = Stopwatch.StartNew();
                bool copied;
                try
                {
                    Log?.Invoke($"Copying '{source}' into scratch space.");
                    var (tables, detail) = materialize(restored);
                    pseudo.Tables = tables?.ToArray();
                    copied = true;
                    checks.Add(new CheckResult("Copy", true, null, new FileInfo(restored).Length.ToString("N0", CultureInfo.InvariantCulture) + " bytes", detail));
                }
                catch (TursoBackupException ex)
                {
                    copied = false;
                    checks.Add(new CheckResult("Copy", false, null, "error", ex.Message));
                }
                catch (Exception ex) when (IsFailureOfTheDatabase(ex))
                {
                    copied = false;
                    checks.Add(new CheckResult("Copy", false, null, "error", DescribeLiveFailure(source, ex)));
                }
                result.RestoreDuration = watch.Elapsed;
                if (copied) CheckDatabaseSafely(pseudo, restored, queries, checks);
                if (recoveryTimeObjective.HasValue)
                {
                    bool met = result.RestoreDuration <= recoveryTimeObjective.Value;
                    result.RtoMet = met;
                    checks.Add(new CheckResult(RestoreTime, met, "<= " + Format(recoveryTimeObjective.Value), Format(result.RestoreDuration),
                        met ? "The copy finished within the recovery time objective." : $"The copy took {Format(result.RestoreDuration)}, over the recovery time objective of {Format(recoveryTimeObjective.Value)}."));
                }
                if (keepRestoredDirectory != null && copied)
                {
                    Directory.CreateDirectory(keepRestoredDirectory);
                    string kept = Path.Combine(Path.GetFullPath(keepRestoredDirectory), name + "-live-" + BackupVault.NewBackupId(clock()) + ".db");
                    SqliteConnection.ClearAllPools();
                    File.Move(restored, kept);
                    result.RestoredPath = kept;
                }
            }
            finally
            {
                SqliteConnection.ClearAllPools();
                DurableFile.TryDeleteDirectory(scratch);
            }
            result.Checks = checks.ToArray();
            result.Passed = checks.All(c => c.Passed);
            if (RecordInVault && vaultForLog != null) Record(result);
            Log?.Invoke(result.Passed ? $"'{source}' passed all {checks.Count} checks." : $"'{source}' FAILED: {result.FailedChecks}.");
            return result;
        }

        private bool RestoreToScratch(BackupInfo backup, string restored, List<CheckResult> checks)
        {
            if (!File.Exists(backup.Location))
            {
                checks.Add(new CheckResult(Checksum, false, backup.Sha256, null, $"The artifact '{backup.Location}' is missing."));
                checks.Add(new CheckResult(Decompression, false, null, null, "Not run: the artifact is missing."));
                return false;
            }
            Log?.Invoke($"Restoring backup {backup.Id} into scratch space.");
            try
            {
                string sha, content = null;
                long bytes;
                // Through the one owner of database files, as a real restore writes: a temporary file, fsync, rename.
                using (var writer = Files.DatabaseWriter.Begin(restored, new Files.DatabaseWriteOptions { Purpose = "scratch" }))
                {
                    (sha, bytes) = Restore.BackupMaterializer.Materialize(backup, writer.PartialPath, TimedProgress(), Cancellation, null, Keys,
                        backup.Encrypted ? (Action<string>)(c => content = c) : null, provePages: true);
                    Log?.Invoke($"Restored {bytes:N0} bytes into scratch space; installing the file there.");
                    writer.Commit(null, Cancellation);
                }
                bool shaOk = string.Equals(sha, backup.Sha256, StringComparison.OrdinalIgnoreCase);
                checks.Add(new CheckResult(Checksum, shaOk, backup.Sha256, sha,
                    shaOk ? "The stored artifact matches the manifest's SHA-256." : Restore.BackupMaterializer.Damaged(backup, sha).Message));
                if (backup.Encrypted)
                {
                    bool contentOk = backup.PlaintextSha256 == null || string.Equals(content, backup.PlaintextSha256, StringComparison.OrdinalIgnoreCase);
                    checks.Add(new CheckResult(Decryption, contentOk, backup.PlaintextSha256, content,
                        contentOk ? $"Decrypted ({backup.Encryption}); the OpenPGP integrity check (MDC) passed and the content matches the manifest's plaintext SHA-256."
                                  : "Decrypted, but the content's SHA-256 differs from the manifest's plaintext SHA-256: the backup was altered after it was written. Use another backup."));
                }
                if (backup.Kind == BackupKind.Incremental)
                {
                    long pages = backup.PageSize > 0 ? bytes / backup.PageSize : 0;
                    checks.Add(new CheckResult(Pages, true, backup.PageCount.ToString("N0", CultureInfo.InvariantCulture) + " pages", pages.ToString("N0", CultureInfo.InvariantCulture) + " pages",
                        $"Every page the backup references is in the page store ({Incremental.PageStore.Folder}/{backup.Database}) and matches its SHA-256."));
                }
                checks.Add(new CheckResult(Decompression, true, backup.Compression.ToString(), bytes.ToString("N0", CultureInfo.InvariantCulture) + " bytes",
                    (backup.Compression == CompressionKind.None ? "Not compressed" : "Decompressed without error")
                    + (backup.Kind == BackupKind.Dump ? "; the SQL dump loaded into a new database." : ".")));
                return true;
            }
            catch (Exception ex) when (ex is TursoBackupException || IsFailureOfTheDatabase(ex))
            {
                // Whatever the artifact does to the restore (a truncated gzip, a broken dump, a malformed file), the
                // test reports it as failed checks; it never throws for a bad backup.
                string sha = SafeHash(backup.Location);
                bool shaOk = sha != null && string.Equals(sha, backup.Sha256, StringComparison.OrdinalIgnoreCase);
                string why = ex is TursoBackupException ? ex.Message : $"Restoring '{backup.Location}' failed: {ex.Message}";
                if (backup.Encrypted && ex is TursoBackupException te && IsDecryptionFailure(te))
                {
                    checks.Add(new CheckResult(Checksum, shaOk, backup.Sha256, sha,
                        shaOk ? "The stored artifact matches the manifest's SHA-256." : Restore.BackupMaterializer.Damaged(backup, sha).Message));
                    checks.Add(new CheckResult(Decryption, false, backup.Encryption?.ToString(), te.ErrorId, why));
                    checks.Add(new CheckResult(Decompression, false, backup.Compression.ToString(), "not run", "Not run: the backup was not decrypted."));
                    return false;
                }
                if (!shaOk)
                {
                    checks.Add(new CheckResult(Checksum, false, backup.Sha256, sha, Restore.BackupMaterializer.Damaged(backup, sha).Message));
                    checks.Add(new CheckResult(Decompression, false, backup.Compression.ToString(), "not run",
                        backup.Kind == BackupKind.Dump ? "Not run: a dump whose checksum differs from the manifest is never executed." : "Failed on the damaged artifact: " + why));
                }
                else
                {
                    checks.Add(new CheckResult(Checksum, true, backup.Sha256, sha, "The stored artifact matches the manifest's SHA-256."));
                    if (backup.Kind == BackupKind.Incremental) checks.Add(new CheckResult(Pages, false, backup.PageCount.ToString("N0", CultureInfo.InvariantCulture) + " pages", "error", why));
                    checks.Add(new CheckResult(Decompression, false, backup.Compression.ToString(), "error", why));
                }
                return false;
            }
        }

        private static bool IsDecryptionFailure(TursoBackupException ex) =>
            ex.ErrorId == "KeyRequired" || ex.ErrorId == "WrongKey" || ex.ErrorId == "KeyPassphraseWrong" || ex.ErrorId == "NoIntegrityCheck"
            || ex.ErrorId == "IntegrityCheckFailed" || ex.ErrorId == "DecryptionFailed" || ex.ErrorId == "NotEncrypted" || ex.ErrorId == "InvalidKeyFile";

        /// <summary>Exceptions that say something about the backup or the database rather than about this program.</summary>
        private static bool IsFailureOfTheDatabase(Exception ex) =>
            ex is SqliteException || ex is IOException || ex is InvalidDataException || ex is UnauthorizedAccessException
            || ex is System.Text.DecoderFallbackException || ex is ZstdSharp.ZstdException;

        private static string DescribeLiveFailure(string source, Exception ex)
        {
            if (ex is SqliteException se && (se.SqliteErrorCode & 0xff) == 8 /* SQLITE_READONLY */ && File.Exists(source + "-journal"))
            {
                return $"'{source}' has a hot journal ('{source}-journal'): a write to it was interrupted and has not been rolled back yet, and Test-Backup only reads the database. "
                       + $"Open it once with a program that may write to it (for example sqlite3 '{source}' 'PRAGMA quick_check;'), which rolls the interrupted write back, then test it again. ({ex.Message})";
            }
            return $"Copying '{source}' failed: {ex.Message}";
        }

        /// <summary>The checks on the restored file; a failure that escapes them becomes a failed check, never an exception.</summary>
        private void CheckDatabaseSafely(BackupInfo backup, string restored, IDictionary<string, string> queries, List<CheckResult> checks)
        {
            int before = checks.Count;
            try
            {
                CheckDatabase(backup, restored, queries, checks);
            }
            catch (Exception ex) when (IsFailureOfTheDatabase(ex))
            {
                var done = new HashSet<string>(checks.Skip(before).Select(c => c.Name), StringComparer.Ordinal);
                foreach (var name in new[] { IntegrityCheck, ForeignKeyCheck, RowCounts, SchemaHash, PageFormat }.Concat(queries?.Keys ?? Enumerable.Empty<string>()))
                {
                    if (!done.Contains(name)) checks.Add(new CheckResult(name, false, null, "error", "The restored database could not be checked: " + ex.Message));
                }
            }
        }

        private void CheckDatabase(BackupInfo backup, string restored, IDictionary<string, string> queries, List<CheckResult> checks)
        {
            SqliteConnection db = null;
            try
            {
                db = SqliteFile.OpenReadWrite(restored);
            }
            catch (SqliteException ex)
            {
                foreach (var name in new[] { IntegrityCheck, ForeignKeyCheck, RowCounts, SchemaHash, PageFormat })
                {
                    checks.Add(new CheckResult(name, false, null, null, "The restored file could not be opened: " + ex.Message));
                }
                return;
            }
            using (db)
            {
                // integrity_check (the longest: every page of every b-tree) runs on its own read-only connection on a
                // second thread while this one does the foreign keys, the row counts, the schema and the queries.
                Log?.Invoke("Running PRAGMA integrity_check beside the other checks.");
                var integrity = System.Threading.Tasks.Task.Run(() => Run(IntegrityCheck, () =>
                {
                    using (var reader = SqliteFile.OpenReadOnly(restored))
                    {
                        // A larger page cache keeps the interior pages of big b-trees while every leaf is read.
                        Column(reader, "PRAGMA cache_size = -131072");
                        var lines = Column(reader, "PRAGMA integrity_check");
                        bool ok = lines.Count == 1 && lines[0] == "ok";
                        return new CheckResult(IntegrityCheck, ok, "ok", ok ? "ok" : lines.Count + " problem(s)",
                            ok ? "PRAGMA integrity_check found no problems." : string.Join("; ", lines.Take(5)));
                    }
                }));
                int integrityAt = checks.Count;
                Column(db, "PRAGMA cache_size = -131072"); // the foreign-key lookups and counts walk big indexes too
                checks.Add(Run(ForeignKeyCheck, () =>
                {
                    var violations = ForeignKeys.Run(db, Log).Select(v => v.ToString()).ToList();
                    bool ok = violations.Count == 0;
                    return new CheckResult(ForeignKeyCheck, ok, "0 violations", violations.Count + " violation(s)",
                        ok ? "Every foreign key points at an existing row." : string.Join("; ", violations.Take(5)));
                }));
                DatabaseProfile profile = null;
                Exception profileError = null;
                try { profile = DatabaseProfile.Read(db); } catch (SqliteException ex) { profileError = ex; }
                checks.Add(Run(RowCounts, () =>
                {
                    if (profile == null) return new CheckResult(RowCounts, false, null, null, "Could not count rows: " + profileError.Message);
                    if (backup.Tables == null)
                    {
                        return new CheckResult(RowCounts, true, "(no manifest)", profile.Tables.Sum(t => t.Rows).ToString("N0", CultureInfo.InvariantCulture) + " rows in " + profile.Tables.Count + " table(s)",
                            "Counted; a live database has no manifest to compare with.");
                    }
                    var expected = (backup.Tables ?? new TableRowCount[0]).ToDictionary(t => t.Name, t => t.Rows, StringComparer.Ordinal);
                    var actual = profile.Tables.ToDictionary(t => t.Name, t => t.Rows, StringComparer.Ordinal);
                    var diffs = new List<string>();
                    foreach (var name in expected.Keys.Union(actual.Keys).OrderBy(n => n, StringComparer.Ordinal))
                    {
                        bool hasE = expected.TryGetValue(name, out long e), hasA = actual.TryGetValue(name, out long a);
                        if (!hasE) diffs.Add($"{name}: not in the manifest, {a} rows restored");
                        else if (!hasA) diffs.Add($"{name}: {e} rows in the manifest, table missing");
                        else if (e != a) diffs.Add($"{name}: {e} rows in the manifest, {a} restored");
                    }
                    bool ok = diffs.Count == 0;
                    return new CheckResult(RowCounts, ok, expected.Values.Sum().ToString("N0", CultureInfo.InvariantCulture) + " rows in " + expected.Count + " table(s)",
                        actual.Values.Sum().ToString("N0", CultureInfo.InvariantCulture) + " rows in " + actual.Count + " table(s)",
                        ok ? "Every table has the row count the manifest recorded." : string.Join("; ", diffs.Take(10)));
                }));
                checks.Add(Run(SchemaHash, () =>
                {
                    if (profile == null) return new CheckResult(SchemaHash, false, backup.SchemaHash, null, "Could not read the schema: " + profileError.Message);
                    if (backup.SchemaHash == null) return new CheckResult(SchemaHash, true, "(no manifest)", profile.SchemaHash, "Read; a live database has no manifest to compare with.");
                    bool ok = string.Equals(profile.SchemaHash, backup.SchemaHash, StringComparison.OrdinalIgnoreCase);
                    return new CheckResult(SchemaHash, ok, backup.SchemaHash, profile.SchemaHash,
                        ok ? "The schema is the one the manifest recorded." : "The restored schema differs from the one the manifest recorded.");
                }));
                checks.Add(Run(PageFormat, () => CheckPageFormat(backup, restored, profile, profileError)));
                if (queries != null)
                {
                    foreach (var q in queries)
                    {
                        checks.Add(Run(q.Key, () =>
                        {
                            object value = SqliteFile.Scalar(db, q.Value);
                            bool ok = IsTruthy(value);
                            return new CheckResult(q.Key, ok, "truthy", value == null || value is DBNull ? "NULL" : Convert.ToString(value, CultureInfo.InvariantCulture),
                                ok ? "The query returned a truthy value." : "The query returned a falsy value: " + q.Value);
                        }));
                    }
                }
                checks.Insert(integrityAt, integrity.GetAwaiter().GetResult());
            }
        }

        /// <summary>Page size, auto_vacuum and reserved bytes of the restored file against the manifest (a dump must bring them back too).</summary>
        private static CheckResult CheckPageFormat(BackupInfo backup, string restored, DatabaseProfile profile, Exception profileError)
        {
            if (profile == null) return new CheckResult(PageFormat, false, null, null, "Could not read the page format: " + profileError.Message);
            int? reserved = SqliteFile.ReadReservedBytes(restored);
            string actual = Format(profile.PageSize, profile.AutoVacuum, reserved);
            if (backup.PageSize <= 0) return new CheckResult(PageFormat, true, "(no manifest)", actual, "Read; a live database has no manifest to compare with.");
            var diffs = new List<string>();
            if (profile.PageSize != backup.PageSize) diffs.Add($"page size {backup.PageSize} in the manifest, {profile.PageSize} restored");
            if (backup.AutoVacuum.HasValue && backup.AutoVacuum.Value != profile.AutoVacuum) diffs.Add($"auto_vacuum {AutoVacuumName(backup.AutoVacuum.Value)} in the manifest, {AutoVacuumName(profile.AutoVacuum)} restored");
            if (backup.ReservedBytes.HasValue && backup.ReservedBytes != reserved) diffs.Add($"{backup.ReservedBytes} reserved bytes per page in the manifest, {reserved} restored");
            bool ok = diffs.Count == 0;
            return new CheckResult(PageFormat, ok, Format(backup.PageSize, backup.AutoVacuum, backup.ReservedBytes), actual,
                ok ? "The restored database has the page format the manifest recorded." : "The restored database's page format differs from the source's: " + string.Join("; ", diffs) + ".");
        }

        private static string Format(int pageSize, int? autoVacuum, int? reserved) =>
            $"page size {pageSize}" + (autoVacuum.HasValue ? ", auto_vacuum " + AutoVacuumName(autoVacuum.Value) : "") + (reserved.HasValue ? $", {reserved} reserved bytes" : "");

        private static string AutoVacuumName(int v) => v == 0 ? "NONE" : v == 1 ? "FULL" : v == 2 ? "INCREMENTAL" : v.ToString(CultureInfo.InvariantCulture);

        private static CheckResult Run(string name, Func<CheckResult> check)
        {
            try
            {
                return check();
            }
            catch (SqliteException ex)
            {
                return new CheckResult(name, false, null, "error", ex.Message);
            }
        }

        private static List<string> Column(SqliteConnection db, string sql)
        {
            var list = new List<string>();
            using (var cmd = db.CreateCommand())
            {
                cmd.CommandText = sql;
                using (var r = cmd.ExecuteReader())
                {
                    while (r.Read()) list.Add(Convert.ToString(r.GetValue(0), CultureInfo.InvariantCulture));
                }
            }
            return list;
        }

        /// <summary>SQLite truthiness: non-zero numbers, and text that reads as a non-zero number or 'true'.</summary>
        public static bool IsTruthy(object value)
        {
            switch (value)
            {
                case null: return false;
                case DBNull _: return false;
                case long l: return l != 0;
                case double d: return d != 0;
                case string s:
                    if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double n)) return n != 0;
                    return string.Equals(s.Trim(), "true", StringComparison.OrdinalIgnoreCase);
                case byte[] b: return b.Length > 0;
                default: return true;
            }
        }

        private static string SafeHash(string path)
        {
            try { return ArtifactStreams.HashFile(path); } catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException) { return null; }
        }

        private static string Format(TimeSpan t) => t.TotalSeconds < 60
            ? t.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture) + " s"
            : t.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture);
    }
}
