using System.Text.Json;
using CrossEncoder.Native.Tests.Hub;
using Xunit;
using CliEntry = CrossEncoder.Cli.Cli;

namespace CrossEncoder.Evaluation.Tests.Cli;

/// <summary>The eval and convert-collection commands end to end, on the committed fixtures.</summary>
[Collection("EvalModel")]
public sealed class EvalCommandTests(EvalModelFixture model)
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliEntry.Run(args, TextReader.Null, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Json_has_the_documented_fields_and_run_files_chart_and_qrels_are_written()
    {
        string dir = Fixture.TemporaryDirectory();
        var (code, output, error) = Run("eval", "--data", Fixture.Beir, "--model", model.ModelDirectory, "--candidates", "5", "--json",
            "--cache", Path.Combine(dir, "cache"), "--run-out", Path.Combine(dir, "runs", "fx"), "--chart", Path.Combine(dir, "delta.svg"));
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(3, root.GetProperty("queries").GetInt32());
        foreach (string stage in new[] { "first_stage", "reranked" })
            foreach (string measure in new[] { "ndcg@10", "mrr@10", "recall@100", "map" })
                Assert.InRange(root.GetProperty(stage).GetProperty(measure).GetDouble(), 0, 1);
        Assert.InRange(root.GetProperty("p_value").GetDouble(), 0, 1);
        Assert.True(root.GetProperty("seconds").GetDouble() > 0);
        Assert.Equal(15, root.GetProperty("cost").GetProperty("rerank-fp32").GetProperty("pairs").GetInt32());

        Assert.Equal(3, File.ReadLines(Path.Combine(dir, "runs", "fx.bm25.trec")).Select(l => l.Split(' ')[0]).Distinct().Count());
        Assert.True(File.Exists(Path.Combine(dir, "runs", "fx.rerank-fp32.trec")));
        Assert.Equal(24, File.ReadLines(Path.Combine(dir, "runs", "fx.qrels")).Count());   // the 3 evaluated queries' judgments
        // The chart holds one bar per query: the reranked minus the first-stage nDCG@10 of the JSON, largest gain first.
        double[] expected = root.GetProperty("per_query").EnumerateArray()
            .Select(q => q.GetProperty("reranked_ndcg@10").GetDouble() - q.GetProperty("first_stage_ndcg@10").GetDouble()).OrderDescending().ToArray();
        var svg = System.Xml.Linq.XDocument.Load(Path.Combine(dir, "delta.svg"));   // well-formed XML
        double[] bars = svg.Descendants().Where(e => e.Name.LocalName == "rect" && (string?)e.Attribute("class") == "bar")
            .Select(e => double.Parse((string)e.Attribute("data-delta")!, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(expected.Length, bars.Length);
        for (int i = 0; i < bars.Length; i++) Assert.Equal(expected[i], bars[i], 12);
        Assert.Contains("chart: " + Path.Combine(dir, "delta.svg"), error);
        Assert.DoesNotContain("\r", error);   // no progress bar when stderr is not a terminal
    }

    [Fact]
    public void Table_shows_both_stages_and_the_cost_and_svg_charts_render()
    {
        string dir = Fixture.TemporaryDirectory();
        var (code, output, error) = Run("eval", "--data", Fixture.Beir, "--model", model.ModelDirectory, "--candidates", "3", "--queries", "2",
            "--cache", dir, "--chart", Path.Combine(dir, "delta.svg"));
        Assert.True(code == 0, error);
        Assert.Contains("2 queries with relevant judgments", output);
        Assert.Contains("rerank-fp32", output);
        foreach (string measure in new[] { "nDCG@10", "MRR@10", "Recall@100", "MAP", "pairs/s" }) Assert.Contains(measure, output);
        string svg = File.ReadAllText(Path.Combine(dir, "delta.svg"));
        Assert.Contains("<svg", svg);
        Assert.Contains("nDCG@10", svg);
    }

    [Fact]
    public void First_stage_only_and_run_file_first_stage()
    {
        string dir = Fixture.TemporaryDirectory();
        var (code, output, error) = Run("eval", "--data", Fixture.Beir, "--candidates", "0", "--json", "--cache", dir, "--run-out", Path.Combine(dir, "fx"));
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("reranked").ValueKind);
        double ndcg = json.RootElement.GetProperty("first_stage").GetProperty("ndcg@10").GetDouble();

        // The BM25 run written above, read back as a run-file first stage, gives the same measures.
        (code, output, error) = Run("eval", "--data", Fixture.Beir, "--first-stage", "run:" + Path.Combine(dir, "fx.bm25.trec"), "--candidates", "0", "--json");
        Assert.True(code == 0, error);
        using var again = JsonDocument.Parse(output);
        Assert.Equal(ndcg, again.RootElement.GetProperty("first_stage").GetProperty("ndcg@10").GetDouble(), 12);
    }

    [Theory]
    [InlineData(2, "--first-stage", "splade")]
    [InlineData(2, "--precision", "fp16")]
    [InlineData(2, "--candidates", "-1")]
    [InlineData(2, "--chart", "delta.gif")]
    [InlineData(2, "--chart", "delta.png")]
    [InlineData(2, "--k1", "x")]
    public void Bad_options_are_usage_errors(int expected, string option, string value)
    {
        var (code, _, error) = Run("eval", "--data", Fixture.Beir, option, value);
        Assert.Equal(expected, code);
        Assert.Contains(option, error);
        Assert.Single(error.Trim().Split('\n'), l => l.StartsWith("error:"));
    }

    [Fact]
    public void A_png_chart_is_refused_before_any_work_naming_the_svg_it_could_write()
    {
        string dir = Fixture.TemporaryDirectory();
        var (code, output, error) = Run("eval", "--data", Fixture.Beir, "--candidates", "3", "--cache", dir, "--chart", Path.Combine(dir, "delta.PNG"));
        Assert.Equal(2, code);
        Assert.Equal("", output);
        string line = Assert.Single(error.Trim().Split('\n'), l => l.StartsWith("error:"));
        Assert.Contains("charts are SVG", line);
        Assert.Contains(Path.Combine(dir, "delta.svg"), line);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));   // refused before the index was built
    }

    [Fact]
    public void Failures_are_one_line_errors_with_exit_code_1()
    {
        var (code, _, error) = Run("eval", "--data", Path.Combine(Fixture.TemporaryDirectory(), "missing"));
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", error);

        (code, _, error) = Run("eval", "--data", Fixture.Beir, "--first-stage", "run:" + Path.Combine(Fixture.TemporaryDirectory(), "none.trec"), "--candidates", "0");
        Assert.Equal(1, code);
        Assert.Contains("none.trec", error);
    }

    [Fact]
    public void Int8_reranks_next_to_fp32()
    {
        var (code, output, error) = Run("eval", "--data", Fixture.Beir, "--model", model.ModelDirectory, "--precision", "int8", "--candidates", "2", "--cache", Fixture.TemporaryDirectory(), "--json");
        Assert.True(code == 0, error);
        Assert.Contains("rerank-int8", output);
        Assert.Contains("rerank-fp32", output);
    }

    [Fact]
    public void Dense_first_stage_reads_a_tokenizer_json_bi_encoder_and_refuses_a_cross_encoder_in_one_line()
    {
        using var biEncoder = TinyModels.XlmRoberta();
        string cache = Fixture.TemporaryDirectory();
        var (code, output, error) = Run("eval", "--data", Fixture.Beir, "--first-stage", "dense", "--dense-model", biEncoder.Directory, "--candidates", "0",
            "--json", "--cache", cache);
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.Equal("dense", json.RootElement.GetProperty("first_stage_name").GetString());
        Assert.InRange(json.RootElement.GetProperty("first_stage").GetProperty("ndcg@10").GetDouble(), 0, 1);
        Assert.True(json.RootElement.GetProperty("cost").GetProperty("dense").GetProperty("tokens").GetInt64() > 50);
        Assert.Single(Directory.GetFiles(cache, "dense-*.f32"));
        Assert.Equal("", error);   // no reranker is run, so the default model is not prepared either

        using var crossEncoder = TinyModels.XlmRoberta(biEncoder: false);
        (code, _, error) = Run("eval", "--data", Fixture.Beir, "--first-stage", "dense", "--dense-model", crossEncoder.Directory, "--candidates", "0", "--cache", cache);
        Assert.Equal(1, code);
        Assert.Contains("cross-encoder", Assert.Single(error.Trim().Split('\n'), l => l.StartsWith("error: ")));
    }

    [Fact]
    public async Task Model_and_dense_model_take_Hub_names_with_token_and_offline_cache_as_rerank_does()
    {
        using var tiny = TinyModels.XlmRoberta();
        await using var hub = await FakeHub.StartAsync();
        hub.Publish("org/tiny-embed", tiny.Directory);
        hub.Publish("org/gated-embed", tiny.Directory, token: "hf_secret");
        using var environment = new HubEnvironment(hub.Endpoint, Fixture.TemporaryDirectory());
        string[] Eval(string model, string dense, params string[] extra) =>
            ["eval", "--data", Fixture.Beir, "--first-stage", "dense", "--dense-model", dense, "--model", model, "--candidates", "3", "--json",
             "--cache", Fixture.TemporaryDirectory("eval-hub"), .. extra];
        static string Measures(string output)
        {
            using var json = JsonDocument.Parse(output);
            return string.Join("\n", new[] { "first_stage", "reranked", "p_values", "per_query" }.Select(n => json.RootElement.GetProperty(n).GetRawText()));
        }

        var byFolder = Run(Eval(tiny.Directory, tiny.Directory));
        Assert.True(byFolder.Code == 0, byFolder.Err);
        var byName = Run(Eval("org/tiny-embed", "org/tiny-embed@main"));
        Assert.True(byName.Code == 0, byName.Err);
        Assert.Equal(Measures(byFolder.Out), Measures(byName.Out));
        Assert.Equal("org/tiny-embed", JsonDocument.Parse(byName.Out).RootElement.GetProperty("model").GetString());   // the name, not the cache path

        int requests = hub.Requests.Count;
        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
        var offline = Run(Eval("org/tiny-embed", "org/tiny-embed"));
        Assert.True(offline.Code == 0, offline.Err);
        Assert.Equal(Measures(byFolder.Out), Measures(offline.Out));
        Assert.Equal(requests, hub.Requests.Count);   // served from the huggingface_hub cache
        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", null);

        var gated = Run(Eval("org/gated-embed", "org/gated-embed"));
        Assert.Equal(1, gated.Code);
        Assert.StartsWith("error: org/gated-embed requires authentication", Assert.Single(gated.Err.Trim().Split('\n')));
        var withToken = Run(Eval("org/gated-embed", "org/gated-embed", "--token", "hf_secret"));
        Assert.True(withToken.Code == 0, withToken.Err);
        Assert.Equal(Measures(byFolder.Out), Measures(withToken.Out));
    }

    /// <summary>Points the HF_* variables at a fake Hub and a fresh cache for one test, and restores them after. (The only
    /// test in this assembly that reads them; the other model tests pass folders.)</summary>
    private sealed class HubEnvironment : IDisposable
    {
        private static readonly string[] Variables = ["HF_ENDPOINT", "HF_HUB_CACHE", "HF_HOME", "HF_HUB_OFFLINE", "HF_TOKEN"];
        private readonly Dictionary<string, string?> _saved = Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);

        public HubEnvironment(string endpoint, string home)
        {
            Environment.SetEnvironmentVariable("HF_ENDPOINT", endpoint);
            Environment.SetEnvironmentVariable("HF_HOME", home);   // no stray token file from this machine
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", Path.Combine(home, "cache"));
            Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", null);
            Environment.SetEnvironmentVariable("HF_TOKEN", null);
        }

        public void Dispose()
        {
            foreach (var (name, value) in _saved) Environment.SetEnvironmentVariable(name, value);
        }
    }

    [Fact]
    public void Convert_collection_writes_beir_layout()
    {
        string output = Fixture.TemporaryDirectory();
        var (code, stdout, error) = Run("convert-collection", "--input", Fixture.Raw("cranfield"), "--out", output);
        Assert.True(code == 0, error);
        Assert.Contains("cranfield: 4 documents, 4 queries (2 with relevant judgments), 12 judgments (10 relevant)", stdout);
        var data = CrossEncoder.Evaluation.Data.BeirDataset.Load(output);
        Assert.Equal(2, data.Qrels.For("3")["5"]);

        (code, _, error) = Run("convert-collection", "--input", Fixture.Beir, "--out", output);
        Assert.Equal(1, code);
        Assert.Contains("--collection", error);
        (code, _, _) = Run("convert-collection", "--input", Fixture.Raw("cisi"), "--out", output, "--collection", "trec");
        Assert.Equal(2, code);
    }
}
