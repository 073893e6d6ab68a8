using System.Diagnostics;
using System.Management.Automation;

namespace TursoBackup.Module.Tests;

/// <summary>Filtering, removing, permissions, parallel backups and a full disk, through the hosted runspace.</summary>
public sealed class VaultManagementTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public VaultManagementTests(ModuleSession session) => this.session = session;

    private static Dictionary<string, object> Vars(params (string, object)[] pairs) => pairs.ToDictionary(p => p.Item1, p => p.Item2);

    [SkippableFact]
    public void GetTursoBackupFiltersByKindTimeTierAndTag()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]));
        var first = session.Run("Backup-TursoDatabase -Path $db -Vault $vault -Tag nightly,keep", vars).NoErrors().Single<BackupInfo>();
        Thread.Sleep(20);
        var second = session.Run("Backup-TursoDatabase -Path $db -Vault $vault -Tier Critical -Tag hourly", vars).NoErrors().Single<BackupInfo>();
        int Count(string filter) => session.Run("@(Get-TursoBackup -Vault $vault " + filter + ").Count", vars).NoErrors().Output.Single().BaseObject is int n ? n : -1;
        Assert.Equal(2, Count("-Kind Snapshot"));
        Assert.Equal(1, Count("-Tier Critical"));
        Assert.Equal(1, Count("-Tag 'night*'"));
        Assert.Equal(2, Count("-Tag nightly,hourly"));
        vars["t"] = second.CreatedAt;
        Assert.Equal(1, Count("-Before $t"));
        Assert.Equal(1, Count("-After $t"));
        Assert.Equal(first.Id, session.Run("Get-TursoBackup -Vault $vault -Before $t", vars).NoErrors().Single<BackupInfo>().Id);
    }

    [SkippableFact]
    public void RemoveTursoBackupRemovesWithShouldProcessAndPassThru()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]));
        for (int i = 0; i < 3; i++) session.Run("Backup-TursoDatabase -Path $db -Vault $vault", vars).NoErrors();

        session.Run("Get-TursoBackup -Vault $vault | Remove-TursoBackup -WhatIf", vars).NoErrors();
        Assert.Equal(3, session.Run("Get-TursoBackup -Vault $vault", vars).NoErrors().Output.Count);

        var removed = session.Run("Get-TursoBackup -Vault $vault | Where-Object { $_.Id -ne (Get-TursoBackup -Vault $vault -Latest).Id } | Remove-TursoBackup -Confirm:$false -PassThru", vars);
        var gone = removed.All<BackupInfo>();
        Assert.Equal(2, gone.Count);
        Assert.All(gone, b => Assert.False(Directory.Exists(Path.GetDirectoryName(b.Location))));
        var left = session.Run("Get-TursoBackup -Vault $vault", vars).NoErrors().Single<BackupInfo>();
        Assert.True(File.Exists(left.Location));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(dir["vault"], ".staging")));

        vars["gone"] = gone[0];
        var again = session.Run("$gone | Remove-TursoBackup -Confirm:$false", vars);
        Assert.Equal(ErrorCategory.ObjectNotFound, Assert.Single(again.Errors).CategoryInfo.Category);
    }

    [SkippableFact]
    public void RetentionShowsItsPlanWithWhatIfThenRemovesAndKeepsTheProtected()
    {
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var vars = Vars(("db", db), ("vault", dir["vault"]));
        var backups = new List<BackupInfo>();
        for (int i = 0; i < 10; i++) backups.Add(session.Run("Backup-TursoDatabase -Path $db -Vault $vault -Compression None", vars).NoErrors().Single<BackupInfo>());
        // Age them: backup i was taken i days ago (the manifest is the source of truth).
        var now = DateTimeOffset.UtcNow;
        for (int i = 0; i < 10; i++)
        {
            var b = backups[9 - i];
            string manifest = Path.Combine(Path.GetDirectoryName(b.Location)!, "manifest.json");
            string stamp = now.AddDays(-i).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'");
            File.WriteAllText(manifest, System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(manifest), "\"createdAt\": \"[^\"]*\"", $"\"createdAt\": \"{stamp}\""));
        }
        // The backup from 8 days ago is the newest one that passed Test-Backup... after the newer ones fail it.
        vars["old"] = backups[1].Id;
        session.Run("Get-TursoBackup -Vault $vault -Id $old | Test-Backup | Out-Null", vars).NoErrors();

        var plan = session.Run("Invoke-TursoBackupRetention -Vault $vault -Daily 3 -Weekly 0 -Monthly 0 -WhatIf", vars).NoErrors().All<RetentionDecision>();
        Assert.Equal(10, plan.Count);
        Assert.All(plan, d => Assert.False(d.Removed));
        Assert.Equal(10, session.Run("Get-TursoBackup -Vault $vault", vars).NoErrors().Output.Count);
        var kept = plan.Where(d => d.Keep).Select(d => d.Id).ToHashSet();
        Assert.Equal(new[] { backups[9].Id, backups[8].Id, backups[7].Id, backups[1].Id }.ToHashSet(), kept);
        Assert.Contains("newest", plan.Single(d => d.Id == backups[9].Id).Reason);
        Assert.Contains("verified", plan.Single(d => d.Id == backups[1].Id).Reason);
        Assert.Contains("not kept by any rule", plan.Single(d => d.Id == backups[0].Id).Reason);

        var done = session.Run("Invoke-TursoBackupRetention -Vault $vault -Daily 3 -Weekly 0 -Monthly 0 -Confirm:$false", vars).NoErrors().All<RetentionDecision>();
        Assert.Equal(6, done.Count(d => d.Removed));
        var left = session.Run("Get-TursoBackup -Vault $vault", vars).NoErrors().All<BackupInfo>().Select(b => b.Id).ToHashSet();
        Assert.Equal(kept, left);
        // Planning again removes nothing.
        Assert.DoesNotContain(session.Run("Invoke-TursoBackupRetention -Vault $vault -Daily 3 -Weekly 0 -Monthly 0 -Confirm:$false", vars).NoErrors().All<RetentionDecision>(), d => !d.Keep);
    }

    [SkippableFact]
    public void VaultFilesAreOwnerOnlyOnUnix()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix permissions");
        using var dir = new TempDir();
        string db = SampleDatabases.CreateShop(dir["shop.db"]);
        var b = session.Run("Backup-TursoDatabase -Path $db -Vault $vault; Get-TursoBackup -Vault $vault | Test-Backup | Out-Null", Vars(("db", db), ("vault", dir["vault"]))).NoErrors().Single<BackupInfo>();
        foreach (var path in Directory.GetFileSystemEntries(dir["vault"], "*", SearchOption.AllDirectories).Append(dir["vault"]))
        {
            if (OperatingSystem.IsWindows()) break;
            var mode = File.GetUnixFileMode(path);
            var allowed = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            Assert.True((mode & ~allowed) == 0, $"{path} is {mode}");
        }
        Assert.True(File.Exists(Path.Combine(dir["vault"], "databases", "shop", "verifications.jsonl")));
    }

    [SkippableFact]
    public void ParallelBackupsIsolateOneFailure()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["data"]);
        for (int i = 0; i < 8; i++) SampleDatabases.CreateShop(Path.Combine(dir["data"], $"db{i}.db"));
        File.WriteAllText(Path.Combine(dir["data"], "db-broken.db"), "not a database at all, but named like one");
        var r = session.Run("[System.IO.DirectoryInfo]::new($data).GetFiles('*.db') | Backup-TursoDatabase -Vault $vault -ThrottleLimit 4",
            Vars(("data", dir["data"]), ("vault", dir["vault"])));
        Assert.Equal(ErrorCategory.InvalidData, Assert.Single(r.Errors).CategoryInfo.Category);
        Assert.Equal(8, r.All<BackupInfo>().Select(b => b.Database).Distinct().Count());
        var listed = session.Run("Get-TursoBackup -Vault $vault | Test-Backup", Vars(("vault", dir["vault"]))).NoErrors().All<BackupTestResult>();
        Assert.Equal(8, listed.Count);
        Assert.All(listed, t => Assert.True(t.Passed));
    }

    [SkippableFact]
    public void AFullDiskGivesAClearErrorAndNoPartialBackup()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "tmpfs");
        string unshare = Peers.Require("unshare");
        using var dir = new TempDir();
        string db = SampleDatabases.CreateLarge(dir["big.db"], 12);
        Directory.CreateDirectory(dir["small-disk"]);
        // A 6 MiB tmpfs in a private mount namespace (works as root and, with user namespaces, as a normal user).
        // pwsh's exit code tells only whether its last statement failed: the failure is counted with -ErrorVariable.
        string script = $"mount -t tmpfs -o size=6m tmpfs '{dir["small-disk"]}' && " + Peers.PwshShellLine(
                        $"Backup-TursoDatabase -Path '{db}' -Vault '{dir["small-disk"]}/vault' -Compression None -ErrorVariable failed; " +
                        $"'failed: ' + $failed.Count; " +
                        $"'listed: ' + @(Get-TursoBackup -Vault '{dir["small-disk"]}/vault').Count; " +
                        $"'staging: ' + @([System.IO.Directory]::GetFileSystemEntries('{dir["small-disk"]}/vault/.staging')).Count");
        var (code, stdout, stderr) = Peers.Run(unshare, new[] { "-rm", "sh", "-c", script }, env: new Dictionary<string, string> { ["NO_COLOR"] = "1" });
        Assert.True(code == 0, $"exit {code}: {stdout} {stderr}");
        Assert.Contains("failed: 1", stdout);
        Assert.Contains("disk is full", stderr);
        Assert.Contains("listed: 0", stdout);
        Assert.Contains("staging: 0", stdout);
    }
}
