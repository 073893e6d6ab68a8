<#
.SYNOPSIS
    Row recovery: bring back rows deleted (or changed) by mistake, from a branch of the database a few minutes back,
    into the live database — compared first, restored in one transaction, journaled, undoable.

.DESCRIPTION
    The accidental-delete scenario end to end, for a database archived by Start-TursoWalArchive:
      1. a branch of -Path as of -Timestamp (default: -Minutes ago) from the vault's WAL archive (New-TursoBranch);
         the live database is not touched;
      2. Compare-TursoDatabase of the branch (the reference) with the live database, for -Table: rows removed, added
         and changed since then, printed per table;
      3. Restore-TursoRow from the branch into the live database for -Table and -Where (default: every row of the
         branch, which with -ConflictAction Ignore brings back exactly the rows that are missing and changes nothing
         else), tables in foreign-key order, in one transaction; what it overwrites is recorded in the vault first;
      4. the recovery is in the vault's journal (Get-TursoRecoveryHistory) with -Reason, and the command that undoes it
         (Undo-TursoRecovery -Id) is printed; the branch is removed unless -KeepBranch.
    With -WhatIf, steps 1 and 2 run and step 3 only says what it would write.

    Exit code, for a scheduler or a ticket system: 0 when the rows were restored (or nothing was missing), 1 otherwise.

.PARAMETER Path
    The live database the rows go back into.

.PARAMETER Vault
    The vault holding the database's WAL archive (and where the undo data and the journal entry go).

.PARAMETER Table
    The tables to compare and restore (parents before children is worked out from the foreign keys).

.PARAMETER Where
    One SQL expression selecting the rows to restore in the first table (e.g. "id IN (17, 18)"); default: all rows.

.PARAMETER Minutes
    How far back the branch goes (default 5 minutes), unless -Timestamp is given.

.PARAMETER Timestamp
    The moment (ISO 8601) before the mistake.

.PARAMETER ConflictAction
    What to do with a row that exists in the live database with other values: Ignore (default: keep the live row),
    Replace (take the branch's), Abort (restore nothing).

.PARAMETER Reason
    Why (a ticket number): recorded in the journal. Required.

.PARAMETER KeepBranch
    Keep the branch file (its path is printed) instead of removing it.

.PARAMETER Passphrase
    The passphrase of an encrypted WAL archive (default: $env:TURSO_BACKUP_PASSPHRASE).

.PARAMETER KeyFile
    The secret key of a WAL archive encrypted for a public key.

.EXAMPLE
    ./Invoke-RowRecovery.ps1 -Path /data/shop.db -Vault /backups -Table customers, orders -Where "id IN (17, 18, 19)" -Reason 'INC-4711: customers deleted by a script'

.EXAMPLE
    ./Invoke-RowRecovery.ps1 -Path /data/shop.db -Vault /backups -Table orders -Minutes 15 -Reason 'INC-4712' -WhatIf

    Shows what the branch of 15 minutes ago holds that the live database does not, and what would be written.

.NOTES
    Needs only Microsoft.PowerShell.Core and TursoBackup.
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [Parameter(Mandatory = $true)][string] $Path,
    [Parameter(Mandatory = $true)][string] $Vault,
    [Parameter(Mandatory = $true)][string[]] $Table,
    [string] $Where,
    [int] $Minutes = 5,
    [string] $Timestamp,
    [ValidateSet('Ignore', 'Replace', 'Abort')][string] $ConflictAction = 'Ignore',
    [Parameter(Mandatory = $true)][string] $Reason,
    [switch] $KeepBranch,
    [System.Security.SecureString] $Passphrase,
    [string] $KeyFile
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module TursoBackup)) { Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', 'TursoBackup.psd1')) }
# From a scheduler (pwsh -File) a list arrives as one string: "a,b,c".
$Table = @($Table | ForEach-Object { $_ -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
$keys = @{}
if ($Passphrase) { $keys.Passphrase = $Passphrase }
if ($KeyFile) { $keys.KeyFile = $KeyFile }
$branch = $null
$exitCode = 0
try {
    $at = if ($Timestamp) { $Timestamp } else { [DateTimeOffset]::UtcNow.AddMinutes(-$Minutes).ToString('o') }
    $name = 'rowrecovery-' + [DateTimeOffset]::UtcNow.ToString('yyyyMMddTHHmmssZ')
    $branch = New-TursoBranch -Path $Path -Vault $Vault -Timestamp $at -Name $name -Reason $Reason @keys
    $Host.UI.WriteLine("Branch '$($branch.Location)' holds the database as of $($branch.PointInTime.UtcDateTime.ToString('yyyy-MM-dd HH:mm:ss')) UTC.")
    $comparison = @(Compare-TursoDatabase -Reference $branch -Difference $Path -Table $Table)
    foreach ($c in $comparison) {
        $Host.UI.WriteLine(('{0,-24} then {1,8:N0}  now {2,8:N0}   missing now {3,6:N0}  new since {4,6:N0}  changed {5,6:N0}' -f $c.Table, $c.ReferenceRows, $c.DifferenceRows, $c.Removed, $c.Added, $c.Changed))
    }
    $restoreArgs = @{ Source = $branch; Destination = $Path; Table = $Table; Vault = $Vault; ConflictAction = $ConflictAction; Reason = $Reason }
    if ($Where) { $restoreArgs.Where = $Where }
    if ($PSCmdlet.ShouldProcess($Path, "Restore rows of $($Table -join ', ') from the branch")) {
        $results = @(Restore-TursoRow @restoreArgs -Confirm:$false)
        foreach ($r in $results) {
            $Host.UI.WriteLine(('{0,-24} matched {1,6:N0}  inserted {2,6:N0}  replaced {3,6:N0}  skipped {4,6:N0}' -f $r.Table, $r.Matched, $r.Inserted, $r.Replaced, $r.Skipped))
        }
        if ($results.Count -gt 0) {
            $Host.UI.WriteLine("Journaled as recovery $($results[0].Id). To undo it: Undo-TursoRecovery -Vault '$Vault' -Id $($results[0].Id)")
        }
        $results
    }
    else {
        Restore-TursoRow @restoreArgs -WhatIf
    }
}
catch {
    $Host.UI.WriteErrorLine("Row recovery: $_")
    $exitCode = 1
}
finally {
    if ($branch -and -not $KeepBranch) { $branch | Remove-TursoBranch -Confirm:$false -ErrorAction SilentlyContinue }
    elseif ($branch) { $Host.UI.WriteLine("The branch is kept: $($branch.Location)") }
}
exit $exitCode
