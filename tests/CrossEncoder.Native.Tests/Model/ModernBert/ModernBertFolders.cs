using System.Text.Json.Nodes;
using CrossEncoder.Conversion.Checkpoints;

namespace CrossEncoder.Native.Tests.Model.ModernBert;

/// <summary>
/// Random ModernBERT checkpoints written from real models' config.json (committed under Fixtures/modernbert), with the
/// sizes shrunk so the double-precision reference stays fast: hidden 128 in 2 heads (dH 64, the real head width, so the
/// rotary frequencies are ModernBERT's), 4 layers (0 and 3 global, 1 and 2 local with global_attn_every_n_layers 3).
/// Written once per test run into the temp folder.
/// </summary>
internal static class ModernBertFolders
{
    public static string FixtureFolder => Path.Combine(AppContext.BaseDirectory, "Fixtures", "modernbert");

    /// <summary>gte-reranker-modernbert-base's config (mean pooling, no biases, window 128), shrunk.</summary>
    public static string GteReranker => LazyGte.Value;

    /// <summary>The same with a window of 8 (4 keys on each side) so that 12- and 40-token inputs meet its edges.</summary>
    public static string SmallWindow => LazySmallWindow.Value;

    /// <summary>CLS pooling and every bias on (attention, MLP, norms, head dense), tanh head activation, window 16.</summary>
    public static string ClsWithBiases => LazyCls.Value;

    /// <summary>A bare ModernBertModel (embeddings) with the real vocabulary size, for tokenizer end-to-end tests.</summary>
    public static string RealVocabulary => LazyRealVocabulary.Value;

    public static JsonObject ShrunkConfig(int vocab = 1000)
    {
        var config = ModernBertCheckpoint.ReadConfig(Path.Combine(FixtureFolder, "gte-reranker-modernbert-base.config.json"));
        config["hidden_size"] = 128;
        config["num_attention_heads"] = 2;
        config["num_hidden_layers"] = 4;
        config["intermediate_size"] = 96;
        config["vocab_size"] = vocab;
        if (vocab < 50368) { config["pad_token_id"] = 3; config["bos_token_id"] = 1; config["cls_token_id"] = 1; config["eos_token_id"] = 2; config["sep_token_id"] = 2; }
        return config;
    }

    private static readonly Lazy<string> LazyGte = new(() => Write("gte", ShrunkConfig(), seed: 11, withClassifier: true));

    private static readonly Lazy<string> LazySmallWindow = new(() =>
    {
        var config = ShrunkConfig();
        config["local_attention"] = 8;
        return Write("window8", config, seed: 12, withClassifier: true);
    });

    private static readonly Lazy<string> LazyCls = new(() =>
    {
        var config = ShrunkConfig();
        config["classifier_pooling"] = "cls";
        config["local_attention"] = 16;
        config["attention_bias"] = true;
        config["mlp_bias"] = true;
        config["norm_bias"] = true;
        config["classifier_bias"] = true;
        config["classifier_activation"] = "tanh";
        config["num_labels"] = 2;
        config.Remove("id2label");
        config.Remove("label2id");
        return Write("cls-biases", config, seed: 13, withClassifier: true);
    });

    private static readonly Lazy<string> LazyRealVocabulary = new(() => Write("real-vocab", ShrunkConfig(vocab: 50368), seed: 14, withClassifier: true));

    /// <summary>A new temp folder as a user downloads a ModernBERT reranker: <see cref="RealVocabulary"/>'s checkpoint plus
    /// ModernBERT's real tokenizer.json and tokenizer_config.json. The caller deletes it.</summary>
    public static string CreateRerankerFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "modernbert-reranker-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        foreach (string file in Directory.GetFiles(RealVocabulary)) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        File.Copy(Tokenization.BpeFixtures.ModernBertTokenizerJson, Path.Combine(folder, "tokenizer.json"));
        File.Copy(Path.Combine(FixtureFolder, "ModernBERT-base.tokenizer_config.json"), Path.Combine(folder, "tokenizer_config.json"));
        return folder;
    }

    public static string Write(string name, JsonObject config, int seed, bool withClassifier)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"modernbert-{name}-{Environment.ProcessId}");
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        ModernBertCheckpoint.Write(directory, config, seed, withClassifier);
        return directory;
    }

    /// <summary>Deterministic token ids in [4, vocab) (no special ids needed for the numerics).</summary>
    public static int[] Ids(int length, int seed, int vocab = 1000)
    {
        var random = new System.Random(seed);
        return Enumerable.Range(0, length).Select(_ => random.Next(4, vocab)).ToArray();
    }
}
