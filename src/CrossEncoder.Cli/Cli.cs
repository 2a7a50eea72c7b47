using CrossEncoder.Cli.Commands;

namespace CrossEncoder.Cli;

/// <summary>An expected failure (missing file, invalid model): printed as one line, exit code 1.</summary>
internal sealed class CliException(string message) : Exception(message);

/// <summary>Dispatches to the commands and turns exceptions into one-line errors with an exit code.</summary>
public static class Cli
{
    private static readonly (string Name, string Usage, string Summary)[] Commands =
    [
        ("rerank", RerankCommand.Usage, "rank documents against a query (the main job)"),
        ("tokenize", TokenizeCommand.Usage, "show the token ids the model reads"),
        ("verify", VerifyCommand.Usage, "compare this engine with ONNX Runtime on real text"),
        ("convert", ConvertCommand.Usage, "turn a BERT ONNX export into a model folder"),
        ("bench", BenchCommand.Usage, "measure pairs per second, side by side with ONNX Runtime"),
        ("quantize", QuantizeCommand.Usage, "write an int8 model folder, measured by the accuracy gate"),
    ];

    /// <summary>Runs one command; returns the process exit code.</summary>
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            stdout.WriteLine("usage: crossencoder <command> [options]");
            foreach (var c in Commands) stdout.WriteLine($"  {c.Name,-9} {c.Summary}\n            {c.Usage}");
            return args.Length == 0 ? 2 : 0;
        }
        string command = args[0];
        var rest = args.Skip(1).ToArray();
        var entry = Commands.FirstOrDefault(c => c.Name == command);
        if (entry.Name is null)
        {
            stderr.WriteLine($"error: unknown command '{command}' (commands: {string.Join(", ", Commands.Select(c => c.Name))}).");
            return 2;
        }
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            stdout.WriteLine("usage: " + entry.Usage);
            return 0;
        }
        try
        {
            return command switch
            {
                "rerank" => RerankCommand.Run(rest, stdin, stdout, stderr, cancellationToken),
                "tokenize" => TokenizeCommand.Run(rest, stdout, stderr),
                "verify" => VerifyCommand.Run(rest, stdout, stderr),
                "convert" => ConvertCommand.Run(rest, stdout, stderr),
                "bench" => BenchCommand.Run(rest, stdout, stderr, cancellationToken),
                "quantize" => QuantizeCommand.Run(rest, stdout, stderr),
                _ => 2,
            };
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"error: {e.Message}\nusage: {entry.Usage}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine("error: cancelled.");
            return 130;
        }
        catch (Exception e) when (e is CliException or FormatException or IOException or UnauthorizedAccessException or ArgumentException or InvalidDataException)
        {
            stderr.WriteLine($"error: {string.Join(' ', e.Message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))}");
            return 1;
        }
    }
}
