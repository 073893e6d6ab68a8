using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using TursoBackup.Engine.IO;
using Xunit;

namespace TursoBackup.TestSupport;

/// <summary>
/// Real peer programs the tests use (sqlite3, flock, unshare …) and the one way both test projects run a process.
/// Locally a missing peer skips the test with a reason; under CI (CI=true) it fails, never skips silently.
/// </summary>
public static partial class Peers
{
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The full path of <paramref name="program"/>; missing, it skips the test (fails it under CI).</summary>
    public static string Require(string program)
    {
        string found = Find(program);
        if (found != null) return found;
        Unavailable(NpmPeers.ContainsKey(program)
            ? $"The peer program '{program}' is not installed. .ci/run installs it (npm ci --prefix tools/peers)."
            : $"The peer program '{program}' is not installed. .ci/run installs it (apt-get install {program}).");
        return null;
    }

    /// <summary>A peer the test needs is missing: the test is skipped with <paramref name="message"/>, or fails under CI=true.</summary>
    public static void Unavailable(string message)
    {
        if (InCi) throw new InvalidOperationException(message);
        Skip.If(true, message);
    }

    /// <summary>Peers installed from npm by the project's own tools/peers/package.json (pinned versions).</summary>
    private static readonly Dictionary<string, string> NpmPeers = new Dictionary<string, string>
    {
        ["litestream"] = "@flydotio/litestream-linux-x64/litestream",
        ["tursodb"] = "@tursodatabase/cli-linux-x64-gnu/tursodb",
    };

    /// <summary>The full path of <paramref name="program"/> (tools/peers for the npm peers, else PATH), or null.</summary>
    public static string Find(string program)
    {
        if (NpmPeers.TryGetValue(program, out var npmPath))
        {
            string installed = Path.Combine(Repo.Root, "tools", "peers", "node_modules", npmPath);
            if (File.Exists(installed)) return installed;
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length == 0) continue;
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    // ------------------------------------------------------------------ processes

    /// <summary>
    /// Runs <paramref name="program"/> to its end and returns its exit code, stdout and stderr. Stdin is
    /// <paramref name="stdin"/> (text) or the file <paramref name="stdinFile"/>, then closed; with
    /// <paramref name="stdoutFile"/> stdout goes to that file (streamed: a dump may be large) and Stdout is "".
    /// </summary>
    public static (int Code, string Stdout, string Stderr) Run(string program, IEnumerable<string> args, string stdin = null,
        IDictionary<string, string> env = null, int timeoutMs = 600_000, string workingDirectory = null,
        string stdinFile = null, string stdoutFile = null)
    {
        using var p = Start(program, args, env, workingDirectory);
        var stderr = p.StandardError.ReadToEndAsync();
        Task<string> stdout;
        FileStream outFile = null;
        if (stdoutFile != null)
        {
            outFile = new FileStream(stdoutFile, FileMode.Create, FileAccess.Write);
            stdout = p.StandardOutput.BaseStream.CopyToAsync(outFile).ContinueWith(t => { t.GetAwaiter().GetResult(); return ""; });
        }
        else
        {
            stdout = p.StandardOutput.ReadToEndAsync();
        }
        try
        {
            if (stdinFile != null)
            {
                using var fs = File.OpenRead(stdinFile);
                fs.CopyTo(p.StandardInput.BaseStream);
            }
            else if (stdin != null)
            {
                p.StandardInput.Write(stdin);
            }
            p.StandardInput.Close();
            if (!p.WaitForExit(timeoutMs))
            {
                p.Kill(true);
                throw new TimeoutException($"{program} did not finish in {timeoutMs} ms");
            }
            p.WaitForExit();
            return (p.ExitCode, stdout.Result, stderr.Result);
        }
        finally
        {
            outFile?.Dispose();
        }
    }

    /// <summary>Starts <paramref name="program"/> with stdin, stdout and stderr redirected (stdout and stderr as UTF-8).</summary>
    public static Process Start(string program, IEnumerable<string> args, IDictionary<string, string> env = null, string workingDirectory = null)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (workingDirectory != null) psi.WorkingDirectory = workingDirectory;
        if (env != null) foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
        return Process.Start(psi)!;
    }

    /// <inheritdoc cref="Start(string, IEnumerable{string}, IDictionary{string, string}, string)"/>
    public static Process Start(string program, params string[] args) => Start(program, (IEnumerable<string>)args);

    /// <summary>SIGKILL to <paramref name="p"/> and its children (no cleanup of theirs runs), then waits for the end.</summary>
    public static void Kill(Process p)
    {
        try
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    /// <summary>
    /// Another process holding <paramref name="lockPath"/> exactly as the engine's OwnerLock does: util-linux flock(1)
    /// (flock LOCK_EX, what .NET takes for FileShare.None) until it is killed; with <paramref name="inAnotherPidNamespace"/>
    /// from a PID namespace of its own (unshare -rpf --mount-proc), as a backup in a container or on another host would be.
    /// Returns once the lock is held. Where unprivileged PID namespaces are not allowed the test is skipped (fails under CI).
    /// </summary>
    public static Process HoldLock(string lockPath, bool inAnotherPidNamespace = false)
    {
        Skip.If(OperatingSystem.IsWindows(), "flock(1) and PID namespaces are Linux");
        string flock = Require("flock");
        var holder = inAnotherPidNamespace
            ? Start(Require("unshare"), "-rpf", "--mount-proc", flock, "-x", lockPath, "sleep", "120")
            : Start(flock, "-x", lockPath, "sleep", "120");
        var until = DateTime.UtcNow.AddSeconds(10);
        while (!OwnerLock.IsHeld(lockPath) && DateTime.UtcNow < until && !holder.HasExited) Thread.Sleep(20);
        if (holder.HasExited && inAnotherPidNamespace && !InCi)
            Skip.If(true, "this machine does not allow unprivileged PID namespaces: " + holder.StandardError.ReadToEnd());
        Assert.True(OwnerLock.IsHeld(lockPath), "the other process must hold the lock" + (holder.HasExited ? ": " + holder.StandardError.ReadToEnd() : ""));
        return holder;
    }

    // ------------------------------------------------------------------ sqlite3

    /// <summary>Runs sqlite3 on a database with SQL on stdin; returns stdout, fails the test on a non-zero exit.</summary>
    public static string Sqlite3(string database, string sql, params string[] options)
    {
        var (code, stdout, stderr) = Run(Require("sqlite3"), options.Append(database), sql);
        Assert.True(code == 0, $"sqlite3 failed ({code}): {stderr}");
        return stdout;
    }

    /// <summary>
    /// Runs sqlite3 with <paramref name="args"/>, stdin from a file, stdout to a file (the dump interop tests: files may be
    /// large); fails the test on a non-zero exit or any error output.
    /// </summary>
    public static void Sqlite3Files(string[] args, string stdinFile = null, string stdoutFile = null)
    {
        var (code, _, stderr) = Run(Require("sqlite3"), args, stdinFile: stdinFile, stdoutFile: stdoutFile);
        Assert.True(code == 0 && stderr.Length == 0, $"sqlite3 {string.Join(" ", args)} failed (exit {code}): {stderr}");
    }

    /// <summary>A sqlite3 session on <paramref name="database"/> that stays open (an application, a writer, a lock holder): write SQL to its stdin.</summary>
    public static Process Sqlite3Session(string database) => Start(Require("sqlite3"), database);

    /// <summary>Every table's rows, in storage order (rowid or primary key), as text: two databases are equal table by table when these match.</summary>
    public static Dictionary<string, string> TableContents(string database)
    {
        var tables = Sqlite3(database, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name;")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var result = new Dictionary<string, string>();
        foreach (var t in tables)
        {
            string q = "\"" + t.Replace("\"", "\"\"") + "\"";
            result[t] = Sqlite3(database, $"SELECT * FROM {q};", "-line");
        }
        result["(schema)"] = Sqlite3(database, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name;", "-line");
        return result;
    }
}
