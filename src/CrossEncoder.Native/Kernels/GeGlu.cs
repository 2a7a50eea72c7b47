namespace CrossEncoder.Native.Kernels;

/// <summary>
/// The gated GELU unit (GeGLU) of a gated feed-forward block: a product row [input | gate] of 2I values becomes I values
/// <c>GELU(input) * gate</c>. GELU is the exact one of <see cref="Gelu"/>; the arithmetic is <see cref="GatedUnit"/>'s.
/// </summary>
internal static class GeGlu
{
    /// <summary>y[r, j] = GELU(product[r, j]) * product[r, I + j] for r &lt; rows, j &lt; I (product [R, 2I], y [R, I]).</summary>
    public static void Apply(ReadOnlySpan<float> product, Span<float> y, int rows, int inner, in KernelCapabilities caps)
        => GatedUnit.Apply(GatedActivation.Gelu, product, y, rows, inner, caps);

    /// <summary>Readable twin of <see cref="Apply"/>: GELU in double (<see cref="Gelu.Reference(double)"/>) times the gate.</summary>
    public static void ApplyReference(ReadOnlySpan<float> product, Span<float> y, int rows, int inner)
        => GatedUnit.ApplyReference(GatedActivation.Gelu, product, y, rows, inner);
}
