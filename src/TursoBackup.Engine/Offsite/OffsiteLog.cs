using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using TursoBackup.Engine.IO;
using TursoBackup.Engine.Vault;
using TursoBackup.Engine.Wal;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>
    /// What this vault knows of its offsite copies, in &lt;vault&gt;/offsite.json (never copied): per destination and
    /// database, the last sync's time and outcome, the newest copy there, backups not copied, the newest verification
    /// recorded there, and the WAL state shipped. Written by Sync-TursoVault, Copy-TursoBackup and the archiver's
    /// shipper; read by the health report.
    /// </summary>
    public static class OffsiteLog
    {
        public const string FileName = "offsite.json";
        private static readonly object Gate = new object();

        public static string PathFor(string vaultRoot) => Path.Combine(vaultRoot, FileName);

        /// <summary>Records a finished sync from the local vault <paramref name="vaultRoot"/> to <paramref name="target"/>.</summary>
        public static void Record(string vaultRoot, IObjectStore target, VaultSyncResult result, CancellationToken cancel)
        {
            var now = DateTimeOffset.UtcNow;
            // What the destination holds now, by database: backup ids (from their manifests' keys) and verifications.
            var there = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
            var verificationKeys = new List<string>();
            foreach (var o in target.List(BackupVault.DatabasesFolder + "/", cancel))
            {
                var parts = o.Key.Split('/');
                if (parts.Length == 4 && parts[3] == BackupManifest.FileName)
                {
                    if (!there.TryGetValue(parts[1], out var set)) there[parts[1]] = set = new SortedSet<string>(StringComparer.Ordinal);
                    set.Add(parts[2]);
                }
                else if (parts.Length == 3 && parts[2] == Verification.VerificationLog.FileName) verificationKeys.Add(o.Key);
            }
            var vault = BackupVault.OpenExisting(vaultRoot);
            var touched = new HashSet<string>(result.Items.Select(i => VaultKeys.Database(i.Key)).Where(d => d != null), StringComparer.Ordinal);
            Update(vaultRoot, target.DisplayName, dest =>
            {
                dest["lastAttemptAt"] = BackupManifest.Time(now);
                dest["lastSuccessAt"] = result.Failed == 0 ? BackupManifest.Time(now) : dest.TryGetValue("lastSuccessAt", out var s) ? s : null;
                dest["lastError"] = result.Failed == 0 ? null : result.FailedItems.First().Key + ": " + result.FailedItems.First().Reason;
                var dbs = dest.TryGetValue("databases", out var d) && d is Dictionary<string, object> dd ? dd : new Dictionary<string, object>();
                foreach (var db in touched)
                {
                    var entry = dbs.TryGetValue(db, out var e) && e is Dictionary<string, object> ed ? ed : new Dictionary<string, object>();
                    var local = vault.List(db).Where(b => b.Emergency == null).ToList();
                    var ids = there.TryGetValue(db, out var set) ? set : new SortedSet<string>(StringComparer.Ordinal);
                    string newest = ids.Count > 0 ? ids.Max : null;
                    entry["newestCopyId"] = newest;
                    entry["newestCopyAt"] = newest == null ? null : (object)IdTime(newest);
                    entry["missing"] = (long)local.Count(b => !ids.Contains(b.Id));
                    var walItems = result.Items.Where(i => i.Key.StartsWith(WalArchiveLayout.Folder + "/" + db + "/", StringComparison.Ordinal)).ToList();
                    if (walItems.Count > 0 && walItems.All(i => i.Action != VaultSyncAction.Failed))
                    {
                        var state = WalArchiveState.Load(new WalArchiveLayout(vaultRoot, db).StatePath);
                        if (state != null) entry["walShippedAt"] = BackupManifest.Time(state.LastSyncAt);
                    }
                    string vkey = BackupVault.DatabasesFolder + "/" + db + "/" + Verification.VerificationLog.FileName;
                    if (verificationKeys.Contains(vkey))
                    {
                        var last = NewestVerification(target, vkey, cancel);
                        if (last.HasValue)
                        {
                            entry["lastVerifiedAt"] = BackupManifest.Time(last.Value.At);
                            entry["lastVerificationPassed"] = last.Value.Passed;
                        }
                    }
                    dbs[db] = entry;
                }
                dest["databases"] = dbs;
            });
        }

        /// <summary>
        /// Records that a sync to <paramref name="destination"/> failed as a whole (unreachable, refused). With
        /// <paramref name="database"/>, the destination is listed for that database even if nothing ever reached it.
        /// </summary>
        public static void RecordFailure(string vaultRoot, string destination, string error, string database = null)
        {
            Update(vaultRoot, destination, dest =>
            {
                dest["lastAttemptAt"] = BackupManifest.Time(DateTimeOffset.UtcNow);
                dest["lastError"] = error;
                if (database != null)
                {
                    var dbs = dest.TryGetValue("databases", out var d) && d is Dictionary<string, object> dd ? dd : new Dictionary<string, object>();
                    if (!dbs.ContainsKey(database)) dbs[database] = new Dictionary<string, object>();
                    dest["databases"] = dbs;
                }
            });
        }

        /// <summary>Records the WAL state the archiver's shipper has brought to <paramref name="destination"/>.</summary>
        public static void RecordWalShipped(string vaultRoot, string destination, string database, DateTimeOffset shippedAt)
        {
            Update(vaultRoot, destination, dest =>
            {
                var now = BackupManifest.Time(DateTimeOffset.UtcNow);
                dest["lastAttemptAt"] = now;
                dest["lastSuccessAt"] = now;
                dest["lastError"] = null;
                var dbs = dest.TryGetValue("databases", out var d) && d is Dictionary<string, object> dd ? dd : new Dictionary<string, object>();
                var entry = dbs.TryGetValue(database, out var e) && e is Dictionary<string, object> ed ? ed : new Dictionary<string, object>();
                entry["walShippedAt"] = BackupManifest.Time(shippedAt);
                dbs[database] = entry;
                dest["databases"] = dbs;
            });
        }

        /// <summary>Every destination and database recorded, with ages measured at <paramref name="now"/>.</summary>
        public static List<OffsiteStatus> Read(string vaultRoot, DateTimeOffset now, TimeSpan rpo)
        {
            var list = new List<OffsiteStatus>();
            var doc = Load(vaultRoot);
            if (!(doc.TryGetValue("destinations", out var ds) && ds is Dictionary<string, object> dests)) return list;
            foreach (var kv in dests)
            {
                if (!(kv.Value is Dictionary<string, object> dest)) continue;
                var dbs = dest.TryGetValue("databases", out var d) && d is Dictionary<string, object> dd ? dd : new Dictionary<string, object>();
                foreach (var db in dbs)
                {
                    var e = db.Value as Dictionary<string, object> ?? new Dictionary<string, object>();
                    var s = new OffsiteStatus
                    {
                        Destination = kv.Key,
                        Database = db.Key,
                        LastSyncAt = Time(dest, "lastSuccessAt"),
                        LastAttemptAt = Time(dest, "lastAttemptAt"),
                        LastError = dest.TryGetValue("lastError", out var err) ? err as string : null,
                        NewestCopyId = e.TryGetValue("newestCopyId", out var id) ? id as string : null,
                        NewestCopyAt = Time(e, "newestCopyAt"),
                        Missing = e.TryGetValue("missing", out var m) && m != null ? Convert.ToInt32(m, CultureInfo.InvariantCulture) : 0,
                        LastVerifiedAt = Time(e, "lastVerifiedAt"),
                        LastVerificationPassed = e.TryGetValue("lastVerificationPassed", out var p) && p is bool pb ? pb : (bool?)null,
                        WalShippedAt = Time(e, "walShippedAt"),
                        RecoveryPointObjective = rpo,
                    };
                    var newestPoint = new[] { s.NewestCopyAt, s.WalShippedAt }.Where(t => t.HasValue).Select(t => t.Value).DefaultIfEmpty().Max();
                    if (newestPoint != default(DateTimeOffset))
                    {
                        s.NewestCopyAge = now > newestPoint ? now - newestPoint : TimeSpan.Zero;
                        s.RpoMet = s.NewestCopyAge.Value <= rpo;
                    }
                    if (s.WalShippedAt.HasValue)
                    {
                        var state = WalArchiveState.Load(new WalArchiveLayout(vaultRoot, db.Key).StatePath);
                        s.OffsiteLag = state == null || state.LastSyncAt <= s.WalShippedAt.Value ? TimeSpan.Zero : state.LastSyncAt - s.WalShippedAt.Value;
                    }
                    list.Add(s);
                }
            }
            return list;
        }

        /// <summary>The time a backup id begins with (yyyyMMddTHHmmss.fffZ), as recorded text.</summary>
        private static string IdTime(string id)
        {
            // "yyyyMMddTHHmmss.fffZ" is 20 characters.
            return id.Length >= 20 && DateTimeOffset.TryParseExact(id.Substring(0, 20), "yyyyMMdd'T'HHmmss.fff'Z'", CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t) ? BackupManifest.Time(t) : null;
        }

        private static DateTimeOffset? Time(Dictionary<string, object> d, string key) =>
            d.TryGetValue(key, out var v) && v is string s && s.Length > 0 ? BackupManifest.ParseTime(s) : (DateTimeOffset?)null;

        private static (DateTimeOffset At, bool Passed)? NewestVerification(IObjectStore store, string key, CancellationToken cancel)
        {
            (DateTimeOffset At, bool Passed)? newest = null;
            using (var s = store.OpenRead(key, cancel))
            using (var r = new StreamReader(s, Encoding.UTF8))
            {
                string line;
                while ((line = r.ReadLine()) != null)
                {
                    try
                    {
                        if (!(Json.Parse(line) is Dictionary<string, object> d)) continue;
                        var at = BackupManifest.ParseTime((string)d["testedAt"]);
                        if (!newest.HasValue || at > newest.Value.At) newest = (at, (bool)d["passed"]);
                    }
                    catch (Exception ex) when (ex is FormatException || ex is InvalidCastException || ex is KeyNotFoundException)
                    {
                    }
                }
            }
            return newest;
        }

        private static Dictionary<string, object> Load(string vaultRoot)
        {
            string path = PathFor(vaultRoot);
            try
            {
                return File.Exists(path) && Json.Parse(File.ReadAllText(path)) is Dictionary<string, object> d ? d : new Dictionary<string, object>();
            }
            catch (FormatException)
            {
                return new Dictionary<string, object>();
            }
        }

        private static void Update(string vaultRoot, string destination, Action<Dictionary<string, object>> change)
        {
            lock (Gate)
            {
                var doc = Load(vaultRoot);
                doc["format"] = "tursobackup-offsite";
                doc["formatVersion"] = 1L;
                var dests = doc.TryGetValue("destinations", out var ds) && ds is Dictionary<string, object> dd ? dd : new Dictionary<string, object>();
                var dest = dests.TryGetValue(destination, out var x) && x is Dictionary<string, object> xd ? xd : new Dictionary<string, object>();
                change(dest);
                dests[destination] = dest;
                doc["destinations"] = dests;
                DurableFile.WriteAllText(PathFor(vaultRoot), Json.Write(doc));
            }
        }
    }
}
