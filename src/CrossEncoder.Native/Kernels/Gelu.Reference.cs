namespace CrossEncoder.Native.Kernels;

public static partial class Gelu
{
    /// <summary>Readable twin of <see cref="Apply"/>, in double with <see cref="SpecialFunctions.Erf"/>.</summary>
    public static void ApplyReference(ReadOnlySpan<float> x, Span<float> y)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        for (int i = 0; i < x.Length; i++)
        {
            double v = x[i];
            y[i] = (float)(0.5 * v * (1.0 + SpecialFunctions.Erf(v / Math.Sqrt(2.0))));
        }
    }
}
