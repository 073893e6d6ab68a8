using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using Renci.SshNet;
using Renci.SshNet.Common;
using Renci.SshNet.Sftp;
using TursoBackup.Engine.Errors;
using TursoBackup.Engine.IO;

namespace TursoBackup.Engine.Offsite
{
    /// <summary>
    /// An SFTP server as an object store (<c>sftp://[user@]host[:port]/absolute/path</c>), over SSH.NET.
    /// </summary>
    /// <remarks>
    /// <para>Atomic: an object is uploaded to a hidden sibling ".&lt;name&gt;.&lt;random&gt;.partial" (owner-only), checked,
    /// then renamed over its key with the posix-rename@openssh.com extension (rename(2) on the server: an object that
    /// was there is replaced whole). Hidden names are never listed; a failed upload deletes its temporary file.</para>
    /// <para>Verified on arrival: before the rename, the SHA-256 of what arrived is computed by the server
    /// (<c>sha256sum</c> over an SSH exec channel) when it allows that, else by reading the temporary file back over
    /// SFTP; it must equal the caller's.</para>
    /// <para>Host keys are never accepted silently: <see cref="OffsiteOptions.HostKeyFingerprint"/> must match, else the
    /// line for <c>[host]:port</c> in the module's known-hosts file; with neither, the first key is recorded there and
    /// reported through <see cref="OffsiteOptions.Warn"/> (trust on first use).</para>
    /// </remarks>
    public sealed class SftpStore : IObjectStore
    {
        private const int BufferSize = 1 << 20;

        /// <summary>Objects from this size on are hashed by the server (sha256sum) rather than read back.</summary>
        internal const long RemoteHashThreshold = 1 << 20;

        private readonly OffsiteOptions options;
        private readonly string host;
        private readonly int port;
        private readonly string user;
        private readonly string root;
        private readonly string pinned;
        private readonly string knownHostsPath;
        private readonly object gate = new object();
        private readonly HashSet<string> knownFolders = new HashSet<string>(StringComparer.Ordinal);
        private ConnectionInfo connectionInfo;
        private string credentialsTried;
        private SftpClient sftp;
        private SshClient ssh;
        private bool execUnavailable;
        private TursoBackupException hostKeyFailure;
        private string pendingWarning;
        private bool disposed;

        public SftpStore(OffsiteAddress address, OffsiteOptions options)
        {
            if (address == null) throw new ArgumentNullException(nameof(address));
            if (address.Kind != OffsiteKind.Sftp) throw new ArgumentException("not an sftp:// address", nameof(address));
            this.options = options ?? new OffsiteOptions();
            var uri = address.Uri;
            host = uri.Host.Trim('[', ']');
            port = uri.IsDefaultPort || uri.Port <= 0 ? 22 : uri.Port;
            user = !string.IsNullOrEmpty(uri.UserInfo) ? Uri.UnescapeDataString(uri.UserInfo)
                : !string.IsNullOrEmpty(this.options.UserName) ? this.options.UserName
                : Environment.UserName;
            string path = Uri.UnescapeDataString(uri.AbsolutePath);
            root = "/" + path.Trim('/');
            DisplayName = address.DisplayName;
            knownHostsPath = string.IsNullOrEmpty(this.options.KnownHostsPath) ? DefaultKnownHostsPath(this.options.GetEnvironment) : this.options.KnownHostsPath;
            if (!string.IsNullOrWhiteSpace(this.options.HostKeyFingerprint))
            {
                pinned = NormalizeFingerprint(this.options.HostKeyFingerprint);
                if (pinned == null)
                {
                    throw new TursoBackupException(FailureKind.InvalidArgument,
                        $"The host key fingerprint given for '{DisplayName}' is not a SHA-256 fingerprint. Give it as `ssh-keygen -lf <host key>.pub` prints it: SHA256:<43 base64 characters>.", DisplayName) { ErrorId = "InvalidHostKeyFingerprint" };
                }
            }
        }

        public string DisplayName { get; }

        /// <summary>The absolute folder on the server that holds the vault.</summary>
        public string Root => root;

        /// <summary>How the last <see cref="Put"/> was verified: "sha256sum" (computed by the server over an exec channel) or "read-back".</summary>
        internal string LastVerification { get; private set; }

        /// <summary>The known-hosts file the store reads and records host keys in.</summary>
        public string KnownHostsPath => knownHostsPath;

        /// <summary>
        /// The module's own known-hosts file (not ~/.ssh/known_hosts, which it never touches):
        /// %APPDATA%\TursoBackup\known_hosts on Windows, $XDG_CONFIG_HOME/tursobackup/known_hosts or
        /// ~/.config/tursobackup/known_hosts elsewhere.
        /// </summary>
        public static string DefaultKnownHostsPath(Func<string, string> getEnvironment = null)
        {
            getEnvironment = getEnvironment ?? Environment.GetEnvironmentVariable;
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                string appData = getEnvironment("APPDATA");
                if (string.IsNullOrEmpty(appData)) appData = Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData);
                return Path.Combine(appData, "TursoBackup", "known_hosts");
            }
            string xdg = getEnvironment("XDG_CONFIG_HOME");
            if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)) return Path.Combine(xdg, "tursobackup", "known_hosts");
            return Path.Combine(Home(getEnvironment), ".config", "tursobackup", "known_hosts");
        }

        // ------------------------------------------------------------------ the store

        public void Probe(CancellationToken cancel)
        {
            cancel.ThrowIfCancellationRequested();
            Retrying(client =>
            {
                SftpFileAttributes attributes;
                try
                {
                    attributes = client.GetAttributes(root);
                }
                catch (SftpPathNotFoundException ex)
                {
                    throw new TursoBackupException(FailureKind.NotFound,
                        $"The folder '{root}' does not exist on the SFTP server of '{DisplayName}'. Create it (ssh {user}@{host} mkdir -p '{root}') or check the path.", DisplayName, ex) { ErrorId = "VaultNotFound" };
                }
                if (!attributes.IsDirectory)
                {
                    throw new TursoBackupException(FailureKind.NotFound,
                        $"'{root}' on the SFTP server of '{DisplayName}' is not a folder. Give the path of a folder.", DisplayName) { ErrorId = "VaultNotFound" };
                }
                return true;
            }, null);
        }

        public IEnumerable<StoredObject> List(string prefix, CancellationToken cancel)
        {
            prefix = prefix ?? "";
            // Start at the deepest folder the prefix names, so listing one backup does not walk the whole vault.
            int slash = prefix.LastIndexOf('/');
            string start = slash < 0 ? "" : prefix.Substring(0, slash);
            if (start.Length > 0) CheckKey(start);
            var pending = new Stack<string>();
            pending.Push(start);
            while (pending.Count > 0)
            {
                cancel.ThrowIfCancellationRequested();
                string relative = pending.Pop();
                foreach (var entry in ListFolder(relative))
                {
                    string name = entry.Name;
                    if (name.StartsWith(".", StringComparison.Ordinal)) continue;
                    string key = relative.Length == 0 ? name : relative + "/" + name;
                    if (entry.IsDirectory)
                    {
                        // Only folders that can hold keys with the prefix.
                        if (key.StartsWith(prefix, StringComparison.Ordinal) || prefix.StartsWith(key + "/", StringComparison.Ordinal)) pending.Push(key);
                        continue;
                    }
                    if (!entry.IsRegularFile || !key.StartsWith(prefix, StringComparison.Ordinal)) continue;
                    yield return new StoredObject(key, entry.Length, null, new DateTimeOffset(entry.LastWriteTimeUtc, TimeSpan.Zero));
                }
            }
        }

        public StoredObject Stat(string key, CancellationToken cancel)
        {
            string path = PathOf(key);
            cancel.ThrowIfCancellationRequested();
            return Retrying(client =>
            {
                try
                {
                    var a = client.GetAttributes(path);
                    return a.IsRegularFile ? new StoredObject(key, a.Size, null, new DateTimeOffset(a.LastWriteTimeUtc, TimeSpan.Zero)) : null;
                }
                catch (SftpPathNotFoundException)
                {
                    return null;
                }
            }, key);
        }

        public StoredObject Put(string key, Stream content, long length, string sha256, Action<long> progress, CancellationToken cancel)
        {
            if (content == null) throw new ArgumentNullException(nameof(content));
            string final = PathOf(key);
            int cut = final.LastIndexOf('/');
            string folder = final.Substring(0, cut);
            string name = final.Substring(cut + 1);
            string partial = folder + "/." + name + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".partial";
            cancel.ThrowIfCancellationRequested();
            var client = Connected();
            bool created = false, uploading = false, renamed = false;
            var source = new CountingStream(content, length, progress, cancel, key, DisplayName);
            try
            {
                try
                {
                    CreatePartial(client, folder, partial);
                    created = true;
                }
                catch (SftpPathNotFoundException)
                {
                    // A folder this store created was removed meanwhile (a Delete elsewhere): create it again.
                    lock (gate) knownFolders.Clear();
                    CreatePartial(client, folder, partial);
                    created = true;
                }

                uploading = true;
                client.UploadFile(source, partial, true, null);
                uploading = false;
                if (source.BytesRead != length)
                {
                    throw StoreSource.CutShort(key, DisplayName, source.BytesRead, length);
                }

                var clock = System.Diagnostics.Stopwatch.StartNew();
                string arrived = ArrivedSha256(client, partial, length, cancel);
                options.Log?.Invoke($"'{key}' ({length} bytes) arrived in '{DisplayName}' whole: SHA-256 by {LastVerification} in {clock.ElapsedMilliseconds} ms.");
                if (sha256 != null && !string.Equals(arrived, sha256, StringComparison.OrdinalIgnoreCase))
                {
                    throw new TursoBackupException(FailureKind.InvalidData,
                        $"'{key}' arrived in '{DisplayName}' with SHA-256 {arrived}, not {sha256} ({LastVerification}): the copy was damaged on the way (or the server's disk is failing). Nothing was stored; run the copy again and check the server.", key) { ErrorId = "ChecksumMismatch" };
                }
                cancel.ThrowIfCancellationRequested();
                Rename(client, partial, final);
                renamed = true;
                return new StoredObject(key, length, arrived, DateTimeOffset.UtcNow);
            }
            catch (Exception ex) when (!(ex is TursoBackupException) && !(ex is OperationCanceledException))
            {
                if (source.SourceFailure != null) throw source.SourceFailure;
                throw Failure(ex, "store '" + key + "' in", key, folder, length);
            }
            finally
            {
                if (created && !renamed)
                {
                    if (uploading)
                    {
                        // SSH.NET's UploadFile leaves the server's file handle open when it stops part-way, and an open
                        // file's space is not freed by deleting it: a new session (the old one's handles close with it)
                        // deletes the temporary file.
                        lock (gate) if (ReferenceEquals(sftp, client)) DisposeClient(ref sftp);
                        try { client = Connected(); } catch (TursoBackupException) { client = null; }
                    }
                    if (client != null) TryDelete(client, partial);
                }
            }
        }

        public Stream OpenRead(string key, CancellationToken cancel)
        {
            string path = PathOf(key);
            cancel.ThrowIfCancellationRequested();
            return Retrying<Stream>(client =>
            {
                try
                {
                    var a = client.GetAttributes(path);
                    if (!a.IsRegularFile) throw new SftpPathNotFoundException("not a file");
                    return new TranslatingStream(client.OpenRead(path), this, key);
                }
                catch (SftpPathNotFoundException ex)
                {
                    throw new TursoBackupException(FailureKind.NotFound, $"'{key}' is not in the vault '{DisplayName}'.", key, ex);
                }
            }, key);
        }

        public void Delete(string key, CancellationToken cancel)
        {
            string path = PathOf(key);
            cancel.ThrowIfCancellationRequested();
            Retrying(client =>
            {
                try
                {
                    client.DeleteFile(path);
                }
                catch (SftpPathNotFoundException)
                {
                    return false;
                }
                // Remove folders left empty, up to the root (a removed backup leaves no empty folder behind). rmdir
                // refuses a folder that holds anything (an upload in flight there included): the first refusal ends it.
                for (string dir = path.Substring(0, path.LastIndexOf('/')); dir.Length > root.Length && dir.StartsWith(root + "/", StringComparison.Ordinal); dir = dir.Substring(0, dir.LastIndexOf('/')))
                {
                    try
                    {
                        client.DeleteDirectory(dir);
                    }
                    catch (SshException)
                    {
                        break;
                    }
                    lock (gate) knownFolders.Remove(dir);
                }
                return true;
            }, key);
        }

        public void Dispose()
        {
            lock (gate)
            {
                if (disposed) return;
                disposed = true;
                DisposeClient(ref sftp);
                DisposeClient(ref ssh);
                if (connectionInfo != null)
                {
                    foreach (var m in connectionInfo.AuthenticationMethods.OfType<IDisposable>()) m.Dispose();
                    connectionInfo = null;
                }
            }
        }

        // ------------------------------------------------------------------ keys and paths

        private string PathOf(string key)
        {
            CheckKey(key);
            return (root == "/" ? "" : root) + "/" + key;
        }

        private static void CheckKey(string key) => DirectoryStore.CheckKey(key);

        private List<ISftpFile> ListFolder(string relative)
        {
            string path = relative.Length == 0 ? root : PathOf(relative);
            return Retrying(client =>
            {
                try
                {
                    return client.ListDirectory(path).ToList();
                }
                catch (SftpPathNotFoundException)
                {
                    return new List<ISftpFile>();
                }
            }, relative);
        }

        // ------------------------------------------------------------------ upload steps

        private void CreatePartial(SftpClient client, string folder, string partial)
        {
            CreateFolders(client, folder);
            // Created empty and made owner-only before any byte goes in (backups hold whole databases).
            using (client.Open(partial, FileMode.CreateNew, FileAccess.Write))
            {
            }
            TryOwnerOnly(client, partial, 600);
        }

        private void CreateFolders(SftpClient client, string folder)
        {
            lock (gate) if (knownFolders.Contains(folder)) return;
            var missing = new Stack<string>();
            for (string d = folder; d.Length > 0; d = d.Substring(0, d.LastIndexOf('/')))
            {
                lock (gate) if (knownFolders.Contains(d)) break;
                SftpFileAttributes a = null;
                try { a = client.GetAttributes(d); } catch (SftpPathNotFoundException) { }
                if (a != null)
                {
                    if (!a.IsDirectory) throw new TursoBackupException(FailureKind.WriteFailed, $"'{d}' on the SFTP server of '{DisplayName}' is a file where the vault needs a folder. Move it away.", DisplayName);
                    break;
                }
                missing.Push(d);
            }
            while (missing.Count > 0)
            {
                string d = missing.Pop();
                try
                {
                    client.CreateDirectory(d);
                    TryOwnerOnly(client, d, 700);
                }
                catch (SshException) when (Exists(client, d))
                {
                    // Another writer created it meanwhile.
                }
            }
            lock (gate) knownFolders.Add(folder);
        }

        private static bool Exists(SftpClient client, string path)
        {
            try { return client.GetAttributes(path).IsDirectory; } catch (SshException) { return false; }
        }

        private void TryOwnerOnly(SftpClient client, string path, short mode)
        {
            try
            {
                client.ChangePermissions(path, mode);
            }
            catch (SftpPermissionDeniedException)
            {
                // Some servers do not let a user chmod; the server's own default applies then.
            }
            catch (SftpException ex) when (ex.StatusCode == StatusCode.OperationUnsupported)
            {
            }
        }

        private void Rename(SftpClient client, string partial, string final)
        {
            try
            {
                client.RenameFile(partial, final, true);
            }
            catch (NotSupportedException)
            {
                // No posix-rename@openssh.com (not an OpenSSH server): SFTP v3's rename refuses an existing target,
                // so the old object steps aside under a hidden name first (it is never half-written, only absent
                // for the moment between the two renames).
                options.Log?.Invoke($"The SFTP server of '{DisplayName}' has no posix-rename extension: replacing '{final}' in two renames.");
                string aside = null;
                if (IsFile(client, final))
                {
                    int cut = final.LastIndexOf('/');
                    aside = final.Substring(0, cut) + "/." + final.Substring(cut + 1) + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".old";
                    client.RenameFile(final, aside);
                }
                try
                {
                    client.RenameFile(partial, final);
                }
                catch
                {
                    if (aside != null) try { client.RenameFile(aside, final); } catch (SshException) { }
                    throw;
                }
                if (aside != null) TryDelete(client, aside);
            }
        }

        private static bool IsFile(SftpClient client, string path)
        {
            try { return client.GetAttributes(path).IsRegularFile; } catch (SshException) { return false; }
        }

        private static void TryDelete(SftpClient client, string path)
        {
            try
            {
                if (client.IsConnected) client.DeleteFile(path);
            }
            catch (Exception ex) when (ex is SshException || ex is ObjectDisposedException || ex is InvalidOperationException || ex is SocketException || ex is IOException)
            {
                // Best effort: a hidden name is never listed, and the next Put uses a new one.
            }
        }

        /// <summary>
        /// The SHA-256 of what arrived at <paramref name="path"/>: computed on the server by sha256sum when an exec
        /// channel is allowed (nothing crosses the network again), else read back over SFTP and hashed here.
        /// </summary>
        private string ArrivedSha256(SftpClient client, string path, long length, CancellationToken cancel)
        {
            // An exec channel costs a round trip and a process on the server (~0.1 s here); reading back a small object
            // costs less than that on any network, so only larger objects are hashed by the server.
            if (!execUnavailable && length >= RemoteHashThreshold)
            {
                string remote = RemoteSha256(path, length);
                if (remote != null)
                {
                    LastVerification = "sha256sum";
                    return remote;
                }
            }
            LastVerification = "read-back";
            using (var sha = SHA256.Create())
            using (var s = client.OpenRead(path))
            {
                var buffer = new byte[BufferSize];
                int n;
                while ((n = s.Read(buffer, 0, buffer.Length)) > 0)
                {
                    cancel.ThrowIfCancellationRequested();
                    sha.TransformBlock(buffer, 0, n, null, 0);
                }
                sha.TransformFinalBlock(buffer, 0, 0);
                return DirectoryStore.Hex(sha.Hash);
            }
        }

        /// <summary>sha256sum over an exec channel; null (and no exec is tried again) when the server refuses or lacks it.</summary>
        private string RemoteSha256(string path, long length)
        {
            try
            {
                SshClient exec;
                lock (gate)
                {
                    if (ssh == null || !ssh.IsConnected)
                    {
                        DisposeClient(ref ssh);
                        var c = new SshClient(Info());
                        c.HostKeyReceived += OnHostKey;
                        Connect(c);
                        ssh = c;
                    }
                    exec = ssh;
                }
                using (var cmd = exec.CreateCommand("sha256sum -b -- " + ShellQuote(path)))
                {
                    // Generous: hashing runs at disk speed on the server (100 MB/s and more); a hung command falls back.
                    cmd.CommandTimeout = TimeSpan.FromSeconds(Math.Max(5, options.TimeoutSeconds) + length / (20L * 1024 * 1024));
                    cmd.Execute();
                    string output = cmd.Result ?? "";
                    if (cmd.ExitStatus == 0)
                    {
                        string first = output.TrimStart().Split(new[] { ' ', '\t', '\n' }, 2)[0].TrimStart('\\');
                        if (first.Length == 64 && first.All(ch => (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
                        {
                            return first.ToLowerInvariant();
                        }
                    }
                    options.Log?.Invoke($"sha256sum on the SFTP server of '{DisplayName}' is not available (exit {cmd.ExitStatus?.ToString() ?? "none"}): verifying uploads by reading them back.");
                }
            }
            catch (TursoBackupException ex) when (ex.Kind == FailureKind.SecurityError)
            {
                throw;
            }
            catch (Exception ex) when (ex is SshException || ex is SocketException || ex is InvalidOperationException || ex is TursoBackupException || ex is IOException)
            {
                options.Log?.Invoke($"The SFTP server of '{DisplayName}' allows no command channel ({ex.Message}): verifying uploads by reading them back.");
            }
            execUnavailable = true;
            lock (gate) DisposeClient(ref ssh);
            return null;
        }

        private static string ShellQuote(string s) => "'" + s.Replace("'", "'\\''") + "'";

        // ------------------------------------------------------------------ connection

        /// <summary>Runs <paramref name="operation"/> on the connection; one that dropped is reconnected and the operation run once more.</summary>
        private T Retrying<T>(Func<SftpClient, T> operation, string key)
        {
            for (int attempt = 0; ; attempt++)
            {
                var client = Connected();
                try
                {
                    return operation(client);
                }
                catch (Exception ex) when (attempt == 0 && !(ex is TursoBackupException) && IsConnectionLoss(ex, client))
                {
                    options.Log?.Invoke($"The connection to '{DisplayName}' was lost ({ex.Message}); reconnecting.");
                    lock (gate) if (ReferenceEquals(sftp, client)) DisposeClient(ref sftp);
                }
                catch (Exception ex) when (!(ex is TursoBackupException) && !(ex is OperationCanceledException))
                {
                    throw Failure(ex, key == null ? "reach" : "read '" + key + "' in", key, null, 0);
                }
            }
        }

        private static bool IsConnectionLoss(Exception ex, SftpClient client) =>
            (ex is SshConnectionException || ex is ObjectDisposedException || ex is SocketException) || !client.IsConnected;

        private SftpClient Connected()
        {
            lock (gate)
            {
                if (disposed) throw new ObjectDisposedException(nameof(SftpStore));
                if (sftp != null && sftp.IsConnected) return sftp;
                DisposeClient(ref sftp);
                var client = new SftpClient(Info());
                client.HostKeyReceived += OnHostKey;
                Connect(client);
                client.OperationTimeout = TimeSpan.FromSeconds(Math.Max(1, options.TimeoutSeconds));
                sftp = client;
                return client;
            }
        }

        private void Connect(BaseClient client)
        {
            try
            {
                hostKeyFailure = null;
                client.Connect();
            }
            catch (Exception ex) when (!(ex is OperationCanceledException))
            {
                client.Dispose();
                var hostKey = Interlocked.Exchange(ref hostKeyFailure, null);
                if (hostKey != null) throw hostKey;
                throw ConnectFailure(ex);
            }
            finally
            {
                // SSH.NET checks the host key on a thread of its own; the warning is given on the caller's (a cmdlet
                // can only write from its pipeline thread), whether the log-in then succeeded or not.
                string warning = Interlocked.Exchange(ref pendingWarning, null);
                if (warning != null) options.Warn?.Invoke(warning);
            }
        }

        private TursoBackupException ConnectFailure(Exception ex)
        {
            string where = $"{host}:{port}";
            switch (ex)
            {
                case TursoBackupException t:
                    return t;
                case SshAuthenticationException _:
                    return new TursoBackupException(FailureKind.AuthenticationFailed,
                        $"The SFTP server of '{DisplayName}' refused {user}@{host} ({credentialsTried}): {ex.Message} "
                        + (options.KeyFile == null && options.Password != null
                            ? $"Check the user name and password (-Credential), and that the server allows password log-in; or give -KeyFile."
                            : $"Check that the matching public key is in {user}'s authorized_keys on the server, or give another -KeyFile (or -Credential)."), DisplayName, ex) { ErrorId = "SftpAuthenticationFailed" };
                case SocketException s:
                    return new TursoBackupException(FailureKind.Unreachable,
                        $"Nothing answered at {where} for '{DisplayName}' ({s.SocketErrorCode}: {s.Message}). Check the host name and port, that the SSH server runs there and that no firewall blocks it.", DisplayName, ex) { ErrorId = "DestinationUnreachable" };
                case SshOperationTimeoutException _:
                case TimeoutException _:
                    return new TursoBackupException(FailureKind.Unreachable,
                        $"The SFTP server at {where} did not answer within {options.TimeoutSeconds} s for '{DisplayName}'. Check the host name and port, that the SSH server runs there and that no firewall drops the connection.", DisplayName, ex) { ErrorId = "DestinationUnreachable" };
                case SshConnectionException _:
                case ProxyException _:
                    return new TursoBackupException(FailureKind.Unreachable,
                        $"The SSH server at {where} closed the connection for '{DisplayName}': {ex.Message} Check that an SSH server (not another service) listens there and that it allows this client.", DisplayName, ex) { ErrorId = "DestinationUnreachable" };
                case SshException _:
                    return new TursoBackupException(FailureKind.Unreachable,
                        $"The SSH connection to {where} for '{DisplayName}' failed: {ex.Message} Check the server's SSH settings (key exchange, ciphers) and try again.", DisplayName, ex) { ErrorId = "DestinationUnreachable" };
                case ArgumentException _:
                    return new TursoBackupException(FailureKind.InvalidArgument, $"'{DisplayName}' cannot be used: {ex.Message}", DisplayName, ex);
                default:
                    return new TursoBackupException(FailureKind.Unreachable, $"The SSH connection to {where} for '{DisplayName}' failed: {ex.Message}", DisplayName, ex) { ErrorId = "DestinationUnreachable" };
            }
        }

        /// <summary>An SDK failure during an operation, for the admin.</summary>
        private TursoBackupException Failure(Exception ex, string what, string key, string folder, long length)
        {
            if (ex is TursoBackupException t) return t;
            string target = key ?? DisplayName;
            if (ex is SftpPermissionDeniedException)
            {
                return new TursoBackupException(FailureKind.PermissionDenied,
                    $"The SFTP server of '{DisplayName}' denied {user} permission to {what} the vault ({ex.Message}). Grant {user} write access to '{root}' on the server, or choose another folder.", target, ex);
            }
            if (ex is SftpPathNotFoundException)
            {
                return new TursoBackupException(FailureKind.NotFound, $"Could not {what} '{DisplayName}': a path is missing on the server ({ex.Message}).", target, ex);
            }
            if (ex is SftpException sftpError && IsFull(sftpError, folder, length))
            {
                return new TursoBackupException(FailureKind.QuotaExceeded,
                    $"The SFTP server of '{DisplayName}' is full or over {user}'s quota: could not {what} the vault ({ex.Message}). Free space there (or raise the quota) or choose another destination; nothing was stored.", target, ex) { ErrorId = "DestinationFull" };
            }
            if (ex is SshConnectionException || ex is SocketException || ex is SshOperationTimeoutException || ex is ObjectDisposedException)
            {
                lock (gate) DisposeClient(ref sftp);
                return new TursoBackupException(FailureKind.Unreachable,
                    $"The connection to '{DisplayName}' was lost or timed out while trying to {what} the vault ({ex.Message}). Nothing half-written is kept; run the copy again.", target, ex) { ErrorId = "DestinationUnreachable" };
            }
            if (ex is IOException || ex is SshException)
            {
                return new TursoBackupException(FailureKind.WriteFailed, $"Could not {what} '{DisplayName}': {ex.Message} Nothing was stored; run the copy again.", target, ex);
            }
            return new TursoBackupException(FailureKind.WriteFailed, $"Could not {what} '{DisplayName}': {ex.GetType().Name}: {ex.Message} Nothing was stored; run the copy again.", target, ex);
        }

        /// <summary>
        /// A failure status that means "no space": SSH_FX_QUOTA_EXCEEDED (SFTP v5+), a message that says so, or — since
        /// OpenSSH's sftp-server reports ENOSPC as a bare SSH_FX_FAILURE — a folder that statvfs@openssh.com shows full.
        /// </summary>
        private bool IsFull(SftpException ex, string folder, long length)
        {
            if ((int)ex.StatusCode == 15) return true;
            string m = ex.Message ?? "";
            if (m.IndexOf("No space", StringComparison.OrdinalIgnoreCase) >= 0 || m.IndexOf("quota", StringComparison.OrdinalIgnoreCase) >= 0 || m.IndexOf("disk full", StringComparison.OrdinalIgnoreCase) >= 0) return true;
            if (ex.StatusCode != StatusCode.Failure || folder == null) return false;
            try
            {
                var client = sftp;
                if (client == null || !client.IsConnected) return false;
                var fs = client.GetStatus(folder);
                ulong free = fs.AvailableBlocks * fs.FileSystemBlockSize;
                ulong nodes = fs.AvailableNodes;
                return free < (ulong)Math.Max(length, 1) + 64 * 1024 || (fs.TotalNodes > 0 && nodes == 0);
            }
            catch (Exception e) when (e is SshException || e is NotSupportedException || e is InvalidOperationException || e is ObjectDisposedException)
            {
                return false;
            }
        }

        private ConnectionInfo Info()
        {
            if (connectionInfo != null) return connectionInfo;
            var methods = new List<AuthenticationMethod>();
            var tried = new List<string>();
            if (!string.IsNullOrEmpty(options.KeyFile))
            {
                methods.Add(new PrivateKeyAuthenticationMethod(user, LoadKey(options.KeyFile, true)));
                tried.Add("private key " + options.KeyFile);
            }
            else if (options.Password != null)
            {
                string password = Plain(options.Password);
                methods.Add(new PasswordAuthenticationMethod(user, password));
                var interactive = new KeyboardInteractiveAuthenticationMethod(user);
                interactive.AuthenticationPrompt += (s, e) =>
                {
                    foreach (var prompt in e.Prompts) prompt.Response = password;
                };
                methods.Add(interactive);
                tried.Add("password");
            }
            else
            {
                var keys = new List<IPrivateKeySource>();
                string sshDir = Path.Combine(Home(options.GetEnvironment), ".ssh");
                foreach (var name in new[] { "id_ed25519", "id_ecdsa", "id_rsa" })
                {
                    string file = Path.Combine(sshDir, name);
                    if (!File.Exists(file)) continue;
                    var key = LoadKey(file, false);
                    if (key == null) continue;
                    keys.Add(key);
                    tried.Add("private key " + file);
                }
                if (keys.Count == 0)
                {
                    throw new TursoBackupException(FailureKind.AuthenticationFailed,
                        $"There is no credential to log in to '{DisplayName}' as {user}@{host}: no -KeyFile, no -Credential, and none of {sshDir}/id_ed25519, id_ecdsa, id_rsa. Give -KeyFile <private key> (its public key in the server's authorized_keys) or -Credential.", DisplayName) { ErrorId = "SftpAuthenticationFailed" };
                }
                methods.Add(new PrivateKeyAuthenticationMethod(user, keys.ToArray()));
            }
            credentialsTried = string.Join(", ", tried);
            var info = new ConnectionInfo(host, port, user, methods.ToArray())
            {
                Timeout = TimeSpan.FromSeconds(Math.Max(1, options.TimeoutSeconds)),
            };
            connectionInfo = info;
            return info;
        }

        private IPrivateKeySource LoadKey(string file, bool required)
        {
            string passphrase = options.KeyPassphrase != null ? Plain(options.KeyPassphrase) : null;
            try
            {
                return new PrivateKeyFile(file, passphrase);
            }
            catch (Exception ex) when (ex is SshException || ex is IOException || ex is UnauthorizedAccessException || ex is CryptographicException || ex is ArgumentException || ex is NotSupportedException || ex is InvalidOperationException || ex is FormatException)
            {
                string why = ex is SshPassPhraseNullOrEmptyException ? "it is encrypted and no passphrase was given for it"
                    : ex is FileNotFoundException || ex is DirectoryNotFoundException ? "it does not exist"
                    : passphrase != null && (ex is SshException || ex is CryptographicException) ? "it could not be decrypted: the passphrase is wrong (or the file is damaged)"
                    : ex.Message.TrimEnd('.');
                if (!required)
                {
                    options.Log?.Invoke($"The private key '{file}' is skipped: {why}.");
                    return null;
                }
                throw new TursoBackupException(FailureKind.AuthenticationFailed,
                    $"The private key file '{file}' for '{DisplayName}' cannot be used: {why}. Give an OpenSSH private key (and its passphrase, if it has one).", DisplayName, ex) { ErrorId = "SftpAuthenticationFailed" };
            }
        }

        private static string Plain(SecureString s) => new NetworkCredential(string.Empty, s).Password;

        private static string Home(Func<string, string> getEnvironment)
        {
            string home = (getEnvironment ?? Environment.GetEnvironmentVariable)(RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "USERPROFILE" : "HOME");
            return string.IsNullOrEmpty(home) ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) : home;
        }

        private static void DisposeClient<T>(ref T client) where T : BaseClient
        {
            var c = client;
            client = null;
            if (c == null) return;
            try
            {
                c.Dispose();
            }
            catch (Exception ex) when (ex is SshException || ex is SocketException || ex is ObjectDisposedException || ex is InvalidOperationException)
            {
            }
        }

        // ------------------------------------------------------------------ host key

        private string HostEntry => "[" + host.ToLowerInvariant() + "]:" + port;

        private void OnHostKey(object sender, HostKeyEventArgs e)
        {
            string presented = e.FingerPrintSHA256.TrimEnd('=');
            string type = e.HostKeyName;
            try
            {
                if (pinned != null)
                {
                    e.CanTrust = string.Equals(pinned, presented, StringComparison.Ordinal);
                    if (!e.CanTrust) hostKeyFailure = Changed(pinned, presented, type, "-HostKeyFingerprint");
                    return;
                }
                var known = KnownFingerprints();
                if (known.Count > 0)
                {
                    e.CanTrust = known.Contains(presented);
                    if (!e.CanTrust) hostKeyFailure = Changed(known[0], presented, type, knownHostsPath);
                    return;
                }
                Record(presented, type);
                e.CanTrust = true;
                pendingWarning = (
                    $"The SFTP server {host} port {port} was not known: its {type} host key SHA256:{presented} is now trusted and recorded in '{knownHostsPath}' (trust on first use). "
                    + $"Check with the server's admin that this is its key (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on the server); to pin it, pass -HostKeyFingerprint 'SHA256:{presented}'.");
            }
            catch (Exception ex)
            {
                e.CanTrust = false;
                hostKeyFailure = ex as TursoBackupException ?? new TursoBackupException(FailureKind.SecurityError,
                    $"The host key of {host}:{port} (SHA256:{presented}) could not be checked against '{knownHostsPath}': {ex.Message} Pass -HostKeyFingerprint 'SHA256:…' as the server's admin gives it, or fix the file.", DisplayName, ex) { ErrorId = "HostKeyUnchecked" };
            }
        }

        private TursoBackupException Changed(string expected, string presented, string type, string source)
        {
            string fix = pinned != null
                ? "Verify the key with the server's admin; if it really changed, pass the new -HostKeyFingerprint."
                : $"Verify the key with the server's admin; if it really changed, remove the line '{HostEntry} …' from '{knownHostsPath}' (the new key is then recorded) or pass -HostKeyFingerprint 'SHA256:…'.";
            return new TursoBackupException(FailureKind.SecurityError,
                $"The SFTP server {host}:{port} presented the {type} host key SHA256:{presented}, not SHA256:{expected} ({(pinned != null ? "pinned with -HostKeyFingerprint" : "recorded in " + source)}). "
                + $"Someone may be intercepting the connection (or the server was reinstalled): nothing was sent. {fix}", DisplayName) { ErrorId = "HostKeyChanged" };
        }

        /// <summary>The fingerprints recorded for this host and port (several lines may name it), without "SHA256:".</summary>
        private List<string> KnownFingerprints()
        {
            var result = new List<string>();
            if (!File.Exists(knownHostsPath)) return result;
            foreach (var raw in File.ReadAllLines(knownHostsPath))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line[0] == '#') continue;
                var parts = line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 2) continue;
                bool forUs = parts[0].Split(',').Any(h => string.Equals(h, HostEntry, StringComparison.OrdinalIgnoreCase)
                    || (port == 22 && string.Equals(h, host, StringComparison.OrdinalIgnoreCase)));
                if (!forUs) continue;
                string fp = NormalizeFingerprint(parts[1]);
                if (fp != null) result.Add(fp);
            }
            return result;
        }

        /// <summary>Adds "[host]:port SHA256:… type" to the known-hosts file (atomically: a new file renamed over the old; owner-only).</summary>
        private void Record(string fingerprint, string type)
        {
            string dir = Path.GetDirectoryName(Path.GetFullPath(knownHostsPath));
            try
            {
                OwnerOnly.CreateDirectory(dir);
                string existing = File.Exists(knownHostsPath) ? File.ReadAllText(knownHostsPath) : "# TursoBackup's SFTP host keys: [host]:port SHA256:<fingerprint> <key type>\n";
                if (existing.Length > 0 && !existing.EndsWith("\n", StringComparison.Ordinal)) existing += "\n";
                DurableFile.WriteAllText(knownHostsPath, existing + HostEntry + " SHA256:" + fingerprint + " " + type + "\n");
                OwnerOnly.File(knownHostsPath);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
            {
                throw new TursoBackupException(FailureKind.SecurityError,
                    $"The host key of {host}:{port} (SHA256:{fingerprint}) seen for the first time could not be recorded in '{knownHostsPath}': {ex.Message} Without a record it cannot be checked next time, so it was not trusted. Pass -HostKeyFingerprint 'SHA256:{fingerprint}' after checking it with the server's admin, or make the file writable.", DisplayName, ex) { ErrorId = "HostKeyUnrecorded" };
            }
        }

        /// <summary>"SHA256:abc…" or "abc…" (padded or not) as the bare unpadded base64; null when it is not a SHA-256 fingerprint.</summary>
        internal static string NormalizeFingerprint(string text)
        {
            if (text == null) return null;
            string s = text.Trim();
            if (s.StartsWith("SHA256:", StringComparison.OrdinalIgnoreCase)) s = s.Substring(7);
            s = s.TrimEnd('=');
            if (s.Length != 43) return null;
            try
            {
                return Convert.FromBase64String(s + "=").Length == 32 ? s : null;
            }
            catch (FormatException)
            {
                return null;
            }
        }

        // ------------------------------------------------------------------ streams

        /// <summary>The caller's content, at most <c>length</c> bytes, counted, with progress and cancellation; a failure of the source is kept.</summary>
        private sealed class CountingStream : ForwardOnlyStream
        {
            private readonly Stream inner;
            private readonly long length;
            private readonly Action<long> progress;
            private readonly CancellationToken cancel;
            private readonly string key;
            private readonly string destination;

            public CountingStream(Stream inner, long length, Action<long> progress, CancellationToken cancel, string key, string destination)
            {
                this.key = key;
                this.destination = destination;
                this.inner = inner;
                this.length = length;
                this.progress = progress;
                this.cancel = cancel;
            }

            /// <summary>Bytes read so far.</summary>
            public long BytesRead => Count;

            /// <summary>The source's own failure (rethrown after the upload stops, not mistaken for the server's).</summary>
            public Exception SourceFailure { get; private set; }

            public override int Read(byte[] buffer, int offset, int count)
            {
                cancel.ThrowIfCancellationRequested();
                if (Count >= length) return 0;
                int n;
                try
                {
                    n = inner.Read(buffer, offset, (int)Math.Min(count, length - Count));
                }
                catch (Exception ex) when (!(ex is OperationCanceledException))
                {
                    SourceFailure = new TursoBackupException(FailureKind.WriteFailed, $"Reading the content of '{key}' to upload to '{destination}' failed: {ex.Message} Nothing was stored; run the copy again.", key, ex);
                    throw;
                }
                Count += n;
                if (n > 0) progress?.Invoke(Count);
                return n;
            }

            public override bool CanRead => true;
            public override long Length => length;
        }

        /// <summary>An SFTP file being read, whose SDK failures become the store's.</summary>
        private sealed class TranslatingStream : ForwardOnlyStream
        {
            private readonly Stream inner;
            private readonly SftpStore store;
            private readonly string key;

            public TranslatingStream(Stream inner, SftpStore store, string key)
            {
                this.inner = inner;
                this.store = store;
                this.key = key;
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                try
                {
                    return inner.Read(buffer, offset, count);
                }
                catch (Exception ex) when (!(ex is TursoBackupException) && !(ex is OperationCanceledException) && !(ex is ArgumentException))
                {
                    throw store.Failure(ex, "read '" + key + "' from", key, null, 0);
                }
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    try { inner.Dispose(); } catch (Exception ex) when (ex is SshException || ex is ObjectDisposedException || ex is SocketException) { }
                }
                base.Dispose(disposing);
            }

            public override bool CanRead => true;
            public override long Length => inner.Length;
            public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        }
    }
}
