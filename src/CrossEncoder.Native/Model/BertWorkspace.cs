namespace CrossEncoder.Native.Model;

/// <summary>
/// Every activation buffer one forward pass needs, allocated once for a token and sequence capacity (the RunState of
/// llama2.c). A workspace is used by one call at a time; create one per concurrent caller.
/// N = token capacity, B = sequence capacity, T = longest sequence, H hidden, I intermediate, nH heads.
/// </summary>
public sealed class BertWorkspace
{
    internal BertWorkspace(BertConfig config, int maxTokens, int maxSequences, int outputSize, int maxSequenceLength = int.MaxValue)
    {
        if (maxTokens <= 0) throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "The token capacity must be positive.");
        if (maxSequences <= 0) throw new ArgumentOutOfRangeException(nameof(maxSequences), maxSequences, "The sequence capacity must be positive.");
        int h = config.HiddenSize;
        int longest = Math.Min(Math.Min(maxTokens, maxSequenceLength), config.MaxSequenceLength);
        Batch = new PackedBatch(maxTokens, maxSequences, longest, config.VocabSize, config.TypeVocabSize);
        Hidden = new float[maxTokens * h];                        // [N, H]  the residual stream
        Embedded = config.EmbeddingSize == h ? [] : new float[maxTokens * config.EmbeddingSize];   // [N, E] ELECTRA's narrower embeddings
        QueryKeyValue = new float[maxTokens * 3 * h];             // [N, 3H] fused Q | K | V projections
        Context = new float[maxTokens * h];                       // [N, H]  attention output before its projection
        Projection = new float[maxTokens * h];                    // [N, H]  dense outputs before residual + LayerNorm
        Intermediate = new float[(long)maxTokens * config.IntermediateSize > int.MaxValue
            ? throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "The token capacity is too large for one workspace.")
            : maxTokens * config.IntermediateSize];               // [N, I]
        ClsRows = new float[maxSequences * h];                    // [B, H]  first-token rows gathered for the pooler
        Pooled = new float[maxSequences * h];                     // [B, H]  pooler output / sentence embedding
        Output = new float[maxSequences * outputSize];            // [B, out] logits or embeddings
        OutputSize = outputSize;
    }

    /// <summary>The input sequences of the next forward pass.</summary>
    public PackedBatch Batch { get; }

    /// <summary>Width of each output row: the number of labels (cross-encoder) or the hidden size (embeddings).</summary>
    public int OutputSize { get; }

    internal float[] Hidden { get; }
    internal float[] Embedded { get; }
    internal float[] QueryKeyValue { get; }
    internal float[] Context { get; }
    internal float[] Projection { get; }
    internal float[] Intermediate { get; }
    internal float[] ClsRows { get; }
    internal float[] Pooled { get; }
    internal float[] Output { get; }
}
