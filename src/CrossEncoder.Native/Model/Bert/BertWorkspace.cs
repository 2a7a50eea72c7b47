using CrossEncoder.Native.Model.Common;
namespace CrossEncoder.Native.Model.Bert;

/// <summary>
/// Every activation buffer one forward pass needs, allocated once for a token and sequence capacity (the RunState of
/// llama2.c). A workspace is used by one call at a time; create one per concurrent caller.
/// N = token capacity, B = sequence capacity, T = longest sequence, H hidden, I intermediate, nH heads.
/// </summary>
internal sealed class BertWorkspace : ModelWorkspace
{
    // headHiddenSize: width of the head's last-projection input when a sentence-transformers chain is the head (0: none).
    internal BertWorkspace(BertConfig config, int maxTokens, int maxSequences, int outputSize, int maxSequenceLength = int.MaxValue, int headHiddenSize = 0)
        : base(PackedBatch.Create(maxTokens, maxSequences, maxSequenceLength, config.MaxSequenceLength, config.VocabSize, config.TypeVocabSize), outputSize)
    {
        int h = config.HiddenSize;
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
        HeadHidden = new float[maxSequences * headHiddenSize];    // [B, Hh] a sentence-transformers chain's last-projection input
    }

    internal float[] Hidden { get; }
    internal float[] Embedded { get; }
    internal float[] QueryKeyValue { get; }
    internal float[] Context { get; }
    internal float[] Projection { get; }
    internal float[] Intermediate { get; }
    internal float[] ClsRows { get; }
    internal float[] Pooled { get; }
    internal float[] Output { get; }
    internal float[] HeadHidden { get; }
}
