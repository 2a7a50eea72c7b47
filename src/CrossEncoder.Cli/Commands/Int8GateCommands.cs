using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CrossEncoder.Conversion.Verification;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking.Verification;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Cli.Commands;

/// <summary>The int8 gate's options, shared by <c>verify --precision</c> (companion tool) and <c>quantize</c>.</summary>
internal sealed class Int8GateOptions
{
    public Option<string?> Precision { get; } = CreatePrecision();
    public Option<string?> Data { get; } = CliOptions.Text("--data", "dir", "IR root with cranfield/ and medline/ for the int8 gate; default: the bundled real sample (16 queries x 64 documents)");
    public Option<int> Queries { get; } = CliOptions.Int("--queries", "queries per collection in the int8 gate", 1, 1000, 25);
    public Option<int> MaxLength { get; } = CliOptions.Int("--max-length", "tokens per pair in the int8 gate", 8, 512, 256);
    public Option<bool> ProbeHead { get; } = new("--probe-head")
    {
        Description = "gate a cross-encoder built from this bi-encoder: its encoder and pooler with a one-label head trained (logistic regression) on held-out queries of the same data",
    };

    public static Int8GateOptions Create() => new();

    private static Option<string?> CreatePrecision()
    {
        var option = CliOptions.Text("--precision", "fp32|int8", "run the int8 accuracy gate (int8 against fp32) instead of the ONNX Runtime comparison");
        option.CompletionSources.Add("fp32", "int8");
        return option;
    }

    /// <summary>Adds the gate's options except --precision (quantize always runs the gate).</summary>
    public void AddDataOptions(Command command)
    {
        command.Add(Data);
        command.Add(Queries);
        command.Add(MaxLength);
    }

    public void AddTo(Command command)
    {
        command.Add(Precision);
        AddDataOptions(command);
        command.Add(ProbeHead);
    }

    public (string? Data, int Queries, int MaxLength) Read(ParseResult parse) => (parse.GetValue(Data), parse.GetValue(Queries), parse.GetValue(MaxLength));
}

/// <summary><c>verify --precision int8</c>: the int8 accuracy gate, int8 against fp32 on real reranking sets.</summary>
internal static class VerifyInt8Command
{
    /// <param name="ortInt8">Given by crossencoder-onnx: ONNX Runtime's own int8 against its fp32 on the same queries (onnx path,
    /// queries, tokenizer, max length) -> figures or null, and a note; reported next to the gate, never gated.</param>
    public static int Run(CliContext context, string precision, string? model, string? onnx, (string? Data, int Queries, int MaxLength) gate, bool json,
        Func<string, IReadOnlyList<RankingQuery>, ITextPairTokenizer, int, (PrecisionGateReport? Report, string Note)>? ortInt8 = null, bool probeHead = false)
    {
        if (precision is not ("int8" or "fp32")) throw new UsageException($"--precision must be fp32 or int8, not '{precision}'.");
        (string modelDirectory, onnx) = DefaultModel.ResolveWithOnnx(model, onnx, context.Error);
        if (!Directory.Exists(modelDirectory)) throw new CliException($"model folder '{modelDirectory}' does not exist.");
        var (queries, source) = GateData.Load(gate.Data, gate.Queries);
        string? probeFolder = null;
        if (probeHead)
        {
            if (precision != "int8") throw new UsageException("--probe-head goes with --precision int8.");
            var training = GateData.LoadHeldOut(gate.Data, gate.Queries);
            probeFolder = Path.Combine(Path.GetTempPath(), "crossencoder-probe-" + Guid.NewGuid().ToString("N"));
            ProbeHeadReport probe;
            try { probe = ProbeHead.Build(modelDirectory, probeFolder, training, gate.MaxLength); }
            catch (InvalidOperationException e)
            {
                if (Directory.Exists(probeFolder)) Directory.Delete(probeFolder, recursive: true);
                throw new CliException(e.Message);
            }
            context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"probe head: trained on {probe.TrainingQueries} held-out queries ({probe.TrainingPairs} pairs, {probe.Positives} relevant), balanced accuracy {probe.TrainingAccuracy:F3}; gating the cross-encoder {probeFolder}"));
            modelDirectory = probeFolder;
            onnx = null;
        }
        try
        {
            return RunGate(context, modelDirectory, onnx, queries, source, gate.MaxLength, json, ortInt8);
        }
        finally
        {
            if (probeFolder is not null) try { Directory.Delete(probeFolder, recursive: true); } catch (IOException) { }
        }
    }

    private static int RunGate(CliContext context, string modelDirectory, string? onnx, IReadOnlyList<RankingQuery> queries, string source, int maxLength, bool json,
        Func<string, IReadOnlyList<RankingQuery>, ITextPairTokenizer, int, (PrecisionGateReport? Report, string Note)>? ortInt8)
    {
        var report = PrecisionGate.Run(modelDirectory, modelDirectory, queries, maxLength);
        var tokenizer = TokenizerLoader.FromModelFolder(modelDirectory);
        (PrecisionGateReport? Report, string Note)? neighbour = ortInt8 is null ? null
            : IsCrossEncoder(modelDirectory) ? (null, "not measured: ONNX Runtime's int8 is compared on bi-encoder exports (last_hidden_state); this folder is a cross-encoder")
            : onnx is null ? (null, "not measured: give --onnx <the folder's ONNX export> for ONNX Runtime's int8 next to the gate")
            : ortInt8(onnx, queries, tokenizer, maxLength);
        Print(report, modelDirectory, source, json, context.Out, neighbour);
        return report.Pass ? 0 : 1;
    }

    /// <summary>True when the folder's config.json names a sequence classifier (what the ORT int8 comparison cannot run).</summary>
    private static bool IsCrossEncoder(string modelDirectory)
    {
        using var reranker = Native.Reranking.Reranker.Load(modelDirectory);
        return reranker.Kind == ModelKind.CrossEncoder;
    }

    internal static void Print(PrecisionGateReport report, string model, string source, bool json, TextWriter stdout, (PrecisionGateReport? Report, string Note)? ortInt8 = null)
    {
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new
            {
                model, data = source, queries = report.Queries, pairs = report.Pairs,
                spearman_mean = report.SpearmanMean, spearman_min = report.SpearmanMin, top10_overlap = report.Top10Overlap,
                max_abs_score_diff = report.MaxAbsScoreDiff, min_cosine = report.MinCosine,
                ndcg10_fp32 = report.Ndcg10Reference, ndcg10_int8 = report.Ndcg10Candidate, pass = report.Pass,
                ort_int8 = ortInt8 is not { } n ? null : n.Report is not { } o ? (object)new { note = n.Note } : new
                {
                    note = n.Note, queries = o.Queries, pairs = o.Pairs,
                    spearman_mean = o.SpearmanMean, spearman_min = o.SpearmanMin, top10_overlap = o.Top10Overlap,
                    max_abs_score_diff = o.MaxAbsScoreDiff, min_cosine = o.MinCosine, ndcg10_fp32 = o.Ndcg10Reference, ndcg10_int8 = o.Ndcg10Candidate,
                    meets_gate = o.Pass,
                },
            }, new JsonSerializerOptions { WriteIndented = true }));
            return;
        }
        var inv = CultureInfo.InvariantCulture;
        stdout.WriteLine($"int8 vs fp32: {report.Pairs} pairs in {report.Queries} queries from {source}; {model}");
        stdout.WriteLine(string.Create(inv, $"spearman mean {report.SpearmanMean:F4} (gate >= {PrecisionGate.MinSpearmanMean}), worst {report.SpearmanMin:F4}"));
        stdout.WriteLine(string.Create(inv, $"top-10 overlap {report.Top10Overlap:F4} (gate >= {PrecisionGate.MinTop10Overlap})"));
        stdout.WriteLine(string.Create(inv, $"max |score diff| {report.MaxAbsScoreDiff:E3}; min cosine {report.MinCosine:F5} (gate >= {PrecisionGate.MinCosine})"));
        if (report.Ndcg10Reference is { } a && report.Ndcg10Candidate is { } b)
            stdout.WriteLine(string.Create(inv, $"nDCG@10 (trec_eval ndcg_cut.10) fp32 {a:F4}, int8 {b:F4}, drop {a - b:F4} (gate <= {PrecisionGate.MaxNdcgDrop})"));
        stdout.WriteLine(report.Pass ? "pass" : "FAIL");
        if (ortInt8 is not { } neighbour) return;
        stdout.WriteLine($"neighbour, not gated: ONNX Runtime's own dynamic int8 vs ONNX Runtime fp32 on the same pairs ({neighbour.Note})");
        if (neighbour.Report is not { } ort) return;
        stdout.WriteLine(string.Create(inv, $"  spearman mean {ort.SpearmanMean:F4}, worst {ort.SpearmanMin:F4}; top-10 overlap {ort.Top10Overlap:F4}; max |score diff| {ort.MaxAbsScoreDiff:E3}; min cosine {ort.MinCosine:F5}"));
        if (ort.Ndcg10Reference is { } c && ort.Ndcg10Candidate is { } d)
            stdout.WriteLine(string.Create(inv, $"  nDCG@10 (trec_eval ndcg_cut.10) fp32 {c:F4}, int8 {d:F4}, drop {c - d:F4}"));
        stdout.WriteLine($"  ONNX Runtime's int8 {(ort.Pass ? "meets" : "does not meet")} the gate's thresholds");
    }
}

/// <summary>Where the gate's real text comes from: the IR root given with --data (Cranfield + MEDLINE), else the bundled sample.
/// Never a machine path: what the gate reads is always what the command line says.</summary>
internal static class GateData
{
    public static (IReadOnlyList<RankingQuery> Queries, string Source) Load(string? root, int queriesPerCollection)
    {
        if (root is null) return (IrCollections.FromSample(), "bundled IR sample (16 queries x 64 documents)");
        if (!Directory.Exists(root)) throw new CliException($"--data folder '{root}' does not exist.");
        return (IrCollections.Load(root, queriesPerCollection), root);
    }

    /// <summary>Queries the gate does not use, to train a probe head: the next <paramref name="queriesPerCollection"/> usable
    /// queries of each IR collection. The bundled sample has none to spare (the gate uses all 16), so it needs --data.</summary>
    public static IReadOnlyList<RankingQuery> LoadHeldOut(string? root, int queriesPerCollection)
    {
        if (root is null) throw new CliException("--probe-head needs held-out queries: give --data <IR root with cranfield/ and medline/> (the bundled sample is all used by the gate).");
        if (!Directory.Exists(root)) throw new CliException($"--data folder '{root}' does not exist.");
        return IrCollections.Load(root, queriesPerCollection, skip: queriesPerCollection);
    }
}

/// <summary><c>quantize</c>: writes an int8 model folder and measures it with the gate into quantization.json.</summary>
internal static class QuantizeCommand
{
    public static Command Create(CliContext context)
    {
        var model = CliOptions.Text("--model", "dir", "the fp32 model folder to quantize (model.safetensors, or model.safetensors.index.json and its shards; the output is one model.safetensors)", required: true);
        var output = CliOptions.Text("--out", "dir", "the int8 model folder to write (int8 weights + fp32 scales, quantization.json)", required: true);
        var overwrite = new Option<bool>("--overwrite") { Description = "replace the model in an --out folder that already holds one" };
        var gate = Int8GateOptions.Create();
        var command = new Command("quantize", "Write an int8 model folder and measure it with the int8 accuracy gate (figures in its quantization.json).") { model, output, overwrite };
        gate.AddDataOptions(command);
        CliHelp.SetExamples(command,
            "crossencoder quantize --model weights/all-MiniLM-L6-v2 --out weights/all-MiniLM-L6-v2-int8",
            "crossencoder quantize --model weights/my-reranker --out weights/my-reranker-int8 --data ../shared/ir --queries 25");
        command.SetAction(parse => Run(context, parse.GetValue(model)!, parse.GetValue(output)!, parse.GetValue(overwrite), gate.Read(parse)));
        return command;
    }

    private static int Run(CliContext context, string model, string output, bool overwrite, (string? Data, int Queries, int MaxLength) gate)
    {
        var stdout = context.Out;
        if (!Directory.Exists(model)) throw new CliException($"model folder '{model}' does not exist.");
        if (SameFolder(model, output)) throw new UsageException("--out must differ from --model.");
        if (!overwrite && HoldsModel(output))
            throw new CliException($"'{output}' already holds a model (model.safetensors or config.json); pass --overwrite to replace it.");
        long written = ModelQuantization.WriteQuantizedFolder(model, output, context.CancellationToken);
        long fp32Size = Directory.EnumerateFiles(model, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) && !File.Exists(Path.Combine(Path.GetDirectoryName(f)!, "trainer_state.json")))   // not train's checkpoint
            .Sum(f => new FileInfo(f).Length);
        long int8Size = Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

        var (queries, source) = GateData.Load(gate.Data, gate.Queries);
        var report = PrecisionGate.Run(model, output, queries, gate.MaxLength);
        File.WriteAllText(Path.Combine(output, "quantization.json"), JsonSerializer.Serialize(new
        {
            scheme = "weights: symmetric per output channel, int8 ([-127, 127]); activations: per token asymmetric 12-bit (16-bit lanes); word embeddings: per row 8-bit",
            source_model = Path.GetFullPath(model), fp32_bytes = fp32Size, int8_bytes = int8Size, size_ratio = (double)int8Size / fp32Size,
            data = source, queries = report.Queries, pairs = report.Pairs,
            spearman_mean = report.SpearmanMean, spearman_min = report.SpearmanMin, top10_overlap = report.Top10Overlap,
            max_abs_score_diff = report.MaxAbsScoreDiff, min_cosine = report.MinCosine,
            ndcg10_fp32 = report.Ndcg10Reference, ndcg10_int8 = report.Ndcg10Candidate, pass = report.Pass,
        }, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {output}: {int8Size / 1e6:F1} MB, {100.0 * int8Size / fp32Size:F1}% of the fp32 folder ({fp32Size / 1e6:F1} MB; weights {written / 1e6:F1} MB)"));
        VerifyInt8Command.Print(report, output, source, json: false, stdout);
        return report.Pass ? 0 : 1;
    }

    /// <summary>True when both paths name one folder, through symbolic links as well.</summary>
    private static bool SameFolder(string a, string b)
    {
        static string Resolve(string path)
        {
            string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
            return Directory.Exists(full) && new DirectoryInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target
                ? Path.TrimEndingDirectorySeparator(target.FullName) : full;
        }
        return string.Equals(Resolve(a), Resolve(b), StringComparison.Ordinal);
    }

    private static bool HoldsModel(string folder) =>
        Directory.Exists(folder) && (File.Exists(Path.Combine(folder, "model.safetensors")) || File.Exists(Path.Combine(folder, "config.json"))
                                     || File.Exists(Path.Combine(folder, "model.safetensors.index.json")));
}
