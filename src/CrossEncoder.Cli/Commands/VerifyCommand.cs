using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CrossEncoder.Native.Tokenization;
using CrossEncoder.Tools.Verification;
using CrossEncoder.Conversion.Verification;
using CrossEncoder.Native.Reranking.Verification;

namespace CrossEncoder.Cli.Commands;

/// <summary><c>verify</c>: this engine against ONNX Runtime on the same real pairs, output by output.</summary>
internal static class VerifyCommand
{
    public static Command Create(CliContext context)
    {
        var model = CliOptions.Model("model folder to check; default: the offline all-MiniLM-L6-v2 (then --onnx defaults to the export it came from)");
        var onnx = CliOptions.Text("--onnx", "file", "the ONNX export the folder was converted from (required with --model)");
        var pairsOption = CliOptions.Text("--pairs", "file", "pairs to run, one per line: query TAB document [TAB max_length]; default: built-in real pairs of 8-512 tokens");
        var batch = CliOptions.Int("--batch", "pairs per forward pass", 1, 1024, 16);
        var json = CliOptions.Json();
        var gate = Int8GateOptions.Create();
        var command = new Command("verify", "Compare this engine with ONNX Runtime on real text, output by output, against the error budgets; with --precision int8, the int8 accuracy gate (int8 against fp32 on real reranking sets), with ONNX Runtime's own dynamic int8 against its fp32 on the same pairs beside it (not gated).") { model, onnx, pairsOption, batch, json };
        gate.AddTo(command);
        CliHelp.SetExamples(command,
            "crossencoder-onnx verify",
            "crossencoder-onnx verify --model weights/my-model --onnx my-model.onnx --pairs pairs.tsv --json",
            "crossencoder-onnx verify --precision int8 --data ../shared/ir --json",
            "crossencoder-onnx verify --precision int8 --probe-head --data ../shared/ir");
        command.SetAction(parse => parse.GetValue(gate.Precision) is { } precision
            ? VerifyInt8Command.Run(context, precision, parse.GetValue(model), parse.GetValue(onnx), gate.Read(parse), parse.GetValue(json), OrtInt8Neighbour, parse.GetValue(gate.ProbeHead))
            : Run(context, parse.GetValue(model), parse.GetValue(onnx), parse.GetValue(pairsOption), parse.GetValue(batch), parse.GetValue(json)));
        return command;
    }

    /// <summary>ONNX Runtime's own dynamic int8 (quantize_dynamic's model, written in memory) against ORT fp32 on the gate's queries.</summary>
    private static (PrecisionGateReport? Report, string Note) OrtInt8Neighbour(string onnx, IReadOnlyList<RankingQuery> queries, ITextPairTokenizer tokenizer, int maxLength)
    {
        try
        {
            var report = OrtInt8Comparison.Run(onnx, tokenizer, queries, maxLength, Environment.ProcessorCount, out string note);
            return (report, note);
        }
        catch (Exception e) when (e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or FormatException)   // the neighbour never sinks the gate
        {
            return (null, "not measured: " + e.Message.Split('\n')[0]);
        }
    }

    private static int Run(CliContext context, string? model, string? onnxPath, string? pairsFile, int batch, bool json)
    {
        var stdout = context.Out;
        var (modelDirectory, onnx) = DefaultModel.ResolveWithOnnx(model, onnxPath, context.Error);
        if (onnx is null) throw new UsageException("--onnx <file> is required with --model (the ONNX export the folder was converted from).");
        if (!Directory.Exists(modelDirectory)) throw new CliException($"model folder '{modelDirectory}' does not exist.");
        var pairs = pairsFile is { } file ? FidelityCheck.ReadPairs(file) : FidelityCheck.DefaultPairs();
        var report = FidelityCheck.Run(modelDirectory, onnx, pairs, batch);

        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new
            {
                model = modelDirectory,
                onnx,
                kind = report.ModelKind,
                pairs = report.Pairs,
                min_tokens = report.MinTokens,
                max_tokens = report.MaxTokens,
                outputs = report.Outputs.Select(o => new { name = o.Name, max_abs_diff = o.MaxAbsDiff, mean_abs_diff = o.MeanAbsDiff, tolerance = o.Tolerance, values = o.Values, pass = o.Pass }),
                pass = report.Pass,
            }, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        }
        else
        {
            stdout.WriteLine($"{report.Pairs} pairs, {report.MinTokens} to {report.MaxTokens} tokens; {report.ModelKind}; {modelDirectory} vs ONNX Runtime on {onnx}");
            stdout.WriteLine($"{"output",-20} {"max_abs_diff",13} {"mean_abs_diff",13} {"budget",8}  result");
            foreach (var o in report.Outputs)
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{o.Name,-20} {o.MaxAbsDiff,13:E3} {o.MeanAbsDiff,13:E3} {o.Tolerance,8:0e0}  {(o.Pass ? "pass" : "FAIL")}"));
            stdout.WriteLine(report.Pass ? "pass" : $"FAIL: first output over budget: {report.FirstFailure?.Name}");
        }
        return report.Pass ? 0 : 1;
    }
}
