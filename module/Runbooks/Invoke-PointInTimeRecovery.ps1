<#
.SYNOPSIS
    Point-in-time recovery: a branch of a database at a timestamp, compared with production, validated, exported as a
    SQL dump, and the next steps printed — production is not touched.

.DESCRIPTION
    The first hour of an incident ("what did the database look like at 14:05?"), for a database archived by
    Start-TursoWalArchive:
      1. New-TursoBranch -Vault -Timestamp: the database as of -Timestamp in a new file (-Destination folder, default
         beside the database); the source is never written;
      2. Test-Backup -Path of the branch: integrity_check, foreign_key_check, row counts (and each -Query);
      3. Compare-TursoDatabase of the branch with production (-Path): per table the rows removed, added and changed since;
      4. Export-TursoDatabase of the branch to -DumpPath (default <branch>.sql.zst), for whoever needs the data elsewhere;
      5. the next steps, as commands to copy: bring back rows (Restore-TursoRow), a table (Restore-TursoTable), or the
         whole database (Restore-TursoPointInTime -Force).
    The branch is journaled in the vault (Get-TursoRecoveryHistory) with -Reason. Exit 0 when the branch was made and
    passed its checks, 1 otherwise.

.PARAMETER Path
    The production database.

.PARAMETER Vault
    The vault with its WAL archive.

.PARAMETER Timestamp
    The moment to recover (ISO 8601, UTC unless an offset is given).

.PARAMETER Destination
    The folder for the branch (default: beside the database).

.PARAMETER DumpPath
    Where the SQL dump of the branch goes (default: beside the branch, <branch>.sql.zst).

.PARAMETER Reason
    Why (a ticket number): recorded in the journal.

.PARAMETER Passphrase
    The passphrase of an encrypted WAL archive (default: $env:TURSO_BACKUP_PASSPHRASE).

.PARAMETER KeyFile
    The secret key of a WAL archive encrypted for a public key.

.EXAMPLE
    ./Invoke-PointInTimeRecovery.ps1 -Path /data/shop.db -Vault /backups -Timestamp '2026-11-23T14:05:00Z' -Reason 'INC-4711'

.NOTES
    Needs only Microsoft.PowerShell.Core and TursoBackup.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)][string] $Path,
    [Parameter(Mandatory = $true)][string] $Vault,
    [Parameter(Mandatory = $true)][string] $Timestamp,
    [string] $Destination,
    [string] $DumpPath,
    [string] $Reason = 'point-in-time recovery',
    [System.Security.SecureString] $Passphrase,
    [string] $KeyFile
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module TursoBackup)) { Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', 'TursoBackup.psd1')) }
$keys = @{}
if ($Passphrase) { $keys.Passphrase = $Passphrase }
if ($KeyFile) { $keys.KeyFile = $KeyFile }
$exitCode = 0
try {
    $branchArgs = @{ Path = $Path; Vault = $Vault; Timestamp = $Timestamp; Reason = $Reason }
    if ($Destination) { $branchArgs.Destination = $Destination }
    $branch = New-TursoBranch @branchArgs @keys
    $Host.UI.WriteLine("Branch: $($branch.Location) (as of $($branch.PointInTime.UtcDateTime.ToString('yyyy-MM-dd HH:mm:ss.fff')) UTC)")
    $test = Test-Backup -Path $branch.Location
    $Host.UI.WriteLine("Checks: $(if ($test.Passed) { 'passed' } else { 'FAILED: ' + $test.FailedChecks })")
    if (-not $test.Passed) { $exitCode = 1 }
    $Host.UI.WriteLine('Compared with production (then = the branch, now = production):')
    $tables = @(Compare-TursoDatabase -Reference $branch -Difference $Path)
    foreach ($c in $tables) {
        $Host.UI.WriteLine(('  {0,-24} then {1,8:N0}  now {2,8:N0}   removed since {3,6:N0}  added {4,6:N0}  changed {5,6:N0}{6}' -f $c.Table, $c.ReferenceRows, $c.DifferenceRows, $c.Removed, $c.Added, $c.Changed, $(if ($c.SchemaDiffers) { '  (schema differs)' } else { '' })))
    }
    if (-not $DumpPath) { $DumpPath = [System.IO.Path]::ChangeExtension($branch.Location, '.sql.zst') }
    $export = Export-TursoDatabase -Path $branch.Location -OutFile $DumpPath
    $Host.UI.WriteLine("Dump: $($export.OutFile)")
    $changed = @($tables | Where-Object { -not $_.Identical })
    $Host.UI.WriteLine('Next steps (copy what applies):')
    foreach ($c in $changed) {
        $Host.UI.WriteLine("  rows of $($c.Table):   Restore-TursoRow -Source '$($branch.Location)' -Destination '$Path' -Table '$($c.Table)' -Vault '$Vault' -ConflictAction Ignore -Reason '$Reason'")
        $Host.UI.WriteLine("  whole $($c.Table):     Restore-TursoTable -Source '$($branch.Location)' -Destination '$Path' -Table '$($c.Table)' -Vault '$Vault' -Reason '$Reason'")
    }
    $Host.UI.WriteLine("  the whole database: Restore-TursoPointInTime -Vault '$Vault' -Database '$([System.IO.Path]::GetFileNameWithoutExtension($Path))' -Timestamp '$Timestamp' -Destination '$Path' -Force")
    if ($changed.Count -eq 0) { $Host.UI.WriteLine('  (nothing differs: production holds what it held then)') }
    $branch
}
catch {
    $Host.UI.WriteErrorLine("Point-in-time recovery: $_")
    $exitCode = 1
}
exit $exitCode
