using System.Collections.Concurrent;
using CrossEncoder.Native.Hub;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking;

/// <summary>
/// Re-scores candidate documents against a query and returns them best first. Loads a model folder once; safe to call from
/// many threads at the same time (each call rents its own activation workspace).
/// </summary>
/// <example>
/// <code>
/// using var reranker = Reranker.Load("weights/ms-marco-MiniLM-L-6-v2");
/// foreach (var hit in reranker.Rerank("what is a reranker?", passages, topK: 3))
///     Console.WriteLine($"{hit.Score:F3}  {passages[hit.Index]}");
/// </code>
/// </example>
public sealed partial class Reranker : IDisposable
{
    private readonly ConcurrentBag<BertWorkspace> _workspaces = new();
    private readonly RerankerOptions _options;
    private readonly int _modelMaxLength;
    private readonly bool _identityActivation;
    private readonly int[] _zeroTypeIds;   // [T] token type ids of models with a single type (RoBERTa)

    private Reranker(BertModel model, ITextPairTokenizer tokenizer, RerankerOptions options)
    {
        Model = model;
        Tokenizer = tokenizer;
        _options = options;
        _modelMaxLength = Math.Min(model.Config.MaxSequenceLength, tokenizer.ModelMaxLength);
        if (tokenizer.VocabularySize > model.Config.VocabSize)
            throw new ModelFormatException("tokenizer", $"the tokenizer has {tokenizer.VocabularySize} tokens but the model's embedding table only {model.Config.VocabSize} rows (config.json vocab_size): they do not belong together.");
        if (model.Kind == ModelKind.CrossEncoder && model.Config.NumLabels != 1)
            throw new ModelFormatException("config.json", $"a reranking cross-encoder has one label (a relevance logit); this model has {model.Config.NumLabels}.");
        _zeroTypeIds = new int[_modelMaxLength];
        _identityActivation = model.Config.SentenceTransformersActivation is { } activation && activation.EndsWith("Identity", StringComparison.Ordinal);
    }

    /// <summary>The encoder.</summary>
    public BertModel Model { get; }

    /// <summary>The model's tokenizer: <see cref="BertTokenizer"/> for BERT WordPiece folders, <see cref="PipelineTokenizer"/>
    /// for other tokenizer.json files and SentencePiece models.</summary>
    public ITextPairTokenizer Tokenizer { get; }

    /// <summary>Why <see cref="Precision.Auto"/> chose fp32 (null when the requested precision was used).</summary>
    public string? PrecisionNote { get; private init; }

    /// <summary>Cross-encoder (pairs read together) or bi-encoder (cosine of separate embeddings).</summary>
    public ModelKind Kind => Model.Kind;

    /// <summary>The longest input the model accepts, in tokens.</summary>
    public int ModelMaxLength => _modelMaxLength;

    /// <summary>
    /// Loads a Hugging Face model folder (config.json, model.safetensors, and tokenizer.json, sentencepiece.bpe.model or vocab.txt,
    /// see <see cref="TokenizerLoader.FromModelFolder"/>), or a Hub model by id, <c>org/name</c> or <c>org/name@revision</c>,
    /// downloaded once into the shared huggingface_hub cache (see <see cref="RerankerOptions.Hub"/>). BERT, XLM-RoBERTa / RoBERTa
    /// and ELECTRA encoders load. A folder that exists on disk always wins over a Hub id of the same spelling.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist (and the name is not a Hub id).</exception>
    /// <exception cref="FormatException">A file is missing, malformed or unsupported (the message names it).</exception>
    /// <exception cref="HubException">The Hub download failed, or offline and not cached (one-line message).</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled during a download.</exception>
    public static Reranker Load(string modelDirectory, RerankerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        options ??= new RerankerOptions();
        if (!Directory.Exists(modelDirectory) && HubModelId.TryParse(modelDirectory, out var hubId))
            modelDirectory = HubDownloader.DownloadModelAsync(hubId, options.Hub, cancellationToken).GetAwaiter().GetResult();
        if (options.MaxBatchTokens <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.MaxBatchTokens, "MaxBatchTokens must be positive.");
        if (options.MaxBatchSequences <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.MaxBatchSequences, "MaxBatchSequences must be positive.");
        var tokenizer = TokenizerLoader.FromModelFolder(modelDirectory);
        var (model, note) = PrecisionCheck.LoadModel(modelDirectory, options.Precision, tokenizer);
        if (note is not null) options.Log?.Invoke(note);
        if (options.Precision == Precision.Fp32 && File.Exists(Path.Combine(modelDirectory, "quantization.json")))
            options.Log?.Invoke($"'{modelDirectory}' holds int8 weights (written by quantize); they run dequantized in fp32. " +
                "Precision.Int8 (--precision int8) runs them as integer products.");
        return new Reranker(model, tokenizer, options) { PrecisionNote = note };
    }

    /// <summary>Asynchronous <see cref="Load"/>: downloads without blocking a thread, then loads on the thread pool.</summary>
    public static async Task<Reranker> LoadAsync(string modelDirectory, RerankerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (!Directory.Exists(modelDirectory) && HubModelId.TryParse(modelDirectory, out var hubId))
            modelDirectory = await HubDownloader.DownloadModelAsync(hubId, options?.Hub, cancellationToken).ConfigureAwait(false);
        return await Task.Run(() => Load(modelDirectory, options, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Scores every document against <paramref name="query"/> and returns the best <paramref name="topK"/> (all when null), best first.</summary>
    /// <exception cref="ArgumentNullException">query or documents (or one document) is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">topK is not positive, or options.MaxLength is out of range.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public IReadOnlyList<RerankResult> Rerank(string query, IReadOnlyList<string> documents, int? topK = null, RerankOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(documents);
        if (topK is <= 0) throw new ArgumentOutOfRangeException(nameof(topK), topK, "topK must be positive (or null for all documents).");
        for (int i = 0; i < documents.Count; i++)
            if (documents[i] is null) throw new ArgumentNullException(nameof(documents), $"Document {i} is null.");
        options ??= _options.Defaults;
        int maxLength = options.MaxLength ?? _modelMaxLength;
        if (maxLength < 3 || maxLength > _modelMaxLength)
            throw new ArgumentOutOfRangeException(nameof(options), maxLength, $"MaxLength must be between 3 and the model's limit {_modelMaxLength}.");
        if (documents.Count == 0) return [];
        cancellationToken.ThrowIfCancellationRequested();

        var results = Model.Kind == ModelKind.CrossEncoder
            ? ScorePairs(query, documents, maxLength, options.Truncation, cancellationToken)
            : ScoreByCosine(query, documents, maxLength, cancellationToken);
        Array.Sort(results, static (x, y) => y.Score != x.Score ? y.Score.CompareTo(x.Score) : x.Index.CompareTo(y.Index));
        return topK is { } k && k < results.Length ? results[..k] : results;
    }

    /// <summary>Asynchronous <see cref="Rerank"/>: runs on the thread pool; cancellation stops work between layers and batches.</summary>
    public Task<IReadOnlyList<RerankResult>> RerankAsync(string query, IReadOnlyList<string> documents, int? topK = null, RerankOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(documents);
        return Task.Run(() => Rerank(query, documents, topK, options, cancellationToken), cancellationToken);
    }

    /// <summary>Cross-encoder: [CLS] query [SEP] document [SEP] for each document, one logit each.</summary>
    private RerankResult[] ScorePairs(string query, IReadOnlyList<string> documents, int maxLength, TruncationStrategy strategy, CancellationToken cancellationToken)
    {
        int[] queryIds = Tokenizer.EncodeToIds(query);
        var pairs = new EncodedPair[documents.Count];
        for (int i = 0; i < pairs.Length; i++)
        {
            if ((i & 15) == 0) cancellationToken.ThrowIfCancellationRequested();
            pairs[i] = Tokenizer.EncodePair(queryIds, Tokenizer.EncodeToIds(documents[i]), maxLength, strategy);
        }
        var logits = new float[pairs.Length];
        RunBatched(pairs, logits, cancellationToken);
        var results = new RerankResult[pairs.Length];
        for (int i = 0; i < pairs.Length; i++)
            results[i] = new RerankResult(i, _identityActivation ? logits[i] : Activations.Sigmoid(logits[i]), logits[i], pairs[i].Truncation);
        return results;
    }

    /// <summary>Bi-encoder: embed the query and each document separately; relevance is the cosine of the two vectors.</summary>
    private RerankResult[] ScoreByCosine(string query, IReadOnlyList<string> documents, int maxLength, CancellationToken cancellationToken)
    {
        var inputs = new EncodedPair[documents.Count + 1];
        inputs[0] = Tokenizer.EncodeSingle(query, maxLength);
        for (int i = 0; i < documents.Count; i++)
        {
            if ((i & 15) == 0) cancellationToken.ThrowIfCancellationRequested();
            inputs[i + 1] = Tokenizer.EncodeSingle(documents[i], maxLength);
        }
        int h = Model.OutputSize;
        var embeddings = new float[inputs.Length * h];   // [1 + D, H]
        RunBatched(inputs, embeddings, cancellationToken);
        var queryVector = embeddings.AsSpan(0, h);
        var results = new RerankResult[documents.Count];
        for (int i = 0; i < documents.Count; i++)
        {
            float cosine = System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(queryVector, embeddings.AsSpan((i + 1) * h, h));
            var cut = inputs[i + 1].Truncation;
            results[i] = new RerankResult(i, cosine, cosine, new TruncationInfo(0, cut.QueryTokensRemoved + cut.DocumentTokensRemoved));
        }
        return results;
    }

    /// <summary>
    /// Runs inputs through the model in batches bounded by the token budget, longest first (similar lengths share a batch),
    /// and writes each input's output row to <paramref name="outputs"/>[index * OutputSize].
    /// </summary>
    private void RunBatched(EncodedPair[] inputs, float[] outputs, CancellationToken cancellationToken)
    {
        int[] order = Enumerable.Range(0, inputs.Length).ToArray();
        Array.Sort(order, (x, y) => inputs[y].Length != inputs[x].Length ? inputs[y].Length.CompareTo(inputs[x].Length) : x.CompareTo(y));
        BertWorkspace workspace = RentWorkspace(inputs.Max(i => i.Length));
        try
        {
            int width = Model.OutputSize, next = 0;
            while (next < order.Length)
            {
                cancellationToken.ThrowIfCancellationRequested();
                PackedBatch batch = workspace.Batch;
                batch.Clear();
                int first = next;
                while (next < order.Length && batch.CanAdd(inputs[order[next]].Length))
                {
                    // RoBERTa-family models have one token type (their tokenizers feed none): every row reads type 0.
                    ReadOnlySpan<int> typeIds = Model.Config.TypeVocabSize == 1 ? _zeroTypeIds.AsSpan(0, inputs[order[next]].Length) : inputs[order[next]].TokenTypeIds;
                    batch.Add(inputs[order[next]].InputIds, typeIds);
                    next++;
                }
                ReadOnlySpan<float> batchOutput = Model.Forward(workspace, tap: null, cancellationToken);   // [b, width]
                for (int j = first; j < next; j++)
                    batchOutput.Slice((j - first) * width, width).CopyTo(outputs.AsSpan(order[j] * width, width));
            }
        }
        finally
        {
            // Keep one idle workspace per core at most: a burst of concurrent calls must not pin its peak memory forever.
            if (_workspaces.Count < Environment.ProcessorCount) _workspaces.Add(workspace);
        }
    }

    /// <summary>A pooled workspace that holds sequences of <paramref name="longest"/> tokens, or a new one. Attention scratch
    /// grows with the square of the longest sequence (nH x T^2 floats: 4.3 GB for 16 heads at bge-reranker-v2-m3's 8,192), so a
    /// new workspace is sized for the inputs at hand (a power of two, at least 512), not for the model's limit.</summary>
    private BertWorkspace RentWorkspace(int longest)
    {
        if (_workspaces.TryTake(out var pooled) && pooled.Batch.MaxSequenceLength >= longest) return pooled;
        int length = Math.Min(_modelMaxLength, Math.Max(512, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)longest)));
        return Model.CreateWorkspace(Math.Max(_options.MaxBatchTokens, length), _options.MaxBatchSequences, length);
    }

    /// <summary>Releases the pooled workspaces.</summary>
    public void Dispose() => _workspaces.Clear();
}
