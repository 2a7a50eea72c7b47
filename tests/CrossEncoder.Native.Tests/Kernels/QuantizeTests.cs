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
        Gen.Elements(1, 2, 3, 7).SelectMany(m => Gen.Elements(1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 384).SelectMany(k =>
            Gen.Elements(0f, 1e-6f, 1f, 30f).SelectMany(scale => Gen.Elements(0f, 0.5f, -2f).SelectMany(offset =>
                Gen.Choose(0, int.MaxValue).Select(seed => new Rows(m, k, scale, offset, seed))))))
        .ToArbitrary();

    [Property(MaxTest = 100)]
    public Property RowsMatchReferenceBitForBit() => Prop.ForAll(Cases(), c =>
    {
        var x = KernelTestData.Uniform(c.M * c.K, c.Seed, c.Scale).Select(v => v + c.Offset).ToArray();
        int kp = Quantize.PadK(c.K);
        var (q1, s1, z1) = (Enumerable.Repeat((byte)7, c.M * kp).ToArray(), new float[c.M], new int[c.M]);
        var (q2, s2, z2) = (new byte[c.M * kp], new float[c.M], new int[c.M]);
        Quantize.Rows(x, q1, s1, z1, c.M, c.K);
        Quantize.RowsReference(x, q2, s2, z2, c.M, c.K);
        Assert.Equal(q2, q1);
        Assert.Equal(s2, s1);
        Assert.Equal(z2, z1);
    });

    [Fact]
    public void RowQuantizationIsWithinHalfAStepAndKeepsZeroExact()
    {
        float[] x = [-1.5f, 0f, 0.25f, 3f, 2.999f];
        var q = new byte[8];
        var s = new float[1];
        var z = new int[1];
        Quantize.Rows(x, q, s, z, 1, 5);
        Assert.Equal(4.5f / 255f, s[0], 6);
        Assert.Equal(85, z[0]);                 // round(1.5 / (4.5/255)) = 85
        Assert.Equal(85, q[1]);                 // zero maps to the zero point exactly
        Assert.Equal(0, q[0]);
        Assert.Equal(255, q[3]);
        Assert.Equal(new byte[] { 0, 0, 0 }, q[5..]);
        for (int i = 0; i < 5; i++) Assert.True(Math.Abs(s[0] * (q[i] - z[0]) - x[i]) <= s[0] / 2 + 1e-6, $"x[{i}]");
    }

    [Fact]
    public void WeightsArePerChannelSymmetricSevenBit()
    {
        float[] w = [0.5f, -1f, 0.25f, 0f, 0f, 0f, 2f, 1f, -0.03f];
        var q = new sbyte[9];
        var s = new float[3];
        Quantize.Weights(w, q, s, 3, 3);
        Assert.Equal(new[] { 1f / 63, 1f, 2f / 63 }, s);
        Assert.Equal(new sbyte[] { 31, -63, 16, 0, 0, 0, 63, 31, -1 }, q);   // 0.5 / fl(1/63) and 1 / fl(2/63) are both 31.4999... -> 31 (not 31.5); 0.25 * 63 = 15.75 -> 16
    }
}
