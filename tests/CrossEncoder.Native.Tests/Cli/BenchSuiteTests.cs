using System.Text.Json;
using CrossEncoder.Native.Model;
using CrossEncoder.Tools.Bench;
using Xunit;

namespace CrossEncoder.Native.Tests.Cli;

/// <summary>The <c>bench --suite</c> machinery: the JSON shape the issue fixes, the statistics, the workload fixture, and one
/// real (tiny) case on all-MiniLM-L6-v2 against ONNX Runtime. Timings themselves are never asserted.</summary>
[Collection("MiniLM")]
public class BenchSuiteTests(MiniLmFixture minilm)
{
    [Fact]
    public void JsonHasTheFieldsOfTheIssue()
    {
        var report = new BenchReport
        {
            Machine = new Dictionary<string, string> { ["cpu"] = "test cpu" },
            PeakOneCore = 100, PeakAllCores = 190,
            Gemm = [new GemmResult(128, 1152, 384, 1, "avx2", 85, 85)],
            Cases = [new BenchCaseResult("padded 1x128", 30, 20, new Dictionary<string, double> { ["ours_median_ms"] = 5 })],
        };
        using var json = JsonDocument.Parse(report.ToJson());
        var root = json.RootElement;
        Assert.Equal("test cpu", root.GetProperty("machine").GetProperty("cpu").GetString());
        Assert.Equal(190, root.GetProperty("peak_gflops").GetProperty("all_cores").GetDouble());
        Assert.Equal(100, root.GetProperty("peak_gflops").GetProperty("one_core").GetDouble());
        var gemm = root.GetProperty("gemm")[0];
        foreach (string field in new[] { "m", "n", "k", "threads", "gflops", "percent_of_peak" }) Assert.True(gemm.TryGetProperty(field, out _), field);
        var row = root.GetProperty("cases")[0];
        Assert.Equal("padded 1x128", row.GetProperty("case").GetString());
        Assert.Equal(1.5, row.GetProperty("ratio").GetDouble());   // ours / ORT throughput
        Assert.Equal(5, row.GetProperty("ours_median_ms").GetDouble());
        Assert.Contains("| padded 1x128 | 30.0 | 20.0 | 1.50 |", report.ToTable());
    }

    [Fact]
    public void CaseNamesAreTheIssuesAndStatisticsAreExact()
    {
        Assert.Equal(["padded 1x128", "padded 16x32", "padded 64x128", "padded 8x512", "workload input-order", "workload sorted", "latency 20x128"],
            BenchCases.All().Select(c => c.Name));
        Assert.Equal(2.5, BenchStatistics.Median([4, 1, 2, 3]));
        Assert.Equal(3, BenchStatistics.Median([5, 3, 1]));
        Assert.Equal(9.1, BenchStatistics.Percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), 12);
    }

    [Fact]
    public void Int8RowsCoverEveryCaseAgainstOursFp32OrtFp32AndOrtInt8()
    {
        var names = BenchCases.All().Select(c => c.Name).ToList();
        Assert.Equal(names.SelectMany(n => new[] { "int8 " + n, "int8-vs-fp32 " + n, "int8-vs-ort-int8 " + n }), BenchCases.Int8().Select(c => c.Name));
    }

    [Fact]
    public void AnInt8VersusOrtInt8RowTimesOursInt8OrtInt8AndOrtFp32()
    {
        var (query, documents) = BenchContext.DefaultWorkload();
        using var context = BenchContext.Open(minilm.ModelDirectory, minilm.OnnxPath, new BenchSettings(1, 0.05, query, documents, Int8: true));
        Assert.NotNull(context.OrtInt8);
        Assert.Contains("36 MatMuls", context.OrtInt8Note);
        var padded = new BenchCase("padded 2x16", c => BenchCases.PreparePadded(c, 2, 16), c => BenchCases.Padded(c, 2, 16));
        var result = BenchCases.VersusOrtInt8(context, padded);
        Assert.Equal("int8-vs-ort-int8 padded 2x16", result.Case);
        Assert.True(result.OursPerSecond > 0 && result.OrtPerSecond > 0 && result.Extra["ort_fp32_per_s"] > 0);
        Assert.Equal(result.OrtPerSecond / result.Extra["ort_fp32_per_s"], result.Extra["ort_int8_vs_fp32"], 12);
    }

    [Fact]
    public void TheWorkloadFixtureHasAHundredRealAbstracts()
    {
        var (query, documents) = BenchContext.DefaultWorkload();
        Assert.Equal("the crystalline lens in vertebrates, including humans.", query);
        Assert.Equal(100, documents.Length);
        Assert.All(documents, d => Assert.True(d.Length > 500, d));
    }

    [Fact]
    public void APaddedCaseRunsBothEnginesOnABiEncoderTurnedCrossEncoder()
    {
        var (query, documents) = BenchContext.DefaultWorkload();
        using var context = BenchContext.Open(minilm.ModelDirectory, minilm.OnnxPath, new BenchSettings(1, 0.05, query, documents));
        Assert.Equal(ModelKind.CrossEncoder, context.Reranker.Kind);
        var result = BenchCases.Padded(context, 2, 16);
        Assert.Equal("padded 2x16", result.Case);
        Assert.True(result.OursPerSecond > 0 && result.OrtPerSecond > 0);
    }

    [Fact]
    public void SuiteOptionsAreCheckedBeforeAnyWork()
    {
        var error = new StringWriter();
        Assert.Equal(2, CrossEncoder.Cli.OnnxCli.Run(["bench", "--docs", "x.txt"], new StringReader(""), new StringWriter(), error));
        Assert.Contains("--docs and --query belong to --suite", error.ToString());
        error = new StringWriter();
        Assert.Equal(2, CrossEncoder.Cli.OnnxCli.Run(["bench", "--suite", "--query", "q"], new StringReader(""), new StringWriter(), error));
        Assert.Contains("--docs and --query go together", error.ToString());
        error = new StringWriter();
        Assert.Equal(2, CrossEncoder.Cli.OnnxCli.Run(["bench", "--cases", "padded"], new StringReader(""), new StringWriter(), error));
        Assert.Contains("--cases belongs to --suite", error.ToString());
        error = new StringWriter();
        Assert.Equal(2, CrossEncoder.Cli.OnnxCli.Run(["bench", "--suite", "--cases", "int8-vs-ort-int8"], new StringReader(""), new StringWriter(), error));
        Assert.Contains("--cases 'int8-vs-ort-int8' matches no case (cases: padded 1x128,", error.ToString());   // needs --precision int8
        error = new StringWriter();
        Assert.Equal(2, CrossEncoder.Cli.OnnxCli.Run(["bench", "--modernbert", "some/folder"], new StringReader(""), new StringWriter(), error));
        Assert.Contains("--modernbert belongs to --suite", error.ToString());
        error = new StringWriter();
        string notAModel = Path.Combine(Path.GetTempPath(), "crossencoder-no-model-" + Guid.NewGuid().ToString("N"));
        Assert.Equal(1, CrossEncoder.Cli.OnnxCli.Run(["bench", "--suite", "--cases", "modernbert", "--modernbert", notAModel], new StringReader(""), new StringWriter(), error));
        Assert.Contains($"--modernbert '{notAModel}' is not a model folder (no config.json)", error.ToString());
    }
}
