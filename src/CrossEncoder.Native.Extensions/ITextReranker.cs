using CrossEncoder.Native.Reranking;

namespace CrossEncoder.Native.Extensions;

/// <summary>
/// Reranks documents against a query, best first. Microsoft.Extensions.AI has no reranker abstraction yet; this small
/// interface is ours, shaped like its IEmbeddingGenerator (async, cancellable, services by type) so an adapter to a future
/// one is a few lines. Registered by <see cref="Microsoft.Extensions.DependencyInjection.CrossEncoderServiceCollectionExtensions.AddCrossEncoderReranker"/>.
/// </summary>
public interface ITextReranker
{
    /// <summary>Scores every document against <paramref name="query"/> and returns the best <paramref name="topK"/> (all when null), best first.</summary>
    Task<IReadOnlyList<RerankResult>> RerankAsync(string query, IReadOnlyList<string> documents, int? topK = null, CancellationToken cancellationToken = default);

    /// <summary>The underlying object of the requested type (for example <see cref="Reranker"/>), or null.</summary>
    object? GetService(Type serviceType);
}
