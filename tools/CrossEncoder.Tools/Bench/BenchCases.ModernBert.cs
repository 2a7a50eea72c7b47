using System.Diagnostics;
using System.Globalization;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Tools.Bench;

// The ModernBERT cases (names start with "modernbert", so `--cases modernbert` selects them): gte-reranker-modernbert-base's
// shape (random weights unless --modernbert names a folder) on padded batches, ours against PyTorch (tools/peers/
// modernbert_torch.py, a child process per shape), and the attention kernel alone on one long sequence, local (window 64)
// against global, to show linear against quadratic growth.
public static partial class BenchCases
{
    /// <summary>(pairs, tokens) of the ModernBERT padded cases: a reranker's usual 512, a batch, long documents, the 8k limit.</summary>
    public static readonly (int Pairs, int Tokens)[] ModernBertShapes = [(1, 512), (64, 128), (8, 2048), (1, 8192)];

    /// <summary>Sequence lengths of the attention rows (one sequence, one layer's attention).</summary>
    public static readonly int[] ModernBertAttentionLengths = [2048, 4096, 8192];

    /// <summary>Every case of the suite in report order: BERT's (<see cref="All"/>), their int8 rows with <paramref name="int8"/>, then ModernBERT's.</summary>
    public static List<BenchCase> Suite(bool int8) => [.. All(), .. int8 ? Int8() : [], .. ModernBert(int8)];

    /// <summary>
    /// <c>modernbert padded BxT</c> for each of <see cref="ModernBertShapes"/>, <c>modernbert attention local|global T</c> for
    /// each of <see cref="ModernBertAttentionLengths"/>, and with <paramref name="int8"/> <c>int8 modernbert padded BxT</c>
    /// (ours int8 against the same PyTorch fp32 run).
    /// </summary>
    public static List<BenchCase> ModernBert(bool int8 = false)
    {
        var cases = ModernBertShapes.Select(s => new BenchCase($"modernbert padded {s.Pairs}x{s.Tokens}",
            c => PrepareModernBert(c, s.Pairs, s.Tokens, int8: false), c => ModernBertPadded(c, s.Pairs, s.Tokens, int8: false))).ToList();
        foreach (int t in ModernBertAttentionLengths)
            foreach (bool global in new[] { false, true })
                cases.Add(new BenchCase($"modernbert attention {(global ? "global" : "local")} {t}",
                    c => PrepareModernBertAttention(c, t, global), c => ModernBertAttention(c, t, global)));
        if (int8)
            cases.AddRange(ModernBertShapes.Select(s => new BenchCase($"int8 modernbert padded {s.Pairs}x{s.Tokens}",
                c => PrepareModernBert(c, s.Pairs, s.Tokens, int8: true), c => ModernBertPadded(c, s.Pairs, s.Tokens, int8: true))));
        return cases;
    }

    /// <summary>Our forward pass over B pairs of exactly T seeded random ids (the <c>Ort</c> call is empty: the peer runs in its own process).</summary>
    public static PreparedCase PrepareModernBert(BenchContext context, int pairs, int tokens, bool int8)
    {
        var bench = context.ModernBert;
        var model = int8 ? bench.Int8Model : bench.Model;
        var sequences = ModernBertPairs(pairs, tokens, model.Description.VocabularySize);
        var workspace = model.CreateWorkspace(pairs * tokens, pairs, tokens);
        return new PreparedCase(() =>
        {
            workspace.Batch.Clear();
            foreach (var (ids, types) in sequences) workspace.Batch.Add(ids, types);
            model.Forward(workspace);
        }, () => { }, pairs);
    }

    /// <summary>
    /// One <c>modernbert padded BxT</c> row: ours (a warm-up call whose logits are kept, then calls for the case's seconds, at
    /// least one), then the peer on the same ids; ratio ours / peer pairs per second. The peer's first-call logits must match
    /// ours within <see cref="ModernBertBench.LogitTolerance"/> (fp32 rows; the int8 rows report the difference only).
    /// Extras: median call ms of each, GFLOP/s and % of the all-threads FMA peak (<see cref="ModernBertBench.Flops"/>), the
    /// largest logit difference.
    /// </summary>
    public static BenchCaseResult ModernBertPadded(BenchContext context, int pairs, int tokens, bool int8)
    {
        var bench = context.ModernBert;
        var model = int8 ? bench.Int8Model : bench.Model;
        string name = $"{(int8 ? "int8 " : "")}modernbert padded {pairs}x{tokens}";
        var sequences = ModernBertPairs(pairs, tokens, model.Description.VocabularySize);
        var workspace = model.CreateWorkspace(pairs * tokens, pairs, tokens);
        float[] Call()
        {
            workspace.Batch.Clear();
            foreach (var (ids, types) in sequences) workspace.Batch.Add(ids, types);
            return model.Forward(workspace).ToArray();
        }
        float[] ours = Call();                                                     // warm-up; these logits are checked
        var times = TimeCalls(context.Settings.Seconds, () => Call());
        double oursPerSecond = times.Count * pairs / times.Sum();
        double flops = ModernBertBench.Flops(bench.Config, pairs, tokens);
        var extra = new Dictionary<string, double>
        {
            ["ours_call_ms"] = 1000 * BenchStatistics.Median(times),
            ["gflops"] = flops * oursPerSecond / pairs / 1e9,
        };
        if (context.Settings.PeakGflops > 0) extra["percent_of_peak"] = 100 * extra["gflops"] / context.Settings.PeakGflops;

        Settle();
        var peer = bench.RunPeer([.. sequences.SelectMany(s => s.Ids)], pairs, tokens, context.Settings.Threads, context.Settings.Seconds);
        if (peer.Failure is not null) return new BenchCaseResult(name, oursPerSecond, double.NaN, extra, peer.Failure) { Peer = "none" };
        double difference = MaxDifference(ours, peer.Logits);
        extra["peer_call_ms"] = peer.CallMilliseconds;
        extra["max_logit_diff"] = difference;
        string note = int8 ? "peer fp32 (the fp32 row's run)" : difference <= ModernBertBench.LogitTolerance ? "logits match the peer"
            : string.Create(CultureInfo.InvariantCulture, $"LOGITS DIFFER from the peer's by {difference:G3} (> {ModernBertBench.LogitTolerance})");
        note += peer.BlasNote;
        return new BenchCaseResult(name, oursPerSecond, peer.PerSecond, extra, note) { Peer = "torch " + peer.Version };
    }

    /// <summary>One layer's attention over a single sequence of <paramref name="tokens"/>: a seeded random [T, 3H] QKV and its [T, H] output.</summary>
    public static PreparedCase PrepareModernBertAttention(BenchContext context, int tokens, bool global)
    {
        var config = context.ModernBert.Config;
        int h = config.HiddenSize, heads = config.NumAttentionHeads, dh = config.HeadDim;
        var random = new Random(7);
        float[] qkv = new float[(long)tokens * 3 * h];                              // [T, 3H]: Q, K, V
        for (int i = 0; i < qkv.Length; i++) qkv[i] = (float)(random.NextDouble() * 2 - 1);
        float[] output = new float[(long)tokens * h];                              // [T, H]
        int[] starts = [0, tokens];
        int window = global ? Attention.Global : config.WindowRadius;
        var kernels = KernelCapabilities.Default with { MaxThreads = context.Settings.Threads };
        return new PreparedCase(() => Attention.MultiHeadBatch(qkv, 3 * h, starts, 1, output, firstTokenOnly: false, heads, dh,
            1f / MathF.Sqrt(dh), window, kernels), () => { }, 1);
    }

    /// <summary>
    /// One <c>modernbert attention local|global T</c> row: <c>Attention.MultiHeadBatch</c> alone (window
    /// <c>local_attention / 2</c> or <see cref="Attention.Global"/>), calls per second; no peer. Extras: median call ms, the
    /// keys each query sees, GFLOP/s (4 T keys H) and % of the all-threads FMA peak.
    /// </summary>
    public static BenchCaseResult ModernBertAttention(BenchContext context, int tokens, bool global)
    {
        var config = context.ModernBert.Config;
        var prepared = PrepareModernBertAttention(context, tokens, global);
        prepared.Ours();
        var times = TimeCalls(context.Settings.Seconds, prepared.Ours);
        int window = global ? int.MaxValue / 2 : config.WindowRadius;
        double flops = ModernBertBench.AttentionFlops(tokens, config.HiddenSize, window);
        var extra = new Dictionary<string, double>
        {
            ["ours_call_ms"] = 1000 * BenchStatistics.Median(times),
            ["keys"] = Math.Min(tokens, 2L * window + 1),
            ["gflops"] = flops * times.Count / times.Sum() / 1e9,
        };
        if (context.Settings.PeakGflops > 0) extra["percent_of_peak"] = 100 * extra["gflops"] / context.Settings.PeakGflops;
        return new BenchCaseResult($"modernbert attention {(global ? "global" : "local")} {tokens}", times.Count / times.Sum(), double.NaN, extra,
            "calls/s of one layer's attention kernel; no peer") { Peer = "none" };
    }

    /// <summary><see cref="SyntheticPairs"/> with every token type 0 (ModernBERT has no token types).</summary>
    internal static (int[] Ids, int[] Types)[] ModernBertPairs(int pairs, int tokens, int vocabSize) =>
        [.. SyntheticPairs(pairs, tokens, vocabSize).Select(p => (p.Ids, new int[tokens]))];

    /// <summary>Seconds of each call of <paramref name="call"/>, repeated for about <paramref name="seconds"/> (at least one call).</summary>
    internal static List<double> TimeCalls(double seconds, Action call)
    {
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        do
        {
            var clock = Stopwatch.StartNew();
            call();
            times.Add(clock.Elapsed.TotalSeconds);
        }
        while (total.Elapsed.TotalSeconds < seconds);
        return times;
    }

    /// <summary>max |a_i - b_i|, or infinity when the lengths differ.</summary>
    internal static double MaxDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) return double.PositiveInfinity;
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
        return max;
    }
}
