using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Reranking.Verification;
using CrossEncoder.Native.Tests.Verification;
using Xunit;
using Xunit.Abstractions;

namespace CrossEncoder.Native.Tests.Model.Qwen;

/// <summary>Int8 for decoder rerankers through the existing scheme: every Qwen linear quantized, the accuracy gate run on its
/// prompted inputs (real IR text), a quantized folder written and loaded back to the same scores.</summary>
public sealed class QwenInt8Tests(ITestOutputHelper output)
{
    private static List<RankingQuery> Queries() => [.. IrSample.Load().GroupBy(s => (s.Collection, s.QueryId)).Take(6)
        .Select(g => new RankingQuery(g.First().Query, [.. g.Select(s => s.Document)], [.. g.Select(s => s.Relevant ? 1 : 0)]))];

    [Fact]
    public void TheGateRunsOnPromptedInputsAndInt8StaysCloseToFp32()
    {
        string folder = QwenFolders.Qwen3RerankerWithTokenizer;
        var report = PrecisionGate.Run(folder, folder, Queries(), maxLength: 256);
        output.WriteLine(System.Text.Json.JsonSerializer.Serialize(report));
        Assert.True(report.Pairs >= 12);
        Assert.True(report.SpearmanMean > 0.9, $"Spearman {report.SpearmanMean}");
        Assert.True(report.MinCosine > 0.99, $"head.hidden cosine {report.MinCosine}");

        using var fp32 = Reranker.Load(folder);
        using var int8 = Reranker.Load(folder, new RerankerOptions { Precision = Precision.Int8 });
        Assert.Equal(Precision.Int8, int8.Description.Precision);
        var model = (Native.Model.Qwen.QwenModel)int8.Model;
        Assert.Equal(7 * model.Config.NumHiddenLayers, model.QuantizableTensors.Count);   // q, k, v, o, gate, up, down of every layer
        var sample = IrSample.Load().Take(8).ToList();
        var a = fp32.Rerank(sample[0].Query, [.. sample.Select(s => s.Document)]).OrderBy(r => r.Index).ToArray();
        var b = int8.Rerank(sample[0].Query, [.. sample.Select(s => s.Document)]).OrderBy(r => r.Index).ToArray();
        Assert.NotEqual(a[0].Logit, b[0].Logit);                                              // int8 really ran

        string quantized = Path.Combine(Path.GetTempPath(), $"crossencoder-tests-{Environment.ProcessId}", "Qwen3-Reranker-int8");
        ModelQuantization.WriteQuantizedFolder(folder, quantized);
        using var fromFolder = Reranker.Load(quantized, new RerankerOptions { Precision = Precision.Int8 });
        var c = fromFolder.Rerank(sample[0].Query, [.. sample.Select(s => s.Document)]).OrderBy(r => r.Index).ToArray();
        Assert.Equal(b.Select(r => r.Logit), c.Select(r => r.Logit));
    }
}
