namespace CrossEncoder.Cli;

/// <summary>A usage error: the message is shown with the command's usage line and the exit code is 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Minimal POSIX-style argument parsing: <c>--name value</c>, <c>--name=value</c>, boolean <c>--flag</c>, positionals, and
/// <c>--</c> to end options. Unknown options, missing values and repeated options are usage errors naming the option.
/// </summary>
internal sealed class CommandLine
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    public List<string> Positionals { get; } = [];

    public static CommandLine Parse(IReadOnlyList<string> args, IReadOnlyCollection<string> valueOptions, IReadOnlyCollection<string> flagOptions)
    {
        var result = new CommandLine();
        bool optionsEnded = false;
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (optionsEnded || !arg.StartsWith("--", StringComparison.Ordinal) || arg == "-")
            {
                result.Positionals.Add(arg);
                continue;
            }
            if (arg == "--") { optionsEnded = true; continue; }
            string name = arg[2..];
            string? inline = null;
            int equals = name.IndexOf('=');
            if (equals >= 0) { inline = name[(equals + 1)..]; name = name[..equals]; }
            if (flagOptions.Contains(name))
            {
                if (inline is not null) throw new UsageException($"option --{name} takes no value.");
                result._flags.Add(name);
            }
            else if (valueOptions.Contains(name))
            {
                string value = inline ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"option --{name} needs a value."));
                if (!result._values.TryAdd(name, value)) throw new UsageException($"option --{name} is given twice.");
            }
            else
            {
                var known = valueOptions.Concat(flagOptions).Select(o => "--" + o);
                throw new UsageException($"unknown option '{arg}' (known: {string.Join(", ", known)}).");
            }
        }
        return result;
    }

    public bool Flag(string name) => _flags.Contains(name);

    public string? Value(string name) => _values.GetValueOrDefault(name);

    public string Required(string name) => Value(name) ?? throw new UsageException($"option --{name} is required.");

    public int? Int(string name, int min, int max)
    {
        string? text = Value(name);
        if (text is null) return null;
        if (!int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            throw new UsageException($"option --{name} must be an integer from {min} to {max}, got '{text}'.");
        return value;
    }
}
