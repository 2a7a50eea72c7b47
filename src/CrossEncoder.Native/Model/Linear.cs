using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model;

/// <summary>A fully connected layer, <c>y = x W^T + b</c>, as torch.nn.Linear: the weight is stored [out, in].</summary>
internal sealed class Linear
{
    public Linear(float[] weight, float[] bias, int inFeatures, int outFeatures)
    {
        Weight = weight;   // [out, in]
        Bias = bias;       // [out]
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
    }

    public float[] Weight { get; }
    public float[] Bias { get; }
    public int InFeatures { get; }
    public int OutFeatures { get; }

    public static Linear Load(WeightSource weights, string module, int inFeatures, int outFeatures, bool underModelPrefix = true) =>
        new(weights.Take(WeightNames.Weight(module), [outFeatures, inFeatures], underModelPrefix),
            weights.Take(WeightNames.Bias(module), [outFeatures], underModelPrefix),
            inFeatures, outFeatures);

    /// <summary>Stacks layers that read the same input into one wider layer (rows of W concatenated), e.g. Q, K and V.</summary>
    public static Linear Concatenate(params Linear[] parts)
    {
        int inFeatures = parts[0].InFeatures;
        if (parts.Any(p => p.InFeatures != inFeatures)) throw new ArgumentException("Concatenated layers must share their input width.", nameof(parts));
        return new Linear(parts.SelectMany(p => p.Weight).ToArray(), parts.SelectMany(p => p.Bias).ToArray(), inFeatures, parts.Sum(p => p.OutFeatures));
    }

    /// <summary>y[R, out] = x[R, in] W^T + b.</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows) =>
        Gemm.MultiplyTransposed(x[..(rows * InFeatures)], Weight, Bias, y[..(rows * OutFeatures)], rows, OutFeatures, InFeatures);
}
