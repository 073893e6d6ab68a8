using System.Collections.Generic;
using System.Linq;

namespace TursoBackup
{
    /// <summary>
    /// How a stored artifact is encrypted, as its manifest records it: OpenPGP with AES-256, its session key wrapped for
    /// a passphrase and/or for public keys (by key id). Never a secret: this is what `gpg --list-packets` shows too.
    /// </summary>
    public sealed class EncryptionInfo
    {
        /// <summary>"OpenPGP" (RFC 4880): `gpg --decrypt` opens it.</summary>
        public string Format { get; set; } = "OpenPGP";

        /// <summary>"AES256".</summary>
        public string Cipher { get; set; } = "AES256";

        /// <summary>True when a passphrase opens it.</summary>
        public bool Passphrase { get; set; }

        /// <summary>The OpenPGP key ids (16 hex digits) of the public keys it was encrypted for; each one's secret key opens it.</summary>
        public string[] KeyIds { get; set; } = new string[0];

        /// <summary>When its keys were last re-wrapped (Update-TursoBackupKey); null if never.</summary>
        public System.DateTimeOffset? RewrappedAt { get; set; }

        public override string ToString() =>
            Format + " " + Cipher + " (" + string.Join("; ", new[] { Passphrase ? "passphrase" : null, KeyIds.Length > 0 ? "keys " + string.Join(", ", KeyIds) : null }.Where(s => s != null)) + ")";

        /// <summary>What the OpenPGP header of an encrypted file says (no key needed).</summary>
        public static EncryptionInfo OfFile(string path)
        {
            using (var fs = new System.IO.FileStream(path, System.IO.FileMode.Open, System.IO.FileAccess.Read, System.IO.FileShare.Read, 1 << 12))
            {
                var header = Engine.Crypto.OpenPgp.ReadHeader(fs);
                return new EncryptionInfo
                {
                    Cipher = header.Cipher ?? "AES256",
                    Passphrase = header.Passphrase,
                    KeyIds = header.KeyIds.ToArray(),
                };
            }
        }

        internal Dictionary<string, object> ToJson()
        {
            var d = new Dictionary<string, object>
            {
                ["format"] = Format,
                ["cipher"] = Cipher,
                ["passphrase"] = Passphrase,
                ["keyIds"] = (KeyIds ?? new string[0]).Cast<object>().ToList(),
            };
            if (RewrappedAt.HasValue) d["rewrappedAt"] = Engine.Vault.BackupManifest.Time(RewrappedAt.Value);
            return d;
        }

        internal static EncryptionInfo FromJson(Dictionary<string, object> d)
        {
            if (d == null) return null;
            return new EncryptionInfo
            {
                Format = d.TryGetValue("format", out var f) && f != null ? f.ToString() : "OpenPGP",
                Cipher = d.TryGetValue("cipher", out var c) && c != null ? c.ToString() : null,
                Passphrase = d.TryGetValue("passphrase", out var p) && p is bool b && b,
                KeyIds = d.TryGetValue("keyIds", out var k) && k is List<object> l ? l.Select(o => o.ToString()).ToArray() : new string[0],
                RewrappedAt = d.TryGetValue("rewrappedAt", out var r) && r != null ? (System.DateTimeOffset?)Engine.Vault.BackupManifest.ParseTime(r.ToString()) : null,
            };
        }
    }
}
