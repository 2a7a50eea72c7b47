namespace CrossEncoder.Native.Kernels;

/// <summary>Element-wise activations other than GELU: tanh (BERT's pooler), the logistic sigmoid (scores), ReLU and SiLU
/// (heads, sentence-transformers' Dense modules), and the residual add of pre-norm blocks.</summary>
internal static class Activations
{
    /// <summary>accumulator[i] += x[i] (a residual connection: hidden = hidden + sublayer(hidden)).</summary>
    public static void AddInPlace(Span<float> accumulator, ReadOnlySpan<float> x)
    {
        KernelGuard.Length(accumulator, x.Length, nameof(accumulator));
        System.Numerics.Tensors.TensorPrimitives.Add(accumulator[..x.Length], x, accumulator[..x.Length]);
    }

    /// <summary>y[i] = x[i] * sigmoid(x[i]) (SiLU, "swish"); y may alias x.</summary>
    public static void Silu(ReadOnlySpan<float> x, Span<float> y)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * Sigmoid(x[i]);
    }

    /// <summary>y[i] = tanh(x[i]); y may alias x.</summary>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> y)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        System.Numerics.Tensors.TensorPrimitives.Tanh(x, y[..x.Length]);
    }

    /// <summary>The logistic sigmoid 1 / (1 + e^-x), computed without overflow for large |x|.</summary>
    public static float Sigmoid(float x) => x >= 0 ? 1f / (1f + MathF.Exp(-x)) : MathF.Exp(x) / (1f + MathF.Exp(x));

    /// <summary>y[i] = sigmoid(x[i]), as <see cref="Sigmoid(float)"/>; y may alias x.</summary>
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> y)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        for (int i = 0; i < x.Length; i++) y[i] = Sigmoid(x[i]);
    }

    /// <summary>y[i] = max(x[i], 0); y may alias x. NaN stays NaN, as torch.relu.</summary>
    public static void Relu(ReadOnlySpan<float> x, Span<float> y)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        for (int i = 0; i < x.Length; i++) y[i] = x[i] < 0f ? 0f : x[i];
    }
}
