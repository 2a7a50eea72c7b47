using System.Numerics.Tensors;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Model.Qwen;

/// <summary>The Qwen family for <see cref="ModelLoader"/>: <c>model_type</c> <c>qwen3</c> (Qwen3-Reranker, Qwen3-Embedding) and
/// <c>qwen2</c> (Qwen2 / Qwen2.5 decoders such as mxbai-rerank-v2).</summary>
internal sealed class QwenFamily : IModelFamily
{
    public static readonly QwenFamily Instance = new();

    private QwenFamily() { }

    public string Name => "qwen";

    public IReadOnlyCollection<string> ModelTypes { get; } = ["qwen3", "qwen2"];

    public ITransformerModel Load(ModelFolder folder, Precision precision, KernelCapabilities capabilities) => QwenModel.Load(folder, precision, capabilities);
}

/// <summary>
/// A Qwen2 / Qwen3 decoder loaded from a Hugging Face folder: token embeddings, L pre-norm decoder layers (RMSNorm, causal
/// grouped-query attention with rotary, SwiGLU), a final RMSNorm, then one of two heads:
/// <list type="bullet">
/// <item>a <b>reranker</b> (<see cref="RerankPrompt"/>): the LM head restricted to the prompt's two answer tokens at each
/// sequence's last position, output logit(positive) - logit(negative). The full vocabulary projection (151k rows) is never
/// computed, and the last layer computes only the last rows past its keys and values.</item>
/// <item>an <b>embedding model</b> (Qwen3-Embedding): sentence-transformers' chain (last-token pooling, normalize).</item>
/// </list>
/// Immutable after loading and safe to share between threads; each concurrent caller brings its own workspace.
/// </summary>
internal sealed class QwenModel : IPrefixCachingModel, IPromptedReranker
{
    private readonly float[] _embeddings;              // [V, H]
    private readonly QwenDecoderLayer[] _layers;
    private readonly RmsNormParameters _finalNorm;
    private readonly float[]? _answerRows;             // [2, H]: the LM head rows of the positive and negative answer
    private readonly SentenceTransformersHead? _sentenceHead;
    private readonly RerankPrompt? _prompt;

    private QwenModel(QwenConfig config, WeightSource weights, ModelFolder folder)
    {
        Config = config;
        int h = config.HiddenSize;
        _embeddings = weights.Take(QwenWeightNames.TokenEmbeddings, [config.VocabSize, h]);   // first: ties H and V to the file
        var rotary = new RotaryTable(config.HeadDim, config.RopeTheta, config.MaxPositionEmbeddings);
        _layers = [.. Enumerable.Range(0, config.NumHiddenLayers).Select(i => new QwenDecoderLayer(weights, config, i, rotary))];
        _finalNorm = RmsNormParameters.Load(weights, QwenWeightNames.FinalNorm, h, config.RmsNormEps);

        var sentenceHead = folder.PromptName is null ? SentenceTransformersHead.TryLoad(folder, h, weights.Capabilities) : null;
        if (sentenceHead is not null && !sentenceHead.IsScore)
        {
            _sentenceHead = sentenceHead;                                    // Qwen3-Embedding: last-token pooling -> normalize
            weights.Ignore(QwenWeightNames.LanguageModelHead);
        }
        else
        {
            _prompt = folder.PromptName is { } name ? RerankPrompt.Named(name) : RerankPrompt.FromName(folder.Directory)
                ?? throw new ModelFormatException(folder.ConfigPath,
                    $"this is a {string.Join("/", config.Architectures.DefaultIfEmpty(folder.ModelType))} language model with no reranking head. " +
                    $"A decoder reranks through its prompt: name it ({string.Join(", ", RerankPrompt.BuiltIn.Select(p => p.Name))}) with " +
                    "RerankerOptions.Prompt or --prompt; it is recognised from the folder or Hub name when that contains " +
                    $"{string.Join(" or ", RerankPrompt.BuiltIn.SelectMany(p => p.NameHints))}.");
            var tokenizer = folder.Tokenizer ?? TokenizerLoader.FromModelFolder(folder.Directory);
            int positive = _prompt.AnswerTokenId(tokenizer, _prompt.PositiveToken), negative = _prompt.AnswerTokenId(tokenizer, _prompt.NegativeToken);
            float[] head = config.TieWordEmbeddings ? _embeddings : weights.Take(QwenWeightNames.LanguageModelHead, [config.VocabSize, h], underModelPrefix: false);
            if (head.Length > 0)
            {
                if (positive >= config.VocabSize || negative >= config.VocabSize)
                    throw new ModelFormatException(folder.ConfigPath, $"the answer tokens' ids ({positive}, {negative}) are outside the vocabulary (size {config.VocabSize}).");
                _answerRows = new float[2 * h];
                head.AsSpan(positive * h, h).CopyTo(_answerRows);
                head.AsSpan(negative * h, h).CopyTo(_answerRows.AsSpan(h));
            }
            AnswerTokenIds = [positive, negative];
        }
        weights.ThrowIfIncomplete();
        QuantizableTensors = weights.Quantizable.ToArray();
        OutputSize = _sentenceHead?.OutputSize ?? 1;
        Description = new ModelDescription
        {
            Family = folder.ModelType,
            ModelType = folder.ModelType,
            Architectures = config.Architectures,
            Kind = _sentenceHead is null ? ModelKind.CrossEncoder : ModelKind.BiEncoder,
            OutputSize = OutputSize,
            MaxSequenceLength = config.MaxPositionEmbeddings,
            VocabularySize = config.VocabSize,
            TypeVocabularySize = 1,
            HiddenSize = h,
            Layers = config.NumHiddenLayers,
            Precision = weights.Precision,
            ScoreTransform = _sentenceHead is null ? ScoreTransform.Sigmoid : ScoreTransform.Cosine,
            ScoringRule = _prompt?.Rule,
            Prompt = _prompt?.Name,
        };
    }

    /// <inheritdoc/>
    public ModelDescription Description { get; }

    /// <inheritdoc/>
    public IReadOnlyList<QuantizableTensor> QuantizableTensors { get; }

    /// <summary>The architecture, from config.json.</summary>
    public QwenConfig Config { get; }

    /// <summary>Width of one output row: 1 (the answer logits' difference) for a reranker, the embedding width otherwise.</summary>
    public int OutputSize { get; }

    /// <summary>Ids of the positive and negative answer tokens (reranker only).</summary>
    public int[] AnswerTokenIds { get; } = [];

    /// <inheritdoc/>
    public RerankPrompt Prompt => _prompt ?? throw new InvalidOperationException("This Qwen model is an embedding model; it has no reranking prompt.");

    /// <summary>Loads <c>config.json</c> and the weights in fp32 or int8. Callers outside the family go through <see cref="ModelLoader"/>.</summary>
    /// <exception cref="ModelFormatException">A file is missing, malformed, or does not match the config.</exception>
    public static QwenModel Load(ModelFolder folder, Precision precision, KernelCapabilities capabilities)
    {
        if (precision is not (Precision.Fp32 or Precision.Int8)) throw new ArgumentOutOfRangeException(nameof(precision), precision, "QwenModel loads Fp32 or Int8; Auto is chosen by the loader.");
        var config = QwenConfig.Load(folder.ConfigPath, folder.ModelType);
        using var file = folder.OpenWeights();
        return new QwenModel(config, new WeightSource(file, QwenWeightNames.Naming, precision, capabilities), folder);
    }

    /// <inheritdoc/>
    public ModelWorkspace CreateWorkspace(int maxTokens, int maxSequences, int maxSequenceLength)
    {
        if (maxSequenceLength <= 0) throw new ArgumentOutOfRangeException(nameof(maxSequenceLength), maxSequenceLength, "The sequence length must be positive.");
        return new QwenWorkspace(Config, maxTokens, maxSequences, OutputSize, maxSequenceLength, _sentenceHead?.HeadHiddenSize ?? Config.HiddenSize);
    }

    private QwenWorkspace Own(ModelWorkspace workspace) =>
        workspace is QwenWorkspace ws && ws.OutputSize == OutputSize && ws.Hidden.Length % Config.HiddenSize == 0 && ws.QueryKeyValue.Length % Config.QueryKeyValueWidth == 0
            ? ws : throw new ArgumentException("The workspace was created for another model.", nameof(workspace));

    /// <summary>
    /// Runs the decoder and head on <c>workspace.Batch</c> (continuing the workspace's prefix, if one was computed) and returns
    /// [B, <see cref="OutputSize"/>]: logit(positive) - logit(negative) at each sequence's last token for a reranker, sentence
    /// embeddings for an embedding model. Without a tap, a reranker's last layer computes only the last rows past attention.
    /// </summary>
    public ReadOnlySpan<float> Forward(ModelWorkspace workspace, ActivationTap? tap = null, CancellationToken cancellationToken = default)
    {
        var ws = Own(workspace);
        if (tap is not null && ws.PrefixLength > 0)
            throw new ArgumentException("A tapped forward pass computes whole sequences: clear the workspace's prefix first.", nameof(tap));
        PackedBatch batch = ws.Batch;
        int n = batch.TotalTokens, b = batch.Count, h = Config.HiddenSize;
        if (b == 0) return ReadOnlySpan<float>.Empty;
        Span<float> hidden = ws.Hidden.AsSpan(0, n * h);                             // [N, H] residual stream
        Embed(batch, hidden);                                                          // embed_tokens[id]
        tap?.Invoke(ModelTaps.Embeddings, hidden, n, h);
        bool lastOnly = tap is null && _sentenceHead is null;
        for (int i = 0; i < _layers.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _layers[i].Forward(hidden, batch, ws, ws.PrefixOf(i), store: null, lastTokenOnly: lastOnly && i == _layers.Length - 1, keyValuesOnly: false, tap);
            if (!lastOnly) tap?.Invoke(ModelTaps.Layer(i), hidden, n, h);
        }

        Span<float> output = ws.Output.AsSpan(0, b * OutputSize);                    // [B, out]
        if (_sentenceHead is not null)
        {
            _finalNorm.Forward(hidden, hidden, n);                                     // last_hidden_state [N, H]
            Span<float> headHidden = ws.FinalRows.AsSpan(0, b * _sentenceHead.HeadHiddenSize);
            _sentenceHead.Forward(hidden, batch, output, headHidden);                  // last-token pooling -> normalize
            tap?.Invoke(ModelTaps.HeadHidden, headHidden, b, _sentenceHead.HeadHiddenSize);
        }
        else
        {
            Span<float> last = ws.LastRows.AsSpan(0, b * h);                          // [B, H] each sequence's last residual row
            if (!lastOnly)
                for (int s = 0; s < b; s++) hidden.Slice((batch.Starts[s + 1] - 1) * h, h).CopyTo(last.Slice(s * h, h));
            Span<float> final = ws.FinalRows.AsSpan(0, b * h);                        // [B, H] model.norm of the last tokens
            _finalNorm.Forward(last, final, b);
            tap?.Invoke(ModelTaps.HeadHidden, final, b, h);
            ReadOnlySpan<float> positive = _answerRows.AsSpan(0, h), negative = _answerRows.AsSpan(h, h);
            for (int s = 0; s < b; s++)
            {
                ReadOnlySpan<float> row = final.Slice(s * h, h);
                output[s] = TensorPrimitives.Dot(row, positive) - TensorPrimitives.Dot(row, negative);   // lm_head rows of the two answers
            }
        }
        tap?.Invoke(ModelTaps.Output, output, b, OutputSize);
        return output;
    }

    /// <inheritdoc/>
    public void ComputePrefix(ModelWorkspace workspace, ReadOnlySpan<int> prefixIds, CancellationToken cancellationToken = default)
    {
        var ws = Own(workspace);
        if (prefixIds.IsEmpty) throw new ArgumentException("A prefix needs at least one token.", nameof(prefixIds));
        PackedBatch batch = ws.Batch;
        ws.PrefixLength = 0;
        batch.Clear();
        batch.Add(prefixIds, new int[prefixIds.Length]);                               // one sequence: the prefix
        var cache = ws.CacheFor(prefixIds.Length);
        int p = prefixIds.Length, h = Config.HiddenSize;
        Span<float> hidden = ws.Hidden.AsSpan(0, p * h);                              // [P, H]
        Embed(batch, hidden);
        for (int i = 0; i < _layers.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Keys and values of every layer are kept; the last layer's output is never read, so it stops after them.
            _layers[i].Forward(hidden, batch, ws, prefix: null, store: cache[i], lastTokenOnly: false, keyValuesOnly: i == _layers.Length - 1);
        }
        batch.Clear();
        ws.PrefixLength = p;
    }

    /// <inheritdoc/>
    public void ClearPrefix(ModelWorkspace workspace) => Own(workspace).PrefixLength = 0;

    private void Embed(PackedBatch batch, Span<float> hidden)
    {
        int h = Config.HiddenSize;
        for (int row = 0; row < batch.TotalTokens; row++)
            _embeddings.AsSpan(batch.InputIds[row] * h, h).CopyTo(hidden.Slice(row * h, h));
    }
}
