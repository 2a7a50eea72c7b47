using System.Runtime.CompilerServices;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. Dropout zeroes each element with probability p and scales the survivors by 1 / (1 - p), so the
// expectation is unchanged (inverted dropout, as torch.nn.Dropout in training mode). The mask is not stored: element i of a
// call site keeps or drops by a counter-based hash of (key, i), the SplitMix64 finaliser, so the backward pass recomputes
// exactly the forward's mask from the same key and index. A key mixes the run's seed, the step and the call site
// (Dropout.Key), which makes every mask reproducible from the seed alone and independent between sites.

/// <summary>Inverted dropout with masks recomputed from a key: <c>y[i] = x[i] * m(key, offset + i)</c>, m in {0, 1/(1-p)}.</summary>
internal static class Dropout
{
    /// <summary>The key of one call site: a hash of the seed and the site's numbers (e.g. step, layer, which dropout).</summary>
    public static ulong Key(long seed, int a, int b = 0, int c = 0) =>
        Mix(Mix(Mix((ulong)seed ^ 0x9E3779B97F4A7C15UL) ^ (uint)a) ^ ((ulong)(uint)b << 32 | (uint)c));

    /// <summary>The multiplier of element <paramref name="index"/>: 0 with probability p, otherwise 1/(1-p).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Mask(ulong key, long index, float p, float keepScale)
    {
        // The top 24 bits of the hash as a uniform number in [0, 1).
        float u = (Mix(key + (ulong)index * 0x9E3779B97F4A7C15UL) >> 40) * (1f / (1 << 24));
        return u < p ? 0f : keepScale;
    }

    /// <summary>x[i] *= m(key, offset + i) in place; p = 0 leaves x unchanged. Forward and backward are the same operation.</summary>
    public static void Apply(Span<float> x, long offset, ulong key, float p)
    {
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "The dropout probability must be in [0, 1).");
        if (p == 0f) return;
        float keep = 1f / (1f - p);
        for (int i = 0; i < x.Length; i++) x[i] *= Mask(key, offset + i, p, keep);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
