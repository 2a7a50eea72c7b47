namespace CrossEncoder.Cli.Commands;

internal static class ConvertCommand
{
    public const string Usage = "crossencoder convert --onnx <file> --vocab <file> --out <dir>";

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr) => throw new CliException("convert: not yet implemented");
}
