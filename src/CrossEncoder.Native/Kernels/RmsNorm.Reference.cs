namespace CrossEncoder.Native.Kernels;

internal static partial class RmsNorm
{
    /// <summary>Readable twin of <see cref="Normalize"/>: y = x / sqrt(mean(x^2) + eps) * weight with the mean and the scale
    /// in double, rounded once.</summary>
    public static void NormalizeReference(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> output, int rows, int n, float eps)
    {
        KernelGuard.Length(input, (long)rows * n, nameof(input));
        KernelGuard.Length(weight, n, nameof(weight));
        KernelGuard.Length(output, (long)rows * n, nameof(output));
        for (int r = 0; r < rows; r++) RowReference(input.Slice(r * n, n), weight, output.Slice(r * n, n), eps);
    }

    /// <summary>Readable twin of <see cref="AddAndNormalize"/>: residual += x in float (the stream is stored in float), then
    /// <see cref="NormalizeReference"/> of the new residual.</summary>
    public static void AddAndNormalizeReference(Span<float> residual, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> output, int rows, int n, float eps)
    {
        KernelGuard.Length(residual, (long)rows * n, nameof(residual));
        KernelGuard.Length(x, (long)rows * n, nameof(x));
        for (int i = 0; i < rows * n; i++) residual[i] += x[i];
        NormalizeReference(residual, weight, output, rows, n, eps);
    }

    /// <summary>Readable twin of <see cref="NormalizeHeads"/>: each head slice of each row normalised by
    /// <see cref="NormalizeReference"/>'s arithmetic, in place.</summary>
    public static void NormalizeHeadsReference(Span<float> x, int ld, int rows, int heads, int headDim, int firstColumn, ReadOnlySpan<float> weight, float eps)
    {
        KernelGuard.Length(weight, headDim, nameof(weight));
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
            {
                var head = x.Slice(r * ld + firstColumn + h * headDim, headDim);
                RowReference(head, weight, head, eps);
            }
    }

    private static void RowReference(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps)
    {
        int n = x.Length;
        double meanSquare = 0;
        for (int i = 0; i < n; i++) meanSquare += (double)x[i] * x[i];
        meanSquare /= n;
        double inv = 1.0 / Math.Sqrt(meanSquare + eps);
        for (int i = 0; i < n; i++) y[i] = (float)(weight[i] * (x[i] * inv));
    }
}
