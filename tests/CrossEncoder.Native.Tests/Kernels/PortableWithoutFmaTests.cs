using System.Numerics;
using CrossEncoder.Native.Kernels;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

/// <summary>
/// The portable path as it runs on hardware without an FMA (WebAssembly, x86 without FMA3): every portable kernel computes
/// a * b + c as a multiply then an add (not the ~30x slower software-emulated fused form) and still matches its reference
/// twin within the same named tolerances. Each call is given <see cref="KernelTestData.PortableWithoutFma"/>
/// (<c>Fma = false</c>); nothing process-wide is switched, so these tests run beside the others.
/// </summary>
public sealed class PortableWithoutFmaTests
{
    private static readonly KernelCapabilities NoFma = KernelTestData.PortableWithoutFma;

    [Fact]
    public void TheSwitchSelectsMultiplyThenAdd()
    {
        // C = (-1)(1) + (1 + 2^-12)^2. Exactly 2^-11 + 2^-24; the product alone rounds (tie to even) to 1 + 2^-11, so a
        // multiply then an add gives 2^-11 and a fused multiply-add 2^-11 + 2^-24: the result says which ran.
        float e = 1f + MathF.Pow(2, -12);
        float[] a = [-1f, e, -1f, e, -1f, e], b = [1f, e];
        float separate = MathF.Pow(2, -11), fused = separate + MathF.Pow(2, -24);
        var c = new float[3];
        Gemm.MultiplyTransposed(a, Gemm.Pack(b, 1, 2, NoFma), [], c, 3, NoFma);   // microkernel
        Assert.Equal([separate, separate, separate], c);
        Gemm.MultiplyTransposed(a, b, [], c, 1, 1, 2, NoFma);                     // dot product (m = 1)
        Assert.Equal(separate, c[0]);
        var withFma = NoFma with { Fma = true };
        Gemm.MultiplyTransposed(a, Gemm.Pack(b, 1, 2, withFma), [], c, 3, withFma);
        Assert.Equal([fused, fused, fused], c);
        Gemm.MultiplyTransposed(a, b, [], c, 1, 1, 2, withFma);
        Assert.Equal(fused, c[0]);
        // The AVX2 path is FMA hardware by definition: the Fma field does not touch it.
        Gemm.MultiplyTransposed(a, b, [], c, 1, 1, 2, NoFma with { Isa = KernelIsa.Avx2 });
        Assert.Equal(fused, c[0]);
    }

    [Fact]
    public void GeluInterleavedLanesAreBitIdentical() => GeluTests.AssertInterleavedLanesBitIdentical(NoFma);

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(7, 9, 17)]
    [InlineData(33, 65, 257)]
    [InlineData(97, 47, 385)]
    [InlineData(300, 200, 384)]   // threaded
    public void GemmMatchesReference(int m, int n, int k)
    {
        GemmTests.AssertMatchesReference(new GemmTests.Shape(m, n, k, true, m + n + k), NoFma);
        GemmTests.AssertPackedMatches(new GemmTests.Shape(m, n, k, m % 2 == 0, m * n + k), NoFma);
        GemmTests.AssertGeluEpilogueMatches(new GemmTests.Shape(m, n, k, true, m * 3 + k), NoFma);
    }

    [Theory]
    [InlineData(1, 1, 1, 0)]
    [InlineData(9, 3, 7, 2)]
    [InlineData(65, 4, 33, 10)]
    [InlineData(130, 12, 32, 30)]   // threaded
    public void AttentionMatchesReference(int tokens, int heads, int headDim, int masked)
        => AttentionTests.Check(new AttentionTests.Case(tokens, heads, headDim, 3, masked, tokens * 7 + heads, NoFma));

    [Theory]
    [InlineData(1, 1, false, 0f)]
    [InlineData(3, 17, true, 100f)]
    [InlineData(9, 385, true, 3f)]
    [InlineData(2100, 384, true, 1f)]   // threaded
    public void LayerNormMatchesReference(int rows, int n, bool residual, float offset)
        => LayerNormTests.Check(new LayerNormTests.Case(rows, n, residual, offset, rows + n, NoFma), aliasOutputToX: rows % 2 == 1);

    [Theory]
    [InlineData(1, 1f)]
    [InlineData(17, 10f)]
    [InlineData(1000, 1e4f)]
    public void SoftmaxMatchesReference(int n, float scale)
    {
        var x = KernelTestData.Uniform(n, n, scale);
        for (int i = 1; i < n; i += 3) x[i] = float.NegativeInfinity;
        SoftmaxTests.Check(x, NoFma, inPlace: n % 2 == 0);
    }

    [Fact]
    public void GeluMatchesReference()
    {
        var x = new List<float> { 0f, -0f, 1e-30f, -1e-30f, float.NaN, 88f, -88f, 1e30f, -1e30f };
        for (int i = -12 * 256; i <= 12 * 256; i++) x.Add(i / 256f);
        x.AddRange(KernelTestData.Uniform(70_000, 5, 6f));   // enough to run threaded
        GeluTests.AssertMatchesReference([.. x], NoFma);
    }

    [Fact]
    public void ExpMatchesMathExp()
    {
        int w = Vector<float>.Count;
        var xs = new List<float>();
        for (int i = -100 * 64; i <= 88 * 64; i++) xs.Add(i / 64f);
        for (int n = -126; n <= 126; n++)
        {
            float v = (float)((n + 0.5) * Math.Log(2));
            xs.AddRange([v, MathF.BitDecrement(v), MathF.BitIncrement(v)]);
        }
        while (xs.Count % w != 0) xs.Add(0f);
        var values = xs.ToArray();
        for (int i = 0; i < values.Length; i += w)
        {
            var y = VectorExp.Exp<SeparateMultiplyAdd>(new Vector<float>(values, i));
            for (int l = 0; l < w; l++) VectorExpTests.AssertClose(values[i + l], y[l], "Vector<float> without FMA");
        }
    }
}
