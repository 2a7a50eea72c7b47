using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using System.Text.Json;
using CrossEncoder.Cli.Commands;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Tokenization;
using CrossEncoder.Tools.Verification;
using CrossEncoder.Conversion.Verification;
using CrossEncoder.Native.Reranking.Verification;
using Xunit;

namespace CrossEncoder.Native.Tests.Verification;

/// <summary>
/// The int8 gate's neighbour: ONNX Runtime's own dynamic int8 against ORT fp32 on the gate's real queries, with the gate's
/// metrics; its fp32 side ranks exactly like our fp32 engine, and verify prints it in text and JSON beside the gate.
/// </summary>
[Collection("MiniLM")]
public class OrtInt8ComparisonTests(MiniLmFixture minilm)
{
    [Fact]
    public void OrtInt8IsMeasuredOnTheGatesRealQueriesAndItsFp32SideRanksLikeOurs()
    {
        var queries = IrCollections.FromSample(queries: 4, candidates: 16);
        var tokenizer = BertTokenizer.FromModelFolder(minilm.ModelDirectory);
        var report = OrtInt8Comparison.Run(minilm.OnnxPath, tokenizer, queries, maxLength: 128, threads: 2, out string note);

        Assert.NotNull(report);
        Assert.Contains("36 MatMuls in int8", note);
        Assert.Equal(64, report.Pairs);
        Assert.True(report.MaxAbsScoreDiff > 0, "ORT int8 scores identical to fp32 mean nothing was quantized");
        // Measured here (AVX2, ORT 1.31): Spearman mean 0.9868, worst 0.9824, top-10 overlap 1.0, min cosine 0.9891, max score
        // diff 0.031. Loose bands: a sanity check that ORT's int8 ranks like fp32 at all (a mis-scaled layer drops the cosine
        // to about 0.95, see OnnxDynamicQuantizerTests); the figures themselves are reported, never gated.
        Assert.InRange(report.SpearmanMean, 0.95, 1.0);
        Assert.InRange(report.Top10Overlap, 0.9, 1.0);
        Assert.InRange(report.MinCosine, 0.98, 1.0);

        // ORT fp32 through this path (padding, mean pooling, cosine) ranks like our fp32 engine: same nDCG@10.
        var fp32 = BertModel.Load(minilm.ModelDirectory, Precision.Fp32);
        var ours = PrecisionGate.Run(fp32, fp32, tokenizer, queries, maxLength: 128);
        Assert.NotNull(report.Ndcg10Reference);
        Assert.Equal(ours.Ndcg10Reference!.Value, report.Ndcg10Reference!.Value, 1e-9);
    }

    [Fact]
    public void VerifyPrintsTheNeighbourInTextAndJson()
    {
        var gate = new PrecisionGateReport(50, 1000, 0.9952, 0.9835, 0.984, 0.0258, 0.99238, 0.7374, 0.7380);
        var ort = new PrecisionGateReport(50, 1000, 0.9901, 0.95, 0.97, 0.031, 0.991, 0.7374, 0.7301);

        var json = new StringWriter();
        VerifyInt8Command.Print(gate, "m", "d", json: true, json, (ort, "36 MatMuls in int8"));
        using var document = JsonDocument.Parse(json.ToString());
        var root = document.RootElement;
        Assert.True(root.GetProperty("pass").GetBoolean());   // the gate is ours; the neighbour does not gate
        var neighbour = root.GetProperty("ort_int8");
        foreach (string field in new[] { "spearman_mean", "spearman_min", "top10_overlap", "max_abs_score_diff", "min_cosine", "ndcg10_fp32", "ndcg10_int8", "pairs", "note", "meets_gate" })
            Assert.True(neighbour.TryGetProperty(field, out _), field);
        Assert.Equal(0.9901, neighbour.GetProperty("spearman_mean").GetDouble());
        Assert.Equal(0.7301, neighbour.GetProperty("ndcg10_int8").GetDouble());
        Assert.False(neighbour.GetProperty("meets_gate").GetBoolean());   // Spearman 0.9901 < 0.995, nDCG drop 0.0073 > 0.005

        var text = new StringWriter();
        VerifyInt8Command.Print(gate, "m", "d", json: false, text, (ort, "36 MatMuls in int8"));
        Assert.Contains("ONNX Runtime's own dynamic int8 vs ONNX Runtime fp32", text.ToString());
        Assert.Contains("spearman mean 0.9901, worst 0.9500; top-10 overlap 0.9700", text.ToString());
        Assert.Contains("nDCG@10 (trec_eval ndcg_cut.10) fp32 0.7374, int8 0.7301, drop 0.0073", text.ToString());
        Assert.Contains("ONNX Runtime's int8 does not meet the gate's thresholds", text.ToString());
        Assert.EndsWith("pass", text.ToString().Split('\n').First(l => l.StartsWith("pass") || l.StartsWith("FAIL")).TrimEnd());

        json = new StringWriter();
        VerifyInt8Command.Print(gate, "m", "d", json: true, json, (null, "not measured: give --onnx"));
        using var unmeasured = JsonDocument.Parse(json.ToString());
        Assert.Equal("not measured: give --onnx", unmeasured.RootElement.GetProperty("ort_int8").GetProperty("note").GetString());
        Assert.False(unmeasured.RootElement.GetProperty("ort_int8").TryGetProperty("spearman_mean", out _));
    }
}
