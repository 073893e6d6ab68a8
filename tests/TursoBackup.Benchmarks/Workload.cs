using System.Diagnostics;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Benchmarks
{
    /// <summary>
    /// Builds the benchmark databases: a small web-shop schema (customers, orders with an index, JSON-ish events,
    /// and attachments holding random — so incompressible — blobs of 0.5–4 KiB), filled in one transaction with
    /// set-based INSERT … WITH RECURSIVE statements until the file reaches the requested size, then switched to WAL
    /// and checkpointed so the whole database is in the main file (what cp copies is then the whole database).
    /// Roughly a third of the bytes are random blobs; the rest is text and integers that compress well.
    /// </summary>
    public static class Workload
    {
        /// <summary>PRAGMA user_version stamped on databases this program made, so they can be reused.</summary>
        private const int Marker = 0x7B0B_0001;

        private const string Lorem =
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. " +
            "Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure " +
            "dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non " +
            "proident, sunt in culpa qui officia deserunt mollit anim id est laborum. Customer asked for gift wrapping and delivery after 5pm.";

        // One round of inserts adds about 1.7 MiB; rounds repeat until the file is big enough.
        private const int CustomersPerRound = 1000, OrdersPerRound = 5000, EventsPerRound = 2500, AttachmentsPerRound = 250;

        public static string PathFor(string dir, int sizeMiB) => Path.Combine(dir, $"bench-{sizeMiB}mib.db");

        /// <summary>Returns the database of (at least) <paramref name="sizeMiB"/> MiB, making it unless a previous run left it.</summary>
        public static string Ensure(string dir, int sizeMiB, bool fresh)
        {
            string path = PathFor(dir, sizeMiB);
            long target = (long)sizeMiB << 20;
            if (!fresh && IsReusable(path, target))
            {
                Console.Error.WriteLine($"  reusing {path} ({new FileInfo(path).Length / 1048576.0:F1} MiB)");
                return path;
            }
            var watch = Stopwatch.StartNew();
            Make(path, target, 1, cacheKiB: 262144);
            Console.Error.WriteLine($"  made {path} ({new FileInfo(path).Length / 1048576.0:F1} MiB) in {watch.Elapsed.TotalSeconds:F1} s");
            return path;
        }

        /// <summary>
        /// The folder of <paramref name="count"/> small databases (50–200 KiB each, the same four tables with fewer rows
        /// per round), making it unless a previous run left it complete. Returns the folder and the total bytes.
        /// </summary>
        public static (string Dir, long Bytes) EnsureMany(string dir, int count, bool fresh)
        {
            string folder = Path.Combine(dir, $"many-{count}");
            string marker = Path.Combine(folder, ".complete");
            if (!fresh && File.Exists(marker) && File.ReadAllText(marker).Trim() == Marker.ToString())
            {
                long bytes = Directory.GetFiles(folder, "*.db").Sum(f => new FileInfo(f).Length);
                Console.Error.WriteLine($"  reusing {folder} ({count:N0} databases, {bytes / 1048576.0:F1} MiB)");
                return (folder, bytes);
            }
            if (Directory.Exists(folder)) Directory.Delete(folder, true);
            Directory.CreateDirectory(folder);
            var watch = Stopwatch.StartNew();
            var random = new Random(count);
            for (int i = 1; i <= count; i++)
            {
                long target = (50 + random.Next(151)) * 1024L; // 50–200 KiB
                Make(Path.Combine(folder, $"tenant-{i:D5}.db"), target, SmallRound, cacheKiB: 2048);
            }
            File.WriteAllText(marker, Marker.ToString());
            long total = Directory.GetFiles(folder, "*.db").Sum(f => new FileInfo(f).Length);
            Console.Error.WriteLine($"  made {folder} ({count:N0} databases, {total / 1048576.0:F1} MiB) in {watch.Elapsed.TotalSeconds:F1} s");
            return (folder, total);
        }

        /// <summary>Rows per round of a small database, as a fraction of a big database's round (≈ 35 KiB per round).</summary>
        private const double SmallRound = 0.02;

        /// <summary>Creates the database at <paramref name="path"/> and fills it until it holds <paramref name="target"/> bytes.</summary>
        internal static void Make(string path, long target, double roundScale, int cacheKiB)
        {
            foreach (var f in new[] { path, path + "-wal", path + "-shm", path + "-journal" }) File.Delete(f);
            int Scaled(int n) => Math.Max(1, (int)(n * roundScale));
            int cn = Scaled(CustomersPerRound), on = Scaled(OrdersPerRound), en = Scaled(EventsPerRound), an = Scaled(AttachmentsPerRound);
            using (var db = SqliteFile.OpenOrCreate(path))
            {
                Exec(db, $"PRAGMA page_size = 4096; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -{cacheKiB};");
                Exec(db, @"
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, country TEXT NOT NULL,
                        created_at INTEGER NOT NULL, balance REAL NOT NULL);
CREATE UNIQUE INDEX customers_email ON customers (email);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id), created_at INTEGER NOT NULL,
                     status TEXT NOT NULL, amount_cents INTEGER NOT NULL, note TEXT);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE TABLE events (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE attachments (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, file_name TEXT NOT NULL, mime TEXT NOT NULL, content BLOB NOT NULL);");

                using (var tx = db.BeginTransaction())
                {
                    var insert = Prepare(db, tx, @"
INSERT INTO customers (id, name, email, country, created_at, balance)
  WITH RECURSIVE n(i) AS (SELECT @c0 UNION ALL SELECT i + 1 FROM n WHERE i < @c0 + @cn - 1)
  SELECT i, 'Customer ' || i || ' ' || substr('SmithJonesMillerDavisGarciaWilsonTaylorClarkLewisWalker', 1 + abs(random()) % 50, 6),
         'user' || i || '@' || substr('example.comexample.orgmail.testshop.local', 1 + 11 * (abs(random()) % 3), 11),
         substr('USGBDEFRNLSEJPBRINCA', 1 + 2 * (abs(random()) % 10), 2),
         1600000000 + i * 37, (abs(random()) % 10000000) / 100.0
  FROM n;
INSERT INTO orders (id, customer_id, created_at, status, amount_cents, note)
  WITH RECURSIVE n(i) AS (SELECT @o0 UNION ALL SELECT i + 1 FROM n WHERE i < @o0 + @on - 1)
  SELECT i, 1 + abs(random()) % (@c0 + @cn - 1), 1600000000 + i * 7,
         CASE abs(random()) % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' ELSE 'delivered' END,
         abs(random()) % 500000, substr(@lorem, 1 + abs(random()) % 300, 20 + abs(random()) % 160)
  FROM n;
INSERT INTO events (id, at, kind, payload)
  WITH RECURSIVE n(i) AS (SELECT @e0 UNION ALL SELECT i + 1 FROM n WHERE i < @e0 + @en - 1)
  SELECT i, 1600000000 + i * 3, CASE abs(random()) % 3 WHEN 0 THEN 'login' WHEN 1 THEN 'view' ELSE 'checkout' END,
         json_object('user', abs(random()) % 100000, 'ip', '10.' || (abs(random()) % 256) || '.' || (abs(random()) % 256) || '.' || (abs(random()) % 256),
                     'agent', 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/' || (100 + abs(random()) % 30), 'session', hex(randomblob(8)))
  FROM n;
INSERT INTO attachments (id, order_id, file_name, mime, content)
  WITH RECURSIVE n(i) AS (SELECT @a0 UNION ALL SELECT i + 1 FROM n WHERE i < @a0 + @an - 1)
  SELECT i, 1 + abs(random()) % (@o0 + @on - 1), 'scan-' || i || '.jpg', 'image/jpeg', randomblob(512 + abs(random()) % 3584)
  FROM n;");
                    insert.Parameters.AddWithValue("@lorem", Lorem);
                    insert.Parameters.AddWithValue("@cn", cn);
                    insert.Parameters.AddWithValue("@on", on);
                    insert.Parameters.AddWithValue("@en", en);
                    insert.Parameters.AddWithValue("@an", an);
                    var c0 = insert.Parameters.Add("@c0", SqliteType.Integer);
                    var o0 = insert.Parameters.Add("@o0", SqliteType.Integer);
                    var e0 = insert.Parameters.Add("@e0", SqliteType.Integer);
                    var a0 = insert.Parameters.Add("@a0", SqliteType.Integer);
                    var size = Prepare(db, tx, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size");
                    for (long round = 0; Convert.ToInt64(size.ExecuteScalar()) < target; round++)
                    {
                        c0.Value = 1 + round * cn;
                        o0.Value = 1 + round * on;
                        e0.Value = 1 + round * en;
                        a0.Value = 1 + round * an;
                        insert.ExecuteNonQuery();
                    }
                    tx.Commit();
                }
                Exec(db, $"PRAGMA user_version = {Marker}; ANALYZE; PRAGMA journal_mode = WAL; PRAGMA wal_checkpoint(TRUNCATE);");
            }
        }

        private static bool IsReusable(string path, long target)
        {
            if (!File.Exists(path) || new FileInfo(path).Length < target) return false;
            if (File.Exists(path + "-wal") && new FileInfo(path + "-wal").Length > 0) return false;
            try
            {
                using var db = SqliteFile.OpenReadOnly(path);
                return Convert.ToInt64(SqliteFile.Scalar(db, "PRAGMA user_version")) == Marker
                       && Convert.ToString(SqliteFile.Scalar(db, "PRAGMA journal_mode")) == "wal";
            }
            catch (SqliteException)
            {
                return false;
            }
        }

        private static void Exec(SqliteConnection db, string sql)
        {
            using var cmd = db.CreateCommand();
            cmd.CommandText = sql;
            cmd.ExecuteNonQuery();
        }

        private static SqliteCommand Prepare(SqliteConnection db, SqliteTransaction tx, string sql)
        {
            var cmd = db.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = sql;
            return cmd;
        }
    }
}
