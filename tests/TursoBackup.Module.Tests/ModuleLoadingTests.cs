using System.Text.RegularExpressions;

namespace TursoBackup.Module.Tests;

/// <summary>The assembled module: manifest, exported commands, native SQLite found by the module itself.</summary>
public sealed class ModuleLoadingTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public ModuleLoadingTests(ModuleSession session) => this.session = session;

    /// <summary>The commands in the first column of the README's "Commands" table (between the commands markers).</summary>
    public static SortedSet<string> DocumentedCommands()
    {
        string readme = File.ReadAllText(Path.Combine(Repo.Root, "README.md"));
        var section = Regex.Match(readme, "<!-- commands -->(.*?)<!-- /commands -->", RegexOptions.Singleline);
        Assert.True(section.Success, "README.md has no <!-- commands --> section");
        return new SortedSet<string>(Regex.Matches(section.Groups[1].Value, @"^\| `([A-Z][a-z]+-[A-Za-z]+)` \|", RegexOptions.Multiline).Select(m => m.Groups[1].Value), StringComparer.Ordinal);
    }

    [Fact]
    public void ExportedCommandsEqualTheDocumentedOnes()
    {
        var exported = session.Run("Get-Command -Module TursoBackup -CommandType Cmdlet | ForEach-Object Name").NoErrors()
            .Output.Select(o => o.ToString()).ToList();
        Assert.Equal(DocumentedCommands(), new SortedSet<string>(exported, StringComparer.Ordinal));

        var alias = session.Run("(Get-Command Test-TursoBackup).ResolvedCommandName").NoErrors();
        Assert.Equal("Test-Backup", alias.Output.Single().ToString());
    }

    [Fact]
    public void ManifestIsValidForBothEditions()
    {
        var r = session.Run("Test-ModuleManifest -Path $path", new Dictionary<string, object> { ["path"] = session.ModulePath }).NoErrors();
        var manifest = (System.Management.Automation.PSModuleInfo)r.Output.Single().BaseObject;
        Assert.Equal("TursoBackup", manifest.Name);
        Assert.Equal(new Version(5, 1), manifest.PowerShellVersion);
        Assert.Contains("Desktop", manifest.CompatiblePSEditions);
        Assert.Contains("Core", manifest.CompatiblePSEditions);
        Assert.NotNull(manifest.LicenseUri);
        Assert.NotNull(manifest.ProjectUri);
        Assert.Contains("SQLite", manifest.Tags);
        // The build stamps the version from Directory.Build.props.
        string props = File.ReadAllText(Path.Combine(Repo.Root, "Directory.Build.props"));
        Assert.Equal(Regex.Match(props, "<Version>(.*?)</Version>").Groups[1].Value, manifest.Version.ToString());
    }

    [Theory]
    [InlineData("win-x64", "e_sqlite3.dll")]
    [InlineData("linux-x64", "libe_sqlite3.so")]
    [InlineData("linux-arm64", "libe_sqlite3.so")]
    [InlineData("osx-x64", "libe_sqlite3.dylib")]
    [InlineData("osx-arm64", "libe_sqlite3.dylib")]
    public void ModuleShipsNativeSqliteForEachPlatform(string rid, string file)
    {
        string path = Path.Combine(Repo.Root, "out", "TursoBackup", "dependencies", rid, file);
        Assert.True(new FileInfo(path).Length > 100_000, path + " is missing or too small");
    }

    [Fact]
    public void ModuleLoadsItsOwnNativeSqliteByFullPath()
    {
        // This test process has no SQLite of its own (it references only the PowerShell engine).
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name == "Microsoft.Data.Sqlite" && a.Location.Contains(Path.Combine("bin", "")) && !a.Location.Contains(Path.Combine("out", "TursoBackup")));
        Assert.False(File.Exists(Path.Combine(AppContext.BaseDirectory, "Microsoft.Data.Sqlite.dll")), "the test process must not carry its own SQLite");
        // NativeSqlite is not among the types scripts can name (only the result types are): reach it through the engine.
        var r = session.Run("$n = [TursoBackup.BackupInfo].Assembly.GetType('TursoBackup.Engine.Sqlite.NativeSqlite', $true); $n::EnsureInitialized(); $n::LoadedFrom").NoErrors();
        string expected = Path.Combine(Repo.Root, "out", "TursoBackup", "dependencies", "linux-x64", "libe_sqlite3.so");
        if (OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64)
        {
            Assert.Equal(expected, r.Output.Single().ToString());
        }
    }

    /// <summary>
    /// In real pwsh too (a process with no SQLite of its own), the module loads the native SQLite it ships, from
    /// out/TursoBackup/dependencies/&lt;rid&gt;/ (moved here from the console host's tests when the console host was removed).
    /// </summary>
    [SkippableFact]
    public void PwshLoadsTheModulesOwnNativeSqlite()
    {
        var (code, stdout, stderr) = Peers.RunPwsh(
            // The engine's internals are not nameable from scripts (its own load context): reach NativeSqlite through a public type.
            "$n = [TursoBackup.BackupInfo].Assembly.GetType('TursoBackup.Engine.Sqlite.NativeSqlite'); $n::EnsureInitialized(); $n::LoadedFrom");
        Assert.True(code == 0, stderr);
        Assert.Contains(Path.Combine("out", "TursoBackup", "dependencies", TursoRid(), OperatingSystem.IsWindows() ? "e_sqlite3.dll" : "libe_sqlite3.so"), stdout);
    }

    private static string TursoRid() =>
        (OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux") + "-" +
        System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();

    [Fact]
    public void CmdletDllReferencesOnlyPowerShellAndTheEngine()
    {
        // Everything else (Microsoft.Data.Sqlite, SQLitePCLRaw, ZstdSharp ...) is the engine's, resolved inside the module's
        // own load context: a direct reference from the cmdlet dll would bind in PowerShell's default context instead.
        using var stream = File.OpenRead(Path.Combine(Repo.Root, "out", "TursoBackup", "TursoBackup.dll"));
        using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
        var md = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
        var names = md.AssemblyReferences.Select(h => md.GetString(md.GetAssemblyReference(h).Name)).OrderBy(n => n, StringComparer.Ordinal).ToList();
        Assert.Equal(new[] { "System.Management.Automation", "TursoBackup.Engine", "netstandard" }, names);
    }

    [Fact]
    public void EngineLoadsIntoTheModulesOwnLoadContext()
    {
        session.Run("$null = Get-Command Backup-TursoDatabase").NoErrors();
        // This test assembly's own reference to the engine is answered with the module's copy (the one bridged name).
        var engine = typeof(BackupInfo).Assembly;
        var context = System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(engine);
        Assert.NotSame(System.Runtime.Loader.AssemblyLoadContext.Default, context);
        Assert.Equal(Path.Combine(Repo.Root, "out", "TursoBackup", "dependencies", "TursoBackup.Engine.dll"), engine.Location);
        // SQLitePCLRaw is loaded at import (NativeSqlite sets its provider's native resolver): the copy in our context.
        var sqlite = Assert.Single(context.Assemblies, a => a.GetName().Name == "SQLitePCLRaw.core");
        Assert.Equal(Path.Combine(Repo.Root, "out", "TursoBackup", "dependencies", "SQLitePCLRaw.core.dll"), sqlite.Location);
        Assert.DoesNotContain(System.Runtime.Loader.AssemblyLoadContext.Default.Assemblies, a => a.GetName().Name.StartsWith("SQLitePCLRaw", StringComparison.Ordinal));
        // Scripts name the result types, not the engine's internals nor its third-party types.
        var r = session.Run("[TursoBackup.BackupInfo].FullName; $null -eq ('TursoBackup.Engine.Sqlite.NativeSqlite' -as [type]); $null -eq ('Microsoft.Data.Sqlite.SqliteConnection' -as [type])").NoErrors();
        Assert.Equal(new[] { "TursoBackup.BackupInfo", "True", "True" }, r.Output.Select(o => o.ToString()));
    }

    [Fact]
    public void EveryOutputTypeHasADefaultView()
    {
        string format = File.ReadAllText(Path.Combine(Repo.Root, "out", "TursoBackup", "TursoBackup.Format.ps1xml"));
        var r = session.Run("Get-Command -Module TursoBackup -CommandType Cmdlet | ForEach-Object { $_.OutputType.Type.FullName }").NoErrors();
        // System types (FileInfo) have PowerShell's own views.
        foreach (var type in r.Output.Select(o => o.ToString()).Distinct().Where(t => !t.StartsWith("System.")).Append("TursoBackup.CheckResult"))
        {
            Assert.Contains("<TypeName>" + type + "</TypeName>", format);
        }
    }

    [Fact]
    // Get, Test and Compare only read (Compare-TursoDatabase reads both databases and writes nothing but scratch copies).
    public void EveryChangingCmdletSupportsShouldProcess()
    {
        var r = session.Run("""
            Get-Command -Module TursoBackup -CommandType Cmdlet |
              Where-Object { $_.Verb -notin 'Get', 'Test', 'Compare' } |
              Where-Object { -not $_.Parameters.ContainsKey('WhatIf') } |
              ForEach-Object Name
            """).NoErrors();
        Assert.Empty(r.Output);
    }
}
