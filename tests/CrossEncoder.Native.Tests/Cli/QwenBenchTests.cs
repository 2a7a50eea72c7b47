using CrossEncoder.Native.Model.Qwen;
using CrossEncoder.Native.Tests.Model.Qwen;
using CrossEncoder.Tools.Bench;
using Xunit;

namespace CrossEncoder.Native.Tests.Cli;

/// <summary>The decoder reranker rows of <c>bench --suite</c> (<c>--cases qwen</c>): their names and selection, the flop
/// count their GFLOP/s and cache saving divide by, and the rows run end to end on a tiny random checkpoint (the peer too
/// when /usr/bin/python3 has torch). Timings are never asserted.</summary>
public class QwenBenchTests(TinyQwenBench tiny) : IClassFixture<TinyQwenBench>
{

    [Fact]
    public void TheQwenRowsAreSelectableButNotInTheDefaultSuite()
    {
        string[] fp32 = ["qwen rerank 1x20 no-cache", "qwen rerank 1x20", "qwen rerank 1x100 no-cache", "qwen rerank 1x100", "qwen memory"];
        Assert.Equal(fp32, BenchCases.Qwen().Select(c => c.Name));
        Assert.Equal(["qwen rerank 1x20 no-cache", "qwen rerank 1x20", "qwen rerank 1x100 no-cache", "qwen rerank 1x100",
            "int8 qwen rerank 1x20 no-cache", "int8 qwen rerank 1x20", "int8 qwen rerank 1x100 no-cache", "int8 qwen rerank 1x100", "qwen memory"],
            BenchCases.Qwen(int8: true).Select(c => c.Name));
        Assert.DoesNotContain(BenchCases.Suite(int8: true), c => c.Name.Contains("qwen", StringComparison.Ordinal));
        Assert.Equal(fp32, BenchCases.Selectable(int8: false).Where(c => c.Name.Contains("qwen", StringComparison.Ordinal)).Select(c => c.Name));   // --cases qwen
    }

    [Fact]
    public void FlopsCountEveryComputedTokenAsTheEngineRunsThem()
    {
        var config = tiny.Bench.Config;
        int[] suffixes = [5, 1, 12];
        const int prefix = 7;
        Assert.Equal(TokenByToken(config, prefix, suffixes, cached: false), QwenBench.Flops(config, prefix, suffixes, cached: false), 6);
        Assert.Equal(TokenByToken(config, prefix, suffixes, cached: true), QwenBench.Flops(config, prefix, suffixes, cached: true), 6);
        // One candidate: the cache saves nothing but the prefix pass's last layer past its keys and values, which the
        // whole sequence computes only for its last token anyway.
        Assert.True(QwenBench.Flops(config, prefix, [5], cached: true) > QwenBench.Flops(config, prefix, [5], cached: false) * 0.99);
    }

    /// <summary>The flop count written out token by token and layer by layer: every layer computes each token's q|k|v; a
    /// token goes on (attention over position + 1 keys, o_proj, gate|up, down_proj) in every layer but the last, where only a
    /// scored sequence's last token does; a scored sequence then reads the two answer rows.</summary>
    private static double TokenByToken(QwenConfig config, int prefix, int[] suffixes, bool cached)
    {
        double h = config.HiddenSize, qkv = 2 * h * config.QueryKeyValueWidth, width = config.NumAttentionHeads * config.HeadDim;
        double rest = 2 * width * h + 6 * h * config.IntermediateSize;
        double total = 0;
        List<(int Begin, int End, bool Scored)> passes = cached ? [(0, prefix, false), .. suffixes.Select(s => (prefix, prefix + s, true))]
            : [.. suffixes.Select(s => (0, prefix + s, true))];
        foreach (var (begin, end, scored) in passes)
        {
            for (int layer = 0; layer < config.NumHiddenLayers; layer++)
                for (int position = begin; position < end; position++)
                {
                    total += qkv;
                    bool last = layer == config.NumHiddenLayers - 1;
                    if (!last || (scored && position == end - 1)) total += 4 * width * (position + 1) + rest;
                }
            if (scored) total += 4 * h;
        }
        return total;
    }

    [Fact]
    public void TheRerankRowRunsBothModesReportsTheSavingAndMatchesThePeer()
    {
        var bench = tiny.Bench;
        var settings = new BenchSettings(1, 0.01, "", [], PeakGflops: 100);
        var row = BenchCases.QwenRerank(bench, settings, 20, cached: true, int8: false);
        Assert.Equal("qwen rerank 1x20", row.Case);
        Assert.True(row.OursPerSecond > 0);
        foreach (string field in new[] { "ours_call_ms", "ours_tokens_per_s", "gflop_per_call", "gflops", "percent_of_peak", "prefix_share_percent",
            "flop_saving_percent", "time_saving_percent", "cache_vs_whole_max_diff" })
            Assert.True(row.Extra.ContainsKey(field), field);
        Assert.Equal(0, row.Extra["cache_vs_whole_max_diff"]);                      // the cache is exact (QwenModelTests)
        Assert.InRange(row.Extra["prefix_share_percent"], 15, 35);                 // 60 of ~260 tokens
        Assert.InRange(row.Extra["flop_saving_percent"], 10, row.Extra["prefix_share_percent"]);
        if (row.Peer == "none")
            Assert.StartsWith("no peer", row.Note);                                // no torch here: ours only, and why
        else
        {
            Assert.StartsWith("torch ", row.Peer);
            Assert.True(row.OrtPerSecond > 0 && row.Extra["peer_gflops"] > 0);
            Assert.True(row.Extra["max_logit_diff"] <= QwenBench.LogitTolerance, row.Note);
            Assert.StartsWith("logits match the peer", row.Note);
        }
    }

    [Fact]
    public void TheMemoryRowReportsWhatEachLoadAdded()
    {
        var row = BenchCases.QwenMemory(tiny.Bench);
        Assert.Equal("qwen memory", row.Case);
        Assert.True(double.IsNaN(row.OursPerSecond));
        Assert.Equal(4.0 * 10_000 * 64 / 1e6, row.Extra["embedding_fp32_mb"], 9);
        Assert.True(row.Extra["parameters_fp32_mb"] > row.Extra["embedding_fp32_mb"]);
        // Measured in a process where other tests allocate at the same time: present, not checked.
        foreach (string field in new[] { "fp32_managed_mb", "fp32_working_set_mb", "int8_managed_mb", "int8_working_set_mb" })
            Assert.True(row.Extra.ContainsKey(field), field);
    }

    [Fact]
    public void QwenOptionsAreCheckedBeforeAnyWork()
    {
        var error = new StringWriter();
        Assert.Equal(2, CrossEncoder.Cli.OnnxCli.Run(["bench", "--qwen", "some/folder"], new StringReader(""), new StringWriter(), error));
        Assert.Contains("--qwen belongs to --suite", error.ToString());
    }
}

/// <summary>Qwen3-Reranker's config shrunk (3 layers, H 64, 4 query / 2 key-value heads of 32, I 96) as the bench's random
/// checkpoint, with a vocabulary that holds Qwen's answer ids (yes 9693, no 2152), which the bench's tokenizer gives;
/// written once for the class and deleted after it.</summary>
public sealed class TinyQwenBench : IDisposable
{
    public QwenBench Bench { get; } = QwenBench.Open(null, threads: 1, QwenFolders.ShrunkQwen3(vocab: 10_000));

    public void Dispose() => Bench.Dispose();
}
