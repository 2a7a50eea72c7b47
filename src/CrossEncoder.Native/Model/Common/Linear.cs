using System.Buffers;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model.Common;

/// <summary>
/// A fully connected layer, <c>y = x W^T + b</c>, as torch.nn.Linear: the weight is stored [out, in], the bias is optional.
/// The arithmetic is chosen once at load: <see cref="Fp32Linear"/> packs the weight into the GEMM's panel layout;
/// <see cref="Int8Linear"/> keeps it int8 per output channel and quantizes each call's input per row (Kernels/Quantize.cs,
/// GemmInt8.cs). A layer is quantizable when its family says so (encoder linears are; small heads stay fp32); it then
/// loads as int8 when the <see cref="WeightSource"/>'s precision is Int8.
/// A gated layer (<see cref="LoadGated"/>, a GeGLU feed-forward input layer) keeps its weight in gated order, so it offers
/// only <see cref="ForwardGeGlu"/>, with the activation fused into the GEMM; its other products throw.
/// </summary>
internal abstract class Linear
{
    protected Linear(int inFeatures, int outFeatures, float[] bias, bool gated)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Bias = bias;
        IsGated = gated;
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }

    /// <summary>True for a layer loaded by <see cref="LoadGated"/>: weight in gated order, only <see cref="ForwardGeGlu"/> runs.</summary>
    public bool IsGated { get; }

    /// <summary>[out], or empty when the layer has no bias.</summary>
    protected float[] Bias { get; }

    /// <summary>True when the product runs in int8.</summary>
    public abstract bool IsInt8 { get; }

    /// <summary>Loads <c>{module}.weight</c> [out, in] and (when <paramref name="hasBias"/>) <c>{module}.bias</c> [out].</summary>
    public static Linear Load(WeightSource weights, string module, int inFeatures, int outFeatures, bool quantizable, bool underModelPrefix = true, bool hasBias = true) =>
        LoadStacked(weights, [module], inFeatures, outFeatures, quantizable, underModelPrefix, hasBias);

    /// <summary>Loads layers that read the same input as one wider layer (rows of W stacked in order), e.g. Q, K and V.</summary>
    public static Linear LoadStacked(WeightSource weights, string[] modules, int inFeatures, int outFeaturesEach, bool quantizable, bool underModelPrefix = true, bool hasBias = true) =>
        LoadLayer(weights, modules, inFeatures, outFeaturesEach, quantizable, underModelPrefix, hasBias, gated: false);

    /// <summary>
    /// Loads a gated feed-forward input layer (GeGLU, as ModernBERT's <c>mlp.Wi</c>): <c>{module}.weight</c> [2I, in], rows
    /// [0, I) the input half and [I, 2I) the gate half, and <c>{module}.bias</c> [2I]. The weight is reordered in memory only
    /// (input and gate panels interleaved for the fused epilogue); the file keeps [2I, in], so the tensor is marked and
    /// quantized like any linear and an int8 folder stores it in the original order. The layer runs
    /// <see cref="ForwardGeGlu"/> only: <see cref="Forward"/> and the other products throw <see cref="InvalidOperationException"/>.
    /// </summary>
    public static Linear LoadGated(WeightSource weights, string module, int inFeatures, int innerFeatures, bool quantizable, bool underModelPrefix = true, bool hasBias = true) =>
        LoadLayer(weights, [module], inFeatures, 2 * innerFeatures, quantizable, underModelPrefix, hasBias, gated: true);

    private static Linear LoadLayer(WeightSource weights, string[] modules, int inFeatures, int outFeaturesEach, bool quantizable, bool underModelPrefix, bool hasBias, bool gated)
    {
        int outFeatures = modules.Length * outFeaturesEach;
        var bias = new List<float>(outFeatures);
        if (hasBias)
            foreach (string module in modules) bias.AddRange(weights.Take(TensorNaming.Bias(module), [outFeaturesEach], underModelPrefix));
        if (quantizable)
            foreach (string module in modules) weights.MarkQuantizableLinear(TensorNaming.Weight(module), underModelPrefix);
        // A missing tensor comes back empty (WeightSource reports them all at the end): keep the shapes valid until then.
        bool complete = !hasBias || bias.Count == outFeatures;
        if (quantizable && weights.Precision == Precision.Int8)
        {
            var q = new List<sbyte>(outFeatures * inFeatures);
            var scale = new List<float>(outFeatures);
            foreach (string module in modules)
            {
                var (mq, ms) = weights.TakeQuantized(TensorNaming.Weight(module), [outFeaturesEach, inFeatures], underModelPrefix);
                q.AddRange(mq);
                scale.AddRange(ms);
            }
            if (complete && q.Count == outFeatures * inFeatures)
            {
                var matrix = gated ? QuantizedMatrix.FromQuantizedGated(q.ToArray(), scale.ToArray(), outFeatures / 2, inFeatures)
                    : QuantizedMatrix.FromQuantized(q.ToArray(), scale.ToArray(), outFeatures, inFeatures);
                return new Int8Linear(matrix, bias.ToArray(), weights.Capabilities);
            }
        }
        else
        {
            var weight = new List<float>(outFeatures * inFeatures);
            foreach (string module in modules) weight.AddRange(weights.Take(TensorNaming.Weight(module), [outFeaturesEach, inFeatures], underModelPrefix));
            if (complete && weight.Count == outFeatures * inFeatures) return new Fp32Linear(weight.ToArray(), bias.ToArray(), inFeatures, outFeatures, weights.Capabilities, gated);
        }
        return new Fp32Linear(new float[outFeatures * inFeatures], hasBias ? new float[outFeatures] : [], inFeatures, outFeatures, weights.Capabilities, gated);
    }

    /// <summary>True when <see cref="ForwardColumns"/> can start at output feature <paramref name="column"/> (whole weight panels).</summary>
    public abstract bool CanStartColumnsAt(int column);

    /// <summary>Output features [first, first + count) only: y[r * ldy + j] = x[r] . W[j] + b[j]; other columns of y untouched.</summary>
    public abstract void ForwardColumns(ReadOnlySpan<float> x, Span<float> y, int rows, int ldy, int first, int count);

    /// <summary>y[R, out] = x[R, in] W^T + b.</summary>
    public abstract void Forward(ReadOnlySpan<float> x, Span<float> y, int rows);

    /// <summary>y[R, out] = GELU(x[R, in] W^T + b), the GELU applied to each GEMM tile while it is cache-hot.</summary>
    public abstract void ForwardGelu(ReadOnlySpan<float> x, Span<float> y, int rows);

    /// <summary>
    /// y[R, out/2] = GELU(u) * g where [u | g] = x[R, in] W^T + b: a gated feed-forward input layer (GeGLU) whose weight stacks
    /// the input rows over the gate rows ([2I, in], as ModernBERT's Wi). On a layer from <see cref="LoadGated"/> the GeGLU is
    /// fused into the GEMM epilogue and <paramref name="scratch"/> is not touched (it may be empty); on a plain layer the
    /// product goes through scratch[R, out], then <see cref="GeGlu.Apply(ReadOnlySpan{float}, Span{float}, int, int, in KernelCapabilities)"/>.
    /// Both give the same y, bit for bit.
    /// </summary>
    public virtual void ForwardGeGlu(ReadOnlySpan<float> x, Span<float> y, Span<float> scratch, int rows)
    {
        if (OutFeatures % 2 != 0) throw new InvalidOperationException($"A gated layer needs an even number of outputs, not {OutFeatures}.");
        Forward(x, scratch, rows);
        GeGlu.Apply(scratch[..(rows * OutFeatures)], y, rows, OutFeatures / 2, Capabilities);
    }

    /// <summary>Throws when the layer is gated: its weight is in gated order and gives only <see cref="ForwardGeGlu"/>.</summary>
    protected void ThrowIfGated(string operation)
    {
        if (IsGated)
            throw new InvalidOperationException($"{operation} is not available on a gated layer (loaded with Linear.LoadGated, weight in gated order): use ForwardGeGlu.");
    }

    /// <summary>The kernel capabilities the layer was loaded with.</summary>
    protected abstract KernelCapabilities Capabilities { get; }

    /// <summary>residual[R, out] = LayerNorm(x[R, in] W^T + b + residual), the product kept in scratch[R, out]: BERT's dense +
    /// "add &amp; norm".</summary>
    public abstract void ForwardAddLayerNorm(ReadOnlySpan<float> x, Span<float> residual, Span<float> scratch, int rows, LayerNormParameters layerNorm);
}

/// <summary>fp32: the weight packed once at load (the unpacked copy is not kept), so no call repacks it. Gated: packed in
/// gated order (Gemm.PackGated) for the fused GeGLU.</summary>
internal sealed class Fp32Linear(float[] weight, float[] bias, int inFeatures, int outFeatures, KernelCapabilities capabilities, bool gated = false)
    : Linear(inFeatures, outFeatures, bias, gated)
{
    private readonly KernelCapabilities _capabilities = capabilities;
    private readonly PackedMatrix _weight = gated ? Gemm.PackGated(weight, outFeatures / 2, inFeatures, capabilities)   // [2I, in], gated order
        : Gemm.Pack(weight, outFeatures, inFeatures, capabilities);                                                       // [out, in], packed for the chosen path

    protected override KernelCapabilities Capabilities => _capabilities;

    public override bool IsInt8 => false;

    public override bool CanStartColumnsAt(int column) => !IsGated && column % _weight.Nr == 0;

    public override void ForwardColumns(ReadOnlySpan<float> x, Span<float> y, int rows, int ldy, int first, int count)
    {
        ThrowIfGated(nameof(ForwardColumns));
        Gemm.MultiplyTransposedColumns(x[..(rows * InFeatures)], _weight, Bias, y, rows, ldy, first, count, _capabilities);
    }

    public override void Forward(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        ThrowIfGated(nameof(Forward));
        Gemm.MultiplyTransposed(x[..(rows * InFeatures)], _weight, Bias, y[..(rows * OutFeatures)], rows, _capabilities);
    }

    public override void ForwardGelu(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        ThrowIfGated(nameof(ForwardGelu));
        Gemm.MultiplyTransposed(x[..(rows * InFeatures)], _weight, Bias, y[..(rows * OutFeatures)], rows, GemmEpilogue.Gelu, _capabilities);
    }

    /// <summary>Gated: GeGLU in the GEMM epilogue, y[R, I] written directly (scratch unused). Plain: the product, then GeGLU.</summary>
    public override void ForwardGeGlu(ReadOnlySpan<float> x, Span<float> y, Span<float> scratch, int rows)
    {
        if (!IsGated) { base.ForwardGeGlu(x, y, scratch, rows); return; }
        Gemm.MultiplyTransposedGeGlu(x[..(rows * InFeatures)], _weight, Bias, y[..(rows * _weight.Inner)], rows, _capabilities);
    }

    /// <summary>Fused into the GEMM: each row block is normalised while cache-hot.</summary>
    public override void ForwardAddLayerNorm(ReadOnlySpan<float> x, Span<float> residual, Span<float> scratch, int rows, LayerNormParameters layerNorm)
    {
        ThrowIfGated(nameof(ForwardAddLayerNorm));
        int n = rows * OutFeatures;
        Gemm.MultiplyTransposedAddLayerNorm(x[..(rows * InFeatures)], _weight, Bias, scratch[..n], rows, residual[..n], layerNorm.Gamma, layerNorm.Beta, layerNorm.Eps, _capabilities);
    }
}

/// <summary>int8: weights int8 per output channel, each call's input quantized per row (12 bits + zero point), integer
/// product, dequantize + bias in the epilogue. Pooled buffers: no steady-state allocation. Gated: the weight is in gated
/// order (QuantizedMatrix.FromQuantizedGated) for the fused GeGLU.</summary>
internal sealed class Int8Linear(QuantizedMatrix weight, float[] bias, KernelCapabilities capabilities) : Linear(weight.K, weight.N, bias, weight.IsGated)
{
    private readonly KernelCapabilities _capabilities = capabilities;
    private readonly QuantizedMatrix _weight = weight;   // [out, in], int8 per channel, packed (gated: [2I, in] in gated order)

    protected override KernelCapabilities Capabilities => _capabilities;

    public override bool IsInt8 => true;

    public override bool CanStartColumnsAt(int column) => !IsGated && column % QuantizedMatrix.Nr == 0;

    public override void ForwardColumns(ReadOnlySpan<float> x, Span<float> y, int rows, int ldy, int first, int count) =>
        Multiply(x, y, rows, ldy, first, count, gelu: false, nameof(ForwardColumns));

    public override void Forward(ReadOnlySpan<float> x, Span<float> y, int rows) => Multiply(x, y, rows, OutFeatures, 0, OutFeatures, gelu: false, nameof(Forward));

    public override void ForwardGelu(ReadOnlySpan<float> x, Span<float> y, int rows) => Multiply(x, y, rows, OutFeatures, 0, OutFeatures, gelu: true, nameof(ForwardGelu));

    /// <summary>Two passes: the product, then residual + LayerNorm.</summary>
    public override void ForwardAddLayerNorm(ReadOnlySpan<float> x, Span<float> residual, Span<float> scratch, int rows, LayerNormParameters layerNorm)
    {
        Multiply(x, scratch, rows, OutFeatures, 0, OutFeatures, gelu: false, nameof(ForwardAddLayerNorm));
        layerNorm.AddAndForward(scratch, residual, rows);
    }

    /// <summary>Gated: GeGLU in the int8 GEMM's epilogue, y[R, I] written directly (scratch unused). Plain: the product, then GeGLU.</summary>
    public override void ForwardGeGlu(ReadOnlySpan<float> x, Span<float> y, Span<float> scratch, int rows)
    {
        if (!IsGated) { base.ForwardGeGlu(x, y, scratch, rows); return; }
        var (qx, scale, zeroPoint) = QuantizeInput(x, rows);
        try
        {
            GemmInt8.MultiplyGeGlu(qx.AsSpan(0, rows * _weight.KPadded), scale.AsSpan(0, rows), zeroPoint.AsSpan(0, rows), _weight, Bias,
                y[..(rows * _weight.Inner)], rows, _capabilities);
        }
        finally
        {
            Return(qx, scale, zeroPoint);
        }
    }

    /// <summary>x[R, in] quantized per row into pooled buffers: qx [R, Kp], scale [R], zeroPoint [R] (give them back with <see cref="Return"/>).</summary>
    private (ushort[] Qx, float[] Scale, int[] ZeroPoint) QuantizeInput(ReadOnlySpan<float> x, int rows)
    {
        int kp = _weight.KPadded;
        ushort[] qx = ArrayPool<ushort>.Shared.Rent(rows * kp);    // [R, Kp]
        float[] scale = ArrayPool<float>.Shared.Rent(rows);        // [R]
        int[] zeroPoint = ArrayPool<int>.Shared.Rent(rows);        // [R]
        Quantize.Rows(x[..(rows * InFeatures)], qx.AsSpan(0, rows * kp), scale.AsSpan(0, rows), zeroPoint.AsSpan(0, rows), rows, InFeatures, _capabilities);
        return (qx, scale, zeroPoint);
    }

    private static void Return(ushort[] qx, float[] scale, int[] zeroPoint)
    {
        ArrayPool<ushort>.Shared.Return(qx);
        ArrayPool<float>.Shared.Return(scale);
        ArrayPool<int>.Shared.Return(zeroPoint);
    }

    /// <summary>Output features [first, first + count) of the int8 product into y (row stride ldy).</summary>
    private void Multiply(ReadOnlySpan<float> x, Span<float> y, int rows, int ldy, int first, int count, bool gelu, string operation)
    {
        ThrowIfGated(operation);
        var (qx, scale, zeroPoint) = QuantizeInput(x, rows);
        try
        {
            GemmInt8.MultiplyColumns(qx.AsSpan(0, rows * _weight.KPadded), scale.AsSpan(0, rows), zeroPoint.AsSpan(0, rows), _weight, Bias, y, rows, ldy, first, count, gelu, _capabilities);
        }
        finally
        {
            Return(qx, scale, zeroPoint);
        }
    }
}
