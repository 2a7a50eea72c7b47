using System.Numerics;
using System.Runtime.Intrinsics;
using CrossEncoder.Native.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

public class VectorExpTests
{
    // The polynomial is within 1.2e-7 relative on the reduced interval; with the float roundings of the reduction and the
    // Horner steps the result is within ~1 ulp (measured 1.01 ulp, 8.4e-8 relative). Budget: 1.5e-7 relative.
    private const double ExpRelativeTolerance = 1.5e-7;

    // Results below the smallest normal float (x < -87.34) may be flushed to 0: an absolute error under 2^-126.
    private const double FlushFloor = 1.1754944e-38;

    internal static void AssertClose(float x, float actual, string path)
    {
        double expected = Math.Exp(x);
        double err = Math.Abs(actual - expected);
        Assert.True(err <= ExpRelativeTolerance * expected + FlushFloor, $"{path} exp({x:R}) = {actual:R}, reference {expected:R}, error {err:E3}");
    }

    private static void CheckBoth(float[] xs)
    {
        int w = Vector<float>.Count;
        var padded = new float[(xs.Length + 15) / 16 * 16];
        xs.CopyTo(padded, 0);
        for (int i = 0; i < padded.Length; i += w)
        {
            var y = VectorExp.Exp(new Vector<float>(padded, i));
            for (int l = 0; l < w && i + l < xs.Length; l++) AssertClose(xs[i + l], y[l], "Vector<float>");
        }
        for (int i = 0; i < padded.Length; i += 16)
        {
            var y = VectorExp.Exp(Vector512.Create(padded, i));
            for (int l = 0; l < 16 && i + l < xs.Length; l++) AssertClose(xs[i + l], y[l], "Vector512");
        }
    }

    [Fact]
    public void DenseSweepMatchesMathExp()
    {
        // Every 1/1024 over the whole domain callers use (x <= 0) and a little beyond each end, plus the positive side up to
        // the documented limit 88.
        var xs = new List<float>();
        for (int i = -100 * 1024; i <= 88 * 1024; i++) xs.Add(i / 1024f);
        // Multiples of ln 2 and their neighbours: the rounding of n switches there.
        for (int n = -127; n <= 126; n++)
        {
            float v = (float)((n + 0.5) * Math.Log(2));
            xs.AddRange([v, MathF.BitDecrement(v), MathF.BitIncrement(v), (float)(n * Math.Log(2))]);
        }
        CheckBoth(xs.ToArray());
    }

    [Property(MaxTest = 100)]
    public Property RandomArgumentsMatchMathExp() =>
        Prop.ForAll(Gen.Choose(int.MinValue, int.MaxValue).ToArbitrary(), seed =>
        {
            var rng = new Random(seed);
            var xs = new float[64];
            for (int i = 0; i < xs.Length; i++) xs[i] = -(float)rng.NextDouble() * (rng.Next(4) == 0 ? 1e4f : 90f);
            CheckBoth(xs);
        });

    [Fact]
    public void SpecialValues()
    {
        float[] xs = [0f, -0f, float.NegativeInfinity, -88f, -1000f, float.MinValue, 1f, -1f];
        var padded = new float[16];
        xs.CopyTo(padded, 0);
        var y = VectorExp.Exp(Vector512.Create(padded));
        var yw = new float[16];
        for (int i = 0; i < 16; i += Vector<float>.Count) VectorExp.Exp(new Vector<float>(padded, i)).CopyTo(yw, i);
        foreach (var got in new[] { Enumerable.Range(0, 16).Select(i => y[i]).ToArray(), yw })
        {
            Assert.Equal(1f, got[0]);
            Assert.Equal(1f, got[1]);
            Assert.Equal(0f, got[2]); // exp(-inf) = 0: masked keys get probability 0
            Assert.Equal(0f, got[3]);
            Assert.Equal(0f, got[4]);
            Assert.Equal(0f, got[5]);
            Assert.Equal(2.7182817f, got[6]);
            Assert.Equal(0.36787945f, got[7]);
        }
    }

    /// <summary>The four-way interleaved form (Softmax's exp pass) is the same arithmetic: bit-identical to one-at-a-time, with
    /// the FMA and without, and for Vector512.</summary>
    [Property(MaxTest = 100)]
    public Property Exp4IsBitIdenticalToExp() => Prop.ForAll(
        Gen.Choose(-90_000, 1_000).Select(v => v / 1000f).ArrayOf().Where(a => a.Length > 0).ToArbitrary(), xs =>
    {
        int w = Vector<float>.Count;
        var lanes = new float[64];
        for (int i = 0; i < lanes.Length; i++) lanes[i] = xs[i % xs.Length];
        var v = new Vector<float>[4];
        for (int j = 0; j < 4; j++) v[j] = new Vector<float>(lanes, j * w);
        var (a, b, c, d) = (v[0], v[1], v[2], v[3]);
        VectorExp.Exp4<FusedMultiplyAdd>(ref a, ref b, ref c, ref d);
        var (e, f, g, h) = (v[0], v[1], v[2], v[3]);
        VectorExp.Exp4<SeparateMultiplyAdd>(ref e, ref f, ref g, ref h);
        Vector<float>[] fused = [a, b, c, d], separate = [e, f, g, h];
        for (int j = 0; j < 4; j++)
        {
            Assert.Equal(VectorExp.Exp<FusedMultiplyAdd>(v[j]), fused[j]);
            Assert.Equal(VectorExp.Exp<SeparateMultiplyAdd>(v[j]), separate[j]);
        }
        var z = new Vector512<float>[4];
        for (int j = 0; j < 4; j++) z[j] = Vector512.Create(lanes, j * 16);
        var (p, q, r, s) = (z[0], z[1], z[2], z[3]);
        VectorExp.Exp4(ref p, ref q, ref r, ref s);
        Vector512<float>[] wide = [p, q, r, s];
        for (int j = 0; j < 4; j++) Assert.Equal(VectorExp.Exp(z[j]), wide[j]);
    });
}
