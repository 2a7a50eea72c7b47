namespace CrossEncoder.Native.Kernels;

internal static partial class Silu
{
    /// <summary>Readable twin of <see cref="Apply"/>: <see cref="Reference(double)"/> per element, rounded once.</summary>
    public static void ApplyReference(ReadOnlySpan<float> x, Span<float> y)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        for (int i = 0; i < x.Length; i++) y[i] = (float)Reference(x[i]);
    }

    /// <summary>SiLU(x) = x / (1 + e^-x) in double; SiLU(-inf) is taken as its limit, -0 (the formula gives -inf / inf = NaN).</summary>
    public static double Reference(double x) => double.IsNegativeInfinity(x) ? -0.0 : x / (1.0 + Math.Exp(-x));
}
