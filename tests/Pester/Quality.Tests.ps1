#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Module quality gates, checked in real pwsh on the assembled module: the manifest, help for every cmdlet and
# parameter, a default view for every output type, typed parameters, and views readable at 80 columns.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-TursoModuleManifest) -Force
    $cmdlets = @(Get-Command -Module TursoBackup -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
}
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-TursoModuleManifest) -Force
    $common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
}

Describe 'The module manifest' {
    It 'passes Test-ModuleManifest and exports every cmdlet it declares' {
        $manifest = Test-ModuleManifest -Path (Get-TursoModuleManifest) -ErrorAction Stop
        $manifest.Version | Should -Not -BeNullOrEmpty
        $declared = @((Import-PowerShellDataFile (Get-TursoModuleManifest)).CmdletsToExport)
        $declared | Should -Not -Contain '*'
        (Get-Command -Module TursoBackup -CommandType Cmdlet).Name | Sort-Object | Should -Be ($declared | Sort-Object)
    }
    It 'uses only approved verbs' {
        $approved = (Get-Verb).Verb
        Get-Command -Module TursoBackup -CommandType Cmdlet, Function | ForEach-Object { $_.Verb | Should -BeIn $approved -Because $_.Name }
    }
}

Describe 'Help of <Name>' -ForEach $cmdlets {
    BeforeAll {
        $help = Get-Help $Name -Full
        $command = Get-Command $Name
    }
    It 'has a synopsis, a description and at least one example with an explanation' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match "^\s*$Name\s"  # not the auto-generated syntax line
        ($help.Description.Text -join '') | Should -Not -BeNullOrEmpty
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 1
        foreach ($e in @($help.Examples.Example)) {
            $e.Code | Should -Not -BeNullOrEmpty
            ($e.Remarks.Text -join '').Trim() | Should -Not -BeNullOrEmpty -Because "example '$($e.Title)' needs an explanation"
        }
    }
    It 'describes every parameter' {
        $documented = @{}
        foreach ($p in @($help.Parameters.Parameter)) { $documented[$p.Name] = ($p.Description.Text -join '').Trim() }
        foreach ($p in $command.Parameters.Keys | Where-Object { $_ -notin $common }) {
            $documented.ContainsKey($p) | Should -BeTrue -Because "-$p of $Name must be in its help"
            $documented[$p] | Should -Not -BeNullOrEmpty -Because "-$p of $Name needs a description"
        }
    }
    It 'shows no untyped parameter in its syntax' {
        $syntax = (Get-Command $Name -Syntax) -join "`n"
        # An untyped parameter shows as "-Name <Object>" or bare "-Name" for a non-switch.
        foreach ($p in $command.Parameters.Values | Where-Object { $_.Name -notin $common }) {
            if ($p.ParameterType -eq [System.Management.Automation.SwitchParameter]) { continue }
            $p.ParameterType | Should -Not -Be ([object]) -Because "-$($p.Name) of $Name should have a real type (or a transformation attribute)"
            $syntax | Should -Match ("-{0}\]? <(?!Object>)" -f [regex]::Escape($p.Name)) -Because "-$($p.Name) shows its type in the syntax"
        }
    }
    It 'declares its output types, and each has a default view' {
        $types = @($command.OutputType | ForEach-Object { $_.Type } | Where-Object { $_ })
        if ($Name -notin @('Send-TursoBackupAlert', 'Connect-TursoCloud') -or $types.Count -gt 0) {
            $types.Count | Should -BeGreaterOrEqual 1 -Because "$Name declares [OutputType]"
        }
        foreach ($t in $types) {
            if ($t.Namespace -notlike 'TursoBackup*') { continue }
            $view = Get-FormatData -TypeName $t.FullName -PowerShellVersion $PSVersionTable.PSVersion
            $view | Should -Not -BeNullOrEmpty -Because "$($t.FullName) (output of $Name) needs a default view in TursoBackup.Format.ps1xml"
        }
    }
}
