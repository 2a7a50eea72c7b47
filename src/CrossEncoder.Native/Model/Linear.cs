using System.Buffers;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model;

/// <summary>
/// A fully connected layer, <c>y = x W^T + b</c>, as torch.nn.Linear: the weight is stored [out, in]. The weight is packed
/// once at load into the GEMM's panel layout, so no call repacks it (and the unpacked copy is not kept). In int8 the weight
/// is quantized per output channel and each call quantizes its input per row (see Kernels/Quantize.cs and GemmInt8.cs).
/// </summary>
internal sealed class Linear
{
    private readonly PackedMatrix? _weight;        // [out, in], packed (fp32)
    private readonly QuantizedMatrix? _quantized;  // [out, in], int8 per channel, packed (int8)
    private readonly float[] _bias;                // [out]

    private Linear(float[] weight, float[] bias, int inFeatures, int outFeatures)
    {
        _weight = Gemm.Pack(weight, outFeatures, inFeatures);
        _bias = bias;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
    }

    private Linear(QuantizedMatrix weight, float[] bias)
    {
        _quantized = weight;
        _bias = bias;
        InFeatures = weight.K;
        OutFeatures = weight.N;
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }

    /// <summary>True when the product runs in int8.</summary>
    public bool IsInt8 => _quantized is not null;

    public static Linear Load(WeightSource weights, string module, int inFeatures, int outFeatures, bool underModelPrefix = true) =>
        LoadStacked(weights, [module], inFeatures, outFeatures, underModelPrefix);

    /// <summary>Loads layers that read the same input as one wider layer (rows of W stacked in order), e.g. Q, K and V.</summary>
    public static Linear LoadStacked(WeightSource weights, string[] modules, int inFeatures, int outFeaturesEach, bool underModelPrefix = true)
    {
        if (modules.All(m => weights.WantsInt8(WeightNames.Weight(m)))) return LoadStackedInt8(weights, modules, inFeatures, outFeaturesEach, underModelPrefix);
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

    private static Linear LoadStackedInt8(WeightSource weights, string[] modules, int inFeatures, int outFeaturesEach, bool underModelPrefix)
    {
        var q = new List<sbyte>(modules.Length * outFeaturesEach * inFeatures);
        var scale = new List<float>(modules.Length * outFeaturesEach);
        var bias = new List<float>(modules.Length * outFeaturesEach);
        foreach (string module in modules)
        {
            var (mq, ms) = weights.TakeQuantized(WeightNames.Weight(module), [outFeaturesEach, inFeatures], underModelPrefix);
            q.AddRange(mq);
            scale.AddRange(ms);
            bias.AddRange(weights.Take(WeightNames.Bias(module), [outFeaturesEach], underModelPrefix));
        }
        int outFeatures = modules.Length * outFeaturesEach;
        if (q.Count != outFeatures * inFeatures || bias.Count != outFeatures) return new Linear(new float[outFeatures * inFeatures], new float[outFeatures], inFeatures, outFeatures);
        return new Linear(QuantizedMatrix.FromQuantized(q.ToArray(), scale.ToArray(), outFeatures, inFeatures), bias.ToArray());
    }

    /// <summary>True when <see cref="ForwardColumns"/> can start at output feature <paramref name="column"/> (whole weight panels).</summary>
    public bool CanStartColumnsAt(int column) => column % (_quantized is null ? _weight!.Nr : QuantizedMatrix.Nr) == 0;

    /// <summary>Output features [first, first + count) only: y[r * ldy + j] = x[r] . W[j] + b[j]; other columns of y untouched.</summary>
    public void ForwardColumns(ReadOnlySpan<float> x, Span<float> y, int rows, int ldy, int first, int count)
    {
        if (_quantized is null) Gemm.MultiplyTransposedColumns(x[..(rows * InFeatures)], _weight!, _bias, y, rows, ldy, first, count);
        else ForwardInt8(x, y, rows, ldy, first, count);
    }

    /// <summary>y[R, out] = GELU(x[R, in] W^T + b), the GELU applied to each GEMM tile while it is cache-hot.</summary>
    public void ForwardGelu(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        if (_quantized is null)
        {
            Gemm.MultiplyTransposed(x[..(rows * InFeatures)], _weight!, _bias, y[..(rows * OutFeatures)], rows, GemmEpilogue.Gelu);
            return;
        }
        ForwardInt8(x, y, rows, OutFeatures, 0, OutFeatures, gelu: true);
    }

    /// <summary>residual[R, out] = LayerNorm(x[R, in] W^T + b + residual), the product kept in scratch[R, out]: BERT's dense +
    /// "add &amp; norm", fused into the GEMM in fp32 (each row block normalised while cache-hot), two passes in int8.</summary>
    public void ForwardAddLayerNorm(ReadOnlySpan<float> x, Span<float> residual, Span<float> scratch, int rows, LayerNormParameters layerNorm)
    {
        int n = rows * OutFeatures;
        if (_quantized is null)
            Gemm.MultiplyTransposedAddLayerNorm(x[..(rows * InFeatures)], _weight!, _bias, scratch[..n], rows, residual[..n], layerNorm.Gamma, layerNorm.Beta, layerNorm.Eps);
        else
        {
            ForwardInt8(x, scratch, rows, OutFeatures, 0, OutFeatures);
            layerNorm.AddAndForward(scratch, residual, rows);
        }
    }

    /// <summary>y[R, out] = x[R, in] W^T + b.</summary>
    public void Forward(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        if (_quantized is null) Gemm.MultiplyTransposed(x[..(rows * InFeatures)], _weight!, _bias, y[..(rows * OutFeatures)], rows);
        else ForwardInt8(x, y, rows, OutFeatures, 0, OutFeatures);
    }

    /// <summary>Output features [first, first + count) of the int8 product into y (row stride ldy).</summary>
    private void ForwardInt8(ReadOnlySpan<float> x, Span<float> y, int rows, int ldy, int first, int count, bool gelu = false)
    {
        var quantized = _quantized!;
        // int8: quantize x per row (12 bits + zero point), integer product, dequantize + bias. Pooled buffers: no steady-state allocation.
        int kp = quantized.KPadded;
        ushort[] qx = ArrayPool<ushort>.Shared.Rent(rows * kp);    // [R, Kp]
        float[] scale = ArrayPool<float>.Shared.Rent(rows);        // [R]
        int[] zeroPoint = ArrayPool<int>.Shared.Rent(rows);        // [R]
        try
        {
            Quantize.Rows(x[..(rows * InFeatures)], qx.AsSpan(0, rows * kp), scale.AsSpan(0, rows), zeroPoint.AsSpan(0, rows), rows, InFeatures);
            GemmInt8.MultiplyColumns(qx.AsSpan(0, rows * kp), scale.AsSpan(0, rows), zeroPoint.AsSpan(0, rows), quantized, _bias, y, rows, ldy, first, count, GemmInt8.Best, gelu);
        }
        finally
        {
            ArrayPool<ushort>.Shared.Return(qx);
            ArrayPool<float>.Shared.Return(scale);
            ArrayPool<int>.Shared.Return(zeroPoint);
        }
    }
}
