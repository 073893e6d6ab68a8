<#
.SYNOPSIS
    Build, test, package or clean TursoBackup (for admins and developers with pwsh).

.DESCRIPTION
    A thin entry over dotnet:
      Build    dotnet build TursoBackup.sln -c Release  → the importable module at out/TursoBackup/
      Test     Build, then dotnet test (unit and hosted-runspace tests) and, where Pester 5 is installed,
               Invoke-Pester tests/Pester
      Package  Build, then zip out/TursoBackup into out/TursoBackup-<version>.zip
      Clean    remove out/ and the bin/obj folders

.EXAMPLE
    ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package', 'Clean')]
    [string] $Task = 'Build',
    [ValidateSet('Release', 'Debug')]
    [string] $Configuration = 'Release'
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot

function Invoke-Build {
    dotnet build TursoBackup.sln -c $Configuration
    if ($LASTEXITCODE -ne 0) { throw "dotnet build failed ($LASTEXITCODE)" }
}

switch ($Task) {
    'Build' { Invoke-Build }
    'Test' {
        Invoke-Build
        dotnet test TursoBackup.sln -c $Configuration --no-build
        $dotnetFailed = $LASTEXITCODE -ne 0
        $pester = Get-Module -ListAvailable Pester | Where-Object { $_.Version.Major -ge 5 } | Select-Object -First 1
        if ($pester) {
            Import-Module $pester
            $config = New-PesterConfiguration
            $config.Run.Path = Join-Path $PSScriptRoot 'tests/Pester'
            $config.Run.Exit = $false
            $config.Run.PassThru = $true
            $result = Invoke-Pester -Configuration $config
            if ($result.FailedCount -gt 0) { throw "$($result.FailedCount) Pester test(s) failed" }
        }
        else {
            Write-Warning 'Pester 5 is not installed: tests/Pester was not run (Install-Module Pester -MinimumVersion 5.0).'
        }
        if ($dotnetFailed) { throw 'dotnet test failed' }
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
