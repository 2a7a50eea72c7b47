using System.Text.Json.Nodes;
using CrossEncoder.Conversion.Checkpoints;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Qwen;
using Xunit;

namespace CrossEncoder.Native.Tests.Model.Qwen;

/// <summary>Malformed, hostile and mismatched Qwen folders and inputs: each fails with an error that names the problem,
/// before anything is sized from a bad field; and the real Qwen3-Reranker-0.6B width (H 1024, 16 query / 8 key-value heads
/// of 128, I 3072) against the double reference.</summary>
public sealed class QwenLoadingErrorTests
{
    public static TheoryData<string, string, string> BadConfigs => new()
    {
        { "num_key_value_heads", "3", "must be a positive multiple of num_key_value_heads" },
        { "num_key_value_heads", "0", "must be a positive multiple of num_key_value_heads" },
        { "head_dim", "31", "must be even" },
        { "head_dim", "4096", "between 2 and 1024" },
        { "num_hidden_layers", "1000000", "num_hidden_layers must be between 1 and 1024" },
        { "max_position_embeddings", "2000000000", "max_position_embeddings must be between 2 and" },
        { "rope_scaling", """{"rope_type": "yarn", "factor": 4}""", "rope_scaling" },
        { "rope_theta", "0.5", "rope_theta must be a finite number above 1" },
        { "rms_norm_eps", "-1", "rms_norm_eps must be in (0, 1)" },
        { "hidden_act", "\"gelu\"", "hidden_act 'gelu' is not supported" },
        { "use_sliding_window", "true", "use_sliding_window true is not supported" },
        { "architectures", """["Qwen3ForSequenceClassification"]""", "architecture 'Qwen3ForSequenceClassification' is not supported" },
        { "hidden_size", "\"1024\"", "'hidden_size' must be an integer" },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void ABadConfigFieldIsOneErrorNamingIt(string field, string json, string message)
    {
        var config = QwenFolders.ShrunkQwen3();
        string folder = QwenFolders.Write("qwen3-reranker-bad-" + Guid.NewGuid().ToString("N")[..8], config, seed: 1);
        var written = QwenCheckpoint.ReadConfig(Path.Combine(folder, "config.json"));
        written[field] = JsonNode.Parse(json);
        File.WriteAllText(Path.Combine(folder, "config.json"), written.ToJsonString());
        var error = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder, Precision.Fp32, new AnswerTokenizer()));
        Assert.Contains(message, error.Message);
        Assert.Contains("config.json", error.Message);
    }

    [Fact]
    public void MissingAndMisshapenTensorsAndForeignAnswerTokensAreRefused()
    {
        // A checkpoint written for another shape: the file's tensors do not match config.json.
        string folder = QwenFolders.Write("qwen3-reranker-misshapen", QwenFolders.ShrunkQwen3(), seed: 2);
        var config = QwenCheckpoint.ReadConfig(Path.Combine(folder, "config.json"));
        config["intermediate_size"] = 64;
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        Assert.Contains("shape", Assert.Throws<ModelFormatException>(() => ModelLoader.Load(folder, Precision.Fp32, new AnswerTokenizer())).Message);

        // Untied embeddings declared but no lm_head.weight in the file.
        string untied = QwenFolders.Write("qwen3-reranker-nohead", QwenFolders.ShrunkQwen3(), seed: 3);
        var c = QwenCheckpoint.ReadConfig(Path.Combine(untied, "config.json"));
        c["tie_word_embeddings"] = false;
        File.WriteAllText(Path.Combine(untied, "config.json"), c.ToJsonString());
        Assert.Contains("lm_head.weight", Assert.Throws<ModelFormatException>(() => ModelLoader.Load(untied, Precision.Fp32, new AnswerTokenizer())).Message);

        // A tokenizer whose "yes" is outside the model's vocabulary, or two tokens long.
        var far = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(QwenFolders.Qwen3, Precision.Fp32, new FarAnswers()));
        Assert.Contains("outside the vocabulary", far.Message);
    }

    private sealed class FarAnswers : CrossEncoder.Native.Tokenization.ITextPairTokenizer
    {
        private readonly AnswerTokenizer _inner = new();
        public int VocabularySize => 1000;
        public int ModelMaxLength => 4096;
        public int[] EncodeToIds(string text) => text == "yes" ? [5000] : _inner.EncodeToIds(text);
        public CrossEncoder.Native.Tokenization.EncodedPair EncodePair(string q, string d, int m, CrossEncoder.Native.Tokenization.TruncationStrategy s = default) => throw new NotSupportedException();
        public CrossEncoder.Native.Tokenization.EncodedPair EncodePair(ReadOnlySpan<int> q, ReadOnlySpan<int> d, int m, CrossEncoder.Native.Tokenization.TruncationStrategy s = default) => throw new NotSupportedException();
        public CrossEncoder.Native.Tokenization.EncodedPair EncodeSingle(string t, int m) => throw new NotSupportedException();
        public CrossEncoder.Native.Tokenization.EncodedPair EncodeSingle(ReadOnlySpan<int> ids, int m) => throw new NotSupportedException();
        public (int[] Ids, CrossEncoder.Native.Tokenization.TokenOffsets[] Offsets) EncodeToIdsWithOffsets(string t) => throw new NotSupportedException();
        public string IdToToken(int id) => _inner.IdToToken(id);
        public bool TryGetTokenId(string token, out int id) => _inner.TryGetTokenId(token, out id);
    }

    [Fact]
    public void ThePrefixAndTheBatchAreCheckedBeforeTheyAreComputed()
    {
        var model = QwenModelTests.Load(QwenFolders.Qwen3);
        var workspace = model.CreateWorkspace(64, 4, 32);
        Assert.Throws<ArgumentException>(() => model.ComputePrefix(workspace, ReadOnlySpan<int>.Empty));
        Assert.Throws<ArgumentException>(() => model.ComputePrefix(workspace, new int[40]));          // longer than the workspace
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentException>(() => model.ComputePrefix(workspace, [5, 999999])).Message);
        Assert.Throws<ArgumentException>(() => ((ITransformerModel)model).Forward(QwenModelTests.Load(QwenFolders.Qwen2).CreateWorkspace(8, 1, 8)));
    }

    [Fact]
    public void QwenThreeRerankerAtItsRealWidthMatchesTheDoubleReference()
    {
        // Qwen3-Reranker-0.6B's config.json as published, depth and vocabulary cut (28 -> 2 layers, 151669 -> 1000 rows): the
        // real head width 128, 16 query heads on 8 key/value heads, H 1024 != nH dH 2048, I 3072, rope_theta 1e6.
        var config = QwenCheckpoint.ReadConfig(Path.Combine(QwenFolders.FixtureFolder, "Qwen3-Reranker-0.6B.config.json"));
        config["num_hidden_layers"] = 2;
        config["vocab_size"] = 1000;
        string folder = QwenFolders.Write("qwen3-reranker-real-width", config, seed: 5);
        int[] ids = QwenFolders.Ids(24, seed: 24);
        var reference = new NaiveQwen(folder);
        double[] logits = reference.LastLogits(ids, QwenFolders.AnswerIds.Yes, QwenFolders.AnswerIds.No);
        var taps = QwenModelTests.RunEngine(QwenModelTests.Load(folder), ids);
        for (int l = 0; l < 2; l++)
        {
            double error = ModernBert.ModernBertModelTests.RelativeError(taps[ModelTaps.Layer(l)], reference.States[$"layer.{l}"]);
            Assert.True(error < 1e-5, $"layer {l}: {error:E2}");
        }
        Assert.True(Math.Abs(taps[ModelTaps.Output][0] - (logits[0] - logits[1])) <= 1e-5 * Math.Max(1, Math.Abs(logits[0]) + Math.Abs(logits[1])));
    }
}
