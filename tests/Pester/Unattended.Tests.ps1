#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Issue 12 #1: unattended runs never prompt where nothing is destroyed. Every scenario runs in its own real
# `pwsh -NoProfile -NonInteractive` process (as a scheduled task or a systemd unit runs it), against real SQLite files
# made with sqlite3 in a temporary folder. The rule: making something new never asks; overwriting (-Force) and
# removing ask, -Confirm:$false skips the question, and a session that cannot ask says so and writes nothing.
# Run: Import-Module ~/.nuget/packages/pester/5.7.1/tools/Pester.psd1; Invoke-Pester tests/Pester/Unattended.Tests.ps1 -Output Detailed
# (after a build; CI runs it through CmdletIdiomTests.UnattendedPesterSuitePassesInRealPwsh).

BeforeAll {
    $script:module = (Resolve-Path (Join-Path $PSScriptRoot '../../out/TursoBackup/TursoBackup.psd1')).ProviderPath
    if (-not (Get-Command sqlite3 -ErrorAction SilentlyContinue)) { throw 'sqlite3 is required (apt-get install sqlite3).' }

    # The pwsh that runs this suite, started again: through dotnet when it is the pinned tool (pwsh.dll).
    $script:pwsh = [Environment]::ProcessPath
    $script:pwshArgs = @()
    if ([IO.Path]::GetFileNameWithoutExtension($script:pwsh) -eq 'dotnet') { $script:pwshArgs = @(Join-Path $PSHOME 'pwsh.dll') }

    $script:roots = [Collections.Generic.List[string]]::new()
    function New-Work {
        $dir = Join-Path ([IO.Path]::GetTempPath()) ('tb-unattended-' + [guid]::NewGuid().ToString('N').Substring(0, 10))
        New-Item -ItemType Directory -Path $dir | Out-Null
        $script:roots.Add($dir)
        $dir
    }

    function New-Database([string]$Path, [int]$Rows = 3) {
        & sqlite3 $Path "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < $Rows) INSERT INTO t(v) SELECT 'row ' || i FROM n;" | Out-Null
        $Path
    }

    function Get-Rows([string]$Path) { [int](& sqlite3 $Path 'SELECT count(*) FROM t;') }

    # Runs $Script in a fresh non-interactive pwsh with the module imported; returns exit code, stdout, stderr and the
    # error IDs (FullyQualifiedErrorId) of every error the script met.
    function Invoke-Unattended([string]$Script, [int]$TimeoutSeconds = 120) {
        $full = "`$PSStyle.OutputRendering = 'PlainText'; `$ErrorActionPreference = 'Continue'; Import-Module '$script:module'`n" +
                "$Script`n'IDS:' + ((@(`$Error) | ForEach-Object { `$_.FullyQualifiedErrorId }) -join ';')"
        $psi = [Diagnostics.ProcessStartInfo]::new($script:pwsh)
        foreach ($a in $script:pwshArgs + @('-NoProfile', '-NonInteractive', '-OutputFormat', 'Text', '-Command', $full)) { $psi.ArgumentList.Add($a) }
        $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.RedirectStandardInput = $true
        $psi.UseShellExecute = $false
        $psi.Environment['NO_COLOR'] = '1'
        $p = [Diagnostics.Process]::Start($psi)
        $p.StandardInput.Close()
        $out = $p.StandardOutput.ReadToEndAsync(); $err = $p.StandardError.ReadToEndAsync()
        if (-not $p.WaitForExit($TimeoutSeconds * 1000)) { $p.Kill($true); throw "pwsh did not finish in $TimeoutSeconds s (a prompt?): $Script" }
        $stdout = $out.Result
        $ids = ([regex]::Match($stdout, '(?m)^IDS:(.*)$').Groups[1].Value -split ';' | Where-Object { $_ })
        [pscustomobject]@{ Code = $p.ExitCode; Out = $stdout; Err = $err.Result; Ids = @($ids) }
    }

    # What every refused overwrite or removal must say: the cause and the way out, never the host's own complaint.
    function Assert-AsksForConfirm($Run) {
        $Run.Err | Should -Match 'needs a confirmation'
        $Run.Err | Should -Match ([regex]::Escape('-Confirm:$false'))
        $Run.Err | Should -Match 'non-interactive'
        $Run.Err | Should -Not -Match 'Read and Prompt functionality'
        ($Run.Ids | Where-Object { $_ -like 'ConfirmationRequired,*' }) | Should -Not -BeNullOrEmpty
    }

    function Assert-Clean($Run) {
        $Run.Err | Should -BeNullOrEmpty
        $Run.Ids | Should -BeNullOrEmpty
        $Run.Out | Should -Not -Match 'NonInteractive mode'
    }
}

AfterAll {
    foreach ($r in $script:roots) { Remove-Item -LiteralPath $r -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Making something new never prompts (pwsh -NonInteractive)' {
    It 'backs up, and restores the newest backup to a new file as the README shows' {
        $w = New-Work
        $db = New-Database (Join-Path $w 'shop.db') 5
        $run = Invoke-Unattended @"
Backup-TursoDatabase -Path '$db' -Vault '$w/backups' | Out-Null
Get-TursoBackup -Vault '$w/backups' -Database shop -Latest | Restore-TursoBackup -Destination '$w/restore/shop.db' | Out-Null
"@
        Assert-Clean $run
        Get-Rows "$w/restore/shop.db" | Should -Be 5
    }

    It 'exports, imports to a new file, branches, tests' {
        $w = New-Work
        $db = New-Database (Join-Path $w 'shop.db') 4
        $run = Invoke-Unattended @"
Export-TursoDatabase -Path '$db' -OutFile '$w/shop.sql' | Out-Null
Import-TursoDatabase -InFile '$w/shop.sql' -Path '$w/imported.db' | Out-Null
New-TursoBranch -Path '$db' -Name copy | Out-Null
if (-not (Test-Backup -Path '$db').Passed) { throw 'Test-Backup failed' }
"@
        Assert-Clean $run
        Get-Rows "$w/imported.db" | Should -Be 4
        Get-Rows "$w/copy.db" | Should -Be 4
    }

    It 'archives the WAL (Sync and Start) and restores a point in time to a new file' {
        $w = New-Work
        $db = New-Database (Join-Path $w 'live.db') 6
        $run = Invoke-Unattended @"
Sync-TursoWalArchive -Path '$db' -Vault '$w/v' | Out-Null
Start-TursoWalArchive -Path '$db' -Vault '$w/v' -Duration '00:00:01' | Out-Null
Restore-TursoPointInTime -Vault '$w/v' -Database live -Timestamp ([DateTimeOffset]::UtcNow) -Destination '$w/pitr.db' | Out-Null
"@
        Assert-Clean $run
        Get-Rows "$w/pitr.db" | Should -Be 6
    }
}

Describe 'Overwriting asks; -Confirm:$false skips the question' {
    BeforeAll {
        # One source with 5 rows backed up, and existing targets with 2 rows to be overwritten.
        $script:w = New-Work
        $script:db = New-Database (Join-Path $w 'shop.db') 5
        Invoke-Unattended "Backup-TursoDatabase -Path '$db' -Vault '$w/v' | Out-Null; Sync-TursoWalArchive -Path '$db' -Vault '$w/v' | Out-Null; Export-TursoDatabase -Path '$db' -OutFile '$w/shop.sql' | Out-Null" | Out-Null
    }

    It '<Name>: existing target with -Force and no -Confirm:$false is a clear error and nothing is written; with it, done' -ForEach @(
        @{ Name = 'Restore-TursoBackup'; Command = "Get-TursoBackup -Vault '{w}/v' -Database shop -Latest | Restore-TursoBackup -Destination '{t}' -Force" }
        @{ Name = 'Restore-TursoBackup by name'; Command = "Restore-TursoBackup -Vault '{w}/v' -Database shop -Destination '{t}' -Force" }
        @{ Name = 'Import-TursoDatabase'; Command = "Import-TursoDatabase -InFile '{w}/shop.sql' -Path '{t}' -Force" }
        @{ Name = 'Restore-TursoPointInTime'; Command = "Restore-TursoPointInTime -Vault '{w}/v' -Database shop -Timestamp ([DateTimeOffset]::UtcNow) -Destination '{t}' -Force" }
    ) {
        $target = New-Database (Join-Path $w ([guid]::NewGuid().ToString('N') + '.db')) 2
        $cmd = $Command.Replace('{w}', $w).Replace('{t}', $target)
        $hash = (Get-FileHash -LiteralPath $target).Hash

        $refused = Invoke-Unattended "$cmd | Out-Null"
        Assert-AsksForConfirm $refused
        (Get-FileHash -LiteralPath $target).Hash | Should -Be $hash
        Get-Rows $target | Should -Be 2

        $done = Invoke-Unattended "$cmd -Confirm:`$false | Out-Null"
        Assert-Clean $done
        Get-Rows $target | Should -Be 5
    }

    It 'Export-TursoDatabase over an existing dump: -Force asks, -Confirm:$false overwrites' {
        $out = Join-Path $w 'old.sql'
        Set-Content -LiteralPath $out -Value 'precious'
        $refused = Invoke-Unattended "Export-TursoDatabase -Path '$db' -OutFile '$out' -Force | Out-Null"
        Assert-AsksForConfirm $refused
        Get-Content -LiteralPath $out | Should -Be 'precious'
        Assert-Clean (Invoke-Unattended "Export-TursoDatabase -Path '$db' -OutFile '$out' -Force -Confirm:`$false | Out-Null")
        (Get-Content -LiteralPath $out -TotalCount 1) | Should -Be 'PRAGMA foreign_keys=OFF;'
    }
}

Describe 'Destroying asks; -Confirm:$false skips the question' {
    It 'Remove-TursoBackup' {
        $w = New-Work
        $db = New-Database (Join-Path $w 'shop.db')
        Assert-Clean (Invoke-Unattended "Backup-TursoDatabase -Path '$db' -Vault '$w/v' | Out-Null")
        $refused = Invoke-Unattended "Get-TursoBackup -Vault '$w/v' -Database shop | Remove-TursoBackup"
        Assert-AsksForConfirm $refused
        @(Get-ChildItem -Directory "$w/v/databases/shop").Count | Should -Be 1
        Assert-Clean (Invoke-Unattended "Get-TursoBackup -Vault '$w/v' -Database shop | Remove-TursoBackup -Confirm:`$false")
        @(Get-ChildItem -Directory "$w/v/databases/shop" -ErrorAction SilentlyContinue).Count | Should -Be 0
    }

    It 'Invoke-TursoBackupRetention' {
        $w = New-Work
        $db = New-Database (Join-Path $w 'shop.db')
        Assert-Clean (Invoke-Unattended "1..2 | ForEach-Object { Backup-TursoDatabase -Path '$db' -Vault '$w/v' | Out-Null; Start-Sleep -Milliseconds 1100 }")
        $plan = "Invoke-TursoBackupRetention -Vault '$w/v' -Daily 0 -Weekly 0 -Monthly 0 -KeepLast 1"
        $refused = Invoke-Unattended "$plan | Out-Null"
        Assert-AsksForConfirm $refused
        @(Get-ChildItem -Directory "$w/v/databases/shop").Count | Should -Be 2
        Assert-Clean (Invoke-Unattended "$plan -Confirm:`$false | Out-Null")
        @(Get-ChildItem -Directory "$w/v/databases/shop").Count | Should -Be 1
    }

    It 'Remove-TursoBranch' {
        $w = New-Work
        $db = New-Database (Join-Path $w 'shop.db')
        Assert-Clean (Invoke-Unattended "New-TursoBranch -Path '$db' -Name drill | Out-Null")
        $refused = Invoke-Unattended "Get-TursoBranch -Directory '$w' | Remove-TursoBranch"
        Assert-AsksForConfirm $refused
        Test-Path -LiteralPath "$w/drill.db" | Should -BeTrue
        Assert-Clean (Invoke-Unattended "Get-TursoBranch -Directory '$w' | Remove-TursoBranch -Confirm:`$false")
        Test-Path -LiteralPath "$w/drill.db" | Should -BeFalse
    }
}

Describe 'Cmdlet idiom in real pwsh (issue 12 #2-#4)' {
    It 'Get-TursoBackup: a filter that matches nothing is silence; a database without backups is BackupNotFound' {
        $w = New-Work
        $db = New-Database (Join-Path $w 'shop.db')
        $run = Invoke-Unattended @"
Backup-TursoDatabase -Path '$db' -Vault '$w/v' | Out-Null
`$none = @(Get-TursoBackup -Vault '$w/v' -Database shop -Before (Get-Date).AddDays(-90) -Kind Dump)
'COUNT:' + `$none.Count
"@
        Assert-Clean $run
        $run.Out | Should -Match '(?m)^COUNT:0$'
        $missing = Invoke-Unattended "Get-TursoBackup -Vault '$w/v' -Database nosuch"
        $missing.Err | Should -Match "has no backups of 'nosuch'"
        $missing.Ids | Should -Be @('BackupNotFound,TursoBackup.Cmdlets.GetTursoBackupCommand')
    }

    It 'Start-TursoWalArchive on a non-WAL database: one error, no status object' {
        $w = New-Work
        $db = Join-Path $w 'rollback.db'
        & sqlite3 $db 'CREATE TABLE t(x); INSERT INTO t VALUES (1);' | Out-Null
        $run = Invoke-Unattended "`$s = @(Start-TursoWalArchive -Path '$db' -Vault '$w/v' -Duration '00:00:08'); 'COUNT:' + `$s.Count"
        $run.Ids | Should -Be @('NotWalMode,TursoBackup.Cmdlets.StartTursoWalArchiveCommand')
        ([regex]::Matches($run.Err, 'not in WAL mode')).Count | Should -Be 1
        $run.Out | Should -Match '(?m)^COUNT:0$'
    }

    It 'Get-ChildItem | Backup-TursoDatabase binds -LiteralPath; -Path expands; -LiteralPath never does' {
        $w = New-Work
        New-Database (Join-Path $w 'a.db') | Out-Null
        New-Database (Join-Path $w 'b.db') | Out-Null
        New-Item -ItemType Directory "$w/odd" | Out-Null
        & sqlite3 "$w/odd/shop[1].db" 'CREATE TABLE t(x); INSERT INTO t VALUES (1);' | Out-Null
        $run = Invoke-Unattended @"
'PIPED:' + ((Get-ChildItem '$w/*.db' | Backup-TursoDatabase -Vault '$w/v' | Sort-Object Database).Database -join ',')
'WILD:' + (@(Backup-TursoDatabase -Path '$w/?.db' -Vault '$w/v').Count)
Get-ChildItem -LiteralPath '$w/odd' | Export-TursoDatabase -OutFile '$w/odd.sql' | Out-Null
'ODD:' + (Test-Backup -LiteralPath '$w/odd/shop[1].db').Passed
"@
        Assert-Clean $run
        $run.Out | Should -Match '(?m)^PIPED:a,b$'
        $run.Out | Should -Match '(?m)^WILD:2$'
        $run.Out | Should -Match '(?m)^ODD:True$'
        (Get-Content -LiteralPath "$w/odd.sql" -TotalCount 1) | Should -Be 'PRAGMA foreign_keys=OFF;'

        $miss = Invoke-Unattended "Backup-TursoDatabase -Path '$w/*.nomatch' -Vault '$w/v'; Backup-TursoDatabase -LiteralPath '$w/?.db' -Vault '$w/v'"
        $miss.Ids | Should -Be @('PathNotFound,TursoBackup.Cmdlets.BackupTursoDatabaseCommand', 'ItemNotFound,TursoBackup.Cmdlets.BackupTursoDatabaseCommand')
    }

    It '-Timestamp: every accepted form restores; each failure has its own error ID and writes nothing' {
        $w = New-Work
        $db = New-Database (Join-Path $w 'live.db') 4
        Assert-Clean (Invoke-Unattended "Sync-TursoWalArchive -Path '$db' -Vault '$w/v' | Out-Null; Start-Sleep -Seconds 1.2")
        $run = Invoke-Unattended @"
foreach (`$t in @([DateTimeOffset]::UtcNow, (Get-Date), [DateTime]::UtcNow, [DateTimeOffset]::UtcNow.ToString('o'), (Get-Date -AsUTC -Format 'yyyy-MM-ddTHH:mm:ssZ'))) {
    Restore-TursoPointInTime -Vault '$w/v' -Database live -Timestamp `$t -Destination '$w/ok.db' | Out-Null
    Remove-Item -LiteralPath '$w/ok.db'
}
"@
        Assert-Clean $run
        $bad = Invoke-Unattended @"
Restore-TursoPointInTime -Vault '$w/v' -Database live -Timestamp '2099-01-01T00:00:00Z' -Destination '$w/x.db'
Restore-TursoPointInTime -Vault '$w/v' -Database live -Timestamp '2001-01-01' -Destination '$w/x.db'
Restore-TursoPointInTime -Vault '$w/v' -Database live -Timestamp 'yesterday at noon' -Destination '$w/x.db'
"@
        $bad.Ids | Should -Be @('ParameterArgumentTransformationError,TursoBackup.Cmdlets.RestoreTursoPointInTimeCommand',
            'TimestampTooOld,TursoBackup.Cmdlets.RestoreTursoPointInTimeCommand', 'TimestampInFuture,TursoBackup.Cmdlets.RestoreTursoPointInTimeCommand')
        $bad.Err | Should -Match 'Invalid timestamp format: use ISO 8601 such as 2024-01-15T10:30:00Z'
        Test-Path -LiteralPath "$w/x.db" | Should -BeFalse
    }
}
