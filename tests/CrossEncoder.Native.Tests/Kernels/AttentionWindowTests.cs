using CrossEncoder.Native.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

/// <summary>
/// Sliding-window attention on a packed batch (<c>Attention.MultiHeadBatch(..., window, caps)</c>, the band path of
/// Attention.Window.cs) against its double twin <c>Attention.MultiHeadBatchReference</c>, on every fp32 path.
/// </summary>
public class AttentionWindowTests
{
    // As AttentionTests: the output is a convex combination of V rows, so its error is bounded by the score and softmax
    // errors times max|v| plus the float sum over the keys; 2e-5 * max|v| covers up to ~200 keys, the band of w <= 64
    // (129 keys). A global sequence of 1000 keys gets the budget scaled by keys / 200.
    private const double AttentionTolerance = 2e-5;

    /// <summary>Every fp32 path, and the portable one as on hardware without FMA.</summary>
    private static readonly KernelCapabilities[] AllCaps =
        [.. KernelIsas.All.Select(KernelTestData.Caps), KernelTestData.PortableWithoutFma];

    /// <summary>Lengths around the band's edges for window w (1, 2, w, w + 1, 2w, 2w + 1, 2w + 2) and longer ones that cross
    /// several blocks and chunks of query rows.</summary>
    private static int[] EdgeLengths(int window)
    {
        int w = window == Attention.Global ? 64 : window;
        return [.. new[] { 1, 2, w, w + 1, 2 * w, 2 * w + 1, 2 * w + 2, 130, 300, 1000 }.Where(t => t > 0)];
    }

    private static int[] Starts(int[] lengths)
    {
        var starts = new int[lengths.Length + 1];
        for (int s = 0; s < lengths.Length; s++) starts[s + 1] = starts[s] + lengths[s];
        return starts;
    }

    private static double Tolerance(float[] qkv, int[] lengths, int window)
    {
        long keys = lengths.Max(t => Math.Min(t, 2L * window + 1));
        return AttentionTolerance * KernelTestData.MaxAbs(qkv) * Math.Max(1.0, keys / 200.0);
    }

    /// <summary>Runs the batch with <paramref name="caps"/> (output pre-filled with NaN, so a row left unwritten fails).</summary>
    private static float[] Run(float[] qkv, int ld, int[] lengths, bool firstTokenOnly, int heads, int headDim, int window, in KernelCapabilities caps)
    {
        var starts = Starts(lengths);
        var output = Enumerable.Repeat(float.NaN, (firstTokenOnly ? lengths.Length : starts[^1]) * heads * headDim).ToArray();
        Attention.MultiHeadBatch(qkv, ld, starts, lengths.Length, output, firstTokenOnly, heads, headDim, 1f / MathF.Sqrt(headDim), window, caps);
        return output;
    }

    private static float[] Reference(float[] qkv, int ld, int[] lengths, bool firstTokenOnly, int heads, int headDim, int window)
    {
        var starts = Starts(lengths);
        var output = new float[(firstTokenOnly ? lengths.Length : starts[^1]) * heads * headDim];
        Attention.MultiHeadBatchReference(qkv, ld, starts, lengths.Length, output, firstTokenOnly, heads, headDim, 1f / MathF.Sqrt(headDim), window);
        return output;
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance, int hidden, string label)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance,
                $"{label}: out[{i / hidden},{i % hidden}] fast {actual[i]} reference {expected[i]} (tolerance {tolerance:g3})");
    }

    // Every path, all queries and the first token only, on one batch of the edge lengths (each sequence its own band clipping;
    // 1000 rows cross several chunks, so its parts run on several threads).
    [Theory]
    [InlineData(0, 64)]
    [InlineData(1, 64)]
    [InlineData(3, 32)]
    [InlineData(3, 64)]
    [InlineData(64, 64)]
    [InlineData(64, 32)]
    [InlineData(Attention.Global, 64)]
    [InlineData(Attention.Global, 32)]
    public void EdgeLengthsMatchReferenceOnEveryPath(int window, int headDim)
    {
        int heads = 3, hidden = heads * headDim, ld = 3 * hidden + 5;
        int[] lengths = EdgeLengths(window);
        var qkv = KernelTestData.Uniform(lengths.Sum() * ld, window ^ headDim, 2f);
        double tol = Tolerance(qkv, lengths, window);
        foreach (bool firstTokenOnly in new[] { false, true })
        {
            var expected = Reference(qkv, ld, lengths, firstTokenOnly, heads, headDim, window);
            foreach (var caps in AllCaps)
                AssertClose(expected, Run(qkv, ld, lengths, firstTokenOnly, heads, headDim, window, caps), tol, hidden,
                    $"{caps.Isa} fma {caps.UsesFma} window {window} dH {headDim} first-token {firstTokenOnly}");
        }
    }

    internal record Case(int[] Lengths, int Window, int Heads, int HeadDim, int ExtraStride, bool FirstTokenOnly, int Seed, KernelCapabilities Caps);

    // Random batches of mixed lengths (up to 300, many short), random windows (small ones, around the block heights,
    // past half the sequence) and head shapes.
    private static Arbitrary<Case> Cases() =>
        Gen.Choose(1, 6).SelectMany(count => Gen.OneOf(Gen.Choose(1, 20), Gen.Choose(1, 300)).ArrayOf(count)).SelectMany(lengths =>
        Gen.OneOf(Gen.Elements(0, 1, 3, 64, Attention.Global), Gen.Choose(0, 200)).SelectMany(window =>
        Gen.Choose(1, 3).SelectMany(heads => Gen.Elements(1, 7, 16, 32, 33, 64).SelectMany(headDim =>
        Gen.Elements(0, 3).SelectMany(extra => Gen.Elements(false, true).SelectMany(first => Gen.Choose(0, int.MaxValue).SelectMany(seed =>
        Gen.Elements(AllCaps).Select(caps => new Case([.. lengths], window, heads, headDim, extra, first, seed, caps)))))))))
        .ToArbitrary();

    [Property(MaxTest = 60)]
    public Property RandomBatchesMatchReference() => Prop.ForAll(Cases(), c =>
    {
        int hidden = c.Heads * c.HeadDim, ld = 3 * hidden + c.ExtraStride;
        var qkv = KernelTestData.Uniform(c.Lengths.Sum() * ld, c.Seed, 2f);
        var expected = Reference(qkv, ld, c.Lengths, c.FirstTokenOnly, c.Heads, c.HeadDim, c.Window);
        var actual = Run(qkv, ld, c.Lengths, c.FirstTokenOnly, c.Heads, c.HeadDim, c.Window, c.Caps);
        AssertClose(expected, actual, Tolerance(qkv, c.Lengths, c.Window), hidden,
            $"{c.Caps.Isa} lengths [{string.Join(", ", c.Lengths)}] window {c.Window} nH {c.Heads} dH {c.HeadDim} first-token {c.FirstTokenOnly}");
    });

    // The edge is inclusive on both sides (|i - j| <= w): w - 1 and w + 1 give visibly different outputs, so an off-by-one in
    // the band (or in the key range of a block) cannot hide inside the tolerance.
    [Theory]
    [InlineData(nameof(KernelIsa.Avx512), 64)]
    [InlineData(nameof(KernelIsa.Avx2), 64)]
    [InlineData(nameof(KernelIsa.Portable), 64)]
    [InlineData(nameof(KernelIsa.Avx2), 1)]
    [InlineData(nameof(KernelIsa.Avx512), 5)]
    public void WindowEdgeIsInclusive(string isa, int window)
    {
        var caps = KernelTestData.Caps(Enum.Parse<KernelIsa>(isa));
        int heads = 2, headDim = 32, hidden = heads * headDim, ld = 3 * hidden;
        int[] lengths = [3 * window + 20];
        var qkv = KernelTestData.Uniform(lengths[0] * ld, 77 + window, 2f);
        var actual = Run(qkv, ld, lengths, false, heads, headDim, window, caps);
        double tol = Tolerance(qkv, lengths, window);
        AssertClose(Reference(qkv, ld, lengths, false, heads, headDim, window), actual, tol, hidden, $"{isa} window {window}");
        foreach (int other in new[] { window - 1, window + 1 }.Where(w => w >= 0))
        {
            var wrong = Reference(qkv, ld, lengths, false, heads, headDim, other);
            double largest = actual.Zip(wrong, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(largest > 100 * tol, $"{isa}: window {window} and {other} differ by only {largest:g3}");
        }
    }

    // A window that covers the whole sequence (w >= T - 1) is global attention: the same numbers as Global, bit for bit, with
    // windows near int.MaxValue too (no overflow in i + w or 2w + 1).
    [Theory]
    [InlineData(nameof(KernelIsa.Avx512), false)]
    [InlineData(nameof(KernelIsa.Avx2), true)]
    [InlineData(nameof(KernelIsa.Portable), false)]
    public void WideWindowEqualsGlobal(string isa, bool firstTokenOnly)
    {
        var caps = KernelTestData.Caps(Enum.Parse<KernelIsa>(isa));
        int heads = 2, headDim = 32, hidden = heads * headDim, ld = 3 * hidden;
        int[] lengths = [1, 40, 97, 100, 3];
        var qkv = KernelTestData.Uniform(lengths.Sum() * ld, 5, 2f);
        var global = Run(qkv, ld, lengths, firstTokenOnly, heads, headDim, Attention.Global, caps);
        foreach (int window in new[] { 99, 100, 1000, int.MaxValue - 1 })
            Assert.Equal(global, Run(qkv, ld, lengths, firstTokenOnly, heads, headDim, window, caps));
        // With only the first token querying, its band is keys [0, w]: w >= T - 1 is global there as well.
        if (firstTokenOnly) Assert.Equal(global, Run(qkv, ld, lengths, true, heads, headDim, 99, caps));
    }

    // A batch whose (sequence, head, chunk) slots would pass the kernel's part limit (2^24): a long sequence beside 20000
    // single tokens and 64 heads takes fewer, longer chunks, and still every row is right.
    [Fact]
    public void HugeBatchTakesLongerChunks()
    {
        int heads = 64, headDim = 1, hidden = heads * headDim, ld = 3 * hidden, window = 3;
        int[] lengths = [.. Enumerable.Repeat(1, 20000), 8192];
        var qkv = KernelTestData.Uniform(lengths.Sum() * ld, 11, 2f);
        var expected = Reference(qkv, ld, lengths, false, heads, headDim, window);
        AssertClose(expected, Run(qkv, ld, lengths, false, heads, headDim, window, KernelCapabilities.Default), Tolerance(qkv, lengths, window), hidden, "huge batch");
    }

    [Fact]
    public void RejectsNegativeWindow()
    {
        var qkv = new float[10 * 12];
        var output = new float[10 * 4];
        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.MultiHeadBatch(qkv, 12, [0, 10], 1, output, false, 2, 2, 0.5f, -1, KernelIsa.Avx2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.MultiHeadBatch(qkv, 12, [0, 10], 1, output, true, 2, 2, 0.5f, int.MinValue, KernelCapabilities.Default));
    }
}
