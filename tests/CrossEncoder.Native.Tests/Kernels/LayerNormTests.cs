using CrossEncoder.Native.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

public class LayerNormTests
{
    // Float mean/variance over n <= 1000 values carry a relative error of a few 1e-7 (vector partial sums); the normalised
    // value (x - mean) * inv is then off by ~1e-6 of its size and the gamma/beta FMA adds an ulp. 1e-5 of the output scale
    // (|gamma| * (|x_hat| + 1) + |beta|) leaves room for n up to a few thousand and for rows with a large common offset.
    private const double LayerNormRelativeTolerance = 1e-5;

    private static readonly int[] Ns = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 127, 384, 385, 1000];

    internal record Case(int Rows, int N, bool Residual, float Offset, int Seed, KernelCapabilities Caps);

    private static Arbitrary<Case> Cases() =>
        Gen.Choose(0, 9).SelectMany(rows => Gen.Elements(Ns).SelectMany(n => Gen.Elements(true, false).SelectMany(res =>
            Gen.Elements(0f, 3f, 100f).SelectMany(offset => Gen.Choose(0, int.MaxValue).SelectMany(seed =>
                Gen.Elements(KernelIsas.All).Select(isa => new Case(rows, n, res, offset, seed, KernelTestData.Caps(isa))))))))
        .ToArbitrary();

    internal static void Check(Case c, bool aliasOutputToX)
    {
        int len = c.Rows * c.N;
        var x = KernelTestData.Uniform(len, c.Seed);
        for (int i = 0; i < len; i++) x[i] += c.Offset;
        var residual = c.Residual ? KernelTestData.Uniform(len, c.Seed + 1, 2f) : [];
        var gamma = KernelTestData.Uniform(c.N, c.Seed + 2, 2f);
        var beta = KernelTestData.Uniform(c.N, c.Seed + 3);
        const float eps = 1e-12f;
        var expected = new float[len];
        LayerNorm.AddAndNormalizeReference(x, residual, gamma, beta, expected, c.Rows, c.N, eps);
        // The fast path stores x + residual in float before normalising (as torch does); the reference adds in double. That
        // rounding (half an ulp of |x + r|, for the value and again through the mean) is amplified by 1/std of the row.
        var residualRounding = new double[c.Rows];
        for (int r = 0; r < c.Rows && c.Residual; r++)
        {
            double mean = 0, sq = 0, max = 0;
            for (int j = 0; j < c.N; j++) { double v = (double)x[r * c.N + j] + residual[r * c.N + j]; mean += v; max = Math.Max(max, Math.Abs(v)); }
            mean /= c.N;
            for (int j = 0; j < c.N; j++) { double d = (double)x[r * c.N + j] + residual[r * c.N + j] - mean; sq += d * d; }
            residualRounding[r] = Math.Pow(2, -23) * max / Math.Sqrt(sq / c.N + eps);
        }
        var actual = aliasOutputToX ? x : new float[len];
        LayerNorm.AddAndNormalize(x, residual, gamma, beta, actual, c.Rows, c.N, eps, c.Caps);
        for (int i = 0; i < len; i++)
        {
            int j = i % c.N, row = i / c.N;
            double xhat = gamma[j] == 0 ? 0 : (expected[i] - beta[j]) / gamma[j];
            double tol = LayerNormRelativeTolerance * (Math.Abs(gamma[j]) * (Math.Abs(xhat) + 1) + Math.Abs(beta[j]))
                + Math.Abs(gamma[j]) * residualRounding[row];
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tol, $"{c}: y[{i}] fast {actual[i]} reference {expected[i]}");
        }
    }

    [Property(MaxTest = 200)]
    public Property MatchesReference() => Prop.ForAll(Cases(), c => Check(c, aliasOutputToX: false));

    [Property(MaxTest = 100)]
    public Property MatchesReferenceInPlace() => Prop.ForAll(Cases(), c => Check(c, aliasOutputToX: true));

    [Fact]
    public void OutputMayAliasResidual()
    {
        var x = KernelTestData.Uniform(3 * 37, 1);
        var residual = KernelTestData.Uniform(3 * 37, 2);
        var gamma = KernelTestData.Uniform(37, 3);
        var beta = KernelTestData.Uniform(37, 4);
        var expected = new float[x.Length];
        LayerNorm.AddAndNormalizeReference(x, residual, gamma, beta, expected, 3, 37, 1e-5f);
        LayerNorm.AddAndNormalize(x, residual, gamma, beta, residual, 3, 37, 1e-5f);
        for (int i = 0; i < x.Length; i++) Assert.Equal(expected[i], residual[i], 1e-5f);
    }

    [Fact]
    public void HandExample()
    {
        // Row [1, 2, 3, 4]: mean 2.5, variance 1.25, so x_hat = [-1.342, -0.447, 0.447, 1.342] (eps 0).
        float[] x = [1, 2, 3, 4], gamma = [1, 1, 2, 1], beta = [0, 0, 0, 10];
        var y = new float[4];
        LayerNorm.Normalize(x, gamma, beta, y, 1, 4, 0f);
        double s = Math.Sqrt(1.25);
        Assert.Equal(-1.5 / s, y[0], 1e-6);
        Assert.Equal(-0.5 / s, y[1], 1e-6);
        Assert.Equal(2 * 0.5 / s, y[2], 1e-6);
        Assert.Equal(1.5 / s + 10, y[3], 1e-5);
    }

    [Fact]
    public void LargeInputIsSplitAcrossThreadsAndStillMatches()
    {
        foreach (var isa in new[] { KernelIsa.Portable, KernelIsa.Avx2 }) Check(new Case(2100, 384, true, 1f, 7, KernelTestData.Caps(isa)), aliasOutputToX: false);
    }

    [Fact]
    public void ValidatesArguments()
    {
        var g = new float[4];
        Assert.Throws<ArgumentException>(() => LayerNorm.Normalize(new float[7], g, g, new float[8], 2, 4, 1e-5f));
        Assert.Throws<ArgumentException>(() => LayerNorm.Normalize(new float[8], g, g, new float[7], 2, 4, 1e-5f));
        Assert.Throws<ArgumentException>(() => LayerNorm.Normalize(new float[8], new float[3], g, new float[8], 2, 4, 1e-5f));
        Assert.Throws<ArgumentException>(() => LayerNorm.AddAndNormalize(new float[8], new float[7], g, g, new float[8], 2, 4, 1e-5f));
    }
}
