using System;
using System.Security;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>
    /// How to reach an offsite vault: the credentials and settings the cmdlets' parameters give, with each store's
    /// environment fallbacks read through <see cref="GetEnvironment"/> (so tests can give their own). Nothing here is
    /// ever written to a log, a message or a file.
    /// </summary>
    public sealed class OffsiteOptions
    {
        /// <summary>-Credential's user name: the Azure storage account name, the S3 access key id, the SFTP user.</summary>
        public string UserName { get; set; }

        /// <summary>-Credential's password: the Azure account key, the S3 secret key, the SFTP password.</summary>
        public SecureString Password { get; set; }

        /// <summary>Azure: a shared access signature (without or with its leading '?'); else the URI's query, else the
        /// account key, else env AZURE_STORAGE_CONNECTION_STRING / AZURE_STORAGE_SAS_TOKEN / AZURE_STORAGE_KEY.</summary>
        public SecureString SasToken { get; set; }

        /// <summary>Azure: a connection string (else env AZURE_STORAGE_CONNECTION_STRING).</summary>
        public SecureString ConnectionString { get; set; }

        /// <summary>S3: the service URL of an S3-compatible store ("http://127.0.0.1:4568"); null for AWS. Path-style addressing then.</summary>
        public string Endpoint { get; set; }

        /// <summary>S3: the region (else env AWS_REGION, else us-east-1).</summary>
        public string Region { get; set; }

        /// <summary>SFTP: the private key file (OpenSSH format; else ~/.ssh/id_ed25519, id_ecdsa, id_rsa).</summary>
        public string KeyFile { get; set; }

        /// <summary>SFTP: the private key's passphrase, if it has one.</summary>
        public SecureString KeyPassphrase { get; set; }

        /// <summary>SFTP: the host key the server must present, as `ssh-keygen -lf` prints it ("SHA256:base64").
        /// Without it, the key recorded in <see cref="KnownHostsPath"/> for that host and port; with neither, the first key
        /// seen is recorded there (trust on first use, reported through <see cref="Warn"/>) and every later one must match.</summary>
        public string HostKeyFingerprint { get; set; }

        /// <summary>SFTP: the module's own known-hosts file (default: <see cref="SftpStore.DefaultKnownHostsPath"/>).</summary>
        public string KnownHostsPath { get; set; }

        /// <summary>Bytes per block or part of a large upload (default 8 MiB; the services' minimums and maximums apply).</summary>
        public int BlockSize { get; set; } = 8 * 1024 * 1024;

        /// <summary>Blocks or parts in flight at once for one large upload (default 4).</summary>
        public int Parallelism { get; set; } = 4;

        /// <summary>Seconds to wait for a connection or a response before the destination counts as unreachable (default 30).</summary>
        public int TimeoutSeconds { get; set; } = 30;

        /// <summary>Reads an environment variable (default: the process environment).</summary>
        public Func<string, string> GetEnvironment { get; set; } = Environment.GetEnvironmentVariable;

        /// <summary>-Verbose narration (never given a secret).</summary>
        public Action<string> Log { get; set; }

        /// <summary>Warnings the admin must see (a host key trusted on first use).</summary>
        public Action<string> Warn { get; set; }

        public OffsiteOptions Clone() => (OffsiteOptions)MemberwiseClone();
    }
}
