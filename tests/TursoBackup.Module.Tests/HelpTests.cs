using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace TursoBackup.Module.Tests;

/// <summary>
/// The cmdlets' help (module/en-US/TursoBackup.dll-Help.xml) as Get-Help shows it from the assembled module: every
/// exported cmdlet has real help, and what the help documents matches the cmdlet (parameters, sets, types, pipeline
/// binding, aliases, output types), so a parameter added, renamed or removed in code fails here until the help follows.
/// </summary>
public sealed class HelpTests : IClassFixture<ModuleSession>
{
    private readonly ModuleSession session;

    public HelpTests(ModuleSession session) => this.session = session;

    /// <summary>The cmdlets the module exports, asked of PowerShell rather than listed here.</summary>
    public static IEnumerable<object[]> Cmdlets()
    {
        using var s = new ModuleSession();
        return s.Run("Get-Command -Module TursoBackup -CommandType Cmdlet | ForEach-Object Name").NoErrors()
            .Output.Select(o => new object[] { o.ToString() }).ToList();
    }

    [Fact]
    public void TheModuleExportsCmdletsToCheck()
    {
        Assert.True(Exported().Count >= 4, "Get-Command -Module TursoBackup found fewer cmdlets than expected");
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void HelpHasSynopsisDescriptionAndExamples(string name)
    {
        var help = GetHelp(name);
        string synopsis = ((string)Prop(help, "Synopsis"))?.Trim();
        Assert.False(string.IsNullOrWhiteSpace(synopsis), $"{name}: no synopsis");
        // Without a help file, Get-Help makes the synopsis from the syntax: "Name [-Param] <type> ...".
        Assert.False(synopsis.StartsWith(name, StringComparison.OrdinalIgnoreCase) || synopsis.Contains("[-"),
            $"{name}: the synopsis is the auto-generated syntax stub ('{synopsis}'), so the help file was not found");
        Assert.True(synopsis.Length >= 20, $"{name}: synopsis too short: '{synopsis}'");

        string description = Text(Prop(help, "description"));
        Assert.True(description.Length >= 200, $"{name}: the description is missing or too short ({description.Length} characters)");

        var examples = Items(Prop(help, "examples"), "example");
        Assert.True(examples.Count >= 2, $"{name}: {examples.Count} example(s); at least 2 expected");
        var alias = AliasesOf(name);
        foreach (var example in examples)
        {
            string title = Text(Prop(example, "title"));
            string code = Text(Prop(example, "code"));
            Assert.False(string.IsNullOrWhiteSpace(code), $"{name}: example '{title}' has no code");
            Assert.True(code.Contains(name, StringComparison.OrdinalIgnoreCase) || alias.Any(a => code.Contains(a, StringComparison.OrdinalIgnoreCase)),
                $"{name}: example '{title}' does not use {name}");
            Assert.False(string.IsNullOrWhiteSpace(Text(Prop(example, "remarks"))), $"{name}: example '{title}' has no remarks");
        }

        var links = Items(Prop(help, "relatedLinks"), "navigationLink").Select(l => Text(Prop(l, "linkText")).Trim()).ToList();
        Assert.Contains("about_TursoBackup", links);
        foreach (var other in Exported().Where(c => c != name))
        {
            Assert.Contains(other, links);
        }
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void DocumentedParametersAreExactlyTheCmdletsParameters(string name)
    {
        var command = GetCommand(name);
        var help = GetHelp(name);
        var documented = Items(Prop(help, "parameters"), "parameter").ToDictionary(p => Text(Prop(p, "name")).Trim(), StringComparer.OrdinalIgnoreCase);
        var actual = command.Parameters.Values.Where(p => !IsCommon(p.Name)).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

        var missing = actual.Keys.Except(documented.Keys, StringComparer.OrdinalIgnoreCase).ToList();
        var stale = documented.Keys.Except(actual.Keys, StringComparer.OrdinalIgnoreCase).ToList();
        Assert.True(missing.Count == 0, $"{name}: parameters without help: {string.Join(", ", missing)}");
        Assert.True(stale.Count == 0, $"{name}: help documents parameters the cmdlet does not have: {string.Join(", ", stale)}");

        foreach (var (paramName, meta) in actual)
        {
            var doc = documented[paramName];
            string where = $"{name} -{paramName}";
            Assert.True(Text(Prop(doc, "description")).Trim().Length >= 20, $"{where}: no description");

            Type type = Nullable.GetUnderlyingType(meta.ParameterType) ?? meta.ParameterType;
            Assert.Equal(type.Name, Text(Prop(Prop(doc, "type"), "name")).Trim());

            var attributes = meta.Attributes.OfType<ParameterAttribute>().ToList();
            string pipeline = Text(Prop(doc, "pipelineInput"));
            Assert.True(attributes.Any(a => a.ValueFromPipeline) == pipeline.Contains("ByValue"), $"{where}: pipelineInput '{pipeline}' is wrong about ByValue");
            Assert.True(attributes.Any(a => a.ValueFromPipelineByPropertyName) == pipeline.Contains("ByPropertyName"), $"{where}: pipelineInput '{pipeline}' is wrong about ByPropertyName");

            Assert.True(attributes.All(a => a.Mandatory) == IsTrue(Prop(doc, "required")), $"{where}: 'required' is wrong");
            var positions = attributes.Select(a => a.Position).Distinct().ToList();
            if (positions.Count == 1) Assert.Equal(Position(positions[0]), Text(Prop(doc, "position")).Trim(), StringComparer.OrdinalIgnoreCase);

            var helpAliases = Text(Prop(doc, "aliases")).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(a => !a.Equals("none", StringComparison.OrdinalIgnoreCase));
            Assert.Equal(meta.Aliases.OrderBy(a => a, StringComparer.OrdinalIgnoreCase), helpAliases.OrderBy(a => a, StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase);

            if (meta.Attributes.OfType<SupportsWildcardsAttribute>().Any())
            {
                Assert.True(IsTrue(Prop(doc, "globbing")), $"{where} supports wildcards but its help says it does not");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void SyntaxMatchesTheParameterSets(string name)
    {
        var command = GetCommand(name);
        var items = Items(Prop(GetHelp(name), "syntax"), "syntaxItem");
        Assert.Equal(command.ParameterSets.Count, items.Count);
        foreach (var set in command.ParameterSets)
        {
            var expected = set.Parameters.Where(p => !IsCommon(p.Name)).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
            var item = items.FirstOrDefault(i => new HashSet<string>(Items(i, "parameter").Select(p => Text(Prop(p, "name")).Trim()), StringComparer.OrdinalIgnoreCase).SetEquals(expected.Keys));
            Assert.True(item != null, $"{name}: no syntax item documents the parameter set '{set.Name}' ({string.Join(", ", expected.Keys)})");
            foreach (var p in Items(item, "parameter"))
            {
                var meta = expected[Text(Prop(p, "name")).Trim()];
                string where = $"{name} set '{set.Name}' -{meta.Name}";
                Assert.True(meta.IsMandatory == IsTrue(Prop(p, "required")), $"{where}: 'required' is wrong");
                Assert.True(string.Equals(Position(meta.Position), Text(Prop(p, "position")).Trim(), StringComparison.OrdinalIgnoreCase), $"{where}: position is wrong");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void DocumentedOutputTypesAreTheDeclaredOnes(string name)
    {
        var command = GetCommand(name);
        var help = GetHelp(name);
        var documented = Items(Prop(help, "returnValues"), "returnValue").Select(r => Text(Prop(Prop(r, "type"), "name")).Trim()).ToList();
        Assert.NotEmpty(command.OutputType);
        foreach (var type in command.OutputType) Assert.Contains(type.Name, documented);
        foreach (var r in Items(Prop(help, "returnValues"), "returnValue")) Assert.False(string.IsNullOrWhiteSpace(Text(Prop(r, "description"))), $"{name}: an output type has no description");

        var inputs = Items(Prop(help, "inputTypes"), "inputType").Select(r => Text(Prop(Prop(r, "type"), "name")).Trim()).ToList();
        bool takesPipeline = command.Parameters.Values.SelectMany(p => p.Attributes.OfType<ParameterAttribute>()).Any(a => a.ValueFromPipeline || a.ValueFromPipelineByPropertyName);
        Assert.True(!takesPipeline || inputs.Count > 0, $"{name}: takes pipeline input but documents no input type");
    }

    /// <summary>Every parameter an example passes to a TursoBackup command is a real parameter of it (full name, no stale names).</summary>
    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void ExamplesUseOnlyRealParameters(string name)
    {
        var commands = Exported().ToDictionary(c => c, GetCommand, StringComparer.OrdinalIgnoreCase);
        foreach (var (cmdlet, info) in commands.ToList())
        {
            foreach (var alias in AliasesOf(cmdlet)) commands[alias] = info;
        }
        foreach (var example in Items(Prop(GetHelp(name), "examples"), "example"))
        {
            string code = Text(Prop(example, "code"));
            var ast = Parser.ParseInput(code, out _, out ParseError[] errors);
            Assert.True(errors.Length == 0, $"{name}: example does not parse: {string.Join("; ", errors.Select(e => e.Message))}\n{code}");
            foreach (CommandAst call in ast.FindAll(a => a is CommandAst, true))
            {
                string called = call.GetCommandName();
                if (called == null || !commands.TryGetValue(called, out var target)) continue;
                foreach (var p in call.CommandElements.OfType<CommandParameterAst>())
                {
                    Assert.True(target.Parameters.ContainsKey(p.ParameterName) || IsCommon(p.ParameterName),
                        $"{name}: an example passes -{p.ParameterName}, which {called} does not have:\n{code}");
                }
            }
        }
    }

    [Fact]
    public void AliasTestTursoBackupShowsTheHelpOfTestBackup()
    {
        var help = GetHelp("Test-TursoBackup");
        Assert.Equal("Test-Backup", ((string)Prop(help, "Name"))?.Trim());
        Assert.DoesNotContain("[-", (string)Prop(help, "Synopsis"));
    }

    /// <summary>
    /// Get-Help finds about topics in the module's culture folder in a hosted runspace too, as in pwsh: the
    /// topic is looked up through Get-Help, not just as a file.
    /// </summary>
    [Fact]
    public void AboutTopicIsFoundByGetHelp()
    {
        string file = Path.Combine(Path.GetDirectoryName(session.ModulePath)!, "en-US", "about_TursoBackup.help.txt");
        Assert.True(File.Exists(file), file + " is missing from the assembled module");

        var r = session.Run("Get-Help about_TursoBackup").NoErrors();
        string text = string.Join("\n", r.Output.Select(o => o.ToString()));
        Assert.Contains("about_TursoBackup", text);
        foreach (var word in new[] { "vault", "Snapshot", "Test-Backup", "-Force", "emergency" })
        {
            Assert.Contains(word, text);
        }
    }

    // ---- helpers ----

    private List<string> Exported() =>
        session.Run("Get-Command -Module TursoBackup -CommandType Cmdlet | ForEach-Object Name").NoErrors().Output.Select(o => o.ToString()).ToList();

    private PSObject GetHelp(string name)
    {
        var r = session.Run("Get-Help -Name $name -Full", new Dictionary<string, object> { ["name"] = name }).NoErrors();
        return Assert.Single(r.Output);
    }

    private CommandInfo GetCommand(string name)
    {
        var r = session.Run("Get-Command -Name $name -Module TursoBackup -CommandType Cmdlet", new Dictionary<string, object> { ["name"] = name }).NoErrors();
        return (CommandInfo)Assert.Single(r.Output).BaseObject;
    }

    private List<string> AliasesOf(string cmdlet) =>
        session.Run("Get-Command -Module TursoBackup -CommandType Alias | Where-Object ResolvedCommandName -eq $name | ForEach-Object Name",
                new Dictionary<string, object> { ["name"] = cmdlet }).NoErrors().Output.Select(o => o.ToString()).ToList();

    private static bool IsCommon(string parameter) =>
        Cmdlet.CommonParameters.Contains(parameter) || parameter.Equals("UseTransaction", StringComparison.OrdinalIgnoreCase);

    private static string Position(int position) => position == int.MinValue || position < 0 ? "named" : position.ToString();

    private static bool IsTrue(object value) => string.Equals(Text(value).Trim(), "true", StringComparison.OrdinalIgnoreCase);

    private static object Prop(object obj, string name)
    {
        if (obj == null) return null;
        var ps = obj as PSObject ?? PSObject.AsPSObject(obj);
        return ps.Properties[name]?.Value;
    }

    /// <summary>The items of a help node's collection property (a single item or an array).</summary>
    private static List<object> Items(object node, string name)
    {
        var value = Prop(node, name);
        if (value == null) return new List<object>();
        var baseValue = value is PSObject p ? p.BaseObject : value;
        if (baseValue is IEnumerable e and not string) return e.Cast<object>().ToList();
        return new List<object> { value };
    }

    /// <summary>The text of a help node: a string, a { Text } paragraph or an array of them.</summary>
    private static string Text(object node)
    {
        if (node == null) return "";
        var baseValue = node is PSObject p ? p.BaseObject : node;
        switch (baseValue)
        {
            case string s: return s;
            case IEnumerable e: return string.Join("\n", e.Cast<object>().Select(Text));
        }
        var text = (node as PSObject ?? PSObject.AsPSObject(node)).Properties["Text"]?.Value;
        return text != null ? Text(text) : node.ToString();
    }
}
