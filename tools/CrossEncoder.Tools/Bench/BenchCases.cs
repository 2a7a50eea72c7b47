using System.Diagnostics;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tokenization;
using Microsoft.ML.OnnxRuntime;

namespace CrossEncoder.Tools.Bench;

/// <summary>One row of the suite: <c>ratio</c> is always ours / peer throughput (higher is better); the peer is ONNX Runtime
/// unless <see cref="Peer"/> says otherwise (PyTorch for ModernBERT).</summary>
/// <param name="Case">Stable name, e.g. <c>padded 64x128</c>.</param>
/// <param name="OursPerSecond">Our median throughput (pairs per second).</param>
/// <param name="OrtPerSecond">The peer's throughput on the same ids (ONNX Runtime's median for the BERT cases); NaN when no peer ran.</param>
/// <param name="Extra">Case-specific numbers (e.g. <c>ours_median_ms</c>), written to the JSON as they are.</param>
/// <param name="Note">One line for the reader (e.g. why the peer did not run), or null.</param>
public sealed record BenchCaseResult(string Case, double OursPerSecond, double OrtPerSecond, IReadOnlyDictionary<string, double> Extra, string? Note = null)
{
    /// <summary>ours / peer (NaN without a peer).</summary>
    public double Ratio => OursPerSecond / OrtPerSecond;

    /// <summary>The engine in the peer column: <c>onnxruntime</c>, <c>torch 1.13.1</c>, or <c>none</c>.</summary>
    public string Peer { get; init; } = "onnxruntime";
}

/// <summary>One case's work, ready to time: one call of each engine over the same pairs.</summary>
/// <param name="Ours">One call of our engine.</param>
/// <param name="Ort">One call of ONNX Runtime on the same token ids.</param>
/// <param name="PairsPerCall">Pairs scored by one call.</param>
public sealed record PreparedCase(Action Ours, Action Ort, int PairsPerCall);

/// <summary>A named case: how to prepare its calls (also used by the BenchmarkDotNet suite) and how to time them.</summary>
/// <param name="Name">The <c>case</c> value in the JSON.</param>
/// <param name="Prepare">Builds the two calls (inputs encoded, workspaces and ORT feeds allocated).</param>
/// <param name="Run">Runs both engines interleaved and returns the medians.</param>
public sealed record BenchCase(string Name, Func<BenchContext, PreparedCase> Prepare, Func<BenchContext, BenchCaseResult> Run);

/// <summary>
/// The suite's cases. Each runs our engine and ONNX Runtime in alternating rounds in one process after a warm-up call of
/// each, and reports the median round: a neighbour process that takes a core for a while hurts both sides alike.
/// To add a case (e.g. an int8 variant), append to <see cref="All"/>.
/// </summary>
public static partial class BenchCases
{
    /// <summary>(pairs, tokens) of the padded cases.</summary>
    public static readonly (int Pairs, int Tokens)[] PaddedShapes = [(1, 128), (16, 32), (64, 128), (8, 512)];

    /// <summary>Every case, in report order.</summary>
    public static List<BenchCase> All()
    {
        var cases = PaddedShapes.Select(s => new BenchCase($"padded {s.Pairs}x{s.Tokens}", c => PreparePadded(c, s.Pairs, s.Tokens), c => Padded(c, s.Pairs, s.Tokens))).ToList();
        cases.Add(new BenchCase("workload input-order", c => PrepareWorkload(c, sorted: false), c => Workload(c, sorted: false)));
        cases.Add(new BenchCase("workload sorted", c => PrepareWorkload(c, sorted: true), c => Workload(c, sorted: true)));
        cases.Add(new BenchCase("latency 20x128", c => PrepareLatency(c, 20, 128), c => Latency(c, 20, 128)));
        return cases;
    }

    /// <summary>
    /// The int8 rows for every case of <see cref="All"/>: <c>int8 {case}</c> (ours int8 against ORT fp32, the case's own
    /// measurement on the int8 engine), <c>int8-vs-fp32 {case}</c> (ours int8 against ours fp32, interleaved throughput
    /// rounds; the ort_per_s column then holds ours fp32) and <c>int8-vs-ort-int8 {case}</c> (ours int8 against ONNX Runtime's
    /// own dynamic int8, with ORT fp32 interleaved in the same rounds: extras <c>ort_fp32_per_s</c> and
    /// <c>ort_int8_vs_fp32</c>, ORT's own int8 gain).
    /// </summary>
    public static List<BenchCase> Int8()
    {
        var cases = new List<BenchCase>();
        foreach (var c in All())
        {
            cases.Add(new BenchCase("int8 " + c.Name, ctx => c.Prepare(ctx.Int8View()), ctx => c.Run(ctx.Int8View()) with { Case = "int8 " + c.Name }));
            cases.Add(new BenchCase("int8-vs-fp32 " + c.Name, ctx => c.Prepare(ctx.Int8View()), ctx =>
            {
                var int8 = c.Prepare(ctx.Int8View());
                var fp32 = c.Prepare(ctx);
                var (a, b) = Interleave(ctx.Settings.Seconds, int8.PairsPerCall, int8.Ours, fp32.Ours);
                return new BenchCaseResult("int8-vs-fp32 " + c.Name, a, b, new Dictionary<string, double>());
            }));
            cases.Add(new BenchCase("int8-vs-ort-int8 " + c.Name, ctx => c.Prepare(ctx.OrtInt8View()), ctx => VersusOrtInt8(ctx, c)));
        }
        return cases;
    }

    /// <summary>
    /// One <c>int8-vs-ort-int8</c> row: ours int8, ORT int8 and ORT fp32 on the case's calls, in interleaved throughput rounds
    /// (the latency case too, so its row is pairs per second over rounds rather than a median call).
    /// </summary>
    public static BenchCaseResult VersusOrtInt8(BenchContext context, BenchCase c)
    {
        var int8 = c.Prepare(context.OrtInt8View());    // ours int8, ORT int8
        var fp32 = c.Prepare(context.Int8View());       // its Ort is ORT fp32 on the same ids
        var rates = Interleave(context.Settings.Seconds, int8.PairsPerCall, int8.Ours, int8.Ort, fp32.Ort);
        return new BenchCaseResult("int8-vs-ort-int8 " + c.Name, rates[0], rates[1], new Dictionary<string, double>
        {
            ["ort_fp32_per_s"] = rates[2],
            ["ort_int8_vs_fp32"] = rates[1] / rates[2],
        });
    }

    /// <summary>
    /// B pairs of exactly T tokens ([CLS] a third [SEP] the rest [SEP], seeded random ids: a dense encoder's cost does not
    /// depend on token content), no tokenization: our forward pass on the packed batch vs ORT on the same ids (no padding).
    /// </summary>
    public static BenchCaseResult Padded(BenchContext context, int pairs, int tokens)
    {
        var prepared = PreparePadded(context, pairs, tokens);
        var (ours, ort) = Interleave(context.Settings.Seconds, pairs, prepared.Ours, prepared.Ort);
        return new BenchCaseResult($"padded {pairs}x{tokens}", ours, ort, new Dictionary<string, double>());
    }

    /// <summary>The calls of <see cref="Padded"/>.</summary>
    public static PreparedCase PreparePadded(BenchContext context, int pairs, int tokens)
    {
        var model = context.Reranker.Model;
        var sequences = SyntheticPairs(pairs, tokens, model.Description.VocabularySize);
        var workspace = model.CreateWorkspace(pairs * tokens, pairs, tokens);
        var feeds = context.Ort.Batch(sequences);
        void Ours()
        {
            workspace.Batch.Clear();
            foreach (var (ids, types) in sequences) workspace.Batch.Add(ids, types);
            model.Forward(workspace);
        }
        return new PreparedCase(Ours, () => context.Ort.Run(feeds), pairs);
    }

    /// <summary>
    /// One query x the workload passages at max length 512: ours through <see cref="Reranker.Rerank"/> (tokenization, length
    /// bucketing and scoring included), ORT fed the same token ids (tokenized beforehand, not timed) in batches of 32 padded
    /// to the longest pair, in input order or sorted by length.
    /// </summary>
    public static BenchCaseResult Workload(BenchContext context, bool sorted)
    {
        var reranker = context.Reranker;
        var prepared = PrepareWorkload(context, sorted);
        var (ours, ort) = Interleave(context.Settings.Seconds, prepared.PairsPerCall, prepared.Ours, prepared.Ort);
        var pairs = Encode(reranker.Tokenizer, context.Settings.Query, context.Settings.Documents, Math.Min(512, reranker.ModelMaxLength));
        var lengths = pairs.Select(p => (double)p.Ids.Length).ToArray();
        return new BenchCaseResult(sorted ? "workload sorted" : "workload input-order", ours, ort, new Dictionary<string, double>
        {
            ["pairs"] = pairs.Length,
            ["median_tokens"] = BenchStatistics.Median(lengths),
            ["p90_tokens"] = BenchStatistics.Percentile(lengths, 0.9),
            ["max_tokens"] = lengths.Max(),
        });
    }

    /// <summary>
    /// Interactive search: one query x <paramref name="passages"/> workload passages cut to <paramref name="tokens"/>, single
    /// calls alternating between the engines; ours is <see cref="Reranker.Rerank"/> (tokenization included), ORT one padded
    /// batch of the same ids. Throughput is passages / median call time; median and p90 call times are in the extras.
    /// </summary>
    public static BenchCaseResult Latency(BenchContext context, int passages, int tokens)
    {
        var prepared = PrepareLatency(context, passages, tokens);
        int count = prepared.PairsPerCall;
        prepared.Ours();
        prepared.Ort();
        var ours = new List<double>();
        var ort = new List<double>();
        var total = Stopwatch.StartNew();
        while (ours.Count < 15 || total.Elapsed.TotalSeconds < context.Settings.Seconds)
        {
            Settle();
            var clock = Stopwatch.StartNew();
            prepared.Ours();
            ours.Add(clock.Elapsed.TotalMilliseconds);
            Settle();
            clock.Restart();
            prepared.Ort();
            ort.Add(clock.Elapsed.TotalMilliseconds);
        }
        double oursMedian = BenchStatistics.Median(ours), ortMedian = BenchStatistics.Median(ort);
        return new BenchCaseResult($"latency {count}x{tokens}", 1000 * count / oursMedian, 1000 * count / ortMedian,
            new Dictionary<string, double>
            {
                ["ours_median_ms"] = oursMedian,
                ["ours_p90_ms"] = BenchStatistics.Percentile(ours, 0.9),
                ["ort_median_ms"] = ortMedian,
                ["ort_p90_ms"] = BenchStatistics.Percentile(ort, 0.9),
                ["calls"] = ours.Count,
            });
    }

    /// <summary>The calls of <see cref="Workload"/>.</summary>
    public static PreparedCase PrepareWorkload(BenchContext context, bool sorted)
    {
        var reranker = context.Reranker;
        string query = context.Settings.Query;
        string[] documents = context.Settings.Documents;
        var options = new RerankOptions { MaxLength = Math.Min(512, reranker.ModelMaxLength) };
        var pairs = Encode(reranker.Tokenizer, query, documents, options.MaxLength!.Value);
        var order = Enumerable.Range(0, pairs.Length).ToArray();
        if (sorted) order = [.. order.OrderBy(i => pairs[i].Ids.Length)];
        var batches = order.Chunk(32).Select(chunk => context.Ort.Batch([.. chunk.Select(i => pairs[i])])).ToArray();
        return new PreparedCase(() => reranker.Rerank(query, documents, options: options), () => { foreach (var feeds in batches) context.Ort.Run(feeds); }, documents.Length);
    }

    /// <summary>The calls of <see cref="Latency"/>.</summary>
    public static PreparedCase PrepareLatency(BenchContext context, int passages, int tokens)
    {
        var reranker = context.Reranker;
        string query = context.Settings.Query;
        string[] documents = context.Settings.Documents.Take(passages).ToArray();
        var options = new RerankOptions { MaxLength = tokens };
        var feeds = context.Ort.Batch(Encode(reranker.Tokenizer, query, documents, tokens));
        return new PreparedCase(() => reranker.Rerank(query, documents, options: options), () => context.Ort.Run(feeds), documents.Length);
    }

    /// <summary>
    /// Alternates rounds of <paramref name="ours"/> and <paramref name="ort"/> (each round >= 0.25 s or one call) for about
    /// <paramref name="seconds"/> in all, at least three rounds each, after one warm-up call each; returns the median
    /// per-round throughput of each in <paramref name="unitsPerCall"/> per second.
    /// </summary>
    public static (double Ours, double Ort) Interleave(double seconds, int unitsPerCall, Action ours, Action ort)
    {
        var rates = Interleave(seconds, unitsPerCall, [ours, ort]);
        return (rates[0], rates[1]);
    }

    /// <summary>As the two-engine <see cref="Interleave(double, int, Action, Action)"/>, for any number of engines taking turns.</summary>
    public static double[] Interleave(double seconds, int unitsPerCall, params Action[] engines)
    {
        foreach (var run in engines) run();
        var rates = engines.Select(_ => new List<double>()).ToArray();
        var total = Stopwatch.StartNew();
        while (rates[0].Count < 3 || total.Elapsed.TotalSeconds < seconds)
            for (int e = 0; e < engines.Length; e++)
            {
                Settle();
                rates[e].Add(Round(engines[e], unitsPerCall));
            }
        return [.. rates.Select(BenchStatistics.Median)];
    }

    /// <summary>
    /// A pause before each engine's turn. ONNX Runtime's intra-op threads keep spinning after a run (allow_spinning, its
    /// default) and took cores from the engine timed right after them: measured on 2 Zen 2 cores, padded 16x32 ours 197/s
    /// next to ORT 229/s without the pause, 226/s next to 226/s with it. 50 ms lets the spinning threads park; neither
    /// engine is timed across it.
    /// </summary>
    internal static void Settle() => Thread.Sleep(50);

    private static double Round(Action run, int unitsPerCall)
    {
        var clock = Stopwatch.StartNew();
        int calls = 0;
        do
        {
            run();
            calls++;
        }
        while (clock.Elapsed.TotalSeconds < 0.25);
        return calls * unitsPerCall / clock.Elapsed.TotalSeconds;
    }

    private static (int[] Ids, int[] Types)[] Encode(ITextPairTokenizer tokenizer, string query, string[] documents, int maxLength)
    {
        int[] queryIds = tokenizer.EncodeToIds(query);
        return documents.Select(d =>
        {
            var pair = tokenizer.EncodePair(queryIds, tokenizer.EncodeToIds(d), maxLength, TruncationStrategy.LongestFirst);
            return (pair.InputIds.ToArray(), pair.TokenTypeIds.ToArray());
        }).ToArray();
    }

    /// <summary>Pairs of exactly <paramref name="tokens"/> tokens: [CLS] a third query [SEP] the rest document [SEP].</summary>
    public static (int[] Ids, int[] Types)[] SyntheticPairs(int pairs, int tokens, int vocabSize)
    {
        const int cls = 101, sep = 102;   // BERT's uncased vocabulary; the ids only need to be valid for the timing.
        var random = new Random(1234);
        int queryLength = Math.Max(1, (tokens - 3) / 3);
        var result = new (int[], int[])[pairs];
        for (int p = 0; p < pairs; p++)
        {
            var ids = new int[tokens];
            var types = new int[tokens];
            for (int t = 0; t < tokens; t++) ids[t] = random.Next(Math.Min(1000, vocabSize - 1), vocabSize);
            ids[0] = Math.Min(cls, vocabSize - 1);
            ids[Math.Min(queryLength + 1, tokens - 1)] = Math.Min(sep, vocabSize - 1);
            ids[tokens - 1] = Math.Min(sep, vocabSize - 1);
            for (int t = queryLength + 2; t < tokens; t++) types[t] = 1;
            result[p] = (ids, types);
        }
        return result;
    }
}
