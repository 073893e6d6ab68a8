using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Vault;

namespace TursoBackup.Engine.Recovery
{
    /// <summary>
    /// A vault's recovery journal: <c>&lt;vault&gt;/recovery/journal.jsonl</c>, one compact JSON object per line, append
    /// only. Every append is one write of the whole line with FileMode.Append (O_APPEND), fsynced, under the exclusive
    /// lock file <c>recovery/.journal.jsonl.lock</c> so concurrent appenders (threads, processes, hosts on a share)
    /// never interleave. A crash mid-append leaves at most a torn last line: the reader skips it, and the next append
    /// starts a new line first so the torn bytes never glue onto a good entry.
    /// </summary>
    public static class RecoveryJournal
    {
        public const string Folder = "recovery";
        public const string FileName = "journal.jsonl";

        /// <summary>How long an append waits for another appender's lock.</summary>
        public static TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

        public static string PathOf(string vaultRoot) => Path.Combine(Path.GetFullPath(vaultRoot), Folder, FileName);

        /// <summary>A new id for a recovery: time-ordered and unique (yyyyMMddTHHmmssfffZ-8 hex).</summary>
        public static string NewId(DateTimeOffset? at = null) =>
            (at ?? DateTimeOffset.UtcNow).ToUniversalTime().ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture)
            + "-" + Guid.NewGuid().ToString("N").Substring(0, 8);

        /// <summary>Appends <paramref name="entry"/> (filling Id, At and User when unset) to the vault's journal.</summary>
        public static void Append(string vaultRoot, RecoveryLogEntry entry)
        {
            if (entry == null) throw new ArgumentNullException(nameof(entry));
            var vault = BackupVault.OpenOrCreate(vaultRoot);
            if (entry.At == default(DateTimeOffset)) entry.At = DateTimeOffset.UtcNow;
            if (string.IsNullOrEmpty(entry.Id)) entry.Id = NewId(entry.At);
            if (string.IsNullOrEmpty(entry.User)) entry.User = RecoveryLogEntry.CurrentUser();
            string folder = Path.Combine(vault.Root, Folder);
            string path = Path.Combine(folder, FileName);
            try
            {
                OwnerOnly.CreateDirectory(folder);
                byte[] line = new UTF8Encoding(false).GetBytes(Json.WriteCompact(ToRecord(entry)) + "\n");
                using (var held = OwnerLock.Acquire(OwnerLock.PathFor(path), LockTimeout))
                {
                    if (held == null)
                    {
                        throw new TursoBackupException(FailureKind.Busy,
                            $"The recovery journal '{path}' stayed locked by another process for {LockTimeout.TotalSeconds:0} s. Run the command again; if it keeps failing, look at who holds {OwnerLock.PathFor(path)}.", path) { ErrorId = "JournalLocked" };
                    }
                    using (var fs = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
                    {
                        OwnerOnly.File(path);
                        if (fs.Length > 0 && !EndsWithNewline(path))
                        {
                            // A torn last line (a crash mid-append): end it so this entry starts on a line of its own.
                            var withBreak = new byte[line.Length + 1];
                            withBreak[0] = (byte)'\n';
                            Buffer.BlockCopy(line, 0, withBreak, 1, line.Length);
                            line = withBreak;
                        }
                        fs.Write(line, 0, line.Length);
                        fs.Flush(true);
                    }
                    held.Release(deleteFile: false);
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new TursoBackupException(FailureKind.WriteFailed,
                    $"Cannot append to the recovery journal '{path}': {ex.Message} Make the vault writable.", path, ex) { ErrorId = "JournalWriteFailed" };
            }
        }

        /// <summary>The journal's entries oldest first, streamed; <paramref name="database"/> filters by Database (case-insensitive). Torn or hand-damaged lines are skipped.</summary>
        public static IEnumerable<RecoveryLogEntry> Read(string vaultRoot, string database = null)
        {
            var vault = BackupVault.OpenExisting(vaultRoot);
            string path = Path.Combine(vault.Root, Folder, FileName);
            return ReadFile(path, database);
        }

        private static IEnumerable<RecoveryLogEntry> ReadFile(string path, string database)
        {
            if (!File.Exists(path)) yield break;
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            using (var reader = new StreamReader(fs, new UTF8Encoding(false)))
            {
                string line;
                while ((line = reader.ReadLine()) != null)
                {
                    if (string.IsNullOrWhiteSpace(line)) continue;
                    RecoveryLogEntry entry = null;
                    try
                    {
                        if (Json.Parse(line) is Dictionary<string, object> record) entry = FromRecord(record);
                    }
                    catch (FormatException) { }
                    catch (InvalidCastException) { }
                    catch (OverflowException) { }
                    if (entry == null) continue;
                    if (database != null && !string.Equals(entry.Database, database, StringComparison.OrdinalIgnoreCase)) continue;
                    yield return entry;
                }
            }
        }

        /// <summary>The entry with that id, or null.</summary>
        public static RecoveryLogEntry Find(string vaultRoot, string id) =>
            Read(vaultRoot).LastOrDefault(e => string.Equals(e.Id, id, StringComparison.OrdinalIgnoreCase));

        private static bool EndsWithNewline(string path)
        {
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                if (fs.Length == 0) return true;
                fs.Seek(-1, SeekOrigin.End);
                return fs.ReadByte() == '\n';
            }
        }

        private static Dictionary<string, object> ToRecord(RecoveryLogEntry e)
        {
            var r = new Dictionary<string, object>
            {
                ["id"] = e.Id,
                ["at"] = BackupManifest.Time(e.At),
                ["action"] = e.Action,
                ["database"] = e.Database,
            };
            if (e.PointInTime.HasValue) r["pointInTime"] = BackupManifest.Time(e.PointInTime.Value);
            r["target"] = e.Target;
            r["source"] = e.Source;
            if (e.Tables != null) r["tables"] = e.Tables.Cast<object>().ToList();
            r["result"] = e.Result;
            r["user"] = e.User;
            r["reason"] = e.Reason;
            if (e.Rows.HasValue) r["rows"] = e.Rows.Value;
            if (e.Bytes.HasValue) r["bytes"] = e.Bytes.Value;
            if (e.UndoId != null) r["undoId"] = e.UndoId;
            return r;
        }

        private static RecoveryLogEntry FromRecord(Dictionary<string, object> r)
        {
            string S(string k) => r.TryGetValue(k, out var v) && v != null ? Convert.ToString(v, CultureInfo.InvariantCulture) : null;
            long? L(string k) => r.TryGetValue(k, out var v) && v != null ? Convert.ToInt64(v, CultureInfo.InvariantCulture) : (long?)null;
            string at = S("at");
            if (at == null || S("action") == null) return null;
            var e = new RecoveryLogEntry
            {
                Id = S("id"),
                At = BackupManifest.ParseTime(at),
                Action = S("action"),
                Database = S("database"),
                Target = S("target"),
                Source = S("source"),
                Result = S("result"),
                User = S("user"),
                Reason = S("reason"),
                Rows = L("rows"),
                Bytes = L("bytes"),
                UndoId = S("undoId"),
            };
            string pit = S("pointInTime");
            if (pit != null) e.PointInTime = BackupManifest.ParseTime(pit);
            if (r.TryGetValue("tables", out var t) && t is List<object> list) e.Tables = list.Select(x => Convert.ToString(x, CultureInfo.InvariantCulture)).ToArray();
            return e;
        }
    }
}
