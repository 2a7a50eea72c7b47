using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Native.Tests.Kernels;
using CrossEncoder.Native.Tests.SafeTensors;
using Xunit;

namespace CrossEncoder.Native.Tests.Model.Common;

/// <summary>
/// The loaders that build one Linear from several tensors: <see cref="Linear.LoadGatedPair"/> (a gated feed-forward input
/// layer from separate activated and multiplier tensors, GeGLU or SwiGLU fused) and <see cref="Linear.LoadStacked(WeightSource, string[], int, int[], bool, bool, bool)"/>
/// with unequal widths (grouped-query q | k | v), fp32 and int8, against the same tensors loaded one by one (unstacked) or
/// stacked plain (unfused); and a quantized folder written from them (the quantize command) loading back to the same numbers.
/// </summary>
public sealed class LinearStackingTests : IDisposable
{
    private const string Prefix = "model.";
    private const string Gate = "mlp.gate_proj", Up = "mlp.up_proj";
    private const string Query = "self_attn.q_proj", Key = "self_attn.k_proj", Value = "self_attn.v_proj";
    private readonly SafeTensorsTestFiles _files = new();

    // Products of the same tensor through different tile layouts (an edge tile adds the bias after the sum, a full tile
    // starts from it) differ by float rounding only: the GEMM budget of GemmTests.
    private const double GemmRelativeTolerance = 1e-5;

    public void Dispose() => _files.Dispose();

    private static WeightSource Weights(SafeTensorsCheckpoint file, Precision precision) =>
        new(file, new TensorNaming(Prefix, name => [name], _ => false), precision, KernelCapabilities.Default);

    /// <summary>{prefix}{module}.weight [rows, H] (and .bias [rows]) for each (module, rows), random.</summary>
    private static Dictionary<string, (long[], float[])> Tensors(IEnumerable<(string Module, int Rows)> modules, int hidden, bool hasBias, int seed)
    {
        var tensors = new Dictionary<string, (long[], float[])>();
        foreach (var (module, rows) in modules)
        {
            tensors[Prefix + module + ".weight"] = ([rows, hidden], KernelTestData.Uniform(rows * hidden, seed++, 2f / MathF.Sqrt(hidden)));
            if (hasBias) tensors[Prefix + module + ".bias"] = ([rows], KernelTestData.Uniform(rows, seed++, 0.5f));
        }
        return tensors;
    }

    private string WriteFile(Dictionary<string, (long[], float[])> tensors)
    {
        string path = _files.NewPath("stacking");
        SafeTensorsWriter.WriteFloat32(path, tensors);
        return path;
    }

    private static void AssertBitsEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        for (int e = 0; e < expected.Length; e++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[e]) == BitConverter.SingleToInt32Bits(actual[e]), $"{what}: [{e}] {actual[e]:R} vs {expected[e]:R}");
    }

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        for (int e = 0; e < expected.Length; e++)
            Assert.True(Math.Abs((double)actual[e] - expected[e]) <= tolerance, $"{what}: [{e}] {actual[e]:R} vs {expected[e]:R} (tolerance {tolerance:E2})");
    }

    [Theory]
    [InlineData(37, 64, false, Precision.Fp32, nameof(GatedActivation.Silu))]
    [InlineData(37, 64, true, Precision.Fp32, nameof(GatedActivation.Silu))]
    [InlineData(96, 96, true, Precision.Fp32, nameof(GatedActivation.Gelu))]
    [InlineData(37, 64, false, Precision.Int8, nameof(GatedActivation.Silu))]
    [InlineData(37, 64, true, Precision.Int8, nameof(GatedActivation.Silu))]
    [InlineData(96, 96, true, Precision.Int8, nameof(GatedActivation.Gelu))]
    public void GatedPairEqualsTheStackedPlainLayerThenTheUnitAndTheTwoLayersApart(int inner, int hidden, bool hasBias, Precision precision, string activationName)
    {
        var activation = Enum.Parse<GatedActivation>(activationName);
        string path = WriteFile(Tensors([(Gate, inner), (Up, inner)], hidden, hasBias, inner + hidden));
        using var file = SafeTensorsCheckpoint.OpenFile(path);
        var pairWeights = Weights(file, precision);
        var pair = Linear.LoadGatedPair(pairWeights, Gate, Up, hidden, inner, activation, quantizable: true, hasBias: hasBias);
        pairWeights.ThrowIfIncomplete();
        Assert.Equal([Prefix + Gate + ".weight", Prefix + Up + ".weight"], pairWeights.Quantizable.Select(t => t.Name));   // each under its own name
        var plainWeights = Weights(file, precision);
        var plain = Linear.LoadStacked(plainWeights, [Gate, Up], hidden, inner, quantizable: true, hasBias: hasBias);   // [2I, H], plain order
        var gate = Linear.Load(plainWeights, Gate, hidden, inner, quantizable: true, hasBias: hasBias);
        var up = Linear.Load(plainWeights, Up, hidden, inner, quantizable: true, hasBias: hasBias);
        plainWeights.ThrowIfIncomplete();
        Assert.True(pair.IsGated);
        Assert.Equal(activation, pair.Activation);
        Assert.Equal(precision == Precision.Int8, pair.IsInt8);
        Assert.Equal((hidden, 2 * inner), (pair.InFeatures, pair.OutFeatures));
        var caps = KernelCapabilities.Default;
        foreach (int rows in new[] { 1, 3, 64 })
        {
            var x = KernelTestData.Uniform(rows * hidden, rows);                       // [R, H]
            var fused = Enumerable.Repeat(float.NaN, rows * inner).ToArray();          // [R, I]
            pair.ForwardGated(x, fused, rows);
            var unfused = new float[rows * inner];                                     // [R, I] via the plain [R, 2I] product
            if (activation == GatedActivation.Silu) plain.ForwardSwiGlu(x, unfused, new float[rows * 2 * inner], rows);
            else plain.ForwardGeGlu(x, unfused, new float[rows * 2 * inner], rows);
            AssertBitsEqual(unfused, fused, $"{precision} {activation} R {rows}: pair fused vs stacked plain");
            var viaNamedCall = new float[rows * inner];
            if (activation == GatedActivation.Silu) pair.ForwardSwiGlu(x, viaNamedCall, [], rows);
            else pair.ForwardGeGlu(x, viaNamedCall, [], rows);
            AssertBitsEqual(fused, viaNamedCall, "ForwardGated vs the named unit");

            // Apart: gate(x) and up(x) as two layers, then the unit on [gate | up] per row.
            var g = new float[rows * inner];
            var u = new float[rows * inner];
            gate.Forward(x, g, rows);
            up.Forward(x, u, rows);
            var product = new float[rows * 2 * inner];                                 // [R, 2I] = [gate | up] per row
            for (int r = 0; r < rows; r++)
            {
                g.AsSpan(r * inner, inner).CopyTo(product.AsSpan(r * 2 * inner));
                u.AsSpan(r * inner, inner).CopyTo(product.AsSpan(r * 2 * inner + inner));
            }
            var apart = new float[rows * inner];
            GatedUnit.Apply(activation, product, apart, rows, inner, caps);
            if (precision == Precision.Int8) AssertBitsEqual(apart, fused, $"int8 {activation} R {rows}: pair vs two layers");   // integer sums: no layout effect
            else AssertClose(apart, fused, 2 * GemmRelativeTolerance * Math.Sqrt(hidden), $"fp32 {activation} R {rows}: pair vs two layers");
        }
        var y = new float[2 * inner];
        Assert.Throws<InvalidOperationException>(() => pair.Forward(new float[hidden], y, 1));
        Assert.Throws<InvalidOperationException>(() => plain.ForwardGated(new float[hidden], y, 1));
        var other = activation == GatedActivation.Silu ? (Action)(() => pair.ForwardGeGlu(new float[hidden], y, [], 1)) : () => pair.ForwardSwiGlu(new float[hidden], y, [], 1);
        Assert.Throws<InvalidOperationException>(other);   // loaded for one unit, asked for the other
    }

    [Fact]
    public void LoadGatedKeepsGeluByDefault()
    {
        string path = WriteFile(Tensors([("mlp.Wi", 2 * 37)], 64, true, 1));
        using var file = SafeTensorsCheckpoint.OpenFile(path);
        var layer = Linear.LoadGated(Weights(file, Precision.Fp32), "mlp.Wi", 64, 37, quantizable: true);
        Assert.Equal(GatedActivation.Gelu, layer.Activation);
        var silu = Linear.LoadGated(Weights(file, Precision.Fp32), "mlp.Wi", 64, 37, quantizable: true, activation: GatedActivation.Silu);
        Assert.Equal(GatedActivation.Silu, silu.Activation);
    }

    [Theory]
    [InlineData(4, 2, 32, true, Precision.Fp32)]     // widths 128 | 64 | 64: whole panels on every path, the same tiles as apart
    [InlineData(4, 2, 32, false, Precision.Int8)]
    [InlineData(4, 2, 32, true, Precision.Int8)]
    [InlineData(3, 1, 20, true, Precision.Fp32)]     // 60 | 20 | 20: panels straddle the modules
    [InlineData(3, 1, 20, false, Precision.Int8)]
    public void StackedUnequalWidthsEqualTheModulesApart(int heads, int kvHeads, int headDim, bool hasBias, Precision precision)
    {
        const int hidden = 96;
        int[] widths = [heads * headDim, kvHeads * headDim, kvHeads * headDim];
        string[] modules = [Query, Key, Value];
        string path = WriteFile(Tensors(modules.Zip(widths), hidden, hasBias, heads * 100 + headDim));
        using var file = SafeTensorsCheckpoint.OpenFile(path);
        var stackedWeights = Weights(file, precision);
        var qkv = Linear.LoadStacked(stackedWeights, modules, hidden, widths, quantizable: true, hasBias: hasBias);
        stackedWeights.ThrowIfIncomplete();
        Assert.Equal(modules.Select(m => Prefix + m + ".weight"), stackedWeights.Quantizable.Select(t => t.Name));
        Assert.Equal((hidden, widths.Sum(), false, precision == Precision.Int8), (qkv.InFeatures, qkv.OutFeatures, qkv.IsGated, qkv.IsInt8));
        var apartWeights = Weights(file, precision);
        var apart = modules.Zip(widths).Select(t => Linear.Load(apartWeights, t.First, hidden, t.Second, quantizable: true, hasBias: hasBias)).ToArray();
        apartWeights.ThrowIfIncomplete();
        bool wholePanels = widths.All(w => w % 32 == 0);
        int n = widths.Sum();
        foreach (int rows in new[] { 1, 2, 5, 64 })
        {
            var x = KernelTestData.Uniform(rows * hidden, rows + 7);                   // [R, H]
            var fused = new float[rows * n];                                           // [R, q | k | v]
            qkv.Forward(x, fused, rows);
            var expected = new float[rows * n];
            for (int i = 0, column = 0; i < modules.Length; column += widths[i], i++)
            {
                var part = new float[rows * widths[i]];
                apart[i].Forward(x, part, rows);
                for (int r = 0; r < rows; r++) part.AsSpan(r * widths[i], widths[i]).CopyTo(expected.AsSpan(r * n + column));
            }
            string what = $"{precision} {string.Join("|", widths)} bias {hasBias} R {rows}";
            if (precision == Precision.Int8 || wholePanels) AssertBitsEqual(expected, fused, what);
            else AssertClose(expected, fused, 2 * GemmRelativeTolerance * Math.Sqrt(hidden), what);
        }
    }

    [Fact]
    public void MismatchedWidthsAreRefused()
    {
        string path = WriteFile(Tensors([(Query, 8), (Key, 4)], 16, false, 1));
        using var file = SafeTensorsCheckpoint.OpenFile(path);
        Assert.Throws<ArgumentException>(() => Linear.LoadStacked(Weights(file, Precision.Fp32), [Query, Key], 16, [8], quantizable: false, hasBias: false));
        Assert.Throws<ArgumentException>(() => Linear.LoadStacked(Weights(file, Precision.Fp32), [Query, Key], 16, [8, 0], quantizable: false, hasBias: false));
        Assert.Throws<ModelFormatException>(() => Linear.LoadStacked(Weights(file, Precision.Fp32), [Query, Key], 16, [8, 5], quantizable: false, hasBias: false));   // k is [4, 16]
    }

    [Fact]
    public void AQuantizedFolderWrittenFromThePairAndTheStackLoadsBackToTheSameNumbers()
    {
        ProbeFamily.Register();
        string source = Path.Combine(_files.DirectoryPath, "probe-fp32"), destination = Path.Combine(_files.DirectoryPath, "probe-int8");
        Directory.CreateDirectory(source);
        var tensors = Tensors([(Gate, ProbeModel.Inner), (Up, ProbeModel.Inner)], ProbeModel.Hidden, false, 3);
        foreach (var (name, tensor) in Tensors(ProbeModel.Attention.Zip(ProbeModel.AttentionWidths), ProbeModel.Hidden, true, 40)) tensors[name] = tensor;
        SafeTensorsWriter.WriteFloat32(Path.Combine(source, "model.safetensors"), tensors);
        File.WriteAllText(Path.Combine(source, "config.json"), $$"""{"model_type": "{{ProbeFamily.ModelType}}"}""");

        ModelQuantization.WriteQuantizedFolder(source, destination);
        using (var file = SafeTensorsCheckpoint.OpenFile(Path.Combine(destination, "model.safetensors")))
        {
            foreach (string module in (string[])[Gate, Up, .. ProbeModel.Attention])
            {
                Assert.Equal(SafeTensorDType.I8, file.Tensors[Prefix + module + ".weight"].DType);   // under its own name
                Assert.Equal(SafeTensorDType.F32, file.Tensors[TensorNaming.Scale(Prefix + module + ".weight")].DType);
            }
            Assert.Equal(SafeTensorDType.F32, file.Tensors[Prefix + Query + ".bias"].DType);
        }
        var fromFloat = (ProbeModel)ModelLoader.Load(source, Precision.Int8).Model;        // quantized at load
        var fromInt8 = (ProbeModel)ModelLoader.Load(destination, Precision.Int8).Model;    // read as I8
        Assert.True(fromInt8.Mlp.IsInt8 && fromInt8.Mlp.IsGated && fromInt8.Qkv.IsInt8);
        int rows = 5;
        var x = KernelTestData.Uniform(rows * ProbeModel.Hidden, 9);
        var (mlpA, mlpB) = (new float[rows * ProbeModel.Inner], new float[rows * ProbeModel.Inner]);
        fromFloat.Mlp.ForwardGated(x, mlpA, rows);
        fromInt8.Mlp.ForwardGated(x, mlpB, rows);
        AssertBitsEqual(mlpA, mlpB, "SwiGLU pair: fp32 folder in int8 vs quantized folder");
        int n = ProbeModel.AttentionWidths.Sum();
        var (qkvA, qkvB) = (new float[rows * n], new float[rows * n]);
        fromFloat.Qkv.Forward(x, qkvA, rows);
        fromInt8.Qkv.Forward(x, qkvB, rows);
        AssertBitsEqual(qkvA, qkvB, "q|k|v stack: fp32 folder in int8 vs quantized folder");
    }

    /// <summary>A test-only family whose model only loads a SwiGLU pair and an unequal q|k|v stack, so that the quantize
    /// command (which asks a loaded model for its quantizable tensors) can be run on them; it has no forward pass.</summary>
    private sealed class ProbeFamily : IModelFamily
    {
        public const string ModelType = "linear-stacking-probe";
        private static readonly ProbeFamily Instance = new();
        public string Name => "probe";
        public IReadOnlyCollection<string> ModelTypes { get; } = [ModelType];
        public ITransformerModel Load(ModelFolder folder, Precision precision, KernelCapabilities capabilities) => new ProbeModel(folder, precision, capabilities);
        public static void Register() => ModelLoader.Register(Instance);
    }

    private sealed class ProbeModel : ITransformerModel
    {
        public const int Hidden = 64, Inner = 40;
        public static readonly string[] Attention = [Query, Key, Value];
        public static readonly int[] AttentionWidths = [64, 16, 16];

        public ProbeModel(ModelFolder folder, Precision precision, KernelCapabilities capabilities)
        {
            using var file = folder.OpenWeights();
            var weights = new WeightSource(file, new TensorNaming(Prefix, name => [name], _ => false), precision, capabilities);
            Mlp = Linear.LoadGatedPair(weights, Gate, Up, Hidden, Inner, GatedActivation.Silu, quantizable: true);
            Qkv = Linear.LoadStacked(weights, Attention, Hidden, AttentionWidths, quantizable: true, hasBias: true);
            weights.ThrowIfIncomplete();
            QuantizableTensors = weights.Quantizable.ToArray();
        }

        public Linear Mlp { get; }
        public Linear Qkv { get; }
        public IReadOnlyList<QuantizableTensor> QuantizableTensors { get; }
        public ModelDescription Description => throw new NotSupportedException("A loader probe describes no model.");
        public ModelWorkspace CreateWorkspace(int maxTokens, int maxSequences, int maxSequenceLength) => throw new NotSupportedException("A loader probe runs no forward pass.");
        public ReadOnlySpan<float> Forward(ModelWorkspace workspace, ActivationTap? tap = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("A loader probe runs no forward pass.");
    }
}
