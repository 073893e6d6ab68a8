using System;
using System.IO;

namespace TursoBackup.TestSupport;

/// <summary>The repository's folders.</summary>
public static class Repo
{
    /// <summary>The repository root (the folder holding TursoBackup.sln), found upwards from the test binaries.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TursoBackup.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("TursoBackup.sln not found above " + AppContext.BaseDirectory);
    }
}
