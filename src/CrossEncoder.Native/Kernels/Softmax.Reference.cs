namespace CrossEncoder.Native.Kernels;

internal static partial class Softmax
{
    /// <summary>Readable twin of <see cref="Apply(ReadOnlySpan{float}, Span{float}, in KernelCapabilities)"/>, in double.</summary>
    public static void ApplyReference(ReadOnlySpan<float> x, Span<float> y)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        if (x.IsEmpty) return;
        double max = double.NegativeInfinity;
        for (int i = 0; i < x.Length; i++) max = Math.Max(max, x[i]);
        if (!double.IsFinite(max)) { y.Fill(float.NaN); return; }   // all -inf, or +inf / NaN in the row: no softmax
        double sum = 0;
        var e = new double[x.Length];
        for (int i = 0; i < x.Length; i++) { e[i] = Math.Exp(x[i] - max); sum += e[i]; }
        for (int i = 0; i < x.Length; i++) y[i] = (float)(e[i] / sum);
    }
}
