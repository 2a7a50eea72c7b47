using System.Diagnostics;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Server;

/// <summary>One request's scores (in document order) and where its time went, for TEI's timing headers.</summary>
internal sealed record RerankOutcome(RerankResult[] Results, int Tokens, int Characters, TimeSpan Tokenization, TimeSpan Queue, TimeSpan Inference, long StartedAt);

/// <summary>One loaded model behind the routes: tokenizes on the request's thread, scores through the shared scheduler.</summary>
internal sealed class RerankService : IAsyncDisposable
{
    private readonly BatchScheduler _scheduler;
    private readonly ServerMetrics _metrics;
    private readonly string? _defaultInstruction;

    public RerankService(string directory, string name, ServerOptions options, ServerMetrics metrics)
    {
        Reranker = Reranker.Load(directory, new RerankerOptions { MaxBatchTokens = options.MaxBatchTokens, Precision = options.Precision, Prompt = options.Prompt, Log = options.Log });
        _defaultInstruction = options.Instruction;
        Name = name;
        _metrics = metrics;
        _scheduler = new BatchScheduler(Reranker, metrics, options.MaxBatchTokens, options.MaxConcurrentRequests, options.ForwardPassesInFlight, options.BeforeBatch);
        SelfCheckProblem = SelfCheck(Reranker);
    }

    /// <summary>Why the start-up self-check could not score (the model computes NaN or infinity: weights that overflow), or
    /// null when it scored; /health answers 503 with it instead of claiming all is well.</summary>
    public string? SelfCheckProblem { get; }

    /// <summary>One tiny pair through the model at start-up (a few milliseconds).</summary>
    private static string? SelfCheck(Reranker reranker)
    {
        try
        {
            reranker.Rerank("self-check", ["a short self-check document"]);
            return null;
        }
        catch (ModelComputationException e)
        {
            return "the model cannot produce a finite score: " + e.Message;
        }
    }

    public Reranker Reranker { get; }
    public string Name { get; }
    public string KindName => Reranker.Kind == ModelKind.CrossEncoder ? "cross-encoder" : "bi-encoder";
    public int PendingRequests => _scheduler.Pending;

    /// <summary>Scores documents against the query. <paramref name="truncate"/> false refuses (422) an input past the limit,
    /// as TEI does; <paramref name="maxDocumentTokens"/> (Cohere's max_tokens_per_doc) caps the pair length;
    /// <paramref name="instruction"/> is a decoder reranker's task instruction (null: the server's default);
    /// <paramref name="longDocuments"/> says whether long documents are truncated or chunked (its <c>LongDocuments</c> and
    /// <c>Chunk*</c> settings are read). A chunked document is never refused for its length: only the chunks past
    /// <see cref="RerankOptions.MaxChunksPerDocument"/> are, like truncation.</summary>
    public async Task<RerankOutcome> RerankAsync(string query, IReadOnlyList<string> documents, bool truncate, int? maxDocumentTokens, string? instruction,
        RerankOptions longDocuments, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        instruction ??= _defaultInstruction;
        int? maxLength = null;
        if (maxDocumentTokens is { } perDocument)
            maxLength = (int)Math.Clamp(Reranker.TokensBesideDocument(query, instruction) + (long)perDocument, 3, Reranker.ModelMaxLength);
        var options = longDocuments with { MaxLength = maxLength, Truncation = TruncationStrategy.LongestFirst, Instruction = instruction };
        RerankInputs inputs;
        try
        {
            inputs = Reranker.Encode(query, documents, options, cancellationToken);
        }
        catch (ArgumentOutOfRangeException ex) when (options.LongDocuments == LongDocumentMode.Chunk)
        {
            // The settings that depend on the query (an overlap as long as the window that fits beside it) are known only here.
            throw ApiError.Validation("chunking: " + ex.Message.Split('\n')[0].Split(" (Parameter")[0]);
        }
        var tokenization = Stopwatch.GetElapsedTime(started);
        int truncated = inputs.Sequences.Count(s => s.Truncation.Truncated);
        if (truncated > 0 && !truncate)
            throw ApiError.Validation($"{truncated} input(s) longer than the model's maximum of {Reranker.ModelMaxLength} tokens; send \"truncate\": true to cut them");
        _metrics.Truncated(truncated);

        var scheduled = await _scheduler.ScheduleAsync(inputs, cancellationToken);
        var results = Reranker.Score(inputs, scheduled.Outputs);
        if (options.LongDocuments == LongDocumentMode.Chunk && !truncate && results.Count(r => r.Truncation.Truncated) is > 0 and int cut)
            throw ApiError.Validation($"{cut} document(s) longer than {options.MaxChunksPerDocument} chunks; send \"truncate\": true to score their first {options.MaxChunksPerDocument} chunks");
        int characters = query.Length * Math.Max(1, documents.Count) + documents.Sum(d => d.Length);
        return new RerankOutcome(results, inputs.TokenCount, characters, tokenization, scheduled.QueueTime, scheduled.InferenceTime, started);
    }

    /// <summary>Embeddings of each input (bi-encoder only), unit length when <paramref name="normalize"/>.</summary>
    public async Task<(float[][] Vectors, RerankOutcome Outcome)> EmbedAsync(IReadOnlyList<string> texts, bool truncate, bool normalize, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        // A bi-encoder's Encode yields the "query" then each "document" as separate sequences: exactly the inputs in order.
        var inputs = Reranker.Encode(texts[0], texts.Skip(1).ToArray(), null, cancellationToken);
        var tokenization = Stopwatch.GetElapsedTime(started);
        int truncated = inputs.Sequences.Count(s => s.Truncation.Truncated);
        if (truncated > 0 && !truncate)
            throw ApiError.Validation($"{truncated} input(s) longer than the model's maximum of {Reranker.ModelMaxLength} tokens; send \"truncate\": true to cut them");
        _metrics.Truncated(truncated);
        var scheduled = await _scheduler.ScheduleAsync(inputs, cancellationToken);
        int h = Reranker.OutputSize;
        var vectors = new float[texts.Count][];
        for (int i = 0; i < vectors.Length; i++)
        {
            var vector = scheduled.Outputs.AsSpan(i * h, h).ToArray();   // [H]
            if (normalize) ToUnitLength(vector);
            vectors[i] = vector;
        }
        return (vectors, new RerankOutcome([], inputs.TokenCount, texts.Sum(t => t.Length), tokenization, scheduled.QueueTime, scheduled.InferenceTime, started));
    }

    /// <summary>v / ||v||; a norm that overflows float (values past ~1.8e19) is taken in double, never turned into zeros.</summary>
    internal static void ToUnitLength(float[] vector)
    {
        float norm = System.Numerics.Tensors.TensorPrimitives.Norm(vector);
        if (float.IsFinite(norm))
        {
            if (norm > 0) System.Numerics.Tensors.TensorPrimitives.Divide(vector, norm, vector);
            return;
        }
        double sumOfSquares = 0;
        foreach (float v in vector) sumOfSquares += (double)v * v;
        double length = Math.Sqrt(sumOfSquares);
        for (int i = 0; i < vector.Length; i++) vector[i] = (float)(vector[i] / length);
    }

    /// <summary>Explains one pair by occlusion: every variant is one request's sequences in the shared scheduler.</summary>
    public async Task<(Explanation Explanation, RerankOutcome Outcome)> ExplainAsync(string query, string document, bool truncate, int? maxLength, string? instruction,
        bool sentences, bool queryWords, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        ExplanationInputs inputs;
        try
        {
            inputs = Reranker.EncodeExplanation(query, document,
                new ExplainOptions { MaxLength = maxLength, Instruction = instruction ?? _defaultInstruction, Sentences = sentences, QueryWords = queryWords }, cancellationToken);
        }
        catch (ArgumentException ex) when (ex is not ArgumentNullException)
        {
            throw ApiError.Validation(ex.Message.Split(" (Parameter")[0]);
        }
        var tokenization = Stopwatch.GetElapsedTime(started);
        if (inputs.Inputs.Sequences[0].Truncation.Truncated && !truncate)
            throw ApiError.Validation($"the input is longer than the maximum of {maxLength ?? Reranker.ModelMaxLength} tokens; send \"truncate\": true to cut it");
        var scheduled = await _scheduler.ScheduleAsync(inputs.Inputs, cancellationToken);
        var explanation = Reranker.ScoreExplanation(inputs, scheduled.Outputs);
        var outcome = new RerankOutcome([], inputs.Inputs.TokenCount, query.Length + document.Length, tokenization, scheduled.QueueTime, scheduled.InferenceTime, started);
        return (explanation, outcome);
    }

    public async ValueTask DisposeAsync()
    {
        await _scheduler.DisposeAsync();
        Reranker.Dispose();
    }
}
