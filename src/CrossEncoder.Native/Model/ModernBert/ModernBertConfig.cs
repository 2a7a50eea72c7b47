using System.Collections.Immutable;
using System.Text.Json;
using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.ModernBert;

/// <summary>
/// The hyper-parameters of a ModernBERT encoder (Warner et al. 2024; transformers' <c>ModernBertConfig</c>), from config.json in
/// either style: the classic fields (<c>global_attn_every_n_layers</c>, <c>global_rope_theta</c>, <c>local_rope_theta</c>) or
/// the newer <c>layer_types</c> (<c>"full_attention"</c> / <c>"sliding_attention"</c> per layer) with
/// <c>rope_parameters</c> (<c>{"full_attention": {"rope_theta": ...}, "sliding_attention": {...}}</c>).
/// Missing fields take transformers' defaults (ModernBERT-base's values).
/// </summary>
internal sealed record ModernBertConfig
{
    /// <summary>Rows of the token-embedding table (V).</summary>
    public required int VocabSize { get; init; }
    /// <summary>Width of every hidden state (H).</summary>
    public required int HiddenSize { get; init; }
    /// <summary>Number of encoder layers (L).</summary>
    public required int NumHiddenLayers { get; init; }
    /// <summary>Attention heads per layer (nH).</summary>
    public required int NumAttentionHeads { get; init; }
    /// <summary>Width of the gated feed-forward layer (I); Wi is [2I, H].</summary>
    public required int IntermediateSize { get; init; }
    /// <summary>The longest input the model was trained for (8,192 for ModernBERT).</summary>
    public required int MaxPositionEmbeddings { get; init; }
    /// <summary>The feed-forward activation inside the GeGLU; exact (erf) <c>"gelu"</c>.</summary>
    public string HiddenActivation { get; init; } = "gelu";
    /// <summary>The prediction head's activation (<c>classifier_activation</c>).</summary>
    public string ClassifierActivation { get; init; } = "gelu";
    /// <summary>Epsilon of every LayerNorm (<c>norm_eps</c>).</summary>
    public double NormEps { get; init; } = 1e-5;
    /// <summary>Whether LayerNorms have a bias (beta).</summary>
    public bool NormBias { get; init; }
    /// <summary>Whether Wqkv and the attention's Wo have biases.</summary>
    public bool AttentionBias { get; init; }
    /// <summary>Whether the MLP's Wi and Wo have biases.</summary>
    public bool MlpBias { get; init; }
    /// <summary>Whether the prediction head's dense layer has a bias (the classifier itself always has one).</summary>
    public bool ClassifierBias { get; init; }
    /// <summary><c>"cls"</c> (first token) or <c>"mean"</c> (average of the sequence's tokens) before the head.</summary>
    public string ClassifierPooling { get; init; } = "cls";
    /// <summary>Total width of a local layer's window (<c>local_attention</c>, 128): each token sees <see cref="WindowRadius"/> on each side.</summary>
    public int LocalAttention { get; init; } = 128;
    /// <summary>Per layer: true for global (full) attention, false for sliding-window attention.</summary>
    public required ImmutableArray<bool> GlobalLayers { get; init; }
    /// <summary>Rotary base of the global layers (160,000 for ModernBERT).</summary>
    public double GlobalRopeTheta { get; init; } = 160_000;
    /// <summary>Rotary base of the local layers (10,000).</summary>
    public double LocalRopeTheta { get; init; } = 10_000;
    /// <summary>Id of the padding token.</summary>
    public int PadTokenId { get; init; } = 50283;
    /// <summary>Hugging Face class names.</summary>
    public ImmutableArray<string> Architectures { get; init; } = ImmutableArray<string>.Empty;
    /// <summary>Outputs of the classifier.</summary>
    public int NumLabels { get; init; } = 2;

    /// <summary>Width of one attention head (dH = H / nH).</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Keys on each side a token of a local layer attends to: <c>local_attention // 2</c> (transformers' <c>sliding_window</c>).</summary>
    public int WindowRadius => LocalAttention / 2;

    /// <summary>True for <c>ModernBertForSequenceClassification</c>: the checkpoint has <c>head</c> and <c>classifier</c>.</summary>
    public bool IsSequenceClassifier => Architectures.Contains("ModernBertForSequenceClassification");

    /// <summary>Most layers a config may declare (ModernBERT-large has 28): a guard against hostile files, checked before
    /// anything is sized from the count.</summary>
    public const int MaxLayers = 1024;

    /// <summary>Longest position table a config may declare (ModernBERT's is 8,192); the rotary tables are sized from it.</summary>
    public const int MaxPositions = 1 << 17;

    /// <summary>Reads and validates a <c>config.json</c>.</summary>
    /// <exception cref="ModelFormatException">The file is missing, is not valid JSON, or describes an unsupported model.</exception>
    public static ModernBertConfig Load(string path)
    {
        using var document = ModelFolder.ReadConfigJson(path);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "the top level must be a JSON object.");
        var reader = new ConfigReader(root, path);
        int layers = reader.Int("num_hidden_layers", 22);
        if (layers <= 0 || layers > MaxLayers) throw new ModelFormatException(path, $"num_hidden_layers must be between 1 and {MaxLayers}, got {layers}.");
        var (globalLayers, globalTheta, localTheta) = ReadLayerPattern(root, reader, layers);
        var config = new ModernBertConfig
        {
            VocabSize = reader.Int("vocab_size", 50368),
            HiddenSize = reader.Int("hidden_size", 768),
            NumHiddenLayers = layers,
            NumAttentionHeads = reader.Int("num_attention_heads", 12),
            IntermediateSize = reader.Int("intermediate_size", 1152),
            MaxPositionEmbeddings = reader.Int("max_position_embeddings", 8192),
            HiddenActivation = reader.String("hidden_activation", "gelu"),
            ClassifierActivation = reader.String("classifier_activation", "gelu"),
            NormEps = reader.Double("norm_eps", 1e-5),
            NormBias = reader.Bool("norm_bias", false),
            AttentionBias = reader.Bool("attention_bias", false),
            MlpBias = reader.Bool("mlp_bias", false),
            ClassifierBias = reader.Bool("classifier_bias", false),
            ClassifierPooling = reader.String("classifier_pooling", "cls"),
            LocalAttention = reader.Int("local_attention", 128),
            GlobalLayers = globalLayers,
            GlobalRopeTheta = globalTheta,
            LocalRopeTheta = localTheta,
            PadTokenId = reader.Int("pad_token_id", 50283),
            Architectures = reader.Strings("architectures"),
            NumLabels = reader.NumLabels(reader.Id2Label()),
        };
        config.Validate(path, reader);
        return config;
    }

    /// <summary>
    /// Which layers are global, and the two rotary bases. Classic configs: layer i is global when
    /// <c>i % global_attn_every_n_layers == 0</c> (layers 0, 3, 6, ... for ModernBERT), thetas from <c>global_rope_theta</c>
    /// and <c>local_rope_theta</c>. Newer configs name each layer in <c>layer_types</c> and the thetas in
    /// <c>rope_parameters</c>; when both styles are present, the newer one wins (as transformers 5 reads them).
    /// </summary>
    private static (ImmutableArray<bool> Global, double GlobalTheta, double LocalTheta) ReadLayerPattern(JsonElement root, ConfigReader reader, int layers)
    {
        double globalTheta = reader.Double("global_rope_theta", 160_000), localTheta = reader.Double("local_rope_theta", 10_000);
        if (reader.Object("rope_parameters") is { } rope)
        {
            globalTheta = RopeTheta(rope, "full_attention", globalTheta, reader.Path);
            localTheta = RopeTheta(rope, "sliding_attention", localTheta, reader.Path);
        }
        if (root.TryGetProperty("layer_types", out var types) && types.ValueKind != JsonValueKind.Null)
        {
            if (types.ValueKind != JsonValueKind.Array) throw new ModelFormatException(reader.Path, $"field 'layer_types' must be an array, got {types.GetRawText()}.");
            var list = types.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.String ? t.GetString()! : t.GetRawText()).ToList();
            if (list.Count != layers)
                throw new ModelFormatException(reader.Path, $"layer_types has {list.Count} entries but num_hidden_layers is {layers}.");
            foreach (string type in list)
                if (type is not ("full_attention" or "sliding_attention"))
                    throw new ModelFormatException(reader.Path, $"layer type '{type}' is not supported; ModernBERT layers are \"full_attention\" or \"sliding_attention\".");
            return ([.. list.Select(t => t == "full_attention")], globalTheta, localTheta);
        }
        int every = reader.Int("global_attn_every_n_layers", 3);
        if (every <= 0) throw new ModelFormatException(reader.Path, $"global_attn_every_n_layers must be positive, got {every}.");
        return ([.. Enumerable.Range(0, Math.Max(layers, 0)).Select(i => i % every == 0)], globalTheta, localTheta);
    }

    private static double RopeTheta(JsonElement rope, string layerType, double fallback, string path)
    {
        if (!rope.TryGetProperty(layerType, out var parameters) || parameters.ValueKind == JsonValueKind.Null) return fallback;
        if (parameters.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, $"rope_parameters.{layerType} must be an object.");
        if (parameters.TryGetProperty("rope_type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() != "default")
            throw new ModelFormatException(path, $"rope_parameters.{layerType}.rope_type '{type.GetString()}' is not supported; only \"default\" rotary embeddings are.");
        if (!parameters.TryGetProperty("rope_theta", out var theta) || theta.ValueKind == JsonValueKind.Null) return fallback;
        if (theta.ValueKind != JsonValueKind.Number) throw new ModelFormatException(path, $"rope_parameters.{layerType}.rope_theta must be a number, got {theta.GetRawText()}.");
        return theta.GetDouble();
    }

    private void Validate(string path, ConfigReader reader)
    {
        void Require(bool ok, string problem)
        {
            if (!ok) throw new ModelFormatException(path, problem);
        }

        Require(VocabSize > 0, $"vocab_size must be positive, got {VocabSize}.");
        Require(HiddenSize > 0, $"hidden_size must be positive, got {HiddenSize}.");
        Require(NumHiddenLayers > 0, $"num_hidden_layers must be positive, got {NumHiddenLayers}.");
        Require(NumAttentionHeads > 0, $"num_attention_heads must be positive, got {NumAttentionHeads}.");
        Require(HiddenSize % NumAttentionHeads == 0, $"hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads}.");
        Require(HeadDim <= 1024, $"the head width hidden_size / num_attention_heads = {HeadDim} exceeds 1024.");
        Require(HeadDim % 2 == 0, $"the head width hidden_size / num_attention_heads = {HeadDim} must be even for rotary embeddings.");
        Require(IntermediateSize > 0, $"intermediate_size must be positive, got {IntermediateSize}.");
        Require(MaxPositionEmbeddings >= 3 && MaxPositionEmbeddings <= MaxPositions, $"max_position_embeddings must be between 3 and {MaxPositions}, got {MaxPositionEmbeddings}.");
        Require((long)MaxPositionEmbeddings * HeadDim <= 1 << 24,
            $"max_position_embeddings {MaxPositionEmbeddings} x head width {HeadDim} would need rotary tables of more than 2^24 floats.");
        Require(LocalAttention >= 2, $"local_attention must be at least 2, got {LocalAttention}.");
        Require(NumLabels > 0, $"num_labels must be positive, got {NumLabels}.");
        Require(NormEps > 0 && NormEps < 1 && double.IsFinite(NormEps), $"norm_eps must be in (0, 1), got {NormEps}.");
        Require(GlobalRopeTheta > 1 && double.IsFinite(GlobalRopeTheta), $"the global rotary theta must be a finite number above 1, got {GlobalRopeTheta}.");
        Require(LocalRopeTheta > 1 && double.IsFinite(LocalRopeTheta), $"the local rotary theta must be a finite number above 1, got {LocalRopeTheta}.");
        Require(HiddenActivation == "gelu", $"hidden_activation '{HiddenActivation}' is not supported; only exact (erf) \"gelu\" is implemented.");
        Require(ClassifierActivation is "gelu" or "tanh" or "relu" or "silu" or "linear",
            $"classifier_activation '{ClassifierActivation}' is not supported; supported: gelu, tanh, relu, silu, linear.");
        Require(ClassifierPooling is "cls" or "mean", $"classifier_pooling '{ClassifierPooling}' is not supported; ModernBERT pools with \"cls\" or \"mean\".");
        Require(PadTokenId >= 0 && PadTokenId < VocabSize, $"pad_token_id {PadTokenId} is outside the vocabulary (size {VocabSize}).");
        foreach (string architecture in Architectures)
            Require(architecture is "ModernBertModel" or "ModernBertForSequenceClassification" or "ModernBertForMaskedLM",
                $"architecture '{architecture}' is not supported for model_type 'modernbert'; expected ModernBertModel, ModernBertForSequenceClassification or ModernBertForMaskedLM (whose encoder is used).");
        _ = reader;
    }
}
