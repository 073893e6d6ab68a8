#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Every default view, rendered as a journal or a redirected log gets it (Out-String -Width 80) from objects the real
# cmdlets returned: no line is wider than 80, every column header is there in full, and the values are not cut.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-TursoModuleManifest) -Force
    $work = New-TestFolder 'tb-views'
    $vault = Join-Path $work 'vault'
    $db = (New-SampleDatabase (Join-Path $work 'shop.db')).FullName
    $backup = Backup-TursoDatabase -Path $db -Vault $vault
    $dump = Backup-TursoDatabase -Path $db -Vault $vault -Kind Dump

    function Show-At80($objects) { ($objects | Format-Table | Out-String -Width 80) -split "`r?`n" }
    function Assert-Readable($objects, [string[]] $Labels, [string[]] $Values = @()) {
        $lines = Show-At80 $objects
        $text = $lines -join "`n"
        foreach ($l in $lines) { $l.TrimEnd().Length | Should -BeLessOrEqual 80 -Because "line '$l'" }
        $header = $lines | Where-Object { $_.Trim() } | Select-Object -First 1
        foreach ($label in $Labels) { $header | Should -Match ([regex]::Escape($label)) -Because "the header '$header' shows '$label' in full" }
        # A long value in the last (wrapped) column continues on the next line: compare without the whitespace.
        $flat = $text -replace '\s', ''
        foreach ($v in $Values) { $flat | Should -Match ([regex]::Escape(($v -replace '\s', ''))) -Because "the view shows '$v' uncut:`n$text" }
        $text | Should -Not -Match ([regex]::Escape('TursoBackup.')) -Because "no cell shows a type name:`n$text"
    }
}
AfterAll { Remove-TestFolder $work }

Describe 'Default views at 80 columns' {
    It 'BackupInfo (Get-TursoBackup) keeps Rows and Duration' {
        Assert-Readable (Get-TursoBackup -Vault $vault) 'Database', 'Id', 'Kind', 'Stored MB', 'Rows', 'Duration' @($backup.Id, $dump.Id, ('{0:N0}' -f $backup.TotalRows))
    }
    It 'TableRowCount (a backup''s Tables)' {
        Assert-Readable $backup.Tables 'Name', 'Rows' @('customers', 'orders')
    }
    It 'RestoreResult (Restore-TursoBackup), and its Source in a list' {
        $r = $backup | Restore-TursoBackup -Destination (Join-Path $work 'restored.db')
        Assert-Readable $r 'Database', 'PointInTime (UTC)', 'MB', 'Duration', 'Destination' @('restored.db')
        ($r | Format-List | Out-String -Width 80) | Should -Match ('Source *: ' + [regex]::Escape("shop/$($backup.Id)"))
    }
    It 'BackupTestResult and CheckResult (Test-Backup)' {
        $t = $backup | Test-Backup
        Assert-Readable $t 'Database', 'Backup', 'Passed', 'Checks', 'Restore', 'FailedChecks' @($backup.Id)
        Assert-Readable $t.Checks 'Name', 'Passed', 'Detail' @('IntegrityCheck')
    }
    It 'HealthReport shows Verified as True or False, never blank' {
        $h = Get-TursoBackupHealth -Vault $vault
        Assert-Readable $h 'Database', 'Status', 'LastBackup (UTC)', 'RpoMet', 'Verified', 'Findings'
        $row = (Show-At80 $h) | Where-Object { $_ -match '^shop ' }
        $row | Should -Match '^shop +\w+ +\d{4}-\d\d-\d\d \d\d:\d\d +(True|False) +(True|False)'
        $never = New-Item -ItemType Directory (Join-Path $work 'v2')
        Backup-TursoDatabase -Path $db -Vault $never -Name fresh | Out-Null
        $row = (Show-At80 (Get-TursoBackupHealth -Vault $never)) | Where-Object { $_ -match '^fresh ' }
        $row | Should -Match '^fresh +\w+ +\d{4}-\d\d-\d\d \d\d:\d\d +(True|False) +False'
    }
    It 'RetentionDecision (Invoke-TursoBackupRetention -WhatIf)' {
        $d = Invoke-TursoBackupRetention -Vault $vault -Daily 1 -Weekly 0 -Monthly 0 -WhatIf
        Assert-Readable $d 'Database', 'Id', 'Action', 'Removed', 'Reason' @($backup.Id)
    }
    It 'WalArchiveStatus keeps every KiB value whole, whatever the first row held' {
        $wal = (New-SampleDatabase (Join-Path $work 'wal.db') -Customers 10).FullName
        $first = Sync-TursoWalArchive -Path $wal -Vault $vault
        # A later status of a long run (as Start-TursoWalArchive writes them every -StatusInterval) with far more data.
        $second = New-Object TursoBackup.WalArchiveStatus -Property @{
            Database = 'wal'; Generation = $first.Generation; LastSyncAt = [DateTimeOffset]::UtcNow; FramesCaptured = 123456
            BytesCaptured = 1234567890; Lag = [TimeSpan]::FromSeconds(1.5); Snapshots = 3; Segments = 4567 }
        Assert-Readable @($first, $second) 'Database', 'LastSyncAt (UTC)', 'Frames', 'KiB', 'Lag', 'Snapshots', 'Segments' @(
            ('{0:N1}' -f ($first.BytesCaptured / 1KB)), ('{0:N1}' -f ($second.BytesCaptured / 1KB)))
    }
    It 'RestoreWindow (Get-TursoRestorePoint), and a point-in-time restore shows its window as its Source' {
        $w = Get-TursoRestorePoint -Vault $vault -Database wal
        Assert-Readable $w 'Database', 'Earliest (UTC)', 'Latest (UTC)', 'Generations', 'Segments', 'Gaps'
        $r = Restore-TursoPointInTime -Vault $vault -Database wal -Timestamp ([DateTimeOffset]::UtcNow) -Destination (Join-Path $work 'pitr.db')
        Assert-Readable $r 'Database', 'PointInTime (UTC)', 'Destination' @('pitr.db')
        $list = $r | Format-List | Out-String -Width 80
        $list | Should -Match 'Source *: WAL archive of wal: \d{4}-'
    }
    It 'TursoBranch (New-TursoBranch)' {
        $b = New-TursoBranch -Path $db -Destination (Join-Path $work 'branches')
        Assert-Readable $b 'Name', 'Provider', 'PointInTime (UTC)', 'Location' @($b.Name)
    }
    It 'ExportResult and ImportResult (Export-/Import-TursoDatabase) are typed and shown' {
        $e = Export-TursoDatabase -Path $db -OutFile (Join-Path $work 'shop.sql.zst')
        $e.GetType().Name | Should -Be 'ExportResult'
        Assert-Readable $e 'Tables', 'Rows', 'MB', 'Duration', 'Compression', 'OutFile' @('Zstd', 'shop.sql.zst')
        $i = $e | Import-TursoDatabase -Path (Join-Path $work 'imported.db')
        $i.GetType().Name | Should -Be 'ImportResult'
        Assert-Readable $i 'Tables', 'Statements', 'MB', 'Duration', 'Path' @('imported.db')
    }
    It 'AlertSendResult (Send-TursoBackupAlert -PassThru)' {
        $hook = Start-FakeWebhook
        try {
            $a = Get-TursoBackupHealth -Vault $vault | Send-TursoBackupAlert -WebhookUrl $hook.Url -All -PassThru
            Assert-Readable $a 'Format', 'StatusCode', 'Attempts', 'BytesSent', 'Destination' @('200')
        }
        finally { Stop-FakeWebhook $hook }
    }
    It 'TursoDatabase and TursoCloudConnection (objects as the Platform API client fills them)' {
        $d = New-Object TursoBackup.TursoDatabase -Property @{ Name = 'shop-europe-1'; Group = 'europe'; PrimaryRegion = 'fra'; Url = 'libsql://shop-europe-1-acme.turso.io' }
        Assert-Readable $d 'Name', 'Group', 'Region', 'Parent', 'Url' @('shop-europe-1', 'libsql://shop-europe-1-acme.turso.io')
        $c = New-Object TursoBackup.TursoCloudConnection -Property @{ Organization = 'acme'; OrganizationName = 'Acme Inc'; Plan = 'scaler'; BaseUri = [uri]'https://api.turso.tech' }
        Assert-Readable $c 'Organization', 'Name', 'Plan', 'BaseUri' @('acme', 'https://api.turso.tech')
    }
}
