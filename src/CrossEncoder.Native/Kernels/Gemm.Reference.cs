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

    /// <summary>
    /// The readable twin of <see cref="MultiplyTransposedGated"/>: y[i, j] = act(u) * g with u = A[i,:] . B[j,:] + bias[j] and
    /// g = A[i,:] . B[I + j,:] + bias[I + j], everything in double (B [2I, K] and bias [2I] in the original order: activated
    /// half, then multiplier half), rounded once.
    /// </summary>
    public static void MultiplyTransposedGatedReference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> bias, Span<float> y, int m, int inner, int k,
        GatedActivation activation)
    {
        KernelGuard.Length(a, (long)m * k, nameof(a));
        KernelGuard.Length(b, 2L * inner * k, nameof(b));
        KernelGuard.Length(y, (long)m * inner, nameof(y));
        if (!bias.IsEmpty) KernelGuard.Length(bias, 2 * inner, nameof(bias));
        for (int i = 0; i < m; i++)
            for (int j = 0; j < inner; j++)
            {
                double u = bias.IsEmpty ? 0 : bias[j], g = bias.IsEmpty ? 0 : bias[inner + j];
                for (int p = 0; p < k; p++)
                {
                    u += (double)a[i * k + p] * b[j * k + p];
                    g += (double)a[i * k + p] * b[(inner + j) * k + p];
                }
                y[i * inner + j] = (float)(GatedUnit.ActivationReference(activation, u) * g);
            }
    }
}
