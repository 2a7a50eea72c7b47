using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.ModernBert;

/// <summary>
/// Every activation buffer one ModernBERT forward pass needs, allocated once for a token and sequence capacity.
/// N = token capacity, B = sequence capacity, H hidden, I intermediate.
/// </summary>
internal sealed class ModernBertWorkspace : ModelWorkspace
{
    internal ModernBertWorkspace(ModernBertConfig config, int maxTokens, int maxSequences, int outputSize, int maxSequenceLength, int headHiddenSize)
        : base(PackedBatch.Create(maxTokens, maxSequences, maxSequenceLength, config.MaxPositionEmbeddings, config.VocabSize, typeVocabSize: 1), outputSize)
    {
        int h = config.HiddenSize;
        if ((long)maxTokens * 2 * config.IntermediateSize > int.MaxValue || (long)maxTokens * 3 * h > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "The token capacity is too large for one workspace.");
        Hidden = new float[maxTokens * h];                              // [N, H]  the residual stream
        Normed = new float[maxTokens * h];                              // [N, H]  attn_norm / mlp_norm output
        QueryKeyValue = new float[maxTokens * 3 * h];                   // [N, 3H] Q | K | V, Q and K rotated
        Context = new float[maxTokens * h];                             // [N, H]  attention output before Wo
        Projection = new float[maxTokens * h];                          // [N, H]  a sublayer's output before the residual add
        Intermediate = new float[maxTokens * config.IntermediateSize];  // [N, I]  GELU(input) * gate (fused into Wi's GEMM)
        FirstRows = new float[maxSequences * h];                        // [B, H]  first tokens' rows in a [CLS]-only last layer
        Pooled = new float[maxSequences * h];                           // [B, H]  pooled final states
        HeadHidden = new float[maxSequences * Math.Max(h, headHiddenSize)];   // [B, H]  what the classifier reads
        Output = new float[maxSequences * outputSize];                  // [B, out] logits or embeddings
    }

    internal float[] Hidden { get; }
    internal float[] Normed { get; }
    internal float[] QueryKeyValue { get; }
    internal float[] Context { get; }
    internal float[] Projection { get; }
    internal float[] Intermediate { get; }
    internal float[] FirstRows { get; }
    internal float[] Pooled { get; }
    internal float[] HeadHidden { get; }
    internal float[] Output { get; }
}
