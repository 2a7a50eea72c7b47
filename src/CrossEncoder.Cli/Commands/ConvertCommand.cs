using System.CommandLine;
using CrossEncoder.Conversion.Onnx;

namespace CrossEncoder.Cli.Commands;

/// <summary><c>convert</c>: a BERT ONNX export + vocab.txt -> a Hugging Face model folder (config.json, model.safetensors, vocab.txt).</summary>
internal static class ConvertCommand
{
    public static Command Create(CliContext context)
    {
        var onnxOption = CliOptions.Text("--onnx", "file", "the ONNX export of a BERT model (e.g. from optimum or torch.onnx)", required: true);
        var vocabOption = CliOptions.Text("--vocab", "file", "the model's vocab.txt (WordPiece vocabulary)", required: true);
        var outOption = CliOptions.Text("--out", "dir", "the model folder to write (config.json, model.safetensors, vocab.txt)", required: true);
        var overwrite = CliOptions.Flag("--overwrite", "replace the files of an existing output folder");
        var verbose = CliOptions.Flag("--verbose", "list every tensor written");
        var command = new Command("convert", "Turn a BERT ONNX export and its vocab.txt into a model folder this engine loads.") { onnxOption, vocabOption, outOption, overwrite, verbose };
        CliHelp.SetExamples(command, "crossencoder convert --onnx model.onnx --vocab vocab.txt --out weights/my-model");
        command.SetAction(parse => Run(context, parse.GetValue(onnxOption)!, parse.GetValue(vocabOption)!, parse.GetValue(outOption)!, parse.GetValue(overwrite), parse.GetValue(verbose)));
        return command;
    }

    private static int Run(CliContext context, string onnx, string vocab, string output, bool overwrite, bool verbose)
    {
        var stdout = context.Out;
        if (!File.Exists(onnx)) throw new CliException($"ONNX file '{onnx}' not found.");
        if (!File.Exists(vocab)) throw new CliException($"vocabulary file '{vocab}' not found.");
        // OnnxConversionException is a FormatException: Cli prints its message (which names the node or tensor) as one line.
        var report = OnnxBertConverter.Convert(onnx, vocab, output, new OnnxBertConversionOptions { Overwrite = overwrite });
        if (verbose) stdout.Write(report.Describe());
        stdout.WriteLine($"converted {onnx} -> {report.OutputDirectory}: {report.TensorCount} tensors, {report.ParameterCount:N0} parameters, " +
                         $"{report.Config.NumHiddenLayers} layers x {report.Config.HiddenSize} hidden, in {report.Elapsed.TotalSeconds:F1}s");
        return 0;
    }
}
