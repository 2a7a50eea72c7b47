namespace CrossEncoder.Native.Kernels;

/// <summary>Element-wise activations other than GELU: tanh (BERT's pooler) and the logistic sigmoid (scores).</summary>
internal static class Activations
{
    /// <summary>y[i] = tanh(x[i]); y may alias x.</summary>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> y)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        System.Numerics.Tensors.TensorPrimitives.Tanh(x, y[..x.Length]);
    }

    /// <summary>The logistic sigmoid 1 / (1 + e^-x), computed without overflow for large |x|.</summary>
    public static float Sigmoid(float x) => x >= 0 ? 1f / (1f + MathF.Exp(-x)) : MathF.Exp(x) / (1f + MathF.Exp(x));
}
