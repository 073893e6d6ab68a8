#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Issue 15: recovery operations, each command in a NEW `pwsh -NoProfile -NonInteractive` process as an admin's script
# runs it, on real SQLite files; comparisons cross-checked against SQLite's own sqldiff (Debian sqlite3-tools).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-TursoModuleManifest) -Force
    $script:work = New-TestFolder 'tb-recovery'
    $script:sqldiff = Get-Peer sqldiff
    function Invoke-Task([string] $Command) {
        Invoke-Pwsh -Command ("`$ErrorActionPreference = 'Stop'; `$ProgressPreference = 'SilentlyContinue'; " + $Command) -TimeoutSeconds 300
    }
    # Per table: the INSERT / DELETE / UPDATE statements sqldiff prints to turn $A into $B.
    function Get-SqldiffCounts([string] $A, [string] $B) {
        $counts = @{}
        foreach ($line in (& $script:sqldiff --primarykey $A $B)) {
            if ($line -match '^(INSERT INTO|DELETE FROM|UPDATE) ("?)([^ ("]+)\2') {
                $t = $Matches[3]
                if (-not $counts[$t]) { $counts[$t] = @{ Added = 0; Removed = 0; Changed = 0 } }
                switch ($Matches[1]) { 'INSERT INTO' { $counts[$t].Added++ } 'DELETE FROM' { $counts[$t].Removed++ } 'UPDATE' { $counts[$t].Changed++ } }
            }
        }
        $counts
    }
}

AfterAll { Remove-TestFolder $work }

Describe 'Compare-TursoDatabase agrees with sqldiff' {
    BeforeAll {
        $script:a = Join-Path $work 'a.db'; $script:b = Join-Path $work 'b.db'
        New-SampleDatabase $a -Customers 300 -WithOrderLines | Out-Null
        Copy-Item $a $b
        Invoke-Sqlite3 $b @"
DELETE FROM order_lines WHERE order_id IN (SELECT id FROM orders WHERE customer_id <= 12);
DELETE FROM orders WHERE customer_id <= 12;
DELETE FROM customers WHERE id <= 12;
UPDATE orders SET total = total + 1 WHERE id % 97 = 0;
INSERT INTO customers(name) VALUES ('new one'), ('new two');
CREATE TABLE k(a TEXT, b INTEGER, v BLOB, PRIMARY KEY (a, b)) WITHOUT ROWID;
"@ | Out-Null
        Invoke-Sqlite3 $a "CREATE TABLE k(a TEXT, b INTEGER, v BLOB, PRIMARY KEY (a, b)) WITHOUT ROWID; INSERT INTO k VALUES ('x', 1, x'00ff'), ('é', 9223372036854775807, NULL), ('y', -1, x'');" | Out-Null
        Invoke-Sqlite3 $b "INSERT INTO k VALUES ('x', 1, x'00fe'), ('é', 9223372036854775807, NULL);" | Out-Null
        $r = Invoke-Task "Compare-TursoDatabase -Reference '$a' -Difference '$b' | Select-Object Table, ReferenceRows, DifferenceRows, Added, Removed, Changed, SchemaDiffers | ConvertTo-Json -Compress"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        $script:ours = @($r.Output[-1] | ConvertFrom-Json)
        $script:theirs = Get-SqldiffCounts $a $b
    }

    It 'finds per table exactly the rows sqldiff finds' {
        foreach ($t in 'customers', 'orders', 'order_lines', 'k') {
            $o = $ours | Where-Object Table -eq $t
            $s = $theirs[$t]; if (-not $s) { $s = @{ Added = 0; Removed = 0; Changed = 0 } }
            @($o.Added, $o.Removed, $o.Changed) | Should -Be @($s.Added, $s.Removed, $s.Changed) -Because "table $t"
        }
        ($ours | Where-Object Table -eq 'customers').Removed | Should -Be 12
        ($ours | Where-Object Table -eq 'k').Changed | Should -Be 1
    }

    It 'streams the differing rows with -IncludeRows, keys and values exact' {
        $r = Invoke-Task "Compare-TursoDatabase '$a' '$b' -Table k -IncludeRows | Where-Object { `$_ -is [TursoBackup.RowDifference] } | ForEach-Object { '{0} {1} {2}' -f `$_.Kind, (@(`$_.Key.Values) -join '|'), (`$_.ChangedColumns -join ',') }"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        ($r.Output | Sort-Object) | Should -Be @('Changed x|1 v', 'Removed y|-1 ')
    }

    It 'names the tables there are when -Table matches none, and changes neither database' {
        $before = (Get-FileHash $a).Hash, (Get-FileHash $b).Hash
        $r = Invoke-Task "Compare-TursoDatabase '$a' '$b' -Table nosuch*"
        $r.ExitCode | Should -Not -Be 0
        ($r.Errors -join ' ') | Should -Match 'customers'
        @((Get-FileHash $a).Hash, (Get-FileHash $b).Hash) | Should -Be $before
    }
}

Describe 'The accidental-delete and broken-migration scenarios, end to end (runbooks and cmdlets in real pwsh)' {
    BeforeAll {
        $script:runbooks = Join-Path (Get-RepoRoot) 'out/TursoBackup/Runbooks'
        $script:db = Join-Path $work 'prod/shop.db'
        [void][IO.Directory]::CreateDirectory((Split-Path $db))
        New-SampleDatabase $db -Customers 200 -WithOrderLines | Out-Null
        $script:vault = Join-Path $work 'vault'
        # An application keeps the database open while the archiver captures (as applications do).
        $psi = [Diagnostics.ProcessStartInfo]::new((Get-Peer sqlite3))
        $psi.ArgumentList.Add($db)
        $psi.RedirectStandardInput = $true; $psi.RedirectStandardOutput = $true; $psi.UseShellExecute = $false
        $script:app = [Diagnostics.Process]::Start($psi)
        function Send-App([string] $Sql) {
            $script:app.StandardInput.WriteLine("$Sql SELECT 'done';"); $script:app.StandardInput.Flush()
            while (($line = $script:app.StandardOutput.ReadLine()) -ne $null -and $line -ne 'done') { }
        }
        Send-App 'SELECT 1;'
        $r = Invoke-Task "Sync-TursoWalArchive -Path '$db' -Vault '$vault' | Out-Null"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        Start-Sleep -Seconds 2
        $script:before = [DateTimeOffset]::UtcNow.ToString('o')
        Start-Sleep -Seconds 2
        $script:customers = [int](Invoke-Sqlite3 $db 'SELECT count(*) FROM customers;')
        $script:orders = [int](Invoke-Sqlite3 $db 'SELECT count(*) FROM orders;')
        # The mistake: 40 customers deleted with their orders and order lines; then a capture.
        Send-App 'PRAGMA foreign_keys=ON; DELETE FROM order_lines WHERE order_id IN (SELECT id FROM orders WHERE customer_id <= 40); DELETE FROM orders WHERE customer_id <= 40; DELETE FROM customers WHERE id <= 40;'
        $r = Invoke-Task "Sync-TursoWalArchive -Path '$db' -Vault '$vault' | Out-Null"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
    }
    AfterAll { if ($app) { $app.StandardInput.Close(); $app.WaitForExit(10000) | Out-Null } }

    It 'Invoke-RowRecovery brings the deleted rows back, journaled, and Undo-TursoRecovery reverses it' {
        [int](Invoke-Sqlite3 $db 'SELECT count(*) FROM customers;') | Should -Be ($customers - 40)
        $run = Invoke-Pwsh -File (Join-Path $runbooks 'Invoke-RowRecovery.ps1') -ArgumentList '-Path', $db, '-Vault', $vault, '-Table', 'customers,orders,order_lines', '-Timestamp', $before, '-Reason', 'INC-4711'
        $run.ExitCode | Should -Be 0 -Because (($run.Output + $run.Errors) -join "`n")
        [int](Invoke-Sqlite3 $db 'SELECT count(*) FROM customers;') | Should -Be $customers
        [int](Invoke-Sqlite3 $db 'SELECT count(*) FROM orders;') | Should -Be $orders
        @(Invoke-Sqlite3 $db 'PRAGMA foreign_key_check;').Count | Should -Be 0
        $h = Invoke-Task "Get-TursoRecoveryHistory -Vault '$vault' | Select-Object Id, Action, Reason, Result | ConvertTo-Json -Compress"
        $entries = @($h.Output[-1] | ConvertFrom-Json)
        ($entries | Where-Object Action -eq 'RowRecovery').Reason | Should -Contain 'INC-4711'
        ($entries | Where-Object Action -eq 'Branch').Count | Should -BeGreaterThan 0
        $id = ($entries | Where-Object Action -eq 'RowRecovery' | Select-Object -Last 1).Id
        $u = Invoke-Task "Undo-TursoRecovery -Vault '$vault' -Id '$id' -Confirm:`$false | Out-Null"
        $u.ExitCode | Should -Be 0 -Because ($u.Errors -join "`n")
        [int](Invoke-Sqlite3 $db 'SELECT count(*) FROM customers;') | Should -Be ($customers - 40)
    }

    It 'a bad -Where is refused and nothing is written' {
        $hash = (Get-FileHash $db).Hash
        $r = Invoke-Task "`$b = New-TursoBranch -Path '$db' -Vault '$vault' -Timestamp '$before' -Name badwhere; Restore-TursoRow -Source `$b -Destination '$db' -Table customers -Where '1; DROP TABLE customers' -Vault '$vault'"
        $r.ExitCode | Should -Not -Be 0
        ($r.Errors -join ' ') | Should -Match 'expression|predicate|;'
        [int](Invoke-Sqlite3 $db 'SELECT count(*) FROM customers;') | Should -Be ($customers - 40)
    }

    It 'a broken migration: Restore-TursoTable brings the table back from before it, with its indexes' {
        Send-App 'CREATE INDEX orders_by_customer ON orders(customer_id);'
        $r = Invoke-Task "Sync-TursoWalArchive -Path '$db' -Vault '$vault' | Out-Null"
        Start-Sleep -Seconds 2
        $good = [DateTimeOffset]::UtcNow.ToString('o')
        Start-Sleep -Seconds 2
        $rows = [int](Invoke-Sqlite3 $db 'SELECT count(*) FROM orders;')
        Send-App 'PRAGMA foreign_keys=OFF; DROP INDEX orders_by_customer; UPDATE orders SET total = NULL;'
        $r = Invoke-Task "Sync-TursoWalArchive -Path '$db' -Vault '$vault' | Out-Null"
        $r = Invoke-Task "`$b = New-TursoBranch -Path '$db' -Vault '$vault' -Timestamp '$good' -Name premigration; Restore-TursoTable -Source `$b -Destination '$db' -Table orders -Vault '$vault' -Reason 'migration 42' -Confirm:`$false | Out-Null"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        [int](Invoke-Sqlite3 $db 'SELECT count(*) FROM orders WHERE total IS NOT NULL;') | Should -Be $rows
        (Invoke-Sqlite3 $db "SELECT count(*) FROM sqlite_schema WHERE name = 'orders_by_customer';") | Should -Be '1'
    }

    It 'Invoke-PointInTimeRecovery makes a checked branch, compares, exports a dump and prints the next steps' {
        $run = Invoke-Pwsh -File (Join-Path $runbooks 'Invoke-PointInTimeRecovery.ps1') -ArgumentList '-Path', $db, '-Vault', $vault, '-Timestamp', $before, '-Destination', (Join-Path $work 'pitr'), '-Reason', 'INC-4714'
        $run.ExitCode | Should -Be 0 -Because (($run.Output + $run.Errors) -join "`n")
        $text = $run.Output -join "`n"
        $text | Should -Match 'Checks: passed'
        $text | Should -Match 'Restore-TursoRow -Source'
        @(Get-ChildItem (Join-Path $work 'pitr') -Filter '*.sql.zst').Count | Should -Be 1
    }
}

Describe 'Restore-TursoRow into a remote libSQL database (a real tursodb --sync-server on 127.0.0.1)' {
    BeforeAll {
        $tursodb = if ($env:TURSODB) { $env:TURSODB } else { Join-Path (Get-RepoRoot) 'tools/peers/node_modules/@tursodatabase/cli-linux-x64-gnu/tursodb' }
        if (-not (Test-Path -LiteralPath $tursodb)) { throw "tursodb is not installed ($tursodb); run 'npm ci --prefix tools/peers'." }
        $script:rdir = Join-Path $work 'remote'
        [void][IO.Directory]::CreateDirectory($rdir)
        $served = Join-Path $rdir 'served.db'
        New-SampleDatabase $served -Customers 150 -WithOrderLines | Out-Null
        # The branch: the database as it was before the mistake (for a Turso Cloud database, New-TursoBranch -Timestamp makes it).
        $script:branch = Join-Path $rdir 'branch.db'
        Invoke-Sqlite3 $served "VACUUM INTO '$branch';" | Out-Null
        $script:rvault = Join-Path $rdir 'vault'
        $port = Get-FreePort
        $script:server = [pscustomobject]@{ Process = (Start-PeerProcess $tursodb @('--sync-server', "127.0.0.1:$port", $served)); Folder = $null }
        Wait-TcpPort $port -Process $server.Process
        $script:url = "http://127.0.0.1:$port"
        function Invoke-Remote([string] $Sql) {
            $body = @{ baton = $null; requests = @(@{ type = 'execute'; stmt = @{ sql = $Sql } }) } | ConvertTo-Json -Depth 6
            $r = Invoke-RestMethod -Method Post -Uri "$url/v2/pipeline" -ContentType 'application/json' -Body $body
            if ($r.results[0].type -ne 'ok') { throw $r.results[0].error.message }
            $r.results[0].response.result
        }
        function Get-RemoteCount([string] $Table) { [int]((Invoke-Remote "SELECT count(*) FROM $Table").rows[0][0].value) }
        $script:counts = @{}; foreach ($t in 'customers', 'orders', 'order_lines') { $counts[$t] = Get-RemoteCount $t }
        # The mistake, made on the server: 25 customers deleted with their orders and order lines.
        Invoke-Remote 'DELETE FROM order_lines WHERE order_id IN (SELECT id FROM orders WHERE customer_id <= 25)' | Out-Null
        Invoke-Remote 'DELETE FROM orders WHERE customer_id <= 25' | Out-Null
        Invoke-Remote 'DELETE FROM customers WHERE id <= 25' | Out-Null
    }
    AfterAll { Stop-PeerServer $server }

    It '-WhatIf says per table what it would insert and writes nothing' {
        $r = Invoke-Task "Compare-TursoDatabase -Reference '$branch' -Difference '$url' -IncludeRows | Restore-TursoRow -Source '$branch' -Destination '$url' -Vault '$rvault' -WhatIf"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        $text = $r.Output -join "`n"
        $text | Should -Match "rows of 'customers'.*would insert 25"
        $text | Should -Match "rows of 'orders'.*would insert 250"
        $text | Should -Match 'INSERT INTO'
        Get-RemoteCount customers | Should -Be ($counts.customers - 25)
    }

    It 'Compare | Restore-TursoRow brings the rows back over Hrana, parents first, journaled; Undo-TursoRecovery takes them out again' {
        $r = Invoke-Task "Compare-TursoDatabase -Reference '$branch' -Difference '$url' -IncludeRows | Restore-TursoRow -Source '$branch' -Destination '$url' -Vault '$rvault' -Reason 'INC-5001' | Select-Object Id, Table, Inserted, Destination | ConvertTo-Json -Compress"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        $res = @($r.Output[-1] | ConvertFrom-Json)
        $res.Table | Should -Be @('customers', 'orders', 'order_lines')
        $res.Inserted | Should -Be @(25, 250, 500)
        foreach ($t in 'customers', 'orders', 'order_lines') { Get-RemoteCount $t | Should -Be $counts[$t] -Because $t }
        $c = Invoke-Task "Compare-TursoDatabase -Reference '$branch' -Difference '$url' | Where-Object { `$_.Added + `$_.Removed + `$_.Changed } | Measure-Object | ForEach-Object Count"
        $c.Output[-1] | Should -Be '0'
        $h = Invoke-Task "Get-TursoRecoveryHistory -Vault '$rvault' | Where-Object Action -eq RowRecovery | Select-Object Id, Target, Reason, Result, Rows | ConvertTo-Json -Compress"
        $e = $h.Output[-1] | ConvertFrom-Json
        ($e.Target, $e.Reason, $e.Result, $e.Rows) | Should -Be @($url, 'INC-5001', 'Succeeded', 775)
        $u = Invoke-Task "Undo-TursoRecovery -Vault '$rvault' -Id '$($res[0].Id)' -Confirm:`$false | Out-Null"
        $u.ExitCode | Should -Be 0 -Because ($u.Errors -join "`n")
        Get-RemoteCount customers | Should -Be ($counts.customers - 25)
        Get-RemoteCount order_lines | Should -Be ($counts.order_lines - 500)
    }

    It 'refuses rows whose parents are missing, and a -Where that is not one expression, writing nothing' {
        $r = Invoke-Task "Restore-TursoRow -Source '$branch' -Destination '$url' -Table orders -Where 'customer_id <= 25' -Vault '$rvault'"
        $r.ExitCode | Should -Not -Be 0
        ($r.Errors -join ' ') | Should -Match 'foreign key.*parent'
        $r = Invoke-Task "Restore-TursoRow -Source '$branch' -Destination '$url' -Table customers -Where 'id < 5; DELETE FROM customers' -Vault '$rvault'"
        $r.ExitCode | Should -Not -Be 0
        ($r.Errors -join ' ') | Should -Match "';'"
        Get-RemoteCount orders | Should -Be ($counts.orders - 250)
    }
}
