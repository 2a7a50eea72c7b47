using System.Diagnostics;
using CrossEncoder.Native.Reranking;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CrossEncoder.Native.Extensions;

/// <summary>
/// The DI singleton behind <see cref="ITextReranker"/> and the embedding generator: loads the model once (on first use),
/// logs load time, model kind and precision, and logs how many inputs each call had to truncate.
/// </summary>
public sealed partial class CrossEncoderTextReranker : ITextReranker, IDisposable
{
    private readonly Lazy<Reranker> _reranker;
    private readonly ILogger<CrossEncoderTextReranker> _logger;
    private readonly CrossEncoderRerankerOptions _options;

    /// <summary>Created by the container (logging is optional: without AddLogging nothing is logged); the model is loaded when first needed.</summary>
    public CrossEncoderTextReranker(IOptions<CrossEncoderRerankerOptions> options, ILogger<CrossEncoderTextReranker>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger<CrossEncoderTextReranker>.Instance;
        _reranker = new Lazy<Reranker>(Load, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The loaded engine (loads it on first access).</summary>
    public Reranker Reranker => _reranker.Value;

    /// <summary>The model folder name, used as the model id.</summary>
    public string ModelId => Path.GetFileName(Path.TrimEndingDirectorySeparator(_options.ModelDirectory));

    private Reranker Load()
    {
        var clock = Stopwatch.StartNew();
        var reranker = Reranker.Load(_options.ModelDirectory, new RerankerOptions
        {
            MaxBatchTokens = _options.MaxBatchTokens,
            MaxBatchSequences = _options.MaxBatchSequences,
        });
        LogLoaded(_options.ModelDirectory, reranker.Kind.ToString(), "float32", reranker.ModelMaxLength, clock.Elapsed.TotalMilliseconds);
        return reranker;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<RerankResult>> RerankAsync(string query, IReadOnlyList<string> documents, int? topK = null, CancellationToken cancellationToken = default)
    {
        var results = await Reranker.RerankAsync(query, documents, topK, new RerankOptions { MaxLength = _options.MaxLength }, cancellationToken).ConfigureAwait(false);
        int truncated = results.Count(r => r.Truncation.Truncated);
        if (truncated > 0) LogTruncated("rerank", truncated, documents.Count, _options.MaxLength ?? Reranker.ModelMaxLength);
        return results;
    }

    /// <summary>Embeds texts (bi-encoder folders only) and logs how many were longer than the maximum length.</summary>
    internal async Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        var reranker = Reranker;
        int maxLength = _options.MaxLength ?? reranker.ModelMaxLength;
        var vectors = await reranker.EmbedAsync(texts, _options.MaxLength, cancellationToken).ConfigureAwait(false);
        if (_logger.IsEnabled(LogLevel.Information))
        {
            int truncated = texts.Count(t => reranker.Tokenizer.EncodeSingle(t, maxLength).Truncation.Truncated);
            if (truncated > 0) LogTruncated("embed", truncated, texts.Count, maxLength);
        }
        return vectors;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType) =>
        serviceType is null ? throw new ArgumentNullException(nameof(serviceType))
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType == typeof(Reranker) ? Reranker
        : null;

    /// <summary>Releases the engine's workspaces.</summary>
    public void Dispose()
    {
        if (_reranker.IsValueCreated) _reranker.Value.Dispose();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Loaded {ModelDirectory}: {Kind}, {Precision}, max {MaxLength} tokens, in {ElapsedMs:F0} ms")]
    private partial void LogLoaded(string modelDirectory, string kind, string precision, int maxLength, double elapsedMs);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "{Operation}: {Truncated} of {Count} inputs were cut to {MaxLength} tokens")]
    private partial void LogTruncated(string operation, int truncated, int count, int maxLength);
}
