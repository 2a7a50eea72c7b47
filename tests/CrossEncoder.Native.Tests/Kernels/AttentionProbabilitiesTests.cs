using CrossEncoder.Native.Kernels;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

/// <summary><see cref="Attention.Probabilities"/> against its double-precision twin over awkward shapes (lengths that are not
/// vector multiples, one token, grouped heads, windows narrower and wider than the sequence, causal), on every path.</summary>
public sealed class AttentionProbabilitiesTests
{
    public static TheoryData<int, int, int, int, int, bool> Shapes => new()
    {
        // tokens, heads, kvHeads, headDim, window, causal
        { 1, 2, 2, 8, Attention.Global, false },
        { 17, 3, 3, 5, Attention.Global, false },
        { 33, 4, 2, 16, 4, false },
        { 9, 4, 4, 7, 20, false },
        { 40, 6, 2, 9, Attention.Global, true },
        { 5, 7, 1, 8, Attention.Global, true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheReferenceOnEveryPath(int tokens, int heads, int kvHeads, int headDim, int window, bool causal)
    {
        int keyColumn = heads * headDim, ld = keyColumn + 2 * kvHeads * headDim + 3;   // padded rows
        var random = new Random(tokens * 31 + heads);
        float[] qkv = Enumerable.Range(0, tokens * ld).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        var expected = new float[heads * tokens * tokens];
        Attention.ProbabilitiesReference(qkv, ld, keyColumn, tokens, heads, kvHeads, headDim, 0.3f, window, causal, expected);
        foreach (var isa in KernelIsas.All)
        {
            var actual = new float[expected.Length];
            actual.AsSpan().Fill(float.NaN);
            Attention.Probabilities(qkv, ld, keyColumn, tokens, heads, kvHeads, headDim, 0.3f, window, causal, actual, KernelTestData.Caps(isa));
            for (int r = 0; r < heads * tokens; r++)
            {
                int i = r % tokens;
                for (int j = 0; j < tokens; j++)
                {
                    bool visible = (window == Attention.Global || Math.Abs(i - j) <= window) && (!causal || j <= i);
                    float a = actual[r * tokens + j], e = expected[r * tokens + j];
                    if (!visible) Assert.True(a == 0 && e == 0, $"{isa}: row {r} key {j} is masked: {a}, {e}");
                    else Assert.True(Math.Abs(a - e) < 1e-6, $"{isa}: row {r} key {j}: {a} vs {e}");
                }
                Assert.Equal(1.0, actual.AsSpan(r * tokens, tokens).ToArray().Sum(x => (double)x), 1e-5);
            }
        }
    }

    [Fact]
    public void TheReferenceIsTheTextbookSoftmaxOfScaledDotProducts()
    {
        // One head, two tokens, dH 1: q = [1, 2], k = [3, -1]; query 0's scores are 0.5 * [3, -1], query 1's 0.5 * [6, -2].
        float[] qkv = [1, 3, 0, 2, -1, 0];   // rows [q | k | v], ld 3
        var p = new float[4];
        Attention.ProbabilitiesReference(qkv, 3, 1, 2, 1, 1, 1, 0.5f, Attention.Global, causal: false, p);
        Assert.Equal(1 / (1 + Math.Exp(-2)), p[0], 1e-6);
        Assert.Equal(1 / (1 + Math.Exp(4)), p[3], 1e-6);
        Attention.ProbabilitiesReference(qkv, 3, 1, 2, 1, 1, 1, 0.5f, Attention.Global, causal: true, p);
        Assert.Equal([1f, 0f], p[..2]);
    }

    [Fact]
    public void RejectsShortSpansAndUnevenGroups()
    {
        var p = new float[4 * 3 * 3];
        Assert.Throws<ArgumentException>(() => Attention.Probabilities(new float[10], 12, 4, 3, 4, 1, 1, 1f, Attention.Global, false, p, KernelCapabilities.Default));
        Assert.Throws<ArgumentException>(() => Attention.Probabilities(new float[36], 12, 6, 3, 3, 2, 2, 1f, Attention.Global, false, p, KernelCapabilities.Default));
        Assert.Throws<ArgumentException>(() => Attention.Probabilities(new float[36], 12, 4, 3, 4, 1, 1, 1f, Attention.Global, false, new float[5], KernelCapabilities.Default));
    }
}
