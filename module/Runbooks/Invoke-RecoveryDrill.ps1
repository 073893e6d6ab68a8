<#
.SYNOPSIS
    Recovery drill: restore-test the newest backup of every database in a vault, measure the restore time against the
    RTO, record the results in the vault, alert on failure, and exit non-zero so schedulers see it.

.DESCRIPTION
    For each database in -Vault (or those matching -Database), the newest backup is restored into scratch space by
    Test-Backup and checked: stored checksum, decompression, PRAGMA integrity_check, foreign_key_check, row counts and
    schema hash against the manifest, each -Query, and the measured restore time against -RecoveryTimeObjective. Every
    result is recorded in the vault's verification log (Get-TursoBackupHealth reads it). Whenever the drill is not a
    clean pass — a backup failed a check, a backup could not be read, there was nothing to drill (no backup, no such
    database), the vault does not exist — the problems are posted in one message to -WebhookUrl (Slack or Teams
    incoming webhook) and the script exits with 1; otherwise it exits with 0. One unreadable backup does not stop the
    drill of the others. The BackupTestResult objects are written to the pipeline.

    Uses only the PowerShell engine's core commands and TursoBackup's own, so it runs in pwsh and Windows PowerShell 5.1.

.PARAMETER Vault
    The vault to drill.

.PARAMETER Database
    Database names to drill (wildcards allowed). Default: every database in the vault.

.PARAMETER RecoveryTimeObjective
    The longest a restore may take. Default: 4 hours.

.PARAMETER Query
    Named SQL checks run on every restored database, each returning a truthy scalar (see Test-Backup -Query).

.PARAMETER KeyFile
    An OpenPGP secret key file that opens backups encrypted for its public key (Backup-TursoDatabase -Recipient, the
    daily runbook's -Recipient). Backups encrypted for a passphrase are opened with $env:TURSO_BACKUP_PASSPHRASE.

.PARAMETER KeyPassphrase
    The passphrase of -KeyFile, when it has one.

.PARAMETER WebhookUrl
    Where failures are posted (default: $env:TURSOBACKUP_WEBHOOK; none: no alert).

.EXAMPLE
    ./Invoke-RecoveryDrill.ps1 -Vault /backups -RecoveryTimeObjective '00:15:00' -WebhookUrl $env:TEAMS_WEBHOOK

    The monthly drill of a scheduled task: exit code 0 when every newest backup restored and passed, 1 otherwise.

.EXAMPLE
    ./Invoke-RecoveryDrill.ps1 -Vault /mnt/nas/backups -KeyFile /etc/tursobackup/admin.key

    Drills a copy of the vault whose backups are encrypted for the admin key, on the machine that holds its secret key.

.NOTES
    Needs only Microsoft.PowerShell.Core and TursoBackup.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][string] $Vault,
    [string[]] $Database = @('*'),
    [TimeSpan] $RecoveryTimeObjective = [TimeSpan]::FromHours(4),
    [hashtable] $Query,
    [string] $KeyFile,
    [System.Security.SecureString] $KeyPassphrase,
    [string] $WebhookUrl = $env:TURSOBACKUP_WEBHOOK
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module TursoBackup)) { Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', 'TursoBackup.psd1')) }

$failures = [System.Collections.Generic.List[object]]::new()
function Add-Failure($records) { foreach ($r in @($records)) { if ($null -ne $r) { $failures.Add($r) } } }
$results = @()
try {
    if (-not [System.IO.Directory]::Exists($Vault)) {
        throw [System.Management.Automation.ErrorRecord]::new(
            [System.IO.DirectoryNotFoundException]::new("The vault '$Vault' does not exist (or is not mounted): nothing was drilled. Check the path and the mount."),
            'VaultNotFound', [System.Management.Automation.ErrorCategory]::ObjectNotFound, $Vault)
    }
    $listErrors = $null
    $newest = @(Get-TursoBackup -Vault $Vault -Database $Database -Latest -ErrorAction Continue -ErrorVariable listErrors)
    Add-Failure $listErrors
    $testErrors = $null
    $keys = @{}
    if ($KeyFile) { $keys.KeyFile = $KeyFile }
    if ($KeyPassphrase) { $keys.KeyPassphrase = $KeyPassphrase }
    $results = @($newest | Test-Backup -RecoveryTimeObjective $RecoveryTimeObjective -Query $Query @keys -ErrorAction Continue -ErrorVariable testErrors)
    Add-Failure $testErrors
    if ($results.Count -eq 0 -and $failures.Count -eq 0) {
        $failures.Add([System.Management.Automation.ErrorRecord]::new(
            [System.InvalidOperationException]::new("No backup found in '$Vault' for $($Database -join ', '): nothing was drilled. Back up first (Backup-TursoDatabase), or check -Database."),
            'NothingToDrill', [System.Management.Automation.ErrorCategory]::ObjectNotFound, $Vault))
    }
}
catch {
    $failures.Add($_)
}
foreach ($r in $results) {
    $Host.UI.WriteLine(('{0,-24} {1,-6} restore {2,8:N2} s  {3}' -f $r.Database, $(if ($r.Passed) { 'passed' } else { 'FAILED' }), $r.RestoreDuration.TotalSeconds, $r.FailedChecks))
}
foreach ($f in $failures) { $Host.UI.WriteErrorLine("Recovery drill: $f") }
$failed = @($results | Where-Object { -not $_.Passed })
$news = @($failures) + $failed
if ($WebhookUrl -and $news.Count -gt 0) {
    try { $news | Send-TursoBackupAlert -WebhookUrl $WebhookUrl }
    catch { $Host.UI.WriteErrorLine("Recovery drill: the alert could not be sent: $_"); $failures.Add($_) }
}
$results
if ($failed.Count -gt 0 -or $failures.Count -gt 0) { exit 1 }
exit 0
