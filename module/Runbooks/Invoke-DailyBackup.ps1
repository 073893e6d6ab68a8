<#
.SYNOPSIS
    Daily backup: back up every database of a folder into a vault, apply the retention policy, check the vault's
    health against the RPO/RTO and alert when something is wrong; exit non-zero on failure.

.DESCRIPTION
    Backs up every file of -Path matching -Filter (in parallel, -ThrottleLimit at a time) with Backup-TursoDatabase,
    applies grandfather-father-son retention (-Daily, -Weekly, -Monthly; the newest backup and the newest verified one
    are always kept), then runs Get-TursoBackupHealth on the vault. Reports that are not Healthy are posted to
    -WebhookUrl. The HealthReport objects are written to the pipeline. Exit code: 1 when a backup failed or a database
    is Critical, else 0.

    Uses only the PowerShell engine's core commands and TursoBackup's own, so it runs in pwsh, Windows PowerShell 5.1
    and the console host (dotnet tbhost.dll -File Invoke-DailyBackup.ps1 -Path … -Vault …).

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

.PARAMETER ThrottleLimit
    Databases backed up at once (default 4).

.PARAMETER WebhookUrl
    Where unhealthy reports are posted (default: $env:TURSOBACKUP_WEBHOOK; none: no alert).

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
    [int] $ThrottleLimit = 4,
    [string] $WebhookUrl = $env:TURSOBACKUP_WEBHOOK
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module TursoBackup)) { Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', 'TursoBackup.psd1')) }

$files = [System.IO.Directory]::GetFiles($Path, $Filter)
$backupErrors = $null
$backups = @($files | Backup-TursoDatabase -Vault $Vault -ThrottleLimit $ThrottleLimit -ErrorAction Continue -ErrorVariable backupErrors)
$Host.UI.WriteLine("Backed up $($backups.Count) of $($files.Count) database(s) from '$Path' into '$Vault'.")
foreach ($e in @($backupErrors)) { if ($e) { $Host.UI.WriteErrorLine("Backup failed: $e") } }
[void](Invoke-TursoBackupRetention -Vault $Vault -Daily $Daily -Weekly $Weekly -Monthly $Monthly -Confirm:$false)
$health = @(Get-TursoBackupHealth -Vault $Vault -RecoveryPointObjective $RecoveryPointObjective)
foreach ($h in $health) { $Host.UI.WriteLine(('{0,-24} {1,-8} {2}' -f $h.Database, $h.Status, ($h.Findings -join ' '))) }
if ($WebhookUrl) { $health | Send-TursoBackupAlert -WebhookUrl $WebhookUrl }
$health
$critical = @($health | Where-Object { $_.Status -eq 'Critical' })
if (@($backupErrors).Count -gt 0 -or $critical.Count -gt 0) { exit 1 }
exit 0
