using System.Diagnostics;
using Microsoft.Data.Sqlite;
using TursoBackup.Engine.Sqlite;

namespace TursoBackup.Benchmarks
{
    /// <summary>
    /// The application side of the point-in-time benchmark: a writer that commits small transactions to a benchmark
    /// database (one row appended to <c>pitr_log</c> with its sequence number, one random order updated — so each
    /// transaction dirties a page at the end of one table and a random page of another), and records the wall time at
    /// which each COMMIT returned. It behaves like an ordinary application: WAL mode, synchronous=NORMAL, SQLite's
    /// default auto-checkpoint (1,000 pages), a busy timeout — the same in every run, whatever archives it.
    /// </summary>
    public sealed class PitrWriter
    {
        public const string LogTable = "pitr_log";

        /// <summary>Adds the log table (once) to a copy of a workload database.</summary>
        public static void Prepare(string database)
        {
            using var c = SqliteFile.OpenReadWrite(database, TimeSpan.FromSeconds(30));
            Exec(c, $"PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS {LogTable} (id INTEGER PRIMARY KEY, committed_at INTEGER NOT NULL, note TEXT NOT NULL); PRAGMA wal_checkpoint(TRUNCATE);");
        }

        /// <summary>
        /// Commits transactions <paramref name="first"/> … first+count-1, flat out (<paramref name="perSecond"/> = 0)
        /// or paced to a steady rate. Returns the UTC ticks at which each COMMIT returned (index = id - first).
        /// </summary>
        public static long[] Run(string database, long first, int count, double perSecond, CancellationToken cancel = default)
        {
            var committed = new long[count];
            using var c = SqliteFile.OpenReadWrite(database, TimeSpan.FromSeconds(30));
            Exec(c, "PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;");
            long maxOrder = Convert.ToInt64(SqliteFile.Scalar(c, "SELECT coalesce(max(id), 1) FROM orders"));
            var random = new Random((int)first);
            using var begin = c.CreateCommand();
            begin.CommandText = "BEGIN IMMEDIATE";
            using var commit = c.CreateCommand();
            commit.CommandText = "COMMIT";
            using var insert = c.CreateCommand();
            insert.CommandText = $"INSERT INTO {LogTable} (id, committed_at, note) VALUES ($id, $at, $note)";
            var pId = insert.Parameters.Add("$id", SqliteType.Integer);
            var pAt = insert.Parameters.Add("$at", SqliteType.Integer);
            var pNote = insert.Parameters.Add("$note", SqliteType.Text);
            insert.Prepare();
            using var update = c.CreateCommand();
            update.CommandText = "UPDATE orders SET amount_cents = amount_cents + 1, status = $status WHERE id = $order";
            var pStatus = update.Parameters.Add("$status", SqliteType.Text);
            var pOrder = update.Parameters.Add("$order", SqliteType.Integer);
            update.Prepare();
            var pace = Stopwatch.StartNew();
            for (int i = 0; i < count; i++)
            {
                cancel.ThrowIfCancellationRequested();
                if (perSecond > 0)
                {
                    double due = i / perSecond * 1000;
                    double wait = due - pace.Elapsed.TotalMilliseconds;
                    if (wait > 1) Thread.Sleep((int)wait);
                }
                long id = first + i;
                begin.ExecuteNonQuery();
                pId.Value = id;
                pAt.Value = DateTime.UtcNow.Ticks;
                pNote.Value = "transaction " + id + " of the point-in-time benchmark";
                insert.ExecuteNonQuery();
                pStatus.Value = "touched by " + id;
                pOrder.Value = 1 + random.NextInt64(maxOrder);
                update.ExecuteNonQuery();
                commit.ExecuteNonQuery();
                committed[i] = DateTime.UtcNow.Ticks;
            }
            return committed;
        }

        /// <summary>The highest transaction id a database file holds (0 when none), read without locks.</summary>
        public static long MaxId(string database)
        {
            using var c = SqliteFile.OpenImmutable(database);
            return Convert.ToInt64(SqliteFile.Scalar(c, $"SELECT coalesce(max(id), 0) FROM {LogTable}"));
        }

        /// <summary>How many transactions a restored database holds.</summary>
        public static long Count(string database)
        {
            using var c = SqliteFile.OpenImmutable(database);
            return Convert.ToInt64(SqliteFile.Scalar(c, $"SELECT count(*) FROM {LogTable}"));
        }

        private static void Exec(SqliteConnection c, string sql)
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            cmd.ExecuteNonQuery();
        }
    }
}
