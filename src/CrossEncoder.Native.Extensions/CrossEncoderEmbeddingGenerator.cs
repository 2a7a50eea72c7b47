using Microsoft.Extensions.AI;

namespace CrossEncoder.Native.Extensions;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over <see cref="Reranking.Reranker.Embed(IReadOnlyList{string}, int?, CancellationToken)"/>:
/// apps written against Microsoft.Extensions.AI swap in this engine (a sentence-transformers bi-encoder folder) unchanged.
/// </summary>
public sealed class CrossEncoderEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly CrossEncoderTextReranker _engine;

    /// <summary>Wraps the registered engine (the container builds this; the engine owns the model).</summary>
    public CrossEncoderEmbeddingGenerator(CrossEncoderTextReranker engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
    }

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">options.Dimensions asks for a size other than the model's.</exception>
    /// <exception cref="InvalidOperationException">The model is a cross-encoder (it has no sentence embedding).</exception>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var texts = values as IReadOnlyList<string> ?? values.ToList();
        int size = _engine.Reranker.EmbeddingSize;
        if (options?.Dimensions is { } dimensions && dimensions != size)
            throw new NotSupportedException($"This model's embeddings have {size} dimensions; {dimensions} were requested.");
        float[][] vectors = await _engine.EmbedAsync(texts, cancellationToken).ConfigureAwait(false);
        var created = DateTimeOffset.UtcNow;
        var embeddings = new GeneratedEmbeddings<Embedding<float>>(vectors.Length);
        foreach (float[] vector in vectors) embeddings.Add(new Embedding<float>(vector) { ModelId = _engine.ModelId, CreatedAt = created });
        return embeddings;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata))
            return new EmbeddingGeneratorMetadata("CrossEncoder.Native", providerUri: null, defaultModelId: _engine.ModelId, defaultModelDimensions: _engine.Reranker.EmbeddingSize);
        return serviceType.IsInstanceOfType(this) ? this : _engine.GetService(serviceType);
    }

    /// <summary>Nothing to release: the container disposes the engine.</summary>
    public void Dispose()
    {
    }
}
