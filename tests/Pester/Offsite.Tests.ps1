#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Issue 13, layer 4: offsite vaults, on REAL servers started here on 127.0.0.1 — another folder, Azure Blob Storage
# (azurite 3.37.0), S3 (s3rver 3.7.1) and SFTP (Debian's OpenSSH server, run by the test with its own host key) — and
# every command in its own real `pwsh -NoProfile -NonInteractive` process, as a scheduled task runs it. Credentials
# reach the commands as they reach a scheduled task: the environment (AZURE_STORAGE_CONNECTION_STRING, AWS_*) and, for
# SFTP, Connect-TursoVault with a key file and the pinned host key. Each child process has a mirror folder of its own
# (TURSOBACKUP_CACHE), so nothing one run fetched helps the next: a restore "from another region" starts from nothing.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-TursoModuleManifest) -Force
    $script:work = New-TestFolder 'tb-offsite'
    $script:azurite = Start-Azurite
    New-AzuriteContainer $azurite 'vaults'
    $script:s3 = Start-S3rver -Bucket 'vaults'
    $script:sshd = Start-Sshd

    $script:destinations = [ordered]@{
        Directory = Join-Path $work 'nas/prod'
        AzureBlob = "$($azurite.Url)/vaults/prod"
        S3        = 's3://vaults/prod'
        Sftp      = "sftp://$($sshd.User)@127.0.0.1:$($sshd.Port)$($sshd.Root)/prod"
    }
    # What a scheduled task has: credentials in its environment, and the SFTP key and pinned host key in its script.
    $script:env = @{
        AZURE_STORAGE_CONNECTION_STRING = $azurite.ConnectionString
        AWS_ACCESS_KEY_ID = $s3.AccessKey; AWS_SECRET_ACCESS_KEY = $s3.SecretKey; AWS_ENDPOINT_URL_S3 = $s3.Endpoint
    }
    $script:connect = "`$null = Connect-TursoVault '$($destinations.Sftp)' -KeyFile '$($sshd.KeyFile)' -HostKeyFingerprint '$($sshd.HostKeyFingerprint)'; "

    function Invoke-Offsite([string] $Command, [hashtable] $Extra = @{}, [int] $TimeoutSeconds = 300) {
        $e = @{ TURSOBACKUP_CACHE = (Join-Path $script:work ('mirror-' + [guid]::NewGuid().ToString('N').Substring(0, 8))) }
        foreach ($h in $script:env, $Extra) { foreach ($k in $h.Keys) { $e[$k] = $h[$k] } }
        $run = Invoke-Pwsh -Command ("`$ErrorActionPreference = 'Stop'; `$ProgressPreference = 'SilentlyContinue'; " + $script:connect + $Command) -Environment $e -TimeoutSeconds $TimeoutSeconds
        $run
    }
    function Get-Rows([string] $Path) { [int]((Invoke-Sqlite3 $Path 'SELECT count(*) FROM orders;') | Select-Object -First 1) }
}

AfterAll {
    Stop-PeerServer $azurite; Stop-PeerServer $s3; Stop-PeerServer $sshd
    Remove-TestFolder $work
}

Describe 'Recovery from an offsite vault alone (issue 13, done when)' {
    BeforeAll {
        $script:db = Join-Path $work 'data/shop.db'
        [void][IO.Directory]::CreateDirectory((Split-Path $db))
        New-SampleDatabase $db -Customers 100 | Out-Null
        $script:vault = Join-Path $work 'vault'
        $all = ($destinations.Values | ForEach-Object { "'$_'" }) -join ', '

        # A backup, then the WAL archive running with -Offsite to all four while orders arrive; a mark in the middle.
        $backup = Invoke-Offsite "Backup-TursoDatabase -Path '$db' -Vault '$vault' | Out-Null"
        $backup.ExitCode | Should -Be 0 -Because ($backup.Errors -join "`n")
        $archive = Start-ThreadJob -ArgumentList $db, $vault, $all -ScriptBlock {
            param($db, $vault, $all)
            Import-Module (Join-Path $using:PSScriptRoot 'TestHelpers.psm1') -Force
            $e = @{} + $using:env + @{ TURSOBACKUP_CACHE = (Join-Path $using:work 'mirror-archive') }
            Invoke-Pwsh -Command ($using:connect + "Start-TursoWalArchive -Path '$db' -Vault '$vault' -Offsite $all -Duration '00:00:10' -StatusInterval '00:01:00' | Select-Object -Last 1 | ConvertTo-Json -Compress") -Environment $e -TimeoutSeconds 180
        }
        Start-Sleep -Seconds 4
        1..20 | ForEach-Object { [void](Invoke-Sqlite3 $db "INSERT INTO orders(customer_id, total) VALUES (1, $_);") }
        Start-Sleep -Milliseconds 1500
        $script:mark = [DateTimeOffset]::UtcNow
        $script:rowsAtMark = Get-Rows $db
        Start-Sleep -Milliseconds 1500
        1..15 | ForEach-Object { [void](Invoke-Sqlite3 $db "INSERT INTO orders(customer_id, total) VALUES (2, $_);") }
        $script:archiveRun = $archive | Wait-Job -Timeout 200 | Receive-Job
        $archive | Remove-Job -Force
        $script:rowsAtEnd = Get-Rows $db

        # The daily copy of the backups, then the primary vault is lost.
        $script:sync = Invoke-Offsite "Sync-TursoVault -Source '$vault' -Destination $all | ConvertTo-Json -Depth 3 -Compress"
        $script:resync = Invoke-Offsite "Sync-TursoVault -Source '$vault' -Destination $all | ForEach-Object { '{0}|{1}|{2}' -f `$_.Destination, `$_.Copied, `$_.Failed }"
        Remove-Item -LiteralPath $vault -Recurse -Force
    }

    It 'shipped the WAL archive to every destination while it ran (OffsiteLag reported)' {
        $archiveRun.ExitCode | Should -Be 0 -Because ($archiveRun.Errors -join "`n")
        $status = $archiveRun.Output[-1] | ConvertFrom-Json
        @($status.Offsite).Count | Should -Be 4
        $status.Segments | Should -BeGreaterThan 0
        $status.OffsiteLag.TotalSeconds | Should -BeLessOrEqual 2
    }

    It 'copied the vault to every destination, and a second sync copies nothing' {
        $sync.ExitCode | Should -Be 0 -Because ($sync.Errors -join "`n")
        $results = @($sync.Output | ConvertFrom-Json)
        $results.Count | Should -Be 4
        $results | ForEach-Object { $_.Failed | Should -Be 0; @($_.Backups).Count | Should -Be 1 }
        $resync.ExitCode | Should -Be 0 -Because ($resync.Errors -join "`n")
        $resync.Output.Count | Should -Be 4
        $resync.Output | ForEach-Object { $_ | Should -Match '\|0\|0$' }
    }

    It 'restores and restore-tests the backup, and restores to a point in time, from <_> alone' -ForEach @('Directory', 'AzureBlob', 'S3', 'Sftp') {
        $from = $destinations[$_]
        $restored = Join-Path $work "restored-$_.db"
        $pitr = Join-Path $work "pitr-$_.db"
        $run = Invoke-Offsite @"
`$b = @(Get-TursoBackup -Vault '$from' -Database shop)
"BACKUPS:`$(`$b.Count)"
`$r = Restore-TursoBackup -Vault '$from' -Database shop -Destination '$restored'
`$t = Test-Backup -Vault '$from' -Database shop
"TEST:`$(`$t.Passed)"
`$w = Get-TursoRestorePoint -Vault '$from' -Database shop
"WINDOW:`$(`$w.Earliest -le '$($mark.ToString('o'))' -and `$w.Latest -ge '$($mark.ToString('o'))')"
`$p = Restore-TursoPointInTime -Vault '$from' -Database shop -Timestamp '$($mark.ToString('o'))' -Destination '$pitr'
`$pt = Test-Backup -Vault '$from' -Database shop -Timestamp '$($mark.ToString('o'))'
"PITRTEST:`$(`$pt.Passed)"
`$br = New-TursoBranch -Path '$db' -Vault '$from' -Timestamp '$($mark.ToString('o'))' -Destination '$(Join-Path $work "branches-$_")' -Name 'drill'
"BRANCH:`$(`$br.Location)"
"@
        $run.ExitCode | Should -Be 0 -Because (($run.Errors + $run.Output) -join "`n")
        $run.Output | Should -Contain 'BACKUPS:1'
        $run.Output | Should -Contain 'TEST:True'
        $run.Output | Should -Contain 'WINDOW:True'
        $run.Output | Should -Contain 'PITRTEST:True'
        Get-Rows $restored | Should -Be 1000
        Get-Rows $pitr | Should -Be $rowsAtMark
        (Invoke-Sqlite3 $pitr 'PRAGMA integrity_check;') | Should -Be 'ok'
        Get-Rows (Join-Path $work "branches-$_/drill.db") | Should -Be $rowsAtMark
    }

    It 'restores the WAL archive to its latest point from <_> alone' -ForEach @('AzureBlob', 'Sftp') {
        $from = $destinations[$_]
        $latest = Join-Path $work "latest-$_.db"
        $run = Invoke-Offsite "`$w = Get-TursoRestorePoint -Vault '$from' -Database shop; Restore-TursoPointInTime -Vault '$from' -Database shop -Timestamp `$w.Latest -Destination '$latest' | Out-Null"
        $run.ExitCode | Should -Be 0 -Because ($run.Errors -join "`n")
        Get-Rows $latest | Should -Be $rowsAtEnd
    }
}

Describe 'Sync-TursoVault and Copy-TursoBackup' {
    BeforeAll {
        $script:src = Join-Path $work 'src-vault'
        $script:srcDb = Join-Path $work 'data/small.db'
        [void][IO.Directory]::CreateDirectory((Split-Path $srcDb))
        New-SampleDatabase $srcDb -Customers 20 | Out-Null
        [void](Backup-TursoDatabase -Path $srcDb -Vault $src)
    }

    It '-WhatIf lists what would be copied to <_> and copies nothing' -ForEach @('AzureBlob', 'S3') {
        $to = $destinations[$_] -replace '/prod$', '/whatif'
        $run = Invoke-Offsite "Sync-TursoVault -Source '$src' -Destination '$to' -WhatIf | Out-Null; (Get-TursoBackup -Vault '$to' -ErrorAction SilentlyContinue | Measure-Object).Count"
        ($run.Output -join "`n") | Should -Match 'What if: .*manifest\.json'
        $run.Output[-1] | Should -Be '0'
    }

    It 'Copy-TursoBackup returns the backup as <_> lists it, verified there' -ForEach @('S3', 'Sftp') {
        $to = $destinations[$_] -replace '/prod$', '/copies'
        $run = Invoke-Offsite "Get-TursoBackup -Vault '$src' | Copy-TursoBackup -Destination '$to' | ForEach-Object { `$_.Database + '/' + `$_.Id }; (Test-Backup -Vault '$to' -Database small).Passed"
        $run.ExitCode | Should -Be 0 -Because ($run.Errors -join "`n")
        $run.Output[0] | Should -Be ('small/' + (Get-TursoBackup -Vault $src -Database small -Latest).Id)
        $run.Output[-1] | Should -Be 'True'
    }

    It 'names the destination, and no secret, when <Name> (and leaves the source untouched)' -ForEach @(
        @{ Name = 'nothing listens there'; To = 's3://vaults/x'; Env = @{ AWS_ENDPOINT_URL_S3 = 'http://127.0.0.1:9' }; Expect = 'Unreachable|ConnectionError|127\.0\.0\.1:9' }
        @{ Name = 'the credentials are wrong'; To = 'AZURE'; Env = @{ AZURE_STORAGE_CONNECTION_STRING = 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=d3JvbmcgYnV0IHZhbGlkIGJhc2U2NA==' }; Expect = 'AuthenticationError|AuthenticationFailed|credentials|key' }
        @{ Name = 'the bucket does not exist'; To = 's3://no-such-bucket/x'; Env = @{}; Expect = 'no-such-bucket' }
    ) {
        $to = if ($To -eq 'AZURE') { "$($azurite.Url)/vaults/x" } else { $To }
        # The source's backups are untouched (offsite.json, the vault's record of its offsite copies, records the failure).
        function Get-SourceState { Get-ChildItem -LiteralPath $src -Recurse -File | Where-Object Name -ne 'offsite.json' | ForEach-Object { $_.FullName + '|' + $_.Length + '|' + $_.LastWriteTimeUtc.Ticks } }
        $before = Get-SourceState
        $run = Invoke-Offsite "Sync-TursoVault -Source '$src' -Destination '$to'" -Extra $Env -TimeoutSeconds 120
        $run.ExitCode | Should -Not -Be 0
        $text = $run.Errors -join "`n"
        $text | Should -Match $Expect
        $text | Should -Match ([regex]::Escape(($to -replace '\?.*$', '')))
        $text | Should -Not -Match 'd3JvbmcgYnV0IHZhbGlkIGJhc2U2NA|S3RVER'
        Get-SourceState | Should -Be $before
    }
}

Describe 'A sync killed at any moment (kill -9) leaves nothing half-visible, and the next one completes it' {
    BeforeAll {
        # One large backup (incompressible, uncompressed: many blocks/parts) so the kill lands inside an upload.
        $script:big = Join-Path $work 'data/big.db'
        [void][IO.Directory]::CreateDirectory((Split-Path $big))
        [void](Invoke-Sqlite3 $big "PRAGMA journal_mode = WAL; CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1536) INSERT INTO blobs(b) SELECT randomblob(65536) FROM n;")
        $script:bigVault = Join-Path $work 'big-vault'
        [void](Backup-TursoDatabase -Path $big -Vault $bigVault -Compression None)
        function Start-Child([string] $Command) {
            $pwsh = Get-PwshCommand
            $psi = [Diagnostics.ProcessStartInfo]::new($pwsh[0])
            foreach ($a in @($pwsh | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-Command', "Import-Module '$(Get-TursoModuleManifest)'; `$ErrorActionPreference = 'Stop'; $($script:connect)$Command")) { $psi.ArgumentList.Add($a) }
            foreach ($k in $script:env.Keys) { $psi.Environment[$k] = [string]$script:env[$k] }
            $psi.Environment['TURSOBACKUP_CACHE'] = Join-Path $script:work ('mirror-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
            $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.UseShellExecute = $false
            $p = [Diagnostics.Process]::Start($psi)
            $null = $p.StandardOutput.ReadToEndAsync(); $null = $p.StandardError.ReadToEndAsync()
            $p
        }
    }

    It 'to <_>' -ForEach @('Directory', 'AzureBlob', 'S3', 'Sftp') {
        $kind = $_
        # Delays from the process's start: its start and import take about a second; a folder copy is fast.
        $delays = if ($kind -eq 'Directory') { 1000, 1250, 1500, 1750 } else { 1800, 2600, 3400 }
        $outcomes = foreach ($delay in $delays) {
            $to = ($destinations[$kind] -replace '/prod$', "/killed-$delay")
            $p = Start-Child "Sync-TursoVault -Source '$bigVault' -Destination '$to' | Out-Null"
            $finished = $p.WaitForExit($delay)
            if (-not $finished) { $p.Kill(); [void]$p.WaitForExit(10000) }   # SIGKILL: no cleanup of any kind runs
            $look = Invoke-Offsite "@(Get-TursoBackup -Vault '$to' -ErrorAction SilentlyContinue).Count"
            $look.ExitCode | Should -Be 0 -Because ($look.Errors -join "`n")
            $listed = [int]$look.Output[-1]
            if ($finished) { $listed | Should -Be 1 } else { $listed | Should -BeIn 0, 1 }
            # What is listed is whole: the next sync completes the rest, and the copy restore-tests.
            $again = Invoke-Offsite "`$r = Sync-TursoVault -Source '$bigVault' -Destination '$to'; `$r.Failed; (Test-Backup -Vault '$to' -Database big).Passed"
            $again.ExitCode | Should -Be 0 -Because ($again.Errors -join "`n")
            $again.Output[-2] | Should -Be '0'
            $again.Output[-1] | Should -Be 'True'
            if ($finished) { 'finished' } elseif ($listed) { 'killed after the manifest' } else { 'killed mid-copy' }
        }
        Write-Host "    $kind kills: $($outcomes -join ', ')"
    }
}

Describe 'Progress on long uploads' {
    It 'Sync-TursoVault reports progress in MiB while a large backup goes to S3, and completes it' {
        $bigVault2 = Join-Path $work 'progress-vault'
        $pdb = Join-Path $work 'data/progress.db'
        [void][IO.Directory]::CreateDirectory((Split-Path $pdb))
        [void](Invoke-Sqlite3 $pdb "CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1536) INSERT INTO blobs(b) SELECT randomblob(65536) FROM n;")
        [void](Backup-TursoDatabase -Path $pdb -Vault $bigVault2 -Compression None)
        $ps = [powershell]::Create()
        try {
            $setEnv = ($env.GetEnumerator() | ForEach-Object { "`$env:$($_.Key) = '$($_.Value)'" }) -join '; '
            [void]$ps.AddScript("$setEnv; `$env:TURSOBACKUP_CACHE = '$(Join-Path $work 'mirror-progress')'; Import-Module '$(Get-TursoModuleManifest)'; Sync-TursoVault -Source '$bigVault2' -Destination 's3://vaults/progress'")
            $result = @($ps.Invoke())
            $ps.Streams.Error | Should -BeNullOrEmpty
            $result[0].Failed | Should -Be 0
            $records = @($ps.Streams.Progress | Where-Object Activity -like 'Syncing*')
            $running = @($records | Where-Object RecordType -eq 'Processing')
            $running.Count | Should -BeGreaterThan 0
            $running[-1].StatusDescription | Should -Match 'of 96\.\d MiB'
            ($running | ForEach-Object PercentComplete) | Should -Be (($running | ForEach-Object PercentComplete) | Sort-Object)
            $records[-1].RecordType | Should -Be 'Completed'
        }
        finally { $ps.Dispose() }
    }
}

Describe 'Retention and health of offsite vaults' {
    BeforeAll {
        $script:hv = Join-Path $work 'health-vault'
        $script:hdb = Join-Path $work 'data/health.db'
        [void][IO.Directory]::CreateDirectory((Split-Path $hdb))
        New-SampleDatabase $hdb -Customers 10 | Out-Null
        1..3 | ForEach-Object { [void](Backup-TursoDatabase -Path $hdb -Vault $hv) }
        $script:hto = $destinations.S3 -replace '/prod$', '/health'
        # A copy, a restore test from the offsite vault (recorded there), and the next day's sync, which reads it back.
        $run = Invoke-Offsite "Sync-TursoVault -Source '$hv' -Destination '$hto' | Out-Null; Test-Backup -Vault '$hto' -Database health | Out-Null; Sync-TursoVault -Source '$hv' -Destination '$hto' | Out-Null"
        $run.ExitCode | Should -Be 0 -Because ($run.Errors -join "`n")
    }

    It 'Get-TursoBackupHealth reports the destination: newest copy, its age within the offsite RPO, nothing missing, the restore tested from it' {
        $report = Get-TursoBackupHealth -Vault $hv -Database health -RecoveryTimeObjective ([TimeSpan]::FromHours(1))
        $o = @($report.Offsite)
        $o.Count | Should -Be 1
        $o[0].Destination | Should -Be $hto
        $o[0].Missing | Should -Be 0
        $o[0].RpoMet | Should -BeTrue
        $o[0].NewestCopyId | Should -Be (Get-TursoBackup -Vault $hv -Database health -Latest).Id
        $o[0].LastVerificationPassed | Should -BeTrue
        $o[0].LastVerifiedAt | Should -Not -BeNullOrEmpty
    }

    It 'Get-TursoBackupHealth -Vault <offsite> judges the offsite vault itself, with the restore tested from it' {
        $run = Invoke-Offsite "Get-TursoBackupHealth -Vault '$hto' -Database health | ForEach-Object { '{0}|{1}|{2}' -f `$_.BackupCount, `$_.LastVerificationPassed, `$_.RpoMet }"
        $run.ExitCode | Should -Be 0 -Because ($run.Errors -join "`n")
        $run.Output[-1] | Should -Be '3|True|True'
    }

    It 'reports a backup that is not offsite yet after a sync failed' {
        [void](Backup-TursoDatabase -Path $hdb -Vault $hv)
        $run = Invoke-Offsite "Sync-TursoVault -Source '$hv' -Destination '$hto'" -Extra @{ AWS_ENDPOINT_URL_S3 = 'http://127.0.0.1:9' } -TimeoutSeconds 120
        $run.ExitCode | Should -Not -Be 0
        $report = Get-TursoBackupHealth -Vault $hv -Database health
        $report.Details.Code | Should -Contain 'OffsiteSyncFailed'
    }

    It 'Invoke-TursoBackupRetention -Vault <offsite> applies that vault''s own policy there and never removes its newest verified backup' {
        $run = Invoke-Offsite "Invoke-TursoBackupRetention -Vault '$hto' -Daily 0 -Weekly 0 -Monthly 0 -Confirm:`$false | Where-Object Item -eq 'Backup' | ForEach-Object { '{0}|{1}' -f `$_.Action, `$_.Reason }; (Get-TursoBackup -Vault '$hto' | Measure-Object).Count"
        $run.ExitCode | Should -Be 0 -Because ($run.Errors -join "`n")
        $run.Output[-1] | Should -BeLessThan 3
        ($run.Output -join "`n") | Should -Match 'Keep\|.*newest'
        (@(Get-TursoBackup -Vault $hv -Database health)).Count | Should -Be 4   # the primary is untouched
    }
}

Describe 'WAL retention of an offsite vault' {
    It 'removes old WAL generations whole (never the newest), at the destination and in its mirror' {
        $wv = Join-Path $work 'wal-vault'
        $wdb = Join-Path $work 'data/walret.db'
        [void][IO.Directory]::CreateDirectory((Split-Path $wdb))
        New-SampleDatabase $wdb -Customers 10 | Out-Null
        # Generation 1; then an application's checkpoint restarts the WAL: the next capture starts generation 2.
        [void](Sync-TursoWalArchive -Path $wdb -Vault $wv)
        [void](Invoke-Sqlite3 $wdb "INSERT INTO customers(name) VALUES ('a'); PRAGMA wal_checkpoint(TRUNCATE); INSERT INTO customers(name) VALUES ('b');")
        [void](Sync-TursoWalArchive -Path $wdb -Vault $wv)
        (Get-TursoRestorePoint -Vault $wv -Database walret).Generations | Should -Be 2
        $to = $destinations.S3 -replace '/prod$', '/walret'
        $run = Invoke-Offsite @"
Sync-TursoVault -Source '$wv' -Destination '$to' | Out-Null
Invoke-TursoBackupRetention -Vault '$to' -WalRetention '00:00:00' -Confirm:`$false | Where-Object Item -eq 'WalGeneration' | ForEach-Object { 'GEN:{0}|{1}' -f `$_.Action, `$_.Removed }
'LEFT:' + (Get-TursoRestorePoint -Vault '$to' -Database walret).Generations
"@
        $run.ExitCode | Should -Be 0 -Because ($run.Errors -join "`n")
        $run.Output | Should -Contain 'GEN:Remove|True'
        $run.Output | Should -Contain 'GEN:Keep|False'
        $run.Output | Should -Contain 'LEFT:1'
        # A new process (an empty mirror) sees the same at the destination, and the primary still has both.
        $look = Invoke-Offsite "(Get-TursoRestorePoint -Vault '$to' -Database walret).Generations"
        $look.Output[-1] | Should -Be '1'
        (Get-TursoRestorePoint -Vault $wv -Database walret).Generations | Should -Be 2
    }
}

Describe 'Invoke-DailyBackup.ps1 -Offsite' {
    BeforeAll {
        $script:daily = Join-Path (Get-RepoRoot) 'out/TursoBackup/Runbooks/Invoke-DailyBackup.ps1'
        $script:ddata = Join-Path $work 'daily-data'; [void][IO.Directory]::CreateDirectory($ddata)
        New-SampleDatabase (Join-Path $ddata 'alpha.db') -Customers 10 | Out-Null
        $script:dvault = Join-Path $work 'daily-vault'
        $script:hook = Start-FakeWebhook
    }
    AfterAll { Stop-FakeWebhook $hook }

    It 'copies the vault offsite and exits 0; with the destination unreachable it alerts once, naming it, and exits 1' {
        $to = $destinations.AzureBlob -replace '/prod$', '/daily'
        $e = @{} + $env + @{ TURSOBACKUP_CACHE = (Join-Path $work 'mirror-daily') }
        $run = Invoke-Pwsh -File $daily -ArgumentList '-Path', $ddata, '-Vault', $dvault, '-Offsite', $to, '-WebhookUrl', $hook.Url -Environment $e
        $run.ExitCode | Should -Be 0 -Because (($run.Errors + $run.Output) -join "`n")
        ($run.Output -join "`n") | Should -Match ([regex]::Escape("Offsite $to"))
        @(Get-FakeWebhookMessage $hook).Count | Should -Be 0

        $dead = 'http://127.0.0.1:9/devstoreaccount1/vaults/daily'
        $run = Invoke-Pwsh -File $daily -ArgumentList '-Path', $ddata, '-Vault', $dvault, '-Offsite', $dead, '-WebhookUrl', $hook.Url -Environment $e
        $run.ExitCode | Should -Be 1
        $messages = @(Get-FakeWebhookMessage $hook)
        $messages.Count | Should -Be 1
        $messages[0] | Should -Match '127\.0\.0\.1:9'
    }
}
