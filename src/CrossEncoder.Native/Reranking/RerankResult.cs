using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking;

/// <summary>One scored document.</summary>
/// <param name="Index">Position of the document in the input list.</param>
/// <param name="Score">Relevance: sigmoid of the logit for a cross-encoder (0..1), cosine similarity for a bi-encoder (-1..1).</param>
/// <param name="Logit">The raw model output: the logit for a cross-encoder, the cosine for a bi-encoder.</param>
/// <param name="Truncation">How many tokens of the query and the document were cut to fit the maximum length.</param>
/// <remarks>In <see cref="LongDocumentMode.Chunk"/> mode <see cref="Score"/> and <see cref="Logit"/> are the aggregation of
/// the chunks' scores and logits (each aggregated on its own: for Mean and top-k mean the score is not the sigmoid of the
/// logit), and <see cref="Chunk"/> / <see cref="ChunkCount"/> say which chunk won.</remarks>
public sealed record RerankResult(int Index, float Score, float Logit, TruncationInfo Truncation)
{
    /// <summary>Chunk mode: the winning chunk (the best-scoring one; the first for <see cref="ChunkAggregation.First"/>);
    /// null in truncate mode.</summary>
    public RerankChunk? Chunk { get; init; }

    /// <summary>Chunk mode: how many chunks the document was split into (1 when it fits whole); 0 in truncate mode.</summary>
    public int ChunkCount { get; init; }
}

/// <summary>One chunk of a document in chunk mode.</summary>
/// <param name="Ordinal">Its position among the document's chunks, from 0.</param>
/// <param name="Start">First UTF-16 unit of the chunk in the original document text.</param>
/// <param name="End">One past its last unit: the chunk is <c>document[Start..End]</c>.</param>
/// <param name="Score">The chunk's own score (same scale as <see cref="RerankResult.Score"/>).</param>
/// <param name="Logit">The chunk's own raw output.</param>
public sealed record RerankChunk(int Ordinal, int Start, int End, float Score, float Logit);
