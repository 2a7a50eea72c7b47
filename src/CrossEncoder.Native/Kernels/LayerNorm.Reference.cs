namespace CrossEncoder.Native.Kernels;

internal static partial class LayerNorm
{
    /// <summary>Readable twin of <see cref="Normalize(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, float, in KernelCapabilities)"/>: two-pass mean/variance in double.</summary>
    public static void NormalizeReference(ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> output, int rows, int n, float eps)
        => AddAndNormalizeReference(input, ReadOnlySpan<float>.Empty, gamma, beta, output, rows, n, eps);

    /// <summary>Readable twin of <see cref="AddAndNormalize(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, float, in KernelCapabilities)"/>. An empty residual means "no residual".</summary>
    public static void AddAndNormalizeReference(ReadOnlySpan<float> x, ReadOnlySpan<float> residual, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> output, int rows, int n, float eps)
    {
        KernelGuard.Length(x, (long)rows * n, nameof(x));
        if (!residual.IsEmpty) KernelGuard.Length(residual, (long)rows * n, nameof(residual));
        KernelGuard.Length(gamma, n, nameof(gamma));
        KernelGuard.Length(beta, n, nameof(beta));
        KernelGuard.Length(output, (long)rows * n, nameof(output));
        var row = new double[n];
        for (int r = 0; r < rows; r++)
        {
            double mean = 0;
            for (int i = 0; i < n; i++)
            {
                row[i] = x[r * n + i] + (residual.IsEmpty ? 0.0 : residual[r * n + i]);
                mean += row[i];
            }
            mean /= n;
            double variance = 0;
            for (int i = 0; i < n; i++) variance += (row[i] - mean) * (row[i] - mean);
            variance /= n;
            double inv = 1.0 / Math.Sqrt(variance + eps);
            for (int i = 0; i < n; i++) output[r * n + i] = (float)((row[i] - mean) * inv * gamma[i] + beta[i]);
        }
    }
}
