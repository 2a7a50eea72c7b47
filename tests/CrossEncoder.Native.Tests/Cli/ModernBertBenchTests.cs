using System.Text.Json;
using CrossEncoder.Native.Model.ModernBert;
using CrossEncoder.Tools.Bench;
using Xunit;

namespace CrossEncoder.Native.Tests.Cli;

/// <summary>The ModernBERT rows of <c>bench --suite</c> without timing anything: their names and selection, the flop count
/// their % of peak divides by, and how a row without a peer is written.</summary>
public class ModernBertBenchTests
{
    private static ModernBertConfig Gte() =>
        ModernBertConfig.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "modernbert", "gte-reranker-modernbert-base.config.json"));

    [Fact]
    public void FlopsCountTheLinearsOnEveryTokenAndAttentionOverTheKeysEachLayerSees()
    {
        var config = Gte();
        Assert.Equal(8, config.GlobalLayers.Count(g => g));                        // layers 0, 3, ..., 21 of 22
        // Per layer Wqkv 3H^2 + Wo H^2 + Wi 2IH + Wo IH = 5,013,504 weights; 22 layers = 110,297,088.
        // 1 x 512: 2 x 110,297,088 x 512, + 8 global layers x 4 x 512 x 512 x 768, + 14 local x 4 x 512 x 129 x 768,
        // + the head's dense and classifier on the one pooled row.
        double expected = 2.0 * 110_297_088 * 512 + 8 * 4.0 * 512 * 512 * 768 + 14 * 4.0 * 512 * 129 * 768 + 2.0 * (768 * 768 + 768);
        Assert.Equal(expected, ModernBertBench.Flops(config, 1, 512));
        Assert.Equal(122_228_442_624, ModernBertBench.Flops(config, 1, 512));
        // Shorter than the window: a local layer sees every key, so the cost is the same as all-global.
        double allKeys = 2.0 * 110_297_088 * 64 * 100 + 22 * 4.0 * 64 * 100 * 100 * 768 + 2.0 * 64 * (768 * 768 + 768);
        Assert.Equal(allKeys, ModernBertBench.Flops(config, 64, 100));
        // One layer's attention on 8192 tokens: global 8192 keys per query, local 129.
        Assert.Equal(4.0 * 8192 * 8192 * 768, ModernBertBench.AttentionFlops(8192, 768, int.MaxValue / 2));
        Assert.Equal(4.0 * 8192 * 129 * 768, ModernBertBench.AttentionFlops(8192, 768, config.WindowRadius));
    }

    [Fact]
    public void TheModernBertRowsAreInTheSuiteAndSelectedByName()
    {
        string[] fp32 =
        [
            "modernbert padded 1x512", "modernbert padded 64x128", "modernbert padded 8x2048", "modernbert padded 1x8192",
            "modernbert attention local 2048", "modernbert attention global 2048", "modernbert attention local 4096",
            "modernbert attention global 4096", "modernbert attention local 8192", "modernbert attention global 8192",
        ];
        Assert.Equal(fp32, BenchCases.ModernBert().Select(c => c.Name));
        Assert.Equal([.. fp32, "int8 modernbert padded 1x512", "int8 modernbert padded 64x128", "int8 modernbert padded 8x2048", "int8 modernbert padded 1x8192"],
            BenchCases.ModernBert(int8: true).Select(c => c.Name));
        var suite = BenchCases.Suite(int8: false).Select(c => c.Name).ToList();
        Assert.Equal([.. BenchCases.All().Select(c => c.Name), .. fp32], suite);
        Assert.Equal(fp32, suite.Where(n => n.Contains("modernbert", StringComparison.Ordinal)));   // what --cases modernbert keeps
        Assert.DoesNotContain(BenchCases.Suite(int8: true), c => c.Name.Contains("int8-vs", StringComparison.Ordinal) && c.Name.Contains("modernbert", StringComparison.Ordinal));
    }

    [Fact]
    public void ARowWithoutAPeerWritesNullsAndSaysWhy()
    {
        var report = new BenchReport
        {
            Machine = new Dictionary<string, string> { ["cpu"] = "test cpu" },
            PeakOneCore = 100, PeakAllCores = 190, Gemm = [],
            Cases =
            [
                new BenchCaseResult("modernbert padded 1x512", 2.5, double.NaN, new Dictionary<string, double> { ["gflops"] = 150 },
                    "no peer: /usr/bin/python3 not found") { Peer = "none" },
                new BenchCaseResult("modernbert padded 64x128", 3, 2, new Dictionary<string, double> { ["max_logit_diff"] = 2.5e-6 }, "logits match the peer") { Peer = "torch 1.13.1" },
            ],
        };
        using var json = JsonDocument.Parse(report.ToJson());
        var missing = json.RootElement.GetProperty("cases")[0];
        Assert.Equal(JsonValueKind.Null, missing.GetProperty("ort_per_s").ValueKind);
        Assert.Equal(JsonValueKind.Null, missing.GetProperty("ratio").ValueKind);
        Assert.Equal(2.5, missing.GetProperty("ours_per_s").GetDouble());
        Assert.Equal("none", missing.GetProperty("peer").GetString());
        Assert.Contains("python3 not found", missing.GetProperty("note").GetString());
        var torch = json.RootElement.GetProperty("cases")[1];
        Assert.Equal(1.5, torch.GetProperty("ratio").GetDouble());
        Assert.Equal("torch 1.13.1", torch.GetProperty("peer").GetString());
        Assert.Equal(2.5e-6, torch.GetProperty("max_logit_diff").GetDouble(), 12);   // small extras keep their digits
        string table = report.ToTable();
        Assert.Contains("| modernbert padded 1x512 | 2.5 | n/a | n/a | peer none, gflops 150, no peer: /usr/bin/python3 not found |", table);
        Assert.Contains("| modernbert padded 64x128 | 3.0 | 2.0 | 1.50 | peer torch 1.13.1, max_logit_diff 2.5E-06, logits match the peer |", table);
    }

    [Fact]
    public void LogitDifferenceIsTheLargestAbsoluteGapAndInfiniteOnAShapeMismatch()
    {
        Assert.Equal(0.5, BenchCases.MaxDifference([1f, 2f, 3f], [1f, 2.5f, 2.75f]));
        Assert.Equal(double.PositiveInfinity, BenchCases.MaxDifference([1f], [1f, 2f]));
        Assert.True(double.IsNaN(BenchCases.MaxDifference([1f], [float.NaN])));
    }
}
