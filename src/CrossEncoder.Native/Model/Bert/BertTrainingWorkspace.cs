using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Training;

namespace CrossEncoder.Native.Model.Bert;

/// <summary>
/// Everything one training step of <see cref="BertTrainingModel"/> keeps between its forward and backward pass, allocated
/// once for a token budget: the activations the gradients are computed from (per layer) and the scratch of the backward.
/// N = token capacity, B = sequence capacity, T = longest sequence, H hidden, I intermediate, nH heads, L layers.
/// Memory: about N (L (7H + 2I) + 2H) floats plus the attention probabilities, L nH N T floats at most.
/// </summary>
internal sealed class BertTrainingWorkspace : TrainingWorkspace
{
    internal BertTrainingWorkspace(BertConfig config, int outputSize, int maxTokens, int maxSequences, int maxSequenceLength)
        : base(PackedBatch.Create(maxTokens, maxSequences, maxSequenceLength, config.MaxSequenceLength, config.VocabSize, config.TypeVocabSize), outputSize)
    {
        int h = config.HiddenSize, i = config.IntermediateSize, l = config.NumHiddenLayers, n = maxTokens, b = maxSequences;
        long probabilities = (long)config.NumAttentionHeads * n * Math.Min(maxSequenceLength, config.MaxSequenceLength);
        if ((long)n * Math.Max(3 * h, i) > int.MaxValue || probabilities > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "The token budget is too large for one training workspace; use a smaller batch.");
        Float(ref LayerInputs, l + 1, n * h);
        Float(ref QueryKeyValue, l, n * 3 * h);
        Float(ref Context, l, n * h);
        Float(ref AttentionNormalized, l, n * h);
        Float(ref AttentionInverseDeviation, l, n);
        Float(ref AttentionResidual, l, n * h);
        Float(ref IntermediatePreActivation, l, n * i);
        Float(ref Intermediate, l, n * i);
        Float(ref OutputNormalized, l, n * h);
        Float(ref OutputInverseDeviation, l, n);
        Float(ref Probabilities, l, (int)probabilities);
        EmbeddingsNormalized = new float[n * h];
        EmbeddingsInverseDeviation = new float[n];
        ProbabilityOffsets = new long[b + 1];
        AttentionScratch = new float[probabilities];
        Cls = new float[b * h];
        Pooled = new float[b * h];
        PooledDropped = new float[b * h];
        Logits = new float[b * outputSize];
        GradientHidden = new float[n * h];
        GradientA = new float[n * h];
        GradientB = new float[n * h];
        GradientIntermediate = new float[n * i];
        GradientQueryKeyValue = new float[n * 3 * h];
        // The weight-gradient product: A^T (tokens x out) plus one [out, in] product, the largest being the FFN's [I, H] or QKV's [3H, H].
        WeightScratch = new float[(long)n * Math.Max(3 * h, i) + (long)Math.Max(3 * h, i) * h];
        FusedQueryKeyValueGradient = new float[3 * h * h];
        FusedQueryKeyValueBiasGradient = new float[3 * h];
        PositionIds = new int[n];
    }

    private static void Float(ref float[][] field, int count, int length)
    {
        field = new float[count][];
        for (int k = 0; k < count; k++) field[k] = new float[length];
    }

    // Forward activations, per layer l (index l + 1 of LayerInputs is layer l's output).
    internal float[][] LayerInputs = [];                 // [L+1][N, H] x_l: the residual stream entering layer l (after dropout for l = 0)
    internal float[][] QueryKeyValue = [];               // [L][N, 3H]  Q | K | V
    internal float[][] Context = [];                     // [L][N, H]   attention output before its dense
    internal float[][] AttentionNormalized = [];         // [L][N, H]   xhat of the attention LayerNorm
    internal float[][] AttentionInverseDeviation = [];   // [L][N]      its 1 / sqrt(var + eps)
    internal float[][] AttentionResidual = [];           // [L][N, H]   h1 = LN(dropout(context Wo) + x): the FFN's input
    internal float[][] IntermediatePreActivation = [];   // [L][N, I]   u = h1 Wi^T + b
    internal float[][] Intermediate = [];                // [L][N, I]   GELU(u)
    internal float[][] OutputNormalized = [];            // [L][N, H]   xhat of the output LayerNorm
    internal float[][] OutputInverseDeviation = [];      // [L][N]
    internal float[][] Probabilities = [];               // [L][sum over sequences of nH T^2]  softmax(Q K^T / sqrt dH), before dropout
    internal float[] EmbeddingsNormalized;               // [N, H] xhat of the embeddings' LayerNorm
    internal float[] EmbeddingsInverseDeviation;         // [N]
    internal long[] ProbabilityOffsets;                  // [B + 1]
    internal float[] AttentionScratch;                   // [sum nH T^2] dropout's masked copy / the backward's T x T blocks
    internal float[] Cls;                                // [B, H] the last layer's first-token rows
    internal float[] Pooled;                             // [B, H] tanh(cls Wp^T + bp)
    internal float[] PooledDropped;                      // [B, H] dropout(pooled): what the classifier reads
    internal float[] Logits;                             // [B, out]

    // Backward scratch.
    internal float[] GradientHidden;                     // [N, H] dLoss / d(residual stream)
    internal float[] GradientA;                          // [N, H]
    internal float[] GradientB;                          // [N, H]
    internal float[] GradientIntermediate;               // [N, I]
    internal float[] GradientQueryKeyValue;              // [N, 3H]
    internal float[] WeightScratch;                      // see the constructor
    internal float[] FusedQueryKeyValueGradient;         // [3H, H]
    internal float[] FusedQueryKeyValueBiasGradient;     // [3H]
    internal int[] PositionIds;                          // [N] each token's position within its sequence

    /// <summary>The dropout seed of the last forward pass (null: none), which the backward replays.</summary>
    internal int? DropoutSeed;
    internal bool HasForward;
}
