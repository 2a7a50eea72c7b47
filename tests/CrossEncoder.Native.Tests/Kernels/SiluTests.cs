using CrossEncoder.Native.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

/// <summary>The vectorised SiLU (Kernels/Silu.cs) on every fp32 path against its double twin, special values, and the same
/// bits for an element wherever it sits (vector body or tail).</summary>
public class SiluTests
{
    // exp within ~1 ulp, then a product (x < 0 only), a sum and a division, each rounded: measured at most 2.16e-7 relative
    // (~3.6 ulp; the dense sweep below, every path). Budget: 3e-7 relative. Below x = -87.3 exp flushes to 0
    // (VectorExp), so y = -0 where |SiLU(x)| < 104 * 2^-126: an absolute floor of 1.3e-36.
    private const double SiluRelativeTolerance = 3e-7;
    private const double FlushFloor = 1.3e-36;

    /// <summary>Every fp32 path and the portable one without FMA.</summary>
    private static readonly KernelCapabilities[] Paths = [.. KernelIsas.All.Select(KernelTestData.Caps), KernelTestData.PortableWithoutFma];

    /// <returns>The largest relative error seen (elements above the flush floor).</returns>
    internal static double AssertMatchesReference(float[] x, KernelCapabilities caps)
    {
        var expected = new float[x.Length];
        var actual = new float[x.Length];
        Silu.ApplyReference(x, expected);
        Silu.Apply(x, actual, caps);
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            if (float.IsNaN(expected[i])) { Assert.True(float.IsNaN(actual[i]), $"x={x[i]}: expected NaN, got {actual[i]}"); continue; }
            if (float.IsInfinity(expected[i])) { Assert.Equal(expected[i], actual[i]); continue; }
            double reference = Silu.Reference(x[i]), err = Math.Abs(actual[i] - reference);
            Assert.True(err <= SiluRelativeTolerance * Math.Abs(reference) + FlushFloor,
                $"{caps} x={x[i]:R}: fast {actual[i]:R}, reference {reference:R}, error {err / Math.Abs(reference):E3} relative");
            if (Math.Abs(reference) > 1e-30) worst = Math.Max(worst, err / Math.Abs(reference));
        }
        return worst;
    }

    [Fact]
    public void DenseSweepMatchesReferenceWithinTheStatedError()
    {
        // Every 1/4096 on [-100, 100] (both signs, the flush at -87.3 and beyond), then a geometric sweep out to
        // float.MaxValue on both sides.
        var xs = new List<float>();
        for (int i = -100 * 4096; i <= 100 * 4096; i++) xs.Add(i / 4096f);
        for (double v = 1e-30; v < float.MaxValue; v *= 1.37) { xs.Add((float)v); xs.Add((float)-v); }
        xs.AddRange([float.MaxValue, float.MinValue, float.Epsilon, -float.Epsilon, 0f, -0f]);
        var x = xs.ToArray();
        foreach (var caps in Paths)
        {
            double worst = AssertMatchesReference(x, caps);
            Assert.True(worst < 2.5e-7, $"{caps}: worst relative error {worst:E3}, the notes in Silu.cs say 2.16e-7");
        }
    }

    [Property(MaxTest = 200)]
    public Property RandomFloatsMatchReference() =>
        Prop.ForAll(Gen.Choose(0, 200).SelectMany(n => Gen.Choose(int.MinValue, int.MaxValue).Select(seed => (n, seed))).ToArbitrary(), c =>
        {
            var rng = new Random(c.seed);
            var x = new float[c.n];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 20 - 10) * (rng.Next(8) == 0 ? 1000 : 1);
            foreach (var caps in Paths) AssertMatchesReference(x, caps);
        });

    [Fact]
    public void SpecialValues()
    {
        float[] x = [float.PositiveInfinity, float.NegativeInfinity, float.NaN, 0f, -0f, -1000f, 1000f, float.MaxValue, float.MinValue];
        foreach (var caps in Paths)
        {
            var y = new float[x.Length];
            Silu.Apply(x, y, caps);
            Assert.Equal(float.PositiveInfinity, y[0]);
            Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(y[1]));   // the limit, not -inf * 0
            Assert.True(float.IsNaN(y[2]));
            Assert.Equal(0f, y[3]);
            Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(y[4]));
            Assert.Equal(0f, y[5]);
            Assert.Equal(1000f, y[6]);
            Assert.Equal(float.MaxValue, y[7]);
            Assert.Equal(0f, y[8]);
        }
    }

    [Fact]
    public void AnElementGivesTheSameBitsInTheBodyAndInTheTailAndInPlace()
    {
        var x = KernelTestData.Uniform(67, 3, 12f);
        foreach (var caps in Paths)
        {
            var whole = new float[x.Length];
            Silu.Apply(x, whole, caps);
            for (int length = 1; length <= x.Length; length += 5)
            {
                var part = new float[length];
                Silu.Apply(x.AsSpan(0, length), part, caps);
                Assert.Equal(whole.AsSpan(0, length).ToArray(), part);
            }
            var inPlace = (float[])x.Clone();
            Silu.Apply(inPlace, inPlace, caps);
            Assert.Equal(whole, inPlace);
        }
        Assert.Throws<ArgumentException>(() => Silu.Apply(new float[3], new float[2], KernelCapabilities.Default));
    }
}
