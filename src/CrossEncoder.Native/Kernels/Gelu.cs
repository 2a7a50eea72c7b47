namespace CrossEncoder.Native.Kernels;

// STUB (kernels helper replaces the fast path; keep the public signatures).

/// <summary>Exact GELU: <c>y = x/2 * (1 + erf(x / sqrt 2))</c>, as BERT's "gelu" (not the tanh approximation).</summary>
public static partial class Gelu
{
    /// <summary>y[i] = GELU(x[i]); y may alias x.</summary>
    public static void Apply(ReadOnlySpan<float> x, Span<float> y) => ApplyReference(x, y);
}
