using System.Diagnostics;
using System.Text;

namespace TursoBackup.Module.Tests;

/// <summary>
/// Real peer programs the tests use (sqlite3 …). Locally a missing peer skips the test with a reason;
/// under CI (CI=true) it fails, never skips silently.
/// </summary>
public static class Peers
{
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static string Require(string program)
    {
        string found = Find(program);
        if (found != null) return found;
        string message = NpmPeers.ContainsKey(program)
            ? $"The peer program '{program}' is not installed. .ci/run installs it (npm ci --prefix tools/peers)."
            : $"The peer program '{program}' is not installed. .ci/run installs it (apt-get install {program}).";
        if (InCi) throw new InvalidOperationException(message);
        Skip.If(true, message);
        return null;
    }

    /// <summary>Peers installed from npm by the project's own tools/peers/package.json (pinned versions).</summary>
    private static readonly Dictionary<string, string> NpmPeers = new Dictionary<string, string>
    {
        ["litestream"] = "@flydotio/litestream-linux-x64/litestream",
        ["tursodb"] = "@tursodatabase/cli-linux-x64-gnu/tursodb",
    };

    /// <summary>The repository root (the folder holding TursoBackup.sln), found upwards from the test binaries.</summary>
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "TursoBackup.sln"))) return dir.FullName;
            }
            throw new InvalidOperationException("TursoBackup.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>
    /// Real pwsh: the PowerShell tool pinned in .config/dotnet-tools.json (`dotnet tool restore` puts it in the NuGet package
    /// folder), as the program and arguments that start pwsh.dll itself. The tool's launcher (`dotnet pwsh`) runs
    /// pwsh.dll as a child process and does not pass signals on, so a test that stops pwsh starts pwsh.dll directly,
    /// as a service manager starts pwsh. TURSOBACKUP_PWSH names another pwsh. Missing: skip locally, fail under CI.
    /// </summary>
    public static (string Program, string[] Args) Pwsh()
    {
        string own = Environment.GetEnvironmentVariable("TURSOBACKUP_PWSH");
        if (!string.IsNullOrEmpty(own) && File.Exists(own)) return (own, new string[0]);
        string manifest = File.ReadAllText(Path.Combine(RepoRoot, ".config", "dotnet-tools.json"));
        var version = System.Text.RegularExpressions.Regex.Match(manifest, "\"powershell\"\\s*:\\s*\\{\\s*\"version\"\\s*:\\s*\"([^\"]+)\"").Groups[1].Value;
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(packages)) packages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string tools = Path.Combine(packages, "powershell", version, "tools");
        string flavour = OperatingSystem.IsWindows() ? "win" : "unix";
        string Installed() => Directory.Exists(tools)
            ? Directory.GetFiles(tools, "pwsh.dll", SearchOption.AllDirectories).FirstOrDefault(f => Path.GetFileName(Path.GetDirectoryName(f)) == flavour)
            : null;
        var dll = Installed();
        if (dll == null)
        {
            // The README's test command needs nothing but the SDK: restore the pinned tool once, as .ci/run does.
            lock (PwshRestore)
            {
                if (Installed() == null) Run("dotnet", new[] { "tool", "restore" }, env: new Dictionary<string, string> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" }, workingDirectory: RepoRoot);
            }
            dll = Installed();
        }
        if (dll != null) return ("dotnet", new[] { dll });
        string message = $"pwsh {version} is not installed and `dotnet tool restore` in {RepoRoot} did not install it.";
        if (InCi) throw new InvalidOperationException(message);
        Skip.If(true, message);
        return default;
    }

    private static readonly object PwshRestore = new object();

    public static string Find(string program)
    {
        if (NpmPeers.TryGetValue(program, out var npmPath))
        {
            string installed = Path.Combine(RepoRoot, "tools", "peers", "node_modules", npmPath);
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

    /// <summary>Runs sqlite3 on a database with SQL on stdin; returns stdout, fails the test on a non-zero exit.</summary>
    public static string Sqlite3(string database, string sql, params string[] options)
    {
        var (code, stdout, stderr) = Run(Require("sqlite3"), options.Append(database), sql);
        Assert.True(code == 0, $"sqlite3 failed ({code}): {stderr}");
        return stdout;
    }

    public static (int Code, string Stdout, string Stderr) Run(string program, IEnumerable<string> args, string stdin = null, IDictionary<string, string> env = null, int timeoutMs = 600_000, string workingDirectory = null)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (workingDirectory != null) psi.WorkingDirectory = workingDirectory;
        if (env != null) foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin != null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(true);
            throw new TimeoutException($"{program} did not finish in {timeoutMs} ms");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

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
