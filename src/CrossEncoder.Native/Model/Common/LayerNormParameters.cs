using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model.Common;

/// <summary>The learned scale (gamma, "weight") and shift (beta, "bias") of a LayerNorm, with its epsilon.</summary>
internal sealed class LayerNormParameters(float[] gamma, float[] beta, float eps, KernelCapabilities capabilities)
{
    private readonly KernelCapabilities _capabilities = capabilities;

    public float[] Gamma { get; } = gamma;   // [H]
    public float[] Beta { get; } = beta;     // [H]
    public float Eps { get; } = eps;

    /// <summary>Loads <c>{module}.weight</c> [size] and, when <paramref name="hasBias"/>, <c>{module}.bias</c> [size]; a LayerNorm
    /// built with <c>bias=False</c> (ModernBERT's <c>norm_bias</c>) shifts by zero.</summary>
    public static LayerNormParameters Load(WeightSource weights, string module, int size, double eps, bool hasBias = true, bool underModelPrefix = true) =>
        new(weights.Take(TensorNaming.Weight(module), [size], underModelPrefix),
            hasBias ? weights.Take(TensorNaming.Bias(module), [size], underModelPrefix) : new float[size], (float)eps, weights.Capabilities);

    /// <summary>x[R, H] = LayerNorm(x) in place.</summary>
    public void Forward(Span<float> x, int rows) =>
        LayerNorm.Normalize(x[..(rows * Gamma.Length)], Gamma, Beta, x[..(rows * Gamma.Length)], rows, Gamma.Length, Eps, _capabilities);

    /// <summary>y[R, H] = LayerNorm(x[R, H]) (a pre-norm block's input, leaving the residual stream x as it is).</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows) =>
        LayerNorm.Normalize(x[..(rows * Gamma.Length)], Gamma, Beta, y[..(rows * Gamma.Length)], rows, Gamma.Length, Eps, _capabilities);

    /// <summary>residual[R, H] = LayerNorm(x + residual): BERT's post-LN "add &amp; norm", written into the residual stream.</summary>
    public void AddAndForward(ReadOnlySpan<float> x, Span<float> residual, int rows)
    {
        int n = rows * Gamma.Length;
        LayerNorm.AddAndNormalize(x[..n], residual[..n], Gamma, Beta, residual[..n], rows, Gamma.Length, Eps, _capabilities);
    }
}
