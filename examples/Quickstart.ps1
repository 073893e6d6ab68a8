<#
.SYNOPSIS
    TursoBackup in two minutes: back up a sample database, verify it, catch a damaged backup, restore.

.DESCRIPTION
    Makes a sample database with a few related tables in a new folder, backs it up into a vault there,
    proves the backup with Test-Backup, damages a second backup on purpose and shows the check that catches
    it, then restores the good backup to a new file and checks it.

    Runs in pwsh 7.4+ and Windows PowerShell 5.1 with the module imported; on machines without pwsh, the pinned
    pwsh is one `dotnet tool restore` away:  dotnet pwsh -NoProfile -File examples/Quickstart.ps1
    It uses only the engine's core commands and the module's own, so it runs in any host.

.PARAMETER WorkDir
    Folder for the sample database, the vault and the restored copy. Default: a new folder under the temp folder.

.EXAMPLE
    ./examples/Quickstart.ps1 -WorkDir ~/tursobackup-demo
#>
[CmdletBinding()]
param(
    [string] $WorkDir = [System.IO.Path]::Combine([System.IO.Path]::GetTempPath(), 'tursobackup-quickstart-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module TursoBackup)) { Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', 'out', 'TursoBackup', 'TursoBackup.psd1')) }

function Say([string] $text) { $Host.UI.WriteLine(''); $Host.UI.WriteLine("== $text") }

# 1. A sample database: customers, orders (foreign key to customers) and order lines, loaded from SQL by the module
#    itself (Import-TursoDatabase). Its SQLite library is private to the module (out/TursoBackup/dependencies, its own
#    load context on pwsh 7), so scripts do not reach it through [Microsoft.Data.Sqlite.SqliteConnection].
[void][System.IO.Directory]::CreateDirectory($WorkDir)
$db = [System.IO.Path]::Combine($WorkDir, 'shop.db')
$vault = [System.IO.Path]::Combine($WorkDir, 'vault')
Say "Making a sample database at $db"
$sql = [System.IO.Path]::Combine($WorkDir, 'shop.sql')
[System.IO.File]::WriteAllText($sql, @'
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), total REAL, placed_at TEXT);
CREATE TABLE order_lines(order_id INTEGER NOT NULL REFERENCES orders(id), sku TEXT, qty INTEGER, PRIMARY KEY(order_id, sku));
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
  INSERT INTO customers SELECT i, 'Customer ' || i, 'customer' || i || '@example.com' FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
  INSERT INTO orders SELECT i, 1 + i % 500, round(i * 1.37, 2), datetime('2026-01-01', '+' || i || ' minutes') FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
  INSERT INTO order_lines SELECT 1 + i % 5000, 'SKU-' || i, 1 + i % 4 FROM n;
'@)
$null = Import-TursoDatabase -InFile $sql -Path $db

# 2. Back it up: a consistent snapshot, compressed and checksummed, with a manifest.
Say "Backing up into the vault $vault"
$backup = Backup-TursoDatabase -Path $db -Vault $vault
$backup | Out-Default
$backup.Tables | Out-Default

# 3. Prove it: restore into scratch space and check it.
Say 'Test-Backup: restore into scratch space and check'
$test = $backup | Test-Backup -Query @{ 'every order has lines' = 'SELECT count(*) = 0 FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id)' } -RecoveryTimeObjective '00:05:00'
$test | Out-Default
$test.Checks | Out-Default

# 4. A damaged backup is caught: flip one byte of a second backup's stored file.
Say 'Damaging a second backup on purpose (one flipped byte)'
$second = Backup-TursoDatabase -Path $db -Vault $vault -Tag 'damaged-on-purpose'
$bytes = [System.IO.File]::ReadAllBytes($second.Location)
$bytes[[int]($bytes.Length / 2)] = $bytes[[int]($bytes.Length / 2)] -bxor 0xFF
[System.IO.File]::WriteAllBytes($second.Location, $bytes)
$damaged = $second | Test-Backup
$damaged | Out-Default
$damaged.Checks | Where-Object { -not $_.Passed } | Out-Default

# 5. Restore the good backup to a new file.
$restored = [System.IO.Path]::Combine($WorkDir, 'shop-restored.db')
Say "Restoring the good backup to $restored"
$restore = $backup | Restore-TursoBackup -Destination $restored -Confirm:$false
$restore | Out-Default
$check = Get-TursoBackup -Vault $vault -Id $backup.Id | Test-Backup
Say ("Quickstart finished: good backup passed = {0}, damaged backup passed = {1}, restored to {2}" -f $test.Passed, $damaged.Passed, $restore.Destination)
if (-not $test.Passed -or $damaged.Passed -or -not $check.Passed) { exit 1 }
