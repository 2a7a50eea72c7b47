using System.CommandLine;
using System.Diagnostics;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tokenization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CrossEncoder.Cli.Commands;

/// <summary>
/// <c>bench</c>: forward-pass throughput in pairs per second on synthetic [CLS] q [SEP] d [SEP] inputs of a fixed length,
/// for this engine and, given <c>--onnx</c>, for ONNX Runtime on the same token ids in the same run. Token content does not
/// change the cost of a dense encoder, so random ids are a fair load. Tokenization is not timed.
/// </summary>
internal static class BenchCommand
{
    public static Command Create(CliContext context)
    {
        var model = CliOptions.Model("model folder to time; default: the offline all-MiniLM-L6-v2 (then --onnx defaults to the export it came from)");
        var onnx = CliOptions.Text("--onnx", "file", "an ONNX export of the same model, timed with ONNX Runtime on the same token ids");
        var tokens = CliOptions.Int("--tokens", "tokens per pair", 3, 4096, 128);
        var pairs = CliOptions.Int("--pairs", "pairs per batch", 1, 4096, 64);
        var seconds = CliOptions.Int("--seconds", "seconds to time each engine (after one warm-up batch)", 1, 3600, 5);
        var threads = CliOptions.Int("--threads", "ONNX Runtime intra-op threads (with --suite, this engine's threads too); default: all cores", 1, 1024);
        var json = CliOptions.Json();
        var suite = CliOptions.Flag("--suite", "run the whole suite: FMA peak, GEMM % of peak, padded batches, a 100-abstract rerank workload and 20 x 128 latency, ours / ORT interleaved in one process (see benchmarks/README.md)");
        var docs = CliOptions.Text("--docs", "file", "with --suite: the workload's documents, one per line (default: 100 committed MEDLINE abstracts); needs --query");
        var query = CliOptions.Text("--query", "text", "with --suite: the workload's query; needs --docs");
        var precision = CliOptions.Text("--precision", "fp32|int8", "with --suite: int8 adds int8 rows (ours int8 / ORT fp32, ours int8 / ours fp32, ours int8 / ORT's own dynamic int8) and integer GEMM rows");
        precision.CompletionSources.Add("fp32", "int8");
        var cases = CliOptions.Text("--cases", "text", "with --suite: only the cases whose name contains this text, e.g. int8-vs-ort-int8; qwen selects the decoder reranker rows, which the default suite leaves out (peak and GEMM rows still run)");
        var modernBert = CliOptions.Text("--modernbert", "dir", "with --suite: the ModernBERT folder the modernbert cases time (default: random weights at gte-reranker-modernbert-base's shape in a temporary folder); their peer is PyTorch under /usr/bin/python3");
        var qwen = CliOptions.Text("--qwen", "dir", "with --suite: the Qwen3 / Qwen2 reranker folder the qwen cases time (default: random weights at Qwen3-Reranker-0.6B's shape in a temporary folder); their peer is PyTorch under /usr/bin/python3");
        var training = CliOptions.Flag("--training", "time a training step (forward + backward of the trainable BERT, as `crossencoder train` runs it) against the inference forward of the same batch: pairs/s, the ratio and % of the FMA peak, at --tokens (128 and 256 without it)");
        var command = new Command("bench", "Measure pairs per second, side by side with ONNX Runtime in the same run.") { model, onnx, tokens, pairs, seconds, threads, json, suite, docs, query, precision, cases, modernBert, qwen, training };
        CliHelp.SetExamples(command,
            "crossencoder-onnx bench",
            "crossencoder-onnx bench --tokens 256 --pairs 32 --seconds 10 --json",
            "crossencoder-onnx bench --suite --seconds 8 --json",
            "crossencoder-onnx bench --suite --precision int8 --json",
            "crossencoder-onnx bench --suite --precision int8 --cases int8-vs-ort-int8 --seconds 2",
            "crossencoder-onnx bench --suite --cases modernbert --seconds 3",
            "crossencoder-onnx bench --suite --cases qwen --precision int8 --seconds 3",
            "crossencoder-onnx bench --training --pairs 16 --seconds 10");
        command.SetAction(parse => parse.GetValue(training)
            ? RunTraining(context, parse.GetValue(model), parse.Tokens.Any(t => t.Value == "--tokens") ? [parse.GetValue(tokens)] : [128, 256],
                parse.Tokens.Any(t => t.Value == "--pairs") ? parse.GetValue(pairs) : 16, parse.GetValue(seconds), parse.GetValue(json))
            : Run(context, parse.GetValue(model), parse.GetValue(onnx), parse.GetValue(tokens), parse.GetValue(pairs), parse.GetValue(seconds),
            parse.GetValue(threads) ?? Environment.ProcessorCount, parse.GetValue(json), parse.GetValue(suite), parse.GetValue(docs), parse.GetValue(query), parse.GetValue(precision),
            parse.GetValue(cases), parse.GetValue(modernBert), parse.GetValue(qwen)));
        return command;
    }

    /// <summary><c>bench --training</c>: training steps against inference forwards of the same batches, with the FMA peak.</summary>
    private static int RunTraining(CliContext context, string? model, int[] tokenCounts, int pairs, int seconds, bool json)
    {
        string modelDirectory = model is null ? DefaultModel.Ensure(context.Error, preferTrained: false, explainKind: false) : model;
        if (!Directory.Exists(modelDirectory)) throw new CliException($"model folder '{modelDirectory}' does not exist.");
        int threads = Environment.ProcessorCount;
        double peak = CrossEncoder.Tools.Bench.FmaPeak.Measure(threads);
        var results = tokenCounts.Select(t => CrossEncoder.Tools.Bench.TrainingBench.Run(modelDirectory, pairs, t, seconds, peak, context.CancellationToken)).ToArray();
        string cpu = $"{threads} cores, AVX-512F {System.Runtime.Intrinsics.X86.Avx512F.IsSupported}, FMA peak {peak:F1} GFLOP/s ({CrossEncoder.Tools.Bench.FmaPeak.Path})";
        if (json)
        {
            context.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(new { model = modelDirectory, machine = cpu, peak_gflops = Math.Round(peak, 1), cases = results }));
            return 0;
        }
        context.Out.WriteLine($"model {modelDirectory}: training step (forward + backward) vs inference forward, {pairs} pairs per batch; {cpu}");
        context.Out.WriteLine("  tokens  inference pairs/s  training pairs/s  step / forward  training GFLOP/s  % of peak");
        foreach (var r in results)
            context.Out.WriteLine($"  {r.Tokens,6}  {r.InferencePairsPerSecond,17:F1}  {r.TrainingPairsPerSecond,16:F1}  {r.StepOverInference,14:F2}  {r.TrainingGflops,16:F1}  {r.PercentOfPeak,8:F0} %");
        return 0;
    }

    private static int Run(CliContext context, string? model, string? onnxPath, int tokens, int pairs, int seconds, int threads, bool json,
        bool suite, string? docs, string? query, string? precision, string? cases = null, string? modernBert = null, string? qwen = null)
    {
        var stdout = context.Out;
        var cancellationToken = context.CancellationToken;
        if (!suite && (docs is not null || query is not null)) throw new UsageException("--docs and --query belong to --suite.");
        if ((docs is null) != (query is null)) throw new UsageException("--docs and --query go together.");
        var (modelDirectory, onnx) = DefaultModel.ResolveWithOnnx(model, onnxPath, context.Error);
        if (precision is not null && (precision is not ("int8" or "fp32") || !suite)) throw new UsageException("--precision takes fp32 or int8, with --suite.");
        if (cases is not null && !suite) throw new UsageException("--cases belongs to --suite.");
        if (modernBert is not null && !suite) throw new UsageException("--modernbert belongs to --suite.");
        if (qwen is not null && !suite) throw new UsageException("--qwen belongs to --suite.");
        if (suite) return BenchSuiteCommand.Run(modelDirectory, onnx, threads, seconds, docs, query, json, stdout, context.Error, int8: precision == "int8", cases, modernBert, qwen);

        // The public three-step API (Reranker.Forward on already tokenized pairs): the same forward passes Rerank runs.
        using var reranker = Reranker.Load(modelDirectory, new RerankerOptions { MaxBatchTokens = pairs * tokens, MaxBatchSequences = pairs });
        if (tokens > reranker.ModelMaxLength) throw new UsageException($"--tokens {tokens} exceeds the model's limit of {reranker.ModelMaxLength}.");
        var (ids, types) = SyntheticPairs(pairs, tokens, reranker.Description.VocabularySize);
        var sequences = Enumerable.Range(0, pairs).Select(p => new EncodedPair(ids[(p * tokens)..((p + 1) * tokens)], types[(p * tokens)..((p + 1) * tokens)], [], default)).ToArray();
        var outputs = new float[pairs * reranker.OutputSize];
        double ours = Measure(seconds, pairs, cancellationToken, () => reranker.Forward(sequences, outputs, cancellationToken));

        double? reference = null;
        if (onnx is not null)
        {
            using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            using var session = new InferenceSession(onnx, options);
            var shape = new[] { pairs, tokens };
            var feeds = new List<NamedOnnxValue>();
            foreach (string name in session.InputMetadata.Keys)
            {
                long[] data = name switch
                {
                    "input_ids" => ids.Select(i => (long)i).ToArray(),
                    "token_type_ids" => types.Select(i => (long)i).ToArray(),
                    "attention_mask" => Enumerable.Repeat(1L, ids.Length).ToArray(),
                    _ => throw new CliException($"the ONNX model has an input '{name}' this benchmark does not know how to fill."),
                };
                feeds.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(data, shape)));
            }
            reference = Measure(seconds, pairs, cancellationToken, () => { using var _ = session.Run(feeds); });
        }

        string cpu = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, AVX-512F {System.Runtime.Intrinsics.X86.Avx512F.IsSupported}";
        if (json)
        {
            stdout.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
            {
                model = modelDirectory, tokens, pairs, threads, machine = cpu,
                crossencoder_native_pairs_per_second = Math.Round(ours, 2),
                onnxruntime_pairs_per_second = reference is null ? (double?)null : Math.Round(reference.Value, 2),
                ratio_vs_onnxruntime = reference is null ? (double?)null : Math.Round(ours / reference.Value, 3),
            }));
        }
        else
        {
            stdout.WriteLine($"model {modelDirectory}: {pairs} pairs x {tokens} tokens per batch; {cpu}");
            stdout.WriteLine($"  CrossEncoder.Native  {ours,10:F1} pairs/s");
            if (reference is { } r)
            {
                stdout.WriteLine($"  ONNX Runtime         {r,10:F1} pairs/s  ({threads} intra-op threads)");
                stdout.WriteLine($"  ratio (ours / ORT)   {ours / r,10:F3}");
            }
        }
        return 0;
    }

    /// <summary>Pairs of exactly <paramref name="tokens"/> tokens: [CLS] a third query [SEP] the rest document [SEP].</summary>
    private static (int[] Ids, int[] Types) SyntheticPairs(int pairs, int tokens, int vocabSize)
    {
        const int cls = 101, sep = 102;   // BERT's uncased vocabulary; the ids only need to be valid for the timing.
        var random = new Random(1234);
        var ids = new int[pairs * tokens];
        var types = new int[pairs * tokens];
        int queryLength = Math.Max(1, (tokens - 3) / 3);
        for (int p = 0; p < pairs; p++)
        {
            var row = ids.AsSpan(p * tokens, tokens);
            for (int t = 0; t < tokens; t++) row[t] = random.Next(Math.Min(1000, vocabSize - 1), vocabSize);
            row[0] = Math.Min(cls, vocabSize - 1);
            row[Math.Min(queryLength + 1, tokens - 1)] = Math.Min(sep, vocabSize - 1);
            row[tokens - 1] = Math.Min(sep, vocabSize - 1);
            for (int t = queryLength + 2; t < tokens; t++) types[p * tokens + t] = 1;
        }
        return (ids, types);
    }

    /// <summary>Warms up once, then repeats <paramref name="run"/> for about <paramref name="seconds"/>; returns pairs per second.</summary>
    private static double Measure(int seconds, int pairsPerRun, CancellationToken cancellationToken, Action run)
    {
        run();
        var clock = Stopwatch.StartNew();
        int runs = 0;
        while (clock.Elapsed.TotalSeconds < seconds || runs < 3)
        {
            cancellationToken.ThrowIfCancellationRequested();
            run();
            runs++;
        }
        return runs * pairsPerRun / clock.Elapsed.TotalSeconds;
    }
}
