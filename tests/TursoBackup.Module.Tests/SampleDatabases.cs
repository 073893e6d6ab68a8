namespace TursoBackup.Module.Tests;

/// <summary>Sample databases made with the real sqlite3 CLI.</summary>
public static class SampleDatabases
{
    /// <summary>A few related tables with blobs, NULLs, Unicode and 64-bit integers.</summary>
    public const string ShopSql = """
        PRAGMA foreign_keys = ON;
        CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, note TEXT);
        CREATE TABLE orders(id INTEGER PRIMARY KEY AUTOINCREMENT, customer_id INTEGER NOT NULL REFERENCES customers(id), total REAL, placed_at TEXT, big INTEGER);
        CREATE TABLE items(order_id INTEGER REFERENCES orders(id), sku TEXT, qty INTEGER, photo BLOB, PRIMARY KEY(order_id, sku)) WITHOUT ROWID;
        CREATE INDEX orders_by_customer ON orders(customer_id);
        CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
        CREATE TRIGGER orders_touch AFTER INSERT ON orders BEGIN UPDATE customers SET note = 'ordered' WHERE id = new.customer_id; END;
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
          INSERT INTO customers(id, name, email, note) SELECT i, 'Kunde ' || i || ' – Ünïcødé ✓', 'c' || i || '@example.com', CASE WHEN i % 7 = 0 THEN NULL ELSE 'line1' || char(10) || 'it''s' END FROM n;
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
          INSERT INTO orders(customer_id, total, placed_at, big) SELECT 1 + (i % 200), i * 1.25, datetime('2026-01-01', '+' || i || ' minutes'), 9223372036854775807 - i FROM n;
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
          INSERT INTO items(order_id, sku, qty, photo) SELECT 1 + (i % 1000), 'SKU-' || i, i % 5, randomblob(64) FROM n;
        """;

    public static string CreateShop(string path, string journalMode = "wal")
    {
        Peers.Sqlite3(path, $"PRAGMA journal_mode = {journalMode};\n" + ShopSql);
        return path;
    }

    /// <summary>A database of roughly <paramref name="megabytes"/> MiB (one table of random blobs).</summary>
    public static string CreateLarge(string path, int megabytes, string journalMode = "wal")
    {
        int rows = megabytes * 1024 / 4; // 4 KiB per row
        Peers.Sqlite3(path, $"""
            PRAGMA journal_mode = {journalMode};
            CREATE TABLE blobs(id INTEGER PRIMARY KEY, data BLOB);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
              INSERT INTO blobs(id, data) SELECT i, randomblob(4000) FROM n;
            """);
        return path;
    }
}
