using CrossEncoder.Native.Kernels;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

/// <summary>
/// The fp32 GEMM with a gated unit in its epilogue (Gemm.Gated.cs), GeGLU and SwiGLU: on every fp32 path, against the
/// reference (the product in double, then GatedUnit.ApplyReference; for short batches also the all-double twin
/// <see cref="Gemm.MultiplyTransposedGatedReference"/>) within the GEMM tolerance carried through act(u) * g, and bit for
/// bit against the unfused route (the plain packed product [R, 2I], then GeGlu.Apply / SwiGlu.Apply).
/// </summary>
public class GemmGatedTests
{
    // The GEMM budget of GemmTests (1e-5 * sqrt(k) * max|a| max|b| + 1e-6 * max|bias|) bounds the error d of u and of g.
    // y = act(u) g moves by at most |act'| |g| d + |act(u)| d + |act'| d^2 with |act'| <= 1.13 (GELU' <= 1.129, SiLU' <= 1.100)
    // and |act(u)| <= |u|; the activation itself is within 2e-7 max(1, |u|) (GeluTests; SiluTests: 3e-7 |SiLU(u)| <= 3e-7 |u|,
    // within the same bound but for |u| > 2, where 3e-7 |u| is used), times |g|, and each of the two roundings of y (fast and
    // twin) adds 6e-8 |y|.
    private const double GemmRelativeTolerance = 1e-5;
    private const double ActivationAbsoluteTolerance = 2e-7;
    private const double SiluRelativeTolerance = 3e-7;

    private static double GemmTolerance(int k, float maxA, float maxB, float maxBias)
        => GemmRelativeTolerance * Math.Sqrt(Math.Max(k, 1)) * maxA * maxB + 1e-6 * maxBias + 1e-30;

    internal static double GatedTolerance(double d, double u, double g, double y)
        => d * (1.13 * Math.Abs(g) + Math.Abs(u) + 1.13 * d)
            + Math.Max(ActivationAbsoluteTolerance * Math.Max(1, Math.Abs(u)), SiluRelativeTolerance * Math.Abs(u)) * Math.Abs(g) + 1.2e-7 * Math.Abs(y) + 1e-30;

    private static readonly int[] Rows = [1, 2, 3, 7, 64, 200];
    private static readonly int[] Inners = [37, 100, 1152];
    private static readonly int[] Hiddens = [64, 768];

    /// <summary>Every shape with every activation (GeGLU, SwiGLU; by name: the enum is internal); the int8 tests use the same list.</summary>
    public static TheoryData<int, int, int, bool, string> Shapes()
    {
        var data = new TheoryData<int, int, int, bool, string>();
        foreach (string activation in Enum.GetNames<GatedActivation>())
            foreach (int r in Rows)
                foreach (int i in Inners)
                    foreach (int h in Hiddens)
                        foreach (bool bias in new[] { true, false }) data.Add(r, i, h, bias, activation);
        return data;
    }

    /// <summary>The unfused route's unit (GeGlu.Apply or SwiGlu.Apply), as a model calls it.</summary>
    internal static void ApplyUnit(GatedActivation activation, float[] product, float[] y, int rows, int inner, in KernelCapabilities caps)
    {
        if (activation == GatedActivation.Gelu) GeGlu.Apply(product, y, rows, inner, caps);
        else SwiGlu.Apply(product, y, rows, inner, caps);
    }

    /// <summary>The reference unit (GeGlu.ApplyReference or SwiGlu.ApplyReference).</summary>
    internal static void ApplyUnitReference(GatedActivation activation, float[] product, float[] y, int rows, int inner)
    {
        if (activation == GatedActivation.Gelu) GeGlu.ApplyReference(product, y, rows, inner);
        else SwiGlu.ApplyReference(product, y, rows, inner);
    }

    /// <summary>Every fp32 path (each with this machine's threads), the portable one without FMA, and one thread only.</summary>
    private static IEnumerable<KernelCapabilities> Paths() =>
        KernelIsas.All.Select(KernelTestData.Caps)
            .Append(KernelTestData.PortableWithoutFma)
            .Append(KernelCapabilities.Default with { MaxThreads = 1 });

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FusedMatchesReferenceAndUnfusedRoute(int rows, int inner, int hidden, bool hasBias, string activationName)
    {
        var activation = Enum.Parse<GatedActivation>(activationName);
        int seed = rows * 7919 + inner * 31 + hidden + (hasBias ? 1 : 0) + 17 * (int)activation;
        var x = KernelTestData.Uniform(rows * hidden, seed);                                           // [R, H]
        var w = KernelTestData.Uniform(2 * inner * hidden, seed + 1, 2f / MathF.Sqrt(hidden));         // [2I, H]
        var bias = hasBias ? KernelTestData.Uniform(2 * inner, seed + 2, 0.5f) : [];                   // [2I]
        var u = new float[rows * 2 * inner];                                                           // [R, 2I], the product in double, rounded
        Gemm.MultiplyTransposedReference(x, w, bias, u, rows, 2 * inner, hidden);
        var expected = new float[rows * inner];                                                        // [R, I]
        ApplyUnitReference(activation, u, expected, rows, inner);
        if (rows <= 7)
        {
            // The twin (all in double, one rounding) agrees with the composition (product rounded, then the unit in double).
            var twin = new float[rows * inner];
            Gemm.MultiplyTransposedGatedReference(x, w, bias, twin, rows, inner, hidden, activation);
            for (int e = 0; e < twin.Length; e++)
            {
                int r = e / inner, j = e % inner;
                double rounding = 6e-8 * (Math.Abs(u[r * 2 * inner + j]) + Math.Abs(u[r * 2 * inner + inner + j]));
                Assert.True(Math.Abs((double)twin[e] - expected[e]) <= GatedTolerance(rounding, u[r * 2 * inner + j], u[r * 2 * inner + inner + j], expected[e]),
                    $"twin {activation} R {rows} I {inner} H {hidden}: y[{r},{j}] {twin[e]:R} vs product then the unit {expected[e]:R}");
            }
        }
        double d = GemmTolerance(hidden, KernelTestData.MaxAbs(x), KernelTestData.MaxAbs(w), KernelTestData.MaxAbs(bias));
        foreach (var caps in Paths())
        {
            var product = new float[rows * 2 * inner];                                                 // [R, 2I]
            Gemm.MultiplyTransposed(x, Gemm.Pack(w, 2 * inner, hidden, caps), bias, product, rows, caps);
            var unfused = new float[rows * inner];                                                     // [R, I]
            ApplyUnit(activation, product, unfused, rows, inner, caps);
            var fused = Enumerable.Repeat(float.NaN, rows * inner + 5).ToArray();                      // [R, I] + a guard tail
            var packed = Gemm.PackGated(w, inner, hidden, caps);
            if (activation == GatedActivation.Gelu) Gemm.MultiplyTransposedGeGlu(x, packed, bias, fused.AsSpan(0, rows * inner), rows, caps);
            else Gemm.MultiplyTransposedSwiGlu(x, packed, bias, fused.AsSpan(0, rows * inner), rows, caps);
            for (int e = 0; e < rows * inner; e++)
            {
                int r = e / inner, j = e % inner;
                Assert.True(BitConverter.SingleToInt32Bits(fused[e]) == BitConverter.SingleToInt32Bits(unfused[e]),
                    $"{activation} {caps} R {rows} I {inner} H {hidden} bias {hasBias}: y[{r},{j}] fused {fused[e]:R} vs product then the unit {unfused[e]:R}");
                double tol = GatedTolerance(d, u[r * 2 * inner + j], u[r * 2 * inner + inner + j], expected[e]);
                Assert.True(Math.Abs((double)fused[e] - expected[e]) <= tol,
                    $"{activation} {caps} R {rows} I {inner} H {hidden} bias {hasBias}: y[{r},{j}] fused {fused[e]:R} reference {expected[e]:R} (tolerance {tol:E2})");
            }
            for (int e = rows * inner; e < fused.Length; e++) Assert.True(float.IsNaN(fused[e]), $"{caps}: wrote past y at {e}");
        }
    }

    [Fact]
    public void HandExample()
    {
        // I = 1, H = 2: u = x . [1, 0] + 0.5, g = x . [0, 2] - 1. x = [1, 3]: u = 1.5, g = 5, y = GELU(1.5) * 5
        // (GeGLU) or SiLU(1.5) * 5 (SwiGLU).
        float[] x = [1, 3], w = [1, 0, 0, 2], bias = [0.5f, -1f];
        var y = new float[1];
        foreach (var caps in KernelIsas.All.Select(KernelTestData.Caps))
        {
            Gemm.MultiplyTransposedGeGlu(x, Gemm.PackGated(w, 1, 2, caps), bias, y, 1, caps);
            double gelu = 0.5 * 1.5 * (1 + SpecialFunctions.Erf(1.5 / Math.Sqrt(2)));
            Assert.Equal(gelu * 5, y[0], 5e-6);
            Gemm.MultiplyTransposedSwiGlu(x, Gemm.PackGated(w, 1, 2, caps), bias, y, 1, caps);
            double silu = 1.5 / (1 + Math.Exp(-1.5));
            Assert.Equal(silu * 5, y[0], 5e-6);
        }
    }

    [Theory]
    [InlineData(nameof(GatedActivation.Gelu))]
    [InlineData(nameof(GatedActivation.Silu))]
    public void ZeroReductionGivesTheUnitOfTheBias(string activationName)
    {
        var activation = Enum.Parse<GatedActivation>(activationName);
        float[] bias = [1f, -2f, 3f, 0.5f];   // I = 2: u = [1, -2], g = [3, 0.5]
        var y = new float[4];
        var caps = KernelCapabilities.Default;
        Gemm.MultiplyTransposedGated([], Gemm.PackGated([], 2, 0, caps), bias, y, 2, activation, caps);
        var expected = new float[2];
        ApplyUnit(activation, [1f, -2f, 3f, 0.5f], expected, 1, 2, caps);
        Assert.Equal([expected[0], expected[1], expected[0], expected[1]], y);
    }

    [Fact]
    public void GatedAndPlainMatricesAreNotInterchangeable()
    {
        var caps = KernelCapabilities.Default;
        var w = KernelTestData.Uniform(2 * 5 * 3, 1);
        var gated = Gemm.PackGated(w, 5, 3, caps);
        var plain = Gemm.Pack(w, 10, 3, caps);
        Assert.True(gated.IsGated);
        Assert.Equal((10, 3, 5), (gated.N, gated.K, gated.Inner));
        var x = new float[3];
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(x, gated, [], new float[10], 1, caps));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(x, plain, [], new float[10], 1, GemmEpilogue.Gated, caps));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposedGeGlu(x, plain, [], new float[5], 1, caps));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposedSwiGlu(x, plain, [], new float[5], 1, caps));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposedGeGlu(x, gated, [], new float[4], 1, caps));             // y too short
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposedGeGlu(x, gated, new float[5], new float[5], 1, caps));   // bias is [2I]
        var otherPath = caps with { Isa = caps.Isa == KernelIsa.Avx2 ? KernelIsa.Portable : KernelIsa.Avx2 };
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposedGeGlu(x, gated, [], new float[5], 1, otherPath));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.PackGated(w, 0, 3, caps));
    }
}
