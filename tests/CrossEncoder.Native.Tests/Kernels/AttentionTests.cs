using CrossEncoder.Native.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

public class AttentionTests
{
    // Scores are float dot products over dH (GEMM budget, ~1e-5 * sqrt(dH) * scale of |q||k|, below 1e-5 after scaling by
    // 1/sqrt(dH) for unit data); softmax is relatively exact to 2e-6; the output is a convex combination of V rows, so its
    // error is bounded by (score error + softmax error) * max|v| plus the float sum over T. 2e-5 * max|v| covers T <= 200.
    private const double AttentionTolerance = 2e-5;

    private static readonly int[] Tokens = [1, 2, 3, 7, 8, 9, 16, 17, 33, 65];
    private static readonly int[] HeadDims = [1, 3, 7, 8, 9, 16, 17, 32, 33];

    internal record Case(int Tokens, int Heads, int HeadDim, int ExtraStride, int Masked, int Seed, KernelCapabilities Caps);

    private static Arbitrary<Case> Cases() =>
        Gen.Elements(Tokens).SelectMany(t => Gen.Choose(1, 4).SelectMany(h => Gen.Elements(HeadDims).SelectMany(d =>
            Gen.Elements(0, 1, 5).SelectMany(extra => Gen.Choose(0, t - 1).SelectMany(masked => Gen.Choose(0, int.MaxValue).SelectMany(seed =>
                Gen.Elements(KernelIsas.All).Select(isa => new Case(t, h, d, extra, masked, seed, KernelTestData.Caps(isa)))))))))
        .ToArbitrary();

    internal static void Check(Case c) => Check(c, zeroBias: false);

    internal static void Check(Case c, bool zeroBias)
    {
        int hidden = c.Heads * c.HeadDim, ld = 3 * hidden + c.ExtraStride;
        // One fused QKV buffer [T, ld]: q at column 0, k at hidden, v at 2*hidden, as a fused projection would lay it out.
        var qkv = KernelTestData.Uniform(c.Tokens * ld, c.Seed, 2f);
        var q = qkv.AsSpan(); var k = qkv.AsSpan(hidden); var v = qkv.AsSpan(2 * hidden);
        var keyBias = new float[c.Tokens];
        // The last `Masked` keys are padding (-inf); a few others get a large finite negative bias.
        // With zeroBias every key is real (as in the model's packed batches): the route that divides after S V.
        if (!zeroBias)
            for (int j = 0; j < c.Tokens; j++) keyBias[j] = j >= c.Tokens - c.Masked ? float.NegativeInfinity : (j % 5 == 4 ? -1e4f : 0f);
        float scale = 1f / MathF.Sqrt(c.HeadDim);
        var expected = new float[c.Tokens * hidden];
        Attention.MultiHeadReference(q, k, v, ld, keyBias, expected, c.Tokens, c.Heads, c.HeadDim, scale);
        var actual = Enumerable.Repeat(float.NaN, c.Tokens * hidden).ToArray();
        var scratch = new float[Attention.ScratchLength(c.Tokens, c.Heads)];
        Attention.MultiHead(q, k, v, ld, keyBias, actual, c.Tokens, c.Heads, c.HeadDim, scale, scratch, c.Caps);
        double tol = AttentionTolerance * KernelTestData.MaxAbs(qkv); // max|v| bounds every output
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tol, $"{c}: out[{i / hidden},{i % hidden}] fast {actual[i]} reference {expected[i]}");
    }

    [Property(MaxTest = 150)]
    public Property MatchesReference() => Prop.ForAll(Cases(), Check);

    /// <summary>No mask at all (the model's case): softmax left unnormalised until after S V, still equal to the reference.</summary>
    [Property(MaxTest = 100)]
    public Property UnmaskedMatchesReference() => Prop.ForAll(Cases(), c => Check(c, zeroBias: true));

    /// <summary>Only the first rows as queries (a cross-encoder's last layer): equal to the reference on those rows.</summary>
    [Property(MaxTest = 60)]
    public Property FirstQueryRowsMatchReference() => Prop.ForAll(Cases(), c =>
    {
        int hidden = c.Heads * c.HeadDim, ld = 3 * hidden + c.ExtraStride, queries = 1 + c.Seed % c.Tokens;
        var qkv = KernelTestData.Uniform(c.Tokens * ld, c.Seed, 2f);
        var keyBias = new float[c.Tokens];
        for (int j = 0; j < c.Tokens; j++) keyBias[j] = j >= c.Tokens - c.Masked ? float.NegativeInfinity : 0f;
        float scale = 1f / MathF.Sqrt(c.HeadDim);
        var expected = new float[c.Tokens * hidden];
        Attention.MultiHeadReference(qkv, qkv.AsSpan(hidden), qkv.AsSpan(2 * hidden), ld, keyBias, expected, c.Tokens, c.Heads, c.HeadDim, scale);
        var actual = Enumerable.Repeat(float.NaN, queries * hidden).ToArray();
        var scratch = new float[Attention.ScratchLength(c.Tokens, c.Heads)];
        Attention.MultiHead(qkv, qkv.AsSpan(hidden), qkv.AsSpan(2 * hidden), ld, keyBias, actual, c.Tokens, c.Heads, c.HeadDim, scale, scratch, queries, c.Caps);
        var twin = new float[queries * hidden];
        Attention.MultiHeadReference(qkv, qkv.AsSpan(hidden), qkv.AsSpan(2 * hidden), ld, keyBias, twin, c.Tokens, c.Heads, c.HeadDim, scale, queries);
        double tol = AttentionTolerance * KernelTestData.MaxAbs(qkv);
        for (int i = 0; i < queries * hidden; i++)
        {
            Assert.Equal(expected[i], twin[i]);
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tol, $"{c} queries {queries}: out[{i / hidden},{i % hidden}] fast {actual[i]} reference {expected[i]}");
        }
    });

    // Big enough to run heads on several threads; T crosses the GEMM register tiles and the softmax vector width.
    [Theory]
    [InlineData(nameof(KernelIsa.Avx2), 130, 12, 32)]
    [InlineData(nameof(KernelIsa.Portable), 97, 6, 64)]
    [InlineData(nameof(KernelIsa.Avx512), 41, 3, 24)]
    public void ThreadedShapesMatchReference(string isa, int tokens, int heads, int headDim)
        => Check(new Case(tokens, heads, headDim, 3, tokens / 4, tokens + heads, KernelTestData.Caps(Enum.Parse<KernelIsa>(isa))));

    // Unmasked and long: the exp pass writes P in the GEMM's packed layout (Attention.Packed.cs) across several KC = 256
    // k-slices, T not a multiple of 8 (scalar tail), query blocks of 96 with a partial last MR tile (6 rows AVX2, 8 AVX-512).
    [Theory]
    [InlineData(nameof(KernelIsa.Avx2), 523, 2, 32)]
    [InlineData(nameof(KernelIsa.Avx512), 300, 2, 16)]
    [InlineData(nameof(KernelIsa.Portable), 261, 1, 8)]
    public void LongUnmaskedShapesMatchReference(string isa, int tokens, int heads, int headDim)
        => Check(new Case(tokens, heads, headDim, 1, 0, tokens * 7 + heads, KernelTestData.Caps(Enum.Parse<KernelIsa>(isa))), zeroBias: true);

    // A packed batch through MultiHeadBatch ((sequence, head) parts, per-thread scores): each sequence equals the reference
    // on its own rows, all queries or only the first token; sizes mix tiny and long sequences (one over 256 keys), so
    // some parts run in parallel and the exp pass crosses k-slices.
    [Theory]
    [InlineData(nameof(KernelIsa.Avx2), false)]
    [InlineData(nameof(KernelIsa.Avx2), true)]
    [InlineData(nameof(KernelIsa.Avx512), false)]
    [InlineData(nameof(KernelIsa.Portable), true)]
    public void PackedBatchMatchesReferencePerSequence(string isaName, bool firstTokenOnly)
    {
        var caps = KernelTestData.Caps(Enum.Parse<KernelIsa>(isaName));
        int heads = 4, headDim = 16, hidden = heads * headDim, ld = 3 * hidden + 2;
        int[] lengths = [1, 7, 33, 300, 2, 64, 17];
        var starts = new int[lengths.Length + 1];
        for (int s = 0; s < lengths.Length; s++) starts[s + 1] = starts[s] + lengths[s];
        int n = starts[^1];
        var qkv = KernelTestData.Uniform(n * ld, 4242, 2f);
        var actual = Enumerable.Repeat(float.NaN, (firstTokenOnly ? lengths.Length : n) * hidden).ToArray();
        float scale = 1f / MathF.Sqrt(headDim);
        Attention.MultiHeadBatch(qkv, ld, starts, lengths.Length, actual, firstTokenOnly, heads, headDim, scale, caps);
        double tol = AttentionTolerance * KernelTestData.MaxAbs(qkv) * 2;   // T up to 300: twice the T <= 200 budget
        for (int s = 0; s < lengths.Length; s++)
        {
            int t = lengths[s];
            var rows = qkv.AsSpan(starts[s] * ld, t * ld);
            var expected = new float[t * hidden];
            Attention.MultiHeadReference(rows, rows[hidden..], rows[(2 * hidden)..], ld, new float[t], expected, t, heads, headDim, scale);
            int outRow = firstTokenOnly ? s : starts[s], count = firstTokenOnly ? 1 : t;
            for (int i = 0; i < count * hidden; i++)
                Assert.True(Math.Abs(actual[outRow * hidden + i] - expected[i]) <= tol,
                    $"{caps.Isa} sequence {s} (T {t}): out[{i / hidden},{i % hidden}] batch {actual[outRow * hidden + i]} reference {expected[i]}");
        }
    }

    [Fact]
    public void PackedBatchRejectsBadArguments()
    {
        var qkv = new float[10 * 12];
        var output = new float[10 * 4];
        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.MultiHeadBatch(qkv, 12, [0, 10], 1, output, false, 2, 2, 0f, KernelIsa.Avx2));
        Assert.Throws<ArgumentException>(() => Attention.MultiHeadBatch(qkv, 12, [0, 6, 5], 2, output, false, 2, 2, 0.5f, KernelIsa.Avx2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.MultiHeadBatch(qkv, 11, [0, 10], 1, output, false, 2, 2, 0.5f, KernelIsa.Avx2));
        Assert.Throws<ArgumentException>(() => Attention.MultiHeadBatch(qkv, 12, [0, 11], 1, output, false, 2, 2, 0.5f, KernelIsa.Avx2));
    }

    [Fact]
    public void SingleTokenReturnsItsValue()
    {
        // With one key the softmax is [1]: the output is v itself, whatever q and k are.
        float[] q = [1, 2, 3, 4], k = [5, 6, 7, 8], v = [0.5f, -1, 2, 9];
        var output = new float[4];
        Attention.MultiHead(q, k, v, 4, [0f], output, 1, 2, 2, 0.7f, new float[Attention.ScratchLength(1, 2)], KernelCapabilities.Default);
        Assert.Equal(v, output);
    }

    [Fact]
    public void HandExampleTwoTokens()
    {
        // One head, dH = 1: q = [1, 0], k = [0, ln 3], v = [10, 20], scale 1. Row 0: scores [0, ln 3] -> [1/4, 3/4] -> 17.5.
        // Row 1: scores [0, 0] -> [1/2, 1/2] -> 15.
        float[] q = [1, 0], k = [0, MathF.Log(3)], v = [10, 20];
        var output = new float[2];
        Attention.MultiHead(q, k, v, 1, [0f, 0f], output, 2, 1, 1, 1f, new float[4], KernelCapabilities.Default);
        Assert.Equal(17.5f, output[0], 1e-5f);
        Assert.Equal(15f, output[1], 1e-5f);
    }

    [Fact]
    public void ValidatesArguments()
    {
        var x = new float[2 * 8];
        var scratch = new float[Attention.ScratchLength(2, 2)];
        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.MultiHead(x, x, x, 7, new float[2], new float[16], 2, 2, 4, 1f, scratch, KernelCapabilities.Default));
        Assert.Throws<ArgumentException>(() => Attention.MultiHead(x.AsSpan(1), x, x, 8, new float[2], new float[16], 2, 2, 4, 1f, scratch, KernelCapabilities.Default));
        Assert.Throws<ArgumentException>(() => Attention.MultiHead(x, x, x, 8, new float[1], new float[16], 2, 2, 4, 1f, scratch, KernelCapabilities.Default));
        Assert.Throws<ArgumentException>(() => Attention.MultiHead(x, x, x, 8, new float[2], new float[15], 2, 2, 4, 1f, scratch, KernelCapabilities.Default));
        Assert.Throws<ArgumentException>(() => Attention.MultiHead(x, x, x, 8, new float[2], new float[16], 2, 2, 4, 1f, scratch.AsSpan(1), KernelCapabilities.Default));
        Attention.MultiHead([], [], [], 8, [], [], 0, 2, 4, 1f, [], KernelCapabilities.Default); // no tokens: nothing to do
    }

    [Fact]
    public void ScoresWithoutASoftmaxGiveNaNOutputsNeverAThrow()
    {
        // Every key masked, or q k overflowing to +-inf (weights of 3e38): no softmax exists; the rows are NaN on every path
        // (the model's output check names the stage), never an ArgumentException from data a model file can produce.
        foreach (var isa in KernelIsas.All)
        {
            var caps = KernelTestData.Caps(isa);
            int t = 40, h = 2, d = 8;
            var q = KernelTestData.Uniform(t * h * d, seed: 3);
            var scratch = new float[Attention.ScratchLength(t, h)];
            var output = new float[t * h * d];
            Attention.MultiHead(q, q, q, h * d, Enumerable.Repeat(float.NegativeInfinity, t).ToArray(), output, t, h, d, 1f, scratch, caps);
            Assert.All(output, v => Assert.True(float.IsNaN(v)));
            var huge = q.Select(v => v * 3e38f).ToArray();
            Attention.MultiHead(huge, huge, q, h * d, new float[t], output, t, h, d, 1f, scratch, caps);
            Assert.All(output, v => Assert.True(float.IsNaN(v)));   // every score is +-inf or NaN: no row has a softmax
        }
    }
}
