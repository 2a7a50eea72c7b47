using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.Bert;

/// <summary>The BERT family for <see cref="ModelLoader"/>: BERT, RoBERTa / XLM-RoBERTa and ELECTRA checkpoints.</summary>
internal sealed class BertFamily : IModelFamily
{
    public static readonly BertFamily Instance = new();

    private BertFamily() { }

    public string Name => "bert";

    public IReadOnlyCollection<string> ModelTypes { get; } = ["bert", "roberta", "xlm-roberta", "electra"];

    public ITransformerModel Load(ModelFolder folder, Precision precision, KernelCapabilities capabilities) => BertModel.Load(folder, precision, capabilities);
}

/// <summary>
/// A BERT-family encoder (BERT, RoBERTa / XLM-RoBERTa, ELECTRA: <see cref="BertConfig.Family"/>) with its head, loaded from a
/// Hugging Face model folder (config.json + model.safetensors). The families share the encoder layers; they differ in the
/// embeddings (position offset, ELECTRA's projection) and the classification head.
/// Immutable after loading and safe to share between threads; each concurrent caller brings its own <see cref="BertWorkspace"/>.
/// </summary>
internal sealed class BertModel : ITransformerModel
{
    private readonly BertEmbeddings _embeddings;
    private readonly ElectraEmbeddingsProject? _embeddingsProject;
    private readonly ISequenceClassificationHead? _head;
    private readonly BertLayer[] _layers;
    private readonly BertPooler? _pooler;
    private readonly BertClassifier? _classifier;

    private BertModel(BertConfig config, WeightSource weights, SentenceTransformersHead? sentenceHead, ModelFolder folder)
    {
        Config = config;
        Precision = weights.Precision;
        _embeddings = new BertEmbeddings(weights, config);
        if (config.EmbeddingSize != config.HiddenSize) _embeddingsProject = new ElectraEmbeddingsProject(weights, config);
        _layers = Enumerable.Range(0, config.NumHiddenLayers).Select(i => new BertLayer(weights, config, i)).ToArray();
        if (config.IsSequenceClassifier)
        {
            Kind = ModelKind.CrossEncoder;
            switch (config.Family)
            {
                case EncoderFamily.Roberta:
                    _head = new RobertaClassificationHead(weights, config);
                    weights.Ignore(BertWeightNames.PoolerModule);   // RobertaForSequenceClassification is built without the pooler; a stray one is unused
                    break;
                case EncoderFamily.Electra:
                    _head = new ElectraClassificationHead(weights, config);
                    break;
                default:
                    _pooler = new BertPooler(weights, config);
                    _classifier = new BertClassifier(weights, config);
                    break;
            }
        }
        else
        {
            // No classification head: sentence-transformers' module chain (modules.json) is the head, a bi-encoder's pooling
            // (mean by default) or a 5.x CrossEncoder's Pooling -> Dense ... -> Dense(1) scorer.
            SentenceHead = sentenceHead ?? SentenceTransformersHead.MeanPooling(config.HiddenSize);
            Kind = SentenceHead.IsScore ? ModelKind.CrossEncoder : ModelKind.BiEncoder;
            if (weights.Has(TensorNaming.Weight(BertWeightNames.Pooler))) _pooler = new BertPooler(weights, config);
        }
        weights.ThrowIfIncomplete();
        QuantizableTensors = weights.Quantizable.ToArray();
        Description = new ModelDescription
        {
            Family = config.Family.ToString().ToLowerInvariant(),
            ModelType = config.ModelType,
            Architectures = config.Architectures,
            Kind = Kind,
            OutputSize = OutputSize,
            MaxSequenceLength = config.MaxSequenceLength,
            VocabularySize = config.VocabSize,
            TypeVocabularySize = config.TypeVocabSize,
            HiddenSize = config.HiddenSize,
            Layers = config.NumHiddenLayers,
            Precision = Precision,
            ScoreTransform = Kind == ModelKind.BiEncoder ? ScoreTransform.Cosine : folder.CrossEncoderTransform,
        };
    }

    /// <inheritdoc/>
    public ModelDescription Description { get; }

    /// <inheritdoc/>
    public IReadOnlyList<QuantizableTensor> QuantizableTensors { get; }

    /// <summary>The architecture, from config.json.</summary>
    public BertConfig Config { get; }

    /// <summary>Fp32 or Int8: the arithmetic of the encoder's linear layers.</summary>
    public Precision Precision { get; }

    /// <summary>Cross-encoder (classification logits) or bi-encoder (sentence embeddings).</summary>
    public ModelKind Kind { get; }

    /// <summary>The sentence-transformers head (modules.json) of a checkpoint without a classification head: a bi-encoder's
    /// pooling chain or a sentence-transformers CrossEncoder's scorer; null for a <c>*ForSequenceClassification</c> checkpoint.</summary>
    public SentenceTransformersHead? SentenceHead { get; }

    /// <summary>True when the checkpoint has BERT's pooler (dense + tanh on [CLS]).</summary>
    public bool HasPooler => _pooler is not null;

    /// <summary>Width of one output row: the number of labels, or the sentence-transformers head's output (the embedding
    /// width, or 1 for its score).</summary>
    public int OutputSize => SentenceHead?.OutputSize ?? Config.NumLabels;

    /// <summary>Loads <c>config.json</c>, <c>model.safetensors</c> and (without a classification head) the sentence-transformers
    /// module chain (<c>modules.json</c> and its module folders, see <see cref="SentenceTransformersHead"/>),
    /// in fp32 or int8 (a folder written by <c>quantize</c> too). Callers outside the family go through <see cref="ModelLoader"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="ModelFormatException">A file is missing, malformed, or does not match the config.</exception>
    public static BertModel Load(string directory, Precision precision = Precision.Fp32, KernelCapabilities? capabilities = null) =>
        Load(ModelFolder.Open(directory), precision, capabilities ?? KernelCapabilities.Default);

    /// <inheritdoc cref="Load(string, Precision, KernelCapabilities?)"/>
    public static BertModel Load(ModelFolder folder, Precision precision, KernelCapabilities capabilities)
    {
        if (precision is not (Precision.Fp32 or Precision.Int8)) throw new ArgumentOutOfRangeException(nameof(precision), precision, "BertModel loads Fp32 or Int8; Auto is chosen by the loader.");
        var config = BertConfig.Load(folder.ConfigPath);
        using var file = folder.OpenWeights();
        var head = config.IsSequenceClassifier ? null : SentenceTransformersHead.TryLoad(folder, config.HiddenSize, capabilities);
        var weights = new WeightSource(file, BertWeightNames.NamingOf(config.Family), precision, capabilities);
        return new BertModel(config, weights, head, folder);
    }

    /// <summary>Creates buffers for batches of up to <paramref name="maxTokens"/> tokens in up to <paramref name="maxSequences"/> sequences.</summary>
    public BertWorkspace CreateWorkspace(int maxTokens, int maxSequences) => new(Config, maxTokens, maxSequences, OutputSize, headHiddenSize: HeadHiddenSize);

    /// <summary>Width of the <see cref="ModelTaps.HeadHidden"/> rows: what the last projection reads.</summary>
    private int HeadHiddenSize => SentenceHead?.HeadHiddenSize ?? Config.HiddenSize;

    ModelWorkspace ITransformerModel.CreateWorkspace(int maxTokens, int maxSequences, int maxSequenceLength) => CreateWorkspace(maxTokens, maxSequences, maxSequenceLength);

    ReadOnlySpan<float> ITransformerModel.Forward(ModelWorkspace workspace, ActivationTap? tap, CancellationToken cancellationToken) =>
        Forward(workspace as BertWorkspace ?? throw new ArgumentException("The workspace was created for another model.", nameof(workspace)), tap, cancellationToken);

    /// <summary>The same, for sequences of at most <paramref name="maxSequenceLength"/> tokens (the batch rejects longer ones).
    /// Attention needs no per-workspace scratch: each thread scores blocks of 96 query rows in its own buffer (96 x T floats).</summary>
    public BertWorkspace CreateWorkspace(int maxTokens, int maxSequences, int maxSequenceLength)
    {
        if (maxSequenceLength <= 0) throw new ArgumentOutOfRangeException(nameof(maxSequenceLength), maxSequenceLength, "The sequence length must be positive.");
        return new(Config, maxTokens, maxSequences, OutputSize, maxSequenceLength, HeadHiddenSize);
    }

    /// <summary>
    /// Runs the encoder and head on <c>workspace.Batch</c> and returns the outputs [B, <see cref="OutputSize"/>]: logits for a
    /// cross-encoder, sentence embeddings for a bi-encoder. The span is valid until the workspace is used again.
    /// </summary>
    /// <remarks>A cross-encoder's head (a classifier, or a sentence-transformers chain with CLS pooling) reads only the first
    /// token ([CLS]) of each sequence, so without a tap the last layer
    /// computes that row only (keys and values still from every token): the same logits for ~14 % fewer flops on 6 layers.
    /// With a tap, every layer is computed in full so that each tapped activation is complete. Taps: those of
    /// <see cref="ModelTaps"/>, plus this family's <c>pooler</c> [B, H] when the checkpoint has BERT's pooler (ONNX exports
    /// compare it as <c>pooler_output</c>).</remarks>
    public ReadOnlySpan<float> Forward(BertWorkspace workspace, ActivationTap? tap = null, CancellationToken cancellationToken = default)
        => ForwardCore(workspace, tap, firstTokensOnly: tap is null && Kind == ModelKind.CrossEncoder && (SentenceHead?.ReadsFirstTokenOnly ?? true), cancellationToken);

    /// <summary><see cref="Forward(BertWorkspace, ActivationTap?, CancellationToken)"/> with the last-layer shortcut chosen by the caller (tests compare both).</summary>
    internal ReadOnlySpan<float> ForwardCore(BertWorkspace workspace, ActivationTap? tap, bool firstTokensOnly, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        if (workspace.OutputSize != OutputSize || workspace.Hidden.Length % Config.HiddenSize != 0 ||
            workspace.HeadHidden.Length < workspace.Batch.SequenceCapacity * (SentenceHead?.HeadHiddenSize ?? 0))
            throw new ArgumentException("The workspace was created for another model.", nameof(workspace));
        PackedBatch batch = workspace.Batch;
        int n = batch.TotalTokens, b = batch.Count, h = Config.HiddenSize;
        if (b == 0) return ReadOnlySpan<float>.Empty;
        Span<float> hidden = workspace.Hidden.AsSpan(0, n * h);                        // [N, H] residual stream

        if (_embeddingsProject is null) _embeddings.Forward(batch, hidden);             // word + position + type, LayerNorm
        else
        {
            Span<float> embedded = workspace.Embedded.AsSpan(0, n * Config.EmbeddingSize);   // [N, E]
            _embeddings.Forward(batch, embedded);                                        // ELECTRA: the same, E wide,
            _embeddingsProject.Forward(embedded, hidden, n);                             // then widened to H
        }
        tap?.Invoke(ModelTaps.Embeddings, hidden, n, h);
        for (int i = 0; i < _layers.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (firstTokensOnly && i == _layers.Length - 1)
                _layers[i].ForwardFirstTokens(hidden, batch, workspace);                 // last layer: only the [CLS] rows the head reads
            else
                _layers[i].Forward(hidden, batch, workspace, tap);                       // attention + FFN, each post-LN
            tap?.Invoke(ModelTaps.Layer(i), hidden, n, h);
        }
        _pooler?.Forward(hidden, batch, workspace.ClsRows, workspace.Pooled);           // [B, H] tanh(dense([CLS]))
        if (_pooler is not null) tap?.Invoke(BertWeightNames.PoolerModule, workspace.Pooled.AsSpan(0, b * h), b, h);

        Span<float> output = workspace.Output.AsSpan(0, b * OutputSize);              // [B, out]
        Span<float> headHidden = workspace.Pooled.AsSpan(0, b * h);                    // [B, H] what the last projection reads
        if (_classifier is not null) _classifier.Forward(workspace.Pooled, output, b);  // logits = pooled W^T + b
        else if (_head is not null) _head.Forward(hidden, batch, workspace.ClsRows, workspace.Pooled, output);   // out_proj(act(dense(h[first])))
        else
        {
            headHidden = workspace.HeadHidden.AsSpan(0, b * SentenceHead!.HeadHiddenSize);
            SentenceHead.Forward(hidden, batch, output, headHidden);                     // pooling -> dense/LayerNorm/normalize chain
        }
        if (tap is not null)
        {
            // head.hidden: what the last projection reads (pooled [CLS] for BERT, act(dense(first token)) for the two-layer
            // heads, the input of a sentence-transformers chain's last Dense), or the sentence vector itself for a chain
            // without one.
            tap(ModelTaps.HeadHidden, headHidden, b, headHidden.Length / b);
            tap(ModelTaps.Output, output, b, OutputSize);
        }
        return output;
    }
}
