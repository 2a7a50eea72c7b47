using CrossEncoder.Native.SafeTensors;

namespace CrossEncoder.Native.Model;

/// <summary>What a model's output means.</summary>
public enum ModelKind
{
    /// <summary><c>BertForSequenceClassification</c>: one logit per label for a (query, document) pair read together.</summary>
    CrossEncoder,
    /// <summary><c>BertModel</c> with sentence pooling: one embedding per text; relevance is the cosine of two embeddings.</summary>
    BiEncoder,
}

/// <summary>Receives a named intermediate activation during <see cref="BertModel.Forward"/> (rows x columns, row-major).
/// Names: <c>embeddings</c>, <c>layer.0</c> .. <c>layer.{L-1}</c>, <c>pooler</c> (when the model has one), <c>output</c>.</summary>
public delegate void ActivationTap(string name, ReadOnlySpan<float> values, int rows, int columns);

/// <summary>
/// A BERT encoder with its head, loaded from a Hugging Face model folder (config.json + model.safetensors).
/// Immutable after loading and safe to share between threads; each concurrent caller brings its own <see cref="BertWorkspace"/>.
/// </summary>
public sealed class BertModel
{
    private readonly BertEmbeddings _embeddings;
    private readonly BertLayer[] _layers;
    private readonly BertPooler? _pooler;
    private readonly BertClassifier? _classifier;

    private BertModel(BertConfig config, WeightSource weights, SentencePooling? sentencePooling)
    {
        Config = config;
        _embeddings = new BertEmbeddings(weights, config);
        _layers = Enumerable.Range(0, config.NumHiddenLayers).Select(i => new BertLayer(weights, config, i)).ToArray();
        if (config.IsSequenceClassifier)
        {
            Kind = ModelKind.CrossEncoder;
            _pooler = new BertPooler(weights, config);
            _classifier = new BertClassifier(weights, config);
        }
        else
        {
            Kind = ModelKind.BiEncoder;
            if (weights.Has(WeightNames.Weight(WeightNames.Pooler))) _pooler = new BertPooler(weights, config);
            SentencePooling = sentencePooling ?? new SentencePooling(PoolingMode.Mean, Normalize: false);
        }
        weights.ThrowIfIncomplete();
    }

    /// <summary>The architecture, from config.json.</summary>
    public BertConfig Config { get; }

    /// <summary>Cross-encoder (classification logits) or bi-encoder (sentence embeddings).</summary>
    public ModelKind Kind { get; }

    /// <summary>The bi-encoder's pooling; null for a cross-encoder.</summary>
    public SentencePooling? SentencePooling { get; }

    /// <summary>True when the checkpoint has BERT's pooler (dense + tanh on [CLS]).</summary>
    public bool HasPooler => _pooler is not null;

    /// <summary>Width of one output row: the number of labels or the hidden size.</summary>
    public int OutputSize => Kind == ModelKind.CrossEncoder ? Config.NumLabels : Config.HiddenSize;

    /// <summary>Loads <c>config.json</c>, <c>model.safetensors</c> and (for bi-encoders) the sentence-transformers pooling files.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="ModelFormatException">A file is missing, malformed, or does not match the config.</exception>
    /// <exception cref="SafeTensorsFormatException">model.safetensors violates the format.</exception>
    public static BertModel Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Model folder '{directory}' does not exist.");
        var config = BertConfig.Load(Path.Combine(directory, "config.json"));
        string weightsPath = Path.Combine(directory, "model.safetensors");
        if (!File.Exists(weightsPath))
        {
            string hint = File.Exists(Path.Combine(directory, "model.safetensors.index.json")) ? " The folder has a sharded checkpoint (model.safetensors.index.json), which is not supported yet: merge the shards into one model.safetensors (in Python: load the model and save_pretrained(dir, max_shard_size=\"100GB\"))."
                : File.Exists(Path.Combine(directory, "pytorch_model.bin")) ? " Only safetensors weights are read; pytorch_model.bin is a pickle and is not loaded."
                : Directory.EnumerateFiles(directory, "*.onnx").Any() ? " The folder has an ONNX file: convert it with `crossencoder convert --onnx <file> --vocab <vocab.txt> --out <dir>`."
                : "";
            throw new ModelFormatException(weightsPath, "model.safetensors not found." + hint);
        }
        using var file = SafeTensorsFile.Open(weightsPath);
        var pooling = config.IsSequenceClassifier ? null : SentencePooling.FromModelFolder(directory);
        return new BertModel(config, new WeightSource(file), pooling);
    }

    /// <summary>Creates buffers for batches of up to <paramref name="maxTokens"/> tokens in up to <paramref name="maxSequences"/> sequences.</summary>
    public BertWorkspace CreateWorkspace(int maxTokens, int maxSequences) => new(Config, maxTokens, maxSequences, OutputSize);

    /// <summary>
    /// Runs the encoder and head on <c>workspace.Batch</c> and returns the outputs [B, <see cref="OutputSize"/>]: logits for a
    /// cross-encoder, sentence embeddings for a bi-encoder. The span is valid until the workspace is used again.
    /// </summary>
    public ReadOnlySpan<float> Forward(BertWorkspace workspace, ActivationTap? tap = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        if (workspace.OutputSize != OutputSize || workspace.Hidden.Length % Config.HiddenSize != 0)
            throw new ArgumentException("The workspace was created for another model.", nameof(workspace));
        PackedBatch batch = workspace.Batch;
        int n = batch.TotalTokens, b = batch.Count, h = Config.HiddenSize;
        if (b == 0) return ReadOnlySpan<float>.Empty;
        Span<float> hidden = workspace.Hidden.AsSpan(0, n * h);                        // [N, H] residual stream

        _embeddings.Forward(batch, hidden);                                              // word + position + type, LayerNorm
        tap?.Invoke("embeddings", hidden, n, h);
        for (int i = 0; i < _layers.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _layers[i].Forward(hidden, batch, workspace);                                // attention + FFN, each post-LN
            tap?.Invoke($"layer.{i}", hidden, n, h);
        }
        _pooler?.Forward(hidden, batch, workspace.ClsRows, workspace.Pooled);           // [B, H] tanh(dense([CLS]))
        if (_pooler is not null) tap?.Invoke("pooler", workspace.Pooled.AsSpan(0, b * h), b, h);

        Span<float> output = workspace.Output.AsSpan(0, b * OutputSize);              // [B, out]
        if (_classifier is not null) _classifier.Forward(workspace.Pooled, output, b);  // logits = pooled W^T + b
        else SentencePooling!.Forward(hidden, batch, h, output);                         // mean/CLS pooling (+ L2 norm)
        tap?.Invoke("output", output, b, OutputSize);
        return output;
    }
}
