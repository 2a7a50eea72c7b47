using System.Globalization;

namespace CrossEncoder.Native.Reranking;

/// <summary>The one text form of a <see cref="ChunkAggregation"/>, shared by the CLI (<c>--aggregate</c>) and the server
/// (<c>chunk_aggregation</c>): <c>max</c>, <c>mean</c>, <c>first</c> or <c>topk:K</c> (K from 1 to 4096).</summary>
public static class ChunkAggregationText
{
    /// <summary>The largest K of <c>topk:K</c>.</summary>
    public const int MaxTopK = 4096;

    /// <summary>Reads <c>max</c>, <c>mean</c>, <c>first</c> or <c>topk:K</c>; <paramref name="topK"/> is K for top-k mean and
    /// the <see cref="RerankOptions.ChunkTopK"/> default (3) otherwise. False for anything else.</summary>
    public static bool TryParse(string? text, out ChunkAggregation aggregation, out int topK)
    {
        topK = 3;
        aggregation = ChunkAggregation.Max;
        switch (text)
        {
            case "max": return true;
            case "mean": aggregation = ChunkAggregation.Mean; return true;
            case "first": aggregation = ChunkAggregation.First; return true;
        }
        if (text is not null && text.StartsWith("topk:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k is >= 1 and <= MaxTopK)
        {
            (aggregation, topK) = (ChunkAggregation.TopKMean, k);
            return true;
        }
        return false;
    }

    /// <summary>The text form of an aggregation (the inverse of <see cref="TryParse"/>).</summary>
    public static string Format(ChunkAggregation aggregation, int topK) => aggregation switch
    {
        ChunkAggregation.Max => "max",
        ChunkAggregation.Mean => "mean",
        ChunkAggregation.First => "first",
        ChunkAggregation.TopKMean => "topk:" + topK.ToString(CultureInfo.InvariantCulture),
        _ => throw new ArgumentOutOfRangeException(nameof(aggregation), aggregation, "Unknown ChunkAggregation."),
    };
}
