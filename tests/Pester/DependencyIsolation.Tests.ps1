#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Dependency isolation, in real pwsh: another vendor's binary module that carries its own, older Microsoft.Data.Sqlite
# and SQLitePCLRaw (tests/Pester/fixtures/OtherSqlite, built here with dotnet build) and TursoBackup are imported
# into one fresh pwsh process, in both orders, and both are used. Each must run on its own copies: the other module
# on Microsoft.Data.Sqlite 8 and its SQLite native, TursoBackup on its own from out/TursoBackup/dependencies.
# Run after a build (out/TursoBackup must exist):
#   dotnet pwsh -NoProfile -NonInteractive -Command 'Import-Module ~/.nuget/packages/pester/5.7.1/tools/Pester.psd1; Invoke-Pester tests/Pester/DependencyIsolation.Tests.ps1 -Output Detailed'
BeforeAll {
    $repo = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    $ours = Join-Path $repo 'out/TursoBackup/TursoBackup.psd1'
    if (-not (Test-Path $ours)) { throw "$ours is missing: build first (dotnet build TursoBackup.sln -c Release)." }
    $work = Join-Path ([IO.Path]::GetTempPath()) ('tb-pester-iso-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    New-Item -ItemType Directory -Path $work | Out-Null

    # The other module, built into its own folder the way it would be installed.
    $otherDir = Join-Path $work 'OtherSqlite'
    $build = & dotnet build (Join-Path $PSScriptRoot 'fixtures/OtherSqlite/OtherSqlite.csproj') -c Release -o $otherDir -nologo 2>&1
    if ($LASTEXITCODE -ne 0) { throw "dotnet build of the OtherSqlite fixture failed:`n$($build -join "`n")" }
    $other = Join-Path $otherDir 'OtherSqlite.psd1'

    # A fresh pwsh: the one running this suite, started again (pwsh.dll under dotnet, or the pwsh executable).
    function Invoke-FreshPwsh([string] $script, [hashtable] $arguments) {
        $file = Join-Path $work ('child-' + [guid]::NewGuid().ToString('N').Substring(0, 8) + '.ps1')
        Set-Content -LiteralPath $file -Value $script -Encoding utf8
        $exe = [Environment]::ProcessPath
        $argv = @('-NoProfile', '-NonInteractive', '-File', $file)
        if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { $argv = @(Join-Path $PSHOME 'pwsh.dll') + $argv }
        $arguments = @{ Helpers = $helpers } + $arguments
        foreach ($k in $arguments.Keys) { $argv += @("-$k", $arguments[$k]) }
        $lines = & $exe @argv 2>&1 | ForEach-Object { "$_" }
        $json = $lines | Where-Object { $_ -like 'REPORT *' } | Select-Object -Last 1
        if (-not $json) { throw "pwsh exited $LASTEXITCODE without a report:`n$($lines -join "`n")" }
        $json.Substring(7) | ConvertFrom-Json
    }

    # What a child reports about the SQLite assemblies in its process: each copy, where from, in which load context.
    $helpers = Join-Path $work 'helpers.ps1'
    Set-Content -LiteralPath $helpers -Encoding utf8 -Value @'
$PSStyle.OutputRendering = 'PlainText'
function Get-SqliteAssemblies {
    [AppDomain]::CurrentDomain.GetAssemblies() |
        Where-Object { $_.GetName().Name -in 'Microsoft.Data.Sqlite', 'SQLitePCLRaw.core', 'SQLitePCLRaw.provider.e_sqlite3', 'TursoBackup.Engine' } |
        ForEach-Object {
            $alc = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($_)
            [ordered]@{ Name = $_.GetName().Name; Version = $_.GetName().Version.ToString(); Location = $_.Location
                        Default = [object]::ReferenceEquals($alc, [System.Runtime.Loader.AssemblyLoadContext]::Default); Context = "$alc" }
        }
}
function Use-Ours([string] $Db, [string] $Vault) {
    $backup = Backup-TursoDatabase -Path $Db -Vault $Vault
    $test = $backup | Test-Backup
    $engine = $backup.GetType().Assembly
    $mds = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($engine).Assemblies | Where-Object { $_.GetName().Name -eq 'Microsoft.Data.Sqlite' }
    [ordered]@{ SqliteVersion = $backup.SqliteVersion; Passed = $test.Passed; Rows = $backup.TotalRows
                EngineDefault = [object]::ReferenceEquals([System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($engine), [System.Runtime.Loader.AssemblyLoadContext]::Default)
                EngineFrom = $engine.Location
                MicrosoftDataSqlite = @($mds | ForEach-Object { $_.GetName().Version.ToString() })
                MicrosoftDataSqliteFrom = @($mds | ForEach-Object { $_.Location }) }
}
function Use-Other([string] $Db, [string] $Sql) {
    $r = Invoke-OtherSqlite -Path $Db -Query $Sql
    [ordered]@{ Rows = @($r.Rows); SqliteVersion = $r.SqliteVersion; MicrosoftDataSqlite = $r.MicrosoftDataSqlite
                MicrosoftDataSqliteFrom = $r.MicrosoftDataSqliteFrom; SQLitePCLRaw = $r.SQLitePCLRaw; SQLitePCLRawFrom = $r.SQLitePCLRawFrom }
}
'@

    # Each module alone in its own process: what "its own copies" are.
    $db = Join-Path $work 'shared.db'
    $otherAlone = Invoke-FreshPwsh @'
param([string] $Helpers, [string] $Other, [string] $Db)
. $Helpers
$ErrorActionPreference = 'Stop'
Import-Module $Other
$use = Use-Other $Db 'CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2), (3); SELECT sum(x) FROM t'
'REPORT ' + ([ordered]@{ Use = $use } | ConvertTo-Json -Depth 6 -Compress)
'@ @{ Other = $other; Db = $db }
    $oursAlone = Invoke-FreshPwsh @'
param([string] $Helpers, [string] $Ours, [string] $Db, [string] $Vault)
. $Helpers
$ErrorActionPreference = 'Stop'
Import-Module $Ours
$use = Use-Ours $Db $Vault
'REPORT ' + ([ordered]@{ Use = $use } | ConvertTo-Json -Depth 6 -Compress)
'@ @{ Ours = $ours; Db = $db; Vault = (Join-Path $work 'vault-alone') }

    # Both in one process: import the first and use it, import the second and use it, use the first again.
    $bothScript = @'
param([string] $Helpers, [string] $Order, [string] $Ours, [string] $Other, [string] $Db, [string] $Vault)
. $Helpers
$ErrorActionPreference = 'Stop'
$report = [ordered]@{ Steps = @() }
try {
    if ($Order -eq 'OtherFirst') {
        Import-Module $Other; $report.Steps += 'import other'
        $report.OtherBefore = Use-Other $Db 'SELECT sum(x) FROM t'; $report.Steps += 'use other'
        Import-Module $Ours; $report.Steps += 'import ours'
        $report.Ours = Use-Ours $Db $Vault; $report.Steps += 'use ours'
        $report.OtherAfter = Use-Other $Db 'SELECT count(*) FROM t'; $report.Steps += 'use other again'
    } else {
        Import-Module $Ours; $report.Steps += 'import ours'
        $report.Ours = Use-Ours $Db $Vault; $report.Steps += 'use ours'
        Import-Module $Other; $report.Steps += 'import other'
        $report.OtherAfter = Use-Other $Db 'SELECT count(*) FROM t'; $report.Steps += 'use other'
        $report.OursAgain = Use-Ours $Db $Vault; $report.Steps += 'use ours again'
    }
} catch {
    $report.Error = "after [$($report.Steps -join ', ')]: " + ($_.Exception.GetBaseException().GetType().FullName) + ': ' + $_.Exception.GetBaseException().Message
}
$report.Assemblies = @(Get-SqliteAssemblies)
'REPORT ' + ($report | ConvertTo-Json -Depth 6 -Compress)
'@
}
AfterAll { Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue }

Describe 'Alone, each module runs on its own copies' {
    It 'the other module: Microsoft.Data.Sqlite 8 and SQLitePCLRaw from its own folder' {
        $otherAlone.Use.Rows | Should -Be @(6)
        $otherAlone.Use.MicrosoftDataSqlite | Should -BeLike '8.0.*'
        $otherAlone.Use.MicrosoftDataSqliteFrom | Should -BeLike "$otherDir*"
        $otherAlone.Use.SQLitePCLRawFrom | Should -BeLike "$otherDir*"
    }
    It 'TursoBackup: its Microsoft.Data.Sqlite from out/TursoBackup/dependencies, and a different SQLite native than the other module' {
        $oursAlone.Use.Passed | Should -BeTrue
        $oursAlone.Use.MicrosoftDataSqlite | Should -HaveCount 1
        $oursAlone.Use.MicrosoftDataSqlite[0] | Should -Not -Be $otherAlone.Use.MicrosoftDataSqlite
        $oursAlone.Use.MicrosoftDataSqliteFrom[0] | Should -Be (Join-Path $repo 'out/TursoBackup/dependencies/Microsoft.Data.Sqlite.dll')
        # Without different natives the mixed runs below could not tell whose SQLite each module reached.
        $oursAlone.Use.SqliteVersion | Should -Not -Be $otherAlone.Use.SqliteVersion
    }
}

Describe 'Both modules in one pwsh process' -ForEach @(
    @{ Order = 'OtherFirst' }
    @{ Order = 'OursFirst' }
) {
    BeforeAll {
        $r = Invoke-FreshPwsh $bothScript @{ Order = $Order; Ours = $ours; Other = $other; Db = $db; Vault = (Join-Path $work "vault-$Order") }
        $otherUses = @($r.OtherBefore, $r.OtherAfter) | Where-Object { $_ }
        $ourUses = @($r.Ours, $r.OursAgain) | Where-Object { $_ }
    }
    It '<Order>: every step runs without an error' {
        $r.Error | Should -BeNullOrEmpty
        $r.Steps | Should -HaveCount 5
    }
    It '<Order>: the other module keeps its own Microsoft.Data.Sqlite, SQLitePCLRaw and SQLite native' {
        $otherUses | Should -Not -BeNullOrEmpty
        foreach ($use in $otherUses) {
            $use.MicrosoftDataSqlite | Should -Be $otherAlone.Use.MicrosoftDataSqlite
            $use.MicrosoftDataSqliteFrom | Should -BeLike "$otherDir*"
            $use.SQLitePCLRaw | Should -Be $otherAlone.Use.SQLitePCLRaw
            $use.SQLitePCLRawFrom | Should -BeLike "$otherDir*"
            $use.SqliteVersion | Should -Be $otherAlone.Use.SqliteVersion
        }
        $r.OtherAfter.Rows | Should -Be @(3)
    }
    It '<Order>: TursoBackup backs up and proves the backup on its own copies, in its own load context' {
        $ourUses | Should -Not -BeNullOrEmpty
        foreach ($use in $ourUses) {
            $use.Passed | Should -BeTrue
            $use.Rows | Should -Be 3
            $use.SqliteVersion | Should -Be $oursAlone.Use.SqliteVersion
            $use.EngineDefault | Should -BeFalse
            $use.EngineFrom | Should -Be (Join-Path $repo 'out/TursoBackup/dependencies/TursoBackup.Engine.dll')
            $use.MicrosoftDataSqlite | Should -Be $oursAlone.Use.MicrosoftDataSqlite
            $use.MicrosoftDataSqliteFrom | Should -Be $oursAlone.Use.MicrosoftDataSqliteFrom
        }
    }
    It '<Order>: the process holds both copies of Microsoft.Data.Sqlite: the other module''s in the default context, ours in the module''s' {
        $mds = @($r.Assemblies | Where-Object Name -eq 'Microsoft.Data.Sqlite')
        $mds | Should -HaveCount 2
        ($mds | Where-Object Default).Location | Should -BeLike "$otherDir*"
        ($mds | Where-Object { -not $_.Default }).Location | Should -Be (Join-Path $repo 'out/TursoBackup/dependencies/Microsoft.Data.Sqlite.dll')
        # Nothing of ours in the default context but the cmdlet dll.
        @($r.Assemblies | Where-Object { $_.Default -and $_.Location -like (Join-Path $repo 'out/TursoBackup*') }) | Should -HaveCount 0
    }
}

Describe 'TursoBackup alone in real pwsh, from out/TursoBackup' {
    BeforeAll {
        $alone = Invoke-FreshPwsh @'
param([string] $Helpers, [string] $Ours, [string] $Db, [string] $Vault)
. $Helpers
$ErrorActionPreference = 'Stop'
$report = [ordered]@{}
try {
    Import-Module $Ours
    Import-Module $Ours -Force    # removed and imported again: OnRemove, then OnImport
    $null = Backup-TursoDatabase -Path $Db -Vault $Vault
    $report.Members = @(Get-TursoBackup -Vault $Vault | Get-Member | ForEach-Object TypeName | Select-Object -Unique)
    $report.Table = (Get-TursoBackup -Vault $Vault | Format-Table | Out-String -Width 250)
    $report.TestMembers = @(Get-TursoBackup -Vault $Vault | Test-Backup | Get-Member | ForEach-Object TypeName | Select-Object -Unique)
    $report.Literal = [TursoBackup.BackupInfo].FullName
    $report.IsOfType = (Get-TursoBackup -Vault $Vault)[0] -is [TursoBackup.BackupInfo]
    $report.Enum = [string][TursoBackup.BackupKind]::Dump
    $report.Piped = @(Get-TursoBackup -Vault $Vault | Test-Backup | ForEach-Object Passed)
    $report.ThirdPartyVisible = $null -ne ('Microsoft.Data.Sqlite.SqliteConnection' -as [type])
    $report.Native = @(Get-Content /proc/self/maps -ErrorAction SilentlyContinue | Where-Object { $_ -match '[/\\](lib)?e_sqlite3\.(so|dylib|dll)$' } | ForEach-Object { ($_ -split '\s+', 6)[5] } | Select-Object -Unique)
} catch {
    $report.Error = "$($_.Exception.GetType().FullName): $($_.Exception.Message)"
}
'REPORT ' + ($report | ConvertTo-Json -Depth 6 -Compress)
'@ @{ Ours = $ours; Db = $db; Vault = (Join-Path $work 'vault-view') }
    }
    It 'the module root holds the cmdlet dll only; everything it depends on is under dependencies/' {
        $root = Join-Path $repo 'out/TursoBackup'
        @(Get-ChildItem $root -Filter *.dll -File).Name | Should -Be @('TursoBackup.dll')
        $deps = @(Get-ChildItem (Join-Path $root 'dependencies') -Filter *.dll -File).Name
        foreach ($name in 'TursoBackup.Engine.dll', 'Microsoft.Data.Sqlite.dll', 'SQLitePCLRaw.core.dll', 'SQLitePCLRaw.provider.e_sqlite3.dll', 'ZstdSharp.dll', 'System.Memory.dll') {
            $deps | Should -Contain $name
        }
        # No SDK or host dlls travel with the module: PowerShell's own and SQLitePCLRaw's batteries (ours sets the provider).
        $deps | Should -Not -Contain 'System.Management.Automation.dll'
        $deps | Should -Not -Contain 'SQLitePCLRaw.batteries_v2.dll'
        foreach ($rid in 'win-x64', 'linux-x64', 'linux-arm64', 'osx-x64', 'osx-arm64') {
            @(Get-ChildItem (Join-Path $root "dependencies/$rid") -File) | Should -HaveCount 1
        }
    }
    It 'imports twice, backs up, and its results keep their type names, views and type literals' {
        $alone.Error | Should -BeNullOrEmpty
        $alone.Members | Should -Be @('TursoBackup.BackupInfo')
        $alone.TestMembers | Should -Be @('TursoBackup.BackupTestResult')
        $alone.Table | Should -Match 'Database\s+Id\s+Kind\s+Stored MB\s+Rows\s+Duration'   # the Format.ps1xml view
        $alone.Literal | Should -Be 'TursoBackup.BackupInfo'
        $alone.IsOfType | Should -BeTrue
        $alone.Enum | Should -Be 'Dump'
        $alone.Piped | Should -Be @($true)
    }
    It 'shows scripts its own types only: Microsoft.Data.Sqlite stays private to the module' {
        $alone.ThirdPartyVisible | Should -BeFalse
    }
    It 'maps the SQLite native from out/TursoBackup/dependencies/linux-ARCH/ (Linux: /proc/self/maps)' -Skip:(-not $IsLinux) {
        $alone.Native | Should -Be @(Join-Path $repo "out/TursoBackup/dependencies/linux-$([System.Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture.ToString().ToLowerInvariant())/libe_sqlite3.so")
    }
}
