using System.Globalization;
using System.Text.Json;
using CrossEncoder.Tools.Verification;

namespace CrossEncoder.Cli.Commands;

/// <summary><c>verify</c>: this engine against ONNX Runtime on the same real pairs, output by output.</summary>
internal static class VerifyCommand
{
    public const string Usage = "crossencoder verify [--model <dir>] [--onnx <file>] [--pairs <file: query TAB document [TAB max_length] per line>] [--batch N] [--json]\n            " + VerifyInt8Command.Usage;

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Contains("--precision")) return VerifyInt8Command.Run(args, stdout, stderr);   // the int8 accuracy gate
        var cl = CommandLine.Parse(args, ["model", "onnx", "pairs", "batch"], ["json"]);
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'.");
        var (modelDirectory, onnx) = DefaultModel.ResolveWithOnnx(cl.Value("model"), cl.Value("onnx"), stderr);
        if (onnx is null) throw new UsageException("--onnx <file> is required with --model (the ONNX export the folder was converted from).");
        if (!Directory.Exists(modelDirectory)) throw new CliException($"model folder '{modelDirectory}' does not exist.");
        var pairs = cl.Value("pairs") is { } file ? FidelityCheck.ReadPairs(file) : FidelityCheck.DefaultPairs();
        var report = FidelityCheck.Run(modelDirectory, onnx, pairs, cl.Int("batch", 1, 1024) ?? 16);

        if (cl.Flag("json"))
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
