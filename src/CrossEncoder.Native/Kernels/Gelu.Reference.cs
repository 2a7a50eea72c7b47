namespace CrossEncoder.Native.Kernels;

internal static partial class Gelu
{
    /// <summary>Readable twin of <see cref="Apply(ReadOnlySpan{float}, Span{float}, in KernelCapabilities)"/>, in double with <see cref="SpecialFunctions.Erf"/>.</summary>
    public static void ApplyReference(ReadOnlySpan<float> x, Span<float> y)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            double phi = 0.5 * (1.0 + SpecialFunctions.Erf(v / Math.Sqrt(2.0))); // standard normal CDF
            // GELU(-inf) is taken as its limit, -0 (the literal product would be -inf * 0 = NaN).
            y[i] = double.IsNegativeInfinity(v) ? -0f : (float)(v * phi);
        }
    }
}
