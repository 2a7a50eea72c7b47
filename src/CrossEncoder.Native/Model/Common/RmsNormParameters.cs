using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model.Common;

/// <summary>The learned scale ("weight") of an RMSNorm, with its epsilon: <c>y = x / sqrt(mean(x^2) + eps) * weight</c>.</summary>
internal sealed class RmsNormParameters(float[] weight, float eps, KernelCapabilities capabilities)
{
    public float[] Weight { get; } = weight;   // [n]
    public float Eps { get; } = eps;

    /// <summary>Loads <c>{module}.weight</c> [size].</summary>
    public static RmsNormParameters Load(WeightSource weights, string module, int size, double eps, bool underModelPrefix = true) =>
        new(weights.Take(TensorNaming.Weight(module), [size], underModelPrefix), (float)eps, weights.Capabilities);

    /// <summary>y[R, n] = RMSNorm(x[R, n]).</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows) =>
        RmsNorm.Normalize(x[..(rows * Weight.Length)], Weight, y[..(rows * Weight.Length)], rows, Weight.Length, Eps, capabilities);

    /// <summary>residual[R, n] += x; y = RMSNorm(residual): a pre-norm block's residual add and the next sublayer's norm in one pass.</summary>
    public void AddAndForward(Span<float> residual, ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        int n = rows * Weight.Length;
        RmsNorm.AddAndNormalize(residual[..n], x[..n], Weight, y[..n], rows, Weight.Length, Eps, capabilities);
    }

    /// <summary>In place over <paramref name="heads"/> head slices of width n starting at <paramref name="column"/> of each of
    /// <paramref name="rows"/> rows (row stride <paramref name="ld"/>): Qwen3's q_norm / k_norm on the fused q | k | v rows.</summary>
    public void ForwardHeads(Span<float> x, int ld, int rows, int heads, int column) =>
        RmsNorm.NormalizeHeads(x, ld, rows, heads, Weight.Length, column, Weight, Eps, capabilities);
}
