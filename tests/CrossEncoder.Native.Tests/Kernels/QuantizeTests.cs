using CrossEncoder.Native.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

public class QuantizeTests
{
    public record Rows(int M, int K, float Scale, float Offset, int Seed);

    private static Arbitrary<Rows> Cases() =>
        Gen.Elements(1, 2, 3, 7).SelectMany(m => Gen.Elements(1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 384, 5000).SelectMany(k =>
            Gen.Elements(0f, 1e-6f, 1f, 30f).SelectMany(scale => Gen.Elements(0f, 0.5f, -2f).SelectMany(offset =>
                Gen.Choose(0, int.MaxValue).Select(seed => new Rows(m, k, scale, offset, seed))))))
        .ToArbitrary();

    [Property(MaxTest = 100)]
    public Property RowsMatchReferenceBitForBit() => Prop.ForAll(Cases(), c =>
    {
        var x = KernelTestData.Uniform(c.M * c.K, c.Seed, c.Scale).Select(v => v + c.Offset).ToArray();
        int kp = Quantize.PadK(c.K);
        var (q1, s1, z1) = (Enumerable.Repeat((ushort)7, c.M * kp).ToArray(), new float[c.M], new int[c.M]);
        var (q2, s2, z2) = (new ushort[c.M * kp], new float[c.M], new int[c.M]);
        Quantize.RowsReference(x, q2, s2, z2, c.M, c.K);
        foreach (var caps in Int8Choices())   // the AVX2 loops where the machine has them, and the portable ones everywhere
        {
            Quantize.Rows(x, q1, s1, z1, c.M, c.K, caps);
            Assert.Equal(q2, q1);
            Assert.Equal(s2, s1);
            Assert.Equal(z2, z1);
        }
    });

    /// <summary>This machine's int8 path (the AVX2 quantizer where it has one) and the forced portable one.</summary>
    internal static KernelCapabilities[] Int8Choices() =>
        KernelCapabilities.Default.Int8UsesAvx2 ? [KernelCapabilities.Default, GemmInt8Tests.Caps(Int8Isa.Portable)] : [GemmInt8Tests.Caps(Int8Isa.Portable)];

    [Theory]
    [InlineData(200, 1536)]   // FFN down's input: split across threads in parts of 32 rows
    [InlineData(33, 4100)]
    public void LargeInputsSplitAcrossThreadsMatchTheReference(int m, int k)
    {
        var x = KernelTestData.Uniform(m * k, m + k, 4f);
        int kp = Quantize.PadK(k);
        var (q1, s1, z1) = (new ushort[m * kp], new float[m], new int[m]);
        var (q2, s2, z2) = (new ushort[m * kp], new float[m], new int[m]);
        Quantize.RowsReference(x, q2, s2, z2, m, k);
        foreach (var caps in Int8Choices())
        {
            Quantize.Rows(x, q1, s1, z1, m, k, caps);
            Assert.Equal(q2, q1);
            Assert.Equal(s2, s1);
            Assert.Equal(z2, z1);
        }
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void ANonFiniteActivationMakesItsRowNaNAsInFp32(float bad)
    {
        int m = 3, n = 16, k = 40;
        var x = KernelTestData.Uniform(m * k, 5);
        x[k + 7] = bad;                                        // row 1 only
        var w = QuantizedMatrix.FromFloat(KernelTestData.Uniform(n * k, 6, 0.1f), n, k);
        int kp = Quantize.PadK(k);
        foreach (var caps in Int8Choices())
        {
            var (q, s, z) = (new ushort[m * kp], new float[m], new int[m]);
            Quantize.Rows(x, q, s, z, m, k, caps);
            Assert.True(float.IsNaN(s[1]));
            var c = new float[m * n];
            GemmInt8.Multiply(q, s, z, w, [], c, m, caps);
            Assert.All(c[n..(2 * n)], v => Assert.True(float.IsNaN(v)));
            Assert.All(c[..n].Concat(c[(2 * n)..]), v => Assert.True(float.IsFinite(v)));
        }
        var (q2, s2, z2) = (new ushort[m * kp], new float[m], new int[m]);
        Quantize.RowsReference(x, q2, s2, z2, m, k);
        Assert.True(float.IsNaN(s2[1]));
    }

    [Fact]
    public void ANonFiniteWeightIsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => Quantize.Weights([1f, 2f, 3f, float.NaN], new sbyte[4], new float[2], 2, 2));
        Assert.Contains("weight row 1 holds NaN at column 1", e.Message);
    }

    [Fact]
    public void RowQuantizationIsWithinHalfAStepAndKeepsZeroExact()
    {
        float[] x = [-1.5f, 0f, 0.25f, 3f, 2.999f];
        var q = new ushort[8];
        var s = new float[1];
        var z = new int[1];
        Quantize.Rows(x, q, s, z, 1, 5);
        Assert.Equal(4.5f / 4095f, s[0]);       // 12 bits: L = 4095 for K = 5
        Assert.Equal(1365, z[0]);               // round(1.5 / (4.5/4095)) = 1365
        Assert.Equal(new ushort[] { 0, 1365, 1592, 4095, 4094 }, q[..5]);   // 0.25 * 4095/4.5 = 227.5 -> 227.49998 in float -> 227
        Assert.Equal(new ushort[] { 0, 0, 0 }, q[5..]);
        for (int i = 0; i < 5; i++) Assert.True(Math.Abs(s[0] * (q[i] - z[0]) - x[i]) <= s[0] / 2 + 1e-6, $"x[{i}]");
    }

    [Fact]
    public void WeightsArePerChannelSymmetricInt8()
    {
        float[] w = [0.5f, -1f, 0.25f, 0f, 0f, 0f, 2f, 1f, -0.03f];
        var q = new sbyte[9];
        var s = new float[3];
        Quantize.Weights(w, q, s, 3, 3);
        Assert.Equal(new[] { 1f / 127, 1f, 2f / 127 }, s);
        Assert.Equal(new sbyte[] { 64, -127, 32, 0, 0, 0, 127, 64, -2 }, q);   // 63.5 -> 64 (half to even), 31.75 -> 32, -1.905 -> -2   // 0.5 / fl(1/63) and 1 / fl(2/63) are both 31.4999... -> 31 (not 31.5); 0.25 * 63 = 15.75 -> 16
    }
}
