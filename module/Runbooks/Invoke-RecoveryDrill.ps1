<#
.SYNOPSIS
    Recovery drill: restore-test the newest backup of every database in a vault, measure the restore time against the
    RTO, record the results in the vault, alert on failure, and exit non-zero so schedulers see it.

.DESCRIPTION
    For each database in -Vault (or those matching -Database), the newest backup is restored into scratch space by
    Test-Backup and checked: stored checksum, decompression, PRAGMA integrity_check, foreign_key_check, row counts and
    schema hash against the manifest, each -Query, and the measured restore time against -RecoveryTimeObjective. Every
    result is recorded in the vault's verification log (Get-TursoBackupHealth reads it). When any backup fails, or the
    vault has no backup at all, the failures are posted to -WebhookUrl (Slack or Teams incoming webhook) and the script
    exits with 1; otherwise it exits with 0. The BackupTestResult objects are written to the pipeline.

    Uses only the PowerShell engine's core commands and TursoBackup's own, so it runs in pwsh, Windows PowerShell 5.1
    and the console host (dotnet tbhost.dll -File Invoke-RecoveryDrill.ps1 -Vault …).

.PARAMETER Vault
    The vault to drill.

.PARAMETER Database
    Database names to drill (wildcards allowed). Default: every database in the vault.

.PARAMETER RecoveryTimeObjective
    The longest a restore may take. Default: 4 hours.

.PARAMETER Query
    Named SQL checks run on every restored database, each returning a truthy scalar (see Test-Backup -Query).

.PARAMETER WebhookUrl
    Where failures are posted (default: $env:TURSOBACKUP_WEBHOOK; none: no alert).

.EXAMPLE
    ./Invoke-RecoveryDrill.ps1 -Vault /backups -RecoveryTimeObjective '00:15:00' -WebhookUrl $env:TEAMS_WEBHOOK

    The monthly drill of a scheduled task: exit code 0 when every newest backup restored and passed, 1 otherwise.

.NOTES
    Needs only Microsoft.PowerShell.Core and TursoBackup.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][string] $Vault,
    [string[]] $Database = @('*'),
    [TimeSpan] $RecoveryTimeObjective = [TimeSpan]::FromHours(4),
    [hashtable] $Query,
    [string] $WebhookUrl = $env:TURSOBACKUP_WEBHOOK
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module TursoBackup)) { Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', 'TursoBackup.psd1')) }

$results = @(Get-TursoBackup -Vault $Vault -Database $Database -Latest | Test-Backup -RecoveryTimeObjective $RecoveryTimeObjective -Query $Query)
foreach ($r in $results) {
    $Host.UI.WriteLine(('{0,-24} {1,-6} restore {2,8:N2} s  {3}' -f $r.Database, $(if ($r.Passed) { 'passed' } else { 'FAILED' }), $r.RestoreDuration.TotalSeconds, $r.FailedChecks))
}
$failed = @($results | Where-Object { -not $_.Passed })
if ($results.Count -eq 0) { $Host.UI.WriteErrorLine("No backup found in '$Vault' for $($Database -join ', '): nothing was drilled.") }
if ($failed.Count -gt 0 -and $WebhookUrl) { $failed | Send-TursoBackupAlert -WebhookUrl $WebhookUrl }
$results
if ($failed.Count -gt 0 -or $results.Count -eq 0) { exit 1 }
exit 0
