#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The runbooks shipped in out/TursoBackup/Runbooks, each run in a NEW pwsh process exactly as a scheduled task runs it
# (pwsh -NoProfile -NonInteractive -File …): exit codes, and what reaches the alert channel (a local webhook receiver
# standing in for Slack/Teams). Run with ./build.ps1 -Task Test after a build.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-TursoModuleManifest) -Force
    $runbooks = Join-Path (Get-RepoRoot) 'out/TursoBackup/Runbooks'
    $daily = Join-Path $runbooks 'Invoke-DailyBackup.ps1'
    $drill = Join-Path $runbooks 'Invoke-RecoveryDrill.ps1'
}

Describe 'Invoke-DailyBackup.ps1' {
    BeforeAll {
        $work = New-TestFolder 'tb-daily'
        $data = Join-Path $work 'data'; [void][IO.Directory]::CreateDirectory($data)
        New-SampleDatabase (Join-Path $data 'alpha.db') | Out-Null
        New-SampleDatabase (Join-Path $data 'beta.db') -Customers 50 | Out-Null
        $vault = Join-Path $work 'vault'
        $hook = Start-FakeWebhook
    }
    AfterAll { Stop-FakeWebhook $hook; Remove-TestFolder $work }

    It 'backs up and proves every database, reports each one Healthy on day one, sends no alert and exits 0' {
        $run = Invoke-Pwsh -File $daily -ArgumentList '-Path', $data, '-Vault', $vault, '-WebhookUrl', $hook.Url
        $run.ExitCode | Should -Be 0 -Because ($run.Errors -join "`n")
        $health = Get-TursoBackupHealth -Vault $vault
        ($health.Database | Sort-Object) | Should -Be @('alpha', 'beta')
        $health | ForEach-Object { $_.Status | Should -Be 'Healthy' -Because ($_.Findings -join ' ') }
        $health | ForEach-Object { $_.LastVerificationPassed | Should -BeTrue }
        @(Get-FakeWebhookMessage $hook).Count | Should -Be 0
    }

    It 'exits 1 and alerts, naming the database, when one backup fails; the others are still backed up' {
        [IO.File]::WriteAllText((Join-Path $data 'gamma.db'), 'this is not a database')
        try {
            $before = Get-TursoBackup -Vault $vault -Database alpha -Latest
            $run = Invoke-Pwsh -File $daily -ArgumentList '-Path', $data, '-Vault', $vault, '-WebhookUrl', $hook.Url
            $run.ExitCode | Should -Be 1
            ($run.Errors -join "`n") | Should -Match 'gamma'
            (Get-TursoBackup -Vault $vault -Database alpha -Latest).Id | Should -Not -Be $before.Id
            $messages = @(Get-FakeWebhookMessage $hook)
            $messages.Count | Should -Be 1
            $messages[0] | Should -Match 'gamma'
            $messages[0] | Should -Match 'Backup-TursoDatabase failed'
        }
        finally { Remove-Item -LiteralPath (Join-Path $data 'gamma.db') -Force }
    }

    It 'exits 1 and alerts when the folder to back up does not exist' {
        $hook.Bodies.Clear()
        $run = Invoke-Pwsh -File $daily -ArgumentList '-Path', (Join-Path $work 'no-such-folder'), '-Vault', $vault, '-WebhookUrl', $hook.Url
        $run.ExitCode | Should -Be 1
        $messages = @(Get-FakeWebhookMessage $hook)
        $messages.Count | Should -Be 1
        $messages[0] | Should -Match 'no-such-folder'
    }
}

Describe 'Invoke-RecoveryDrill.ps1' {
    BeforeAll {
        $work = New-TestFolder 'tb-drill'
        $vault = Join-Path $work 'vault'
        foreach ($name in 'alpha', 'beta') {
            New-SampleDatabase (Join-Path $work "$name.db") | Backup-TursoDatabase -Vault $vault | Out-Null
        }
        $hook = Start-FakeWebhook
    }
    AfterAll { Stop-FakeWebhook $hook; Remove-TestFolder $work }
    BeforeEach { $hook.Bodies.Clear() }

    It 'exits 0 and sends nothing when every newest backup restores and passes' {
        $run = Invoke-Pwsh -File $drill -ArgumentList '-Vault', $vault, '-RecoveryTimeObjective', '00:05:00', '-WebhookUrl', $hook.Url
        $run.ExitCode | Should -Be 0 -Because ($run.Errors -join "`n")
        ($run.Output -join "`n") | Should -Match 'alpha +passed'
        ($run.Output -join "`n") | Should -Match 'beta +passed'
        @(Get-FakeWebhookMessage $hook).Count | Should -Be 0
    }

    It 'exits 1, alerts naming the database and records the failure when a backup is damaged' {
        $b = Get-TursoBackup -Vault $vault -Database beta -Latest
        $bytes = [IO.File]::ReadAllBytes($b.Location); $bytes[200] = $bytes[200] -bxor 0x5A; [IO.File]::WriteAllBytes($b.Location, $bytes)
        $run = Invoke-Pwsh -File $drill -ArgumentList '-Vault', $vault, '-WebhookUrl', $hook.Url
        $run.ExitCode | Should -Be 1
        ($run.Output -join "`n") | Should -Match 'beta +FAILED'
        ($run.Output -join "`n") | Should -Match 'alpha +passed'
        $messages = @(Get-FakeWebhookMessage $hook)
        $messages.Count | Should -Be 1
        $messages[0] | Should -Match 'beta'
        $messages[0] | Should -Not -Match 'alpha'
        (Get-TursoBackupHealth -Vault $vault -Database beta).LastVerificationPassed | Should -BeFalse
    }

    It 'exits 1 and alerts when there is nothing to drill: <Case>' -ForEach @(
        @{ Case = 'no database matching -Database'; Vault = 'vault'; Database = 'zz*'; Expect = 'nothing was drilled' }
        @{ Case = 'a folder that is not a vault'; Vault = 'empty'; Database = '*'; Expect = 'not a TursoBackup vault' }
        @{ Case = 'a vault that does not exist'; Vault = 'missing'; Database = '*'; Expect = 'does not exist' }
        @{ Case = 'a database the vault does not have'; Vault = 'vault'; Database = 'nosuch'; Expect = 'nosuch' }
    ) {
        if ($Vault -eq 'empty') { [void][IO.Directory]::CreateDirectory((Join-Path $work 'empty')) }
        $run = Invoke-Pwsh -File $drill -ArgumentList '-Vault', (Join-Path $work $Vault), '-Database', $Database, '-WebhookUrl', $hook.Url
        $run.ExitCode | Should -Be 1
        ($run.Errors -join "`n") | Should -Match $Expect
        $messages = @(Get-FakeWebhookMessage $hook)
        $messages.Count | Should -Be 1
        $messages[0] | Should -Match $Expect
    }
}
