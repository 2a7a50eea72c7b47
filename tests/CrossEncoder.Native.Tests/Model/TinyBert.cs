using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using System.Text.Json;
using CrossEncoder.Conversion.Checkpoints;

namespace CrossEncoder.Native.Tests.Model;

/// <summary>
/// Builds a small random BERT model folder (config.json, model.safetensors, vocab.txt) with Hugging Face names, for tests
/// that need a model whose every weight they know. Seeded, so each build is the same. The checkpoint may be written BF16
/// or sharded (<see cref="CheckpointLayout"/>).
/// </summary>
internal sealed class TinyBert : IDisposable
{
    public const int Hidden = 16, Heads = 4, Intermediate = 24, Layers = 2, MaxPositions = 40, TypeVocab = 2;

    /// <summary>A small vocabulary: specials at BERT's usual places among filler, then whole words and pieces.</summary>
    public static readonly string[] Vocabulary = BuildVocabulary();

    /// <param name="layout">How the checkpoint is written (null: one F32 model.safetensors); <see cref="Tensors"/> holds the
    /// F32 values either way (a BF16 file stores them rounded).</param>
    public TinyBert(bool classifier, string prefix = "", int seed = 7, bool withPooler = true, Action<Dictionary<string, (long[] Shape, float[] Data)>>? edit = null,
        Action<Dictionary<string, object>>? editConfig = null, int hidden = Hidden, CheckpointLayout? layout = null)
    {
        Directory = Path.Combine(Path.GetTempPath(), "tinybert-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        var random = new Random(seed);
        float[] Rand(long count, float scale) => Enumerable.Range(0, (int)count).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
        void Add(string name, long[] shape, float scale, float offset = 0)
        {
            long count = shape.Aggregate(1L, (a, b) => a * b);
            Tensors[prefix + name] = (shape, Rand(count, scale).Select(v => v + offset).ToArray());
        }

        int v = Vocabulary.Length;
        Add("embeddings.word_embeddings.weight", [v, hidden], 0.5f);
        Add("embeddings.position_embeddings.weight", [MaxPositions, hidden], 0.5f);
        Add("embeddings.token_type_embeddings.weight", [TypeVocab, hidden], 0.5f);
        Add("embeddings.LayerNorm.weight", [hidden], 0.2f, 1f);
        Add("embeddings.LayerNorm.bias", [hidden], 0.2f);
        for (int i = 0; i < Layers; i++)
        {
            string l = $"encoder.layer.{i}.";
            foreach (string m in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                Add(l + m + ".weight", [hidden, hidden], 0.6f);
                Add(l + m + ".bias", [hidden], 0.2f);
            }
            Add(l + "attention.output.LayerNorm.weight", [hidden], 0.2f, 1f);
            Add(l + "attention.output.LayerNorm.bias", [hidden], 0.2f);
            Add(l + "intermediate.dense.weight", [Intermediate, hidden], 0.5f);
            Add(l + "intermediate.dense.bias", [Intermediate], 0.2f);
            Add(l + "output.dense.weight", [hidden, Intermediate], 0.5f);
            Add(l + "output.dense.bias", [hidden], 0.2f);
            Add(l + "output.LayerNorm.weight", [hidden], 0.2f, 1f);
            Add(l + "output.LayerNorm.bias", [hidden], 0.2f);
        }
        if (withPooler || classifier)
        {
            Add("pooler.dense.weight", [hidden, hidden], 0.5f);
            Add("pooler.dense.bias", [hidden], 0.2f);
        }
        if (classifier)
        {
            Tensors["classifier.weight"] = ([1, hidden], Rand(hidden, 0.8f));
            Tensors["classifier.bias"] = ([1], Rand(1, 0.5f));
        }
        edit?.Invoke(Tensors);
        CheckpointWriter.Write(Directory, Tensors.Select(t => new KeyValuePair<string, (long[], float[])>(t.Key, (t.Value.Shape, t.Value.Data))), layout);

        Config = new Dictionary<string, object>
        {
            ["architectures"] = new[] { classifier ? "BertForSequenceClassification" : "BertModel" },
            ["model_type"] = "bert",
            ["vocab_size"] = v,
            ["hidden_size"] = hidden,
            ["num_hidden_layers"] = Layers,
            ["num_attention_heads"] = Heads,
            ["intermediate_size"] = Intermediate,
            ["hidden_act"] = "gelu",
            ["layer_norm_eps"] = 1e-12,
            ["max_position_embeddings"] = MaxPositions,
            ["type_vocab_size"] = TypeVocab,
            ["pad_token_id"] = 0,
        };
        if (classifier) Config["id2label"] = new Dictionary<string, string> { ["0"] = "LABEL_0" };
        editConfig?.Invoke(Config);
        File.WriteAllText(Path.Combine(Directory, "config.json"), JsonSerializer.Serialize(Config));
        File.WriteAllLines(Path.Combine(Directory, "vocab.txt"), Vocabulary);
    }

    public string Directory { get; }

    /// <summary>Every tensor written, by its name in the file.</summary>
    public Dictionary<string, (long[] Shape, float[] Data)> Tensors { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, object> Config { get; }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }

    private static string[] BuildVocabulary()
    {
        var tokens = new List<string> { "[PAD]" };
        for (int i = 1; i < 100; i++) tokens.Add($"[unused{i}]");
        tokens.AddRange(["[UNK]", "[CLS]", "[SEP]", "[MASK]"]);   // ids 100..103 as in bert-base-uncased
        tokens.AddRange(["the", "wing", "lift", "flow", "heat", "plate", "aircraft", "what", "is", "of", "a", "in", "and", "shear",
            "boundary", "layer", "speed", "high", "model", "##s", "##ing", "##ed", "test", "data", "cell", "blood", ".", ",", "?", "-"]);
        return tokens.ToArray();
    }
}
