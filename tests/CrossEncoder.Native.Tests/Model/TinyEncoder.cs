using System.Text.Json;
using CrossEncoder.Native.SafeTensors;

namespace CrossEncoder.Native.Tests.Model;

/// <summary>
/// Small random XLM-RoBERTa and ELECTRA cross-encoder folders written with Hugging Face's tensor names, and config.json files
/// with every field of the real checkpoints' configs (BAAI/bge-reranker-base: XLMRobertaForSequenceClassification;
/// cross-encoder/ms-marco-electra-base: ElectraForSequenceClassification) where only the sizes are shrunk. Seeded.
/// </summary>
internal sealed class TinyEncoder : IDisposable
{
    public const int Hidden = 16, Heads = 4, Intermediate = 24, Layers = 2, Vocab = 60;

    /// <param name="family">"xlm-roberta" or "electra".</param>
    /// <param name="embeddingSize">ELECTRA's embedding_size (E); != Hidden adds embeddings_project.</param>
    /// <param name="maxPositions">max_position_embeddings (for RoBERTa the usable length is 2 less).</param>
    /// <param name="vocab">vocab_size (rows of the word-embedding table).</param>
    public TinyEncoder(string family, int embeddingSize = Hidden, int maxPositions = 42, int seed = 11, bool withPooler = false,
        Action<Dictionary<string, object>>? editConfig = null, int vocab = Vocab, bool classifier = true)
    {
        Family = family;
        Directory = Path.Combine(Path.GetTempPath(), "tinyenc-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        bool roberta = family == "xlm-roberta";
        Prefix = roberta ? "roberta." : "electra.";
        int e = roberta ? Hidden : embeddingSize, typeVocab = roberta ? 1 : 2;
        var random = new Random(seed);
        float[] Rand(long count, float scale, float offset) => Enumerable.Range(0, (int)count).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale) + offset).ToArray();
        void Add(string name, long[] shape, float scale, float offset = 0) => Tensors[name] = (shape, Rand(shape.Aggregate(1L, (a, b) => a * b), scale, offset));

        Add(Prefix + "embeddings.word_embeddings.weight", [vocab, e], 0.5f);
        Add(Prefix + "embeddings.position_embeddings.weight", [maxPositions, e], 0.5f);
        Add(Prefix + "embeddings.token_type_embeddings.weight", [typeVocab, e], 0.5f);
        Add(Prefix + "embeddings.LayerNorm.weight", [e], 0.2f, 1f);
        Add(Prefix + "embeddings.LayerNorm.bias", [e], 0.2f);
        if (e != Hidden)
        {
            Add(Prefix + "embeddings_project.weight", [Hidden, e], 0.6f);
            Add(Prefix + "embeddings_project.bias", [Hidden], 0.2f);
        }
        for (int i = 0; i < Layers; i++)
        {
            string l = $"{Prefix}encoder.layer.{i}.";
            foreach (string m in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                Add(l + m + ".weight", [Hidden, Hidden], 0.6f);
                Add(l + m + ".bias", [Hidden], 0.2f);
            }
            Add(l + "attention.output.LayerNorm.weight", [Hidden], 0.2f, 1f);
            Add(l + "attention.output.LayerNorm.bias", [Hidden], 0.2f);
            Add(l + "intermediate.dense.weight", [Intermediate, Hidden], 0.5f);
            Add(l + "intermediate.dense.bias", [Intermediate], 0.2f);
            Add(l + "output.dense.weight", [Hidden, Intermediate], 0.5f);
            Add(l + "output.dense.bias", [Hidden], 0.2f);
            Add(l + "output.LayerNorm.weight", [Hidden], 0.2f, 1f);
            Add(l + "output.LayerNorm.bias", [Hidden], 0.2f);
        }
        if (withPooler)
        {
            Add(Prefix + "pooler.dense.weight", [Hidden, Hidden], 0.5f);
            Add(Prefix + "pooler.dense.bias", [Hidden], 0.2f);
        }
        if (classifier)
        {
            Add("classifier.dense.weight", [Hidden, Hidden], 0.6f);
            Add("classifier.dense.bias", [Hidden], 0.2f);
            Add("classifier.out_proj.weight", [1, Hidden], 0.8f);
            Add("classifier.out_proj.bias", [1], 0.5f);
        }
        SafeTensorsWriter.WriteFloat32(Path.Combine(Directory, "model.safetensors"),
            Tensors.Select(t => new KeyValuePair<string, (long[], float[])>(t.Key, (t.Value.Shape, t.Value.Data))));

        // The real configs' fields, in their order; sizes shrunk.
        Config = roberta
            ? new Dictionary<string, object>
            {
                ["_name_or_path"] = "BAAI/bge-reranker-base", ["architectures"] = new[] { "XLMRobertaForSequenceClassification" },
                ["attention_probs_dropout_prob"] = 0.1, ["bos_token_id"] = 0, ["classifier_dropout"] = null!, ["eos_token_id"] = 2,
                ["hidden_act"] = "gelu", ["hidden_dropout_prob"] = 0.1, ["hidden_size"] = Hidden, ["id2label"] = new Dictionary<string, string> { ["0"] = "LABEL_0" },
                ["initializer_range"] = 0.02, ["intermediate_size"] = Intermediate, ["label2id"] = new Dictionary<string, int> { ["LABEL_0"] = 0 },
                ["layer_norm_eps"] = 1e-05, ["max_position_embeddings"] = maxPositions, ["model_type"] = "xlm-roberta",
                ["num_attention_heads"] = Heads, ["num_hidden_layers"] = Layers, ["output_past"] = true, ["pad_token_id"] = 1,
                ["position_embedding_type"] = "absolute", ["torch_dtype"] = "float32", ["transformers_version"] = "4.34.0",
                ["type_vocab_size"] = 1, ["use_cache"] = true, ["vocab_size"] = vocab,
            }
            : new Dictionary<string, object>
            {
                ["_name_or_path"] = "cross-encoder/ms-marco-electra-base", ["architectures"] = new[] { "ElectraForSequenceClassification" },
                ["attention_probs_dropout_prob"] = 0.1, ["embedding_size"] = e, ["hidden_act"] = "gelu", ["hidden_dropout_prob"] = 0.1,
                ["hidden_size"] = Hidden, ["id2label"] = new Dictionary<string, string> { ["0"] = "LABEL_0" }, ["initializer_range"] = 0.02,
                ["intermediate_size"] = Intermediate, ["label2id"] = new Dictionary<string, int> { ["LABEL_0"] = 0 }, ["layer_norm_eps"] = 1e-12,
                ["max_position_embeddings"] = maxPositions, ["model_type"] = "electra", ["num_attention_heads"] = Heads,
                ["num_hidden_layers"] = Layers, ["pad_token_id"] = 0, ["position_embedding_type"] = "absolute",
                ["summary_activation"] = "gelu", ["summary_last_dropout"] = 0.1, ["summary_type"] = "first", ["summary_use_proj"] = true,
                ["transformers_version"] = "4.34.0", ["type_vocab_size"] = 2, ["vocab_size"] = vocab,
            };
        if (!classifier) Config["architectures"] = new[] { roberta ? "XLMRobertaModel" : "ElectraModel" };
        editConfig?.Invoke(Config);
        File.WriteAllText(Path.Combine(Directory, "config.json"), JsonSerializer.Serialize(Config));
    }

    public string Family { get; }
    public string Directory { get; }
    public string Prefix { get; }
    public Dictionary<string, (long[] Shape, float[] Data)> Tensors { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, object> Config { get; }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
