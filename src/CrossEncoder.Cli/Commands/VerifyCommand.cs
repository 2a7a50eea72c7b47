namespace CrossEncoder.Cli.Commands;

internal static class VerifyCommand
{
    public const string Usage = "crossencoder verify --model <dir> --onnx <file> [--pairs <file>] [--json]";

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr) => throw new CliException("verify: not yet implemented");
}
