using System.Globalization;

namespace CrossEncoder.Tools.Bench;

// The decoder reranker cases (names start with "qwen", or "int8 qwen", so `--cases qwen` selects them): Qwen3-Reranker-
// 0.6B's shape (random weights unless --qwen names a folder) on one query's candidates, ours with and without the prefix
// cache against PyTorch (tools/peers/qwen3_torch.py, with and without --cache), and the resident size of the model. They
// are not in the default suite (BenchCases.Suite): at the real shape one query of 100 candidates is ~23 TFLOP without the
// cache, minutes per engine.
public static partial class BenchCases
{
    /// <summary>Candidates of one query in the <c>qwen rerank 1xN</c> rows.</summary>
    public static readonly int[] QwenCandidates = [20, 100];

    /// <summary>Every case <c>--cases</c> can select: the default suite and the opt-in <see cref="Qwen"/> rows.</summary>
    public static List<BenchCase> Selectable(bool int8) => [.. Suite(int8), .. Qwen(int8)];

    /// <summary>
    /// For each of <see cref="QwenCandidates"/>: <c>qwen rerank 1xN no-cache</c> (every candidate computed whole) and
    /// <c>qwen rerank 1xN</c> (the prefix computed once, as the Reranker does; its row also reports the cache's saving
    /// against the no-cache run), with <paramref name="int8"/> the same as <c>int8 qwen rerank ...</c> (ours int8 against
    /// the same PyTorch fp32 runs); then <c>qwen memory</c>.
    /// </summary>
    public static List<BenchCase> Qwen(bool int8 = false)
    {
        var cases = new List<BenchCase>();
        foreach (bool quantized in int8 ? new[] { false, true } : [false])
            foreach (int n in QwenCandidates)
                foreach (bool cached in new[] { false, true })
                    cases.Add(new BenchCase(QwenRowName(n, cached, quantized), c => PrepareQwen(c.Qwen, n, cached, quantized),
                        c => QwenRerank(c.Qwen, c.Settings, n, cached, quantized)));
        cases.Add(new BenchCase("qwen memory", _ => new PreparedCase(() => { }, () => { }, 1), c => QwenMemory(c.Qwen)));
        return cases;
    }

    private static string QwenRowName(int candidates, bool cached, bool int8) =>
        $"{(int8 ? "int8 " : "")}qwen rerank 1x{candidates}{(cached ? "" : " no-cache")}";

    /// <summary>One query's scoring on our side (the <c>Ort</c> call is empty: the peer runs in its own process).</summary>
    public static PreparedCase PrepareQwen(QwenBench bench, int candidates, bool cached, bool int8)
    {
        var model = int8 ? bench.Int8Model : bench.Model;
        var workload = bench.Workload(candidates);
        int longest = workload.Prefix.Length + workload.Suffixes.Max(s => s.Length);
        var workspace = model.CreateWorkspace(Math.Max(QwenBench.BatchTokens, longest), QwenBench.BatchSequences, longest);
        var logits = new float[candidates];
        return new PreparedCase(() => QwenBench.ScoreQuery(model, workspace, workload, cached, logits), () => { }, candidates);
    }

    /// <summary>
    /// One <c>qwen rerank 1xN</c> row: ours (<see cref="QwenBench.MeasureOurs"/>), then the peer on the same ids; ratio ours /
    /// peer candidates per second. The fp32 rows check the logits against the peer's within <see cref="QwenBench.LogitTolerance"/>
    /// (the int8 rows report the difference only). Extras: median call ms, tokens computed per second, GFLOP per call and
    /// per second (<see cref="QwenBench.Flops"/>) and % of the all-threads FMA peak (int8 rows also % of the integer peak),
    /// the peer's call ms, tokens/s and its own GFLOP/s, the largest logit difference. The cached row adds the cache's
    /// saving: the prefix's share of the candidates' tokens, the flops and the time saved against the no-cache run
    /// (ours, and the peer's when its no-cache run was made), and the largest difference between the two runs' logits.
    /// </summary>
    public static BenchCaseResult QwenRerank(QwenBench bench, BenchSettings settings, int candidates, bool cached, bool int8)
    {
        string name = QwenRowName(candidates, cached, int8);
        var workload = bench.Workload(candidates);
        int[] lengths = [.. workload.Suffixes.Select(s => s.Length)];
        int prefix = workload.Prefix.Length;
        var ours = bench.MeasureOurs(candidates, cached, int8, settings.Seconds);
        double perSecond = ours.PerSecond(candidates), callsPerSecond = perSecond / candidates;
        double flops = QwenBench.Flops(bench.Config, prefix, lengths, cached);
        var extra = new Dictionary<string, double>
        {
            ["ours_call_ms"] = 1000 * BenchStatistics.Median(ours.CallSeconds),
            ["ours_tokens_per_s"] = QwenBench.ComputedTokens(workload, cached) * callsPerSecond,
            ["gflop_per_call"] = flops / 1e9,
            ["gflops"] = flops * callsPerSecond / 1e9,
        };
        if (settings.PeakGflops > 0) extra["percent_of_peak"] = 100 * extra["gflops"] / settings.PeakGflops;
        if (int8 && settings.IntegerPeakGops > 0) extra["percent_of_integer_peak"] = 100 * extra["gflops"] / settings.IntegerPeakGops;
        if (cached)
        {
            var whole = bench.MeasureOurs(candidates, cached: false, int8, settings.Seconds);
            double prefixTokens = (double)candidates * prefix;
            extra["prefix_share_percent"] = 100 * prefixTokens / (prefixTokens + lengths.Sum());
            extra["flop_saving_percent"] = 100 * (1 - flops / QwenBench.Flops(bench.Config, prefix, lengths, cached: false));
            extra["time_saving_percent"] = 100 * (1 - whole.PerSecond(candidates) / perSecond);     // 1 - t(cached) / t(whole)
            extra["cache_vs_whole_max_diff"] = MaxDifference(ours.Logits, whole.Logits);
        }

        Settle();
        var peer = bench.RunPeer(candidates, cached, settings.Threads, settings.Seconds);
        if (peer.Failure is not null) return new BenchCaseResult(name, perSecond, double.NaN, extra, peer.Failure) { Peer = "none" };
        double difference = MaxDifference(ours.Logits, peer.Logits);
        extra["peer_call_ms"] = peer.CallMilliseconds;
        extra["peer_tokens_per_s"] = peer.TokensPerSecond;
        extra["peer_gflops"] = peer.GflopPerSecond;
        extra["max_logit_diff"] = difference;
        if (cached && bench.PeerRunIfDone(candidates, cached: false) is { } peerWhole)
            extra["peer_time_saving_percent"] = 100 * (1 - peerWhole.PerSecond / peer.PerSecond);
        string note = int8 ? "peer fp32 (the fp32 row's run)" : difference <= QwenBench.LogitTolerance ? "logits match the peer"
            : string.Create(CultureInfo.InvariantCulture, $"LOGITS DIFFER from the peer's by {difference:G3} (> {QwenBench.LogitTolerance})");
        return new BenchCaseResult(name, perSecond, peer.PerSecond, extra, note + peer.BlasNote) { Peer = "torch " + peer.Version };
    }

    /// <summary>
    /// The <c>qwen memory</c> row: what loading the model added to the process in fp32 and in int8 (the int8 model is loaded
    /// now if no int8 row did), MB of live managed memory after a full collection (the weights are managed arrays) and of
    /// working set; next to them the fp32 embedding table [V, H] (kept in both precisions: it is gathered, not multiplied)
    /// and 4 bytes x every parameter. No throughput, no peer.
    /// </summary>
    public static BenchCaseResult QwenMemory(QwenBench bench)
    {
        var config = bench.Config;
        _ = bench.Int8Model;
        var fp32 = bench.Fp32Memory;
        var int8 = bench.Int8Memory!.Value;
        long h = config.HiddenSize, width = (long)config.NumAttentionHeads * config.HeadDim;
        long perLayer = h * config.QueryKeyValueWidth + width * h + 3 * h * config.IntermediateSize + 2 * h + 2L * config.HeadDim;
        long parameters = config.VocabSize * h + config.NumHiddenLayers * perLayer + h;
        var extra = new Dictionary<string, double>
        {
            ["fp32_managed_mb"] = fp32.ManagedBytes / 1e6,
            ["fp32_working_set_mb"] = fp32.WorkingSetBytes / 1e6,
            ["int8_managed_mb"] = int8.ManagedBytes / 1e6,
            ["int8_working_set_mb"] = int8.WorkingSetBytes / 1e6,
            ["embedding_fp32_mb"] = 4.0 * config.VocabSize * h / 1e6,
            ["parameters_fp32_mb"] = 4.0 * parameters / 1e6,
        };
        return new BenchCaseResult("qwen memory", double.NaN, double.NaN, extra,
            string.Create(CultureInfo.InvariantCulture, $"MB a load added (V {config.VocabSize}); no throughput")) { Peer = "none" };
    }
}
