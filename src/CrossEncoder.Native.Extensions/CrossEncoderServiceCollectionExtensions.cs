using CrossEncoder.Native.Extensions;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers CrossEncoder.Native with a service container.</summary>
public static class CrossEncoderServiceCollectionExtensions
{
    /// <summary>
    /// Registers one model as singletons: <see cref="ITextReranker"/> (rerank), <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>
    /// of string to <see cref="Embedding{T}"/> of float (embed; bi-encoder folders), and the engine
    /// <see cref="CrossEncoderTextReranker"/>. The model loads on first use and logs load time, kind, precision and truncations.
    /// </summary>
    /// <example><code>services.AddCrossEncoderReranker(o => o.ModelDirectory = "models/ms-marco-MiniLM-L-6-v2");</code></example>
    /// <exception cref="OptionsValidationException">On first use, when ModelDirectory is empty or a batch limit is not positive.</exception>
    public static IServiceCollection AddCrossEncoderReranker(this IServiceCollection services, Action<CrossEncoderRerankerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<CrossEncoderRerankerOptions>()
            .Configure(configure)
            .Validate(o => !string.IsNullOrWhiteSpace(o.ModelDirectory), "CrossEncoderRerankerOptions.ModelDirectory is required (a model folder).")
            .Validate(o => o.MaxBatchTokens > 0 && o.MaxBatchSequences > 0, "CrossEncoderRerankerOptions.MaxBatchTokens and MaxBatchSequences must be positive.")
            .Validate(o => o.MaxLength is null or >= 3, "CrossEncoderRerankerOptions.MaxLength must be at least 3 (or null for the model's limit).");
        services.TryAddSingleton<CrossEncoderTextReranker>();
        services.TryAddSingleton<ITextReranker>(sp => sp.GetRequiredService<CrossEncoderTextReranker>());
        services.TryAddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(sp => new CrossEncoderEmbeddingGenerator(sp.GetRequiredService<CrossEncoderTextReranker>()));
        return services;
    }
}
