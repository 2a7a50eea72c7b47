using System.Text.Json.Nodes;
using CrossEncoder.Conversion.Checkpoints;

namespace CrossEncoder.Native.Tests.Model.Qwen;

/// <summary>
/// Random Qwen checkpoints written from real configs (Fixtures/qwen), shrunk so the double reference stays fast: hidden 64,
/// 4 query heads sharing 2 key/value heads, head_dim 32 (so nH dH = 128 differs from H, as in Qwen3-0.6B where 16 x 128 !=
/// 1024), 3 layers, intermediate 96. Written once per test run into the temp folder.
/// </summary>
internal static class QwenFolders
{
    public static string FixtureFolder => Path.Combine(AppContext.BaseDirectory, "Fixtures", "qwen");

    /// <summary>The ids the tests' tokenizer gives the answer tokens: "yes" 3, "no" 7, "1" 16, "0" 15.</summary>
    public static readonly (int Yes, int No) AnswerIds = (3, 7);

    public static JsonObject ShrunkQwen3(int vocab = 1000)
    {
        var config = QwenCheckpoint.ReadConfig(Path.Combine(FixtureFolder, "Qwen3-Reranker-0.6B.config.json"));
        config["hidden_size"] = 64;
        config["num_attention_heads"] = 4;
        config["num_key_value_heads"] = 2;
        config["head_dim"] = 32;
        config["num_hidden_layers"] = 3;
        config["intermediate_size"] = 96;
        config["vocab_size"] = vocab;
        config["max_position_embeddings"] = 4096;
        return config;
    }

    public static JsonObject ShrunkQwen2(int vocab = 1000)
    {
        var config = QwenCheckpoint.ReadConfig(Path.Combine(FixtureFolder, "mxbai-rerank-base-v2.shape.json"));
        config["hidden_size"] = 56;              // 7 heads of 8 sharing one key/value head (the real model: 14 of 64 sharing 2)
        config["num_attention_heads"] = 7;
        config["num_key_value_heads"] = 1;
        config["num_hidden_layers"] = 3;
        config["intermediate_size"] = 80;
        config["vocab_size"] = vocab;
        config["max_position_embeddings"] = 4096;
        return config;
    }

    /// <summary>Qwen3-Reranker's config, shrunk, tied embeddings (the 0.6B layout).</summary>
    public static string Qwen3 => LazyQwen3.Value;

    /// <summary>Untied LM head and attention biases on (q, k, v and o): the paths Qwen3-Reranker-0.6B does not take.</summary>
    public static string Qwen3UntiedWithBiases => LazyQwen3Untied.Value;

    /// <summary>A Qwen2 (mxbai-rerank-v2's family): q/k/v biases, no q/k norms, head_dim from H / nH.</summary>
    public static string Qwen2 => LazyQwen2.Value;

    private static readonly Lazy<string> LazyQwen3 = new(() => Write("qwen3-reranker", ShrunkQwen3(), seed: 21));

    private static readonly Lazy<string> LazyQwen3Untied = new(() =>
    {
        var config = ShrunkQwen3();
        config["tie_word_embeddings"] = false;
        config["attention_bias"] = true;
        return Write("qwen3-reranker-untied", config, seed: 22);
    });

    private static readonly Lazy<string> LazyQwen2 = new(() => Write("mxbai-rerank-qwen2", ShrunkQwen2(), seed: 23));

    /// <summary><see cref="Qwen3"/>'s weights as Qwen ships the 4B and 8B: BF16 in three shards with an index.</summary>
    public static string Qwen3Bf16Sharded => LazyQwen3Bf16Sharded.Value;

    private static readonly Lazy<string> LazyQwen3Bf16Sharded = new(() =>
        Write("qwen3-reranker-bf16-sharded", ShrunkQwen3(), seed: 21, layout: new CheckpointLayout(CheckpointDType.BFloat16, Shards: 3)));

    /// <summary>
    /// A new temp folder as a user downloads Qwen3-Reranker: a random checkpoint of <see cref="ShrunkQwen3"/> with the real
    /// vocabulary (151,669 rows) plus Qwen's real vocab.json, merges.txt and tokenizer_config.json. Named like the Hub repo, so
    /// the prompt is recognised. Written once per run.
    /// </summary>
    public static string Qwen3RerankerWithTokenizer => LazyQwen3Real.Value;

    /// <summary>The same for mxbai-rerank-v2 (Qwen2, vocabulary 151,936 as Qwen2.5 has).</summary>
    public static string MxbaiRerankWithTokenizer => LazyMxbaiReal.Value;

    private static readonly Lazy<string> LazyQwen3Real = new(() => WithTokenizer(Write("Qwen3-Reranker-0.6B-random", ShrunkQwen3(vocab: 151669), seed: 31)));

    private static readonly Lazy<string> LazyMxbaiReal = new(() => WithTokenizer(Write("mxbai-rerank-base-v2-random", ShrunkQwen2(vocab: 151936), seed: 32)));

    private static string WithTokenizer(string folder)
    {
        foreach (string name in (string[])["vocab.json", "merges.txt", "tokenizer_config.json"])
            File.Copy(Path.Combine(Tokenization.QwenFixtures.ModelFolder, name), Path.Combine(folder, name), overwrite: true);
        return folder;
    }

    /// <summary>Writes a checkpoint under a folder whose name carries the prompt hint (e.g. qwen3-reranker).</summary>
    public static string Write(string name, JsonObject config, int seed, bool bareModel = false, CheckpointLayout? layout = null)
    {
        string folder = Path.Combine(Path.GetTempPath(), $"crossencoder-tests-{Environment.ProcessId}", name);
        QwenCheckpoint.Write(folder, config, seed, bareModel, layout);
        return folder;
    }

    /// <summary>Random ids in [20, vocab), a fixed seed.</summary>
    public static int[] Ids(int length, int seed, int vocab = 1000)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, length).Select(_ => random.Next(20, vocab))];
    }
}

/// <summary>A tokenizer that knows only the answer tokens (the model-level tests feed ids directly).</summary>
internal sealed class AnswerTokenizer(int vocabularySize = 1000) : global::CrossEncoder.Native.Tokenization.ITextPairTokenizer
{
    public int VocabularySize => vocabularySize;
    public int ModelMaxLength => 4096;

    public int[] EncodeToIds(string text) => text switch
    {
        "yes" => [QwenFolders.AnswerIds.Yes],
        "no" => [QwenFolders.AnswerIds.No],
        "1" => [16],
        "0" => [15],
        _ => [.. text.Select(c => 20 + c % (vocabularySize - 20))],
    };

    public global::CrossEncoder.Native.Tokenization.EncodedPair EncodePair(string query, string document, int maxLength, global::CrossEncoder.Native.Tokenization.TruncationStrategy strategy = global::CrossEncoder.Native.Tokenization.TruncationStrategy.LongestFirst) =>
        throw new NotSupportedException();

    public global::CrossEncoder.Native.Tokenization.EncodedPair EncodePair(ReadOnlySpan<int> queryIds, ReadOnlySpan<int> documentIds, int maxLength, global::CrossEncoder.Native.Tokenization.TruncationStrategy strategy = global::CrossEncoder.Native.Tokenization.TruncationStrategy.LongestFirst) =>
        throw new NotSupportedException();

    public global::CrossEncoder.Native.Tokenization.EncodedPair EncodeSingle(string text, int maxLength) => throw new NotSupportedException();

    public global::CrossEncoder.Native.Tokenization.EncodedPair EncodeSingle(ReadOnlySpan<int> ids, int maxLength) => throw new NotSupportedException();

    /// <summary>One token per character (as <see cref="EncodeToIds"/> for text other than the answers), each spanning its unit.</summary>
    public (int[] Ids, global::CrossEncoder.Native.Tokenization.TokenOffsets[] Offsets) EncodeToIdsWithOffsets(string text) =>
        (EncodeToIds(text), [.. Enumerable.Range(0, text.Length).Select(i => new global::CrossEncoder.Native.Tokenization.TokenOffsets(i, i + 1))]);

    public string IdToToken(int id) => $"<{id}>";

    public bool TryGetTokenId(string token, out int id)
    {
        int[] ids = EncodeToIds(token);
        id = ids.Length == 1 ? ids[0] : -1;
        return ids.Length == 1;
    }
}
