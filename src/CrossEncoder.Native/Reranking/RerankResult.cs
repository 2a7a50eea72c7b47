using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking;

/// <summary>One scored document.</summary>
/// <param name="Index">Position of the document in the input list.</param>
/// <param name="Score">Relevance: sigmoid of the logit for a cross-encoder (0..1), cosine similarity for a bi-encoder (-1..1).</param>
/// <param name="Logit">The raw model output: the logit for a cross-encoder, the cosine for a bi-encoder.</param>
/// <param name="Truncation">How many tokens of the query and the document were cut to fit the maximum length.</param>
public sealed record RerankResult(int Index, float Score, float Logit, TruncationInfo Truncation);
