using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model;

/// <summary>
/// A fully connected layer, <c>y = x W^T + b</c>, as torch.nn.Linear: the weight is stored [out, in]. The weight is packed
/// once at load into the GEMM's panel layout, so no call repacks it (and the unpacked copy is not kept).
/// </summary>
internal sealed class Linear
{
    private readonly PackedMatrix _weight;   // [out, in], packed
    private readonly float[] _bias;          // [out]

    private Linear(float[] weight, float[] bias, int inFeatures, int outFeatures)
    {
        _weight = Gemm.Pack(weight, outFeatures, inFeatures);
        _bias = bias;
    }

    public int InFeatures => _weight.K;
    public int OutFeatures => _weight.N;

    public static Linear Load(WeightSource weights, string module, int inFeatures, int outFeatures, bool underModelPrefix = true) =>
        LoadStacked(weights, [module], inFeatures, outFeatures, underModelPrefix);

    /// <summary>Loads layers that read the same input as one wider layer (rows of W stacked in order), e.g. Q, K and V.</summary>
    public static Linear LoadStacked(WeightSource weights, string[] modules, int inFeatures, int outFeaturesEach, bool underModelPrefix = true)
    {
        var weight = new List<float>(modules.Length * outFeaturesEach * inFeatures);
        var bias = new List<float>(modules.Length * outFeaturesEach);
        foreach (string module in modules)
        {
            weight.AddRange(weights.Take(WeightNames.Weight(module), [outFeaturesEach, inFeatures], underModelPrefix));
            bias.AddRange(weights.Take(WeightNames.Bias(module), [outFeaturesEach], underModelPrefix));
        }
        // A missing tensor comes back empty (WeightSource reports them all at the end): keep the shapes valid until then.
        int outFeatures = modules.Length * outFeaturesEach;
        if (weight.Count != outFeatures * inFeatures || bias.Count != outFeatures) return new Linear(new float[outFeatures * inFeatures], new float[outFeatures], inFeatures, outFeatures);
        return new Linear(weight.ToArray(), bias.ToArray(), inFeatures, outFeatures);
    }

    /// <summary>True when <see cref="ForwardColumns"/> can start at output feature <paramref name="column"/> (whole weight panels).</summary>
    public bool CanStartColumnsAt(int column) => column % _weight.Nr == 0;

    /// <summary>Output features [first, first + count) only: y[r * ldy + j] = x[r] . W[j] + b[j]; other columns of y untouched.</summary>
    public void ForwardColumns(ReadOnlySpan<float> x, Span<float> y, int rows, int ldy, int first, int count) =>
        Gemm.MultiplyTransposedColumns(x[..(rows * InFeatures)], _weight, _bias, y, rows, ldy, first, count);

    /// <summary>y[R, out] = GELU(x[R, in] W^T + b), the GELU applied to each GEMM tile while it is cache-hot.</summary>
    public void ForwardGelu(ReadOnlySpan<float> x, Span<float> y, int rows) =>
        Gemm.MultiplyTransposed(x[..(rows * InFeatures)], _weight, _bias, y[..(rows * OutFeatures)], rows, GemmEpilogue.Gelu);

    /// <summary>y[R, out] = x[R, in] W^T + b.</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows) =>
        Gemm.MultiplyTransposed(x[..(rows * InFeatures)], _weight, _bias, y[..(rows * OutFeatures)], rows);
}
