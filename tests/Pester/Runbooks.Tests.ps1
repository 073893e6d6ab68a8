#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The runbooks in module/Runbooks (shipped in out/TursoBackup/Runbooks). Run with ./build.ps1 -Task Test after a build.
# Without pwsh the same runbooks run from xUnit: tests/TursoBackup.Module.Tests/RunbookTests.cs.
BeforeAll {
    $module = Join-Path $PSScriptRoot '../../out/TursoBackup/TursoBackup.psd1'
    Import-Module $module -Force
    $runbooks = Join-Path $PSScriptRoot '../../out/TursoBackup/Runbooks'
    $work = Join-Path ([IO.Path]::GetTempPath()) ('tb-pester-rb-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    New-Item -ItemType Directory -Path (Join-Path $work 'data') | Out-Null

    # Loaded by the module itself: its SQLite library is private to it (out/TursoBackup/dependencies).
    function New-SampleDatabase([string] $path) {
        $sql = "$path.sql"
        Set-Content -LiteralPath $sql -Encoding utf8 -Value @'
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), total REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) INSERT INTO customers SELECT i, 'c' || i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO orders SELECT i, 1 + i % 200, i * 1.5 FROM n;
'@
        $null = Import-TursoDatabase -InFile $sql -Path $path
        Remove-Item -LiteralPath $sql
    }
    New-SampleDatabase (Join-Path $work 'data/alpha.db')
    New-SampleDatabase (Join-Path $work 'data/beta.db')
    $vault = Join-Path $work 'vault'
}
AfterAll { Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue }

Describe 'Invoke-DailyBackup.ps1' {
    It 'backs up every database of the folder and reports each one healthy against its RPO' {
        $reports = & (Join-Path $runbooks 'Invoke-DailyBackup.ps1') -Path (Join-Path $work 'data') -Vault $vault
        $LASTEXITCODE | Should -Be 0
        ($reports.Database | Sort-Object) | Should -Be @('alpha', 'beta')
        $reports | ForEach-Object { $_.RpoMet | Should -BeTrue }
        (Get-TursoBackup -Vault $vault).Count | Should -Be 2
    }
}

Describe 'Invoke-RecoveryDrill.ps1' {
    It 'exits 0 when every newest backup restores and passes' {
        $results = & (Join-Path $runbooks 'Invoke-RecoveryDrill.ps1') -Vault $vault -RecoveryTimeObjective '00:05:00'
        $LASTEXITCODE | Should -Be 0
        $results | ForEach-Object { $_.Passed | Should -BeTrue }
    }
    It 'exits 1 and names the database when a backup is damaged' {
        $b = Get-TursoBackup -Vault $vault -Database beta -Latest
        $bytes = [IO.File]::ReadAllBytes($b.Location); $bytes[200] = $bytes[200] -bxor 0x5A; [IO.File]::WriteAllBytes($b.Location, $bytes)
        $results = & (Join-Path $runbooks 'Invoke-RecoveryDrill.ps1') -Vault $vault
        $LASTEXITCODE | Should -Be 1
        ($results | Where-Object { -not $_.Passed }).Database | Should -Be 'beta'
        (Get-TursoBackupHealth -Vault $vault -Database beta).LastVerificationPassed | Should -BeFalse
    }
}
