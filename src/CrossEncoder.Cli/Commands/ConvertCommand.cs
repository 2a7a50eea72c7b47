using CrossEncoder.Tools.Onnx;

namespace CrossEncoder.Cli.Commands;

/// <summary><c>convert</c>: a BERT ONNX export + vocab.txt -> a Hugging Face model folder (config.json, model.safetensors, vocab.txt).</summary>
internal static class ConvertCommand
{
    public const string Usage = "crossencoder convert --onnx <file> --vocab <file> --out <dir> [--overwrite] [--verbose]";

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var cl = CommandLine.Parse(args, ["onnx", "vocab", "out"], ["overwrite", "verbose"]);
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'.");
        string onnx = cl.Required("onnx"), vocab = cl.Required("vocab"), output = cl.Required("out");
        if (!File.Exists(onnx)) throw new CliException($"ONNX file '{onnx}' not found.");
        if (!File.Exists(vocab)) throw new CliException($"vocabulary file '{vocab}' not found.");
        // OnnxConversionException is a FormatException: Cli prints its message (which names the node or tensor) as one line.
        var report = OnnxBertConverter.Convert(onnx, vocab, output, new OnnxBertConversionOptions { Overwrite = cl.Flag("overwrite") });
        if (cl.Flag("verbose")) stdout.Write(report.Describe());
        stdout.WriteLine($"converted {onnx} -> {report.OutputDirectory}: {report.TensorCount} tensors, {report.ParameterCount:N0} parameters, " +
                         $"{report.Config.NumHiddenLayers} layers x {report.Config.HiddenSize} hidden, in {report.Elapsed.TotalSeconds:F1}s");
        return 0;
    }
}
