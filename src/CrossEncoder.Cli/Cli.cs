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
    private static readonly Func<CliContext, Command>[] Commands =
    [
        RerankCommand.Create,
        TokenizeCommand.Create,
        VerifyCommand.Create,
        ConvertCommand.Create,
        BenchCommand.Create,
        CompletionCommand.Create,
        ServeCommand.Create,
    ];

    /// <summary>The root command with every subcommand; <paramref name="context"/> carries the streams the actions use.</summary>
    internal static RootCommand CreateRoot(CliContext context)
    {
        var root = new RootCommand("Rerank documents with a cross-encoder (or rank them by cosine with a bi-encoder), in pure C#.");
        foreach (var create in Commands) root.Add(create(context));
        CliHelp.Configure(root);
        CliHelp.SetExamples(root,
            "crossencoder rerank --query \"how do wings produce lift\" --docs passages.txt --top 5",
            "crossencoder rerank --help");
        return root;
    }

    /// <summary>Runs one command line; returns the process exit code.</summary>
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        var root = CreateRoot(new CliContext(stdin, stdout, stderr, cancellationToken));
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
        catch (Exception e) when (e is CliException or FormatException or IOException or UnauthorizedAccessException or ArgumentException or InvalidDataException)
        {
            WriteError(stderr, e.Message, null);
            return 1;
        }
    }

    /// <summary>"error: message" on one line (red on a colour terminal unless NO_COLOR is set), then the usage for usage errors.</summary>
    private static void WriteError(TextWriter stderr, string message, Command? usageOf)
    {
        string oneLine = string.Join(' ', message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        stderr.WriteLine((UseColor(stderr) ? "\u001b[31merror:\u001b[0m " : "error: ") + oneLine);
        if (usageOf is not null) stderr.WriteLine($"usage: {CliHelp.Synopsis(usageOf)}  (see --help)");
    }

    /// <summary>Colour only on the real, interactive standard error, and never when NO_COLOR is set (https://no-color.org) or TERM=dumb.</summary>
    private static bool UseColor(TextWriter writer) =>
        ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected
        && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")) && Environment.GetEnvironmentVariable("TERM") != "dumb";
}
