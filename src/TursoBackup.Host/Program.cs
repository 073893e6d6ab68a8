using System.Management.Automation;
using System.Management.Automation.Runspaces;
using TursoBackup.Host;

// tbhost: run a PowerShell script file or command text in the real engine with the TursoBackup module imported.
//   tbhost -File script.ps1 [script args...]
//   tbhost -Command "Get-TursoBackup -Vault ./vault"
//   options: -Module <path to TursoBackup.psd1> (default: out/TursoBackup/TursoBackup.psd1 found above this program),
//            -NoModule
// Output goes through Out-Default (the module's Format.ps1xml views); errors, warnings and verbose text go to stderr.
// Exit code: the script's own `exit N`, else 1 when any error was written, else 0.

string? file = null, command = null, module = null;
bool noModule = false;
var scriptArgs = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    string a = args[i];
    if (file != null) { scriptArgs.Add(a); continue; }
    switch (a.ToLowerInvariant())
    {
        case "-file" when i + 1 < args.Length: file = args[++i]; break;
        case "-command" when i + 1 < args.Length: command = string.Join(" ", args.Skip(i + 1)); i = args.Length; break;
        case "-module" when i + 1 < args.Length: module = args[++i]; break;
        case "-nomodule": noModule = true; break;
        case "-help" or "-?" or "--help":
            Console.WriteLine("usage: tbhost [-Module <psd1>] [-NoModule] (-File <script.ps1> [args...] | -Command <text>)");
            return 0;
        default:
            Console.Error.WriteLine($"tbhost: unknown argument '{a}'. Use -File <script.ps1> or -Command <text>.");
            return 2;
    }
}
if (file == null && command == null)
{
    Console.Error.WriteLine("tbhost: give -File <script.ps1> or -Command <text>.");
    return 2;
}

if (!noModule)
{
    module ??= Environment.GetEnvironmentVariable("TURSOBACKUP_MODULE") ?? FindModule();
    if (module == null || !File.Exists(module))
    {
        Console.Error.WriteLine("tbhost: the TursoBackup module was not found. Build it with 'dotnet build TursoBackup.sln -c Release' or pass -Module <path to TursoBackup.psd1>.");
        return 2;
    }
}

var host = new ConsoleHost();
var iss = InitialSessionState.CreateDefault2();
if (!noModule) iss.ImportPSModule(new[] { Path.GetFullPath(module!) });
using var runspace = RunspaceFactory.CreateRunspace(host, iss);
runspace.Open();
using var ps = PowerShell.Create(runspace);
if (file != null)
{
    ps.AddCommand(Path.GetFullPath(file));
    // "-Name value" binds a named parameter, "-Name" alone a switch, anything else is positional.
    for (int i = 0; i < scriptArgs.Count; i++)
    {
        string arg = scriptArgs[i];
        if (arg.Length > 1 && arg[0] == '-' && char.IsLetter(arg[1]))
        {
            string name = arg.TrimStart('-').TrimEnd(':');
            if (i + 1 < scriptArgs.Count && !(scriptArgs[i + 1].Length > 1 && scriptArgs[i + 1][0] == '-' && char.IsLetter(scriptArgs[i + 1][1])))
                ps.AddParameter(name, scriptArgs[++i]);
            else
                ps.AddParameter(name, true);
        }
        else
        {
            ps.AddArgument(arg);
        }
    }
}
else
{
    ps.AddScript(command!);
}
ps.Commands.Commands[0].MergeMyResults(PipelineResultTypes.All, PipelineResultTypes.Output);
ps.AddCommand("Out-Default");

// Ctrl+C, SIGINT (systemd's KillSignal=SIGINT) and SIGTERM stop the running pipeline the way PowerShell does: its
// cmdlets get StopProcessing and finish their own way (Start-TursoWalArchive archives the rest and seals). The stop
// is asked for without waiting (PowerShell.Stop() blocks, and from a signal handler it raced the pipeline's end); a
// second signal is not cancelled, so it ends the process at once.
int signals = 0;
bool stopRequested = false;
void OnStopSignal(System.Runtime.InteropServices.PosixSignalContext context)
{
    if (Interlocked.Increment(ref signals) > 1) return;
    context.Cancel = true;
    stopRequested = true;
    try { ps.BeginStop(null, null); }
    catch (Exception ex) { Console.Error.WriteLine($"tbhost: could not stop the pipeline: {ex.Message}"); } // never let it escape a signal handler
}
using var onSigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, OnStopSignal);
using var onSigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, OnStopSignal);
try
{
    ps.Invoke();
}
catch (PipelineStoppedException) when (stopRequested)
{
    // Stopped on request, like pwsh: not an error (errors written before the stop still count).
}
catch (RuntimeException ex)
{
    host.UI.WriteErrorLine(ex.ErrorRecord?.ToString() ?? ex.Message);
    if (ex.ErrorRecord?.InvocationInfo?.PositionMessage is { Length: > 0 } where) Console.Error.WriteLine(where);
}
foreach (var err in ps.Streams.Error) host.UI.WriteErrorLine(err.ToString());

if (host.ExitCode.HasValue) return host.ExitCode.Value;
var lastExit = runspace.SessionStateProxy.GetVariable("LASTEXITCODE");
if (file != null && lastExit is int code && code != 0) return code;
return host.ErrorCount > 0 ? 1 : 0;

static string? FindModule()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
    {
        string candidate = Path.Combine(dir.FullName, "out", "TursoBackup", "TursoBackup.psd1");
        if (File.Exists(candidate)) return candidate;
    }
    return null;
}
