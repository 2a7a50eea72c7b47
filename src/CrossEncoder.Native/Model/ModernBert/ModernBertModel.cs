using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.ModernBert;

/// <summary>The ModernBERT family for <see cref="ModelLoader"/>: <c>model_type</c> <c>modernbert</c> (ModernBERT, gte-modernbert,
/// gte-reranker-modernbert, the Ettin encoders and rerankers).</summary>
internal sealed class ModernBertFamily : IModelFamily
{
    public static readonly ModernBertFamily Instance = new();

    private ModernBertFamily() { }

    public string Name => "modernbert";

    public IReadOnlyCollection<string> ModelTypes { get; } = ["modernbert"];

    public ITransformerModel Load(ModelFolder folder, Precision precision, KernelCapabilities capabilities) => ModernBertModel.Load(folder, precision, capabilities);
}

/// <summary>
/// A ModernBERT encoder with its head, loaded from a Hugging Face model folder: token embeddings + LayerNorm, L pre-norm layers
/// (rotary attention, global every few layers and sliding-window in between; GeGLU feed-forward), a final LayerNorm, then
/// <c>ModernBertForSequenceClassification</c>'s head (a cross-encoder) or sentence pooling (a bi-encoder).
/// Immutable after loading and safe to share between threads; each concurrent caller brings its own workspace.
/// </summary>
internal sealed class ModernBertModel : ITransformerModel
{
    /// <summary>Tap of the final LayerNorm's output [N, H] (transformers' <c>last_hidden_state</c>); <c>layer.{i}</c> taps are
    /// the residual stream before it.</summary>
    public const string FinalNormTap = "final_norm";

    private readonly ModernBertEmbeddings _embeddings;
    private readonly ModernBertEncoderLayer[] _layers;
    private readonly LayerNormParameters _finalNorm;
    private readonly ModernBertPredictionHead? _head;
    private readonly SentenceTransformersHead? _sentenceHead;

    private ModernBertModel(ModernBertConfig config, WeightSource weights, ModelFolder folder)
    {
        Config = config;
        _embeddings = new ModernBertEmbeddings(weights, config);   // first: its shape check ties H to the file before anything is sized from it
        var globalRotary = new RotaryTable(config.HeadDim, config.GlobalRopeTheta, config.MaxPositionEmbeddings);
        var localRotary = new RotaryTable(config.HeadDim, config.LocalRopeTheta, config.MaxPositionEmbeddings);
        _layers = Enumerable.Range(0, config.NumHiddenLayers).Select(i => new ModernBertEncoderLayer(weights, config, i, globalRotary, localRotary)).ToArray();
        _finalNorm = LayerNormParameters.Load(weights, ModernBertWeightNames.FinalNorm, config.HiddenSize, config.NormEps, config.NormBias);
        ModelKind kind;
        if (config.IsSequenceClassifier)
        {
            kind = ModelKind.CrossEncoder;
            _head = new ModernBertPredictionHead(weights, config);
        }
        else
        {
            // A bare encoder: sentence-transformers' module chain (modules.json) is the head. An embedding model's pooling
            // (gte-modernbert-base: CLS + Normalize; mean by default), or the Ettin rerankers' CrossEncoder chain
            // Pooling(cls) -> Dense(H, H, GELU) -> LayerNorm -> Dense(H, 1).
            weights.Ignore(ModernBertWeightNames.Head.Module);   // ModernBertForMaskedLM's prediction head, unused here
            _sentenceHead = SentenceTransformersHead.TryLoad(folder, config.HiddenSize, weights.Capabilities) ?? SentenceTransformersHead.MeanPooling(config.HiddenSize);
            kind = _sentenceHead.IsScore ? ModelKind.CrossEncoder : ModelKind.BiEncoder;
        }
        weights.ThrowIfIncomplete();
        QuantizableTensors = weights.Quantizable.ToArray();
        OutputSize = _sentenceHead?.OutputSize ?? config.NumLabels;
        HeadHiddenSize = _sentenceHead?.HeadHiddenSize ?? config.HiddenSize;
        Description = new ModelDescription
        {
            Family = "modernbert",
            ModelType = "modernbert",
            Architectures = config.Architectures,
            Kind = kind,
            OutputSize = OutputSize,
            MaxSequenceLength = config.MaxPositionEmbeddings,
            VocabularySize = config.VocabSize,
            TypeVocabularySize = 1,
            HiddenSize = config.HiddenSize,
            Layers = config.NumHiddenLayers,
            Precision = weights.Precision,
            ScoreTransform = kind == ModelKind.BiEncoder ? ScoreTransform.Cosine : folder.CrossEncoderTransform,
        };
    }

    /// <inheritdoc/>
    public ModelDescription Description { get; }

    /// <inheritdoc/>
    public IReadOnlyList<QuantizableTensor> QuantizableTensors { get; }

    /// <summary>The architecture, from config.json.</summary>
    public ModernBertConfig Config { get; }

    /// <summary>Width of one output row: the number of labels, or the sentence-transformers chain's output.</summary>
    public int OutputSize { get; }

    /// <summary>Width of what the last projection reads (the <c>head.hidden</c> tap).</summary>
    public int HeadHiddenSize { get; }

    /// <summary>Loads <c>config.json</c> and <c>model.safetensors</c> in fp32 or int8. Callers outside the family go through <see cref="ModelLoader"/>.</summary>
    /// <exception cref="ModelFormatException">A file is missing, malformed, or does not match the config.</exception>
    public static ModernBertModel Load(ModelFolder folder, Precision precision, KernelCapabilities capabilities)
    {
        if (precision is not (Precision.Fp32 or Precision.Int8)) throw new ArgumentOutOfRangeException(nameof(precision), precision, "ModernBertModel loads Fp32 or Int8; Auto is chosen by the loader.");
        var config = ModernBertConfig.Load(folder.ConfigPath);
        using var file = folder.OpenWeights();
        return new ModernBertModel(config, new WeightSource(file, ModernBertWeightNames.Naming, precision, capabilities), folder);
    }

    /// <inheritdoc/>
    public ModelWorkspace CreateWorkspace(int maxTokens, int maxSequences, int maxSequenceLength)
    {
        if (maxSequenceLength <= 0) throw new ArgumentOutOfRangeException(nameof(maxSequenceLength), maxSequenceLength, "The sequence length must be positive.");
        return new ModernBertWorkspace(Config, maxTokens, maxSequences, OutputSize, maxSequenceLength, HeadHiddenSize);
    }

    /// <summary>
    /// Runs the encoder and head on <c>workspace.Batch</c> and returns [B, <see cref="OutputSize"/>]: logits for a cross-encoder,
    /// sentence embeddings for a bi-encoder. Taps: <see cref="ModelTaps"/> plus <see cref="FinalNormTap"/>.
    /// </summary>
    /// <remarks>A head that reads only [CLS] (CLS pooling: the Ettin rerankers, gte-modernbert-base) needs only the first
    /// token of each sequence from the last layer, so without a tap that layer computes those rows only (keys and values
    /// still from every token): the same output for about 1/L less work. With a tap every layer is computed in full.</remarks>
    public ReadOnlySpan<float> Forward(ModelWorkspace workspace, ActivationTap? tap = null, CancellationToken cancellationToken = default)
        => ForwardCore(workspace, tap, firstTokensOnly: tap is null && (_head?.ReadsFirstTokenOnly ?? _sentenceHead!.ReadsFirstTokenOnly), cancellationToken);

    /// <summary><see cref="Forward"/> with the last-layer shortcut chosen by the caller (tests compare both).</summary>
    internal ReadOnlySpan<float> ForwardCore(ModelWorkspace workspace, ActivationTap? tap, bool firstTokensOnly, CancellationToken cancellationToken)
    {
        var ws = workspace as ModernBertWorkspace ?? throw new ArgumentException("The workspace was created for another model.", nameof(workspace));
        if (ws.OutputSize != OutputSize || ws.Hidden.Length % Config.HiddenSize != 0) throw new ArgumentException("The workspace was created for another model.", nameof(workspace));
        PackedBatch batch = ws.Batch;
        int n = batch.TotalTokens, b = batch.Count, h = Config.HiddenSize;
        if (b == 0) return ReadOnlySpan<float>.Empty;
        Span<float> hidden = ws.Hidden.AsSpan(0, n * h);                            // [N, H] residual stream

        _embeddings.Forward(batch, hidden);                                          // LayerNorm(tok_embeddings[id])
        tap?.Invoke(ModelTaps.Embeddings, hidden, n, h);
        for (int i = 0; i < _layers.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (firstTokensOnly && i == _layers.Length - 1)
                _layers[i].ForwardFirstTokens(hidden, batch, ws);                    // last layer: only the [CLS] rows the head reads
            else
                _layers[i].Forward(hidden, batch, ws, tap);                          // h += attn(norm h); h += mlp(norm h)
            tap?.Invoke(ModelTaps.Layer(i), hidden, n, h);
        }
        _finalNorm.Forward(hidden, n);                                               // last_hidden_state [N, H]
        tap?.Invoke(FinalNormTap, hidden, n, h);

        Span<float> output = ws.Output.AsSpan(0, b * OutputSize);                  // [B, out]
        if (_head is not null)
        {
            _head.Forward(hidden, batch, ws.Pooled, ws.HeadHidden, output);          // classifier(norm(act(dense(pool(h)))))
            tap?.Invoke(ModelTaps.HeadHidden, ws.HeadHidden.AsSpan(0, b * h), b, h);
        }
        else
        {
            Span<float> headHidden = ws.HeadHidden.AsSpan(0, b * HeadHiddenSize);    // [B, head hidden]
            _sentenceHead!.Forward(hidden, batch, output, headHidden);               // pooling -> dense/LayerNorm/normalize chain
            tap?.Invoke(ModelTaps.HeadHidden, headHidden, b, HeadHiddenSize);
        }
        tap?.Invoke(ModelTaps.Output, output, b, OutputSize);
        return output;
    }
}
