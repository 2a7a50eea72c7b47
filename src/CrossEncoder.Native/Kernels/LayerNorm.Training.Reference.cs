namespace CrossEncoder.Native.Kernels;

internal static partial class LayerNorm
{
    /// <summary>Readable twin of <see cref="ForwardTraining"/> in double: y = LayerNorm(x) per row (no residual).</summary>
    public static void ForwardReference(ReadOnlySpan<double> x, ReadOnlySpan<double> gamma, ReadOnlySpan<double> beta, Span<double> y, int rows, int n, double eps)
    {
        for (int r = 0; r < rows; r++)
        {
            double mean = 0, variance = 0;
            for (int i = 0; i < n; i++) mean += x[r * n + i];
            mean /= n;
            for (int i = 0; i < n; i++) variance += (x[r * n + i] - mean) * (x[r * n + i] - mean);
            double inverse = 1 / Math.Sqrt(variance / n + eps);
            for (int i = 0; i < n; i++) y[r * n + i] = (x[r * n + i] - mean) * inverse * gamma[i] + beta[i];
        }
    }

    /// <summary>Readable twin of <see cref="Backward"/> in double, from the input x itself: dx, and dgamma/dbeta accumulated.</summary>
    public static void BackwardReference(ReadOnlySpan<double> x, ReadOnlySpan<double> dy, ReadOnlySpan<double> gamma, Span<double> dx,
        Span<double> dgamma, Span<double> dbeta, int rows, int n, double eps)
    {
        var xhat = new double[n];
        for (int r = 0; r < rows; r++)
        {
            double mean = 0, variance = 0;
            for (int i = 0; i < n; i++) mean += x[r * n + i];
            mean /= n;
            for (int i = 0; i < n; i++) variance += (x[r * n + i] - mean) * (x[r * n + i] - mean);
            double rstd = 1 / Math.Sqrt(variance / n + eps);
            double meanG = 0, meanGx = 0;
            for (int i = 0; i < n; i++)
            {
                xhat[i] = (x[r * n + i] - mean) * rstd;
                double g = dy[r * n + i] * gamma[i];
                meanG += g;
                meanGx += g * xhat[i];
                dgamma[i] += dy[r * n + i] * xhat[i];
                dbeta[i] += dy[r * n + i];
            }
            meanG /= n;
            meanGx /= n;
            for (int i = 0; i < n; i++) dx[r * n + i] = rstd * (dy[r * n + i] * gamma[i] - meanG - xhat[i] * meanGx);
        }
    }
}
