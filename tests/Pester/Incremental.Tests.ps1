#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Issue 16: Incremental backups in real `pwsh -NoProfile -NonInteractive` processes, as a scheduled task runs them:
# daily backups of a changing database store only the changed pages, each restores on its own (checked with the real
# sqlite3: content hash and integrity_check), retention collects the pages no kept backup holds, and a backup killed
# with SIGKILL in the middle of writing its pack leaves the vault whole.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-TursoModuleManifest) -Force
    $script:work = New-TestFolder 'tb-incremental'
    $script:db = Join-Path $work 'data/shop.db'
    [void][IO.Directory]::CreateDirectory((Split-Path $db))
    New-SampleDatabase -Path $db -Customers 2000 -WithOrderLines | Out-Null
    $script:vault = Join-Path $work 'vault'
    function Invoke-Task([string] $Command) {
        Invoke-Pwsh -Command ("`$ErrorActionPreference = 'Stop'; `$ProgressPreference = 'SilentlyContinue'; " + $Command) -TimeoutSeconds 300
    }
    function Get-ContentHash([string] $Path) { (Invoke-Sqlite3 $Path '.sha3sum') | Select-Object -First 1 }
    function Get-StoreBytes { (Get-ChildItem (Join-Path $script:vault 'pages/shop') -File | Measure-Object Length -Sum).Sum }
}

AfterAll {
    Remove-TestFolder $script:work
}

Describe 'Incremental backups from a scheduled task' {
    It 'stores only the changed pages, restores each backup on its own and collects what retention removed' {
        $hashes = [ordered]@{}
        foreach ($day in 1..3) {
            if ($day -gt 1) { [void](Invoke-Sqlite3 $db "UPDATE orders SET total = total + 1 WHERE id BETWEEN $($day * 1000) AND $($day * 1000 + 199);") }
            $r = Invoke-Task "Backup-TursoDatabase -Path '$db' -Vault '$vault' -Kind Incremental | ConvertTo-Json -Depth 4 -EnumsAsStrings"
            $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
            $b = ($r.Output -join "`n") | ConvertFrom-Json
            $b.Kind | Should -Be 'Incremental'
            $hashes[$b.Id] = Get-ContentHash $db
            if ($day -eq 1) { $b.Pages.NewPages | Should -BeGreaterThan ($b.PageCount * 0.9) }
            else { $b.Pages.NewPages | Should -BeLessThan ($b.PageCount * 0.2) -Because "day $day changed 1 % of the orders (200 in a row)" }
        }

        $listed = Get-TursoBackup -Vault $vault -Database shop -Kind Incremental
        @($listed).Count | Should -Be 3
        ($listed | Format-Table | Out-String) | Should -Match 'Incremental'

        # Every backup alone: restored, the same content sqlite3 saw that day, integrity ok, and Test-Backup passes.
        foreach ($id in $hashes.Keys) {
            $target = Join-Path $work "restored-$id.db"
            $r = Invoke-Task "Restore-TursoBackup -Vault '$vault' -Database shop -Id '$id' -Destination '$target' -Confirm:`$false | Out-Null; (Test-Backup -Vault '$vault' -Database shop -Id '$id').Passed"
            $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
            $r.Output[-1] | Should -Be 'True'
            Get-ContentHash $target | Should -Be $hashes[$id]
            Invoke-Sqlite3 $target 'PRAGMA integrity_check;' | Should -Be 'ok'
        }

        # Retention keeps the newest and the newest verified backup; removing that one too leaves the newest alone:
        # the packs of the days whose orders pages it no longer holds go, and it still restores and passes.
        [void](Invoke-Sqlite3 $db 'UPDATE orders SET total = 0;') # every orders page differs from the earlier backups
        $r = Invoke-Task "Backup-TursoDatabase -Path '$db' -Vault '$vault' -Kind Incremental | Out-Null; Invoke-TursoBackupRetention -Vault '$vault' -KeepLast 1 -Daily 0 -Weekly 0 -Monthly 0 -Confirm:`$false -Verbose 4>&1 | ForEach-Object { `"`$_`" }"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        ($r.Output -join "`n") | Should -Match "The page store of 'shop'"
        $kept = @(Get-TursoBackup -Vault $vault -Database shop)
        $kept.Count | Should -Be 2 -Because 'the newest and the newest verified backup are kept'
        $before = Get-StoreBytes
        $kept | Where-Object Id -ne $kept[0].Id | Remove-TursoBackup -Confirm:$false
        (Get-StoreBytes) | Should -BeLessThan $before
        (Test-Backup -InputObject $kept[0]).Passed | Should -BeTrue
        $target = Join-Path $work 'restored-kept.db'
        Restore-TursoBackup -InputObject $kept[0] -Destination $target -Confirm:$false | Out-Null
        Get-ContentHash $target | Should -Be (Get-ContentHash $db)
    }

    It 'a backup killed with SIGKILL while it writes its pack leaves every kept backup whole, and the next one works' {
        $big = Join-Path $work 'data/big.db'
        [void](Invoke-Sqlite3 $big "PRAGMA journal_mode=WAL; CREATE TABLE b(id INTEGER PRIMARY KEY, x BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000) INSERT INTO b SELECT i, randomblob(1000) FROM n;")
        $first = Backup-TursoDatabase -Path $big -Vault $vault -Kind Incremental
        [void](Invoke-Sqlite3 $big 'UPDATE b SET x = randomblob(1000);') # every page new for the next backup
        $store = Join-Path $vault 'pages/big'
        $pwsh = Get-PwshCommand
        $psi = [Diagnostics.ProcessStartInfo]::new($pwsh[0])
        foreach ($a in $pwsh[1..($pwsh.Count)]) { if ($a) { $psi.ArgumentList.Add($a) } }
        foreach ($a in '-NoProfile', '-NonInteractive', '-Command', "Import-Module '$(Get-TursoModuleManifest)'; Backup-TursoDatabase -Path '$big' -Vault '$vault' -Kind Incremental") { $psi.ArgumentList.Add($a) }
        $psi.UseShellExecute = $false; $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true
        $p = [Diagnostics.Process]::Start($psi)
        $watch = [Diagnostics.Stopwatch]::StartNew()
        while (-not (Get-ChildItem $store -Filter '*.pack.partial' -ErrorAction SilentlyContinue) -and -not $p.HasExited -and $watch.Elapsed.TotalSeconds -lt 60) { Start-Sleep -Milliseconds 2 }
        $p.HasExited | Should -BeFalse -Because 'the backup is killed while it writes its pack'
        & (Get-Peer kill) -s KILL $p.Id
        $p.WaitForExit()

        # Nothing of the killed backup is listed; the first restores and passes; the store's lock went with the process.
        @(Get-TursoBackup -Vault $vault -Database big).Id | Should -Be @($first.Id)
        (Test-Backup -InputObject $first).Passed | Should -BeTrue
        $next = Backup-TursoDatabase -Path $big -Vault $vault -Kind Incremental -LockTimeout ([TimeSpan]::FromSeconds(5))
        (Test-Backup -InputObject $next).Passed | Should -BeTrue
        # Removing the first collects its pages and the killed backup's leftovers; the newest stays whole.
        Remove-TursoBackup -InputObject $first -Confirm:$false
        Get-ChildItem $store -Filter '*.partial' | Should -BeNullOrEmpty
        (Test-Backup -InputObject $next).Passed | Should -BeTrue
        $target = Join-Path $work 'big-restored.db'
        Restore-TursoBackup -InputObject $next -Destination $target -Confirm:$false | Out-Null
        Get-ContentHash $target | Should -Be (Get-ContentHash $big)
    }
}
