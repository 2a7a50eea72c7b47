using CrossEncoder.Native.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

public class GeluTests
{
    // Float output rounding alone is 6e-8 |y|; the float erf adds < 1e-7 |x| / 2. Budget: 2e-7 * max(1, |x|).
    private const double GeluAbsoluteTolerance = 2e-7;

    private static double Tolerance(float x) => GeluAbsoluteTolerance * Math.Max(1.0, Math.Abs(x));

    internal static void AssertMatchesReference(float[] x, KernelCapabilities caps)
    {
        var expected = new float[x.Length];
        var actual = new float[x.Length];
        Gelu.ApplyReference(x, expected);
        Gelu.Apply(x, actual, caps);
        for (int i = 0; i < x.Length; i++)
        {
            if (float.IsNaN(expected[i])) { Assert.True(float.IsNaN(actual[i]), $"x={x[i]}: expected NaN, got {actual[i]}"); continue; }
            double err = Math.Abs((double)actual[i] - expected[i]);
            Assert.True(err <= Tolerance(x[i]), $"{caps} x={x[i]:R}: fast {actual[i]:R}, reference {expected[i]:R}, error {err:E3}");
        }
    }

    [Theory]
    [InlineData(nameof(KernelIsa.Portable))]
    [InlineData(nameof(KernelIsa.Avx2))]
    [InlineData(nameof(KernelIsa.Avx512))]
    public void DenseSweepMatchesReference(string isaName)
    {
        var caps = KernelTestData.Caps(Enum.Parse<KernelIsa>(isaName));
        // Every 1/4096 on [-12, 12] (both erf branches, their boundary at |x| = sqrt 2, and the tails), then a geometric sweep
        // out to float.MaxValue on both sides.
        var xs = new List<float>();
        for (int i = -12 * 4096; i <= 12 * 4096; i++) xs.Add(i / 4096f);
        for (double v = 1e-30; v < float.MaxValue; v *= 1.37) { xs.Add((float)v); xs.Add((float)-v); }
        xs.AddRange([float.MaxValue, float.MinValue, float.Epsilon, -float.Epsilon, 0f, -0f, 1.4142135f, -1.4142135f, 1.4142137f, -1.4142137f]);
        AssertMatchesReference(xs.ToArray(), caps);
    }

    [Property(MaxTest = 200)]
    public Property RandomFloatsMatchReference() =>
        Prop.ForAll(Gen.Choose(0, 200).SelectMany(n => Gen.Choose(int.MinValue, int.MaxValue).Select(seed => (n, seed))).ToArbitrary(), c =>
        {
            var rng = new Random(c.seed);
            var x = new float[c.n];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 20 - 10) * (rng.Next(8) == 0 ? 1000 : 1);
            foreach (var isa in KernelIsas.All) AssertMatchesReference(x, KernelTestData.Caps(isa));
        });

    [Theory]
    [InlineData(nameof(KernelIsa.Portable))]
    [InlineData(nameof(KernelIsa.Avx512))]
    public void SpecialValues(string isaName)
    {
        var caps = KernelTestData.Caps(Enum.Parse<KernelIsa>(isaName));
        float[] x = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, 1f, -1f, 3f, -3f, 1e20f, -1e20f, 10f, -10f];
        var y = new float[x.Length];
        Gelu.Apply(x, y, caps);
        Assert.True(float.IsNaN(y[0]));
        Assert.Equal(float.PositiveInfinity, y[1]);
        Assert.Equal(0f, y[2]);
        Assert.Equal(0f, y[3]);
        // Hand values: GELU(x) = x Phi(x), Phi(1) = 0.841344746068543, Phi(3) = 0.998650101968370.
        Assert.Equal(0.841344746068543, y[4], 1e-7);
        Assert.Equal(-0.158655253931457, y[5], 1e-7);
        Assert.Equal(2.995950305905111, y[6], 1e-6);
        Assert.Equal(-0.004049694094889, y[7], 1e-7);
        Assert.Equal(1e20f, y[8]);
        Assert.Equal(0f, y[9]);
        Assert.Equal(10f, y[10]);
        // Deep in the negative tail erfc keeps its relative accuracy (exp(-u^2) times a smooth factor, see Gelu.cs).
        Assert.Equal(-7.6198530241604696e-23, y[11], 1e-24);
    }

    /// <summary>Long spans go four vectors at a time through the interleaved lanes: bit-identical to the one-vector lanes
    /// (each element alone takes the one-vector tail path), special values included. Without the FMA: PortableWithoutFmaTests.</summary>
    [Theory]
    [InlineData(nameof(KernelIsa.Portable))]
    [InlineData(nameof(KernelIsa.Avx2))]
    public void InterleavedLanesAreBitIdentical(string isaName) => AssertInterleavedLanesBitIdentical(KernelTestData.Caps(Enum.Parse<KernelIsa>(isaName)));

    internal static void AssertInterleavedLanesBitIdentical(KernelCapabilities caps)
    {
        float[] specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 1f, -1f, 3f, -3f, 1e20f, -1e20f, 10f, -10f, 1e-30f];
        var x = KernelTestData.Uniform(157, 11, 12f);
        for (int i = 0; i < specials.Length; i++) x[i * 11] = specials[i];
        var whole = new float[x.Length];
        Gelu.Apply(x, whole, caps);
        for (int i = 0; i < x.Length; i++)
        {
            var one = new float[1];
            Gelu.Apply(x.AsSpan(i, 1), one, caps);
            Assert.True(one[0].Equals(whole[i]), $"{caps} x[{i}] = {x[i]}: four-way {whole[i]:R}, one-way {one[0]:R}");
        }
    }

    [Fact]
    public void LargeInputIsSplitAcrossThreadsAndStillMatches()
    {
        // 300k elements (12 Mflop) is split into parts; the boundaries must neither skip nor repeat elements.
        var x = KernelTestData.Uniform(300_001, 5, 8f);
        foreach (var isa in new[] { KernelIsa.Portable, KernelIsa.Avx2 }) AssertMatchesReference(x, KernelTestData.Caps(isa));
        var inPlace = (float[])x.Clone();
        var expected = new float[x.Length];
        Gelu.ApplyReference(x, expected);
        Gelu.Apply(inPlace, inPlace, KernelCapabilities.Default);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(inPlace[i] - expected[i]) <= Tolerance(x[i]), $"in place, x[{i}]");
    }

    [Fact]
    public void InPlaceAndValidation()
    {
        var x = Enumerable.Range(0, 37).Select(i => (i - 18) / 4f).ToArray();
        var expected = new float[x.Length];
        Gelu.ApplyReference(x, expected);
        Gelu.Apply(x, x);
        for (int i = 0; i < x.Length; i++) Assert.Equal(expected[i], x[i], 1e-6f);
        Assert.Throws<ArgumentException>(() => Gelu.Apply(new float[5], new float[4]));
        Assert.Throws<ArgumentException>(() => Gelu.ApplyReference(new float[5], new float[4]));
    }
}
