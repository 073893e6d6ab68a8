using System;
using TursoBackup.Engine.Errors;

namespace TursoBackup.Engine.Remote
{
    /// <summary>
    /// The base URL of a libSQL server (Turso Cloud, sqld, tursodb --sync-server) for Hrana over HTTP.
    /// <c>libsql://host[:port][/path]</c> becomes <c>https://host[:port][/path]</c> (<c>?tls=0</c> makes it http, as the
    /// libSQL clients do); <c>http://</c> and <c>https://</c> are kept; a trailing '/' is removed. Anything else is
    /// refused. URLs with credentials (user info, <c>?authToken=</c>) are refused too: tokens belong in -AuthToken or
    /// TURSO_AUTH_TOKEN, never in a URL that ends up in logs and error messages.
    /// </summary>
    public static class LibsqlUrl
    {
        /// <summary>The normalized http(s) base URL, without a trailing '/'.</summary>
        /// <exception cref="TursoBackupException">InvalidArgument when the URL is empty, malformed, of another scheme or carries credentials.</exception>
        public static string Normalize(string url)
        {
            if (string.IsNullOrWhiteSpace(url))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    "No database URL was given. Pass one like libsql://<database>-<org>.turso.io or http://127.0.0.1:8080.");
            }
            string s = url.Trim();
            int schemeEnd = s.IndexOf("://", StringComparison.Ordinal);
            if (schemeEnd <= 0)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{Redact(s)}' is not a libSQL URL: it has no scheme. Use libsql://host, https://host or http://host:port.", Redact(s));
            }
            string scheme = s.Substring(0, schemeEnd).ToLowerInvariant();
            string rest = s.Substring(schemeEnd + 3);

            int fragment = rest.IndexOf('#');
            if (fragment >= 0)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{Redact(s)}' has a '#' fragment, which a libSQL URL cannot have. Remove it.", Redact(s));
            }

            bool tlsOff = false;
            int q = rest.IndexOf('?');
            if (q >= 0)
            {
                string query = rest.Substring(q + 1);
                rest = rest.Substring(0, q);
                foreach (string part in query.Split(new[] { '&' }, StringSplitOptions.RemoveEmptyEntries))
                {
                    int eq = part.IndexOf('=');
                    string key = eq < 0 ? part : part.Substring(0, eq);
                    string value = eq < 0 ? string.Empty : part.Substring(eq + 1);
                    if (string.Equals(key, "tls", StringComparison.OrdinalIgnoreCase) && scheme == "libsql")
                    {
                        if (value == "0") tlsOff = true;
                        else if (value != "1")
                        {
                            throw new TursoBackupException(FailureKind.InvalidArgument,
                                $"'{Redact(s)}': tls must be 0 or 1.", Redact(s));
                        }
                    }
                    else if (string.Equals(key, "authToken", StringComparison.OrdinalIgnoreCase))
                    {
                        throw new TursoBackupException(FailureKind.InvalidArgument,
                            $"The database URL '{Redact(s)}' carries an auth token. Remove it from the URL and pass it with -AuthToken or the TURSO_AUTH_TOKEN environment variable instead (URLs end up in logs).");
                    }
                    else
                    {
                        throw new TursoBackupException(FailureKind.InvalidArgument,
                            $"'{Redact(s)}' has an unsupported query parameter '{key}'. Only ?tls=0 (libsql:// URLs) is understood.", Redact(s));
                    }
                }
            }

            string target;
            switch (scheme)
            {
                case "libsql": target = tlsOff ? "http" : "https"; break;
                case "https": target = "https"; break;
                case "http": target = "http"; break;
                default:
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"'{Redact(s)}' uses the scheme '{scheme}://', which this module does not speak. Use libsql://host (HTTPS), https://host or http://host:port (Hrana over HTTP).", Redact(s));
            }

            int slash = rest.IndexOf('/');
            string authority = slash < 0 ? rest : rest.Substring(0, slash);
            string path = slash < 0 ? string.Empty : rest.Substring(slash);
            if (authority.IndexOf('@') >= 0)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"The database URL '{Redact(s)}' carries credentials before '@'. Remove them and pass the token with -AuthToken or TURSO_AUTH_TOKEN.");
            }
            if (authority.Length == 0)
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{Redact(s)}' has no host name. Use libsql://host, https://host or http://host:port.", Redact(s));
            }
            while (path.EndsWith("/", StringComparison.Ordinal)) path = path.Substring(0, path.Length - 1);

            string result = target + "://" + authority + path;
            if (!Uri.TryCreate(result, UriKind.Absolute, out Uri parsed) || string.IsNullOrEmpty(parsed.Host))
            {
                throw new TursoBackupException(FailureKind.InvalidArgument,
                    $"'{Redact(s)}' is not a valid URL. Use libsql://host, https://host or http://host:port.", Redact(s));
            }
            return result;
        }

        /// <summary>The URL for messages: user info and the query string (where tokens hide) replaced by '***'.</summary>
        public static string Redact(string url)
        {
            if (string.IsNullOrEmpty(url)) return url;
            string s = url;
            int q = s.IndexOf('?');
            if (q >= 0) s = s.Substring(0, q) + "?***";
            int schemeEnd = s.IndexOf("://", StringComparison.Ordinal);
            int start = schemeEnd < 0 ? 0 : schemeEnd + 3;
            int end = s.IndexOf('/', start);
            if (end < 0) end = s.IndexOf('?', start);
            if (end < 0) end = s.Length;
            int at = end > start ? s.LastIndexOf('@', end - 1, end - start) : -1;
            if (at >= 0) s = s.Substring(0, start) + "***@" + s.Substring(at + 1);
            return s;
        }
    }
}
