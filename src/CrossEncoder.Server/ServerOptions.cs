namespace CrossEncoder.Server;

/// <summary>Settings of <see cref="RerankServer"/>; the <c>crossencoder serve</c> flags map one to one.</summary>
public sealed record ServerOptions
{
    /// <summary>The model folder served on every route.</summary>
    public required string ModelDirectory { get; init; }

    /// <summary>Name reported in /info and in Cohere/Jina responses; defaults to the model folder's name.</summary>
    public string? ModelName { get; init; }

    /// <summary>A second model (e.g. a bi-encoder next to a cross-encoder) the demo page ranks with side by side; served at
    /// <c>POST /compare/rerank</c> in TEI's shape.</summary>
    public string? CompareModelDirectory { get; init; }

    /// <summary>Interface to bind; loopback unless told otherwise.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (tests).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, API routes need <c>Authorization: Bearer &lt;key&gt;</c> (401 otherwise; the scheme is case-insensitive, the key compared in fixed time); /, /health, /metrics and /openapi/v1.json stay open, as in TEI.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Arithmetic of the models' linear layers (<see cref="Native.Model.Precision"/>); fp32 unless told otherwise.</summary>
    public Native.Model.Precision Precision { get; init; } = Native.Model.Precision.Fp32;

    /// <summary>A decoder reranker's prompt (<see cref="Native.Reranking.RerankerOptions.Prompt"/>) when the model's name does not say.</summary>
    public string? Prompt { get; init; }

    /// <summary>The instruction a decoder reranker uses when a request sends no <c>instruction</c> field (null: the model's default).</summary>
    public string? Instruction { get; init; }

    /// <summary>How documents longer than what fits beside the query are scored when a request does not say (its
    /// <c>long_documents</c>, <c>chunk_window</c>, <c>chunk_overlap</c>, <c>chunk_aggregation</c> fields): only
    /// <see cref="Native.Reranking.RerankOptions.LongDocuments"/> and the <c>Chunk*</c> settings are read. Default: truncate,
    /// as TEI does; <c>serve --long chunk</c> sets chunking.</summary>
    public Native.Reranking.RerankOptions LongDocumentDefaults { get; init; } = new();

    /// <summary>Receives the models' load notes (<see cref="Native.Reranking.RerankerOptions.Log"/>); null to stay silent.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Token budget of one forward pass (TEI's --max-batch-tokens): documents of concurrent requests share a pass up to it.</summary>
    public int MaxBatchTokens { get; init; } = 8192;

    /// <summary>Most documents (or inputs) one request may send (TEI's --max-client-batch-size); more answers 413.</summary>
    public int MaxClientBatchSize { get; init; } = 256;

    /// <summary>Most requests admitted at once, queued or running (TEI's --max-concurrent-requests); past it the answer is 429.</summary>
    public int MaxConcurrentRequests { get; init; } = 512;

    /// <summary>Forward passes running at the same time; each already uses every core, so 1 is right on a CPU.</summary>
    public int ForwardPassesInFlight { get; init; } = 1;

    /// <summary>Largest request body in bytes (TEI's --payload-limit, 2 MB); larger answers 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 2_000_000;

    /// <summary>How long Ctrl-C / SIGTERM waits for in-flight requests before stopping anyway.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Test hook: awaited by a scheduler worker before each forward pass (to hold work in the queue).</summary>
    internal Func<Task>? BeforeBatch { get; init; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelDirectory)) throw new ArgumentException("A model folder is required.");
        if (Port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(Port), Port, "port must be 0-65535.");
        if (MaxBatchTokens <= 0) throw new ArgumentOutOfRangeException(nameof(MaxBatchTokens), MaxBatchTokens, "max-batch-tokens must be positive.");
        if (MaxClientBatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(MaxClientBatchSize), MaxClientBatchSize, "max-client-batch-size must be positive.");
        if (MaxConcurrentRequests <= 0) throw new ArgumentOutOfRangeException(nameof(MaxConcurrentRequests), MaxConcurrentRequests, "max-concurrent-requests must be positive.");
        if (ForwardPassesInFlight <= 0) throw new ArgumentOutOfRangeException(nameof(ForwardPassesInFlight), ForwardPassesInFlight, "forward passes in flight must be positive.");
        if (MaxRequestBodyBytes <= 0) throw new ArgumentOutOfRangeException(nameof(MaxRequestBodyBytes), MaxRequestBodyBytes, "the body limit must be positive.");
    }
}
