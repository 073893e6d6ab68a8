<#
.SYNOPSIS
    Build, test, package or clean TursoBackup (for admins and developers with pwsh).

.DESCRIPTION
    A thin entry over dotnet, run in the pinned pwsh (`dotnet tool restore` installs it from .config/dotnet-tools.json):
      Build       dotnet build TursoBackup.sln -c Release  → the importable module at out/TursoBackup/
      Quickstart  Build, then run examples/Quickstart.ps1 (sample database → backup → Test-Backup → restore)
      Test        Build, then every test: dotnet test (engine and module tests) and the Pester suites in tests/Pester
                  (Pester 5.7.1, restored from NuGet by the build), ending with "N passed, N failed, N skipped";
                  exits 1 when any test failed
      Package     Build, then zip out/TursoBackup into out/TursoBackup-<version>.zip
      Clean       remove out/ and the bin/obj folders

.EXAMPLE
    dotnet tool restore; dotnet pwsh -NoProfile -NonInteractive -File ./build.ps1 -Task Test

.EXAMPLE
    ./build.ps1 -Task Test -PesterOnly    # the Pester suites alone, against the module built last
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Quickstart', 'Test', 'Package', 'Clean')]
    [string] $Task = 'Build',
    [ValidateSet('Release', 'Debug')]
    [string] $Configuration = 'Release',
    # Test: run only the Pester suites (no build, no dotnet test).
    [switch] $PesterOnly
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

function Invoke-Build {
    dotnet build TursoBackup.sln -c $Configuration
    if ($LASTEXITCODE -ne 0) { throw "dotnet build failed ($LASTEXITCODE)" }
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Quickstart' {
        Invoke-Build
        & (Join-Path $PSScriptRoot 'examples/Quickstart.ps1')
    }
    'Test' {
        $passed = 0; $failed = 0; $skipped = 0
        if (-not $PesterOnly) {
            Invoke-Build
            $results = Join-Path $PSScriptRoot 'out/test-results'
            Remove-Item -LiteralPath $results -Recurse -Force -ErrorAction SilentlyContinue
            $log = dotnet test TursoBackup.sln -c $Configuration --no-build --logger trx --results-directory $results 2>&1 | ForEach-Object { Write-Host $_; $_ }
            $dotnetExit = $LASTEXITCODE
            # Why each skipped test was skipped (a missing peer says how to install it): dotnet test's console does not say.
            foreach ($trx in Get-ChildItem -LiteralPath $results -Filter *.trx -ErrorAction SilentlyContinue) {
                $xml = [xml](Get-Content -LiteralPath $trx.FullName -Raw)
                foreach ($r in @($xml.TestRun.Results.UnitTestResult | Where-Object outcome -eq 'NotExecuted')) {
                    Write-Host ("Skipped {0}: {1}" -f $r.testName, (($r.Output.ErrorInfo.Message, $r.Output.StdOut | Where-Object { $_ }) -join ' ').Trim())
                }
            }
            # Each test assembly ends with "Passed!  - Failed:     0, Passed:   265, Skipped:     0, Total: …".
            $summaries = @($log | Select-String -Pattern '^(Passed|Failed|Skipped)! +- Failed: +(\d+), Passed: +(\d+), Skipped: +(\d+)')
            foreach ($m in $summaries) {
                $failed += [int]$m.Matches[0].Groups[2].Value
                $passed += [int]$m.Matches[0].Groups[3].Value
                $skipped += [int]$m.Matches[0].Groups[4].Value
            }
            if ($summaries.Count -lt 2) { Write-Host "build: expected 2 test assemblies, saw $($summaries.Count)"; $failed = [Math]::Max($failed, 1) }
            elseif ($dotnetExit -ne 0 -and $failed -eq 0) { Write-Host "build: dotnet test exited $dotnetExit (a crashed test host?)"; $failed = 1 }
        }
        # Pester 5.7.1 from the NuGet package folder (the module test project downloads it on restore).
        $packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages' }
        $pesterManifest = Join-Path $packages 'pester/5.7.1/tools/Pester.psd1'
        if (-not (Test-Path -LiteralPath $pesterManifest)) {
            dotnet restore tests/TursoBackup.Module.Tests | Out-Null
        }
        if (-not (Test-Path -LiteralPath $pesterManifest)) { throw "Pester 5.7.1 was not found at $pesterManifest after a restore of tests/TursoBackup.Module.Tests." }
        Import-Module $pesterManifest -Force
        $config = New-PesterConfiguration
        $config.Run.Path = Join-Path $PSScriptRoot 'tests/Pester'
        $config.Run.Exit = $false
        $config.Run.PassThru = $true
        $config.Output.Verbosity = 'Detailed'
        $config.TestResult.Enabled = $true
        $config.TestResult.OutputPath = Join-Path $PSScriptRoot 'out/test-results/pester.xml'
        $result = Invoke-Pester -Configuration $config
        Write-Host ("Pester: {0} passed, {1} failed, {2} skipped" -f $result.PassedCount, $result.FailedCount, $result.SkippedCount)
        $passed += $result.PassedCount
        $failed += $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
        $skipped += $result.SkippedCount
        Write-Host "$passed passed, $failed failed, $skipped skipped"
        if ($failed -gt 0) { exit 1 }
    }
    'Package' {
        Invoke-Build
        $version = (Import-PowerShellDataFile out/TursoBackup/TursoBackup.psd1).ModuleVersion
        $zip = "out/TursoBackup-$version.zip"
        Compress-Archive -Path out/TursoBackup -DestinationPath $zip -Force
        Write-Host "Packaged $zip"
    }
    'Clean' {
        Remove-Item -Recurse -Force out -ErrorAction SilentlyContinue
        Get-ChildItem -Recurse -Directory -Include bin, obj -Path src, tests | Remove-Item -Recurse -Force
    }
}
