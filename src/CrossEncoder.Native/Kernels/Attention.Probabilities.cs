using System.Numerics.Tensors;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. The fast attention paths never hold a whole [T, T] probability matrix: they work on blocks of query
// rows and divide by the softmax's sum after S V (Attention.cs). An activation tap (a trace, an explanation, a test) wants
// the probabilities themselves, so this kernel recomputes them from the same Q and K, one query row at a time:
//   s_j = scale * q_i . k_j for the visible keys j, p = softmax(s) (max subtracted), p_j = 0 for the hidden keys.
// A key is visible to query i when |i - j| <= window (Global: always) and, for a causal decoder, j <= i. Query head h reads
// key head h / (nH / nKV) (grouped-query attention; nKV = nH is plain multi-head attention). It runs only with a tap, on
// the calling thread, allocation-free; its cost (nH T^2 dH) is that of the attention it mirrors.

internal static partial class Attention
{
    /// <summary>
    /// <c>P[nH*T, T] = softmax(Q_h K_g^T * scale + mask)</c> of one sequence, row h*T + i being head h's weights over the keys
    /// for query i (masked keys 0). The sequence is rows [0, T) of <paramref name="qkv"/> (row stride <paramref name="ld"/>):
    /// Q heads at columns [0, nH dH), key heads at [<paramref name="keyColumn"/>, keyColumn + nKV dH).
    /// </summary>
    /// <param name="qkv">The fused projection rows of the sequence (Q and K already rotated where the model rotates them).</param>
    /// <param name="ld">Row stride of <paramref name="qkv"/>.</param>
    /// <param name="keyColumn">First column of the keys: H for BERT's and ModernBERT's Q | K | V, nH dH for a decoder's.</param>
    /// <param name="tokens">T.</param>
    /// <param name="heads">nH, the query heads.</param>
    /// <param name="kvHeads">nKV, the key heads (a divisor of nH).</param>
    /// <param name="headDim">dH.</param>
    /// <param name="scale">Usually 1/sqrt(dH).</param>
    /// <param name="window">Keys on each side a query sees, or <see cref="Global"/>.</param>
    /// <param name="causal">True for a decoder: query i sees keys 0..i only.</param>
    /// <param name="probabilities">[nH*T, T], overwritten.</param>
    /// <param name="caps">The path of the softmax.</param>
    /// <exception cref="ArgumentException">A span is too short or nKV does not divide nH.</exception>
    public static void Probabilities(ReadOnlySpan<float> qkv, int ld, int keyColumn, int tokens, int heads, int kvHeads, int headDim, float scale,
        int window, bool causal, Span<float> probabilities, in KernelCapabilities caps)
    {
        ValidateProbabilities(qkv, ld, keyColumn, tokens, heads, kvHeads, headDim, scale, window, probabilities);
        int group = heads / kvHeads;
        for (int h = 0; h < heads; h++)
        {
            int queryColumn = h * headDim, key = keyColumn + h / group * headDim;
            for (int i = 0; i < tokens; i++)
            {
                Span<float> row = probabilities.Slice((h * tokens + i) * tokens, tokens);
                int first = window == Global ? 0 : Math.Max(0, i - window);
                int last = causal ? i : window == Global ? tokens - 1 : Math.Min(tokens - 1, i + window);   // visible keys [first, last]
                row[..first].Clear();
                row[(last + 1)..].Clear();
                ReadOnlySpan<float> q = qkv.Slice(i * ld + queryColumn, headDim);
                for (int j = first; j <= last; j++) row[j] = scale * TensorPrimitives.Dot(q, qkv.Slice(j * ld + key, headDim));
                Softmax.Apply(row[first..(last + 1)], row[first..(last + 1)], caps);
            }
        }
    }

    private static void ValidateProbabilities(ReadOnlySpan<float> qkv, int ld, int keyColumn, int tokens, int heads, int kvHeads, int headDim, float scale,
        int window, ReadOnlySpan<float> probabilities)
    {
        KernelGuard.Positive(tokens, nameof(tokens));
        KernelGuard.Positive(heads, nameof(heads));
        KernelGuard.Positive(kvHeads, nameof(kvHeads));
        KernelGuard.Positive(headDim, nameof(headDim));
        if (heads % kvHeads != 0) throw new ArgumentException($"{heads} query heads cannot share {kvHeads} key heads evenly.", nameof(kvHeads));
        if (window < 0) throw new ArgumentOutOfRangeException(nameof(window), window, "The attention window must not be negative.");
        if (!(scale > 0)) throw new ArgumentOutOfRangeException(nameof(scale), scale, "The attention scale must be positive.");
        if (keyColumn < heads * headDim || ld < keyColumn + kvHeads * headDim)
            throw new ArgumentOutOfRangeException(nameof(keyColumn), keyColumn, $"The keys must sit after the {heads * headDim} query columns and inside the row stride {ld}.");
        KernelGuard.Length(qkv, (long)(tokens - 1) * ld + keyColumn + kvHeads * headDim, nameof(qkv));
        KernelGuard.Length(probabilities, (long)heads * tokens * tokens, nameof(probabilities));
    }
}
