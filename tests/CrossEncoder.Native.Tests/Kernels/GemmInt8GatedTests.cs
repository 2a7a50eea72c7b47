using CrossEncoder.Native.Kernels;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

/// <summary>
/// The int8 GEMM with a gated unit in its epilogue (GemmInt8.Gated.cs), GeGLU and SwiGLU: on every int8 path the hardware
/// runs (the others must refuse), bit for bit against the unfused int8 route (the plain int8 product [R, 2I], then
/// GeGlu.Apply / SwiGlu.Apply), within the activation's float error of the twin (<see cref="GemmInt8.MultiplyGatedReference"/>),
/// and within int8 error of the fp32 double reference.
/// </summary>
public class GemmInt8GatedTests
{
    // Quantization error of one product element: ~0.4 % of the product rms per element (12-bit rows, int8 channels), so 6 %
    // (as GemmInt8Tests' 3 x 2 %) bounds the largest of many. It is carried through act(u) * g as in GemmGatedTests.
    private const double Int8RelativeTolerance = 0.06;


    [Theory]
    [MemberData(nameof(GemmGatedTests.Shapes), MemberType = typeof(GemmGatedTests))]
    public void FusedMatchesUnfusedRouteTwinAndFloatReference(int rows, int inner, int hidden, bool hasBias, string activationName)
    {
        var activation = Enum.Parse<GatedActivation>(activationName);
        int seed = rows * 7919 + inner * 31 + hidden + (hasBias ? 1 : 0) + 17 * (int)activation;
        var x = KernelTestData.Uniform(rows * hidden, seed);                                       // [R, H]
        var w = KernelTestData.Uniform(2 * inner * hidden, seed + 1, 2f / MathF.Sqrt(hidden));     // [2I, H]
        var bias = hasBias ? KernelTestData.Uniform(2 * inner, seed + 2, 0.5f) : [];               // [2I]
        var q = new sbyte[w.Length];                                                               // [2I, H]
        var scale = new float[2 * inner];                                                          // [2I]
        Quantize.Weights(w, q, scale, 2 * inner, hidden);
        var plain = QuantizedMatrix.FromQuantized(q, scale, 2 * inner, hidden);
        var gated = QuantizedMatrix.FromQuantizedGated(q, scale, inner, hidden);
        Assert.Equal(q, gated.Unpack());   // the gated order is only in memory
        int kp = Quantize.PadK(hidden);
        var qx = new ushort[rows * kp];                                                            // [R, Kp]
        var sx = new float[rows];                                                                  // [R]
        var zx = new int[rows];                                                                    // [R]
        Quantize.Rows(x, qx, sx, zx, rows, hidden, KernelCapabilities.Default);

        var product = new float[rows * 2 * inner];                                                 // [R, 2I] int8 twin product
        GemmInt8.MultiplyReference(qx, sx, zx, q, scale, bias, product, rows, 2 * inner, hidden);
        var twin = new float[rows * inner];                                                        // [R, I]
        if (rows <= 7) GemmInt8.MultiplyGatedReference(qx, sx, zx, q, scale, bias, twin, rows, inner, hidden, activation);
        else GemmGatedTests.ApplyUnitReference(activation, product, twin, rows, inner);            // what the twin computes, without redoing the product
        var floatProduct = new float[rows * 2 * inner];                                            // [R, 2I] fp32 product in double, rounded
        Gemm.MultiplyTransposedReference(x, w, bias, floatProduct, rows, 2 * inner, hidden);
        var floatExpected = new float[rows * inner];                                               // [R, I]
        GemmGatedTests.ApplyUnitReference(activation, floatProduct, floatExpected, rows, inner);
        double rms = Math.Sqrt(floatProduct.Select((v, e) => Math.Pow(v - (hasBias ? bias[e % (2 * inner)] : 0), 2)).Average());
        double d = Int8RelativeTolerance * rms;

        foreach (var isa in Enum.GetValues<Int8Isa>())
        {
            var caps = GemmInt8Tests.Caps(isa);
            var fused = Enumerable.Repeat(float.NaN, rows * inner + 5).ToArray();                  // [R, I] + a guard tail
            if (!GemmInt8.IsSupported(isa))
            {
                Assert.NotEqual(isa, KernelCapabilities.Default.Int8Isa);
                Assert.Throws<PlatformNotSupportedException>(() => GemmInt8.MultiplyGated(qx, sx, zx, gated, bias, fused.AsSpan(0, rows * inner), rows, activation, caps));
                continue;
            }
            var unfusedProduct = new float[rows * 2 * inner];                                      // [R, 2I]
            GemmInt8.Multiply(qx, sx, zx, plain, bias, unfusedProduct, rows, caps);
            var unfused = new float[rows * inner];                                                 // [R, I]
            GemmGatedTests.ApplyUnit(activation, unfusedProduct, unfused, rows, inner, caps);
            if (activation == GatedActivation.Gelu) GemmInt8.MultiplyGeGlu(qx, sx, zx, gated, bias, fused.AsSpan(0, rows * inner), rows, caps);
            else GemmInt8.MultiplySwiGlu(qx, sx, zx, gated, bias, fused.AsSpan(0, rows * inner), rows, caps);
            for (int e = 0; e < rows * inner; e++)
            {
                int r = e / inner, j = e % inner;
                string at = $"{activation} {isa} R {rows} I {inner} H {hidden} bias {hasBias}: y[{r},{j}] fused {fused[e]:R}";
                Assert.True(BitConverter.SingleToInt32Bits(fused[e]) == BitConverter.SingleToInt32Bits(unfused[e]), $"{at} vs int8 product then the unit {unfused[e]:R}");
                double u = product[r * 2 * inner + j], g = product[r * 2 * inner + inner + j];
                double twinTol = GemmGatedTests.GatedTolerance(0, u, g, twin[e]);
                Assert.True(Math.Abs((double)fused[e] - twin[e]) <= twinTol, $"{at} vs twin {twin[e]:R} (tolerance {twinTol:E2})");
                double fu = floatProduct[r * 2 * inner + j], fg = floatProduct[r * 2 * inner + inner + j];
                double floatTol = GemmGatedTests.GatedTolerance(d, fu, fg, floatExpected[e]);
                Assert.True(Math.Abs((double)fused[e] - floatExpected[e]) <= floatTol, $"{at} vs fp32 reference {floatExpected[e]:R} (tolerance {floatTol:E2})");
            }
            for (int e = rows * inner; e < fused.Length; e++) Assert.True(float.IsNaN(fused[e]), $"{isa}: wrote past y at {e}");
        }
    }

    [Fact]
    public void GatedAndPlainMatricesAreNotInterchangeable()
    {
        var w = KernelTestData.Uniform(2 * 5 * 8, 1);
        var plain = QuantizedMatrix.FromFloat(w, 10, 8);
        var q = plain.Unpack();
        var gated = QuantizedMatrix.FromQuantizedGated(q, plain.Scale, 5, 8);
        Assert.Equal((10, 8, 5, 2), (gated.N, gated.K, gated.Inner, gated.Panels));
        var qx = new ushort[8];
        var caps = KernelCapabilities.Default;
        Assert.Throws<ArgumentException>(() => GemmInt8.Multiply(qx, [1f], [0], gated, [], new float[10], 1, caps));
        Assert.Throws<ArgumentException>(() => GemmInt8.MultiplyGeGlu(qx, [1f], [0], plain, [], new float[5], 1, caps));
        Assert.Throws<ArgumentException>(() => GemmInt8.MultiplySwiGlu(qx, [1f], [0], plain, [], new float[5], 1, caps));
        Assert.Throws<ArgumentException>(() => GemmInt8.MultiplyGeGlu(qx, [1f], [0], gated, [], new float[4], 1, caps));
        Assert.Throws<ArgumentException>(() => GemmInt8.MultiplyGeGlu(qx, [1f], [0], gated, new float[5], new float[5], 1, caps));
    }
}
