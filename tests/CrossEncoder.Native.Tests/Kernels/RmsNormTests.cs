using CrossEncoder.Native.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

/// <summary>RMSNorm (Kernels/RmsNorm.cs) on every fp32 path against its double twin: plain, in place, fused with the
/// residual add, and per head on a strided buffer.</summary>
public class RmsNormTests
{
    // Nothing cancels in RMSNorm, so the error is relative per element: the float sum of squares carries up to k/2 ulp (k the
    // additions one partial sum sees, ~45 for n = 1030 on a 256-bit Vector<T>), its inverse square root half of that, and
    // the two products an ulp: under 1.5e-6 of |y| for n ~ 1000. 2e-6 leaves a little room; a floor for y = 0.
    private const double RmsNormRelativeTolerance = 2e-6;
    private const double AbsoluteFloor = 1e-30;

    private static readonly int[] Ns = [1, 7, 15, 16, 17, 63, 64, 65, 128, 1024, 1030];
    private static readonly float[] Epsilons = [1e-6f, 1e-5f, 0.1f];
    private static readonly float[] Scales = [1f, 1e-3f, 300f];   // 1e-3 with eps 0.1: eps dominates the variance

    /// <summary>Every fp32 path and the portable one without FMA.</summary>
    private static readonly KernelCapabilities[] Paths = [.. KernelIsas.All.Select(KernelTestData.Caps), KernelTestData.PortableWithoutFma];

    internal record Case(int Rows, int N, float Eps, float Scale, int Seed, KernelCapabilities Caps);

    private static Arbitrary<Case> Cases() =>
        Gen.Choose(0, 9).SelectMany(rows => Gen.Elements(Ns).SelectMany(n => Gen.Elements(Epsilons).SelectMany(eps =>
            Gen.Elements(Scales).SelectMany(scale => Gen.Choose(0, int.MaxValue).SelectMany(seed =>
                Gen.Elements(Paths).Select(caps => new Case(rows, n, eps, scale, seed, caps)))))))
        .ToArbitrary();

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            double tol = RmsNormRelativeTolerance * Math.Abs(expected[i]) + AbsoluteFloor;
            Assert.True(Math.Abs((double)actual[i] - expected[i]) <= tol, $"{what}: y[{i}] fast {actual[i]:R} reference {expected[i]:R}");
        }
    }

    private static (float[] X, float[] Weight) Inputs(Case c)
    {
        var x = KernelTestData.Uniform(c.Rows * c.N, c.Seed, c.Scale);
        var weight = KernelTestData.Uniform(c.N, c.Seed + 1, 2f);
        return (x, weight);
    }

    [Property(MaxTest = 300)]
    public Property NormalizeMatchesReference() => Prop.ForAll(Cases(), c =>
    {
        var (x, weight) = Inputs(c);
        var expected = new float[x.Length];
        RmsNorm.NormalizeReference(x, weight, expected, c.Rows, c.N, c.Eps);
        var actual = new float[x.Length];
        RmsNorm.Normalize(x, weight, actual, c.Rows, c.N, c.Eps, c.Caps);
        AssertClose(expected, actual, c.ToString());
    });

    [Property(MaxTest = 150)]
    public Property NormalizeInPlaceGivesTheSameBits() => Prop.ForAll(Cases(), c =>
    {
        var (x, weight) = Inputs(c);
        var copy = new float[x.Length];
        RmsNorm.Normalize(x, weight, copy, c.Rows, c.N, c.Eps, c.Caps);
        RmsNorm.Normalize(x, weight, x, c.Rows, c.N, c.Eps, c.Caps);   // input and output the same span
        Assert.Equal(copy, x);
    });

    [Property(MaxTest = 300)]
    public Property AddAndNormalizeMatchesReference() => Prop.ForAll(Cases(), c =>
    {
        var (x, weight) = Inputs(c);
        var residual = KernelTestData.Uniform(x.Length, c.Seed + 2, 2f * c.Scale);
        var expectedResidual = (float[])residual.Clone();
        var expected = new float[x.Length];
        RmsNorm.AddAndNormalizeReference(expectedResidual, x, weight, expected, c.Rows, c.N, c.Eps);
        var actual = new float[x.Length];
        RmsNorm.AddAndNormalize(residual, x, weight, actual, c.Rows, c.N, c.Eps, c.Caps);
        Assert.Equal(expectedResidual, residual);                      // the stream: float adds, bit for bit
        AssertClose(expected, actual, c.ToString());
        // The output may overwrite the sublayer's x (the residual stream is kept).
        var streamAgain = KernelTestData.Uniform(x.Length, c.Seed + 2, 2f * c.Scale);
        RmsNorm.AddAndNormalize(streamAgain, x, weight, x, c.Rows, c.N, c.Eps, c.Caps);
        Assert.Equal(residual, streamAgain);
        Assert.Equal(actual, x);
    });

    [Property(MaxTest = 200)]
    public Property NormalizeHeadsMatchesReferenceAndLeavesOtherColumns() =>
        Prop.ForAll(Gen.Choose(0, 6).SelectMany(rows => Gen.Choose(1, 5).SelectMany(heads => Gen.Elements(1, 7, 64, 128).SelectMany(headDim =>
            Gen.Choose(0, 40).SelectMany(first => Gen.Choose(0, 9).SelectMany(padding => Gen.Choose(0, int.MaxValue).SelectMany(seed =>
                Gen.Elements(Paths).Select(caps => (rows, heads, headDim, first, padding, seed, caps)))))))).ToArbitrary(), t =>
        {
            var (rows, heads, headDim, first, padding, seed, caps) = t;
            int ld = first + heads * headDim + padding;                 // e.g. [q heads | k heads | v] with the k heads normalised
            var x = KernelTestData.Uniform(rows * ld, seed, 3f);
            var weight = KernelTestData.Uniform(headDim, seed + 1, 2f);
            var expected = (float[])x.Clone();
            RmsNorm.NormalizeHeadsReference(expected, ld, rows, heads, headDim, first, weight, 1e-6f);
            var actual = (float[])x.Clone();
            RmsNorm.NormalizeHeads(actual, ld, rows, heads, headDim, first, weight, 1e-6f, caps);
            AssertClose(expected, actual, $"{t}");
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < ld; j++)
                    if (j < first || j >= first + heads * headDim) Assert.Equal(x[r * ld + j], actual[r * ld + j]);
            // One head slice is exactly Normalize of that slice.
            if (rows > 0)
            {
                var slice = new float[headDim];
                RmsNorm.Normalize(x.AsSpan(first, headDim), weight, slice, 1, headDim, 1e-6f, caps);
                Assert.Equal(slice, actual.AsSpan(first, headDim).ToArray());
            }
        });

    [Fact]
    public void LargeInputIsSplitAcrossThreadsAndStillMatches()
    {
        foreach (var caps in Paths)
        {
            var c = new Case(2100, 1024, 1e-6f, 1f, 11, caps);
            var (x, weight) = Inputs(c);
            var expected = new float[x.Length];
            RmsNorm.NormalizeReference(x, weight, expected, c.Rows, c.N, c.Eps);
            var actual = new float[x.Length];
            RmsNorm.Normalize(x, weight, actual, c.Rows, c.N, c.Eps, caps);
            AssertClose(expected, actual, "threaded " + caps);
            var one = new float[x.Length];
            RmsNorm.Normalize(x, weight, one, c.Rows, c.N, c.Eps, caps with { MaxThreads = 1 });
            Assert.Equal(one, actual);   // rows are independent: the split changes nothing
        }
    }

    [Fact]
    public void HandExample()
    {
        // Row [1, 2, 3, 4]: mean of squares 7.5, so y = x / sqrt(7.5 + eps) * weight.
        float[] x = [1, 2, 3, 4], weight = [1, 1, 2, -1];
        var y = new float[4];
        foreach (var caps in Paths)
        {
            RmsNorm.Normalize(x, weight, y, 1, 4, 0.5f, caps);
            double s = Math.Sqrt(8.0);
            double[] expected = [1 / s, 2 / s, 6 / s, -4 / s];
            for (int i = 0; i < 4; i++) Assert.Equal(expected[i], y[i], 1e-6);
        }
    }

    [Fact]
    public void AZeroRowStaysZeroAndEpsZeroGivesNaNAsTorch()
    {
        var y = new float[3];
        RmsNorm.Normalize(new float[3], [1f, 1f, 1f], y, 1, 3, 1e-6f, KernelCapabilities.Default);
        Assert.Equal([0f, 0f, 0f], y);
        RmsNorm.Normalize(new float[3], [1f, 1f, 1f], y, 1, 3, 0f, KernelCapabilities.Default);   // 0 * rsqrt(0) = 0 * inf
        Assert.All(y, v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void FiniteRowsWhoseSquaresOverflowFloatAreNormalisedAsTheTwinDoesNotZeroed()
    {
        // 3e38^2 overflows float: a float sum of squares is infinite and x * rsqrt(inf) = 0 (torch's float arithmetic gives
        // that row of zeros). Every path, all three entry points, equals the double twin instead, and stays finite.
        const int n = 65;
        var x = KernelTestData.Uniform(2 * n, 5, 1f);
        for (int i = 0; i < n; i++) x[i] *= 3e38f;                      // row 0 overflows, row 1 is ordinary
        var weight = KernelTestData.Uniform(n, 6, 2f);
        var expected = new float[2 * n];
        RmsNorm.NormalizeReference(x, weight, expected, 2, n, 1e-6f);
        Assert.All(expected, v => Assert.True(float.IsFinite(v)));
        Assert.Contains(expected.Take(n), v => Math.Abs(v) > 0.1f);
        foreach (var caps in Paths)
        {
            var actual = new float[2 * n];
            RmsNorm.Normalize(x, weight, actual, 2, n, 1e-6f, caps);
            AssertClose(expected, actual, $"Normalize {caps}");

            var residual = new float[2 * n];
            var fused = new float[2 * n];
            RmsNorm.AddAndNormalize(residual, x, weight, fused, 2, n, 1e-6f, caps);
            AssertClose(expected, fused, $"AddAndNormalize {caps}");

            var heads = (float[])x.Clone();
            RmsNorm.NormalizeHeads(heads, n, 2, 1, n, 0, weight, 1e-6f, caps);
            AssertClose(expected, heads, $"NormalizeHeads {caps}");
        }
    }

    [Fact]
    public void ValidatesArguments()
    {
        var caps = KernelCapabilities.Default;
        var w = new float[4];
        Assert.Throws<ArgumentException>(() => RmsNorm.Normalize(new float[7], w, new float[8], 2, 4, 1e-6f, caps));
        Assert.Throws<ArgumentException>(() => RmsNorm.Normalize(new float[8], w, new float[7], 2, 4, 1e-6f, caps));
        Assert.Throws<ArgumentException>(() => RmsNorm.Normalize(new float[8], new float[3], new float[8], 2, 4, 1e-6f, caps));
        Assert.Throws<ArgumentException>(() => RmsNorm.AddAndNormalize(new float[7], new float[8], w, new float[8], 2, 4, 1e-6f, caps));
        Assert.Throws<ArgumentOutOfRangeException>(() => RmsNorm.NormalizeHeads(new float[20], 10, 2, 2, 4, 3, w, 1e-6f, caps));   // 3 + 8 > 10
        Assert.Throws<ArgumentException>(() => RmsNorm.NormalizeHeads(new float[19], 10, 2, 2, 4, 2, w, 1e-6f, caps));            // needs 10 + 10
        Assert.Throws<ArgumentOutOfRangeException>(() => RmsNorm.Normalize(new float[8], w, new float[8], -1, 4, 1e-6f, caps));
    }
}
