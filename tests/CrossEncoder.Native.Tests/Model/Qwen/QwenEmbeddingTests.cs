using System.Text.Json.Nodes;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tests.Tokenization;
using CrossEncoder.Native.Tests.Verification;
using Xunit;

namespace CrossEncoder.Native.Tests.Model.Qwen;

/// <summary>
/// Qwen3-Embedding through the same decoder modules: a bare Qwen3Model with Qwen3-Embedding-0.6B's real sentence-transformers
/// files (Transformer -> Pooling(lasttoken) -> Normalize, the query prompt in config_sentence_transformers.json), its hidden
/// size shrunk. Each embedding is the double reference's final-norm last-token row, normalised; queries get the prompt.
/// </summary>
public sealed class QwenEmbeddingTests
{
    private static readonly Lazy<string> Folder = new(() =>
    {
        var config = QwenFolders.ShrunkQwen3(vocab: 151669);
        config["max_position_embeddings"] = 32768;
        string folder = QwenFolders.Write("Qwen3-Embedding-0.6B-random", config, seed: 41, bareModel: true);
        string source = Path.Combine(QwenFolders.FixtureFolder, "Qwen3-Embedding-0.6B");
        foreach (string file in (string[])["modules.json", "config_sentence_transformers.json"])
            File.Copy(Path.Combine(source, file), Path.Combine(folder, file), overwrite: true);
        Directory.CreateDirectory(Path.Combine(folder, "1_Pooling"));
        var pooling = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(source, "1_Pooling", "config.json")))!;
        pooling["word_embedding_dimension"] = 64;                                   // the shrunk hidden size
        File.WriteAllText(Path.Combine(folder, "1_Pooling", "config.json"), pooling.ToJsonString());
        foreach (string file in (string[])["vocab.json", "merges.txt", "tokenizer_config.json"])
            File.Copy(Path.Combine(QwenFixtures.ModelFolder, file), Path.Combine(folder, file), overwrite: true);
        return folder;
    });

    private static double[] ReferenceEmbedding(NaiveQwen reference, int[] ids)
    {
        reference.LastLogits(ids);
        var final = reference.States["final"];
        double norm = Math.Sqrt(Enumerable.Range(0, final.GetLength(1)).Sum(j => final[0, j] * final[0, j]));
        return [.. Enumerable.Range(0, final.GetLength(1)).Select(j => final[0, j] / norm)];
    }

    [Fact]
    public void EmbeddingsAreTheNormalisedLastTokenStatesAndQueriesGetTheInstructionPrompt()
    {
        using var reranker = Reranker.Load(Folder.Value);
        Assert.Equal(ModelKind.BiEncoder, reranker.Kind);
        Assert.Equal(64, reranker.EmbeddingSize);
        Assert.Equal("Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:", reranker.QueryPrompt);
        var sample = IrSample.Load();
        var reference = new NaiveQwen(Folder.Value);
        string[] texts = [sample[0].Document, sample[1].Document, "a"];
        var vectors = reranker.Embed(texts);
        for (int i = 0; i < texts.Length; i++)
        {
            var expected = ReferenceEmbedding(reference, reranker.Tokenizer.EncodeToIds(texts[i]));
            double error = ModernBert.ModernBertModelTests.RelativeError(vectors[i], new double[1, expected.Length].Also(m => { for (int j = 0; j < expected.Length; j++) m[0, j] = expected[j]; }));
            Assert.True(error < 1e-5, $"text {i}: {error:E2}");
        }

        // Rerank embeds the query after its prompt (sentence-transformers' encode_query) and scores by cosine.
        var results = reranker.Rerank(sample[0].Query, [sample[0].Document]);
        var queryVector = ReferenceEmbedding(reference, reranker.Tokenizer.EncodeToIds(reranker.QueryPrompt + sample[0].Query));
        var documentVector = ReferenceEmbedding(reference, reranker.Tokenizer.EncodeToIds(sample[0].Document));
        double cosine = queryVector.Zip(documentVector, (a, b) => a * b).Sum();
        Assert.True(Math.Abs(results[0].Score - cosine) < 1e-5, $"{results[0].Score} vs {cosine}");
    }
}

internal static class ArrayInitExtensions
{
    public static T Also<T>(this T value, Action<T> fill) { fill(value); return value; }
}
