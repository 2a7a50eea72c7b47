using System.Collections.Immutable;
using System.Text.Json;
using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.Qwen;

/// <summary>Which of the two decoder variants a checkpoint is (they differ in two places of the attention block).</summary>
internal enum QwenVariant
{
    /// <summary>Qwen2 / Qwen2.5 (<c>model_type</c> <c>qwen2</c>; mxbai-rerank-v2): q, k and v projections with biases, no q/k norm.</summary>
    Qwen2,
    /// <summary>Qwen3 (<c>model_type</c> <c>qwen3</c>; Qwen3-Reranker, Qwen3-Embedding): an RMSNorm over each query and key head
    /// before rotary; biases only when <c>attention_bias</c> says so; an explicit <c>head_dim</c>.</summary>
    Qwen3,
}

/// <summary>
/// The hyper-parameters of a Qwen2 / Qwen3 decoder (transformers' <c>Qwen2Config</c> / <c>Qwen3Config</c>) from config.json.
/// Missing fields take transformers' defaults; every size is checked before anything is allocated from it.
/// </summary>
internal sealed record QwenConfig
{
    public required QwenVariant Variant { get; init; }
    /// <summary>Rows of the token-embedding table (V).</summary>
    public required int VocabSize { get; init; }
    /// <summary>Width of the residual stream (H).</summary>
    public required int HiddenSize { get; init; }
    /// <summary>Width of the SwiGLU feed-forward layer (I).</summary>
    public required int IntermediateSize { get; init; }
    /// <summary>Decoder layers (L).</summary>
    public required int NumHiddenLayers { get; init; }
    /// <summary>Query heads per layer (nH).</summary>
    public required int NumAttentionHeads { get; init; }
    /// <summary>Key/value heads per layer (nKV): each serves nH / nKV query heads (grouped-query attention).</summary>
    public required int NumKeyValueHeads { get; init; }
    /// <summary>Width of one head (dH): <c>head_dim</c> when given (Qwen3: 128, so nH dH may differ from H), else H / nH.</summary>
    public required int HeadDim { get; init; }
    /// <summary>Positions the rotary table covers.</summary>
    public required int MaxPositionEmbeddings { get; init; }
    /// <summary>Rotary base.</summary>
    public double RopeTheta { get; init; } = 1_000_000;
    /// <summary>Epsilon of every RMSNorm.</summary>
    public double RmsNormEps { get; init; } = 1e-6;
    /// <summary>True when the LM head is the embedding table (no <c>lm_head.weight</c> in the checkpoint).</summary>
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Whether q, k and v have biases: always for Qwen2 (<c>bias=True</c> in Qwen2Attention), <c>attention_bias</c> for Qwen3.</summary>
    public bool QueryKeyValueBias { get; init; }
    /// <summary>Whether o_proj has a bias: never for Qwen2, <c>attention_bias</c> for Qwen3.</summary>
    public bool OutputBias { get; init; }
    /// <summary>Hugging Face class names.</summary>
    public ImmutableArray<string> Architectures { get; init; } = ImmutableArray<string>.Empty;

    /// <summary>Query heads per key/value head.</summary>
    public int GroupSize => NumAttentionHeads / NumKeyValueHeads;

    /// <summary>Width of the fused q | k | v projection: (nH + 2 nKV) dH.</summary>
    public int QueryKeyValueWidth => (NumAttentionHeads + 2 * NumKeyValueHeads) * HeadDim;

    /// <summary>Guards against hostile files, checked before anything is sized: Qwen3-8B has 36 layers, 40,960 positions.</summary>
    public const int MaxLayers = 1024;
    public const int MaxPositions = 1 << 20;

    /// <summary>Reads and validates a <c>config.json</c> whose <c>model_type</c> is <c>qwen2</c> or <c>qwen3</c>.</summary>
    /// <exception cref="ModelFormatException">The file is missing, not valid JSON, or describes an unsupported model.</exception>
    public static QwenConfig Load(string path, string modelType)
    {
        using var document = ModelFolder.ReadConfigJson(path);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "the top level must be a JSON object.");
        var reader = new ConfigReader(root, path);
        var variant = modelType == "qwen3" ? QwenVariant.Qwen3 : QwenVariant.Qwen2;
        int hidden = reader.Int("hidden_size", 4096);
        int heads = reader.Int("num_attention_heads", 32);
        if (heads <= 0) throw new ModelFormatException(path, $"num_attention_heads must be positive, got {heads}.");
        var config = new QwenConfig
        {
            Variant = variant,
            VocabSize = reader.Int("vocab_size", 151936),
            HiddenSize = hidden,
            IntermediateSize = reader.Int("intermediate_size", 22016),
            NumHiddenLayers = reader.Int("num_hidden_layers", 32),
            NumAttentionHeads = heads,
            NumKeyValueHeads = reader.Int("num_key_value_heads", heads),
            // Qwen3Config always has a head_dim (default 128); Qwen2Attention takes config.head_dim when the file has one, else H / nH.
            HeadDim = reader.Has("head_dim") ? reader.Int("head_dim") : variant == QwenVariant.Qwen3 ? 128 : hidden / heads,
            MaxPositionEmbeddings = reader.Int("max_position_embeddings", 32768),
            RopeTheta = reader.Double("rope_theta", 10_000),
            RmsNormEps = reader.Double("rms_norm_eps", 1e-6),
            TieWordEmbeddings = reader.Bool("tie_word_embeddings", false),
            QueryKeyValueBias = variant == QwenVariant.Qwen2 || reader.Bool("attention_bias", false),
            OutputBias = variant == QwenVariant.Qwen3 && reader.Bool("attention_bias", false),
            Architectures = reader.Strings("architectures"),
        };
        config.Validate(reader);
        return config;
    }

    private void Validate(ConfigReader reader)
    {
        string path = reader.Path;
        void Require(bool ok, string problem)
        {
            if (!ok) throw new ModelFormatException(path, problem);
        }

        Require(NumHiddenLayers > 0 && NumHiddenLayers <= MaxLayers, $"num_hidden_layers must be between 1 and {MaxLayers}, got {NumHiddenLayers}.");
        Require(VocabSize > 0, $"vocab_size must be positive, got {VocabSize}.");
        Require(HiddenSize > 0, $"hidden_size must be positive, got {HiddenSize}.");
        Require(IntermediateSize > 0, $"intermediate_size must be positive, got {IntermediateSize}.");
        Require(NumKeyValueHeads > 0 && NumAttentionHeads % NumKeyValueHeads == 0,
            $"num_attention_heads {NumAttentionHeads} must be a positive multiple of num_key_value_heads {NumKeyValueHeads} (each key/value head serves a whole group of query heads).");
        Require(HeadDim > 0 && HeadDim <= 1024 && HeadDim % 2 == 0, $"the head width (head_dim, or hidden_size / num_attention_heads) must be even and between 2 and 1024, got {HeadDim}.");
        Require(reader.Has("head_dim") || Variant == QwenVariant.Qwen3 || HiddenSize % NumAttentionHeads == 0, $"hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads} and no head_dim is given.");
        Require((long)NumAttentionHeads * HeadDim <= 1 << 16, $"num_attention_heads x head_dim = {(long)NumAttentionHeads * HeadDim} is implausibly large.");
        Require(MaxPositionEmbeddings >= 2 && MaxPositionEmbeddings <= MaxPositions, $"max_position_embeddings must be between 2 and {MaxPositions}, got {MaxPositionEmbeddings}.");
        Require((long)MaxPositionEmbeddings * HeadDim <= 1 << 24,
            $"max_position_embeddings {MaxPositionEmbeddings} x head_dim {HeadDim} would need rotary tables of more than 2^24 floats.");
        Require(RopeTheta > 1 && double.IsFinite(RopeTheta), $"rope_theta must be a finite number above 1, got {RopeTheta}.");
        Require(RmsNormEps > 0 && RmsNormEps < 1 && double.IsFinite(RmsNormEps), $"rms_norm_eps must be in (0, 1), got {RmsNormEps}.");
        string activation = reader.String("hidden_act", "silu");
        Require(activation == "silu", $"hidden_act '{activation}' is not supported; Qwen's feed-forward is SwiGLU (\"silu\").");
        if (reader.Object("rope_scaling") is { } scaling)
        {
            string? kind = null;
            foreach (string field in new[] { "rope_type", "type" })
                if (kind is null && scaling.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.String) kind = value.GetString();
            Require(kind == "default", $"rope_scaling {scaling.GetRawText()} is not supported; only plain rotary embeddings (rope_scaling null) are implemented.");
        }
        // A sliding window only applies when use_sliding_window is true (Qwen2/3 releases ship it false).
        Require(!reader.Bool("use_sliding_window", false), "use_sliding_window true is not supported; every Qwen reranker attends to all earlier tokens.");
        foreach (string architecture in Architectures)
            Require(architecture is "Qwen3ForCausalLM" or "Qwen2ForCausalLM" or "Qwen3Model" or "Qwen2Model",
                $"architecture '{architecture}' is not supported for this decoder; expected Qwen3ForCausalLM, Qwen2ForCausalLM or the bare Qwen3Model / Qwen2Model.");
    }
}
