using System.Net.Http.Json;
using System.Text.Json;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Reranking.Verification;
using CrossEncoder.Native.Tests.Tokenization;
using CrossEncoder.Native.Tests.Verification;
using CrossEncoder.Server;
using Xunit;

namespace CrossEncoder.Native.Tests.Model.ModernBert;

/// <summary>
/// A ModernBERT reranker folder as a user has it (random weights of a shrunk gte-reranker-modernbert-base config, the real
/// ModernBERT tokenizer.json and tokenizer_config.json) through Reranker, the CLI, the server, quantize and the int8 gate.
/// Token ids are checked against Hugging Face tokenizers' ids (committed fixture), scores against the double reference.
/// </summary>
public sealed class ModernBertRerankingTests : IDisposable
{
    private const int Cls = 50281, Sep = 50282;
    private readonly string _folder;

    public ModernBertRerankingTests() => _folder = ModernBertFolders.CreateRerankerFolder();

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    private static (string Text, int[] Ids) Case(int index) => BpeFixtures.ModernBertCases[index];

    [Fact]
    public void ThePairIsTokenizedAsHuggingFaceDoesAndScoredAsTheReference()
    {
        var (query, queryIds) = Case(3);
        var (document, documentIds) = Case(10);
        using var reranker = Reranker.Load(_folder);
        Assert.Equal("modernbert", reranker.Description.Family);
        Assert.Equal(8192, reranker.ModelMaxLength);
        int[] ids = reranker.Tokenizer.EncodePair(query, document, reranker.ModelMaxLength).InputIds.ToArray();
        // HF's single-text ids are [CLS] a [SEP]; the pair template is [CLS] $A [SEP] $B [SEP].
        Assert.Equal([Cls, .. queryIds[1..^1], Sep, .. documentIds[1..^1], Sep], ids);

        var result = Assert.Single(reranker.Rerank(query, [document]));
        double logit = new NaiveModernBert(_folder).Classify(ids, out _)[0];
        Assert.Equal(logit, result.Logit, 1e-4);
        Assert.Equal(1 / (1 + Math.Exp(-logit)), result.Score, 1e-5);
    }

    [Fact]
    public void ALongDocumentIsReadPast512TokensAndStillMatchesTheReference()
    {
        string document = string.Join(" ", IrSample.Load().Take(12).Select(r => r.Document));
        using var reranker = Reranker.Load(_folder);
        int[] ids = reranker.Tokenizer.EncodePair("boundary layer heat transfer", document, reranker.ModelMaxLength).InputIds.ToArray();
        Assert.InRange(ids.Length, 600, 8192);   // not cut at BERT's 512
        var result = Assert.Single(reranker.Rerank("boundary layer heat transfer", [document]));
        double logit = new NaiveModernBert(_folder).Classify(ids, out _)[0];
        Assert.Equal(logit, result.Logit, 1e-4);
    }

    [Fact]
    public void TheCliRanksAsTheLibraryAndSaysWhichTransform()
    {
        string[] passages = IrSample.Load().Take(6).Select(r => r.Document).ToArray();
        var output = new StringWriter();
        var error = new StringWriter();
        int code = global::CrossEncoder.Cli.Cli.Run(["rerank", "--model", _folder, "--query", "wing lift", "--json", .. passages], new StringReader(""), output, error);
        Assert.True(code == 0, error.ToString());
        using var json = JsonDocument.Parse(output.ToString());
        Assert.Equal("sigmoid", json.RootElement.GetProperty("score_transform").GetString());
        using var reranker = Reranker.Load(_folder);
        var expected = reranker.Rerank("wing lift", passages);
        var ranked = json.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(expected.Select(r => r.Index), ranked.Select(r => r.GetProperty("index").GetInt32()));
        for (int i = 0; i < ranked.Length; i++) Assert.Equal(expected[i].Logit, ranked[i].GetProperty("logit").GetSingle(), 1e-5);
    }

    [Fact]
    public async Task TheServerServesIt()
    {
        string[] passages = IrSample.Load().Take(4).Select(r => r.Document).ToArray();
        var app = RerankServer.Build(new ServerOptions { ModelDirectory = _folder, Host = "127.0.0.1", Port = 0 });
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = RerankServer.Address(app), Timeout = TimeSpan.FromSeconds(60) };
            using var reranker = Reranker.Load(_folder);
            var expected = reranker.Rerank("wing lift", passages).ToDictionary(r => r.Index, r => r.Score);
            var info = JsonDocument.Parse(await client.GetStringAsync("/info")).RootElement;
            Assert.Contains("modernbert", info.GetRawText());
            var response = await client.PostAsJsonAsync("/v1/rerank", new { query = "wing lift", documents = passages, model = "m" });
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
            foreach (var hit in JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("results").EnumerateArray())
                Assert.Equal(expected[hit.GetProperty("index").GetInt32()], hit.GetProperty("relevance_score").GetDouble(), 1e-5);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public void AnIdentityActivationKeepsTheRawLogit()
    {
        string config = Path.Combine(_folder, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).TrimEnd().TrimEnd('}') + """, "sentence_transformers": {"activation_fn": "torch.nn.modules.linear.Identity"}}""");
        using var reranker = Reranker.Load(_folder);
        Assert.Equal(ScoreTransform.Identity, reranker.Description.ScoreTransform);
        Assert.All(reranker.Rerank("wing lift", ["lift of a wing", "blood cells"]), r => Assert.Equal(r.Logit, r.Score));
    }

    [Fact]
    public void EveryLinearLayerQuantizesAndTheInt8ModelPassesThroughTheGate()
    {
        string int8 = _folder + "-int8";
        try
        {
            ModelQuantization.WriteQuantizedFolder(_folder, int8);
            using (var file = global::CrossEncoder.Native.SafeTensors.SafeTensorsFile.Open(Path.Combine(int8, "model.safetensors")))
            {
                foreach (string name in (string[])["model.layers.0.attn.Wqkv.weight", "model.layers.1.attn.Wo.weight", "model.layers.2.mlp.Wi.weight", "model.layers.3.mlp.Wo.weight", "model.embeddings.tok_embeddings.weight"])
                    Assert.Equal(global::CrossEncoder.Native.SafeTensors.SafeTensorDType.I8, file.Tensors[name].DType);
                Assert.Equal(global::CrossEncoder.Native.SafeTensors.SafeTensorDType.F32, file.Tensors["classifier.weight"].DType);
                Assert.Equal(global::CrossEncoder.Native.SafeTensors.SafeTensorDType.F32, file.Tensors["model.layers.1.attn_norm.weight"].DType);
            }
            var samples = IrSample.Load();
            var queries = samples.GroupBy(r => (r.Collection, r.QueryId)).Take(4)
                .Select(g => new RankingQuery(g.First().Query, g.Select(r => r.Document).ToArray(), g.Select(r => r.Relevant ? 1 : 0).ToArray())).ToArray();
            var report = PrecisionGate.Run(_folder, int8, queries);
            Assert.True(report.Pairs >= 8);
            Assert.InRange(report.MaxAbsScoreDiff, 1e-9, 0.2);   // int8 really ran, and stayed close
            Assert.True(report.MinCosine > 0.98, $"min cosine {report.MinCosine}");
            // Loading the fp32 folder with Precision.Int8 computes the same as the quantized folder.
            using var fromFp32 = Reranker.Load(_folder, new RerankerOptions { Precision = Precision.Int8 });
            using var fromInt8 = Reranker.Load(int8, new RerankerOptions { Precision = Precision.Int8 });
            var a = fromFp32.Rerank("wing lift", queries[0].Documents.ToArray());
            var b = fromInt8.Rerank("wing lift", queries[0].Documents.ToArray());
            Assert.Equal(a.Select(r => r.Logit), b.Select(r => r.Logit));
        }
        finally
        {
            if (Directory.Exists(int8)) Directory.Delete(int8, recursive: true);
        }
    }
}
