<#
.SYNOPSIS
    Daily backup: back up every database of a folder into a vault, copy the vault offsite, apply the retention
    policies, check the vault's health against the RPO/RTO and alert when something is wrong; exit non-zero on failure.

.DESCRIPTION
    Backs up every file of -Path matching -Filter (in parallel, -ThrottleLimit at a time) with Backup-TursoDatabase,
    proves each new backup with Test-Backup (restore into scratch space, checksums, integrity_check, foreign keys, row
    counts; the result is recorded in the vault), applies grandfather-father-son retention (-Daily, -Weekly, -Monthly;
    the newest backup and the newest verified one are always kept), copies what is missing to each -Offsite vault
    with Sync-TursoVault (every object verified there) and applies that vault's own, longer retention
    (-OffsiteDaily/-OffsiteWeekly/-OffsiteMonthly), then runs Get-TursoBackupHealth on the vault (which reports each
    offsite copy's age and missing backups).
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

.PARAMETER Offsite
    Offsite vaults to copy the vault to: another folder or share, https://<account>.blob.core.windows.net/<container>,
    s3://bucket/prefix or sftp://user@host/path. Credentials come from the environment (AZURE_STORAGE_CONNECTION_STRING,
    AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_ENDPOINT_URL_S3, an SSH key) or an earlier Connect-TursoVault.

.PARAMETER OffsiteDaily
    Days with a backup to keep offsite (default 90).

.PARAMETER OffsiteWeekly
    Weeks with a backup to keep offsite (default 26).

.PARAMETER OffsiteMonthly
    Months with a backup to keep offsite (default 36).

.PARAMETER RecoveryPointObjective
    The health check's RPO (default 1 day, for a daily schedule).

.PARAMETER SkipVerification
    Do not Test-Backup the new backups (a separate drill verifies them); the health check then warns about backups
    that were never verified.

.PARAMETER Recipient
    Encrypts every backup for these OpenPGP public keys (key files as `gpg --export [--armor]` writes them), and every
    plain WAL generation on its way to each -Offsite vault. This host cannot read such backups back, so they are not
    tested here: run Invoke-RecoveryDrill -KeyFile where the secret key is. With $env:TURSO_BACKUP_PASSPHRASE set,
    backups are encrypted for that passphrase as well (and tested here with it).

.PARAMETER ThrottleLimit
    Databases backed up at once (default 4).

.PARAMETER WebhookUrl
    Where the run's problems are posted (default: $env:TURSOBACKUP_WEBHOOK; none: no alert).

.EXAMPLE
    ./Invoke-DailyBackup.ps1 -Path /data -Vault /backups -WebhookUrl $env:SLACK_WEBHOOK

.EXAMPLE
    ./Invoke-DailyBackup.ps1 -Path /data -Vault /backups -Offsite /mnt/nas/backups, s3://acme-backups/db

    Backs up into /backups, then copies the vault to a NAS share and an S3 bucket (AWS credentials from the
    environment); each keeps 90 daily, 26 weekly and 36 monthly backups.

.EXAMPLE
    ./Invoke-DailyBackup.ps1 -Path /data -Vault /backups -Offsite s3://acme-backups/db -Recipient /etc/tursobackup/admin.asc

    Every backup is encrypted for the admin key, here and offsite; the drill that tests them runs where the secret key
    is (Invoke-RecoveryDrill.ps1 -Vault <a copy of the vault> -KeyFile /etc/tursobackup/admin.key).

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
    [string[]] $Offsite = @(),
    [int] $OffsiteDaily = 90,
    [int] $OffsiteWeekly = 26,
    [int] $OffsiteMonthly = 36,
    [TimeSpan] $RecoveryPointObjective = [TimeSpan]::FromDays(1),
    [switch] $SkipVerification,
    [string[]] $Recipient = @(),
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
    $encryption = @{}
    if ($Recipient.Count -gt 0) { $encryption.Recipient = $Recipient }
    $backups = @($files | Backup-TursoDatabase -Vault $Vault -ThrottleLimit $ThrottleLimit @encryption -ErrorAction Continue -ErrorVariable backupErrors)
    Add-Failure $backupErrors
    $Host.UI.WriteLine("Backed up $($backups.Count) of $($files.Count) database(s) from '$Path' into '$Vault'.")
    # A backup for public keys only is not this host's to read: the drill tests it where the secret key is.
    $testable = @($backups | Where-Object { -not $_.Encrypted -or $_.Encryption.Passphrase })
    if ($testable.Count -lt $backups.Count) {
        $Host.UI.WriteLine("$($backups.Count - $testable.Count) backup(s) are encrypted for public keys only and are not tested here; run Invoke-RecoveryDrill -KeyFile where the secret key is.")
    }
    if (-not $SkipVerification -and $testable.Count -gt 0) {
        $testErrors = $null
        $tests = @($testable | Test-Backup -ErrorAction Continue -ErrorVariable testErrors)
        Add-Failure $testErrors
        foreach ($t in $tests) {
            $Host.UI.WriteLine(('{0,-24} test {1,-6} {2}' -f $t.Database, $(if ($t.Passed) { 'passed' } else { 'FAILED' }), $t.FailedChecks))
        }
    }
    $retentionErrors = $null
    [void](Invoke-TursoBackupRetention -Vault $Vault -Daily $Daily -Weekly $Weekly -Monthly $Monthly -Confirm:$false -ErrorAction Continue -ErrorVariable retentionErrors)
    Add-Failure $retentionErrors
    foreach ($destination in $Offsite) {
        $syncErrors = $null
        $synced = @(Sync-TursoVault -Source $Vault -Destination $destination @encryption -ErrorAction Continue -ErrorVariable syncErrors)
        Add-Failure $syncErrors
        foreach ($r in $synced) { $Host.UI.WriteLine("Offsite $($r.Destination): $($r.Copied) copied, $($r.Skipped) already there, $($r.Failed) failed.") }
        if ($synced.Count -gt 0 -and $synced[0].Failed -eq 0) {
            $offsiteRetentionErrors = $null
            [void](Invoke-TursoBackupRetention -Vault $destination -Daily $OffsiteDaily -Weekly $OffsiteWeekly -Monthly $OffsiteMonthly -WalRetention ([TimeSpan]::FromDays($OffsiteDaily)) -Confirm:$false -ErrorAction Continue -ErrorVariable offsiteRetentionErrors)
            Add-Failure $offsiteRetentionErrors
        }
    }
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
