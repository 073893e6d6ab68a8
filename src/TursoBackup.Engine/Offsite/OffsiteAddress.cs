using System;
using System.Security.Cryptography;
using System.Text;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Offsite
{
    public enum OffsiteKind
    {
        /// <summary>A folder: another disk, a mounted share, a UNC path.</summary>
        Directory,
        AzureBlob,
        S3,
        Sftp,
    }

    /// <summary>
    /// What a -Vault or -Destination string names. A local or UNC path is a <see cref="OffsiteKind.Directory"/> vault (and
    /// the cmdlets keep opening it as the folder it is); <c>https://&lt;account&gt;.blob.core.windows.net/&lt;container&gt;[/prefix]</c>
    /// and <c>http(s)://host:port/&lt;account&gt;/&lt;container&gt;[/prefix]</c> (an emulator such as azurite, path style) are Azure
    /// Blob Storage; <c>s3://bucket[/prefix]</c> is S3; <c>sftp://[user@]host[:port]/path</c> is SFTP.
    /// </summary>
    public sealed class OffsiteAddress
    {
        private OffsiteAddress(OffsiteKind kind, string text, Uri uri)
        {
            Kind = kind;
            Text = text;
            Uri = uri;
        }

        public OffsiteKind Kind { get; }

        /// <summary>What the admin wrote (may hold a SAS in its query: never print it; use <see cref="DisplayName"/>).</summary>
        public string Text { get; }

        /// <summary>The parsed URI; null for a <see cref="OffsiteKind.Directory"/>.</summary>
        public Uri Uri { get; }

        public bool IsRemote => Kind != OffsiteKind.Directory;

        /// <summary>The address without query, fragment or password: safe for messages and records.</summary>
        public string DisplayName
        {
            get
            {
                if (Uri == null) return Text;
                var b = new UriBuilder(Uri) { Query = "", Fragment = "", Password = "" };
                string s = b.Uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.UserInfo | UriComponents.Path, UriFormat.Unescaped);
                return s.TrimEnd('/');
            }
        }

        /// <summary>The server part of the address (scheme, user, host, port; for Azure and S3 the account or bucket): vaults with the same one share credentials.</summary>
        public string ServerName
        {
            get
            {
                if (Uri == null) return null;
                string s = Uri.Scheme + "://" + (string.IsNullOrEmpty(Uri.UserInfo) ? "" : Uri.UserInfo.Split(':')[0] + "@") + Uri.Host + ":" + Uri.Port;
                if (Kind == OffsiteKind.S3) return s;
                if (Kind == OffsiteKind.AzureBlob && !Uri.Host.EndsWith(".blob.core.windows.net", StringComparison.OrdinalIgnoreCase))
                {
                    return s + "/" + Uri.AbsolutePath.Trim('/').Split('/')[0];
                }
                return s;
            }
        }

        /// <summary>A short stable name for this destination (a hash of <see cref="DisplayName"/>), for cache folders.</summary>
        public string CacheName
        {
            get
            {
                using (var sha = SHA256.Create())
                {
                    var hash = sha.ComputeHash(Encoding.UTF8.GetBytes(DisplayName));
                    var sb = new StringBuilder(Kind.ToString().ToLowerInvariant()).Append('-');
                    for (int i = 0; i < 8; i++) sb.Append(hash[i].ToString("x2"));
                    return sb.ToString();
                }
            }
        }

        /// <summary>True when <paramref name="text"/> is a URI of a remote vault (Azure, S3, SFTP), not a path.</summary>
        public static bool IsRemoteText(string text) =>
            text != null && (text.StartsWith("s3://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("sftp://", StringComparison.OrdinalIgnoreCase)
                || text.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("http://", StringComparison.OrdinalIgnoreCase));

        public static OffsiteAddress Parse(string text)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, "The vault is empty. Give a folder, or an offsite vault URI (https://<account>.blob.core.windows.net/<container>, s3://bucket/prefix, sftp://user@host/path).", text);
            }
            if (!IsRemoteText(text)) return new OffsiteAddress(OffsiteKind.Directory, text, null);
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, $"'{Redact(text)}' is not a valid vault URI. Write it as https://<account>.blob.core.windows.net/<container>[/prefix], s3://bucket[/prefix] or sftp://user@host[:port]/path.", Redact(text)) { ErrorId = "InvalidVaultUri" };
            }
            if (!string.IsNullOrEmpty(uri.UserInfo) && uri.UserInfo.IndexOf(':') >= 0)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument, $"The vault URI '{Redact(text)}' holds a password. Pass it with -Credential instead, so it is never in a command line, a log or a record.", Redact(text)) { ErrorId = "PasswordInVaultUri" };
            }
            switch (uri.Scheme.ToLowerInvariant())
            {
                case "s3": return new OffsiteAddress(OffsiteKind.S3, text, uri);
                case "sftp": return new OffsiteAddress(OffsiteKind.Sftp, text, uri);
                default:
                    string path = uri.AbsolutePath.Trim('/');
                    bool pathStyle = !uri.Host.EndsWith(".blob.core.windows.net", StringComparison.OrdinalIgnoreCase);
                    if (path.Length == 0 || (pathStyle && path.IndexOf('/') < 0))
                    {
                        throw new TursoBackupException(FailureKind.InvalidArgument,
                            $"'{Redact(text)}' names no container. Write it as https://<account>.blob.core.windows.net/<container>[/prefix] (or http://host:port/<account>/<container> for an emulator).", Redact(text)) { ErrorId = "InvalidVaultUri" };
                    }
                    return new OffsiteAddress(OffsiteKind.AzureBlob, text, uri);
            }
        }

        /// <summary><paramref name="text"/> without a URI's query (a SAS) or password.</summary>
        public static string Redact(string text)
        {
            if (text == null) return null;
            int q = text.IndexOf('?');
            if (q >= 0) text = text.Substring(0, q);
            int scheme = text.IndexOf("://", StringComparison.Ordinal);
            int at = text.IndexOf('@');
            if (scheme >= 0 && at > scheme)
            {
                int colon = text.IndexOf(':', scheme + 3);
                if (colon > 0 && colon < at) text = text.Substring(0, colon) + text.Substring(at);
            }
            return text;
        }

        /// <summary>Opens the store this address names (not for <see cref="OffsiteKind.Directory"/>: use <see cref="DirectoryStore"/>).</summary>
        public IObjectStore Open(OffsiteOptions options)
        {
            options = options ?? new OffsiteOptions();
            switch (Kind)
            {
                case OffsiteKind.Directory: return new DirectoryStore(Text);
                case OffsiteKind.AzureBlob: return new AzureBlobStore(this, options);
                case OffsiteKind.S3: return new S3Store(this, options);
                case OffsiteKind.Sftp: return new SftpStore(this, options);
                default: throw new ArgumentOutOfRangeException();
            }
        }

        public override string ToString() => DisplayName;
    }
}
