#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Issue 14: encryption at rest — OpenPGP AES-256 that stock gpg opens — in real `pwsh -NoProfile -NonInteractive`
# processes, as a scheduled task runs the commands: the passphrase from TURSO_BACKUP_PASSPHRASE or -Passphrase, public
# keys made by the real gpg (Debian's gnupg 2.2) in a GNUPGHOME of this test's own, an offsite copy encrypted on the way
# to a real Azure Blob emulator (azurite 3.37.0) on 127.0.0.1, and every artifact opened again by hand with gpg and zstd.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-TursoModuleManifest) -Force
    $script:work = New-TestFolder 'tb-encryption'
    $script:pass = 'correct horse battery staple'
    $script:gnupg = Join-Path $work 'gnupg'
    [void][IO.Directory]::CreateDirectory($gnupg)
    & chmod 700 $gnupg
    $script:gpg = Get-Peer gpg
    $script:zstd = Get-Peer zstd

    function Invoke-Gpg([string[]] $Arguments) {
        $env:GNUPGHOME = $script:gnupg
        try { $out = & $script:gpg --batch --yes --no-tty --pinentry-mode loopback @Arguments 2>&1 }
        finally { Remove-Item Env:GNUPGHOME -ErrorAction SilentlyContinue }
        if ($LASTEXITCODE -ne 0) { throw "gpg $Arguments failed: $out" }
        $out
    }
    function New-GpgKey([string] $Email) {
        Invoke-Gpg @('--passphrase', '', '--quick-generate-key', "Test <$Email>", 'rsa2048', 'default', 'never') | Out-Null
        $fpr = ((Invoke-Gpg @('--with-colons', '--list-keys', $Email)) | Where-Object { "$_" -like 'fpr:*' } | Select-Object -First 1).ToString().Split(':')[9]
        Invoke-Gpg @('--passphrase', '', '--quick-add-key', $fpr, 'rsa2048', 'encr', 'never') | Out-Null
        $pub = Join-Path $script:work "$Email.pub.asc"; $sec = Join-Path $script:work "$Email.sec.gpg"
        Invoke-Gpg @('--armor', '--output', $pub, '--export', $Email) | Out-Null
        Invoke-Gpg @('--passphrase', '', '--output', $sec, '--export-secret-keys', $Email) | Out-Null
        [pscustomobject]@{ Public = $pub; Secret = $sec }
    }
    function Invoke-Task([string] $Command, [hashtable] $Environment = @{}) {
        $e = @{ TURSOBACKUP_CACHE = (Join-Path $script:work ('mirror-' + [guid]::NewGuid().ToString('N').Substring(0, 8))) } + $Environment
        Invoke-Pwsh -Command ("`$ErrorActionPreference = 'Stop'; `$ProgressPreference = 'SilentlyContinue'; " + $Command) -Environment $e -TimeoutSeconds 300
    }
    function Get-Rows([string] $Path) { [int]((Invoke-Sqlite3 $Path 'SELECT count(*) FROM orders;') | Select-Object -First 1) }
    function Open-ByHand([string] $Artifact, [string] $Out, [string[]] $Key = @('--passphrase', $script:pass)) {
        # Exactly docs/vault-format.md's emergency recipe: gpg --decrypt … | zstd -d > db.sqlite
        $env:GNUPGHOME = $script:gnupg
        try {
            $cmd = "'$script:gpg' --batch --pinentry-mode loopback $($Key | ForEach-Object { "'$_'" }) --decrypt '$Artifact' 2>/dev/null | '$script:zstd' -d > '$Out'"
            & bash -c $cmd
            $LASTEXITCODE | Should -Be 0
        }
        finally { Remove-Item Env:GNUPGHOME -ErrorAction SilentlyContinue }
    }

    $script:db = Join-Path $work 'data/shop.db'
    [void][IO.Directory]::CreateDirectory((Split-Path $db))
    New-SampleDatabase $db -Customers 100 | Out-Null
    $script:rows = Get-Rows $db
    $script:admin = New-GpgKey 'admin@example.com'
    $script:escrow = New-GpgKey 'escrow@example.com'
}

AfterAll { Remove-TestFolder $work }

Describe 'A passphrase from the environment, as a scheduled task has it' {
    BeforeAll {
        $script:vault = Join-Path $work 'vault-pass'
        $r = Invoke-Task "Backup-TursoDatabase -Path '$db' -Vault '$vault' -Verbose *>&1 | ForEach-Object { `"`$_`" }; Get-TursoBackup -Vault '$vault' | ConvertTo-Json -Depth 4 -Compress" @{ TURSO_BACKUP_PASSPHRASE = $pass }
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        $script:taskOutput = ($r.Output + $r.Errors) -join "`n"
        $script:backup = $r.Output[-1] | ConvertFrom-Json
    }

    It 'encrypts the backup, records both checksums, and keeps the passphrase out of output, manifests and logs' {
        $backup.Encrypted | Should -BeTrue
        $backup.Location | Should -BeLike '*.db.zst.gpg'
        $backup.Encryption.Passphrase | Should -BeTrue
        $backup.PlaintextSha256 | Should -Not -Be $backup.Sha256
        $taskOutput | Should -Match 'OpenPGP AES-256'
        $taskOutput | Should -Not -Match ([regex]::Escape($pass))
        Get-ChildItem $vault -Recurse -File | ForEach-Object { [IO.File]::ReadAllText($_.FullName) } | Should -Not -Match ([regex]::Escape($pass))
    }

    It 'opens by hand with nothing but gpg and zstd (docs/vault-format.md)' {
        $out = Join-Path $work 'hand.db'
        Open-ByHand $backup.Location $out
        (Invoke-Sqlite3 $out 'PRAGMA integrity_check;') | Should -Be 'ok'
        Get-Rows $out | Should -Be $rows
    }

    It 'refuses a restore without the key or with a wrong one, naming what to give, and writes nothing' {
        $dest = Join-Path $work 'restore-pass'
        [void][IO.Directory]::CreateDirectory($dest)
        $none = Invoke-Task "Restore-TursoBackup -Vault '$vault' -Database shop -Destination '$dest/a.db'"
        $none.ExitCode | Should -Not -Be 0
        ($none.Errors -join ' ') | Should -Match '-Passphrase'
        ($none.Errors -join ' ') | Should -Match 'TURSO_BACKUP_PASSPHRASE'
        $wrong = Invoke-Task "Restore-TursoBackup -Vault '$vault' -Database shop -Destination '$dest/b.db' -Passphrase 'not it'"
        $wrong.ExitCode | Should -Not -Be 0
        ($wrong.Errors -join ' ') | Should -Match "The passphrase does not open backup $($backup.Id) of 'shop'"
        ($wrong.Errors -join ' ') | Should -Not -Match 'not it'
        @(Get-ChildItem -LiteralPath $dest -Force).Count | Should -Be 0
    }

    It 'restores and tests with the passphrase; Test-Backup reports a Decryption check' {
        $dest = Join-Path $work 'restore-pass/ok.db'
        $r = Invoke-Task "Restore-TursoBackup -Vault '$vault' -Database shop -Destination '$dest' | Out-Null; Test-Backup -Vault '$vault' -Database shop | ForEach-Object { `$_.Checks } | Select-Object Name, Passed | ConvertTo-Json -Compress" @{ TURSO_BACKUP_PASSPHRASE = $pass }
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        Get-Rows $dest | Should -Be $rows
        $checks = $r.Output[-1] | ConvertFrom-Json
        ($checks | Where-Object Name -eq 'Decryption').Passed | Should -BeTrue
        @($checks | Where-Object { -not $_.Passed }).Count | Should -Be 0
    }
}

Describe 'Public keys: the host that backs up cannot read what it wrote' {
    BeforeAll {
        $script:vault = Join-Path $work 'vault-keys'
        $r = Invoke-Task "Backup-TursoDatabase -Path '$db' -Vault '$vault' -Recipient '$($admin.Public)', '$($escrow.Public)' | ConvertTo-Json -Depth 4 -Compress"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        $script:backup = $r.Output[-1] | ConvertFrom-Json
    }

    It 'is opened by each secret key, and by gpg, and not by a passphrase' {
        $backup.Encryption.KeyIds.Count | Should -Be 2
        foreach ($key in $admin, $escrow) {
            $dest = Join-Path $work ("keys-" + [IO.Path]::GetFileNameWithoutExtension($key.Secret) + '.db')
            $r = Invoke-Task "Restore-TursoBackup -Vault '$vault' -Database shop -Destination '$dest' -KeyFile '$($key.Secret)' | Out-Null"
            $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
            Get-Rows $dest | Should -Be $rows
        }
        $pp = Invoke-Task "Restore-TursoBackup -Vault '$vault' -Database shop -Destination '$work/keys-pp.db' -Passphrase '$pass'"
        $pp.ExitCode | Should -Not -Be 0
        Test-Path "$work/keys-pp.db" | Should -BeFalse
        $out = Join-Path $work 'keys-hand.db'
        Open-ByHand $backup.Location $out @()
        Get-Rows $out | Should -Be $rows
    }
}

Describe 'A vault that requires encryption' {
    BeforeAll {
        $script:vault = Join-Path $work 'vault-policy'
        $r = Invoke-Task "Backup-TursoDatabase -Path '$db' -Vault '$vault' -Passphrase '$pass' | Out-Null; Set-TursoVault -Vault '$vault' -Encryption Required -Verbose"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
    }

    It 'refuses a backup without a key, with the parameter to give, and writes nothing' {
        $r = Invoke-Task "Backup-TursoDatabase -Path '$db' -Vault '$vault'"
        $r.ExitCode | Should -Not -Be 0
        ($r.Errors -join ' ') | Should -Match 'requires encryption'
        ($r.Errors -join ' ') | Should -Match '-Passphrase'
        @(Get-ChildItem (Join-Path $vault 'databases/shop') -Directory).Count | Should -Be 1
        (Get-Content (Join-Path $vault 'vault.json') -Raw | ConvertFrom-Json).encryption | Should -Be 'required'
    }

    It 'files the emergency backup of a database a restore replaces encrypted with the restore''s key, so the vault takes it' {
        $target = Join-Path $work 'policy-target.db'
        Copy-Item -LiteralPath $db -Destination $target
        $r = Invoke-Task "Restore-TursoBackup -Vault '$vault' -Database shop -Destination '$target' -Force -Confirm:`$false -Passphrase '$pass' | ForEach-Object { `$_.EmergencyBackup } | ConvertTo-Json -Depth 4 -Compress"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        $emergency = $r.Output[-1] | ConvertFrom-Json
        $emergency.Encrypted | Should -BeTrue
        $emergency.Encryption.Passphrase | Should -BeTrue
        Get-Rows $target | Should -Be $rows
        Remove-TursoBackup -InputObject (Get-TursoBackup -Vault $vault -Id $emergency.Id) -Confirm:$false
    }

    It 'lists, reports health and applies retention without the key' {
        $r = Invoke-Task "Get-TursoBackup -Vault '$vault' | Out-Null; Get-TursoBackupHealth -Vault '$vault' | Out-Null; Invoke-TursoBackupRetention -Vault '$vault' -Daily 7 -Confirm:`$false | Out-Null; (Get-TursoBackup -Vault '$vault').Count"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        $r.Output[-1] | Should -Be '1'
    }
}

Describe 'An encrypted WAL archive: point in time and branches with the key' {
    BeforeAll {
        $script:walDb = Join-Path $work 'data/wal.db'
        New-SampleDatabase $walDb -Customers 50 | Out-Null
        $script:vault = Join-Path $work 'vault-wal'
        $r = Invoke-Task @"
Start-TursoWalArchive -Path '$walDb' -Vault '$vault' -Recipient '$($admin.Public)' -Duration '00:00:04' -StatusInterval '00:01:00' | Out-Null
"@ -Environment @{ TURSO_BACKUP_PASSPHRASE = $pass }
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        # The application keeps the database open, as applications do (the last connection to close would checkpoint
        # and truncate the WAL): its commit reaches the archive as a segment.
        $psi = [Diagnostics.ProcessStartInfo]::new((Get-Peer sqlite3))
        $psi.ArgumentList.Add($walDb)
        $psi.RedirectStandardInput = $true; $psi.RedirectStandardOutput = $true; $psi.UseShellExecute = $false
        $app = [Diagnostics.Process]::Start($psi)
        try {
            $app.StandardInput.WriteLine("INSERT INTO orders(customer_id, total) VALUES (1, 1.0); SELECT 'written';")
            $app.StandardInput.Flush()
            while (($line = $app.StandardOutput.ReadLine()) -ne $null -and $line -ne 'written') { }
            $r = Invoke-Task "Sync-TursoWalArchive -Path '$walDb' -Vault '$vault' -Recipient '$($admin.Public)' -Passphrase '$pass' | Out-Null"
            $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        }
        finally { $app.StandardInput.Close(); $app.WaitForExit(10000) | Out-Null }
        $script:mark = [DateTimeOffset]::UtcNow.AddSeconds(1).ToString('o')
        Start-Sleep -Seconds 2
        $script:walRows = Get-Rows $walDb
    }

    It 'restores to a point in time and branches with the secret key or the passphrase, and names the parameters without' {
        $none = Invoke-Task "Restore-TursoPointInTime -Vault '$vault' -Database wal -Timestamp '$mark' -Destination '$work/pitr-none.db'"
        $none.ExitCode | Should -Not -Be 0
        ($none.Errors -join ' ') | Should -Match '-KeyFile'
        Test-Path "$work/pitr-none.db" | Should -BeFalse
        $r = Invoke-Task "Restore-TursoPointInTime -Vault '$vault' -Database wal -Timestamp '$mark' -Destination '$work/pitr.db' -KeyFile '$($admin.Secret)' | Out-Null"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        Get-Rows "$work/pitr.db" | Should -Be $walRows
        $b = Invoke-Task "New-TursoBranch -Path '$walDb' -Vault '$vault' -Timestamp '$mark' -Name enc-branch -Passphrase '$pass' | Out-Null"
        $b.ExitCode | Should -Be 0 -Because ($b.Errors -join "`n")
        Get-Rows (Join-Path (Split-Path $walDb) 'enc-branch.db') | Should -Be $walRows
    }

    It 'keeps segment bodies and snapshots encrypted on disk, and gpg opens the snapshot' {
        $snapshot = Get-ChildItem (Join-Path $vault 'wal/wal/generations') -Recurse -Filter 'snapshot.db.zst' | Select-Object -First 1
        $out = Join-Path $work 'wal-snapshot.db'
        Open-ByHand $snapshot.FullName $out @()
        (Invoke-Sqlite3 $out 'PRAGMA integrity_check;') | Should -Be 'ok'
        $segment = Get-ChildItem (Join-Path $vault 'wal/wal/generations') -Recurse -Include '*.seg', '*.pack' | Select-Object -First 1
        $segment | Should -Not -BeNullOrEmpty
        $bytes = [IO.File]::ReadAllBytes($segment.FullName)
        $headerLength = [BitConverter]::ToUInt32($bytes, 8)
        [Text.Encoding]::UTF8.GetString($bytes, 12, $headerLength) | Should -Match '"encrypted":\s*true'
    }
}

Describe 'Encrypted on the way: a plain vault copied offsite restores from the offsite vault alone (done when)' {
    BeforeAll {
        $script:azurite = Start-Azurite
        New-AzuriteContainer $azurite 'vaults'
        $script:remote = "$($azurite.Url)/vaults/enc"
        $script:azEnv = @{ AZURE_STORAGE_CONNECTION_STRING = $azurite.ConnectionString }
        $script:plainDb = Join-Path $work 'data/plain.db'
        New-SampleDatabase $plainDb -Customers 80 | Out-Null
        $script:vault = Join-Path $work 'vault-plain'
        $script:folder = Join-Path $work 'nas/enc'
        $r = Invoke-Task @"
Backup-TursoDatabase -Path '$plainDb' -Vault '$vault' | Out-Null
Start-TursoWalArchive -Path '$plainDb' -Vault '$vault' -Duration '00:00:03' -StatusInterval '00:01:00' | Out-Null
"@
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        Invoke-Sqlite3 $plainDb 'INSERT INTO orders(customer_id, total) VALUES (2, 2.0);' | Out-Null
        $r = Invoke-Task "Sync-TursoWalArchive -Path '$plainDb' -Vault '$vault' | Out-Null"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        $script:mark = [DateTimeOffset]::UtcNow.AddSeconds(1).ToString('o')
        Start-Sleep -Seconds 2
        $script:plainRows = Get-Rows $plainDb
        $script:first = Invoke-Task "Sync-TursoVault -Source '$vault' -Destination '$remote', '$folder' -Passphrase '$pass' | ForEach-Object { `"`$(`$_.Copied) `$(`$_.Failed)`" }" $azEnv
        $script:second = Invoke-Task "Sync-TursoVault -Source '$vault' -Destination '$remote', '$folder' -Passphrase '$pass' | ForEach-Object { `"`$(`$_.Copied) `$(`$_.Failed)`" }" $azEnv
    }
    AfterAll { Stop-PeerServer $azurite }

    It 'copies everything once, encrypted, and nothing the second time' {
        $first.ExitCode | Should -Be 0 -Because ($first.Errors -join "`n")
        $first.Output | ForEach-Object { [int]($_ -split ' ')[0] | Should -BeGreaterThan 0; ($_ -split ' ')[1] | Should -Be '0' }
        $second.ExitCode | Should -Be 0 -Because ($second.Errors -join "`n")
        $second.Output | Should -Be @('0 0', '0 0')
        # The local vault stays plain; the folder destination holds no plain artifact.
        (Get-ChildItem (Join-Path $vault 'databases') -Recurse -Filter '*.gpg').Count | Should -Be 0
        (Get-ChildItem (Join-Path $folder 'databases') -Recurse -File | Where-Object Name -like 'plain.db*' | Where-Object Name -notlike '*.gpg').Count | Should -Be 0
        $out = Join-Path $work 'offsite-hand.db'
        Open-ByHand (Get-ChildItem (Join-Path $folder 'databases') -Recurse -Filter '*.gpg' | Select-Object -First 1).FullName $out
        Get-Rows $out | Should -BeGreaterThan 0
    }

    It 'restores, tests and recovers to a point in time from the Azure vault alone, with the key' {
        Remove-Item -LiteralPath $vault -Recurse -Force
        $r = Invoke-Task @"
`$b = Get-TursoBackup -Vault '$remote' -Database plain
if (-not `$b.Encrypted) { throw 'not encrypted offsite' }
Restore-TursoBackup -Vault '$remote' -Database plain -Destination '$work/off-restore.db' -Passphrase '$pass' | Out-Null
`$t = Test-Backup -Vault '$remote' -Database plain -Passphrase '$pass'
if (-not `$t.Passed) { throw "Test-Backup failed: `$(`$t.FailedChecks)" }
Restore-TursoPointInTime -Vault '$remote' -Database plain -Timestamp '$mark' -Destination '$work/off-pitr.db' -Passphrase '$pass' | Out-Null
"@ $azEnv
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        Get-Rows "$work/off-restore.db" | Should -BeGreaterThan 0
        Get-Rows "$work/off-pitr.db" | Should -Be $plainRows
        $nokey = Invoke-Task "Restore-TursoBackup -Vault '$remote' -Database plain -Destination '$work/off-nokey.db'" $azEnv
        $nokey.ExitCode | Should -Not -Be 0
        Test-Path "$work/off-nokey.db" | Should -BeFalse
    }
}

Describe 'Key rotation: Update-TursoBackupKey re-wraps without re-encrypting' {
    BeforeAll {
        $script:vault = Join-Path $work 'vault-rotate'
        $script:folder = Join-Path $work 'nas/rotate'
        $r = Invoke-Task "Backup-TursoDatabase -Path '$db' -Vault '$vault' -Passphrase 'old pass' | Out-Null; Sync-TursoVault -Source '$vault' -Destination '$folder' | Out-Null; Get-TursoBackup -Vault '$vault' | ConvertTo-Json -Depth 4 -Compress"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        $script:before = $r.Output[-1] | ConvertFrom-Json
        $r = Invoke-Task "Get-TursoBackup -Vault '$vault' | Update-TursoBackupKey -Passphrase 'old pass' -NewPassphrase '$pass' -NewRecipient '$($admin.Public)' | ConvertTo-Json -Depth 4 -Compress; Sync-TursoVault -Source '$vault' -Destination '$folder' | Out-Null"
        $r.ExitCode | Should -Be 0 -Because ($r.Errors -join "`n")
        $script:after = $r.Output[0] | ConvertFrom-Json
    }

    It 'records the new key, keeps the plaintext checksum, and the old passphrase no longer opens it' {
        $after.Encryption.Passphrase | Should -BeTrue
        $after.Encryption.KeyIds.Count | Should -Be 1
        $after.Encryption.RewrappedAt | Should -Not -BeNullOrEmpty
        $after.PlaintextSha256 | Should -Be $before.PlaintextSha256
        $after.Sha256 | Should -Not -Be $before.Sha256
        Test-Path $before.Location | Should -BeFalse
        $old = Invoke-Task "Restore-TursoBackup -Vault '$vault' -Database shop -Destination '$work/rot-old.db' -Passphrase 'old pass'"
        $old.ExitCode | Should -Not -Be 0
        $new = Invoke-Task "Restore-TursoBackup -Vault '$vault' -Database shop -Destination '$work/rot-new.db' -Passphrase '$pass' | Out-Null; Restore-TursoBackup -Vault '$vault' -Database shop -Destination '$work/rot-key.db' -KeyFile '$($admin.Secret)' | Out-Null"
        $new.ExitCode | Should -Be 0 -Because ($new.Errors -join "`n")
        Get-Rows "$work/rot-new.db" | Should -Be $rows
        Get-Rows "$work/rot-key.db" | Should -Be $rows
        Open-ByHand $after.Location (Join-Path $work 'rot-hand.db')
    }

    It 'the next sync replaces the offsite copy, and no copy the old passphrase opens is left there' {
        $artifacts = @(Get-ChildItem (Join-Path $folder 'databases/shop') -Recurse -Filter '*.gpg')
        $artifacts.Count | Should -Be 1
        $artifacts[0].Name | Should -Be (Split-Path $after.Location -Leaf)
    }
}

Describe 'The runbooks with encrypted backups' {
    BeforeAll {
        $script:runbooks = Join-Path (Get-RepoRoot) 'out/TursoBackup/Runbooks'
        $script:rbData = Join-Path $work 'rb-data'
        [void][IO.Directory]::CreateDirectory($rbData)
        New-SampleDatabase (Join-Path $rbData 'alpha.db') -Customers 40 | Out-Null
        $script:rbVault = Join-Path $work 'rb-vault'
        $script:rbOffsite = Join-Path $work 'rb-offsite'
    }

    It 'the daily runbook encrypts for a public key here and offsite, skips what it cannot test, and exits 0' {
        $run = Invoke-Pwsh -File (Join-Path $runbooks 'Invoke-DailyBackup.ps1') -ArgumentList '-Path', $rbData, '-Vault', $rbVault, '-Offsite', $rbOffsite, '-Recipient', $admin.Public
        $run.ExitCode | Should -Be 0 -Because (($run.Output + $run.Errors) -join "`n")
        ($run.Output -join "`n") | Should -Match 'encrypted for public keys only and are not tested here'
        $b = Get-TursoBackup -Vault $rbOffsite -Database alpha
        $b.Encrypted | Should -BeTrue
        $b.Encryption.KeyIds.Count | Should -Be 1
    }

    It 'the drill tests them where the secret key is (exit 0), and fails without it (exit 1)' {
        $ok = Invoke-Pwsh -File (Join-Path $runbooks 'Invoke-RecoveryDrill.ps1') -ArgumentList '-Vault', $rbOffsite, '-KeyFile', $admin.Secret
        $ok.ExitCode | Should -Be 0 -Because (($ok.Output + $ok.Errors) -join "`n")
        ($ok.Output -join "`n") | Should -Match 'alpha +passed'
        $no = Invoke-Pwsh -File (Join-Path $runbooks 'Invoke-RecoveryDrill.ps1') -ArgumentList '-Vault', $rbOffsite
        $no.ExitCode | Should -Be 1
    }
}
