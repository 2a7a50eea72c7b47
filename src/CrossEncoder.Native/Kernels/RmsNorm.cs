// TEMPORARY scalar stand-in (branch kern brings the real kernel).
namespace CrossEncoder.Native.Kernels;

internal static class RmsNorm
{
    public static void Normalize(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> output, int rows, int n, float eps, in KernelCapabilities caps)
    {
        for (int r = 0; r < rows; r++)
        {
            float ms = 0;
            for (int j = 0; j < n; j++) ms += input[r * n + j] * input[r * n + j];
            float inv = 1f / MathF.Sqrt(ms / n + eps);
            for (int j = 0; j < n; j++) output[r * n + j] = weight[j] * (input[r * n + j] * inv);
        }
    }

    public static void NormalizeHeads(Span<float> x, int ld, int rows, int heads, int headDim, int firstColumn, ReadOnlySpan<float> weight, float eps, in KernelCapabilities caps)
    {
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
            {
                var slice = x.Slice(r * ld + firstColumn + h * headDim, headDim);
                Normalize(slice, weight, slice, 1, headDim, eps, caps);
            }
    }

    public static void AddAndNormalize(Span<float> residual, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> output, int rows, int n, float eps, in KernelCapabilities caps)
    {
        for (int i = 0; i < rows * n; i++) residual[i] += x[i];
        Normalize(residual, weight, output, rows, n, eps, caps);
    }
}
