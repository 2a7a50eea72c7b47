using CrossEncoder.Native.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

public class SoftmaxTests
{
    // exp is within ~2 ulp (2.4e-7 relative), the float sum of n <= 1000 positive terms in vector lanes within ~1e-6 relative,
    // the final scaling 1 ulp: each probability is within 2e-6 of its own size (plus a denormal-sized floor).
    private const double SoftmaxRelativeTolerance = 2e-6;

    private static readonly int[] Ns = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 100, 512, 1000];

    internal record Case(int N, float Scale, int MaskEvery, int Seed, KernelCapabilities Caps);

    private static Arbitrary<Case> Cases() =>
        Gen.Elements(Ns).SelectMany(n => Gen.Elements(1f, 10f, 1e4f, 1e30f).SelectMany(scale => Gen.Elements(0, 2, 3, 7).SelectMany(mask =>
            Gen.Choose(0, int.MaxValue).SelectMany(seed => Gen.Elements(KernelIsas.All).Select(isa => new Case(n, scale, mask, seed, KernelTestData.Caps(isa)))))))
        .ToArbitrary();

    internal static void Check(float[] x, KernelCapabilities caps, bool inPlace)
    {
        var expected = new float[x.Length];
        Softmax.ApplyReference(x, expected);
        var actual = inPlace ? (float[])x.Clone() : new float[x.Length];
        Softmax.Apply(inPlace ? actual : x, actual, caps);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.True(Math.Abs(actual[i] - expected[i]) <= SoftmaxRelativeTolerance * expected[i] + 1e-38,
                $"{caps} n={x.Length}: y[{i}] fast {actual[i]} reference {expected[i]} (x = {x[i]})");
            if (float.IsNegativeInfinity(x[i])) Assert.Equal(0f, actual[i]);
        }
    }

    [Property(MaxTest = 300)]
    public Property MatchesReference() => Prop.ForAll(Cases(), c =>
    {
        var x = KernelTestData.Uniform(c.N, c.Seed, c.Scale);
        if (c.MaskEvery > 0) for (int i = 1; i < x.Length; i += c.MaskEvery) x[i] = float.NegativeInfinity;
        Check(x, c.Caps, inPlace: c.Seed % 2 == 0);
    });

    [Theory]
    [InlineData(nameof(KernelIsa.Portable))]
    [InlineData(nameof(KernelIsa.Avx512))]
    public void HugeValuesDoNotOverflow(string isaName)
    {
        var caps = KernelTestData.Caps(Enum.Parse<KernelIsa>(isaName));
        float[] x = [3e38f, 3e38f, -3e38f, 1e38f, 3e38f, 0f, 3e38f, 3e38f, 3e38f, 3e38f, 3e38f, 3e38f, 3e38f, 3e38f, 3e38f, 3e38f, 3e38f, 88f, 89f];
        var y = new float[x.Length];
        Softmax.Apply(x, y, caps);
        int top = x.Count(v => v == 3e38f);
        for (int i = 0; i < x.Length; i++) Assert.Equal(x[i] == 3e38f ? 1f / top : 0f, y[i], 1e-7f);
    }

    [Fact]
    public void HandExample()
    {
        // softmax([0, ln 2, ln 3, -inf]) = [1, 2, 3, 0] / 6.
        float[] x = [0f, MathF.Log(2), MathF.Log(3), float.NegativeInfinity];
        var y = new float[4];
        Softmax.Apply(x, y, KernelCapabilities.Default);
        Assert.Equal(1 / 6.0, y[0], 1e-7);
        Assert.Equal(2 / 6.0, y[1], 1e-7);
        Assert.Equal(3 / 6.0, y[2], 1e-7);
        Assert.Equal(0f, y[3]);
    }

    [Fact]
    public void ARowWithoutASoftmaxGivesNaNNeverAThrow_AndShortOutputIsRejected()
    {
        // All -inf (every score overflowed to -inf), or +inf / NaN in the row: data a model file can produce, so the row is
        // NaN (the model's output check reports it), never an ArgumentException out of Rerank.
        float[][] rows =
        [
            Enumerable.Repeat(float.NegativeInfinity, 19).ToArray(),
            [.. Enumerable.Range(0, 37).Select(i => i == 20 ? float.PositiveInfinity : i * 0.1f)],
            [.. Enumerable.Range(0, 37).Select(i => i == 35 ? float.NaN : i * 0.1f)],
            [float.NegativeInfinity],
        ];
        foreach (var x in rows)
        {
            foreach (var isa in KernelIsas.All)
            {
                var y = new float[x.Length];
                Softmax.Apply(x, y, KernelTestData.Caps(isa));
                Assert.All(y, v => Assert.True(float.IsNaN(v)));
            }
            var reference = new float[x.Length];
            Softmax.ApplyReference(x, reference);
            Assert.All(reference, v => Assert.True(float.IsNaN(v)));
        }
        Assert.Throws<ArgumentException>(() => Softmax.Apply(new float[5], new float[4], KernelCapabilities.Default));
        Softmax.Apply([], [], KernelCapabilities.Default); // empty row: nothing to do
    }
}
