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
    <# A WAL database with customers and orders (a foreign key), -Customers and 10 x as many orders. #>
    param([Parameter(Mandatory)][string] $Path, [int] $Customers = 200)
    $orders = $Customers * 10
    [void](Invoke-Sqlite3 $Path @"
PRAGMA journal_mode = WAL;
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), total REAL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $Customers) INSERT INTO customers SELECT i, 'customer ' || i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $orders) INSERT INTO orders SELECT i, 1 + i % $Customers, i * 1.5 FROM n;
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
    with stdin closed. Returns ExitCode, Output (stdout lines) and Errors (stderr lines).
    #>
    [CmdletBinding(DefaultParameterSetName = 'Command')]
    param(
        [Parameter(Mandatory, ParameterSetName = 'File')][string] $File,
        [Parameter(ParameterSetName = 'File')][string[]] $ArgumentList = @(),
        [Parameter(Mandatory, ParameterSetName = 'Command')][string] $Command,
        [hashtable] $Environment = @{},
        [int] $TimeoutSeconds = 600
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
        $psi.ArgumentList.Add('-Command'); $psi.ArgumentList.Add("Import-Module '$($script:ModuleManifest)'; $Command")
    }
    $psi.Environment['NO_COLOR'] = '1' # plain text in the captured streams, as in a log file
    foreach ($k in $Environment.Keys) { $psi.Environment[$k] = [string]$Environment[$k] }
    $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true; $psi.RedirectStandardInput = $true
    $psi.UseShellExecute = $false
    $p = [Diagnostics.Process]::Start($psi)
    $p.StandardInput.Close()
    $stdout = $p.StandardOutput.ReadToEndAsync(); $stderr = $p.StandardError.ReadToEndAsync()
    if (-not $p.WaitForExit($TimeoutSeconds * 1000)) { $p.Kill($true); throw "pwsh did not finish within $TimeoutSeconds s" }
    $p.WaitForExit()
    [pscustomobject]@{
        ExitCode = $p.ExitCode
        Output   = @($stdout.Result -split "`r?`n" | Where-Object { $_ -ne '' })
        Errors   = @($stderr.Result -split "`r?`n" | Where-Object { $_ -ne '' })
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

Export-ModuleMember -Function *
