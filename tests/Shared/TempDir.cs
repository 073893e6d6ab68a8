using System;
using System.IO;

namespace TursoBackup.TestSupport;

/// <summary>
/// A new folder under the system temp folder (tb-&lt;prefix&gt;-&lt;random&gt;), removed with everything in it on Dispose.
/// The one temp-folder helper of both test projects.
/// </summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string prefix = "test")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tb-" + prefix + "-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>A path inside the folder.</summary>
    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
