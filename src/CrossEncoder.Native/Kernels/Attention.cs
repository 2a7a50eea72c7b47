namespace CrossEncoder.Native.Kernels;

// STUB (kernels helper replaces the fast path; keep the public signatures).

/// <summary>
/// Multi-head scaled dot-product attention for one sequence:
/// <c>out_h[T,dH] = softmax(Q_h K_h^T * scale + keyBias) V_h</c> for each head h, heads interleaved in the rows.
/// </summary>
public static partial class Attention
{
    /// <summary>Runs all heads of one sequence.</summary>
    /// <param name="q">Queries: row t starts at t*ld; head h occupies columns [h*dH, (h+1)*dH).</param>
    /// <param name="k">Keys, same layout as <paramref name="q"/>.</param>
    /// <param name="v">Values, same layout as <paramref name="q"/>.</param>
    /// <param name="ld">Row stride of q, k and v (e.g. 3H for a fused QKV projection, H for separate ones).</param>
    /// <param name="keyBias">[T] additive bias per key: 0 for real tokens, -inf (or a large negative) for padding.</param>
    /// <param name="output">[T, nH*dH] contiguous, overwritten.</param>
    /// <param name="tokens">T, the sequence length.</param>
    /// <param name="heads">nH.</param>
    /// <param name="headDim">dH.</param>
    /// <param name="scale">Usually 1/sqrt(dH).</param>
    /// <param name="scratch">At least <see cref="ScratchLength"/>(T, nH) floats.</param>
    public static void MultiHead(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int ld, ReadOnlySpan<float> keyBias,
        Span<float> output, int tokens, int heads, int headDim, float scale, Span<float> scratch)
        => MultiHeadReference(q, k, v, ld, keyBias, output, tokens, heads, headDim, scale);

    /// <summary>Scratch floats <see cref="MultiHead"/> needs for a sequence of <paramref name="tokens"/>.</summary>
    public static int ScratchLength(int tokens, int heads) => heads * tokens * tokens;
}
