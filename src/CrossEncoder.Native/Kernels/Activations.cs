namespace CrossEncoder.Native.Kernels;

/// <summary>Element-wise activations other than GELU: tanh (BERT's pooler), the logistic sigmoid (scores) and ReLU
/// (sentence-transformers' Dense heads).</summary>
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
