using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using Xunit;

namespace CrossEncoder.Native.Tests.Model.ModernBert;

/// <summary>ModernBERT embedding models (gte-modernbert-base: CLS pooling; modernbert-embed-base: mean pooling; both
/// normalised) as sentence-transformers folders: a bare <c>ModernBertModel</c> checkpoint plus modules.json.</summary>
public sealed class ModernBertEmbeddingTests
{
    private static string Folder(string pooling)
    {
        var config = ModernBertFolders.ShrunkConfig();
        config["local_attention"] = 8;
        string folder = ModernBertFolders.Write("embed-" + pooling, config, seed: 31, withClassifier: false);
        File.WriteAllText(Path.Combine(folder, "modules.json"), """
            [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
             {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
             {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
            """);
        Directory.CreateDirectory(Path.Combine(folder, "1_Pooling"));
        File.WriteAllText(Path.Combine(folder, "1_Pooling", "config.json"),
            $$"""{"word_embedding_dimension": 128, "pooling_mode_cls_token": {{(pooling == "cls" ? "true" : "false")}}, "pooling_mode_mean_tokens": {{(pooling == "mean" ? "true" : "false")}}}""");
        return folder;
    }

    [Theory]
    [InlineData("cls")]
    [InlineData("mean")]
    public void TheSentenceVectorIsThePooledNormalisedFinalState(string pooling)
    {
        string folder = Folder(pooling);
        int[] ids = ModernBertFolders.Ids(40, seed: 5);
        var reference = new NaiveModernBert(folder);
        double[,] last = reference.Encode(ids);
        var expected = new double[128];
        for (int j = 0; j < 128; j++)
        {
            if (pooling == "cls") { expected[j] = last[0, j]; continue; }
            for (int i = 0; i < ids.Length; i++) expected[j] += last[i, j] / ids.Length;
        }
        double norm = Math.Sqrt(expected.Sum(v => v * v));
        for (int j = 0; j < 128; j++) expected[j] /= norm;

        var taps = ModernBertModelTests.RunEngine(folder, ids);
        float[] embedding = taps[ModelTaps.Output];
        Assert.Equal(128, embedding.Length);
        double error = ModernBertModelTests.RelativeError(embedding, expected);
        Assert.True(error < 1e-5, $"relative error {error:E2}");

        var (model, _) = ModelLoader.Load(folder, Precision.Fp32);
        Assert.Equal(ModelKind.BiEncoder, model.Description.Kind);
        Assert.Equal(ScoreTransform.Cosine, model.Description.ScoreTransform);
    }
}
