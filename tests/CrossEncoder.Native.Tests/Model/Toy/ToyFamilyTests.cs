using System.Net.Http.Json;
using System.Text.Json;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Reranking.Verification;
using CrossEncoder.Server;
using Xunit;

namespace CrossEncoder.Native.Tests.Model.Toy;

/// <summary>
/// A family added as a folder (this one) plus a weight-name map, registered with the loader and nothing else: it loads by
/// path, ranks through Reranker, the CLI and the server, quantizes, and runs through the int8 gate, with no line of
/// Reranker, server, CLI or eval knowing it.
/// </summary>
public class ToyFamilyTests
{
    private const double Tolerance = 1e-5;
    private static readonly string[] Passages = ["heat transfer in the boundary layer", "wing lift at low speed", "bananas are yellow", "the laminar boundary layer"];

    public ToyFamilyTests() => ToyFamily.Register();

    [Fact]
    public void RerankerScoresEqualTheReferenceComputedFromTheTensors()
    {
        using var toy = new ToyFolder();
        using var reranker = Reranker.Load(toy.Directory);
        Assert.Equal("toy", reranker.Description.Family);
        Assert.Equal(ModelKind.CrossEncoder, reranker.Kind);
        Assert.Equal(ToyFolder.MaxPositions, reranker.ModelMaxLength);
        var results = reranker.Rerank("boundary layer", Passages);
        Assert.Equal(Passages.Length, results.Count);
        foreach (var result in results)
        {
            var ids = reranker.Tokenizer.EncodePair("boundary layer", Passages[result.Index], reranker.ModelMaxLength).InputIds;
            double logit = toy.Logit(ids);
            Assert.Equal(logit, result.Logit, Tolerance);
            Assert.Equal(1 / (1 + Math.Exp(-logit)), result.Score, Tolerance);
        }
        Assert.True(results.Zip(results.Skip(1)).All(p => p.First.Score >= p.Second.Score));
    }

    [Fact]
    public void TheCliRanksWithIt()
    {
        using var toy = new ToyFolder();
        var output = new StringWriter();
        var error = new StringWriter();
        int code = global::CrossEncoder.Cli.Cli.Run(["rerank", "--model", toy.Directory, "--query", "boundary layer", "--json", .. Passages], new StringReader(""), output, error);
        Assert.True(code == 0, error.ToString());
        using var json = JsonDocument.Parse(output.ToString());
        using var reranker = Reranker.Load(toy.Directory);
        var expected = reranker.Rerank("boundary layer", Passages);
        var ranked = json.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("index").GetInt32()).ToArray();
        Assert.Equal(expected.Select(r => r.Index), ranked);
    }

    [Fact]
    public void AModelThatDeclaresAnIdentityActivationScoresWithTheRawLogitAndSaysSo()
    {
        // sentence-transformers' CrossEncoder activation in config.json: the family code never sees it; the folder does.
        using var toy = new ToyFolder();
        string config = Path.Combine(toy.Directory, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).TrimEnd().TrimEnd('}') + """, "sentence_transformers": {"activation_fn": "torch.nn.modules.linear.Identity"}}""");
        using var reranker = Reranker.Load(toy.Directory);
        Assert.Equal(ScoreTransform.Identity, reranker.Description.ScoreTransform);
        Assert.All(reranker.Rerank("boundary layer", Passages), r => Assert.Equal(r.Logit, r.Score));
        var output = new StringWriter();
        int code = global::CrossEncoder.Cli.Cli.Run(["rerank", "--model", toy.Directory, "--query", "boundary layer", "--json", .. Passages], new StringReader(""), output, new StringWriter());
        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(output.ToString());
        Assert.Equal("identity", json.RootElement.GetProperty("score_transform").GetString());
        foreach (var hit in json.RootElement.GetProperty("results").EnumerateArray())
            Assert.Equal(hit.GetProperty("logit").GetDouble(), hit.GetProperty("score").GetDouble());
    }

    [Fact]
    public async Task TheServerServesItOnEveryRerankRoute()
    {
        using var toy = new ToyFolder();
        var app = RerankServer.Build(new ServerOptions { ModelDirectory = toy.Directory, Host = "127.0.0.1", Port = 0 });
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = RerankServer.Address(app), Timeout = TimeSpan.FromSeconds(60) };
            using var reranker = Reranker.Load(toy.Directory);
            var expected = reranker.Rerank("boundary layer", Passages).ToDictionary(r => r.Index, r => r.Score);
            var info = JsonDocument.Parse(await client.GetStringAsync("/info")).RootElement;
            Assert.Equal("sigmoid", info.GetProperty("score_transform").GetString());
            var tei = await client.PostAsJsonAsync("/rerank", new { query = "boundary layer", texts = Passages });
            Assert.True(tei.IsSuccessStatusCode, await tei.Content.ReadAsStringAsync());
            foreach (var hit in JsonDocument.Parse(await tei.Content.ReadAsStringAsync()).RootElement.EnumerateArray())
                Assert.Equal(expected[hit.GetProperty("index").GetInt32()], hit.GetProperty("score").GetDouble(), Tolerance);
            foreach (string route in (string[])["/v1/rerank", "/v2/rerank"])
            {
                var response = await client.PostAsJsonAsync(route, new { query = "boundary layer", documents = Passages, model = "toy" });
                Assert.True(response.IsSuccessStatusCode, route + ": " + await response.Content.ReadAsStringAsync());
                foreach (var hit in JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("results").EnumerateArray())
                    Assert.Equal(expected[hit.GetProperty("index").GetInt32()], hit.GetProperty("relevance_score").GetDouble(), Tolerance);
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public void ItQuantizesAndRunsThroughTheInt8Gate()
    {
        using var toy = new ToyFolder();
        string output = Path.Combine(Path.GetTempPath(), "toy-int8-" + Guid.NewGuid().ToString("N"));
        try
        {
            ModelQuantization.WriteQuantizedFolder(toy.Directory, output);
            using (var file = global::CrossEncoder.Native.SafeTensors.SafeTensorsFile.Open(Path.Combine(output, "model.safetensors")))
            {
                Assert.Equal(global::CrossEncoder.Native.SafeTensors.SafeTensorDType.I8, file.Tensors["toy.layers.0.mixer.weight"].DType);
                Assert.Equal(global::CrossEncoder.Native.SafeTensors.SafeTensorDType.I8, file.Tensors["toy.embeddings.weight"].DType);
                Assert.Equal(global::CrossEncoder.Native.SafeTensors.SafeTensorDType.F32, file.Tensors["score.weight"].DType);
            }
            var queries = new[] { new RankingQuery("boundary layer", Passages, [1, 0, 0, 1]), new RankingQuery("wing lift", Passages, [0, 1, 0, 0]) };
            var report = PrecisionGate.Run(toy.Directory, output, queries);
            Assert.Equal(8, report.Pairs);
            Assert.InRange(report.MinCosine, 0.9, 1);
            Assert.InRange(report.MaxAbsScoreDiff, 1e-9, 0.5);   // int8 really ran, and stayed close
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        }
    }
}
