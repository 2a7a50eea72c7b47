namespace CrossEncoder.Native.Kernels;

internal static partial class Gelu
{
    /// <summary>Readable twin of <see cref="Apply(ReadOnlySpan{float}, Span{float}, in KernelCapabilities)"/>: <see cref="Reference(double)"/> per element, rounded once.</summary>
    public static void ApplyReference(ReadOnlySpan<float> x, Span<float> y)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        for (int i = 0; i < x.Length; i++) y[i] = (float)Reference(x[i]);
    }

    /// <summary>GELU(x) = x * Phi(x) in double with <see cref="SpecialFunctions.Erf"/>; GELU(-inf) is taken as its limit, -0
    /// (the literal product would be -inf * 0 = NaN).</summary>
    public static double Reference(double x)
    {
        double phi = 0.5 * (1.0 + SpecialFunctions.Erf(x / Math.Sqrt(2.0))); // standard normal CDF
        return double.IsNegativeInfinity(x) ? -0.0 : x * phi;
    }
}
