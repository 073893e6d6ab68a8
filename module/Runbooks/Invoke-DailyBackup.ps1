<#
.SYNOPSIS
    Daily backup: back up every database of a folder into a vault, apply the retention policy, check the vault's
    health against the RPO/RTO and alert when something is wrong; exit non-zero on failure.

.DESCRIPTION
    Backs up every file of -Path matching -Filter (in parallel, -ThrottleLimit at a time) with Backup-TursoDatabase,
    proves each new backup with Test-Backup (restore into scratch space, checksums, integrity_check, foreign keys, row
    counts; the result is recorded in the vault), applies grandfather-father-son retention (-Daily, -Weekly, -Monthly;
    the newest backup and the newest verified one are always kept), then runs Get-TursoBackupHealth on the vault.
    Everything that went wrong goes into ONE message to -WebhookUrl: a backup or step that failed, a backup that failed
    its test, a database whose health is not Healthy. The HealthReport objects are written to the pipeline.

    Exit code, for the scheduler: 1 when anything failed (a backup, a test, retention, the health check itself) or a
    database is Critical; 0 otherwise. Run it as a scheduled task does: pwsh -NoProfile -NonInteractive -File ….

    Uses only the PowerShell engine's core commands and TursoBackup's own, so it runs in pwsh and Windows PowerShell 5.1.

.PARAMETER Path
    The folder whose databases are backed up.

.PARAMETER Vault
    The vault to back up into.

.PARAMETER Filter
    Which files of -Path are databases (default *.db).

.PARAMETER Daily
    Days with a backup to keep (default 7).

.PARAMETER Weekly
    Weeks with a backup to keep (default 4).

.PARAMETER Monthly
    Months with a backup to keep (default 12).

.PARAMETER RecoveryPointObjective
    The health check's RPO (default 1 day, for a daily schedule).

.PARAMETER SkipVerification
    Do not Test-Backup the new backups (a separate drill verifies them); the health check then warns about backups
    that were never verified.

.PARAMETER ThrottleLimit
    Databases backed up at once (default 4).

.PARAMETER WebhookUrl
    Where the run's problems are posted (default: $env:TURSOBACKUP_WEBHOOK; none: no alert).

.EXAMPLE
    ./Invoke-DailyBackup.ps1 -Path /data -Vault /backups -WebhookUrl $env:SLACK_WEBHOOK

.NOTES
    Needs only Microsoft.PowerShell.Core and TursoBackup.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][string] $Path,
    [Parameter(Mandatory = $true)][string] $Vault,
    [string] $Filter = '*.db',
    [int] $Daily = 7,
    [int] $Weekly = 4,
    [int] $Monthly = 12,
    [TimeSpan] $RecoveryPointObjective = [TimeSpan]::FromDays(1),
    [switch] $SkipVerification,
    [int] $ThrottleLimit = 4,
    [string] $WebhookUrl = $env:TURSOBACKUP_WEBHOOK
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module TursoBackup)) { Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', 'TursoBackup.psd1')) }

# Every failure of the run, as ErrorRecords: each step goes on after a failure of one database, and a step that cannot
# run at all (no such folder, vault unreadable) is caught, so the alert and the exit code always say what happened.
$failures = [System.Collections.Generic.List[object]]::new()
function Add-Failure($records) { foreach ($r in @($records)) { if ($null -ne $r) { $failures.Add($r) } } }
$backups = @(); $tests = @(); $health = @()
try {
    $files = @([System.IO.Directory]::GetFiles($Path, $Filter))
    $backupErrors = $null
    $backups = @($files | Backup-TursoDatabase -Vault $Vault -ThrottleLimit $ThrottleLimit -ErrorAction Continue -ErrorVariable backupErrors)
    Add-Failure $backupErrors
    $Host.UI.WriteLine("Backed up $($backups.Count) of $($files.Count) database(s) from '$Path' into '$Vault'.")
    if (-not $SkipVerification -and $backups.Count -gt 0) {
        $testErrors = $null
        $tests = @($backups | Test-Backup -ErrorAction Continue -ErrorVariable testErrors)
        Add-Failure $testErrors
        foreach ($t in $tests) {
            $Host.UI.WriteLine(('{0,-24} test {1,-6} {2}' -f $t.Database, $(if ($t.Passed) { 'passed' } else { 'FAILED' }), $t.FailedChecks))
        }
    }
    $retentionErrors = $null
    [void](Invoke-TursoBackupRetention -Vault $Vault -Daily $Daily -Weekly $Weekly -Monthly $Monthly -Confirm:$false -ErrorAction Continue -ErrorVariable retentionErrors)
    Add-Failure $retentionErrors
    $health = @(Get-TursoBackupHealth -Vault $Vault -RecoveryPointObjective $RecoveryPointObjective)
    foreach ($h in $health) { $Host.UI.WriteLine(('{0,-24} {1,-8} {2}' -f $h.Database, $h.Status, ($h.Findings -join ' '))) }
}
catch {
    $failures.Add($_)
}
foreach ($f in $failures) { $Host.UI.WriteErrorLine("Daily backup: $f") }

$failedTests = @($tests | Where-Object { -not $_.Passed })
$unhealthy = @($health | Where-Object { $_.Status -ne 'Healthy' })
$news = @($failures) + $failedTests + $unhealthy
if ($WebhookUrl -and $news.Count -gt 0) {
    try { $news | Send-TursoBackupAlert -WebhookUrl $WebhookUrl }
    catch { $Host.UI.WriteErrorLine("Daily backup: the alert could not be sent: $_") ; $failures.Add($_) }
}
$health
$critical = @($health | Where-Object { $_.Status -eq 'Critical' })
if ($failures.Count -gt 0 -or $failedTests.Count -gt 0 -or $critical.Count -gt 0) { exit 1 }
exit 0
