#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Docs are tests: every example of `Get-Help <cmdlet> -Examples` (read from module/en-US/TursoBackup.dll-Help.xml) and
# every ```powershell block of README.md runs here, each in its OWN new pwsh process (-NoProfile -NonInteractive, stdin
# closed, $ErrorActionPreference = 'Stop'), against real files, and fails on a non-zero exit, anything on stderr, any
# error record left in $Error, or a prompt (non-interactive pwsh turns a prompt into an error). The examples are
# discovered when Pester discovers the tests, so a new example is tested without touching this file.
#
# The placeholders of the examples are mapped TEXTUALLY onto a fixture world built once per suite in a temp folder
# (Convert-DocExample below says exactly what is replaced), and the world is rebuilt from a pristine copy before every
# example, at the same path, so an example that removes or replaces something cannot affect another and the order does
# not matter:
#   /data            main.db, shop.db, orders.db (WAL; customers, orders, order_lines), made by the sqlite3 CLI
#   /backups         a vault: snapshots (Critical) of each, gzip dumps of main and shop (Critical, 'weekly-dump'), backups
#                    of legacy (one an emergency backup an Import -Force took), WAL archives of main and shop spanning
#                    several seconds, a passed Test-Backup of each newest backup
#   /restore, /tmp/inspect (empty), /exports (main.sql.zst), /branches (a branch as of now and a pitr- branch of main)
#   \\nas\backups, D:\data, E:\backups, /etc/systemd/system   folders of the world
#   /etc/tursobackup  admin.asc, escrow.asc (OpenPGP public keys made by gpg) and admin.key (the admin's secret key)
# Offsite vaults: https://acmebackups.blob.core.windows.net/vaults → azurite, s3://acme-backups → s3rver (-Endpoint
#   https://s3.eu-central-1.wasabisys.com → s3rver), sftp://backup@nas.example.com/srv/backups → an sshd of the suite
#   (~/.ssh/backup_ed25519 and the SHA256: fingerprint → its key and host key); each holds a copy of /backups.
#   the working directory  app.sqlite, app.db, app.sql, fixed.sql (a sqlite3 .dump of main), legacy-dump.sql.gz
#   20240115T103000.000Z-1a2b3c → the id of main's first snapshot; '2024-01-15T10:30:00Z', '2026-11-23T14:05:00Z' and
#   every other quoted date given as a point in time → one instant inside the WAL archive's window (and inside the cloud's)
# Turso Cloud: the Platform API cannot be reached from a test, so the cloud examples talk to a STAND-IN — not Turso —
# tests/TursoBackup.StandIn (the engine tests' PlatformApiStandIn, which checks every request against the API's OpenAPI
# document), reset before each cloud example, whose databases (main, shop-eu, shop-us) are all served by one real local
# libSQL server (tursodb --sync-server) holding a copy of /data/main.db. Connect-TursoCloud gets `-BaseUri <stand-in>`
# added (the module reads the API address from no environment variable); an example that expects an earlier
# Connect-TursoCloud gets that line run first. libsql://main-acme.turso.io and http://127.0.0.1:8080 become the local
# server's URL. TURSO_API_TOKEN, TURSO_ORG and TURSO_AUTH_TOKEN are set as a scheduled task would have them; after each
# cloud example the stand-in must have seen no request the OpenAPI document does not allow.
# Stand-ins in the child session, each said where it is defined: Read-Host (the operator typing the API token), the
# Windows ScheduledTasks cmdlets (record the task; the test then runs the task's action as the Task Scheduler would),
# systemctl (records; the test then runs the unit's ExecStart and stops it with its KillSignal, as systemd would).
# A Start-TursoWalArchive that runs until Ctrl+C is stopped by a signal after a few seconds and must exit 0; one that
# is followed by more commands in its block gets -Duration '00:00:03' (the operator pressing Ctrl+C before the next line).
# $env:TEAMS_WEBHOOK, SLACK_WEBHOOK and WORKFLOW_WEBHOOK point at a local webhook receiver (Start-FakeWebhook).

BeforeDiscovery {
    $repo = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
    [xml] $help = Get-Content -Raw (Join-Path $repo 'module/en-US/TursoBackup.dll-Help.xml')
    $ns = @{ command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'; maml = 'http://schemas.microsoft.com/maml/2004/10'; dev = 'http://schemas.microsoft.com/maml/dev/2004/10' }
    $helpExamples = foreach ($c in (Select-Xml -Xml $help -XPath '//command:command' -Namespace $ns).Node) {
        $name = (Select-Xml -Xml $c -XPath './command:details/command:name' -Namespace $ns).Node.InnerText.Trim()
        $n = 0
        foreach ($e in (Select-Xml -Xml $c -XPath './command:examples/command:example' -Namespace $ns).Node) {
            $n++
            $title = (Select-Xml -Xml $e -XPath './maml:title' -Namespace $ns).Node.InnerText.Trim(' -')
            @{ Name = "$name $title"; Code = (Select-Xml -Xml $e -XPath './dev:code' -Namespace $ns).Node.InnerText }
        }
    }
    $readme = Get-Content -Raw (Join-Path $repo 'README.md')
    # TB_DOCS_FILTER (a regex on the test names) runs a subset, for working on the examples; the guards still count all.
    $helpCount = @($helpExamples).Count
    if ($env:TB_DOCS_FILTER) { $helpExamples = @($helpExamples | Where-Object { $_.Name -match $env:TB_DOCS_FILTER }) }
    # Each ```powershell block, named by its section and the first line of the paragraph above it.
    $section = ''; $block = 0; $para = ''; $previous = ''; $fence = $null; $code = $null
    $readmeExamples = foreach ($line in (Get-Content (Join-Path $repo 'README.md'))) {
        if ($null -ne $fence) {
            if ($line -match '^```\s*$') {
                if ($fence -eq 'powershell') {
                    $block++
                    $what = ($para -replace '[:(].*$', '').Trim()
                    @{ Name = "README block $block ($section$(if ($what) { ': ' + $what }))"; Code = ($code -join "`n") + "`n" }
                }
                $fence = $null
            }
            elseif ($fence -eq 'powershell') { $code += $line }
        }
        elseif ($line -match '^```(\w*)') { $fence = $Matches[1]; $code = @() }
        elseif ($line -match '^## (.+)$') { $section = $Matches[1].Trim(); $para = '' }
        elseif ($line.Trim() -and -not $previous.Trim() -and $line -notmatch '^[|<#]') { $para = $line.Trim() }
        $previous = $line
    }
    $readmeCount = @($readmeExamples).Count
    if ($env:TB_DOCS_FILTER) { $readmeExamples = @($readmeExamples | Where-Object { $_.Name -match $env:TB_DOCS_FILTER }) }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Get-TursoModuleManifest) -Force
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $Ran = @{ help = 0; readme = 0 }

    # ---------------------------------------------------------------- the fixture world (built once, at $W)
    $suite = New-TestFolder 'tb-docs'
    $W = Join-Path $suite 'world'
    $pristine = Join-Path $suite 'pristine'
    $scripts = Join-Path $suite 'scripts'
    foreach ($d in 'data', 'restore', 'branches', 'exports', 'inspect', 'nas-backups', 'etc/systemd/system', 'etc/tursobackup', 'cwd', 'other') {
        [void][IO.Directory]::CreateDirectory((Join-Path $W $d))
    }
    [void][IO.Directory]::CreateDirectory($scripts)
    $data = Join-Path $W 'data'; $vault = Join-Path $W 'backups'; $cwd = Join-Path $W 'cwd'
    New-SampleDatabase (Join-Path $data 'main.db') -WithOrderLines | Out-Null
    New-SampleDatabase (Join-Path $data 'shop.db') -Customers 50 -WithOrderLines | Out-Null
    New-SampleDatabase (Join-Path $data 'orders.db') -Customers 30 -WithOrderLines | Out-Null
    New-SampleDatabase (Join-Path $W 'other/legacy.db') -Customers 20 | Out-Null
    New-SampleDatabase (Join-Path $cwd 'app.sqlite') -Customers 20 | Out-Null
    New-SampleDatabase (Join-Path $cwd 'app.db') -Customers 20 | Out-Null
    Set-Content -LiteralPath (Join-Path $cwd 'app.sql') -Value '-- an older dump, replaced by Export-TursoDatabase -Force'
    $sqlite3 = Get-Peer sqlite3
    & $sqlite3 (Join-Path $data 'main.db') '.dump' | Set-Content -LiteralPath (Join-Path $cwd 'fixed.sql')
    & (Get-Peer bash) -c "'$sqlite3' '$W/other/legacy.db' .dump | gzip -c > '$cwd/legacy-dump.sql.gz'"
    if ($LASTEXITCODE -ne 0) { throw 'sqlite3 .dump | gzip failed' }

    $first = Backup-TursoDatabase -Path (Join-Path $data 'main.db') -Vault $vault -Tier Critical
    $BackupId = $first.Id
    Get-ChildItem (Join-Path $data '*.db') | Backup-TursoDatabase -Vault $vault -Tier Critical | Out-Null
    foreach ($name in 'main', 'shop') {
        Backup-TursoDatabase -Path (Join-Path $data "$name.db") -Vault $vault -Kind Dump -Compression Gzip -Tag 'weekly-dump' -Tier Critical | Out-Null
    }
    Backup-TursoDatabase -Path (Join-Path $W 'other/legacy.db') -Vault $vault | Out-Null
    Import-TursoDatabase -InFile (Join-Path $cwd 'legacy-dump.sql.gz') -Path (Join-Path $W 'other/legacy.db') -Force -Vault $vault -Confirm:$false | Out-Null
    # WAL archives of main and shop: a capture, then three rounds of commits and captures 2 s apart, while an application
    # (one sqlite3 session per database) keeps the database open, as applications do: the last connection to close
    # would checkpoint and truncate the WAL between the captures (a gap).
    $apps = foreach ($name in 'main', 'shop') {
        $psi = [Diagnostics.ProcessStartInfo]::new($sqlite3)
        $psi.ArgumentList.Add((Join-Path $data "$name.db"))
        $psi.RedirectStandardInput = $true; $psi.RedirectStandardOutput = $true; $psi.UseShellExecute = $false
        [Diagnostics.Process]::Start($psi)
    }
    try {
        foreach ($round in 0..3) {
            if ($round) {
                Start-Sleep -Milliseconds 2000
                foreach ($app in $apps) {
                    $app.StandardInput.WriteLine("INSERT INTO customers(name) VALUES ('round $round'); SELECT 'written $round';")
                    $app.StandardInput.Flush()
                    while (($line = $app.StandardOutput.ReadLine()) -ne $null -and $line -ne "written $round") { }
                }
            }
            foreach ($name in 'main', 'shop') { Sync-TursoWalArchive -Path (Join-Path $data "$name.db") -Vault $vault | Out-Null }
        }
    }
    finally {
        foreach ($app in $apps) { $app.StandardInput.Close(); $app.WaitForExit() }
    }
    $windows = 'main', 'shop' | ForEach-Object { Get-TursoRestorePoint -Vault $vault -Database $_ }
    $earliest = ($windows.Earliest | Sort-Object -Descending)[0]
    $latest = ($windows.Latest | Sort-Object)[0]
    $PointInTime = [DateTimeOffset]$earliest + [TimeSpan]::FromTicks(([DateTimeOffset]$latest - [DateTimeOffset]$earliest).Ticks / 2)
    if (([DateTimeOffset]$latest - [DateTimeOffset]$earliest).TotalSeconds -lt 4) { throw "the fixture's restore window is too short: $earliest .. $latest" }
    New-TursoBranch -Path (Join-Path $data 'main.db') -Destination (Join-Path $W 'branches') | Out-Null
    New-TursoBranch -Path (Join-Path $data 'main.db') -Vault $vault -Timestamp ([DateTimeOffset]$earliest).AddSeconds(1) -Destination (Join-Path $W 'branches') | Out-Null
    Export-TursoDatabase -Path (Join-Path $data 'main.db') -OutFile (Join-Path $W 'exports/main.sql.zst') | Out-Null
    Get-TursoBackup -Vault $vault -Latest | Test-Backup | ForEach-Object { if (-not $_.Passed) { throw "the fixture's backup of $($_.Database) did not pass Test-Backup" } }
    # OpenPGP keys for the encryption examples, made by the real gpg in a home of the suite's own: public keys
    # (admin.asc, escrow.asc) and the admin's secret key without a passphrase (admin.key).
    $gnupg = Join-Path $suite 'gnupg'
    [void][IO.Directory]::CreateDirectory($gnupg); & (Get-Peer chmod) 700 $gnupg
    $gpgExe = Get-Peer gpg
    foreach ($who in 'admin', 'escrow') {
        $env:GNUPGHOME = $gnupg
        try {
            & $gpgExe --batch --yes --pinentry-mode loopback --passphrase '' --quick-generate-key "$who <$who@example.com>" rsa2048 default never 2>$null
            $fpr = ((& $gpgExe --batch --with-colons --list-keys "$who@example.com") | Where-Object { $_ -like 'fpr:*' } | Select-Object -First 1).Split(':')[9]
            & $gpgExe --batch --yes --pinentry-mode loopback --passphrase '' --quick-add-key $fpr rsa2048 encr never 2>$null
            & $gpgExe --batch --yes --armor --output (Join-Path $W "etc/tursobackup/$who.asc") --export "$who@example.com"
            if ($who -eq 'admin') { & $gpgExe --batch --yes --pinentry-mode loopback --passphrase '' --output (Join-Path $W 'etc/tursobackup/admin.key') --export-secret-keys 'admin@example.com' }
            if ($LASTEXITCODE -ne 0) { throw "gpg could not make the $who key" }
        }
        finally { Remove-Item Env:GNUPGHOME -ErrorAction SilentlyContinue }
    }
    & (Get-Peer cp) -a "$W/." $pristine
    if ($LASTEXITCODE -ne 0) { throw "cp -a $W $pristine failed" }

    # Offsite vaults on real servers (azurite, s3rver, an sshd of the test's own), each holding a copy of /backups:
    # https://acmebackups.blob.core.windows.net/vaults, s3://acme-backups and sftp://backup@nas.example.com/srv/backups
    # become those (Convert-DocExample); the examples get their credentials from the environment, as a scheduled task.
    $azurite = Start-Azurite
    New-AzuriteContainer $azurite 'vaults'
    $s3 = Start-S3rver -Bucket 'acme-backups'
    $sshd = Start-Sshd
    $offsiteEnvironment = @{
        AZURE_STORAGE_CONNECTION_STRING = $azurite.ConnectionString
        AWS_ACCESS_KEY_ID = $s3.AccessKey; AWS_SECRET_ACCESS_KEY = $s3.SecretKey; AWS_ENDPOINT_URL_S3 = $s3.Endpoint
        S3_KEY_ID = $s3.AccessKey; S3_SECRET = $s3.SecretKey
        TURSOBACKUP_CACHE = Join-Path $suite 'offsite-mirrors'
        XDG_CONFIG_HOME = Join-Path $suite 'config'
    }
    $sftpVault = "sftp://$($sshd.User)@127.0.0.1:$($sshd.Port)$($sshd.Root)/srv-backups"
    $seed = Invoke-Pwsh -Command ("`$ErrorActionPreference = 'Stop'; Connect-TursoVault '$sftpVault' -KeyFile '$($sshd.KeyFile)' -HostKeyFingerprint '$($sshd.HostKeyFingerprint)' | Out-Null; " +
        "Sync-TursoVault -Source '$pristine/backups' -Destination '$($azurite.Url)/vaults/db', 's3://acme-backups/db', '$sftpVault' | Out-Null") -Environment $offsiteEnvironment
    if ($seed.ExitCode -ne 0) { throw "copying the fixture vault offsite failed: $($seed.Errors -join ' ')" }

    $hook = Start-FakeWebhook
    $standIn = Start-PlatformApiStandIn -Seed (Join-Path $data 'main.db')
    $outFolder = Split-Path (Split-Path (Get-TursoModuleManifest))
    $childEnvironment = @{
        PSModulePath      = $outFolder + [IO.Path]::PathSeparator + $env:PSModulePath # Import-Module TursoBackup finds out/TursoBackup
        TURSO_API_TOKEN   = $standIn.ApiToken
        TURSO_ORG         = 'acme'
        TURSO_AUTH_TOKEN  = 'a-database-token-for-the-local-libsql-server'
        TEAMS_WEBHOOK     = $hook.Url
        SLACK_WEBHOOK     = $hook.Url
        WORKFLOW_WEBHOOK  = $hook.Url
        DOCS_TASKS        = Join-Path $W 'scheduled-tasks'
        DOCS_SYSTEMCTL    = Join-Path $W 'systemctl.log'
    }
    foreach ($k in $offsiteEnvironment.Keys) { $childEnvironment[$k] = $offsiteEnvironment[$k] }
    Write-Host "Docs.Tests: fixture world built in $([int]$watch.Elapsed.TotalSeconds) s at $W"

    function Test-IsCloudExample([string] $Code) {
        $Code -match 'Connect-TursoCloud|Get-TursoDatabase|New-TursoDatabaseToken|Import-TursoCloudDatabase|-NewDatabase|libsql://|New-TursoBranch\s+(-Database|main)|Restore-TursoPointInTime\s+(-Database|main)'
    }

    function Convert-DocExample([string] $Code) {
        <# The example's placeholders → the fixture world (textual; see the top of this file). #>
        $c = $Code
        $c = $c.Replace('./out/TursoBackup/TursoBackup.psd1', (Get-TursoModuleManifest))
        # Windows paths (the rest of the path after them turned into /-separated parts).
        foreach ($pair in @(@('\\\\nas\\backups', 'nas-backups'), @('D:\\data', 'data'), @('E:\\backups', 'backups'))) {
            $c = [regex]::Replace($c, $pair[0] + '((?:\\[\w.-]+)*)', { param($m) "$W/$($pair[1])" + $m.Groups[1].Value.Replace('\', '/') })
        }
        $map = @{ 'data' = 'data'; 'backups' = 'backups'; 'restore' = 'restore'; 'branches' = 'branches'; 'exports' = 'exports'; 'tmp/inspect' = 'inspect'; 'etc/systemd/system' = 'etc/systemd/system'; 'etc/tursobackup' = 'etc/tursobackup' }
        $c = [regex]::Replace($c, '(?<![\w.~/:$-])/(data|backups|restore|branches|exports|tmp/inspect|etc/systemd/system|etc/tursobackup)(?![\w-])', { param($m) "$W/" + $map[$m.Groups[1].Value] })
        $c = [regex]::Replace($c, '\b\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}\b', $BackupId)
        # A quoted date or date-time given as a point in time (not the -Before/-After filters of Get-TursoBackup).
        $iso = "'" + $PointInTime.UtcDateTime.ToString('yyyy-MM-ddTHH:mm:ss.fffZ', [Globalization.CultureInfo]::InvariantCulture) + "'"
        $c = [regex]::Replace($c, "(?<!-(?:Before|After)\s+)'20\d\d-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?Z?)?'", $iso)
        if (-not (Test-IsCloudExample $Code)) {
            # "Ten minutes ago" of a local restore: the same Get-Date arithmetic, landing inside the fixture's window.
            $c = [regex]::Replace($c, '-Timestamp \(Get-Date\)\.Add(?:Seconds|Minutes|Hours|Days)\(-?\d+\)', {
                    param($m) '-Timestamp (Get-Date).AddSeconds(-{0})' -f [int][Math]::Ceiling(([DateTimeOffset]::UtcNow - $PointInTime).TotalSeconds)
                })
        }
        # Offsite vaults: the real local servers (see the world above).
        $c = $c.Replace('https://acmebackups.blob.core.windows.net/vaults', "$($azurite.Url)/vaults")
        $c = $c.Replace('-Endpoint https://s3.eu-central-1.wasabisys.com', "-Endpoint $($s3.Endpoint)")
        $c = $c.Replace('sftp://backup@nas.example.com/srv/backups', $sftpVault)
        $c = $c.Replace('~/.ssh/backup_ed25519', $sshd.KeyFile)
        $c = $c.Replace('SHA256:Tm9ZcmVhbEtleUhlcmVKdXN0QW5FeGFtcGxlMTIzNDU', $sshd.HostKeyFingerprint)
        $c = $c.Replace('libsql://main-acme.turso.io', $standIn.ServerUrl).Replace('http://127.0.0.1:8080', $standIn.ServerUrl)
        $c = [regex]::Replace($c, '\bConnect-TursoCloud\b', "Connect-TursoCloud -BaseUri '$($standIn.BaseUri)'")
        # A Start-TursoWalArchive followed by more commands: the operator's Ctrl+C before the next line, as -Duration.
        $ast = [Management.Automation.Language.Parser]::ParseInput($c, [ref]$null, [ref]$null)
        $last = $ast.EndBlock.Statements | Select-Object -Last 1
        $archivers = $ast.FindAll({ param($n) $n -is [Management.Automation.Language.CommandAst] -and $n.GetCommandName() -eq 'Start-TursoWalArchive' }, $true)
        foreach ($a in @($archivers | Sort-Object { $_.Extent.EndOffset } -Descending)) {
            if ($a.Extent.StartOffset -ge $last.Extent.StartOffset) { continue }
            if ($a.Extent.Text -match '-Duration\b') { continue }
            $c = $c.Insert($a.Extent.EndOffset, " -Duration '00:00:03'")
        }
        $c
    }

    function Get-RunsUntilStopped([string] $Code) {
        <# True when the example's last statement is a Start-TursoWalArchive (it runs until Ctrl+C, or for an hour). #>
        $ast = [Management.Automation.Language.Parser]::ParseInput($Code, [ref]$null, [ref]$null)
        $last = $ast.EndBlock.Statements | Select-Object -Last 1
        [bool]($last -and $last.FindAll({ param($n) $n -is [Management.Automation.Language.CommandAst] -and $n.GetCommandName() -eq 'Start-TursoWalArchive' }, $true))
    }

    $childStandIns = @'
# STAND-IN: the operator typing the token at the prompt (a non-interactive test has nobody to type it).
function Read-Host {
    param([Parameter(Position = 0)][string] $Prompt, [switch] $AsSecureString, [switch] $MaskInput)
    if ($AsSecureString) { return ConvertTo-SecureString $env:TURSO_API_TOKEN -AsPlainText -Force }
    $env:TURSO_API_TOKEN
}
# STAND-INS for Windows' ScheduledTasks module (this runs on Linux): the real cmdlets' parameters; Register-ScheduledTask
# records the task in $env:DOCS_TASKS, and the test then runs its action as the Task Scheduler would.
function New-ScheduledTaskAction { param([Parameter(Mandatory)][string] $Execute, [string] $Argument, [string] $WorkingDirectory, [string] $Id)
    [pscustomobject]@{ Execute = $Execute; Arguments = $Argument; WorkingDirectory = $WorkingDirectory } }
function New-ScheduledTaskTrigger { param([switch] $AtStartup, [switch] $AtLogOn, [switch] $Once, [switch] $Daily, [switch] $Weekly, [datetime] $At, [string] $User, [timespan] $RandomDelay, [timespan] $RepetitionInterval, [timespan] $RepetitionDuration, [int] $DaysInterval, [string[]] $DaysOfWeek)
    [pscustomobject]@{ AtStartup = [bool]$AtStartup } }
function New-ScheduledTaskSettingsSet { param([timespan] $ExecutionTimeLimit, [int] $RestartCount, [timespan] $RestartInterval, [switch] $AllowStartIfOnBatteries, [switch] $DontStopIfGoingOnBatteries, [switch] $StartWhenAvailable, [switch] $RunOnlyIfNetworkAvailable, [string] $MultipleInstances, [switch] $Hidden)
    [pscustomobject]@{ ExecutionTimeLimit = $ExecutionTimeLimit; RestartCount = $RestartCount; RestartInterval = $RestartInterval } }
function Register-ScheduledTask { param([Parameter(Mandatory, Position = 0)][string] $TaskName, [string] $TaskPath, [Parameter(Mandatory)][object[]] $Action, [object[]] $Trigger, [object] $Settings, [string] $User, [string] $Password, [ValidateSet('Limited', 'Highest')][string] $RunLevel, [string] $Description, [switch] $Force)
    [void](New-Item -ItemType Directory -Force -Path $env:DOCS_TASKS)
    [pscustomobject]@{ TaskName = $TaskName; Execute = $Action[0].Execute; Arguments = $Action[0].Arguments; User = $User } |
        ConvertTo-Json | Set-Content -LiteralPath (Join-Path $env:DOCS_TASKS "$($TaskName -replace '[^\w.-]', '_').json")
    [pscustomobject]@{ TaskName = $TaskName; State = 'Ready' } }
# STAND-IN for systemctl (no systemd in a test): records the call; the test then runs the unit's ExecStart as systemd would.
function systemctl { Add-Content -LiteralPath $env:DOCS_SYSTEMCTL -Value ($args -join ' ') }
'@

    function Invoke-DocExample([string] $Code) {
        <# Rebuilds the world, runs the mapped example in a new pwsh, returns the run (plus what it registered). #>
        if (Test-Path -LiteralPath $W) { Remove-Item -LiteralPath $W -Recurse -Force }
        & (Get-Peer cp) -a $pristine $W
        if ($LASTEXITCODE -ne 0) { throw "cp -a $pristine $W failed" }
        $cloud = Test-IsCloudExample $Code
        if ($cloud) { Reset-PlatformApiStandIn $standIn }
        $hook.Bodies.Clear()
        $mapped = Convert-DocExample $Code
        # A file the example writes with -OutFile (no -Force) must not exist yet: the pristine world holds exports other
        # examples read.
        foreach ($m in [regex]::Matches($mapped, "-OutFile\s+(?:'([^'$]+)'|`"([^`"$]+)`"|([^\s'`"$;|)]+))")) {
            $target = ($m.Groups[1].Value + $m.Groups[2].Value + $m.Groups[3].Value)
            if (-not [IO.Path]::IsPathRooted($target)) { $target = Join-Path $cwd $target }
            if (Test-Path -LiteralPath $target) { Remove-Item -LiteralPath $target -Force }
        }
        $prelude = [Text.StringBuilder]::new()
        [void]$prelude.AppendLine('$ErrorActionPreference = ''Stop''')
        if ($Code -notmatch 'Import-Module') { [void]$prelude.AppendLine("Import-Module '$(Get-TursoModuleManifest)'") }
        if ($cloud -and $Code -notmatch 'Connect-TursoCloud') {
            [void]$prelude.AppendLine("# The example expects a connected session (Connect-TursoCloud first); the API is a local STAND-IN, not Turso.")
            [void]$prelude.AppendLine("Connect-TursoCloud -Organization acme -BaseUri '$($standIn.BaseUri)' | Out-Null")
        }
        [void]$prelude.AppendLine($childStandIns)
        [void]$prelude.AppendLine('$Error.Clear()')
        $script = Join-Path $scripts ("example-" + [guid]::NewGuid().ToString('N').Substring(0, 8) + '.ps1')
        $text = $prelude.ToString() + "# ---- the example (mapped)`n" + $mapped + "`n# ---- end of the example`n" +
            'if ($Error.Count) { foreach ($e in $Error) { [Console]::Error.WriteLine("error record: $e") }; exit 1 }' + "`n"
        Set-Content -LiteralPath $script -Value $text
        $stopAfter = if (Get-RunsUntilStopped $mapped) { 6 } else { 0 }
        $run = Invoke-Pwsh -File $script -WorkingDirectory $cwd -Environment $childEnvironment -StopAfterSeconds $stopAfter -TimeoutSeconds 180
        $run | Add-Member -NotePropertyName Mapped -NotePropertyValue $mapped
        $run | Add-Member -NotePropertyName Cloud -NotePropertyValue $cloud
        # Warnings do not fail an example, but an admin would see them: shown in the test output for review.
        $run.Output | Where-Object { $_ -match '^WARNING:' } | ForEach-Object { Write-Host "    (the example warned) $_" }
        $run
    }

    function Assert-CleanRun($Run, [string] $What = 'the example') {
        $because = "$What must run without error in non-interactive pwsh.`n--- mapped code:`n$($Run.Mapped)`n--- stderr:`n$($Run.Errors -join "`n")`n--- stdout (last 15 lines):`n$(($Run.Output | Select-Object -Last 15) -join "`n")"
        $Run.Errors | Should -BeNullOrEmpty -Because $because
        $Run.ExitCode | Should -Be 0 -Because $because
    }

    function Assert-StartedCommandRuns([string] $CommandLine, [string] $What, [string] $Signal = 'TERM') {
        <# A service's command line (pwsh … -Command "…"), run as its service manager would: a new process, stopped with $Signal. #>
        $CommandLine | Should -Match '^\S*pwsh(\.exe)?\s.*-Command\s+"(.*)"\s*$' -Because "$What starts pwsh with -Command"
        $null = $CommandLine -match '-Command\s+"(.*)"\s*$'
        $inner = $Matches[1]
        $run = Invoke-Pwsh -Command $inner -NoImport -WorkingDirectory $cwd -Environment $childEnvironment -StopAfterSeconds 6 -StopSignal $Signal -TimeoutSeconds 180
        $run | Add-Member -NotePropertyName Mapped -NotePropertyValue $inner
        Assert-CleanRun $run $What
        $run.Stopped | Should -BeTrue -Because "$What runs until its service manager stops it"
    }

    function Assert-ExampleRuns([string] $Code) {
        <# One documented example: it runs cleanly, talks to the stand-in as the OpenAPI document says, and every scheduled
           task or systemd unit it registers runs its command as the service manager would and stops cleanly. #>
        $run = Invoke-DocExample $Code
        Assert-CleanRun $run
        if ($run.Cloud) { Get-PlatformApiStandInViolation $standIn | Should -BeNullOrEmpty -Because 'the Platform API stand-in checks every request against the OpenAPI document' }
        foreach ($task in @(Get-ChildItem -LiteralPath $childEnvironment.DOCS_TASKS -Filter *.json -ErrorAction SilentlyContinue)) {
            $t = Get-Content -Raw -LiteralPath $task.FullName | ConvertFrom-Json
            Assert-StartedCommandRuns "$($t.Execute) $($t.Arguments)" "the action of the scheduled task '$($t.TaskName)'"
        }
        foreach ($unit in @(Get-ChildItem -LiteralPath (Join-Path $W 'etc/systemd/system') -Filter *.service -ErrorAction SilentlyContinue)) {
            (Get-Content -LiteralPath $childEnvironment.DOCS_SYSTEMCTL) -join "`n" | Should -Match ([regex]::Escape($unit.Name)) -Because 'the example enables the unit it wrote'
            $text = Get-Content -Raw -LiteralPath $unit.FullName
            $exec = [regex]::Match($text, '(?m)^ExecStart=(.*)$').Groups[1].Value
            $signal = if ($text -match '(?m)^KillSignal=SIGINT') { 'INT' } else { 'TERM' }
            Assert-StartedCommandRuns $exec "ExecStart of $($unit.Name)" $signal
        }
    }
}

AfterAll {
    Stop-PeerServer $azurite; Stop-PeerServer $s3; Stop-PeerServer $sshd
    Stop-FakeWebhook $hook
    Stop-PlatformApiStandIn $standIn
    Remove-TestFolder $suite
    Write-Host "Docs.Tests: $($Ran.help) help examples and $($Ran.readme) README blocks run in $([int]$watch.Elapsed.TotalSeconds) s"
}

Describe 'Get-Help -Examples of every cmdlet (module/en-US/TursoBackup.dll-Help.xml)' {
    It 'discovers the help examples (at least 91)' -ForEach @{ Count = $helpCount } {
        $Count | Should -BeGreaterOrEqual 91
    }

    It '<Name>' -ForEach $helpExamples {
        $Ran.help++
        Assert-ExampleRuns $Code
    }

    It 'ran every discovered help example' -ForEach @{ Count = @($helpExamples).Count } {
        $Ran.help | Should -Be $Count
    }
}

Describe 'The README''s pwsh examples (```powershell blocks)' {
    It 'discovers the README''s pwsh blocks (at least 6)' -ForEach @{ Count = $readmeCount } {
        $Count | Should -BeGreaterOrEqual 6
    }

    It '<Name>' -ForEach $readmeExamples {
        $Ran.readme++
        Assert-ExampleRuns $Code
    }

    It 'ran every discovered README block' -ForEach @{ Count = @($readmeExamples).Count } {
        $Ran.readme | Should -Be $Count
    }
}

Describe 'The harness itself (an example that goes wrong fails its test)' {
    It 'sees a non-terminating error, even one the example let pass' {
        $run = Invoke-DocExample "Get-TursoBackup -Vault /backups -Database no-such-database -ErrorAction Continue; 'went on'"
        ($run.Errors -join "`n") | Should -Match 'no-such-database'
        $run.ExitCode | Should -Not -Be 0 -Because 'the error record left in $Error fails the run'
    }
    It 'sees a prompt (a confirmation nobody can answer in non-interactive pwsh)' {
        $run = Invoke-DocExample "Get-TursoBackup -Vault /backups -Id 20240115T103000.000Z-1a2b3c | Remove-TursoBackup"
        ($run.Errors -join "`n") | Should -Match 'needs a confirmation'
        ($run.Errors -join "`n") | Should -Match 'Add -Confirm:\$false'
        $run.ExitCode | Should -Not -Be 0
        Get-TursoBackup -Vault (Join-Path $W 'backups') -Id $BackupId | Should -Not -BeNullOrEmpty -Because 'nothing was removed without the answer'
    }
    It 'sees a non-zero exit code' {
        $run = Invoke-DocExample "if (Get-TursoBackup -Vault /backups -Latest) { exit 2 }"
        $run.ExitCode | Should -Be 2
    }
}
