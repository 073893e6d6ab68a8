<#
.SYNOPSIS
    One large artifact (default 2 GiB) backed up, synced to S3 (s3rver) and to a folder, and restored from S3, each step
    in its own non-interactive pwsh under GNU time: wall time and peak RSS (docs/benchmarks.md, "One 2 GiB artifact").
.EXAMPLE
    dotnet pwsh -NoProfile -NonInteractive -File tests/Benchmarks/LargeObject.ps1 -SizeMiB 2048
#>
param([int] $SizeMiB = 2048, [string] $Work = (Join-Path ([IO.Path]::GetTempPath()) 'tursobackup-large-object'))
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '../Pester/TestHelpers.psm1') -Force
$module = Get-TursoModuleManifest
if (Test-Path $Work) { Remove-Item -Recurse -Force $Work }
[void][IO.Directory]::CreateDirectory($Work)
$s3 = Start-S3rver -Bucket 'vaults'
try {
    $db = Join-Path $Work 'big.db'
    [void](Invoke-Sqlite3 $db "CREATE TABLE b(id INTEGER PRIMARY KEY, v BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $($SizeMiB * 16)) INSERT INTO b(v) SELECT randomblob(65536) FROM n;")
    $env:AWS_ACCESS_KEY_ID = $s3.AccessKey; $env:AWS_SECRET_ACCESS_KEY = $s3.SecretKey; $env:AWS_ENDPOINT_URL_S3 = $s3.Endpoint
    $env:TURSOBACKUP_CACHE = Join-Path $Work 'mirror'
    $pwsh = Get-PwshCommand
    $steps = [ordered]@{
        'Backup-TursoDatabase -Compression None' = "Backup-TursoDatabase -Path '$db' -Vault '$Work/vault' -Compression None | Out-Null"
        'Sync-TursoVault to S3'                  = "Sync-TursoVault -Source '$Work/vault' -Destination 's3://vaults/one' | Out-Null"
        'Sync-TursoVault to a folder'            = "Sync-TursoVault -Source '$Work/vault' -Destination '$Work/folder' | Out-Null"
        'Restore-TursoBackup -Vault s3://...'    = "Restore-TursoBackup -Vault 's3://vaults/one' -Database big -Destination '$Work/restored.db' | Out-Null"
    }
    foreach ($step in $steps.GetEnumerator()) {
        $out = Join-Path $Work 'time.txt'
        & /usr/bin/time -f '%e %M' -o $out $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command "Import-Module '$module'; `$ErrorActionPreference = 'Stop'; $($step.Value)"
        if ($LASTEXITCODE -ne 0) { throw "$($step.Key) failed" }
        $t = (Get-Content $out | Select-Object -Last 1) -split ' '
        '{0,-40} {1,8:N1} s {2,8:N0} MiB' -f $step.Key, [double]$t[0], ([double]$t[1] / 1024)
    }
}
finally { Stop-PeerServer $s3; Remove-Item -Recurse -Force $Work -ErrorAction SilentlyContinue }
