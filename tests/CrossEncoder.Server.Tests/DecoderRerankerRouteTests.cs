using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using CrossEncoder.Conversion.Checkpoints;
using CrossEncoder.Native.Reranking;
using Xunit;

namespace CrossEncoder.Server.Tests;

/// <summary>
/// A decoder reranker behind every route: a random Qwen3-Reranker-shaped checkpoint (its real config shrunk, the real
/// vocabulary) with Qwen's real tokenizer files. /info names the scoring rule and the prompt; the <c>instruction</c> request
/// field reaches the prompt on all three routes, and each answer equals the library's scores with that instruction.
/// </summary>
public sealed class DecoderRerankerRouteTests
{
    private const string Query = "what is the lift of a wing";
    private static readonly string[] Documents = ["the wing produces lift from the pressure difference", "blood cells in the marrow", "heat transfer in a flat plate"];
    private const string Instruction = "Find aerodynamics abstracts";

    private static readonly Lazy<string> Folder = new(Build);

    private static string Build()
    {
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");   // linked from the Native tests' fixtures (csproj)
        var config = QwenCheckpoint.ReadConfig(Path.Combine(fixtures, "qwen", "Qwen3-Reranker-0.6B.config.json"));
        config["hidden_size"] = 64; config["num_attention_heads"] = 4; config["num_key_value_heads"] = 2; config["head_dim"] = 32;
        config["num_hidden_layers"] = 2; config["intermediate_size"] = 96; config["max_position_embeddings"] = 4096;
        string folder = Path.Combine(Path.GetTempPath(), $"crossencoder-server-tests-{Environment.ProcessId}", "Qwen3-Reranker-0.6B-random");
        QwenCheckpoint.Write(folder, config, seed: 7);
        string tokenizer = Path.Combine(fixtures, "qwen3-tokenizer");
        foreach (string name in (string[])["vocab.json", "merges.txt"])
        {
            using var gzip = new GZipStream(File.OpenRead(Path.Combine(tokenizer, name + ".gz")), CompressionMode.Decompress);
            using var file = File.Create(Path.Combine(folder, name));
            gzip.CopyTo(file);
        }
        File.Copy(Path.Combine(tokenizer, "tokenizer_config.json"), Path.Combine(folder, "tokenizer_config.json"), overwrite: true);
        return folder;
    }

    [Fact]
    public async Task InfoNamesTheRuleAndTheInstructionReachesThePromptOnEveryRoute()
    {
        using var library = Reranker.Load(Folder.Value);
        var plain = library.Rerank(Query, Documents).OrderBy(r => r.Index).ToArray();
        var instructed = library.Rerank(Query, Documents, options: new RerankOptions { Instruction = Instruction }).OrderBy(r => r.Index).ToArray();
        Assert.NotEqual(plain[0].Logit, instructed[0].Logit);

        await using var server = await RunningServer.StartAsync(new ServerOptions { ModelDirectory = Folder.Value });
        var info = await server.Client.GetFromJsonAsync<JsonElement>("/info");
        Assert.Equal("qwen3-reranker", info.GetProperty("prompt").GetString());
        Assert.Contains("logit(\"yes\") - logit(\"no\")", info.GetProperty("scoring_rule").GetString());

        async Task<Dictionary<int, float>> Scores(string route, object body, string array, string scoreField)
        {
            var response = await server.Client.PostAsJsonAsync(route, body);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var json = await response.Content.ReadFromJsonAsync<JsonElement>();
            var items = array.Length == 0 ? json : json.GetProperty(array);
            return items.EnumerateArray().ToDictionary(r => r.GetProperty("index").GetInt32(), r => r.GetProperty(scoreField).GetSingle());
        }

        foreach (var (expected, instruction) in new[] { (plain, (string?)null), (instructed, Instruction) })
        {
            var tei = await Scores("/rerank", new { query = Query, texts = Documents, raw_scores = true, instruction }, "", "score");
            var cohere = await Scores("/v2/rerank", new { query = Query, documents = Documents, instruction }, "results", "relevance_score");
            var jina = await Scores("/v1/rerank", new { query = Query, documents = Documents, instruction }, "results", "relevance_score");
            for (int i = 0; i < Documents.Length; i++)
            {
                Assert.Equal(expected[i].Logit, tei[i], 1e-5f);
                Assert.Equal(expected[i].Score, cohere[i], 1e-5f);
                Assert.Equal(expected[i].Score, jina[i], 1e-5f);
            }
        }

        var wrongType = await server.Client.PostAsJsonAsync("/rerank", new { query = Query, texts = Documents, instruction = 3 });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, wrongType.StatusCode);
    }
}
