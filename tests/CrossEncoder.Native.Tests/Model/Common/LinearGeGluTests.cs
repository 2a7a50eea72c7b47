using System.Runtime.InteropServices;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Native.Tests.Kernels;
using CrossEncoder.Native.Tests.SafeTensors;
using Xunit;

namespace CrossEncoder.Native.Tests.Model.Common;

/// <summary>
/// A gated Linear (<see cref="Linear.LoadGated"/>, GeGLU fused into the GEMM) loaded from a small safetensors file against the
/// same tensor loaded as a plain Linear (product, then GeGlu.Apply): fp32 and int8, from an fp32 file and from an int8 file
/// that stores the weight [2I, H] in the original order.
/// </summary>
public sealed class LinearGeGluTests : IDisposable
{
    private const string Module = "mlp.Wi";
    private const string Prefix = "model.";
    private readonly SafeTensorsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static WeightSource Weights(SafeTensorsCheckpoint file, Precision precision) =>
        new(file, new TensorNaming(Prefix, name => [name], _ => false), precision, KernelCapabilities.Default);

    /// <summary>An fp32 file with {prefix}mlp.Wi.weight [2I, H] (and its bias [2I]).</summary>
    private string WriteFloatFile(int inner, int hidden, bool hasBias, int seed)
    {
        var tensors = new Dictionary<string, (long[], float[])>
        {
            [Prefix + Module + ".weight"] = ([2 * inner, hidden], KernelTestData.Uniform(2 * inner * hidden, seed, 2f / MathF.Sqrt(hidden))),
        };
        if (hasBias) tensors[Prefix + Module + ".bias"] = ([2 * inner], KernelTestData.Uniform(2 * inner, seed + 1, 0.5f));
        string path = _files.NewPath("gated");
        SafeTensorsWriter.WriteFloat32(path, tensors);
        return path;
    }

    /// <summary>An int8 file as the quantize command writes it: I8 weight [2I, H] in the original order, F32 scales [2I], F32 bias.</summary>
    private string WriteInt8File(int inner, int hidden, int seed)
    {
        var w = KernelTestData.Uniform(2 * inner * hidden, seed, 2f / MathF.Sqrt(hidden));
        var q = new sbyte[w.Length];
        var scale = new float[2 * inner];
        Quantize.Weights(w, q, scale, 2 * inner, hidden);
        var bias = KernelTestData.Uniform(2 * inner, seed + 1, 0.5f);
        string weight = Prefix + Module + ".weight";
        string path = _files.NewPath("gated-int8");
        SafeTensorsWriter.Write(path,
        [
            (weight, SafeTensorDType.I8, [2 * inner, hidden], MemoryMarshal.AsBytes(q.AsSpan()).ToArray()),
            (TensorNaming.Scale(weight), SafeTensorDType.F32, [2 * inner], MemoryMarshal.AsBytes(scale.AsSpan()).ToArray()),
            (Prefix + Module + ".bias", SafeTensorDType.F32, [2 * inner], MemoryMarshal.AsBytes(bias.AsSpan()).ToArray()),
        ]);
        return path;
    }

    /// <summary>Loads the file's layer gated and plain at <paramref name="precision"/> and checks y, bit for bit, for several row counts.</summary>
    private static void AssertGatedEqualsPlain(string path, int inner, int hidden, bool hasBias, Precision precision)
    {
        using var file = SafeTensorsCheckpoint.OpenFile(path);
        var gatedWeights = Weights(file, precision);
        var gated = Linear.LoadGated(gatedWeights, Module, hidden, inner, quantizable: true, hasBias: hasBias);
        gatedWeights.ThrowIfIncomplete();
        Assert.Equal([Prefix + Module + ".weight"], gatedWeights.Quantizable.Select(t => t.Name));   // quantize still finds it
        var plainWeights = Weights(file, precision);
        var plain = Linear.Load(plainWeights, Module, hidden, 2 * inner, quantizable: true, hasBias: hasBias);
        plainWeights.ThrowIfIncomplete();
        Assert.True(gated.IsGated);
        Assert.False(plain.IsGated);
        Assert.Equal(precision == Precision.Int8, gated.IsInt8);
        Assert.Equal((hidden, 2 * inner), (gated.InFeatures, gated.OutFeatures));
        foreach (int rows in new[] { 1, 3, 64 })
        {
            var x = KernelTestData.Uniform(rows * hidden, rows);                  // [R, H]
            var expected = new float[rows * inner];                               // [R, I]
            plain.ForwardGeGlu(x, expected, new float[rows * 2 * inner], rows);   // scratch [R, 2I]
            var actual = Enumerable.Repeat(float.NaN, rows * inner).ToArray();    // [R, I]
            gated.ForwardGeGlu(x, actual, [], rows);                              // scratch unused
            for (int e = 0; e < expected.Length; e++)
                Assert.True(BitConverter.SingleToInt32Bits(expected[e]) == BitConverter.SingleToInt32Bits(actual[e]),
                    $"{precision} R {rows} I {inner}: y[{e / inner},{e % inner}] gated {actual[e]:R} plain {expected[e]:R}");
        }
        var y = new float[2 * inner];
        Assert.Throws<InvalidOperationException>(() => gated.Forward(new float[hidden], y, 1));
        Assert.Throws<InvalidOperationException>(() => gated.ForwardGelu(new float[hidden], y, 1));
        Assert.Throws<InvalidOperationException>(() => gated.ForwardColumns(new float[hidden], y, 1, 2 * inner, 0, 16));
        Assert.False(gated.CanStartColumnsAt(0));
    }

    [Theory]
    [InlineData(37, 64, true, Precision.Fp32)]
    [InlineData(37, 64, false, Precision.Fp32)]
    [InlineData(100, 96, true, Precision.Fp32)]
    [InlineData(37, 64, true, Precision.Int8)]
    [InlineData(37, 64, false, Precision.Int8)]
    [InlineData(100, 96, true, Precision.Int8)]
    public void GatedLayerFromAFloatFileEqualsPlainLayerThenGeGlu(int inner, int hidden, bool hasBias, Precision precision) =>
        AssertGatedEqualsPlain(WriteFloatFile(inner, hidden, hasBias, inner + hidden), inner, hidden, hasBias, precision);

    [Theory]
    [InlineData(37, 64, Precision.Int8)]
    [InlineData(37, 64, Precision.Fp32)]
    [InlineData(100, 96, Precision.Int8)]
    public void GatedLayerFromAnInt8FileEqualsPlainLayerThenGeGlu(int inner, int hidden, Precision precision) =>
        AssertGatedEqualsPlain(WriteInt8File(inner, hidden, inner * hidden), inner, hidden, hasBias: true, precision);
}
