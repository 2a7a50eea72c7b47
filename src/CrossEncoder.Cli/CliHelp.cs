using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Runtime.CompilerServices;

namespace CrossEncoder.Cli;

/// <summary>
/// Help text and usage errors, one style for every command: System.CommandLine's help plus an "Examples:" section, and
/// parse errors reduced to the first one, worded as "option --x ..." and followed by the command's one-line usage.
/// </summary>
internal static class CliHelp
{
    private static readonly ConditionalWeakTable<Command, string[]> ExamplesByCommand = [];

    /// <summary>Example invocations shown at the end of the command's <c>--help</c>.</summary>
    public static void SetExamples(Command command, params string[] examples) => ExamplesByCommand.AddOrUpdate(command, examples);

    /// <summary>Gives every help screen System.CommandLine's sections plus the command's examples, wrapped to the terminal (or 100 columns).</summary>
    public static void Configure(RootCommand root)
    {
        var help = root.Options.OfType<HelpOption>().Single();
        var standard = (HelpAction)help.Action!;
        standard.MaxWidth = TerminalWidth();
        help.Action = new HelpWithExamples(standard);
    }

    /// <summary>The standard help, then "Examples:" when the command has some.</summary>
    private sealed class HelpWithExamples(HelpAction standard) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            standard.Invoke(parseResult);
            if (ExamplesByCommand.TryGetValue(parseResult.CommandResult.Command, out var examples) && examples.Length > 0)
            {
                var output = parseResult.InvocationConfiguration.Output;
                output.WriteLine("Examples:");
                foreach (string example in examples) output.WriteLine("  " + example);
                output.WriteLine();
            }
            return 0;
        }
    }

    private static int TerminalWidth()
    {
        if (Console.IsOutputRedirected) return 100;
        try { return Math.Clamp(Console.WindowWidth, 60, 160); }
        catch (IOException) { return 100; }
    }

    /// <summary>One line: <c>crossencoder rerank --query &lt;text&gt; [--top &lt;N&gt;] [--json] [&lt;documents&gt;...]</c>.</summary>
    public static string Synopsis(Command command)
    {
        var parts = new List<string>();
        for (Command? c = command; c is not null and not RootCommand; c = c.Parents.OfType<Command>().FirstOrDefault()) parts.Insert(0, c.Name);
        parts.Insert(0, "crossencoder");
        if (command is RootCommand) parts.Add("<command> [options]");
        foreach (var option in command.Options)
        {
            if (option is HelpOption or VersionOption || option.Hidden) continue;
            string text = option.ValueType == typeof(bool) ? option.Name : $"{option.Name} <{option.HelpName ?? "value"}>";
            parts.Add(option.Required ? text : $"[{text}]");
        }
        foreach (var argument in command.Arguments)
            parts.Add(argument.Arity.MaximumNumberOfValues > 1 ? $"[<{argument.Name}>...]" : argument.Arity.MinimumNumberOfValues == 0 ? $"[<{argument.Name}>]" : $"<{argument.Name}>");
        return string.Join(' ', parts);
    }

    /// <summary>
    /// The first problem with a command line as one sentence, or null when there is none. Checked in the order a person
    /// fixes them: unknown words, options missing their value or given twice, required options, then value validation.
    /// </summary>
    public static string? FirstError(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        if (parse.UnmatchedTokens.Count > 0)
        {
            string word = parse.UnmatchedTokens[0];
            if (command is RootCommand && !word.StartsWith('-'))
                return $"unknown command '{word}' (commands: {string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}).";
            return word.StartsWith('-') && word != "-" ? UnknownOption(command, word) : $"unexpected argument '{word}'.";
        }

        // Free arguments (documents) take any word; one that looks like an option before "--" is a mistyped option.
        int doubleDash = parse.Tokens.ToList().FindIndex(t => t.Type == TokenType.DoubleDash);
        foreach (var argument in parse.CommandResult.Children.OfType<ArgumentResult>())
            foreach (var token in argument.Tokens)
            {
                int position = IndexOf(parse.Tokens, token);
                if (token.Value.Length > 1 && token.Value[0] == '-' && (doubleDash < 0 || position < doubleDash)) return UnknownOption(command, token.Value);
            }

        foreach (var option in parse.CommandResult.Children.OfType<OptionResult>())
        {
            if (option.Implicit || option.Option.ValueType == typeof(bool)) continue;
            if (option.Tokens.Count == 0) return $"option {option.Option.Name} needs a value.";
            if (option.Tokens.Count > option.Option.Arity.MaximumNumberOfValues) return $"option {option.Option.Name} is given more than once.";
        }
        foreach (var option in command.Options)
            if (option.Required && parse.GetResult(option) is null or { IdentifierTokenCount: 0 }) return $"option {option.Name} is required.";
        foreach (var argument in command.Arguments)
            if (argument.Arity.MinimumNumberOfValues > 0 && (parse.GetResult(argument)?.Tokens.Count ?? 0) == 0) return $"missing <{argument.Name}>.";
        if (command is RootCommand && parse.Errors.Count > 0) return $"no command given (commands: {string.Join(", ", command.Subcommands.Select(c => c.Name))}).";
        return parse.Errors.Count > 0 ? parse.Errors[0].Message : null;
    }

    private static string UnknownOption(Command command, string word) =>
        $"unknown option '{word}' (known: {string.Join(", ", command.Options.Where(o => !o.Hidden && o is not VersionOption).Select(o => o.Name))}).";

    private static int IndexOf(IReadOnlyList<Token> tokens, Token token)
    {
        for (int i = 0; i < tokens.Count; i++) if (ReferenceEquals(tokens[i], token)) return i;
        return -1;
    }
}
