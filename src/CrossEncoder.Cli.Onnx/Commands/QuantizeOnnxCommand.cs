using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CrossEncoder.Native.Tokenization;
using CrossEncoder.Conversion.Onnx;
using CrossEncoder.Tools.Verification;
using CrossEncoder.Conversion.Verification;
using CrossEncoder.Native.Reranking.Verification;

namespace CrossEncoder.Cli.Commands;

/// <summary>
/// <c>quantize-onnx</c>: writes ONNX Runtime's own dynamic int8 model (what quantize_dynamic with per_channel=True, QInt8
/// weights and op_types_to_quantize=["MatMul"] writes) from an fp32 export, then checks that ONNX Runtime loads it, fuses it
/// and stays close to fp32. The rival for this engine's int8 in <c>bench --precision int8</c> and <c>verify --precision int8</c>.
/// </summary>
internal static class QuantizeOnnxCommand
{
    public static Command Create(CliContext context)
    {
        var onnx = CliOptions.Text("--onnx", "file", "the fp32 ONNX export to quantize; default: the offline all-MiniLM-L6-v2's export");
        var output = CliOptions.Text("--out", "file", "the int8 ONNX file to write", required: true);
        var reduceRange = CliOptions.Flag("--reduce-range", "7-bit weights ([-64, 64], quantize_dynamic's reduce_range=True) against vpmaddubsw saturation on AVX2 / AVX-512 without VNNI");
        var json = CliOptions.Json();
        var command = new Command("quantize-onnx", "Write ONNX Runtime's dynamic int8 model (as onnxruntime.quantization.quantize_dynamic, per-channel QInt8 MatMul weights) and check it in ONNX Runtime.") { onnx, output, reduceRange, json };
        CliHelp.SetExamples(command,
            "crossencoder-onnx quantize-onnx --out /tmp/minilm-int8.onnx",
            "crossencoder-onnx quantize-onnx --onnx model.onnx --out model-int8.onnx --json");
        command.SetAction(parse => Run(context, parse.GetValue(onnx), parse.GetValue(output)!, parse.GetValue(reduceRange), parse.GetValue(json)));
        return command;
    }

    private static int Run(CliContext context, string? onnxPath, string output, bool reduceRange, bool json)
    {
        var stdout = context.Out;
        string input;
        string? modelDirectory = null;
        if (onnxPath is null) (modelDirectory, input) = DefaultModel.ResolveWithOnnx(null, null, context.Error) is (var d, { } o) ? (d, o) : throw new CliException("the default model has no ONNX export.");
        else input = File.Exists(onnxPath) ? onnxPath : throw new CliException($"ONNX file '{onnxPath}' not found.");
        if (Path.GetFullPath(input) == Path.GetFullPath(output)) throw new UsageException("--out must differ from --onnx.");

        // OnnxConversionException is a FormatException: Cli prints its message as one line.
        var report = OnnxDynamicQuantizer.QuantizeFile(input, output, new OnnxDynamicQuantizationOptions { ReduceRange = reduceRange });

        // The check: 16 real pairs (8-512 tokens) in one padded batch, int8 against fp32 in ONNX Runtime.
        OrtInt8Check? check = null;
        string? skipped = null;
        var sequences = CheckSequences(modelDirectory ?? Path.GetDirectoryName(Path.GetFullPath(input))!);
        if (sequences is null) skipped = "no vocab.txt or tokenizer.json next to the ONNX file (or in its parent folder) to tokenize the check's pairs";
        else
        {
            try { check = OrtInt8Comparison.Check(input, output, sequences, Environment.ProcessorCount); }
            catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e) { throw new CliException($"ONNX Runtime could not run '{output}': {e.Message.Split('\n')[0]}"); }
            catch (InvalidDataException e) when (e.Message.Contains(OrtInt8Comparison.LastHiddenState, StringComparison.Ordinal)) { skipped = e.Message; }
        }

        long inBytes = new FileInfo(input).Length, outBytes = new FileInfo(output).Length;
        string[] fused = ["DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulInteger", "DynamicQuantizeLinear"];
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new
            {
                onnx = input, output, reduce_range = reduceRange,
                quantized_matmuls = report.QuantizedMatMuls, fp32_matmuls = report.SkippedMatMuls, quantized_weights = report.QuantizedWeights,
                fp32_bytes = inBytes, int8_bytes = outBytes,
                check = check is null ? null : new
                {
                    sequences = check.Sequences, max_abs_hidden_diff = check.MaxAbsHiddenDiff, min_embedding_cosine = check.MinEmbeddingCosine,
                    ort_ops = fused.ToDictionary(f => f, f => check.OptimizedOpCounts.GetValueOrDefault(f)),
                },
                check_skipped = skipped,
            }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var inv = CultureInfo.InvariantCulture;
        stdout.WriteLine(string.Create(inv, $"wrote {output}: {report.QuantizedMatMuls} MatMuls in int8 ({report.QuantizedWeights} weights, per-column QInt8{(reduceRange ? " reduce_range" : "")}), {report.SkippedMatMuls} left fp32; {outBytes / 1e6:F1} MB from {inBytes / 1e6:F1} MB"));
        if (check is null) stdout.WriteLine($"check skipped: {skipped}");
        else
        {
            stdout.WriteLine(string.Create(inv, $"ONNX Runtime loads and runs it: {check.Sequences} real pairs, last_hidden_state max |int8 - fp32| {check.MaxAbsHiddenDiff:F4}, min sentence-embedding cosine {check.MinEmbeddingCosine:F5}"));
            stdout.WriteLine("ops ONNX Runtime runs: " + string.Join(", ", fused.Select(f => $"{f} {check.OptimizedOpCounts.GetValueOrDefault(f)}")));
        }
        return 0;
    }

    /// <summary>The first 16 of verify's built-in real pairs, tokenized with the tokenizer beside the ONNX file, or null.</summary>
    private static List<EncodedPair>? CheckSequences(string directory)
    {
        foreach (string candidate in new[] { directory, Path.GetDirectoryName(directory) ?? directory })
        {
            if (!File.Exists(Path.Combine(candidate, "vocab.txt")) && !File.Exists(Path.Combine(candidate, "tokenizer.json"))) continue;
            var tokenizer = TokenizerLoader.FromModelFolder(candidate);
            return [.. FidelityCheck.DefaultPairs().Take(16).Select(p => tokenizer.EncodePair(p.Query, p.Document, Math.Min(p.MaxLength, 512)))];
        }
        return null;
    }
}
