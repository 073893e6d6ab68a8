using TursoBackup.Engine.IO;

namespace TursoBackup.Tests.Safety;

/// <summary>The ownership lock everything else decides abandonment by: real lock files, real other processes.</summary>
public sealed class OwnerLockTests : TempFolderTest
{
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
        using var holder = Peers.HoldLock(path);
        Assert.True(OwnerLock.IsHeld(path));
        Assert.Null(OwnerLock.TryAcquire(path));
        Peers.Kill(holder);
        using var mine = OwnerLock.Acquire(path, TimeSpan.FromSeconds(10));
        Assert.NotNull(mine);
    }

    [SkippableFact]
    public void ALockHeldFromAnotherPidNamespaceIsSeen()
    {
        Skip.If(OperatingSystem.IsWindows(), "PID namespaces are Linux");
        string path = Path.Combine(dir, ".z.lock");
        File.WriteAllText(path, "");
        using var holder = Peers.HoldLock(path, inAnotherPidNamespace: true);
        Assert.True(OwnerLock.IsHeld(path), "a lock held in another PID namespace must be seen");
        Peers.Kill(holder);
    }
}
