using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using Xunit;

namespace CrossEncoder.Native.Tests.Reranking;

/// <summary>The Rerank API's contract on a small random cross-encoder: scores equal the model's own outputs, order, topK,
/// batching, threads, cancellation and argument errors.</summary>
public sealed class RerankerTests : IDisposable
{
    private static readonly string[] Documents =
    [
        "the wing lift in high speed flow",
        "",
        "blood cell data",
        "what is the heat of the plate ?",
        "shear flow in the boundary layer of a wing and the lift of the aircraft model in a high speed test",
        "a",
        "the wing",
    ];

    private readonly TinyBert _tiny = new(classifier: true);

    public void Dispose() => _tiny.Dispose();

    [Fact]
    public void ScoresAreTheSigmoidOfTheModelLogitForEachPairAndComeBackSorted()
    {
        using var reranker = Reranker.Load(_tiny.Directory);
        Assert.Equal(ModelKind.CrossEncoder, reranker.Kind);
        var results = reranker.Rerank("wing lift", Documents);

        Assert.Equal(Documents.Length, results.Count);
        Assert.Equal(Enumerable.Range(0, Documents.Length), results.Select(r => r.Index).Order());
        for (int i = 1; i < results.Count; i++) Assert.True(results[i - 1].Score >= results[i].Score);

        // Each score must equal the model run on that single pair, built independently of the reranker's batching.
        var model = BertModel.Load(_tiny.Directory);
        foreach (var result in results)
        {
            var pair = reranker.Tokenizer.EncodePair("wing lift", Documents[result.Index], reranker.ModelMaxLength);
            var workspace = model.CreateWorkspace(64, 1);
            workspace.Batch.Add(pair.InputIds, pair.TokenTypeIds);
            float logit = model.Forward(workspace)[0];
            Assert.Equal(logit, result.Logit, 1e-5f);
            Assert.Equal(1 / (1 + Math.Exp(-logit)), result.Score, 1e-6);
        }
    }

    [Fact]
    public void ResultsDoNotDependOnTheBatchBudget()
    {
        using var big = Reranker.Load(_tiny.Directory);
        using var small = Reranker.Load(_tiny.Directory, new RerankerOptions { MaxBatchTokens = 1, MaxBatchSequences = 1 });
        var a = big.Rerank("heat of a plate", Documents);
        var b = small.Rerank("heat of a plate", Documents);
        Assert.Equal(a.Select(r => r.Index), b.Select(r => r.Index));
        for (int i = 0; i < a.Count; i++) Assert.Equal(a[i].Logit, b[i].Logit, 1e-5f);
    }

    [Fact]
    public void TopKKeepsTheBestAndEmptyInputsAreHandled()
    {
        using var reranker = Reranker.Load(_tiny.Directory);
        var all = reranker.Rerank("wing", Documents);
        var top = reranker.Rerank("wing", Documents, topK: 3);
        Assert.Equal(all.Take(3), top);
        Assert.Equal(all, reranker.Rerank("wing", Documents, topK: 100));
        Assert.Empty(reranker.Rerank("wing", []));
        Assert.Single(reranker.Rerank("", [""]));   // empty strings are scored, not rejected
    }

    [Fact]
    public void LongPairsAreTruncatedAndSaySo()
    {
        using var reranker = Reranker.Load(_tiny.Directory);
        string longDocument = string.Join(' ', Enumerable.Repeat("the wing lift", 30));   // 90 word pieces > 40 positions
        var result = Assert.Single(reranker.Rerank("heat", [longDocument]));
        Assert.True(result.Truncation.Truncated);
        Assert.Equal(0, result.Truncation.QueryTokensRemoved);
        Assert.Equal(90 - (TinyBert.MaxPositions - 3 - 1), result.Truncation.DocumentTokensRemoved);
        var shorter = Assert.Single(reranker.Rerank("heat", [longDocument], options: new RerankOptions { MaxLength = 10 }));
        Assert.Equal(90 - (10 - 3 - 1), shorter.Truncation.DocumentTokensRemoved);
    }

    [Fact]
    public async Task BadArgumentsAreRejectedClearly()
    {
        using var reranker = Reranker.Load(_tiny.Directory);
        Assert.Throws<ArgumentNullException>(() => reranker.Rerank(null!, Documents));
        Assert.Throws<ArgumentNullException>(() => reranker.Rerank("q", null!));
        Assert.Contains("Document 1 is null", Assert.Throws<ArgumentNullException>(() => reranker.Rerank("q", ["a", null!])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Rerank("q", Documents, topK: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Rerank("q", Documents, options: new RerankOptions { MaxLength = 2 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Rerank("q", Documents, options: new RerankOptions { MaxLength = TinyBert.MaxPositions + 1 }));
        await Assert.ThrowsAsync<ArgumentNullException>(() => reranker.RerankAsync("q", null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => Reranker.Load(_tiny.Directory, new RerankerOptions { MaxBatchTokens = 0 }));
        Assert.Throws<DirectoryNotFoundException>(() => Reranker.Load(Path.Combine(_tiny.Directory, "missing")));
    }

    [Fact]
    public void AVocabularyLargerThanTheEmbeddingTableIsRejectedAtLoad()
    {
        File.AppendAllLines(Path.Combine(_tiny.Directory, "vocab.txt"), ["extra1", "extra2"]);
        var e = Assert.Throws<ModelFormatException>(() => Reranker.Load(_tiny.Directory));
        Assert.Contains($"{TinyBert.Vocabulary.Length + 2} tokens but the model's embedding table only {TinyBert.Vocabulary.Length} rows", e.Message);
    }

    [Fact]
    public async Task ACancelledTokenStopsWork()
    {
        using var reranker = Reranker.Load(_tiny.Directory);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => reranker.Rerank("q", Documents, cancellationToken: cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reranker.RerankAsync("q", Documents, cancellationToken: cancelled.Token));
    }

    [Fact]
    public async Task ManyThreadsGetTheSameAnswersAsOne()
    {
        using var reranker = Reranker.Load(_tiny.Directory, new RerankerOptions { MaxBatchTokens = 48, MaxBatchSequences = 3 });
        string[] queries = ["wing", "heat plate", "blood cell", "what is the lift", "speed of flow"];
        var expected = queries.Select(q => reranker.Rerank(q, Documents)).ToArray();
        var tasks = Enumerable.Range(0, 40).Select(i => reranker.RerankAsync(queries[i % queries.Length], Documents)).ToArray();
        var actual = await Task.WhenAll(tasks);
        for (int i = 0; i < actual.Length; i++) Assert.Equal(expected[i % queries.Length], actual[i]);
    }

    [Fact]
    public void ABiEncoderScoresByCosine()
    {
        using var tiny = new TinyBert(classifier: false);
        using var reranker = Reranker.Load(tiny.Directory);
        Assert.Equal(ModelKind.BiEncoder, reranker.Kind);
        var results = reranker.Rerank("wing lift", Documents);
        var model = BertModel.Load(tiny.Directory);
        float[] Embed(string text)
        {
            var encoded = reranker.Tokenizer.EncodeSingle(text, reranker.ModelMaxLength);
            var workspace = model.CreateWorkspace(64, 1);
            workspace.Batch.Add(encoded.InputIds, encoded.TokenTypeIds);
            return model.Forward(workspace).ToArray();
        }
        float[] query = Embed("wing lift");
        foreach (var result in results)
        {
            float[] doc = Embed(Documents[result.Index]);
            double dot = 0, nq = 0, nd = 0;
            for (int j = 0; j < query.Length; j++) { dot += query[j] * doc[j]; nq += query[j] * query[j]; nd += doc[j] * doc[j]; }
            Assert.Equal(dot / Math.Sqrt(nq * nd), result.Score, 1e-5);
        }
    }
}
