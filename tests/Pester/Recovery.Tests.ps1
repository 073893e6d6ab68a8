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
