using System.Text.Json.Nodes;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.SafeTensors;
using Xunit;

namespace CrossEncoder.Native.Tests.Model.ModernBert;

/// <summary>Malformed, hostile and mismatched ModernBERT folders: each fails at load with a <see cref="ModelFormatException"/>
/// that names the file and the problem, before anything is sized from a bad field.</summary>
public sealed class ModernBertLoadingErrorTests
{
    public static TheoryData<string, string, string> BadConfigs => new()
    {
        { "layer_types", """["full_attention", "sliding_attention"]""", "layer_types has 2 entries" },
        { "layer_types", """["full_attention", "chunked", "sliding_attention", "full_attention"]""", "layer type 'chunked' is not supported" },
        { "layer_types", "\"full_attention\"", "'layer_types' must be an array" },
        { "rope_parameters", """{"full_attention": {"rope_type": "yarn", "factor": 4}}""", "rope_type 'yarn' is not supported" },
        { "rope_parameters", """{"sliding_attention": {"rope_theta": "ten thousand"}}""", "rope_theta must be a number" },
        { "num_attention_heads", "3", "not a multiple of num_attention_heads" },
        { "num_attention_heads", "128", "must be even for rotary" },
        { "num_hidden_layers", "1000000000", "num_hidden_layers must be between 1 and 1024" },
        { "num_hidden_layers", "0", "num_hidden_layers must be between 1 and 1024" },
        { "max_position_embeddings", "2000000000", "max_position_embeddings must be between 3 and" },
        { "classifier_pooling", "\"max\"", "classifier_pooling 'max' is not supported" },
        { "hidden_activation", "\"silu\"", "hidden_activation 'silu' is not supported" },
        { "classifier_activation", "\"swish_beta\"", "classifier_activation 'swish_beta' is not supported" },
        { "norm_bias", "\"yes\"", "'norm_bias' must be true or false" },
        { "local_attention", "1", "local_attention must be at least 2" },
        { "global_rope_theta", "0.5", "global rotary theta" },
        { "global_attn_every_n_layers", "0", "global_attn_every_n_layers must be positive" },
        { "pad_token_id", "1000000", "pad_token_id 1000000 is outside the vocabulary" },
        { "architectures", """["ModernBertForTokenClassification"]""", "architecture 'ModernBertForTokenClassification' is not supported" },
        { "hidden_size", "\"768\"", "'hidden_size' must be an integer" },
    };

    private static string FolderWith(string field, string json)
    {
        string folder = ModernBertFolders.Write("bad-" + Guid.NewGuid().ToString("N")[..8], ModernBertFolders.ShrunkConfig(), seed: 1, withClassifier: true);
        var config = ModernBertCheckpointConfig(folder);
        config[field] = JsonNode.Parse(json);
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        return folder;
    }

    private static JsonObject ModernBertCheckpointConfig(string folder) => (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!;

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void AMalformedOrHostileConfigFieldIsNamed(string field, string json, string expected)
    {
        string folder = FolderWith(field, json);
        try
        {
            var error = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder, Precision.Fp32));
            Assert.Contains(expected, error.Message);
            Assert.Contains("config.json", error.Message);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    /// <summary>Rewrites the folder's weights through <paramref name="edit"/> (name -> (shape, data)).</summary>
    private static string FolderWithWeights(Action<Dictionary<string, (long[] Shape, float[] Data)>> edit)
    {
        string folder = ModernBertFolders.Write("badw-" + Guid.NewGuid().ToString("N")[..8], ModernBertFolders.ShrunkConfig(), seed: 1, withClassifier: true);
        string path = Path.Combine(folder, "model.safetensors");
        Dictionary<string, (long[] Shape, float[] Data)> tensors;
        using (var file = SafeTensorsFile.Open(path))
            tensors = file.Tensors.Keys.ToDictionary(k => k, k => (file.Tensors[k].Shape.ToArray(), file.ReadFloat32(k)));
        edit(tensors);
        SafeTensorsWriter.WriteFloat32(path, tensors.Select(t => new KeyValuePair<string, (long[], float[])>(t.Key, t.Value)));
        return folder;
    }

    [Fact]
    public void MissingUnexpectedAndMisshapenTensorsAreNamed()
    {
        string missing = FolderWithWeights(t => t.Remove("model.layers.2.mlp.Wi.weight"));
        string extra = FolderWithWeights(t => t["model.layers.0.attn_norm.weight"] = ([128], new float[128]));   // layer 0's norm is the identity
        string shape = FolderWithWeights(t => t["model.layers.1.attn.Wqkv.weight"] = ([128, 128], new float[128 * 128]));
        try
        {
            Assert.Contains("Missing (1): layers.2.mlp.Wi.weight [192, 128]", Assert.Throws<ModelFormatException>(() => ModelLoader.Load(missing, Precision.Fp32)).Message);
            Assert.Contains("Unexpected (1): model.layers.0.attn_norm.weight", Assert.Throws<ModelFormatException>(() => ModelLoader.Load(extra, Precision.Fp32)).Message);
            Assert.Contains("'model.layers.1.attn.Wqkv.weight' has shape [128, 128]; the config implies [384, 128]",
                Assert.Throws<ModelFormatException>(() => ModelLoader.Load(shape, Precision.Int8)).Message);
        }
        finally
        {
            foreach (string folder in (string[])[missing, extra, shape]) Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void AHiddenSizeTheWeightsDoNotHaveFailsOnTheShapeBeforeAnythingIsSizedFromIt()
    {
        string folder = FolderWith("hidden_size", "1048576");   // with 2 heads: a 524,288-wide head, and a 50 GB embedding table if believed
        try
        {
            var error = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder, Precision.Fp32));
            Assert.Contains("exceeds 1024", error.Message);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void InputsPastTheModelLimitAreTruncatedAndEmptyTextsStillScore()
    {
        string folder = ModernBertFolders.CreateRerankerFolder();
        try
        {
            using var reranker = Reranker.Load(folder);
            string huge = string.Join(" ", Enumerable.Repeat("boundary layer transition at high speed", 2500));   // ~15,000 tokens
            Assert.Equal(8192, reranker.Tokenizer.EncodePair("lift", huge, reranker.ModelMaxLength).InputIds.Length);
            var results = reranker.Rerank("lift", [huge, "", "lift"]);
            Assert.Equal(3, results.Count);
            Assert.All(results, r => Assert.True(float.IsFinite(r.Logit)));
            Assert.Throws<ArgumentNullException>(() => reranker.Rerank(null!, ["a"]));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}
