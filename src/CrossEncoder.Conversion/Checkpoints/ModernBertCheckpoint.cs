using System.Text.Json;
using System.Text.Json.Nodes;

namespace CrossEncoder.Conversion.Checkpoints;

/// <summary>
/// Writes a random ModernBERT checkpoint with Hugging Face's tensor names and a real model's <c>config.json</c> (sizes
/// optionally overridden): the stand-in for weights that cannot be downloaded here. Correctness tests run it against an
/// independent reference; benchmarks time it at the real shape. Weights are scaled so activations stay O(1) through
/// every layer and attention is peaked (rotary positions and the window change the result), not the near-uniform attention
/// of transformers' 0.02 initialisation.
/// </summary>
public static class ModernBertCheckpoint
{
    /// <summary>Writes <c>config.json</c> and the checkpoint (by default one F32 <c>model.safetensors</c>) into <paramref name="directory"/>.</summary>
    /// <param name="directory">Created if missing.</param>
    /// <param name="config">The config to write (e.g. a real model's, with sizes overridden); read for the shapes.</param>
    /// <param name="seed">Seed of the weights.</param>
    /// <param name="withClassifier">True: <c>ModernBertForSequenceClassification</c> (encoder under <c>model.</c>, plus <c>head</c>
    /// and <c>classifier</c>); false: a bare <c>ModernBertModel</c> (no prefix, no head).</param>
    /// <param name="layout">F32 or BF16, one file or shards (null: one F32 model.safetensors); the random values are the same in every layout.</param>
    public static void Write(string directory, JsonObject config, int seed, bool withClassifier, CheckpointLayout? layout = null)
    {
        Directory.CreateDirectory(directory);
        config = (JsonObject)config.DeepClone();
        config["architectures"] = new JsonArray(withClassifier ? "ModernBertForSequenceClassification" : "ModernBertModel");
        config["model_type"] = "modernbert";
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

        int v = RandomWeights.Int(config, "vocab_size"), h = RandomWeights.Int(config, "hidden_size"), layers = RandomWeights.Int(config, "num_hidden_layers"), inter = RandomWeights.Int(config, "intermediate_size");
        int labels = config["num_labels"] is JsonNode n ? n.GetValue<int>() : config["id2label"] is JsonObject ids ? ids.Count : 2;
        bool normBias = Bool(config, "norm_bias"), attentionBias = Bool(config, "attention_bias"), mlpBias = Bool(config, "mlp_bias");
        bool classifierBias = Bool(config, "classifier_bias");
        var random = new System.Random(seed);
        var tensors = new List<KeyValuePair<string, (long[], float[])>>();
        string prefix = withClassifier ? "model." : "";
        void Add(string name, long[] shape, float[] data) => tensors.Add(new(name, (shape, data)));
        void Linear(string module, int outFeatures, int inFeatures, bool bias, double gain = 1.0)
        {
            Add(module + ".weight", [outFeatures, inFeatures], RandomWeights.Normal(random, (long)outFeatures * inFeatures, gain / Math.Sqrt(inFeatures)));
            if (bias) Add(module + ".bias", [outFeatures], RandomWeights.Normal(random, outFeatures, 0.1));
        }
        void Norm(string module, bool bias)
        {
            Add(module + ".weight", [h], RandomWeights.Normal(random, h, 0.1, mean: 1.0));
            if (bias) Add(module + ".bias", [h], RandomWeights.Normal(random, h, 0.1));
        }

        Add(prefix + "embeddings.tok_embeddings.weight", [v, h], RandomWeights.Normal(random, (long)v * h, 1.0));
        Norm(prefix + "embeddings.norm", normBias);
        for (int i = 0; i < layers; i++)
        {
            string layer = $"{prefix}layers.{i}.";
            if (i > 0) Norm(layer + "attn_norm", normBias);
            Linear(layer + "attn.Wqkv", 3 * h, h, attentionBias, gain: 1.5);   // peaked attention
            Linear(layer + "attn.Wo", h, h, attentionBias, gain: 0.5);
            Norm(layer + "mlp_norm", normBias);
            Linear(layer + "mlp.Wi", 2 * inter, h, mlpBias);
            Linear(layer + "mlp.Wo", h, inter, mlpBias, gain: 0.5);
        }
        Norm(prefix + "final_norm", normBias);
        if (withClassifier)
        {
            Linear("head.dense", h, h, classifierBias);
            Norm("head.norm", normBias);
            Linear("classifier", labels, h, bias: true);
        }
        CheckpointWriter.Write(directory, tensors, layout);
    }

    /// <summary>Reads a config.json file as a mutable JSON object (to override sizes before <see cref="Write"/>).</summary>
    public static JsonObject ReadConfig(string path) => RandomWeights.ReadConfig(path);


    private static bool Bool(JsonObject config, string name) => config[name]?.GetValue<bool>() ?? false;
}
