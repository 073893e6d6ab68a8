using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;

namespace TursoBackup.Host;

/// <summary>A minimal PSHost: output through PowerShell's own formatting to stdout, errors and warnings to stderr.</summary>
internal sealed class ConsoleHost : PSHost
{
    private readonly ConsoleUI ui = new();
    private readonly Guid id = Guid.NewGuid();

    public int ErrorCount => ui.ErrorCount;
    public int? ExitCode { get; private set; }

    public override string Name => "TursoBackupHost";
    public override Version Version => new(0, 1, 0);
    public override Guid InstanceId => id;
    public override PSHostUserInterface UI => ui;
    public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;
    public override void SetShouldExit(int exitCode) => ExitCode = exitCode;
    public override void EnterNestedPrompt() => throw new NotSupportedException("Nested prompts are not supported by this host.");
    public override void ExitNestedPrompt() => throw new NotSupportedException();
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }
}

internal sealed class ConsoleUI : PSHostUserInterface
{
    private readonly RawUI raw = new();
    public int ErrorCount;

    public override PSHostRawUserInterface RawUI => raw;

    public override string ReadLine() => Console.In.ReadLine() ?? string.Empty;
    public override SecureString ReadLineAsSecureString()
    {
        var s = new SecureString();
        foreach (var c in ReadLine()) s.AppendChar(c);
        s.MakeReadOnly();
        return s;
    }

    // Formatting emits ANSI styles; keep them for a terminal, strip them for files, pipes and NO_COLOR.
    private static readonly bool Plain = Console.IsOutputRedirected || Environment.GetEnvironmentVariable("NO_COLOR") != null;
    private static readonly System.Text.RegularExpressions.Regex Ansi = new("\u001b\\[[0-9;]*[A-Za-z]", System.Text.RegularExpressions.RegexOptions.Compiled);
    private static string Out(string value) => Plain && value.IndexOf('\u001b') >= 0 ? Ansi.Replace(value, "") : value;

    public override void Write(string value) => Console.Out.Write(Out(value));
    public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Console.Out.Write(Out(value));
    public override void WriteLine(string value) => Console.Out.WriteLine(Out(value));
    public override void WriteErrorLine(string value)
    {
        Interlocked.Increment(ref ErrorCount);
        Console.Error.WriteLine(Out(value));
    }
    public override void WriteDebugLine(string message) => Console.Error.WriteLine("DEBUG: " + message);
    public override void WriteVerboseLine(string message) => Console.Error.WriteLine("VERBOSE: " + message);
    public override void WriteWarningLine(string message) => Console.Error.WriteLine("WARNING: " + message);
    public override void WriteProgress(long sourceId, ProgressRecord record) { }

    public override Dictionary<string, PSObject> Prompt(string caption, string message, System.Collections.ObjectModel.Collection<FieldDescription> descriptions)
    {
        RequireInteractive(caption, message);
        var result = new Dictionary<string, PSObject>();
        foreach (var d in descriptions)
        {
            Console.Out.Write(d.Name + ": ");
            result[d.Name] = PSObject.AsPSObject(ReadLine());
        }
        return result;
    }

    public override int PromptForChoice(string caption, string message, System.Collections.ObjectModel.Collection<ChoiceDescription> choices, int defaultChoice)
    {
        RequireInteractive(caption, message);
        Console.Out.WriteLine(caption);
        Console.Out.WriteLine(message);
        for (int i = 0; i < choices.Count; i++) Console.Out.WriteLine($"  [{i}] {choices[i].Label.Replace("&", "")}");
        Console.Out.Write($"Choice (default {defaultChoice}): ");
        var line = ReadLine();
        return int.TryParse(line, out int n) && n >= 0 && n < choices.Count ? n : defaultChoice;
    }

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
        throw new NotSupportedException("This host cannot prompt for credentials; pass -Credential.");

    public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) =>
        PromptForCredential(caption, message, userName, targetName);

    private static void RequireInteractive(string caption, string message)
    {
        if (Console.IsInputRedirected)
        {
            throw new PSInvalidOperationException($"'{caption}: {message}' needs an answer, but this host is not interactive. Pass -Confirm:$false (and -Force where needed) to run unattended.");
        }
    }
}

internal sealed class RawUI : PSHostRawUserInterface
{
    private static int Width()
    {
        try { return Console.IsOutputRedirected ? 160 : Math.Max(80, Console.WindowWidth); }
        catch (IOException) { return 160; }
    }

    public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;
    public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
    public override Coordinates CursorPosition { get; set; }
    public override Coordinates WindowPosition { get; set; }
    public override int CursorSize { get; set; } = 1;
    public override Size BufferSize { get => new(Width(), 9999); set { } }
    public override Size WindowSize { get => new(Width(), 50); set { } }
    public override Size MaxWindowSize => new(Width(), 50);
    public override Size MaxPhysicalWindowSize => new(Width(), 50);
    public override bool KeyAvailable => false;
    public override string WindowTitle { get; set; } = "TursoBackup";
    public override void FlushInputBuffer() { }
    public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw new NotSupportedException();
    public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException();
    public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) => throw new NotSupportedException();
    public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) => throw new NotSupportedException();
    public override void SetBufferContents(Rectangle rectangle, BufferCell fill) => throw new NotSupportedException();
}
