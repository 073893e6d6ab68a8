#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Run with ./build.ps1 -Task Test (after a build). The same checks run here without pwsh in
# tests/TursoBackup.Module.Tests (hosted runspace).
BeforeAll {
    $module = Join-Path $PSScriptRoot '../../out/TursoBackup/TursoBackup.psd1'
    Import-Module $module -Force
    $work = Join-Path ([IO.Path]::GetTempPath()) ("tb-pester-" + [guid]::NewGuid().ToString('N').Substring(0, 8))
    New-Item -ItemType Directory -Path $work | Out-Null
}
AfterAll { Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue }

Describe 'TursoBackup module' {
    It 'exports the commands the README documents' {
        $readme = Get-Content (Join-Path $PSScriptRoot '../../README.md') -Raw
        $section = [regex]::Match($readme, '(?s)<!-- commands -->(.*?)<!-- /commands -->').Groups[1].Value
        $documented = [regex]::Matches($section, '(?m)^\| `([A-Z][a-z]+-[A-Za-z]+)` \|') | ForEach-Object { $_.Groups[1].Value } | Sort-Object
        (Get-Command -Module TursoBackup -CommandType Cmdlet).Name | Sort-Object | Should -Be $documented
    }
    It 'runs the Quickstart end to end' {
        & (Join-Path $PSScriptRoot '../../examples/Quickstart.ps1') -WorkDir $work
        $LASTEXITCODE | Should -BeIn @($null, 0)
        Get-TursoBackup -Vault (Join-Path $work 'vault') | Should -Not -BeNullOrEmpty
    }
}
