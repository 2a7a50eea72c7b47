namespace CrossEncoder.Native.Kernels;

internal static partial class Gemm
{
    /// <summary>The readable twin of <see cref="MultiplyTransposed(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, in KernelCapabilities)"/>: three loops, double accumulation.</summary>
    public static void MultiplyTransposedReference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> bias, Span<float> c, int m, int n, int k)
    {
        KernelGuard.Length(a, (long)m * k, nameof(a));
        KernelGuard.Length(b, (long)n * k, nameof(b));
        KernelGuard.Length(c, (long)m * n, nameof(c));
        if (!bias.IsEmpty) KernelGuard.Length(bias, n, nameof(bias));
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = bias.IsEmpty ? 0 : bias[j];
                for (int p = 0; p < k; p++) sum += (double)a[i * k + p] * b[j * k + p];
                c[i * n + j] = (float)sum;
            }
        }
    }
}
