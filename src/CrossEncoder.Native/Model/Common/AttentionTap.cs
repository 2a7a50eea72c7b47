using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model.Common;

/// <summary>
/// Reports a layer's attention probabilities to an <see cref="ActivationTap"/> (<see cref="ModelTaps.AttentionProbabilities"/>):
/// the fast attention kernels never hold them, so they are recomputed from the layer's Q and K, one sequence at a time, into
/// the workspace's tap scratch. Only a tapped pass calls it.
/// </summary>
internal static class AttentionTap
{
    /// <summary>Reports [nH*T, T] for every sequence of <paramref name="batch"/>, in batch order, from the fused projection
    /// <paramref name="qkv"/> [N, ld] (Q at column 0, K at <paramref name="keyColumn"/>).</summary>
    public static void Report(ActivationTap tap, string name, ReadOnlySpan<float> qkv, int ld, int keyColumn, PackedBatch batch, ModelWorkspace workspace,
        int heads, int kvHeads, int headDim, int window, bool causal, KernelCapabilities capabilities)
    {
        for (int s = 0; s < batch.Count; s++)
        {
            int start = batch.Starts[s], t = batch.Starts[s + 1] - start;
            if (t == 0) continue;
            Span<float> probabilities = workspace.TapScratch((long)heads * t * t);           // [nH*T, T]
            Attention.Probabilities(qkv[(start * ld)..], ld, keyColumn, t, heads, kvHeads, headDim, 1f / MathF.Sqrt(headDim), window, causal, probabilities, capabilities);
            tap(name, probabilities, heads * t, t);
        }
    }
}
