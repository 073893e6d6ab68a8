using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace TursoBackup.TestSupport;

/// <summary>
/// A real OpenSSH server (Debian's /usr/sbin/sshd with its sftp-server) on 127.0.0.1 and a free port, configured in a
/// temp folder only: its own host key, an authorized_keys file with a client key made for it, no password log-in, no
/// PAM. It never reads /etc/ssh or listens on port 22. The user is the current user. Run as root, sshd needs its
/// privilege-separation folder /run/sshd: then it runs in a mount namespace of its own (unshare -m) with a private
/// tmpfs on /run (nothing of the host changes) and, inside it, a 1 MiB tmpfs on <see cref="FullFolder"/> for the
/// disk-full tests.
/// </summary>
public sealed class Sshd : IDisposable
{
    private readonly Process process;
    private readonly StringBuilder log;
    private bool stopped;

    private Sshd(string folder, int port, Process process, StringBuilder log, string hostKeyFingerprint, string fullFolder)
    {
        Folder = folder;
        Port = port;
        this.process = process;
        this.log = log;
        HostKeyFingerprint = hostKeyFingerprint;
        FullFolder = fullFolder;
    }

    /// <summary>The server's temp folder (config, keys, pid file; and the remote folders the tests use, under remote/).</summary>
    public string Folder { get; }

    public int Port { get; }

    /// <summary>The user the tests log in as (the current user).</summary>
    public string User => Environment.UserName;

    /// <summary>The private key (OpenSSH format, no passphrase) whose public key is in the server's authorized_keys.</summary>
    public string ClientKey => Path.Combine(Folder, "client_ed25519");

    /// <summary>A private key the server does not accept.</summary>
    public string WrongClientKey => Path.Combine(Folder, "wrong_ed25519");

    /// <summary>The host key's fingerprint as `ssh-keygen -lf` prints it ("SHA256:…").</summary>
    public string HostKeyFingerprint { get; }

    /// <summary>A folder on a 1 MiB file system only the server sees (null when sshd does not run in a namespace of its own).</summary>
    public string FullFolder { get; }

    /// <summary>What sshd wrote (-e: its log on stderr), for failure messages.</summary>
    public string Log
    {
        get { lock (log) return log.ToString(); }
    }

    /// <summary>A new, existing, empty folder on the server for one test (absolute path).</summary>
    public string NewRemoteFolder()
    {
        string path = Path.Combine(Folder, "remote", Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>sftp://user@127.0.0.1:port/path</summary>
    public string Uri(string remotePath) => $"sftp://{User}@127.0.0.1:{Port}{remotePath}";

    /// <summary>
    /// Starts a server. <paramref name="folder"/>: a folder to reuse (its host key is kept; a new one is made when missing);
    /// <paramref name="port"/>: a port to listen on (else a free one); <paramref name="extraConfig"/>: more sshd_config lines.
    /// </summary>
    public static Sshd Start(string folder = null, int? port = null, string extraConfig = null, bool newHostKey = false)
    {
        string sshd = "/usr/sbin/sshd";
        if (!File.Exists(sshd)) sshd = Peers.Require("sshd");
        string keygen = Peers.Require("ssh-keygen");
        string sftpServer = File.Exists("/usr/lib/openssh/sftp-server") ? "/usr/lib/openssh/sftp-server" : "internal-sftp";

        folder ??= Path.Combine(Path.GetTempPath(), "tb-sshd-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(folder);
        Directory.CreateDirectory(Path.Combine(folder, "remote"));
        string hostKey = Path.Combine(folder, "host_ed25519");
        if (newHostKey)
        {
            File.Delete(hostKey);
            File.Delete(hostKey + ".pub");
        }
        if (!File.Exists(hostKey)) KeyGen(keygen, hostKey);
        string client = Path.Combine(folder, "client_ed25519");
        if (!File.Exists(client))
        {
            KeyGen(keygen, client);
            KeyGen(keygen, Path.Combine(folder, "wrong_ed25519"));
            File.Copy(client + ".pub", Path.Combine(folder, "authorized_keys"), true);
        }
        var (code, fpOut, fpErr) = Peers.Run(keygen, new[] { "-lf", hostKey + ".pub" });
        if (code != 0) throw new InvalidOperationException("ssh-keygen -lf failed: " + fpErr);
        string fingerprint = fpOut.Split(' ')[1];

        bool privileged = Environment.IsPrivilegedProcess;
        string unshare = privileged ? Peers.Find("unshare") : null;
        string full = unshare != null ? Path.Combine(folder, "full") : null;
        if (full != null) Directory.CreateDirectory(full);

        for (int attempt = 0; ; attempt++)
        {
            int p = port ?? Ports.Free();
            string config = Path.Combine(folder, "sshd_config");
            File.WriteAllText(config, string.Join("\n", new[]
            {
                $"Port {p}",
                "ListenAddress 127.0.0.1",
                $"HostKey {hostKey}",
                $"AuthorizedKeysFile {Path.Combine(folder, "authorized_keys")}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                $"PidFile {Path.Combine(folder, "sshd.pid")}",
                "StrictModes no",
                "UsePAM no",
                "LogLevel VERBOSE",
                $"Subsystem sftp {sftpServer}",
                extraConfig ?? "",
                "",
            }));
            Process proc;
            if (unshare != null)
            {
                // A private /run (for /run/sshd) and a 1 MiB file system, both seen by this sshd and its sessions only.
                string script = "mount -t tmpfs -o size=1m,mode=755 tmpfs /run && mkdir -m 755 /run/sshd"
                    + $" && mount -t tmpfs -o size=1m,mode=700 tmpfs '{full}'"
                    + $" && exec {sshd} -D -e -f '{config}'";
                proc = Peers.Start(unshare, "-m", "--propagation", "private", "sh", "-c", script);
            }
            else
            {
                proc = Peers.Start(sshd, "-D", "-e", "-f", config);
            }
            var log = new StringBuilder();
            proc.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (log) log.AppendLine(e.Data); };
            proc.OutputDataReceived += (_, e) => { if (e.Data != null) lock (log) log.AppendLine(e.Data); };
            proc.BeginErrorReadLine();
            proc.BeginOutputReadLine();
            proc.StandardInput.Close();

            var until = DateTime.UtcNow.AddSeconds(15);
            while (DateTime.UtcNow < until && !proc.HasExited)
            {
                if (Ports.Accepts(p)) return new Sshd(folder, p, proc, log, fingerprint, full);
                Thread.Sleep(50);
            }
            Peers.Kill(proc);
            string output;
            lock (log) output = log.ToString();
            if (port == null && attempt < 5 && output.Contains("Address already in use")) continue;
            throw new InvalidOperationException($"sshd did not start on 127.0.0.1:{p}: {output}");
        }
    }

    private static void KeyGen(string keygen, string file)
    {
        var (code, _, err) = Peers.Run(keygen, new[] { "-q", "-t", "ed25519", "-N", "", "-C", "tursobackup-test", "-f", file });
        if (code != 0) throw new InvalidOperationException("ssh-keygen failed: " + err);
    }

    /// <summary>Stops the server (its sessions too); the folder stays (for a restart on the same port).</summary>
    public void Stop()
    {
        if (stopped) return;
        stopped = true;
        Peers.Kill(process);
        process.Dispose();
    }

    /// <summary>Stops the server and removes its folder.</summary>
    public void Dispose()
    {
        Stop();
        try { Directory.Delete(Folder, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// One OpenSSH server for a test class, and a second one on which every session is forced to internal-sftp (no shell
/// commands: the SFTP store then verifies uploads by reading them back).
/// </summary>
public sealed class SshdFixture : IDisposable
{
    private Sshd sftpOnly;

    public SshdFixture()
    {
        Server = Sshd.Start();
    }

    public Sshd Server { get; }

    /// <summary>A server whose sessions are all "ForceCommand internal-sftp" (started on first use).</summary>
    public Sshd SftpOnly
    {
        get
        {
            lock (this) return sftpOnly ??= Sshd.Start(extraConfig: "ForceCommand internal-sftp");
        }
    }

    public void Dispose()
    {
        Server.Dispose();
        sftpOnly?.Dispose();
    }
}
