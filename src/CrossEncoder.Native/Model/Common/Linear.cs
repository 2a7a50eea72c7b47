using System.Buffers;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model.Common;

/// <summary>
/// A fully connected layer, <c>y = x W^T + b</c>, as torch.nn.Linear: the weight is stored [out, in], the bias is optional.
/// The arithmetic is chosen once at load: <see cref="Fp32Linear"/> packs the weight into the GEMM's panel layout;
/// <see cref="Int8Linear"/> keeps it int8 per output channel and quantizes each call's input per row (Kernels/Quantize.cs,
/// GemmInt8.cs). A layer is quantizable when its family says so (encoder linears are; small heads stay fp32); it then
/// loads as int8 when the <see cref="WeightSource"/>'s precision is Int8.
/// Several modules that read the same input load as one wider layer (<see cref="LoadStacked(WeightSource, string[], int, int[], bool, bool, bool)"/>:
/// Q, K and V, of equal or unequal widths). A gated layer (<see cref="LoadGated"/>, <see cref="LoadGatedPair"/>: the input
/// layer of a GeGLU or SwiGLU feed-forward block) keeps its weight in gated order, so it offers only the gated products
/// (<see cref="ForwardGated"/>, <see cref="ForwardGeGlu"/>, <see cref="ForwardSwiGlu"/>), with the unit fused into the
/// GEMM; its other products throw.
/// </summary>
internal abstract class Linear
{
    protected Linear(int inFeatures, int outFeatures, float[] bias, bool gated, GatedActivation activation)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Bias = bias;
        IsGated = gated;
        Activation = activation;
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }

    /// <summary>True for a layer loaded by <see cref="LoadGated"/> or <see cref="LoadGatedPair"/>: weight in gated order,
    /// only the gated products run.</summary>
    public bool IsGated { get; }

    /// <summary>A gated layer's unit activation, chosen at load (GELU: GeGLU, SiLU: SwiGLU); <see cref="ForwardGated"/> applies it.</summary>
    public GatedActivation Activation { get; }

    /// <summary>[out], or empty when the layer has no bias.</summary>
    protected float[] Bias { get; }

    /// <summary>True when the product runs in int8.</summary>
    public abstract bool IsInt8 { get; }

    /// <summary>Loads <c>{module}.weight</c> [out, in] and (when <paramref name="hasBias"/>) <c>{module}.bias</c> [out].</summary>
    public static Linear Load(WeightSource weights, string module, int inFeatures, int outFeatures, bool quantizable, bool underModelPrefix = true, bool hasBias = true) =>
        LoadLayer(weights, [module], inFeatures, [outFeatures], quantizable, underModelPrefix, hasBias, gated: null);

    /// <summary>Loads layers of equal width that read the same input as one wider layer (rows of W stacked in order), e.g. Q, K and V.</summary>
    public static Linear LoadStacked(WeightSource weights, string[] modules, int inFeatures, int outFeaturesEach, bool quantizable, bool underModelPrefix = true, bool hasBias = true) =>
        LoadStacked(weights, modules, inFeatures, Enumerable.Repeat(outFeaturesEach, modules.Length).ToArray(), quantizable, underModelPrefix, hasBias);

    /// <summary>
    /// Loads layers that read the same input as one wider layer, module i contributing <paramref name="outFeatures"/>[i] rows:
    /// <c>{modules[i]}.weight</c> [outFeatures[i], in] stacked in order into W [sum, in], and (when <paramref name="hasBias"/>,
    /// for every module) <c>{modules[i]}.bias</c> [outFeatures[i]] into b [sum]. E.g. grouped-query attention's
    /// q [nH*dH, H], k [nKV*dH, H], v [nKV*dH, H] as one [nH*dH + 2*nKV*dH, H] projection whose output row is [q | k | v].
    /// Each tensor stays quantizable under its own name, so an int8 folder stores them as they are in the file.
    /// </summary>
    /// <exception cref="ArgumentException">The widths do not match the modules one for one, or one is not positive.</exception>
    public static Linear LoadStacked(WeightSource weights, string[] modules, int inFeatures, int[] outFeatures, bool quantizable, bool underModelPrefix = true, bool hasBias = true) =>
        LoadLayer(weights, modules, inFeatures, outFeatures, quantizable, underModelPrefix, hasBias, gated: null);

    /// <summary>
    /// Loads a gated feed-forward input layer stored as one tensor (GeGLU, as ModernBERT's <c>mlp.Wi</c>): <c>{module}.weight</c>
    /// [2I, in], rows [0, I) the activated half and [I, 2I) the multiplier half, and <c>{module}.bias</c> [2I]. The weight is
    /// reordered in memory only (activated and multiplier panels interleaved for the fused epilogue); the file keeps [2I, in],
    /// so the tensor is marked and quantized like any linear and an int8 folder stores it in the original order. The layer runs
    /// the gated products only: <see cref="Forward"/> and the other products throw <see cref="InvalidOperationException"/>.
    /// The last parameter is the unit's activation (GELU, GeGLU, by default; SiLU for SwiGLU).
    /// </summary>
    public static Linear LoadGated(WeightSource weights, string module, int inFeatures, int innerFeatures, bool quantizable, bool underModelPrefix = true, bool hasBias = true,
        GatedActivation activation = GatedActivation.Gelu) =>
        LoadLayer(weights, [module], inFeatures, [2 * innerFeatures], quantizable, underModelPrefix, hasBias, activation);

    /// <summary>
    /// Loads a gated feed-forward input layer stored as two tensors, packed as one gated matrix: <c>{gateModule}.weight</c>
    /// [I, in] is the activated half and <c>{upModule}.weight</c> [I, in] the multiplier half (a SwiGLU block's
    /// <c>down_proj(act(gate_proj(x)) * up_proj(x))</c>: B = [W_gate; W_up]), with <c>{module}.bias</c> [I] each when
    /// <paramref name="hasBias"/>. Both tensors stay quantizable under their own names (an int8 folder stores each as I8
    /// [I, in]). The layer runs the gated products only, as one from <see cref="LoadGated"/>.
    /// </summary>
    public static Linear LoadGatedPair(WeightSource weights, string gateModule, string upModule, int inFeatures, int innerFeatures, GatedActivation activation,
        bool quantizable, bool underModelPrefix = true, bool hasBias = false) =>
        LoadLayer(weights, [gateModule, upModule], inFeatures, [innerFeatures, innerFeatures], quantizable, underModelPrefix, hasBias, activation);

    /// <summary>Modules i of <paramref name="widths"/>[i] rows each, stacked into one layer; gated (in gated order, with that
    /// activation) when <paramref name="gated"/> is set, the rows then being [activated half; multiplier half].</summary>
    private static Linear LoadLayer(WeightSource weights, string[] modules, int inFeatures, int[] widths, bool quantizable, bool underModelPrefix, bool hasBias,
        GatedActivation? gated)
    {
        if (widths.Length != modules.Length)
            throw new ArgumentException($"{modules.Length} modules need {modules.Length} widths, not {widths.Length}.", nameof(widths));
        if (widths.Any(w => w <= 0)) throw new ArgumentException($"Every width must be positive: [{string.Join(", ", widths)}].", nameof(widths));
        int outFeatures = checked(widths.Sum());
        var bias = new List<float>(outFeatures);
        if (hasBias)
            for (int i = 0; i < modules.Length; i++) bias.AddRange(weights.Take(TensorNaming.Bias(modules[i]), [widths[i]], underModelPrefix));
        if (quantizable)
            foreach (string module in modules) weights.MarkQuantizableLinear(TensorNaming.Weight(module), underModelPrefix);
        // A missing tensor comes back empty (WeightSource reports them all at the end): keep the shapes valid until then.
        bool complete = !hasBias || bias.Count == outFeatures;
        var activation = gated ?? GatedActivation.Gelu;
        if (quantizable && weights.Precision == Precision.Int8)
        {
            var q = new List<sbyte>(outFeatures * inFeatures);
            var scale = new List<float>(outFeatures);
            for (int i = 0; i < modules.Length; i++)
            {
                var (mq, ms) = weights.TakeQuantized(TensorNaming.Weight(modules[i]), [widths[i], inFeatures], underModelPrefix);
                q.AddRange(mq);
                scale.AddRange(ms);
            }
            if (complete && q.Count == outFeatures * inFeatures)
            {
                var matrix = gated is not null ? QuantizedMatrix.FromQuantizedGated(q.ToArray(), scale.ToArray(), outFeatures / 2, inFeatures)
                    : QuantizedMatrix.FromQuantized(q.ToArray(), scale.ToArray(), outFeatures, inFeatures);
                return new Int8Linear(matrix, bias.ToArray(), weights.Capabilities, activation);
            }
        }
        else
        {
            var weight = new List<float>(outFeatures * inFeatures);
            for (int i = 0; i < modules.Length; i++) weight.AddRange(weights.Take(TensorNaming.Weight(modules[i]), [widths[i], inFeatures], underModelPrefix));
            if (complete && weight.Count == outFeatures * inFeatures)
                return new Fp32Linear(weight.ToArray(), bias.ToArray(), inFeatures, outFeatures, weights.Capabilities, gated is not null, activation);
        }
        return new Fp32Linear(new float[outFeatures * inFeatures], hasBias ? new float[outFeatures] : [], inFeatures, outFeatures, weights.Capabilities, gated is not null, activation);
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
    /// y[R, I] = act(a) * m where [a | m] = x[R, in] W^T + b, act the layer's <see cref="Activation"/>: the input layer of a
    /// gated feed-forward block, with the unit fused into the GEMM epilogue (the [R, 2I] product is never written). Only on a
    /// gated layer (<see cref="LoadGated"/>, <see cref="LoadGatedPair"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The layer is not gated.</exception>
    public void ForwardGated(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        if (!IsGated)
            throw new InvalidOperationException("ForwardGated needs a gated layer (Linear.LoadGated or LoadGatedPair); on a plain layer call ForwardGeGlu or ForwardSwiGlu with a scratch buffer.");
        ForwardFusedGated(x, y, rows);
    }

    /// <summary>
    /// y[R, out/2] = GELU(a) * m where [a | m] = x[R, in] W^T + b: a GeGLU feed-forward input layer whose weight stacks the
    /// activated rows over the multiplier rows ([2I, in], as ModernBERT's Wi). On a gated layer (loaded for GELU) the unit is
    /// fused into the GEMM epilogue and <paramref name="scratch"/> is not touched (it may be empty); on a plain layer the
    /// product goes through scratch[R, out], then <see cref="GeGlu.Apply(ReadOnlySpan{float}, Span{float}, int, int, in KernelCapabilities)"/>.
    /// Both give the same y, bit for bit.
    /// </summary>
    /// <exception cref="InvalidOperationException">A gated layer loaded for another activation, or an odd number of outputs.</exception>
    public void ForwardGeGlu(ReadOnlySpan<float> x, Span<float> y, Span<float> scratch, int rows) => ForwardUnit(x, y, scratch, rows, GatedActivation.Gelu);

    /// <summary>
    /// y[R, out/2] = SiLU(a) * m where [a | m] = x[R, in] W^T + b: the SwiGLU form of <see cref="ForwardGeGlu"/> (fused on a
    /// gated layer loaded for SiLU, scratch unused; through scratch[R, out] and
    /// <see cref="SwiGlu.Apply(ReadOnlySpan{float}, Span{float}, int, int, in KernelCapabilities)"/> on a plain one; the same y bit for bit).
    /// </summary>
    /// <exception cref="InvalidOperationException">A gated layer loaded for another activation, or an odd number of outputs.</exception>
    public void ForwardSwiGlu(ReadOnlySpan<float> x, Span<float> y, Span<float> scratch, int rows) => ForwardUnit(x, y, scratch, rows, GatedActivation.Silu);

    private void ForwardUnit(ReadOnlySpan<float> x, Span<float> y, Span<float> scratch, int rows, GatedActivation activation)
    {
        if (IsGated)
        {
            if (activation != Activation)
                throw new InvalidOperationException($"The layer was loaded for the {Activation} unit; this call asks for {activation}.");
            ForwardFusedGated(x, y, rows);
            return;
        }
        if (OutFeatures % 2 != 0) throw new InvalidOperationException($"A gated layer needs an even number of outputs, not {OutFeatures}.");
        Forward(x, scratch, rows);
        GatedUnit.Apply(activation, scratch[..(rows * OutFeatures)], y, rows, OutFeatures / 2, Capabilities);
    }

    /// <summary>The gated product of a gated layer with its <see cref="Activation"/>, fused into the GEMM: y[R, I].</summary>
    protected abstract void ForwardFusedGated(ReadOnlySpan<float> x, Span<float> y, int rows);

    /// <summary>Throws when the layer is gated: its weight is in gated order and gives only the gated products.</summary>
    protected void ThrowIfGated(string operation)
    {
        if (IsGated)
            throw new InvalidOperationException($"{operation} is not available on a gated layer (loaded with Linear.LoadGated or LoadGatedPair, weight in gated order): use ForwardGated.");
    }

    /// <summary>The kernel capabilities the layer was loaded with.</summary>
    protected abstract KernelCapabilities Capabilities { get; }

    /// <summary>residual[R, out] = LayerNorm(x[R, in] W^T + b + residual), the product kept in scratch[R, out]: BERT's dense +
    /// "add &amp; norm".</summary>
    public abstract void ForwardAddLayerNorm(ReadOnlySpan<float> x, Span<float> residual, Span<float> scratch, int rows, LayerNormParameters layerNorm);
}

/// <summary>fp32: the weight packed once at load (the unpacked copy is not kept), so no call repacks it. Gated: packed in
/// gated order (Gemm.PackGated) for the fused gated unit.</summary>
internal sealed class Fp32Linear(float[] weight, float[] bias, int inFeatures, int outFeatures, KernelCapabilities capabilities, bool gated = false,
    GatedActivation activation = GatedActivation.Gelu)
    : Linear(inFeatures, outFeatures, bias, gated, activation)
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

    /// <summary>The gated unit in the GEMM epilogue, y[R, I] written directly.</summary>
    protected override void ForwardFusedGated(ReadOnlySpan<float> x, Span<float> y, int rows) =>
        Gemm.MultiplyTransposedGated(x[..(rows * InFeatures)], _weight, Bias, y[..(rows * _weight.Inner)], rows, Activation, _capabilities);

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
/// order (QuantizedMatrix.FromQuantizedGated) for the fused gated unit.</summary>
internal sealed class Int8Linear(QuantizedMatrix weight, float[] bias, KernelCapabilities capabilities, GatedActivation activation = GatedActivation.Gelu)
    : Linear(weight.K, weight.N, bias, weight.IsGated, activation)
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

    /// <summary>The gated unit in the int8 GEMM's epilogue, y[R, I] written directly.</summary>
    protected override void ForwardFusedGated(ReadOnlySpan<float> x, Span<float> y, int rows)
    {
        var (qx, scale, zeroPoint) = QuantizeInput(x, rows);
        try
        {
            GemmInt8.MultiplyGated(qx.AsSpan(0, rows * _weight.KPadded), scale.AsSpan(0, rows), zeroPoint.AsSpan(0, rows), _weight, Bias,
                y[..(rows * _weight.Inner)], rows, Activation, _capabilities);
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
