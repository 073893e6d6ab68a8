using System.Diagnostics;

namespace TursoBackup.TestSupport;

/// <summary>Real pwsh for the module tests (the rest of <see cref="Peers"/> is shared with the engine tests: tests/Shared/Peers.cs).</summary>
public static partial class Peers
{
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
        string manifest = File.ReadAllText(Path.Combine(Repo.Root, ".config", "dotnet-tools.json"));
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
                if (Installed() == null) Run("dotnet", new[] { "tool", "restore" }, env: new Dictionary<string, string> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" }, workingDirectory: Repo.Root);
            }
            dll = Installed();
        }
        if (dll != null) return ("dotnet", new[] { dll });
        string message = $"pwsh {version} is not installed and `dotnet tool restore` in {Repo.Root} did not install it.";
        if (InCi) throw new InvalidOperationException(message);
        Skip.If(true, message);
        return default;
    }

    private static readonly object PwshRestore = new object();

    /// <summary>The module under test: out/TursoBackup/TursoBackup.psd1, assembled by building the solution.</summary>
    public static string ModulePath => Path.Combine(Repo.Root, "out", "TursoBackup", "TursoBackup.psd1");

    /// <summary>
    /// Real pwsh running <paramref name="command"/> as an admin's script or a scheduled task would:
    /// <c>pwsh -NoProfile -NonInteractive -Command "Import-Module '&lt;out/TursoBackup/TursoBackup.psd1&gt;'; &lt;command&gt;"</c>,
    /// as the program and its arguments. Its exit code is pwsh's: the script's own <c>exit N</c>, else 1 when the last
    /// statement failed (or the pipeline was stopped), else 0 — an earlier failed statement does not change it.
    /// </summary>
    public static (string Program, string[] Args) PwshCommand(string command)
    {
        var (program, args) = Pwsh();
        return (program, args.Concat(new[] { "-NoProfile", "-NonInteractive", "-Command", $"Import-Module '{ModulePath}'; {command}" }).ToArray());
    }

    /// <summary>The environment pwsh runs with in these tests: NO_COLOR=1 (plain text on stdout and stderr).</summary>
    private static Dictionary<string, string> PwshEnv(IDictionary<string, string> env)
    {
        var all = new Dictionary<string, string> { ["NO_COLOR"] = "1" };
        if (env != null) foreach (var kv in env) all[kv.Key] = kv.Value;
        return all;
    }

    /// <summary>Starts <see cref="PwshCommand"/> with stdin, stdout and stderr redirected, NO_COLOR=1 (and <paramref name="env"/>).</summary>
    public static Process StartPwsh(string command, IDictionary<string, string> env = null)
    {
        var (program, args) = PwshCommand(command);
        return Start(program, args, PwshEnv(env));
    }

    /// <summary>Runs <see cref="PwshCommand"/> to its end: exit code, stdout, stderr (errors and warnings are on stderr).</summary>
    public static (int Code, string Stdout, string Stderr) RunPwsh(string command, IDictionary<string, string> env = null, int timeoutMs = 600_000)
    {
        var (program, args) = PwshCommand(command);
        return Run(program, args, env: PwshEnv(env), timeoutMs: timeoutMs);
    }

    /// <summary>
    /// <see cref="PwshCommand"/> as one line for <c>sh -c</c> (each word single-quoted, so nothing in
    /// <paramref name="command"/> is expanded by the shell), for tests that run pwsh inside unshare. NO_COLOR is the
    /// caller's to set (it passes through unshare and sh).
    /// </summary>
    public static string PwshShellLine(string command)
    {
        var (program, args) = PwshCommand(command);
        return string.Join(" ", new[] { program }.Concat(args).Select(w => "'" + w.Replace("'", "'\\''") + "'"));
    }
}
