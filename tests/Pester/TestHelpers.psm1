# Shared fixtures of the Pester suites: temp folders, sample databases made by the sqlite3 CLI (an independent peer),
# a child pwsh run as a scheduled task runs it, a free port, and a local webhook receiver.
# Import with:  Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$script:ModuleManifest = Join-Path $script:RepoRoot 'out/TursoBackup/TursoBackup.psd1'
$script:InCi = $env:CI -eq 'true'

function Get-RepoRoot { $script:RepoRoot }
function Get-TursoModuleManifest { $script:ModuleManifest }

function New-TestFolder {
    <# A new empty folder under the temp folder; Remove-TestFolder removes it. #>
    param([string] $Prefix = 'tb-pester')
    $dir = Join-Path ([IO.Path]::GetTempPath()) ($Prefix + '-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
    [void][IO.Directory]::CreateDirectory($dir)
    $dir
}

function Remove-TestFolder([string] $Path) {
    if ($Path -and (Test-Path -LiteralPath $Path)) { Remove-Item -LiteralPath $Path -Recurse -Force -ErrorAction SilentlyContinue }
}

function Get-Peer {
    <# The path of a peer program (sqlite3, zstd, gpg…); throws with how to install it. #>
    param([Parameter(Mandatory)][string] $Name)
    $found = Get-Command $Name -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($found) { return $found.Source }
    throw "The peer program '$Name' is not installed; .ci/run installs it (apt-get install $Name)."
}

function Invoke-Sqlite3 {
    <# Runs SQL on a database with the sqlite3 CLI; returns its output lines; throws on a non-zero exit. #>
    param([Parameter(Mandatory)][string] $Database, [Parameter(Mandatory)][string] $Sql)
    $sqlite3 = Get-Peer sqlite3
    $out = $Sql | & $sqlite3 $Database 2>&1
    if ($LASTEXITCODE -ne 0) { throw "sqlite3 $Database failed ($LASTEXITCODE): $out" }
    $out
}

function New-SampleDatabase {
    <#
    A WAL database with customers and orders (a foreign key), -Customers and 10 x as many orders; -WithOrderLines adds
    order_lines (two per order, a foreign key to orders).
    #>
    param([Parameter(Mandatory)][string] $Path, [int] $Customers = 200, [switch] $WithOrderLines)
    $orders = $Customers * 10
    $lines = if ($WithOrderLines) {
        @"
CREATE TABLE order_lines(id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id), sku TEXT NOT NULL, quantity INTEGER NOT NULL);
INSERT INTO order_lines(order_id, sku, quantity) SELECT id, 'sku-' || (id % 37), 1 + id % 3 FROM orders;
INSERT INTO order_lines(order_id, sku, quantity) SELECT id, 'sku-' || (id % 11), 2 FROM orders;
"@
    }
    [void](Invoke-Sqlite3 $Path @"
PRAGMA journal_mode = WAL;
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), total REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $Customers) INSERT INTO customers SELECT i, 'customer ' || i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $orders) INSERT INTO orders SELECT i, 1 + i % $Customers, i * 1.5 FROM n;
$lines
"@)
    Get-Item -LiteralPath $Path
}

function Get-PwshCommand {
    <# The program and leading arguments that start this same pwsh (under `dotnet pwsh`, pwsh.dll itself). #>
    $process = [Environment]::ProcessPath
    if ([IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') { return @($process, (Join-Path $PSHOME 'pwsh.dll')) }
    @($process)
}

function Invoke-Pwsh {
    <#
    Runs a script file or a command in a NEW pwsh process, as a scheduled task runs it (-NoProfile -NonInteractive),
    with stdin closed. Returns ExitCode, Output (stdout lines), Errors (stderr lines) and Stopped.
    -WorkingDirectory: the process's current folder. -NoImport: -Command without the leading Import-Module of the module
    under test (the command imports it itself, or relies on $env:PSModulePath). -StopAfterSeconds: a command that runs
    until stopped (a service) gets -StopSignal (default TERM; INT is Ctrl+C, systemd's KillSignal=SIGINT) once that time
    has passed; Stopped says whether it had to be stopped.
    #>
    [CmdletBinding(DefaultParameterSetName = 'Command')]
    param(
        [Parameter(Mandatory, ParameterSetName = 'File')][string] $File,
        [Parameter(ParameterSetName = 'File')][string[]] $ArgumentList = @(),
        [Parameter(Mandatory, ParameterSetName = 'Command')][string] $Command,
        [hashtable] $Environment = @{},
        [int] $TimeoutSeconds = 600,
        [string] $WorkingDirectory,
        [switch] $NoImport,
        [double] $StopAfterSeconds = 0,
        [ValidateSet('TERM', 'INT')][string] $StopSignal = 'TERM'
    )
    $pwsh = Get-PwshCommand
    $psi = [Diagnostics.ProcessStartInfo]::new($pwsh[0])
    foreach ($a in $pwsh[1..($pwsh.Count)]) { if ($a) { $psi.ArgumentList.Add($a) } }
    foreach ($a in '-NoProfile', '-NonInteractive') { $psi.ArgumentList.Add($a) }
    if ($PSCmdlet.ParameterSetName -eq 'File') {
        $psi.ArgumentList.Add('-File'); $psi.ArgumentList.Add($File)
        foreach ($a in $ArgumentList) { $psi.ArgumentList.Add($a) }
    }
    else {
        $psi.ArgumentList.Add('-Command')
        $psi.ArgumentList.Add($(if ($NoImport) { $Command } else { "Import-Module '$($script:ModuleManifest)'; $Command" }))
    }
    if ($WorkingDirectory) { $psi.WorkingDirectory = $WorkingDirectory }
    $psi.Environment['NO_COLOR'] = '1' # plain text in the captured streams, as in a log file
    foreach ($k in $Environment.Keys) { $psi.Environment[$k] = [string]$Environment[$k] }
    $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.RedirectStandardInput = $true
    $psi.UseShellExecute = $false
    $p = [Diagnostics.Process]::Start($psi)
    $p.StandardInput.Close()
    $stdout = $p.StandardOutput.ReadToEndAsync(); $stderr = $p.StandardError.ReadToEndAsync()
    $stopped = $false
    if ($StopAfterSeconds -gt 0 -and -not $p.WaitForExit([int]($StopAfterSeconds * 1000))) {
        $stopped = $true
        & (Get-Peer kill) -s $StopSignal $p.Id
    }
    if (-not $p.WaitForExit($TimeoutSeconds * 1000)) { $p.Kill($true); throw "pwsh did not finish within $TimeoutSeconds s" }
    $p.WaitForExit()
    [pscustomobject]@{
        ExitCode = $p.ExitCode
        Output   = @($stdout.Result -split "`r?`n" | Where-Object { $_ -ne '' })
        Errors   = @($stderr.Result -split "`r?`n" | Where-Object { $_ -ne '' })
        Stopped  = $stopped
    }
}

function Get-FreePort {
    $l = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    $l.Start(); $port = $l.LocalEndpoint.Port; $l.Stop()
    $port
}

function Start-FakeWebhook {
    <#
    A local stand-in for a Slack/Teams incoming webhook: answers 200 to every POST and keeps each body.
    Returns an object with Url; read the bodies with Get-FakeWebhookMessage, stop with Stop-FakeWebhook.
    #>
    $port = Get-FreePort
    $prefix = "http://127.0.0.1:$port/"
    $listener = [Net.HttpListener]::new()
    $listener.Prefixes.Add($prefix)
    $listener.Start()
    $bodies = [Collections.Concurrent.ConcurrentQueue[string]]::new()
    $job = Start-ThreadJob -ArgumentList $listener, $bodies -ScriptBlock {
        param($l, $q)
        while ($l.IsListening) {
            try { $ctx = $l.GetContext() } catch { break }
            $reader = [IO.StreamReader]::new($ctx.Request.InputStream)
            $q.Enqueue($reader.ReadToEnd())
            $ok = [Text.Encoding]::UTF8.GetBytes('ok')
            $ctx.Response.StatusCode = 200
            $ctx.Response.OutputStream.Write($ok, 0, $ok.Length)
            $ctx.Response.Close()
        }
    }
    [pscustomobject]@{ Url = $prefix + 'services/T000/B000/XXXX'; Listener = $listener; Bodies = $bodies; Job = $job }
}

function Get-FakeWebhookMessage($Webhook) { @($Webhook.Bodies.ToArray()) }

function Stop-FakeWebhook($Webhook) {
    if (-not $Webhook) { return }
    $Webhook.Listener.Stop(); $Webhook.Listener.Close()
    $Webhook.Job | Wait-Job -Timeout 5 | Out-Null
    $Webhook.Job | Remove-Job -Force
}

function Start-PlatformApiStandIn {
    <#
    Starts tests/TursoBackup.StandIn (built first if it is missing): a local STAND-IN for the Turso Platform API — not
    Turso — that follows the API's OpenAPI document, serves the organization acme (databases main, shop-eu in the group
    europe, shop-us) and points every database at one local tursodb --sync-server (a real libSQL server) holding a copy
    of -Seed. Returns an object with BaseUri, ServerUrl (the libSQL server), ApiToken and Organization; Reset-PlatformApiStandIn
    gives a fresh API state, Get-PlatformApiStandInViolation its departures from the document, Stop-PlatformApiStandIn ends it.
    #>
    param([Parameter(Mandatory)][string] $Seed, [string] $ApiToken = ('standin-api-token-' + [guid]::NewGuid().ToString('N')))
    $project = Join-Path $script:RepoRoot 'tests/TursoBackup.StandIn'
    $dll = Join-Path $project 'bin/Release/net10.0/TursoBackup.StandIn.dll'
    if (-not (Test-Path -LiteralPath $dll)) {
        $built = dotnet build $project -c Release 2>&1
        if ($LASTEXITCODE -ne 0) { throw "dotnet build $project failed: $($built -join "`n")" }
    }
    $tursodb = if ($env:TURSODB) { $env:TURSODB } else { Join-Path $script:RepoRoot 'tools/peers/node_modules/@tursodatabase/cli-linux-x64-gnu/tursodb' }
    if (-not (Test-Path -LiteralPath $tursodb)) { throw "tursodb is not installed ($tursodb); run 'npm ci --prefix tools/peers'." }
    $psi = [Diagnostics.ProcessStartInfo]::new((Get-Command dotnet -CommandType Application | Select-Object -First 1).Source)
    foreach ($a in $dll, '--seed', $Seed, '--tursodb', $tursodb, '--org', 'acme', '--token', $ApiToken) { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardInput = $true; $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true
    $psi.UseShellExecute = $false
    $p = [Diagnostics.Process]::Start($psi)
    $standIn = [pscustomobject]@{ Process = $p; BaseUri = $null; ServerUrl = $null; ApiToken = $ApiToken; Organization = 'acme'; Stderr = $p.StandardError.ReadToEndAsync() }
    Read-PlatformApiStandInReady $standIn
    $standIn
}

function Read-PlatformApiStandInReady($StandIn) {
    $line = $StandIn.Process.StandardOutput.ReadLine()
    if ($line -notmatch '^READY (\S+) (\S+)$') {
        $StandIn.Process.WaitForExit(5000) | Out-Null
        $err = if ($StandIn.Process.HasExited) { $StandIn.Stderr.Result } else { '' }
        throw "The Platform API stand-in did not start: '$line' $err"
    }
    $StandIn.BaseUri = $Matches[1].TrimEnd('/'); $StandIn.ServerUrl = $Matches[2]
}

function Reset-PlatformApiStandIn($StandIn) {
    <# A fresh API state on a new port (the same databases as at start, no branches or tokens); updates BaseUri. #>
    $StandIn.Process.StandardInput.WriteLine('reset'); $StandIn.Process.StandardInput.Flush()
    Read-PlatformApiStandInReady $StandIn
}

function Get-PlatformApiStandInViolation($StandIn) {
    <# Every request since the last reset that the OpenAPI document does not allow (and every answer that does not match it). #>
    $StandIn.Process.StandardInput.WriteLine('violations'); $StandIn.Process.StandardInput.Flush()
    @($StandIn.Process.StandardOutput.ReadLine() | ConvertFrom-Json)
}

function Stop-PlatformApiStandIn($StandIn) {
    if (-not $StandIn) { return }
    try { $StandIn.Process.StandardInput.Close() } catch { }
    if (-not $StandIn.Process.WaitForExit(15000)) { $StandIn.Process.Kill($true) }
}

# ------------------------------------------------------------------ offsite vault servers (real ones, on 127.0.0.1)

function Get-NpmPeer([string] $Name) {
    <# A program of tools/peers/node_modules/.bin (azurite-blob, s3rver); throws with how to install it. #>
    $path = Join-Path $script:RepoRoot "tools/peers/node_modules/.bin/$Name"
    if (Test-Path -LiteralPath $path) { return $path }
    throw "The peer program '$Name' is not installed; .ci/run installs it (npm ci in tools/peers)."
}

function Wait-TcpPort([int] $Port, [int] $TimeoutSeconds = 30, $Process) {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        if ($Process -and $Process.HasExited) { throw "The server exited with code $($Process.ExitCode) before it listened on port $Port." }
        $c = [Net.Sockets.TcpClient]::new()
        try { $c.Connect('127.0.0.1', $Port); return } catch { Start-Sleep -Milliseconds 100 } finally { $c.Dispose() }
    }
    throw "Nothing listened on 127.0.0.1:$Port within $TimeoutSeconds s."
}

function Start-PeerProcess([string] $Program, [string[]] $Arguments, [hashtable] $Environment = @{}) {
    $psi = [Diagnostics.ProcessStartInfo]::new($Program)
    foreach ($a in $Arguments) { $psi.ArgumentList.Add($a) }
    foreach ($k in $Environment.Keys) { $psi.Environment[$k] = [string]$Environment[$k] }
    $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.UseShellExecute = $false
    $p = [Diagnostics.Process]::Start($psi)
    $null = $p.StandardOutput.ReadToEndAsync(); $null = $p.StandardError.ReadToEndAsync()
    $p
}

function Stop-PeerServer($Server) {
    if (-not $Server) { return }
    if ($Server.Process -and -not $Server.Process.HasExited) { $Server.Process.Kill($true); [void]$Server.Process.WaitForExit(10000) }
    if ($Server.Folder) { Remove-TestFolder $Server.Folder }
}

function Start-Azurite {
    <#
    The real Azure Blob Storage emulator (azurite 3.37.0 from tools/peers) on 127.0.0.1 and a free port, in a new
    folder. Returns Url (http://127.0.0.1:<port>/devstoreaccount1), Account, Key, ConnectionString; New-AzuriteContainer
    makes a container; Stop-PeerServer stops it.
    #>
    $folder = New-TestFolder 'tb-azurite'
    $port = Get-FreePort
    $p = Start-PeerProcess (Get-NpmPeer 'azurite-blob') @('--blobHost', '127.0.0.1', '--blobPort', "$port", '--location', $folder, '--silent', '--loose', '--skipApiVersionCheck')
    Wait-TcpPort $port -Process $p
    $key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
    [pscustomobject]@{
        Process = $p; Folder = $folder; Port = $port; Account = 'devstoreaccount1'; Key = $key
        Url = "http://127.0.0.1:$port/devstoreaccount1"
        ConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1;"
    }
}

function New-AzuriteContainer($Azurite, [string] $Name) {
    <# Creates a blob container with one Shared Key-signed REST call (Put Container), as `az storage container create` does. #>
    $date = [DateTime]::UtcNow.ToString('R')
    $version = '2021-08-06'
    $resource = "/$($Azurite.Account)/$($Azurite.Account)/$Name`nrestype:container"
    $toSign = "PUT`n`n`n`n`n`n`n`n`n`n`n`nx-ms-date:$date`nx-ms-version:$version`n$resource"
    $hmac = [Security.Cryptography.HMACSHA256]::new([Convert]::FromBase64String($Azurite.Key))
    $signature = [Convert]::ToBase64String($hmac.ComputeHash([Text.Encoding]::UTF8.GetBytes($toSign)))
    $headers = @{ 'x-ms-date' = $date; 'x-ms-version' = $version; Authorization = "SharedKey $($Azurite.Account):$signature" }
    $null = Invoke-WebRequest -Method Put -Uri "$($Azurite.Url)/$Name`?restype=container" -Headers $headers -UseBasicParsing
}

function Start-S3rver {
    <#
    The real S3 server s3rver 3.7.1 (tools/peers) on 127.0.0.1 and a free port, with -Bucket created at startup.
    Returns Endpoint, AccessKey, SecretKey (s3rver's S3RVER/S3RVER); Stop-PeerServer stops it. Node 20 needs
    --openssl-legacy-provider for s3rver's listing continuation tokens.
    #>
    param([string[]] $Bucket = @())
    $folder = New-TestFolder 'tb-s3rver'
    $port = Get-FreePort
    $args = @('--address', '127.0.0.1', '--port', "$port", '--directory', $folder, '--silent')
    foreach ($b in $Bucket) { $args += @('--configure-bucket', $b) }
    $p = Start-PeerProcess (Get-NpmPeer 's3rver') $args @{ NODE_OPTIONS = '--openssl-legacy-provider' }
    Wait-TcpPort $port -Process $p
    [pscustomobject]@{ Process = $p; Folder = $folder; Port = $port; Endpoint = "http://127.0.0.1:$port"; AccessKey = 'S3RVER'; SecretKey = 'S3RVER' }
}

function Start-Sshd {
    <#
    Debian's real OpenSSH server, run by the test (not the system's: its own config, host key and port on 127.0.0.1,
    key authentication only) with an SFTP subsystem. Returns Port, User, KeyFile (the client's private key),
    HostKeyFingerprint ("SHA256:…", as ssh-keygen -lf prints it) and Root (a folder to put vaults in); Stop-PeerServer stops it.
    #>
    $sshd = '/usr/sbin/sshd'
    if (-not (Test-Path $sshd)) { throw "The peer program 'sshd' is not installed; .ci/run installs it (apt-get install openssh-server)." }
    $folder = New-TestFolder 'tb-sshd'
    $keygen = Get-Peer ssh-keygen
    & $keygen -q -t ed25519 -N '' -f (Join-Path $folder 'host_key') | Out-Null
    & $keygen -q -t ed25519 -N '' -f (Join-Path $folder 'client_key') | Out-Null
    Copy-Item (Join-Path $folder 'client_key.pub') (Join-Path $folder 'authorized_keys')
    $port = Get-FreePort
    $sftpServer = @('/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server') | Where-Object { Test-Path $_ } | Select-Object -First 1
    @"
Port $port
ListenAddress 127.0.0.1
HostKey $folder/host_key
AuthorizedKeysFile $folder/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $folder/sshd.pid
Subsystem sftp $sftpServer
"@ | Set-Content -LiteralPath (Join-Path $folder 'sshd_config')
    if (-not (Test-Path /run/sshd)) { [void][IO.Directory]::CreateDirectory('/run/sshd') }
    $p = Start-PeerProcess $sshd @('-D', '-e', '-f', (Join-Path $folder 'sshd_config'))
    Wait-TcpPort $port -Process $p
    $fingerprint = ((& $keygen -lf (Join-Path $folder 'host_key.pub')) -split ' ')[1]
    $root = Join-Path $folder 'vaults'; [void][IO.Directory]::CreateDirectory($root)
    [pscustomobject]@{ Process = $p; Folder = $folder; Port = $port; User = [Environment]::UserName; KeyFile = (Join-Path $folder 'client_key'); HostKeyFingerprint = $fingerprint; Root = $root }
}

Export-ModuleMember -Function *
