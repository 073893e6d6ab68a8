using System.Text.RegularExpressions;

namespace TursoBackup.Benchmarks
{
    /// <summary>
    /// Real pwsh, as the admin runs the module: the PowerShell tool pinned in .config/dotnet-tools.json (`dotnet tool restore`
    /// puts it in the NuGet package folder), started as `dotnet pwsh.dll` (one process, so its pid, RSS and CPU are pwsh's and
    /// SIGINT reaches it) with `-NoProfile -NonInteractive -Command "Import-Module '&lt;module&gt;'; …"`.
    /// </summary>
    public static class Pwsh
    {
        /// <summary>pwsh.dll of the pinned version; missing: a FileNotFoundException that says to run `dotnet tool restore`.</summary>
        public static string Dll(string root)
        {
            string manifest = File.ReadAllText(Path.Combine(root, ".config", "dotnet-tools.json"));
            string version = Regex.Match(manifest, "\"powershell\"\\s*:\\s*\\{\\s*\"version\"\\s*:\\s*\"([^\"]+)\"").Groups[1].Value;
            string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
            if (string.IsNullOrEmpty(packages)) packages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            string tools = Path.Combine(packages, "powershell", version, "tools");
            string dll = Directory.Exists(tools)
                ? Directory.GetFiles(tools, "pwsh.dll", SearchOption.AllDirectories).FirstOrDefault(f => Path.GetFileName(Path.GetDirectoryName(f)) == "unix")
                : null;
            return dll ?? throw new FileNotFoundException($"pwsh {version} is not installed under {tools}: run `dotnet tool restore` in {root}.");
        }

        /// <summary>The arguments after `dotnet`: pwsh.dll running <paramref name="command"/> with <paramref name="module"/> imported.</summary>
        public static string[] Args(string dll, string module, string command) =>
            new[] { dll, "-NoProfile", "-NonInteractive", "-Command", $"Import-Module '{module}'; {command}" };
    }
}
