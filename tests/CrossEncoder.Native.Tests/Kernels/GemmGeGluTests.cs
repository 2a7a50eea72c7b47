using CrossEncoder.Native.Kernels;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

/// <summary>
/// The fp32 GEMM with GeGLU in its epilogue (Gemm.GeGlu.cs): on every fp32 path, against the reference (the product in
/// double, then GeGlu.ApplyReference; for short batches also the all-double twin <see cref="Gemm.MultiplyTransposedGeGluReference"/>)
/// within the GEMM tolerance carried through GELU(u) * g, and bit for bit against the unfused route (the plain packed product
/// [R, 2I], then GeGlu.Apply).
/// </summary>
public class GemmGeGluTests
{
    // The GEMM budget of GemmTests (1e-5 * sqrt(k) * max|a| max|b| + 1e-6 * max|bias|) bounds the error d of u and of g.
    // y = GELU(u) g moves by at most |GELU'| |g| d + |GELU(u)| d + |GELU'| d^2 with |GELU'| <= 1.13 and |GELU(u)| <= |u|;
    // GELU itself is within 2e-7 max(1, |u|) (GeluTests), times |g|, and each of the two roundings of y (fast and twin) adds 6e-8 |y|.
    private const double GemmRelativeTolerance = 1e-5;
    private const double GeluAbsoluteTolerance = 2e-7;

    private static double GemmTolerance(int k, float maxA, float maxB, float maxBias)
        => GemmRelativeTolerance * Math.Sqrt(Math.Max(k, 1)) * maxA * maxB + 1e-6 * maxBias + 1e-30;

    internal static double GeGluTolerance(double d, double u, double g, double y)
        => d * (1.13 * Math.Abs(g) + Math.Abs(u) + 1.13 * d) + GeluAbsoluteTolerance * Math.Max(1, Math.Abs(u)) * Math.Abs(g) + 1.2e-7 * Math.Abs(y) + 1e-30;

    private static readonly int[] Rows = [1, 2, 3, 7, 64, 200];
    private static readonly int[] Inners = [37, 100, 1152];
    private static readonly int[] Hiddens = [64, 768];

    public static TheoryData<int, int, int, bool> Shapes()
    {
        var data = new TheoryData<int, int, int, bool>();
        foreach (int r in Rows)
            foreach (int i in Inners)
                foreach (int h in Hiddens)
                    foreach (bool bias in new[] { true, false }) data.Add(r, i, h, bias);
        return data;
    }

    /// <summary>Every fp32 path (each with this machine's threads), the portable one without FMA, and one thread only.</summary>
    private static IEnumerable<KernelCapabilities> Paths() =>
        KernelIsas.All.Select(KernelTestData.Caps)
            .Append(KernelTestData.PortableWithoutFma)
            .Append(KernelCapabilities.Default with { MaxThreads = 1 });

    [Theory]
    [MemberData(nameof(Shapes))]
    public void FusedMatchesReferenceAndUnfusedRoute(int rows, int inner, int hidden, bool hasBias)
    {
        int seed = rows * 7919 + inner * 31 + hidden + (hasBias ? 1 : 0);
        var x = KernelTestData.Uniform(rows * hidden, seed);                                           // [R, H]
        var w = KernelTestData.Uniform(2 * inner * hidden, seed + 1, 2f / MathF.Sqrt(hidden));         // [2I, H]
        var bias = hasBias ? KernelTestData.Uniform(2 * inner, seed + 2, 0.5f) : [];                   // [2I]
        var u = new float[rows * 2 * inner];                                                           // [R, 2I], the product in double, rounded
        Gemm.MultiplyTransposedReference(x, w, bias, u, rows, 2 * inner, hidden);
        var expected = new float[rows * inner];                                                        // [R, I]
        GeGlu.ApplyReference(u, expected, rows, inner);
        if (rows <= 7)
        {
            // The twin (all in double, one rounding) agrees with the composition (product rounded, then GeGLU in double).
            var twin = new float[rows * inner];
            Gemm.MultiplyTransposedGeGluReference(x, w, bias, twin, rows, inner, hidden);
            for (int e = 0; e < twin.Length; e++)
            {
                int r = e / inner, j = e % inner;
                double rounding = 6e-8 * (Math.Abs(u[r * 2 * inner + j]) + Math.Abs(u[r * 2 * inner + inner + j]));
                Assert.True(Math.Abs((double)twin[e] - expected[e]) <= GeGluTolerance(rounding, u[r * 2 * inner + j], u[r * 2 * inner + inner + j], expected[e]),
                    $"twin R {rows} I {inner} H {hidden}: y[{r},{j}] {twin[e]:R} vs product then GeGLU {expected[e]:R}");
            }
        }
        double d = GemmTolerance(hidden, KernelTestData.MaxAbs(x), KernelTestData.MaxAbs(w), KernelTestData.MaxAbs(bias));
        foreach (var caps in Paths())
        {
            var product = new float[rows * 2 * inner];                                                 // [R, 2I]
            Gemm.MultiplyTransposed(x, Gemm.Pack(w, 2 * inner, hidden, caps), bias, product, rows, caps);
            var unfused = new float[rows * inner];                                                     // [R, I]
            GeGlu.Apply(product, unfused, rows, inner, caps);
            var fused = Enumerable.Repeat(float.NaN, rows * inner + 5).ToArray();                      // [R, I] + a guard tail
            Gemm.MultiplyTransposedGeGlu(x, Gemm.PackGated(w, inner, hidden, caps), bias, fused.AsSpan(0, rows * inner), rows, caps);
            for (int e = 0; e < rows * inner; e++)
            {
                int r = e / inner, j = e % inner;
                Assert.True(BitConverter.SingleToInt32Bits(fused[e]) == BitConverter.SingleToInt32Bits(unfused[e]),
                    $"{caps} R {rows} I {inner} H {hidden} bias {hasBias}: y[{r},{j}] fused {fused[e]:R} vs product then GeGLU {unfused[e]:R}");
                double tol = GeGluTolerance(d, u[r * 2 * inner + j], u[r * 2 * inner + inner + j], expected[e]);
                Assert.True(Math.Abs((double)fused[e] - expected[e]) <= tol,
                    $"{caps} R {rows} I {inner} H {hidden} bias {hasBias}: y[{r},{j}] fused {fused[e]:R} reference {expected[e]:R} (tolerance {tol:E2})");
            }
            for (int e = rows * inner; e < fused.Length; e++) Assert.True(float.IsNaN(fused[e]), $"{caps}: wrote past y at {e}");
        }
    }

    [Fact]
    public void HandExample()
    {
        // I = 1, H = 2: u = x . [1, 0] + 0.5, g = x . [0, 2] - 1. x = [1, 3]: u = 1.5, g = 5, y = GELU(1.5) * 5.
        float[] x = [1, 3], w = [1, 0, 0, 2], bias = [0.5f, -1f];
        var y = new float[1];
        foreach (var caps in KernelIsas.All.Select(KernelTestData.Caps))
        {
            Gemm.MultiplyTransposedGeGlu(x, Gemm.PackGated(w, 1, 2, caps), bias, y, 1, caps);
            double gelu = 0.5 * 1.5 * (1 + SpecialFunctions.Erf(1.5 / Math.Sqrt(2)));
            Assert.Equal(gelu * 5, y[0], 5e-6);
        }
    }

    [Fact]
    public void ZeroReductionGivesTheGeGluOfTheBias()
    {
        float[] bias = [1f, -2f, 3f, 0.5f];   // I = 2: u = [1, -2], g = [3, 0.5]
        var y = new float[4];
        var caps = KernelCapabilities.Default;
        Gemm.MultiplyTransposedGeGlu([], Gemm.PackGated([], 2, 0, caps), bias, y, 2, caps);
        var expected = new float[2];
        GeGlu.Apply([1f, -2f, 3f, 0.5f], expected, 1, 2, caps);
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
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposed(x, plain, [], new float[10], 1, GemmEpilogue.GeGlu, caps));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposedGeGlu(x, plain, [], new float[5], 1, caps));
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposedGeGlu(x, gated, [], new float[4], 1, caps));             // y too short
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposedGeGlu(x, gated, new float[5], new float[5], 1, caps));   // bias is [2I]
        var otherPath = caps with { Isa = caps.Isa == KernelIsa.Avx2 ? KernelIsa.Portable : KernelIsa.Avx2 };
        Assert.Throws<ArgumentException>(() => Gemm.MultiplyTransposedGeGlu(x, gated, [], new float[5], 1, otherPath));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.PackGated(w, 0, 3, caps));
    }
}
