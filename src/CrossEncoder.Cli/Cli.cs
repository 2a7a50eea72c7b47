using System.CommandLine;
using System.CommandLine.Invocation;
using CrossEncoder.Cli.Commands;

namespace CrossEncoder.Cli;

/// <summary>
/// The crossencoder command line on System.CommandLine: builds the commands, reports usage errors in one format, runs
/// the chosen command and turns its exceptions into one-line errors. Exit codes: 0 success, 1 failure, 2 usage, 130 cancelled.
/// </summary>
public static class Cli
{
    /// <summary>The commands, in help order. To add one: a file in Commands/ with <c>Create(CliContext)</c>, and one line here.</summary>
    /// <remarks>verify and bench need ONNX Runtime (~240 MB of native libraries): they are in the companion tool
    /// crossencoder-onnx (src/CrossEncoder.Cli.Onnx), which compiles their files from Commands/ and lists them itself.</remarks>
    private static readonly Func<CliContext, Command>[] Commands =
    [
        RerankCommand.Create,
        TokenizeCommand.Create,
        ConvertCommand.Create,
        CompletionCommand.Create,
        QuantizeCommand.Create,
        EvalCommand.Create,
        ConvertCollectionCommand.Create,
        ServeCommand.Create,
        ExplainCommand.Create,
        TraceCommand.Create,
        TrainCommand.Create,
    ];

    /// <summary>Commands of the companion tool, named here so `crossencoder verify` can say where they are.</summary>
    private static readonly string[] CompanionCommands = ["verify", "bench", "quantize-onnx"];

    /// <summary>The root command of the crossencoder tool; <paramref name="context"/> carries the streams the actions use.</summary>
    internal static RootCommand CreateRoot(CliContext context) =>
        CreateRoot("crossencoder", "Rerank documents with a cross-encoder (or rank them by cosine with a bi-encoder), in pure C#.", Commands, context,
            "crossencoder rerank --query \"how do wings produce lift\" --docs passages.txt --top 5",
            "crossencoder rerank --help");

    /// <summary>A tool's root command with its subcommands, help with examples, completion and version.</summary>
    internal static RootCommand CreateRoot(string toolName, string description, IEnumerable<Func<CliContext, Command>> commands, CliContext context, params string[] examples)
    {
        var root = new ToolRootCommand(toolName, description);
        foreach (var create in commands) root.Add(create(context));
        CliHelp.Configure(root);
        CliHelp.SetExamples(root, examples);
        return root;
    }

    /// <summary>Runs one command line of the crossencoder tool; returns the process exit code.</summary>
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        if (args.Length > 0 && CompanionCommands.Contains(args[0]))
        {
            WriteError(stderr, $"'{args[0]}' runs ONNX Runtime, which this tool leaves out to stay small: install the companion tool " +
                               $"(dotnet tool install --global CrossEncoder.Tool.Onnx) and run 'crossencoder-onnx {args[0]}'.", null);
            return 2;
        }
        return Run(CreateRoot(new CliContext(stdin, stdout, stderr, cancellationToken)), args, stdout, stderr);
    }

    /// <summary>Parses and runs <paramref name="args"/> against <paramref name="root"/>: usage errors, invocation and exceptions in one format.</summary>
    internal static int Run(RootCommand root, string[] args, TextWriter stdout, TextWriter stderr)
    {
        var invocation = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        // Response files (@file) are off: a document may start with '@'.
        var parserConfiguration = new ParserConfiguration { ResponseFileTokenReplacer = null };
        if (args.Length == 0)
        {
            root.Parse(["--help"], parserConfiguration).Invoke(invocation);
            return 2;
        }
        if (args[0] == "help") args = [.. args[1..], "--help"];

        var parse = root.Parse(args, parserConfiguration);
        if (parse.Action is not { ClearsParseErrors: true } && CliHelp.FirstError(parse) is { } problem)
        {
            WriteError(stderr, problem, problem.StartsWith("unknown command", StringComparison.Ordinal) ? null : parse.CommandResult.Command);
            return 2;
        }
        try
        {
            return parse.Invoke(invocation);
        }
        catch (UsageException e)
        {
            WriteError(stderr, e.Message, parse.CommandResult.Command);
            return 2;
        }
        catch (OperationCanceledException)
        {
            WriteError(stderr, "cancelled.", null);
            return 130;
        }
        catch (Exception e) when (e is CliException or FormatException or IOException or UnauthorizedAccessException or ArgumentException or InvalidDataException
                                      or CrossEncoder.Native.Model.ModelComputationException)
        {
            WriteError(stderr, e is ArgumentException argument ? WithoutParameterNote(argument) : e.Message, null);
            return 1;
        }
    }

    /// <summary>An argument error's own sentence, without .NET's " (Parameter 'maxLength')" and "Actual value was 1." notes,
    /// which name code, not anything the user typed.</summary>
    internal static string WithoutParameterNote(ArgumentException e)
    {
        string message = e.Message;
        if (e is ArgumentOutOfRangeException { ActualValue: { } actual })
            message = message.Replace($"Actual value was {actual}.", "", StringComparison.Ordinal);
        if (e.ParamName is { } name)
            message = message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal);
        return message.Trim();
    }

    /// <summary>"error: message" on one line (red on a colour terminal unless NO_COLOR is set), then the usage for usage errors.</summary>
    internal static void WriteError(TextWriter stderr, string message, Command? usageOf)
    {
        string oneLine = Printable(string.Join(' ', message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)));
        stderr.WriteLine((UseColor(stderr) ? "\u001b[31merror:\u001b[0m " : "error: ") + oneLine);
        if (usageOf is not null) stderr.WriteLine($"usage: {CliHelp.Synopsis(usageOf)}  (see --help)");
    }

    /// <summary>An error echoes paths, options and file contents: control characters (a terminal's escape sequences, a
    /// carriage return that would overwrite the line) and bidirectional overrides are shown as <c>\uXXXX</c>, never sent.</summary>
    internal static string Printable(string text)
    {
        static bool Hidden(char c) => (char.IsControl(c) && c != '\t') || c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069';
        if (!text.Any(c => c == '\t' || Hidden(c))) return text;
        var printable = new System.Text.StringBuilder(text.Length + 16);
        foreach (char c in text)
            printable.Append(c == '\t' ? " " : Hidden(c) ? $"\\u{(int)c:x4}" : c.ToString());
        return printable.ToString();
    }

    /// <summary>Colour only on the real, interactive standard error, and never when NO_COLOR is set (https://no-color.org) or TERM=dumb.</summary>
    private static bool UseColor(TextWriter writer) =>
        ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected
        && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")) && Environment.GetEnvironmentVariable("TERM") != "dumb";
}

/// <summary>A root command that knows the tool's name (the executable's name is "testhost" under a test runner).</summary>
internal sealed class ToolRootCommand(string toolName, string description) : RootCommand(description)
{
    public string ToolName { get; } = toolName;
}
