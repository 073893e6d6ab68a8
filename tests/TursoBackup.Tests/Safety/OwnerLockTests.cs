using System.Diagnostics;
using TursoBackup.Engine.IO;

namespace TursoBackup.Tests.Safety;

/// <summary>The ownership lock everything else decides abandonment by: real lock files, real other processes.</summary>
public sealed class OwnerLockTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "tb-lock-" + Guid.NewGuid().ToString("N")[..10]);

    public OwnerLockTests() => Directory.CreateDirectory(dir);

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    [Fact]
    public void ALockIsExclusiveWithinAProcessAndFreedOnRelease()
    {
        string path = Path.Combine(dir, ".x.lock");
        using (var first = OwnerLock.TryAcquire(path))
        {
            Assert.NotNull(first);
            Assert.True(OwnerLock.IsHeld(path));
            Assert.Null(OwnerLock.TryAcquire(path));
            first.Describe("pid 1 on host a");
            if (!OperatingSystem.IsWindows()) Assert.Equal("pid 1 on host a", OwnerLock.ReadDescription(path));
        }
        Assert.False(File.Exists(path));
        Assert.False(OwnerLock.IsHeld(path));
        using var again = OwnerLock.TryAcquire(path);
        Assert.NotNull(again);
    }

    [SkippableFact]
    public void ALockHeldByAnotherProcessIsSeenAndFreedWhenItIsKilled()
    {
        Skip.If(OperatingSystem.IsWindows(), "uses util-linux flock(1) as the other process");
        string path = Path.Combine(dir, ".y.lock");
        File.WriteAllText(path, "");
        // flock(1) takes the same flock(LOCK_EX) .NET takes for FileShare.None.
        using var holder = Process.Start(new ProcessStartInfo("flock", $"-x \"{path}\" sleep 60") { UseShellExecute = false })!;
        var until = DateTime.UtcNow.AddSeconds(10);
        while (!OwnerLock.IsHeld(path) && DateTime.UtcNow < until) Thread.Sleep(20);
        Assert.True(OwnerLock.IsHeld(path));
        Assert.Null(OwnerLock.TryAcquire(path));
        holder.Kill(entireProcessTree: true);
        holder.WaitForExit();
        using var mine = OwnerLock.Acquire(path, TimeSpan.FromSeconds(10));
        Assert.NotNull(mine);
    }

    [SkippableFact]
    public void ALockHeldFromAnotherPidNamespaceIsSeen()
    {
        Skip.If(OperatingSystem.IsWindows(), "PID namespaces are Linux");
        string path = Path.Combine(dir, ".z.lock");
        File.WriteAllText(path, "");
        var psi = new ProcessStartInfo("unshare", $"-rpf --mount-proc flock -x \"{path}\" sleep 60") { UseShellExecute = false, RedirectStandardError = true };
        using var holder = Process.Start(psi)!;
        var until = DateTime.UtcNow.AddSeconds(10);
        while (!OwnerLock.IsHeld(path) && DateTime.UtcNow < until && !holder.HasExited) Thread.Sleep(20);
        if (holder.HasExited && Environment.GetEnvironmentVariable("CI") != "true")
            Skip.If(true, "this machine does not allow unprivileged PID namespaces: " + holder.StandardError.ReadToEnd());
        Assert.True(OwnerLock.IsHeld(path), "a lock held in another PID namespace must be seen");
        holder.Kill(entireProcessTree: true);
        holder.WaitForExit();
    }
}
