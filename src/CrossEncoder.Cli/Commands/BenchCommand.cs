using System.Diagnostics;
using CrossEncoder.Native.Model;
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
    public const string Usage = "crossencoder bench [--model <dir>] [--onnx <file>] [--suite [--docs <file> --query <text>] [--precision int8]] [--tokens N (128)] [--pairs N (64)] [--seconds S (5)] [--threads N (all cores)] [--json]";

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var cl = CommandLine.Parse(args, ["model", "onnx", "tokens", "pairs", "seconds", "threads", "docs", "query", "precision"], ["json", "suite"]);
        if (cl.Positionals.Count > 0) throw new UsageException($"unexpected argument '{cl.Positionals[0]}'.");
        int tokens = cl.Int("tokens", 3, 4096) ?? 128;
        int pairs = cl.Int("pairs", 1, 4096) ?? 64;
        int seconds = cl.Int("seconds", 1, 3600) ?? 5;
        int threads = cl.Int("threads", 1, 1024) ?? Environment.ProcessorCount;
        if (!cl.Flag("suite") && (cl.Value("docs") is not null || cl.Value("query") is not null)) throw new UsageException("--docs and --query belong to --suite.");
        if ((cl.Value("docs") is null) != (cl.Value("query") is null)) throw new UsageException("--docs and --query go together.");
        var (modelDirectory, onnx) = DefaultModel.ResolveWithOnnx(cl.Value("model"), cl.Value("onnx"), stderr);
        if (cl.Value("precision") is { } precision && (precision is not ("int8" or "fp32") || !cl.Flag("suite"))) throw new UsageException("--precision takes fp32 or int8, with --suite.");
        if (cl.Flag("suite")) return BenchSuiteCommand.Run(modelDirectory, onnx, threads, seconds, cl.Value("docs"), cl.Value("query"), cl.Flag("json"), stdout, stderr, int8: cl.Value("precision") == "int8");

        var bert = BertModel.Load(modelDirectory);
        if (tokens > bert.Config.MaxPositionEmbeddings) throw new UsageException($"--tokens {tokens} exceeds the model's limit of {bert.Config.MaxPositionEmbeddings}.");
        var (ids, types) = SyntheticPairs(pairs, tokens, bert.Config.VocabSize);

        var workspace = bert.CreateWorkspace(pairs * tokens, pairs);
        double ours = Measure(seconds, pairs, cancellationToken, () =>
        {
            workspace.Batch.Clear();
            for (int p = 0; p < pairs; p++) workspace.Batch.Add(ids.AsSpan(p * tokens, tokens), types.AsSpan(p * tokens, tokens));
            bert.Forward(workspace, null, cancellationToken);
        });

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
        if (cl.Flag("json"))
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
