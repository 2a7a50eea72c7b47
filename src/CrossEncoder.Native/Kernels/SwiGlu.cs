namespace CrossEncoder.Native.Kernels;

/// <summary>
/// The gated SiLU unit (SwiGLU) of a gated feed-forward block: a product row [a | m] of 2I values (the activated half, then
/// the multiplier half) becomes I values <c>SiLU(a) * m</c>, SiLU(x) = x * sigmoid(x) as <see cref="Silu"/> computes it; the
/// arithmetic is <see cref="GatedUnit"/>'s.
/// </summary>
internal static class SwiGlu
{
    /// <summary>y[r, j] = SiLU(product[r, j]) * product[r, I + j] for r &lt; rows, j &lt; I (product [R, 2I], y [R, I]).</summary>
    public static void Apply(ReadOnlySpan<float> product, Span<float> y, int rows, int inner, in KernelCapabilities caps)
        => GatedUnit.Apply(GatedActivation.Silu, product, y, rows, inner, caps);

    /// <summary>Readable twin of <see cref="Apply"/>: SiLU in double (<see cref="Silu.Reference(double)"/>) times the multiplier.</summary>
    public static void ApplyReference(ReadOnlySpan<float> product, Span<float> y, int rows, int inner)
        => GatedUnit.ApplyReference(GatedActivation.Silu, product, y, rows, inner);
}
