using CrossEncoder.Native.Model.Common;
using System.Collections.Immutable;
using System.Text.Json;

namespace CrossEncoder.Native.Model.Bert;

/// <summary>
/// The architecture hyper-parameters of a BERT-family encoder (BERT, RoBERTa / XLM-RoBERTa, ELECTRA), mirroring Hugging
/// Face's <c>config.json</c>. The three share one encoder; <see cref="Family"/> selects their embeddings and heads.
/// Immutable and validated once by <see cref="Load"/>; runtime knobs (threads, batch size, precision) live in options, not here.
/// </summary>
internal sealed record BertConfig
{
    /// <summary>Rows of the word-embedding table (V).</summary>
    public required int VocabSize { get; init; }
    /// <summary>Width of every hidden state (H).</summary>
    public required int HiddenSize { get; init; }
    /// <summary>Number of encoder layers (L).</summary>
    public required int NumHiddenLayers { get; init; }
    /// <summary>Attention heads per layer (nH); H must be a multiple of it.</summary>
    public required int NumAttentionHeads { get; init; }
    /// <summary>Width of the feed-forward layer (I).</summary>
    public required int IntermediateSize { get; init; }
    /// <summary>Feed-forward activation; only exact (erf) <c>"gelu"</c> is supported.</summary>
    public string HiddenAct { get; init; } = "gelu";
    /// <summary>Epsilon added to the variance in every LayerNorm.</summary>
    public double LayerNormEps { get; init; } = 1e-12;
    /// <summary>Rows of the position-embedding table: the longest input the model accepts.</summary>
    public required int MaxPositionEmbeddings { get; init; }
    /// <summary>Rows of the token-type (segment) embedding table; 2 for BERT.</summary>
    public int TypeVocabSize { get; init; } = 2;
    /// <summary>Id of the padding token.</summary>
    public int PadTokenId { get; init; }
    /// <summary>Hugging Face <c>model_type</c>: <c>"bert"</c>, <c>"roberta"</c>, <c>"xlm-roberta"</c> or <c>"electra"</c>.</summary>
    public string ModelType { get; init; } = "bert";
    /// <summary>Width of the embedding tables (E): ELECTRA's <c>embedding_size</c>, projected to H when it differs; H otherwise.</summary>
    public int EmbeddingSize { get; init; }
    /// <summary>Hugging Face class names, e.g. <c>BertForSequenceClassification</c> or <c>BertModel</c>.</summary>
    public ImmutableArray<string> Architectures { get; init; } = ImmutableArray<string>.Empty;
    /// <summary>Outputs of a classification head (from <c>num_labels</c> or the size of <c>id2label</c>).</summary>
    public int NumLabels { get; init; } = 2;
    /// <summary>Label names by index (<c>id2label</c>), if given.</summary>
    public ImmutableDictionary<int, string> Id2Label { get; init; } = ImmutableDictionary<int, string>.Empty;
    /// <summary>hidden_dropout_prob: dropout after the embeddings and every dense output, and before the classifier (training only).</summary>
    public double HiddenDropoutProb { get; init; } = 0.1;
    /// <summary>attention_probs_dropout_prob: dropout of the attention probabilities (training only).</summary>
    public double AttentionProbsDropoutProb { get; init; } = 0.1;
    /// <summary>initializer_range: the standard deviation of a new linear layer's weights (Hugging Face's _init_weights).</summary>
    public double InitializerRange { get; init; } = 0.02;

    /// <summary>Which embeddings, weight prefix and head the checkpoint uses, from <see cref="ModelType"/>.</summary>
    public EncoderFamily Family => FamilyOf(ModelType) ?? EncoderFamily.Bert;

    /// <summary>Position id of a sequence's first token: 0 for BERT and ELECTRA; RoBERTa counts from <c>padding_idx + 1</c>
    /// (<c>create_position_ids_from_input_ids</c>), padding_idx being <see cref="PadTokenId"/>.</summary>
    public int FirstPosition => Family == EncoderFamily.Roberta ? PadTokenId + 1 : 0;

    /// <summary>Longest sequence the position table covers, specials included: <see cref="MaxPositionEmbeddings"/> less
    /// RoBERTa's offset (514 rows hold 512 tokens; bge-reranker-v2-m3's 8,194 hold 8,192).</summary>
    public int MaxSequenceLength => MaxPositionEmbeddings - FirstPosition;

    /// <summary>Width of one attention head (dH = H / nH).</summary>
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>True when the checkpoint is a sequence classifier (a cross-encoder): <c>*ForSequenceClassification</c>.</summary>
    public bool IsSequenceClassifier => Architectures.Any(a => a.EndsWith("ForSequenceClassification", StringComparison.Ordinal));

    /// <summary>Reads and validates a <c>config.json</c>.</summary>
    /// <exception cref="ModelFormatException">The file is missing, is not valid JSON, or describes an unsupported model.</exception>
    public static BertConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var document = ModelFolder.ReadConfigJson(path);
        return Parse(document.RootElement, path);
    }

    /// <summary>Parses a config from JSON text; <paramref name="sourceName"/> is used in error messages.</summary>
    public static BertConfig Parse(string json, string sourceName = "config.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var document = JsonEscapes.Parse(json);
            return Parse(document.RootElement, sourceName);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(sourceName, $"not valid JSON ({e.Message})", e);
        }
    }

    private static BertConfig Parse(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "the top level must be a JSON object.");
        var reader = new ConfigReader(root, path);

        var id2Label = reader.Id2Label();

        var config = new BertConfig
        {
            VocabSize = reader.Int("vocab_size"),
            HiddenSize = reader.Int("hidden_size"),
            NumHiddenLayers = reader.Int("num_hidden_layers"),
            NumAttentionHeads = reader.Int("num_attention_heads"),
            IntermediateSize = reader.Int("intermediate_size"),
            MaxPositionEmbeddings = reader.Int("max_position_embeddings"),
            HiddenAct = reader.String("hidden_act", "gelu"),
            LayerNormEps = reader.Double("layer_norm_eps", 1e-12),
            TypeVocabSize = reader.Int("type_vocab_size", 2),
            PadTokenId = reader.Int("pad_token_id", 0),
            ModelType = reader.String("model_type", "bert"),
            EmbeddingSize = reader.Int("embedding_size", reader.Int("hidden_size")),
            Architectures = reader.Strings("architectures"),
            NumLabels = reader.NumLabels(id2Label),
            Id2Label = id2Label,
            HiddenDropoutProb = reader.Double("hidden_dropout_prob", 0.1),
            AttentionProbsDropoutProb = reader.Double("attention_probs_dropout_prob", 0.1),
            InitializerRange = reader.Double("initializer_range", 0.02),
        };
        string positionType = reader.String("position_embedding_type", "absolute");
        config.Validate(path, positionType);
        return config;
    }

    private void Validate(string path, string positionEmbeddingType)
    {
        void Require(bool ok, string problem)
        {
            if (!ok) throw new ModelFormatException(path, problem);
        }

        Require(FamilyOf(ModelType) is not null, $"model_type '{ModelType}' is not supported; this engine runs bert, roberta, xlm-roberta and electra encoders.");
        Require(VocabSize > 0, $"vocab_size must be positive, got {VocabSize}.");
        Require(HiddenSize > 0, $"hidden_size must be positive, got {HiddenSize}.");
        Require(EmbeddingSize > 0, $"embedding_size must be positive, got {EmbeddingSize}.");
        Require(NumHiddenLayers > 0, $"num_hidden_layers must be positive, got {NumHiddenLayers}.");
        Require(NumAttentionHeads > 0, $"num_attention_heads must be positive, got {NumAttentionHeads}.");
        Require(HiddenSize % NumAttentionHeads == 0, $"hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads}.");
        Require(IntermediateSize > 0, $"intermediate_size must be positive, got {IntermediateSize}.");
        Require(MaxPositionEmbeddings >= 3, $"max_position_embeddings must be at least 3, got {MaxPositionEmbeddings}.");
        Require(MaxSequenceLength >= 3, $"max_position_embeddings {MaxPositionEmbeddings} leaves {MaxSequenceLength} positions after RoBERTa's offset (pad_token_id + 1 = {FirstPosition}); at least 3 are needed.");
        Require(TypeVocabSize > 0, $"type_vocab_size must be positive, got {TypeVocabSize}.");
        Require(NumLabels > 0, $"num_labels must be positive, got {NumLabels}.");
        Require(LayerNormEps > 0 && LayerNormEps < 1 && double.IsFinite(LayerNormEps), $"layer_norm_eps must be in (0, 1), got {LayerNormEps}.");
        Require(HiddenDropoutProb >= 0 && HiddenDropoutProb < 1, $"hidden_dropout_prob must be in [0, 1), got {HiddenDropoutProb}.");
        Require(AttentionProbsDropoutProb >= 0 && AttentionProbsDropoutProb < 1, $"attention_probs_dropout_prob must be in [0, 1), got {AttentionProbsDropoutProb}.");
        Require(InitializerRange >= 0 && double.IsFinite(InitializerRange), $"initializer_range must be a finite non-negative number, got {InitializerRange}.");
        Require(HiddenAct == "gelu", $"hidden_act '{HiddenAct}' is not supported; only exact (erf) \"gelu\" is implemented.");
        Require(positionEmbeddingType == "absolute", $"position_embedding_type '{positionEmbeddingType}' is not supported; only \"absolute\" is.");
        Require(PadTokenId >= 0 && PadTokenId < VocabSize, $"pad_token_id {PadTokenId} is outside the vocabulary (size {VocabSize}).");
        // The architecture list decides the head; reject classes whose forward pass differs from the family's encoder + head.
        string classPrefix = Family switch { EncoderFamily.Roberta => ModelType == "roberta" ? "Roberta" : "XLMRoberta", EncoderFamily.Electra => "Electra", _ => "Bert" };
        foreach (string architecture in Architectures)
            Require(Family == EncoderFamily.Bert ? architecture.StartsWith("Bert", StringComparison.Ordinal)
                    : architecture == classPrefix + "Model" || architecture == classPrefix + "ForSequenceClassification",
                $"architecture '{architecture}' is not supported for model_type '{ModelType}'; expected {classPrefix}Model or {classPrefix}ForSequenceClassification.");
    }

    private static EncoderFamily? FamilyOf(string modelType) => modelType switch
    {
        "bert" => EncoderFamily.Bert,
        "roberta" or "xlm-roberta" => EncoderFamily.Roberta,
        "electra" => EncoderFamily.Electra,
        _ => null,
    };
}

/// <summary>The encoder families that share BERT's transformer layers and differ in embeddings, weight names and head.</summary>
internal enum EncoderFamily
{
    /// <summary>BERT: positions from 0, two token types, pooler (dense + tanh) then <c>classifier</c>; names under <c>bert.</c>.</summary>
    Bert,
    /// <summary>RoBERTa and XLM-RoBERTa: positions from <c>padding_idx + 1</c>, one token type, head <c>dense -> tanh -> out_proj</c>
    /// on the first token (no pooler); names under <c>roberta.</c>.</summary>
    Roberta,
    /// <summary>ELECTRA: embeddings of width E projected to H when they differ, head <c>dense -> GELU -> out_proj</c> on [CLS];
    /// names under <c>electra.</c>.</summary>
    Electra,
}
