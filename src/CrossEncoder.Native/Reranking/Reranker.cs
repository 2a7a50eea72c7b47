using System.Collections.Concurrent;
using CrossEncoder.Native.Hub;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Common;
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
    private readonly ConcurrentBag<ModelWorkspace> _workspaces = new();
    private readonly RerankerOptions _options;
    private readonly int _modelMaxLength;

    private Reranker(ITransformerModel model, ITextPairTokenizer tokenizer, RerankerOptions options)
    {
        Model = model;
        Tokenizer = tokenizer;
        _options = options;
        var description = model.Description;
        _modelMaxLength = Math.Min(description.MaxSequenceLength, tokenizer.ModelMaxLength);
        if (tokenizer.VocabularySize > description.VocabularySize)
            throw new ModelFormatException("tokenizer", $"the tokenizer has {tokenizer.VocabularySize} tokens but the model's embedding table only {description.VocabularySize} rows (config.json vocab_size): they do not belong together.");
        if (description.Kind == ModelKind.CrossEncoder && description.OutputSize != 1)
            throw new ModelFormatException("config.json", $"a reranking cross-encoder has one label (a relevance logit); this model has {description.OutputSize}.");
    }

    /// <summary>The kernel paths and thread limit the model runs on.</summary>
    internal KernelCapabilities Capabilities => _options.Capabilities ?? KernelCapabilities.Default;

    /// <summary>The loaded model behind the seam (tests and tools read its taps).</summary>
    internal ITransformerModel Model { get; }

    /// <summary>What the loaded model is: family, kind, output width, limits, precision and score transform.</summary>
    public ModelDescription Description => Model.Description;

    /// <summary>The model's tokenizer: <see cref="BertTokenizer"/> for BERT WordPiece folders, <see cref="PipelineTokenizer"/>
    /// for other tokenizer.json files and SentencePiece models.</summary>
    public ITextPairTokenizer Tokenizer { get; }

    /// <summary>The text a bi-encoder puts before a query (sentence-transformers' <c>prompts.query</c>, e.g. Qwen3-Embedding's
    /// <c>Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:</c>), as its
    /// <c>encode_query</c> does; <see cref="Rerank"/> applies it, <see cref="Embed(IReadOnlyList{string}, int?, CancellationToken)"/>
    /// embeds texts as given (prepend it to queries yourself). Null when the model has none.</summary>
    public string? QueryPrompt { get; private init; }

    /// <summary>Why <see cref="Precision.Auto"/> chose fp32 (null when the requested precision was used).</summary>
    public string? PrecisionNote { get; private init; }

    /// <summary>Cross-encoder (pairs read together) or bi-encoder (cosine of separate embeddings).</summary>
    public ModelKind Kind => Model.Description.Kind;

    /// <summary>The longest input the model accepts, in tokens: the smaller of the model's position limit and the
    /// tokenizer's <c>model_max_length</c>. Every maximum length a caller gives is checked against it in one place.</summary>
    public int ModelMaxLength => _modelMaxLength;

    /// <summary>
    /// Loads a Hugging Face model folder (config.json, model.safetensors or a sharded checkpoint (model.safetensors.index.json and
    /// its shards), and tokenizer.json, sentencepiece.bpe.model or vocab.txt,
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
        var (model, note) = ModelLoader.Load(modelDirectory, options.Precision, tokenizer, options.Capabilities, options.Prompt);
        if (note is not null) options.Log?.Invoke(note);
        if (options.Precision == Precision.Fp32 && File.Exists(Path.Combine(modelDirectory, "quantization.json")))
            options.Log?.Invoke($"'{modelDirectory}' holds int8 weights (written by quantize); they run dequantized in fp32. " +
                "Precision.Int8 (--precision int8) runs them as integer products.");
        string? queryPrompt = model.Description.Kind == ModelKind.BiEncoder ? ModelFolder.Open(modelDirectory).QueryPrompt : null;
        return new Reranker(model, tokenizer, options) { PrecisionNote = note, QueryPrompt = queryPrompt };
    }

    /// <summary>Asynchronous <see cref="Load"/>: downloads without blocking a thread, then loads on the thread pool.</summary>
    public static async Task<Reranker> LoadAsync(string modelDirectory, RerankerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (!Directory.Exists(modelDirectory) && HubModelId.TryParse(modelDirectory, out var hubId))
            modelDirectory = await HubDownloader.DownloadModelAsync(hubId, options?.Hub, cancellationToken).ConfigureAwait(false);
        return await Task.Run(() => Load(modelDirectory, options, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Scores every document against <paramref name="query"/> and returns the best <paramref name="topK"/> (all when null),
    /// best first: <see cref="Encode"/>, <see cref="Forward"/> and <see cref="Score"/> in one call.</summary>
    /// <exception cref="ArgumentNullException">query or documents (or one document) is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">topK is not positive, or options.MaxLength is out of range.</exception>
    /// <exception cref="ModelComputationException">The model computed a NaN or an infinity (an activation overflowed); the
    /// message names the stage.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public IReadOnlyList<RerankResult> Rerank(string query, IReadOnlyList<string> documents, int? topK = null, RerankOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        if (topK is <= 0) throw new ArgumentOutOfRangeException(nameof(topK), topK, "topK must be positive (or null for all documents).");
        var inputs = Encode(query, documents, options, cancellationToken);
        if (documents.Count == 0) return [];
        var outputs = new float[inputs.Sequences.Count * OutputSize];
        RunBatched(inputs.Sequences, outputs, cancellationToken);
        var results = Score(inputs, outputs);
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

    /// <summary>The one check of a caller's maximum length: null means the model's limit; otherwise it must lie in
    /// [<paramref name="minimum"/>, <see cref="ModelMaxLength"/>].</summary>
    private int ResolveMaxLength(int? requested, int minimum, string parameterName)
    {
        int length = requested ?? _modelMaxLength;
        if (length < minimum || length > _modelMaxLength)
            throw new ArgumentOutOfRangeException(parameterName, length, $"The maximum length must be between {minimum} and the model's limit {_modelMaxLength}.");
        return length;
    }

    /// <summary>
    /// Runs inputs through the model in batches bounded by the token budget, longest first (similar lengths share a batch),
    /// and writes each input's output row to <paramref name="outputs"/>[index * OutputSize].
    /// </summary>
    private void RunBatched(IReadOnlyList<EncodedPair> inputs, Span<float> outputs, CancellationToken cancellationToken)
    {
        if (inputs.Count == 0) return;
        Interlocked.Increment(ref _batchedRuns);
        int[] order = Enumerable.Range(0, inputs.Count).ToArray();
        Array.Sort(order, (x, y) => inputs[y].Length != inputs[x].Length ? inputs[y].Length.CompareTo(inputs[x].Length) : x.CompareTo(y));
        ModelWorkspace workspace = RentWorkspace(inputs[order[0]].Length);
        // A decoder computes the tokens every input starts with (prompt, instruction, query) once, then each input's rest.
        var decoder = _options.CachePromptPrefix ? Model as IPrefixCachingModel : null;
        int shared = decoder is null ? 0 : SharedPrefixLength(inputs);
        try
        {
            if (shared > 0) decoder!.ComputePrefix(workspace, inputs[0].InputIds.AsSpan(0, shared), cancellationToken);
            int width = OutputSize, next = 0;
            while (next < order.Length)
            {
                cancellationToken.ThrowIfCancellationRequested();
                PackedBatch batch = workspace.Batch;
                batch.Clear();
                int first = next;
                while (next < order.Length && batch.CanAdd(inputs[order[next]].Length - shared))
                {
                    if (shared > 0) batch.Add(inputs[order[next]].InputIds.AsSpan(shared));
                    else batch.Add(inputs[order[next]]);
                    next++;
                }
                ReadOnlySpan<float> batchOutput = Model.Forward(workspace, tap: null, cancellationToken);   // [b, width]
                // The final output row is where an overflow anywhere in the pass ends up (NaN and infinity propagate): one
                // scan of b x width floats, and never a NaN or infinite score or embedding returned.
                int bad = Finite.IndexOfNonFinite(batchOutput.Slice(0, (next - first) * width), Capabilities);
                if (bad >= 0) throw NonFiniteOutput(inputs[order[first + bad / width]], order[first + bad / width], batchOutput[bad], cancellationToken);
                for (int j = first; j < next; j++)
                    batchOutput.Slice((j - first) * width, width).CopyTo(outputs.Slice(order[j] * width, width));
            }
        }
        finally
        {
            if (shared > 0) decoder!.ClearPrefix(workspace);
            // Keep one idle workspace per core at most: a burst of concurrent calls must not pin its peak memory forever.
            if (_workspaces.Count < Environment.ProcessorCount) _workspaces.Add(workspace);
        }
    }

    /// <summary>The error for an input whose output is not finite, naming the first stage that stopped being finite: found by
    /// running that input alone once more with a tap (only on this error path, never on a good batch).</summary>
    private ModelComputationException NonFiniteOutput(EncodedPair input, int index, float value, CancellationToken cancellationToken)
    {
        string? stage = null;
        try
        {
            RunTapped(input, (name, values, _, _) =>
            {
                if (stage is null && Finite.IndexOfNonFinite(values, Capabilities) >= 0) stage = name;
            }, cancellationToken);
        }
        catch (ArgumentOutOfRangeException)
        {
            // Too long to tap (the probabilities would pass the tap scratch's cap): report without the stage.
        }
        return new ModelComputationException(stage, index, value);
    }

    /// <summary>The fewest tokens worth caching: below this the prefix pass costs about what it saves.</summary>
    private const int MinimumSharedPrefix = 8;

    /// <summary>Tokens every input starts with, leaving each at least its last token (the one the score is read at); 0 when
    /// fewer than two inputs share at least <see cref="MinimumSharedPrefix"/> tokens.</summary>
    internal static int SharedPrefixLength(IReadOnlyList<EncodedPair> inputs)
    {
        if (inputs.Count < 2) return 0;
        int shared = inputs.Min(input => input.Length) - 1;
        int[] first = inputs[0].InputIds;
        for (int i = 1; i < inputs.Count && shared > 0; i++)
            shared = first.AsSpan(0, shared).CommonPrefixLength(inputs[i].InputIds.AsSpan(0, shared));
        return shared >= MinimumSharedPrefix ? shared : 0;
    }

    /// <summary>A pooled workspace that holds sequences of <paramref name="longest"/> tokens, or a new one, sized for the inputs
    /// at hand (a power of two, at least 512), not for the model's limit: long-context models would otherwise pin memory for
    /// their longest sequence on every call.</summary>
    private ModelWorkspace RentWorkspace(int longest)
    {
        if (_workspaces.TryTake(out var pooled) && pooled.Batch.MaxSequenceLength >= longest) return pooled;
        int length = Math.Min(_modelMaxLength, Math.Max(512, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)longest)));
        return Model.CreateWorkspace(Math.Max(_options.MaxBatchTokens, length), _options.MaxBatchSequences, length);
    }

    /// <summary>Releases the pooled workspaces.</summary>
    public void Dispose() => _workspaces.Clear();
}
