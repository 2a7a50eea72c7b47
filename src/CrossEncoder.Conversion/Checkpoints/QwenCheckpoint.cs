using System.Text.Json;
using System.Text.Json.Nodes;
using CrossEncoder.Native.SafeTensors;

namespace CrossEncoder.Conversion.Checkpoints;

/// <summary>
/// Writes a random Qwen2 / Qwen3 decoder checkpoint with Hugging Face's tensor names and a real model's <c>config.json</c>
/// (sizes optionally overridden): the stand-in for Qwen3-Reranker and mxbai-rerank-v2 weights, which cannot be downloaded
/// here. <c>model_type</c> (<c>qwen3</c> or <c>qwen2</c>) decides the tensors: Qwen3 has q_norm / k_norm and biases only with
/// <c>attention_bias</c>; Qwen2 has q/k/v biases. Weights are scaled so activations stay O(1) through every layer and
/// attention is peaked (rotary, the causal mask and the q/k norms all change the result).
/// </summary>
public static class QwenCheckpoint
{
    /// <summary>Writes <c>config.json</c> and <c>model.safetensors</c> (a <c>*ForCausalLM</c> with the decoder under <c>model.</c>,
    /// <c>lm_head.weight</c> only when embeddings are untied) into <paramref name="directory"/>.</summary>
    /// <param name="directory">Created if missing.</param>
    /// <param name="config">The config to write; read for the shapes.</param>
    /// <param name="seed">Seed of the weights.</param>
    /// <param name="bareModel">True: a bare <c>Qwen3Model</c> / <c>Qwen2Model</c> (no prefix, no LM head), as Qwen3-Embedding ships.</param>
    /// <param name="layout">F32 or BF16 (as Qwen ships), one file or shards (as the 4B and 8B ship); null: one F32 file. The
    /// random values are the same in every layout.</param>
    public static void Write(string directory, JsonObject config, int seed, bool bareModel = false, CheckpointLayout? layout = null) =>
        CheckpointWriter.Write(Prepare(directory, config, bareModel), Tensors(config, seed, bareModel), layout);

    /// <summary>The random tensors of <see cref="Write"/> (name, shape, values), in file order.</summary>
    public static List<KeyValuePair<string, (long[] Shape, float[] Data)>> Tensors(JsonObject config, int seed, bool bareModel = false)
    {
        bool qwen3 = (config["model_type"]?.GetValue<string>() ?? "qwen3") == "qwen3";
        int v = RandomWeights.Int(config, "vocab_size"), h = RandomWeights.Int(config, "hidden_size"), layers = RandomWeights.Int(config, "num_hidden_layers"), inter = RandomWeights.Int(config, "intermediate_size");
        int heads = RandomWeights.Int(config, "num_attention_heads"), kvHeads = config["num_key_value_heads"]?.GetValue<int>() ?? heads;
        int dh = config["head_dim"]?.GetValue<int>() ?? (qwen3 ? 128 : h / heads);
        bool attentionBias = config["attention_bias"]?.GetValue<bool>() ?? false;
        bool qkvBias = !qwen3 || attentionBias, outputBias = qwen3 && attentionBias;
        bool tied = config["tie_word_embeddings"]?.GetValue<bool>() ?? false;
        var random = new System.Random(seed);
        var tensors = new List<KeyValuePair<string, (long[], float[])>>();
        string prefix = bareModel ? "" : "model.";
        void Add(string name, long[] shape, float[] data) => tensors.Add(new(name, (shape, data)));
        void Linear(string module, int outFeatures, int inFeatures, bool bias, double gain = 1.0)
        {
            Add(module + ".weight", [outFeatures, inFeatures], RandomWeights.Normal(random, (long)outFeatures * inFeatures, gain / Math.Sqrt(inFeatures)));
            if (bias) Add(module + ".bias", [outFeatures], RandomWeights.Normal(random, outFeatures, 0.1));
        }
        void Norm(string module, int size) => Add(module + ".weight", [size], RandomWeights.Normal(random, size, 0.1, mean: 1.0));

        Add(prefix + "embed_tokens.weight", [v, h], RandomWeights.Normal(random, (long)v * h, 1.0));
        for (int i = 0; i < layers; i++)
        {
            string layer = $"{prefix}layers.{i}.";
            Norm(layer + "input_layernorm", h);
            Linear(layer + "self_attn.q_proj", heads * dh, h, qkvBias, gain: 2.0);   // peaked attention
            Linear(layer + "self_attn.k_proj", kvHeads * dh, h, qkvBias, gain: 2.0);
            Linear(layer + "self_attn.v_proj", kvHeads * dh, h, qkvBias);
            Linear(layer + "self_attn.o_proj", h, heads * dh, outputBias, gain: 0.5);
            if (qwen3)
            {
                Norm(layer + "self_attn.q_norm", dh);
                Norm(layer + "self_attn.k_norm", dh);
            }
            Norm(layer + "post_attention_layernorm", h);
            Linear(layer + "mlp.gate_proj", inter, h, bias: false);
            Linear(layer + "mlp.up_proj", inter, h, bias: false);
            Linear(layer + "mlp.down_proj", h, inter, bias: false, gain: 0.5);
        }
        Norm(prefix + "norm", h);
        if (!bareModel && !tied) Linear("lm_head", v, h, bias: false);
        return tensors;
    }

    /// <summary>Creates the folder and writes its config.json (architectures set from model_type); returns the folder.</summary>
    public static string Prepare(string directory, JsonObject config, bool bareModel = false)
    {
        Directory.CreateDirectory(directory);
        config = (JsonObject)config.DeepClone();
        string type = config["model_type"]?.GetValue<string>() ?? "qwen3";
        string family = type == "qwen2" ? "Qwen2" : "Qwen3";
        config["architectures"] = new JsonArray(bareModel ? family + "Model" : family + "ForCausalLM");
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return directory;
    }

    /// <summary>Reads a config.json file as a mutable JSON object (to override sizes before <see cref="Write"/>).</summary>
    public static JsonObject ReadConfig(string path) => RandomWeights.ReadConfig(path);
}
