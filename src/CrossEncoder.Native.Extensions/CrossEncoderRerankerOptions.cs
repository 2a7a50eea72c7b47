using CrossEncoder.Native.Reranking;

namespace CrossEncoder.Native.Extensions;

/// <summary>Options of <see cref="Microsoft.Extensions.DependencyInjection.CrossEncoderServiceCollectionExtensions.AddCrossEncoderReranker"/> (bind them from configuration or set them in code).</summary>
public sealed class CrossEncoderRerankerOptions
{
    /// <summary>The model folder: config.json, model.safetensors, vocab.txt (required).</summary>
    public string ModelDirectory { get; set; } = "";

    /// <summary>Most tokens one forward pass holds (bounds memory); see <see cref="RerankerOptions.MaxBatchTokens"/>.</summary>
    public int MaxBatchTokens { get; set; } = new RerankerOptions().MaxBatchTokens;

    /// <summary>Most sequences one forward pass holds.</summary>
    public int MaxBatchSequences { get; set; } = new RerankerOptions().MaxBatchSequences;

    /// <summary>Longest input in tokens (query + document for a cross-encoder); null means the model's limit.</summary>
    public int? MaxLength { get; set; }
}
