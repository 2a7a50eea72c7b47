using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Model;
using CrossEncoder.Tools.Reference;
using CrossEncoder.Tools.Verification;
using CrossEncoder.Conversion.Verification;
using CrossEncoder.Native.Reranking.Verification;
using Xunit;

namespace CrossEncoder.Native.Tests.Reranking;

/// <summary><see cref="Reranker.Embed(IReadOnlyList{string}, int?, CancellationToken)"/> on the real all-MiniLM-L6-v2 against ONNX Runtime.</summary>
[Collection("MiniLM")]
public class EmbedTests(MiniLmFixture minilm)
{
    /// <summary>Real texts of different lengths (one cut to 512 tokens), so batching reorders them and truncation is exercised.</summary>
    private static readonly string[] Texts = [.. FidelityCheck.DefaultPairs().Take(12).Select((p, i) => i % 3 == 0 ? p.Query : p.Document), "lift", ""];

    [Fact]
    public void EmbeddingsEqualOnnxRuntimesMeanPooledNormalizedOutputWithinThePooledBudget()
    {
        using var reranker = Reranker.Load(minilm.ModelDirectory, new RerankerOptions { MaxBatchTokens = 1024 });   // several batches
        float[][] embeddings = reranker.Embed(Texts);
        Assert.Equal(Texts.Length, embeddings.Length);
        Assert.Equal(384, reranker.EmbeddingSize);
        double worst = 0;
        for (int i = 0; i < Texts.Length; i++)
        {
            // ONNX Runtime on the same ids, batch of one, then sentence-transformers' mean pooling + L2 normalisation in double.
            var encoded = reranker.Tokenizer.EncodeSingle(Texts[i], reranker.ModelMaxLength);
            int t = encoded.Length;
            long[] ids = [.. encoded.InputIds.Select(v => (long)v)], types = [.. encoded.TokenTypeIds.Select(v => (long)v)], mask = [.. Enumerable.Repeat(1L, t)];
            var outputs = minilm.Reference.Run(ids, mask, types, 1, t);
            double[] expected = OnnxReference.MeanPoolNormalize(outputs[OnnxReference.LastHiddenState].Data, mask, 1, t, 384);
            Assert.Equal(384, embeddings[i].Length);
            for (int h = 0; h < 384; h++) worst = Math.Max(worst, Math.Abs(embeddings[i][h] - expected[h]));
        }
        Assert.True(worst <= FidelityCheck.PooledTolerance, $"max |diff| {worst:E3} exceeds the pooled budget {FidelityCheck.PooledTolerance:E0}");
    }

    [Fact]
    public async Task TheContiguousBlockTheAsyncCallAndRerankAgree()
    {
        using var reranker = Reranker.Load(minilm.ModelDirectory);
        string[] texts = ["how do wings produce lift", "An airfoil deflects air downward.", "Bananas are rich in potassium."];
        float[][] vectors = reranker.Embed(texts);
        var block = new float[texts.Length * reranker.EmbeddingSize + 5];
        reranker.Embed(texts, block);
        for (int i = 0; i < texts.Length; i++) Assert.Equal(vectors[i], block.AsSpan(i * 384, 384).ToArray());
        Assert.All(block[^5..], v => Assert.Equal(0f, v));
        Assert.Equal(vectors, await reranker.EmbedAsync(texts));

        // Rerank on a bi-encoder is the cosine of these same embeddings (unit length here, so the dot product).
        var hits = reranker.Rerank(texts[0], texts[1..]);
        foreach (var hit in hits)
        {
            double dot = 0;
            for (int h = 0; h < 384; h++) dot += (double)vectors[0][h] * vectors[hit.Index + 1][h];
            Assert.Equal(dot, hit.Score, 1e-5);
        }
        Assert.Equal(0, hits[0].Index);   // the airfoil passage answers the query
    }

    [Fact]
    public void BadCallsFailWithAClearException()
    {
        using var reranker = Reranker.Load(minilm.ModelDirectory);
        Assert.Empty(reranker.Embed([]));
        Assert.Throws<ArgumentNullException>(() => reranker.Embed(["a", null!]));
        Assert.Throws<ArgumentOutOfRangeException>(() => reranker.Embed(["a"], maxLength: 513));
        Assert.Throws<ArgumentException>(() => reranker.Embed(["a", "b"], new float[383 * 2]));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => reranker.Embed(["a"], cancellationToken: cancelled.Token));

        using var tiny = new TinyBert(classifier: true);
        using var crossEncoder = Reranker.Load(tiny.Directory);
        Assert.Equal(0, crossEncoder.EmbeddingSize);
        var error = Assert.Throws<InvalidOperationException>(() => crossEncoder.Embed(["a"]));
        Assert.Contains("cross-encoder", error.Message);
    }
}
