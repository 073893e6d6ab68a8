using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Backup;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Engine.Cloud
{
    /// <summary>
    /// Creates a Turso Cloud database from a local SQLite file (createDatabase with <c>seed.type = "database_upload"</c>,
    /// a full-access database token, then the upload to the database's own host), after the facts in
    /// <c>/work/shared/specs/turso-upload.md</c> (what the Turso CLI's <c>db create --from-file</c> does):
    /// <list type="number">
    /// <item>the name and the file are checked before any request (InvalidArgument/NotFound);</item>
    /// <item>a consistent copy of the file is taken into a scratch folder (the original is only read) and made what Turso
    /// takes: WAL journal mode, 4096-byte pages, no auto-vacuum (converted by <c>VACUUM</c> when needed), UTF-8 text and a
    /// passing <c>PRAGMA quick_check</c> (neither can be fixed by a copy: those are errors), the WAL checkpointed so
    /// nothing is left in <c>-wal</c>/<c>-journal</c>;</item>
    /// <item>the database is created, a token minted (1 h; a chunked upload mints the next one after 45 minutes) and the copy uploaded, streamed from disk: one POST up to
    /// <see cref="MultipartThreshold"/>, chunks above;</item>
    /// <item>when anything after the create fails (the token, the upload, cancellation) the created database is deleted
    /// (nothing else ever is); if that fails too the error says which database to delete by hand.</item>
    /// </list>
    /// Tokens never appear in messages or <see cref="Log"/> lines.
    /// </summary>
    public sealed class CloudUpload
    {
        /// <summary>The largest file the Turso CLI uploads (20 GB).</summary>
        public const long MaxUploadBytes = 20L * 1000 * 1000 * 1000;

        /// <summary>Narration: what was converted, created, uploaded, deleted. Never given a token.</summary>
        public Action<string> Log { get; set; }

        /// <summary>Files up to this size are uploaded in one request, larger ones in chunks (default 100 MiB; tests lower it).</summary>
        public long MultipartThreshold { get; set; } = TursoCloudClient.DefaultMultipartThreshold;

        /// <summary>How long the copy waits for a writer's lock on the source.</summary>
        public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>How long deleting the created database after a failure may take (it ignores the caller's cancellation).</summary>
        public TimeSpan CleanupTimeout { get; set; } = TimeSpan.FromMinutes(2);

        /// <summary>Where the scratch copy is made (the system temp folder by default).</summary>
        public string ScratchParent { get; set; }

        /// <summary>Tests: told the path of the prepared copy just before the database is created.</summary>
        internal Action<string> Prepared { get; set; }

        /// <summary>
        /// Uploads <paramref name="sourcePath"/> as the new Turso database <paramref name="name"/> in <paramref name="group"/>
        /// (<c>default</c> when null) and returns it as <see cref="TursoCloudClient.GetDatabase"/> describes it.
        /// <paramref name="progress"/> gets (bytes uploaded, bytes to upload).
        /// </summary>
        public TursoDatabase Upload(TursoCloudClient client, string sourcePath, string name, string group,
            Action<long, long> progress = null, CancellationToken cancel = default)
        {
            if (client == null) throw new ArgumentNullException(nameof(client));
            name = CheckName(name);
            group = string.IsNullOrWhiteSpace(group) ? null : group.Trim();
            string source = CheckSource(sourcePath);

            string scratchParent = ScratchParent ?? Path.GetTempPath();
            using (var scratch = LockedFolder.Take(scratchParent, "tursobackup-upload-" + Guid.NewGuid().ToString("N"), "TursoBackup: copy of '" + source + "' for an upload to Turso"))
            {
                string copy = Path.Combine(scratch.Path, "upload.db");
                Prepare(source, copy, cancel);
                Prepared?.Invoke(copy);
                cancel.ThrowIfCancellationRequested();

                TursoDatabase created;
                try
                {
                    created = client.CreateDatabaseForUpload(name, group, cancel);
                }
                catch (TursoBackupException ex) when (ex.Kind == FailureKind.PermissionDenied)
                {
                    throw Authentication(ex, name);
                }
                string token = null;
                try
                {
                    try
                    {
                        token = client.CreateDatabaseToken(created.Name, "1h", readOnly: false, cancel);
                    }
                    catch (TursoBackupException ex) when (ex.Kind == FailureKind.PermissionDenied)
                    {
                        throw Authentication(ex, name);
                    }
                    client.UploadDatabaseFile(created, token, copy, MultipartThreshold, progress, cancel,
                        ct => client.CreateDatabaseTokenAsync(created.Name, "1h", readOnly: false, ct));
                }
                catch (Exception ex) when (!(ex is OutOfMemoryException || ex is StackOverflowException))
                {
                    // Anything after the create (the token, the upload, cancellation, a read error of the copy): the database goes.
                    string cleanup = DeleteCreated(client, created.Name, ex is OperationCanceledException ? "was cancelled" : "failed");
                    string what = ex is OperationCanceledException
                        ? $"The upload of '{source}' to the new Turso database '{created.Name}' was cancelled. {cleanup}"
                        : $"Uploading '{source}' to the new Turso database '{created.Name}' failed: {Scrub(ex.Message, token)} {cleanup}";
                    what = Scrub(what, token);
                    if (ex is OperationCanceledException) throw new OperationCanceledException(what, ex, cancel);
                    var kind = ex is TursoBackupException tb ? tb.Kind : FailureKind.WriteFailed;
                    throw new TursoBackupException(kind, what, created.Name, ex) { ErrorId = (ex as TursoBackupException)?.ErrorId ?? "UploadFailed" };
                }

                Say($"Turso database '{created.Name}' now holds '{source}'.");
                try
                {
                    return client.GetDatabase(created.Name, cancel);
                }
                catch (TursoBackupException ex)
                {
                    // The upload is done: never undo it for a failed read of the description.
                    Say($"Could not read the description of '{created.Name}' after the upload ({ex.Message}); returning what the create reported.");
                    return created;
                }
            }
        }

        // ------------------------------------------------------------------ checks before any request

        private static string CheckName(string name)
        {
            string trimmed = name?.Trim();
            if (string.IsNullOrEmpty(trimmed))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    "No name was given for the new Turso database. Pass -Name with lower-case letters, digits and dashes (at most 64 characters).") { ErrorId = "InvalidDatabaseName" };
            }
            if (!TursoCloudClient.IsValidDatabaseName(trimmed))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{trimmed}' is not a valid Turso database name: use only lower-case letters, digits and dashes, at most 64 characters (it has {trimmed.Length}). Pass another -Name; nothing was sent to Turso.", trimmed) { ErrorId = "InvalidDatabaseName" };
            }
            return trimmed;
        }

        private static string CheckSource(string sourcePath)
        {
            if (string.IsNullOrWhiteSpace(sourcePath))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, "No file was given to upload. Pass -Path with a SQLite database file.");
            }
            string source = Path.GetFullPath(sourcePath);
            if (Directory.Exists(source))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{source}' is a folder, not a database file. Pass -Path with a SQLite database file; nothing was sent to Turso.", source);
            }
            if (!File.Exists(source))
            {
                throw new TursoBackupException(FailureKind.NotFound,
                    $"Database file '{source}' does not exist. Check -Path (relative paths are resolved against the current location); nothing was sent to Turso.", source);
            }
            if (!SqliteFile.HasSqliteHeader(source))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{source}' is not a SQLite database (it does not start with the 'SQLite format 3' header), so Turso cannot take it. Pass a SQLite database file; for a SQL dump, load it with sqlite3 first. Nothing was sent to Turso.", source) { ErrorId = "NotADatabase" };
            }
            return source;
        }

        // ------------------------------------------------------------------ the copy Turso takes

        /// <summary>
        /// Copies <paramref name="source"/> consistently to <paramref name="copy"/> and converts the copy to what Turso
        /// takes (WAL, page_size 4096, auto_vacuum NONE, checkpointed), or throws when it cannot be (not UTF-8, quick_check).
        /// Returns what was converted (empty when nothing was).
        /// </summary>
        internal IReadOnlyList<string> Prepare(string source, string copy, CancellationToken cancel)
        {
            long copied;
            try
            {
                copied = SnapshotBackup.CopyDatabase(source, copy, LockTimeout, cancel, "upload copy");
            }
            catch (SqliteException ex)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{source}' could not be read as a SQLite database ({ex.Message}). Check it with sqlite3 '{source}' 'PRAGMA integrity_check'; nothing was sent to Turso.", source, ex) { ErrorId = "NotADatabase" };
            }
            Say($"Copied '{source}' ({copied.ToString("N0", CultureInfo.InvariantCulture)} bytes) to a scratch copy for the upload; the original is not changed.");

            var converted = new List<string>();
            try
            {
                using (var c = SqliteFile.OpenReadWrite(copy))
                {
                    string encoding = Convert.ToString(SqliteFile.Scalar(c, "PRAGMA encoding"), CultureInfo.InvariantCulture);
                    if (!string.Equals(encoding, "UTF-8", StringComparison.OrdinalIgnoreCase))
                    {
                        throw new TursoBackupException(FailureKind.InvalidArgument,
                            $"'{source}' stores text as {encoding}; Turso takes only UTF-8 databases, and a copy cannot change a database's encoding. Make a UTF-8 database from it first (sqlite3 '{source}' .dump | sqlite3 new.db) and upload that. Nothing was sent to Turso.", source) { ErrorId = "NotUtf8" };
                    }
                    var problems = QuickCheck(c);
                    if (problems.Count > 0)
                    {
                        throw new TursoBackupException(FailureKind.InvalidData,
                            $"'{source}' fails PRAGMA quick_check ({string.Join("; ", problems)}), so it is not uploaded. Repair it first (sqlite3 '{source}' 'PRAGMA integrity_check' shows the damage; sqlite3 '{source}' .recover rebuilds what it can), or upload a good backup. Nothing was sent to Turso.", source) { ErrorId = "QuickCheckFailed" };
                    }
                    long pageSize = Long(c, "PRAGMA page_size");
                    long autoVacuum = Long(c, "PRAGMA auto_vacuum");
                    string journal = Convert.ToString(SqliteFile.Scalar(c, "PRAGMA journal_mode"), CultureInfo.InvariantCulture).ToLowerInvariant();
                    if (pageSize != 4096 || autoVacuum != 0)
                    {
                        cancel.ThrowIfCancellationRequested();
                        // A WAL database cannot change its page size: leave WAL for the VACUUM, come back after.
                        if (journal == "wal") Exec(c, "PRAGMA journal_mode=DELETE");
                        Exec(c, "PRAGMA page_size=4096; PRAGMA auto_vacuum=NONE; VACUUM;");
                        if (pageSize != 4096) converted.Add($"page_size {pageSize} → 4096");
                        if (autoVacuum != 0) converted.Add($"auto_vacuum {(autoVacuum == 1 ? "FULL" : autoVacuum == 2 ? "INCREMENTAL" : autoVacuum.ToString(CultureInfo.InvariantCulture))} → NONE");
                        journal = Convert.ToString(SqliteFile.Scalar(c, "PRAGMA journal_mode"), CultureInfo.InvariantCulture).ToLowerInvariant();
                    }
                    if (journal != "wal")
                    {
                        string mode = Convert.ToString(SqliteFile.Scalar(c, "PRAGMA journal_mode=WAL"), CultureInfo.InvariantCulture);
                        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                        {
                            throw new TursoBackupException(FailureKind.WriteFailed,
                                $"The scratch copy of '{source}' could not be switched to WAL mode (SQLite answered '{mode}'). Check the temp folder ({Path.GetDirectoryName(copy)}) is on a local disk.", source);
                        }
                        converted.Add($"journal mode {journal} → wal");
                    }
                    Exec(c, "PRAGMA wal_checkpoint(TRUNCATE)");
                    if (Long(c, "PRAGMA page_size") != 4096 || Long(c, "PRAGMA auto_vacuum") != 0)
                    {
                        throw new TursoBackupException(FailureKind.WriteFailed,
                            $"The scratch copy of '{source}' could not be converted to 4096-byte pages without auto-vacuum. Check the temp folder has room for a second copy, and run the command again.", source);
                    }
                }
            }
            catch (SqliteException ex)
            {
                throw new TursoBackupException(FailureKind.WriteFailed,
                    $"The scratch copy of '{source}' could not be prepared for Turso ({ex.Message}). Check the temp folder ({Path.GetDirectoryName(copy)}) has room for two copies of the database, and run the command again.", source, ex);
            }
            SqliteConnection.ClearAllPools();
            foreach (string side in new[] { copy + "-wal", copy + "-journal" })
            {
                if (File.Exists(side) && new FileInfo(side).Length > 0)
                {
                    throw new TursoBackupException(FailureKind.WriteFailed,
                        $"The scratch copy of '{source}' still has content in {Path.GetFileName(side)} after the checkpoint, so it would reach Turso incomplete. Run the command again.", source);
                }
            }
            long size = new FileInfo(copy).Length;
            if (size > MaxUploadBytes)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{source}' is {size.ToString("N0", CultureInfo.InvariantCulture)} bytes once prepared, more than the 20 GB Turso takes as an upload. Nothing was sent to Turso.", source) { ErrorId = "TooLarge" };
            }
            Say(converted.Count == 0
                ? "The copy already is what Turso takes (WAL, 4096-byte pages, no auto-vacuum, UTF-8, quick_check ok); nothing converted."
                : "Converted the copy for Turso: " + string.Join(", ", converted) + " (quick_check ok, UTF-8, WAL checkpointed).");
            return converted;
        }

        private static List<string> QuickCheck(SqliteConnection c)
        {
            var problems = new List<string>();
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = "PRAGMA quick_check(10)";
                using (var r = cmd.ExecuteReader())
                {
                    while (r.Read())
                    {
                        string line = r.IsDBNull(0) ? "" : r.GetString(0);
                        if (!string.Equals(line, "ok", StringComparison.OrdinalIgnoreCase)) problems.Add(line);
                    }
                }
            }
            return problems;
        }

        private static long Long(SqliteConnection c, string sql) => Convert.ToInt64(SqliteFile.Scalar(c, sql), CultureInfo.InvariantCulture);

        private static void Exec(SqliteConnection c, string sql)
        {
            using (var cmd = c.CreateCommand())
            {
                cmd.CommandText = sql;
                cmd.ExecuteNonQuery();
            }
        }

        // ------------------------------------------------------------------ cleanup and errors

        /// <summary>Deletes the database this upload created; returns the sentence saying how that went.</summary>
        private string DeleteCreated(TursoCloudClient client, string name, string how)
        {
            Say($"The upload {how}: deleting the Turso database '{name}' it created.");
            try
            {
                using (var limit = new CancellationTokenSource(CleanupTimeout))
                {
                    client.DeleteDatabase(name, limit.Token);
                }
                Say($"Deleted the Turso database '{name}' created for the upload.");
                return $"The database '{name}' created for it was deleted; nothing else was changed.";
            }
            catch (Exception ex) when (ex is TursoBackupException || ex is OperationCanceledException || ex is System.Net.Http.HttpRequestException)
            {
                string why = ex is OperationCanceledException ? $"no answer within {RetryingHttpSender.Seconds(CleanupTimeout)}" : ex.Message;
                Say($"Deleting the Turso database '{name}' failed too: {why}");
                return $"Deleting the database '{name}' created for it failed too ({why}): delete it by hand (`turso db destroy {name}`).";
            }
        }

        private static TursoBackupException Authentication(TursoBackupException ex, string name) =>
            new TursoBackupException(FailureKind.AuthenticationFailed, ex.Message, name, ex) { ErrorId = ex.ErrorId };

        private static string Scrub(string text, string token) =>
            string.IsNullOrEmpty(token) || string.IsNullOrEmpty(text) ? text : text.Replace(token, "***");

        private void Say(string line) => Log?.Invoke(line);
    }
}
