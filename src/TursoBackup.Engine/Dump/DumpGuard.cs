using System;
using System.Collections.Generic;
using SQLitePCL;

namespace TursoBackup.Engine.Dump
{
    /// <summary>
    /// What keeps a hostile dump inside the new database while it loads. A dump is data: it may create and fill
    /// tables, indexes, views and triggers in the new file and nothing else. The connection that loads it has
    /// extension loading off, no room for attached databases (SQLITE_LIMIT_ATTACHED = 0), an untrusted schema, defensive
    /// mode (off only between a dump's own PRAGMA writable_schema=ON and OFF, which sqlite3 dumps of FTS5 and R-Tree
    /// tables need), and an authorizer that SQLite asks about every action of every statement, including the bodies of
    /// triggers and views that the dump's own INSERTs run: it refuses ATTACH/DETACH, functions that load code or reach
    /// files, and every PRAGMA a dump does not set. Top-level statements are checked against the kinds a dump holds.
    /// </summary>
    internal sealed class DumpGuard
    {
        private const int SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION = 1005;
        private const int SQLITE_DBCONFIG_DEFENSIVE = 1010;
        private const int SQLITE_DBCONFIG_TRUSTED_SCHEMA = 1017;
        private const int SQLITE_LIMIT_ATTACHED = 7;
        internal const int SQLITE_AUTH = 23;

        private const int SQLITE_OK = 0;
        private const int SQLITE_DENY = 1;

        private const int SQLITE_PRAGMA = 19;
        private const int SQLITE_ATTACH = 24;
        private const int SQLITE_DETACH = 25;
        private const int SQLITE_FUNCTION = 31;

        /// <summary>Statement kinds (first keyword) a dump or a plain SQL script of data consists of.</summary>
        private static readonly HashSet<string> Statements = new HashSet<string>(StringComparer.Ordinal)
        {
            "CREATE", "INSERT", "REPLACE", "DELETE", "UPDATE", "SELECT", "VALUES", "WITH", "BEGIN", "COMMIT", "END",
            "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "ANALYZE", "DROP", "ALTER", "REINDEX",
        };

        /// <summary>The PRAGMAs dumps set: sqlite3's (foreign_keys, writable_schema), ours (user_version, application_id, page_size, auto_vacuum), encoding.</summary>
        private static readonly HashSet<string> Pragmas = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "foreign_keys", "writable_schema", "user_version", "application_id", "page_size", "auto_vacuum", "encoding",
        };

        /// <summary>Functions that load native code or reach files (some exist only in shells and extensions; refused by name all the same).</summary>
        private static readonly HashSet<string> Functions = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "load_extension", "fts3_tokenizer", "readfile", "writefile", "edit", "fsdir", "zipfile", "sqlar_compress", "sqlar_uncompress",
        };

        private readonly sqlite3 db;
        private readonly delegate_authorizer callback; // held here so the delegate outlives every call SQLite makes
        private bool defensive;

        /// <summary>Why the authorizer refused the last statement (null when it did not).</summary>
        public string Refusal { get; private set; }

        /// <summary>The statement being prepared sets writable_schema on (true) or off (false); null otherwise.</summary>
        public bool? WritableSchema { get; private set; }

        /// <summary>While set, the loader's own statements run unchecked.</summary>
        public bool Internal { get; set; }

        private DumpGuard(sqlite3 db)
        {
            this.db = db;
            callback = Authorize;
        }

        /// <summary>Locks <paramref name="db"/> down for loading untrusted SQL (call after the loader's own setup).</summary>
        public static DumpGuard Install(sqlite3 db)
        {
            var guard = new DumpGuard(db);
            raw.sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, out int _);
            raw.sqlite3_enable_load_extension(db, 0);
            raw.sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, out int _);
            raw.sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
            guard.SetDefensive(true);
            raw.sqlite3_set_authorizer(db, guard.callback, null);
            return guard;
        }

        /// <summary>Defensive mode forbids PRAGMA writable_schema=ON and writes to shadow tables, which loading a sqlite3 dump of FTS5 needs.</summary>
        public void SetDefensive(bool on)
        {
            raw.sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, on ? 1 : 0, out int _);
            defensive = on;
        }

        public bool Defensive => defensive;

        /// <summary>Called before each statement is prepared.</summary>
        public void Reset()
        {
            Refusal = null;
            WritableSchema = null;
        }

        /// <summary>Null when a top-level statement starting with <paramref name="keyword"/> may run; else why not.</summary>
        public static string CheckStatement(string keyword)
        {
            if (Statements.Contains(keyword)) return null;
            switch (keyword)
            {
                case "ATTACH": return "is an ATTACH, which would open another database file";
                case "DETACH": return "is a DETACH, which a dump never needs";
                case "VACUUM": return "is a VACUUM (VACUUM INTO writes a copy of the database to another file)";
                case "": return "does not start with a SQL keyword";
                default: return "is a " + keyword + " statement, which a dump does not contain";
            }
        }

        private int Authorize(object userData, int action, utf8z param0, utf8z param1, utf8z dbName, utf8z inner)
        {
            if (Internal) return SQLITE_OK;
            string innerName = inner.utf8_to_string();
            string where = innerName == null ? "" : $" (inside the trigger or view {Quote(innerName)})";
            switch (action)
            {
                case SQLITE_ATTACH:
                    return Deny($"uses ATTACH, which would open another database file ('{param0.utf8_to_string()}'){where}");
                case SQLITE_DETACH:
                    return Deny($"uses DETACH{where}");
                case SQLITE_FUNCTION:
                {
                    string name = param1.utf8_to_string();
                    if (name != null && Functions.Contains(name))
                    {
                        return Deny($"calls {name}(), which would load native code or reach files outside the new database{where}");
                    }
                    return SQLITE_OK;
                }
                case SQLITE_PRAGMA:
                {
                    string name = param0.utf8_to_string() ?? "";
                    if (!Pragmas.Contains(name)) return Deny($"sets PRAGMA {name}, which a dump does not set{where}");
                    string argument = param1.utf8_to_string();
                    if (string.Equals(name, "writable_schema", StringComparison.OrdinalIgnoreCase) && argument != null)
                    {
                        string value = argument.Trim().Trim('\'', '"').ToLowerInvariant();
                        bool on = value == "on" || value == "1" || value == "true" || value == "yes";
                        WritableSchema = on;
                        if (on && defensive) return SQLITE_DENY; // the loader turns defensive mode off and prepares it again
                    }
                    return SQLITE_OK;
                }
                default:
                    return SQLITE_OK;
            }
        }

        private int Deny(string reason)
        {
            Refusal = reason;
            return SQLITE_DENY;
        }

        private static string Quote(string name) => "\"" + (name ?? "").Replace("\"", "\"\"") + "\"";
    }
}
