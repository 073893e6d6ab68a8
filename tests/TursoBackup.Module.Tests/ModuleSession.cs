using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace TursoBackup.Module.Tests;

/// <summary>
/// A real PowerShell runspace with the assembled module (out/TursoBackup/TursoBackup.psd1) imported, shared by the
/// tests of one class. This process references only the PowerShell engine, so the module loads exactly as in pwsh.
/// </summary>
public sealed class ModuleSession : IDisposable
{
    private readonly Runspace runspace;

    public ModuleSession()
    {
        ModulePath = Peers.ModulePath;
        if (!File.Exists(ModulePath)) throw new InvalidOperationException($"{ModulePath} is missing: build the solution first (dotnet build TursoBackup.sln -c Release).");
        var iss = InitialSessionState.CreateDefault2();
        iss.ImportPSModule(new[] { ModulePath });
        runspace = RunspaceFactory.CreateRunspace(iss);
        runspace.Open();
    }

    public string ModulePath { get; }

    /// <summary>Runs script text; $args and named variables are set first. Errors are collected, not thrown.</summary>
    public Result Run(string script, IDictionary<string, object> variables = null)
    {
        using var ps = PowerShell.Create(runspace);
        if (variables != null)
        {
            foreach (var kv in variables) runspace.SessionStateProxy.SetVariable(kv.Key, kv.Value);
        }
        ps.AddScript(script);
        Collection<PSObject> output;
        Exception terminating = null;
        try
        {
            output = ps.Invoke();
        }
        catch (RuntimeException ex)
        {
            output = new Collection<PSObject>();
            terminating = ex;
        }
        return new Result(output, ps.Streams.Error.ToList(), ps.Streams.Verbose.Select(v => v.Message).ToList(), terminating);
    }

    public void Dispose() => runspace.Dispose();

    public sealed record Result(Collection<PSObject> Output, List<ErrorRecord> Errors, List<string> Verbose, Exception Terminating)
    {
        public T Single<T>() => Assert.Single(Output.Select(o => o.BaseObject).OfType<T>());
        public List<T> All<T>() => Output.Select(o => o.BaseObject).OfType<T>().ToList();
        public object Value(string property, int index = 0) => Output[index].Properties[property]?.Value;

        public Result NoErrors()
        {
            Assert.True(Terminating == null, "terminating error: " + Terminating);
            Assert.True(Errors.Count == 0, "errors: " + string.Join(" | ", Errors.Select(e => e.ToString())));
            return this;
        }
    }
}
