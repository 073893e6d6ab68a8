using System;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>What a vault file is, by its key ('/'-separated path from the vault's root), for copying it offsite.</summary>
    public enum VaultObjectRole
    {
        /// <summary>Not copied: a cache (index.json), work in progress, locks and other hidden names.</summary>
        NotCopied,
        /// <summary>The vault marker, copied first.</summary>
        Marker,
        /// <summary>Written once and never changed: an artifact, a WAL snapshot, a segment, a pack. Same length = same object.</summary>
        Immutable,
        /// <summary>A page store pack's index: what makes the pack part of the store; copied after the packs, before the manifests that use them.</summary>
        PackIndex,
        /// <summary>What makes a unit visible (a backup's manifest.json, a WAL generation's snapshot.json): copied after the rest of its unit.</summary>
        Commit,
        /// <summary>Rewritten over time (verifications.jsonl, state.json, gaps.jsonl, verify.json): compared by content.</summary>
        Mutable,
    }

    public static class VaultKeys
    {
        /// <summary>The role of <paramref name="key"/> (see <see cref="VaultObjectRole"/>).</summary>
        public static VaultObjectRole Role(string key)
        {
            if (string.IsNullOrEmpty(key)) return VaultObjectRole.NotCopied;
            var parts = key.Split('/');
            foreach (var p in parts)
            {
                if (p.Length == 0 || p.StartsWith(".", StringComparison.Ordinal)) return VaultObjectRole.NotCopied;
                if (p.EndsWith(".partial", StringComparison.Ordinal) || p.EndsWith(".tmp", StringComparison.Ordinal) || p.EndsWith(".lock", StringComparison.Ordinal)) return VaultObjectRole.NotCopied;
            }
            if (parts.Length == 1) return key == "vault.json" ? VaultObjectRole.Marker : VaultObjectRole.NotCopied;
            string name = parts[parts.Length - 1];
            if (parts[0] == "databases")
            {
                if (parts.Length == 3) return name == "verifications.jsonl" ? VaultObjectRole.Mutable : VaultObjectRole.NotCopied; // index.json is a cache
                if (parts.Length == 4) return name == "manifest.json" ? VaultObjectRole.Commit : VaultObjectRole.Immutable;
                return VaultObjectRole.NotCopied;
            }
            if (parts[0] == Incremental.PageStore.Folder)
            {
                if (parts.Length != 3) return VaultObjectRole.NotCopied;
                if (name.EndsWith(Incremental.PageStore.PackExtension, StringComparison.Ordinal)) return VaultObjectRole.Immutable;
                return name.EndsWith(Incremental.PageStore.IndexExtension, StringComparison.Ordinal) ? VaultObjectRole.PackIndex : VaultObjectRole.NotCopied;
            }
            if (parts[0] == "wal")
            {
                if (parts.Length == 3) return name == "state.json" || name == "gaps.jsonl" || name == "verify.json" ? VaultObjectRole.Mutable : VaultObjectRole.NotCopied;
                if (parts.Length == 5 && parts[2] == "generations")
                {
                    if (name == "snapshot.json") return VaultObjectRole.Commit;
                    return name == "snapshot.db.zst" ? VaultObjectRole.Immutable : VaultObjectRole.NotCopied;
                }
                if (parts.Length == 6 && parts[2] == "generations" && parts[4] == "segments")
                {
                    return name.EndsWith(".seg", StringComparison.Ordinal) || name.EndsWith(".pack", StringComparison.Ordinal) ? VaultObjectRole.Immutable : VaultObjectRole.NotCopied;
                }
                return VaultObjectRole.NotCopied;
            }
            return VaultObjectRole.NotCopied;
        }

        /// <summary>The order a sync copies in: the marker, then the immutable objects, then the pack indexes, then the commits, then the mutable files.</summary>
        public static int Phase(VaultObjectRole role)
        {
            switch (role)
            {
                case VaultObjectRole.Marker: return 0;
                case VaultObjectRole.Immutable: return 1;
                case VaultObjectRole.PackIndex: return 2;
                case VaultObjectRole.Commit: return 3;
                default: return 4;
            }
        }

        /// <summary>The database a key belongs to (databases/&lt;db&gt;/… or wal/&lt;db&gt;/…), or null.</summary>
        public static string Database(string key)
        {
            var parts = key.Split('/');
            return parts.Length >= 3 && (parts[0] == "databases" || parts[0] == "wal" || parts[0] == Incremental.PageStore.Folder) ? parts[1] : null;
        }

        /// <summary>The "unit" a key belongs to: databases/&lt;db&gt;/&lt;id&gt; for a backup's files, wal/&lt;db&gt;/generations/&lt;g&gt; for a generation's, pages/&lt;db&gt; for a page store's, else the key.</summary>
        public static string Unit(string key)
        {
            var parts = key.Split('/');
            if (parts[0] == "databases" && parts.Length == 4) return string.Join("/", parts, 0, 3);
            if (parts[0] == "wal" && parts.Length >= 5 && parts[2] == "generations") return string.Join("/", parts, 0, 4);
            if (parts[0] == Incremental.PageStore.Folder && parts.Length == 3) return string.Join("/", parts, 0, 2); // one store, one unit
            return key;
        }
    }
}
