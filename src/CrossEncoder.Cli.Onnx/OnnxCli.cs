using CrossEncoder.Cli.Commands;

namespace CrossEncoder.Cli;

/// <summary>The crossencoder-onnx tool: verify, bench and quantize-onnx, with crossencoder's parsing, help and error format.</summary>
public static class OnnxCli
{
    /// <summary>Runs one command line; returns the process exit code (0 success, 1 failure, 2 usage, 130 cancelled).</summary>
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default) =>
        Cli.Run(CreateRoot(new CliContext(stdin, stdout, stderr, cancellationToken)), args, stdout, stderr);

    internal static System.CommandLine.RootCommand CreateRoot(CliContext context) =>
        Cli.CreateRoot("crossencoder-onnx", "The crossencoder commands that run ONNX Runtime next to this engine: verify, bench and quantize-onnx.",
            [VerifyCommand.Create, BenchCommand.Create, QuantizeOnnxCommand.Create], context,
            "crossencoder-onnx verify",
            "crossencoder-onnx bench --tokens 256 --json");
}
