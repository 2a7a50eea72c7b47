using CrossEncoder.Native.Kernels;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

/// <summary>
/// Causal grouped-query attention (<c>Attention.CausalBatch</c>, Attention.Causal.cs) against its double twin on every fp32
/// path, with and without a cached prefix; and the property the decoder's prefix cache rests on: a sequence run after a
/// cached prefix gives bit for bit what the whole sequence gives from scratch.
/// </summary>
public class AttentionCausalTests
{
    private const double AttentionTolerance = 2e-5;

    private static readonly KernelCapabilities[] AllCaps =
        [.. KernelIsas.All.Select(KernelTestData.Caps), KernelTestData.PortableWithoutFma];

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 2, 1, 16 },    // one key/value head for two query heads (multi-query)
        { 4, 2, 32 },    // groups of two (Qwen3-0.6B: 16 / 8)
        { 7, 1, 64 },    // an odd group (mxbai-rerank-base-v2: 14 / 2)
        { 4, 4, 24 },    // plain multi-head, a head width that is not a multiple of 16
        { 2, 2, 128 },   // Qwen3's head width
    };

    private static int[] Starts(int[] lengths)
    {
        var starts = new int[lengths.Length + 1];
        for (int s = 0; s < lengths.Length; s++) starts[s + 1] = starts[s] + lengths[s];
        return starts;
    }

    private static int Width(int heads, int kvHeads, int dh) => (heads + 2 * kvHeads) * dh;

    /// <summary>The prefix's own rows [P, ld] become a cache.</summary>
    private static KeyValuePrefix Cache(float[] prefixRows, int ld, int length, int heads, int kvHeads, int dh, int capacity)
    {
        var cache = new KeyValuePrefix(kvHeads, dh, capacity);
        cache.Store(prefixRows.AsSpan(heads * dh), prefixRows.AsSpan((heads + kvHeads) * dh), ld, length);
        return cache;
    }

    private static float[] Run(float[] qkv, int ld, int[] lengths, KeyValuePrefix? prefix, bool last, int heads, int kvHeads, int dh, in KernelCapabilities caps)
    {
        var starts = Starts(lengths);
        var output = Enumerable.Repeat(float.NaN, (last ? lengths.Length : starts[^1]) * heads * dh).ToArray();
        Attention.CausalBatch(qkv, ld, starts, lengths.Length, prefix, output, last, heads, kvHeads, dh, 1f / MathF.Sqrt(dh), caps);
        return output;
    }

    private static float[] Reference(float[] qkv, int ld, int[] lengths, KeyValuePrefix? prefix, bool last, int heads, int kvHeads, int dh)
    {
        var starts = Starts(lengths);
        var output = new float[(last ? lengths.Length : starts[^1]) * heads * dh];
        Attention.CausalBatchReference(qkv, ld, starts, lengths.Length, prefix, output, last, heads, kvHeads, dh, 1f / MathF.Sqrt(dh));
        return output;
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"{what}: element {i}: expected {expected[i]}, got {actual[i]} (tolerance {tolerance:g3})");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheReferenceOnEveryPathWithAndWithoutAPrefix(int heads, int kvHeads, int dh)
    {
        int ld = Width(heads, kvHeads, dh) + 3;                 // a stride wider than the row, as in a fused buffer with padding
        int[] lengths = [1, 2, 17, 33, 70];                     // one token, chunk edges (32), a part spanning three chunks
        var qkv = KernelTestData.Uniform(lengths.Sum() * ld, seed: heads * 31 + dh);
        foreach (int prefixLength in new[] { 0, 1, 23, 64 })
        {
            var prefixRows = KernelTestData.Uniform(Math.Max(1, prefixLength) * ld, seed: prefixLength + 5);
            var prefix = prefixLength == 0 ? null : Cache(prefixRows, ld, prefixLength, heads, kvHeads, dh, capacity: prefixLength + 9);
            foreach (bool last in new[] { false, true })
            {
                var expected = Reference(qkv, ld, lengths, prefix, last, heads, kvHeads, dh);
                double tolerance = AttentionTolerance * Math.Max(1.0, (prefixLength + lengths.Max()) / 200.0);
                foreach (var caps in AllCaps)
                    AssertClose(expected, Run(qkv, ld, lengths, prefix, last, heads, kvHeads, dh, caps), tolerance,
                        $"{caps.Isa} fma={caps.UsesFma} P={prefixLength} last={last}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ASequenceAfterACachedPrefixEqualsTheWholeSequenceBitForBit(int heads, int kvHeads, int dh)
    {
        int ld = Width(heads, kvHeads, dh);
        int[] suffixes = [1, 9, 40];
        foreach (int p in new[] { 1, 15, 16, 50 })
        {
            // The whole sequences: prefix rows then each suffix's rows, computed from scratch in one call.
            var prefixRows = KernelTestData.Uniform(p * ld, seed: 100 + p);
            var suffixRows = KernelTestData.Uniform(suffixes.Sum() * ld, seed: 200 + p);
            var whole = new float[suffixes.Sum(l => p + l) * ld];
            int row = 0, suffixRow = 0;
            foreach (int l in suffixes)
            {
                prefixRows.CopyTo(whole, row * ld);
                Array.Copy(suffixRows, suffixRow * ld, whole, (row + p) * ld, l * ld);
                row += p + l;
                suffixRow += l;
            }
            var cache = Cache(prefixRows, ld, p, heads, kvHeads, dh, capacity: 64);
            foreach (var caps in AllCaps)
            {
                var full = Run(whole, ld, [.. suffixes.Select(l => p + l)], null, false, heads, kvHeads, dh, caps);
                var cached = Run(suffixRows, ld, suffixes, cache, false, heads, kvHeads, dh, caps);
                int h = heads * dh, wholeStart = 0, suffixStart = 0;
                foreach (int l in suffixes)
                {
                    for (int t = 0; t < l; t++)
                        for (int c = 0; c < h; c++)
                        {
                            float a = full[(wholeStart + p + t) * h + c], b = cached[(suffixStart + t) * h + c];
                            Assert.True(BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(b),
                                $"{caps.Isa} fma={caps.UsesFma} P={p}: token {t} column {c}: whole {a:R}, cached {b:R}");
                        }
                    wholeStart += p + l;
                    suffixStart += l;
                }
                var lastCached = Run(suffixRows, ld, suffixes, cache, true, heads, kvHeads, dh, caps);
                suffixStart = 0;
                for (int s = 0; s < suffixes.Length; s++)
                {
                    suffixStart += suffixes[s];
                    Assert.Equal(cached.AsSpan((suffixStart - 1) * h, h).ToArray(), lastCached.AsSpan(s * h, h).ToArray());
                }
            }
        }
    }

    [Fact]
    public void TheMaskIsCausalAndTheGroupsReadTheirOwnKeyValueHead()
    {
        // Changing a later token's key or value must not move an earlier token's output; changing key/value head 1 must not
        // move the outputs of the query heads of group 0.
        int heads = 4, kvHeads = 2, dh = 16, ld = Width(heads, kvHeads, dh);
        int[] lengths = [12];
        var qkv = KernelTestData.Uniform(12 * ld, seed: 9);
        var before = Run(qkv, ld, lengths, null, false, heads, kvHeads, dh, KernelCapabilities.Default);
        var later = (float[])qkv.Clone();
        for (int c = heads * dh; c < ld; c++) later[11 * ld + c] += 1f;   // token 11's K and V
        var after = Run(later, ld, lengths, null, false, heads, kvHeads, dh, KernelCapabilities.Default);
        Assert.Equal(before.AsSpan(0, 11 * heads * dh).ToArray(), after.AsSpan(0, 11 * heads * dh).ToArray());
        Assert.NotEqual(before.AsSpan(11 * heads * dh).ToArray(), after.AsSpan(11 * heads * dh).ToArray());

        var otherGroup = (float[])qkv.Clone();
        for (int t = 0; t < 12; t++)
            for (int d = 0; d < dh; d++)
            {
                otherGroup[t * ld + (heads + 1) * dh + d] *= 2f;              // K of kv head 1
                otherGroup[t * ld + (heads + kvHeads + 1) * dh + d] += 0.5f;  // V of kv head 1
            }
        var moved = Run(otherGroup, ld, lengths, null, false, heads, kvHeads, dh, KernelCapabilities.Default);
        for (int t = 0; t < 12; t++)
        {
            Assert.Equal(before.AsSpan(t * heads * dh, 2 * dh).ToArray(), moved.AsSpan(t * heads * dh, 2 * dh).ToArray());       // heads 0, 1
            if (t > 0) Assert.NotEqual(before.AsSpan(t * heads * dh + 2 * dh, 2 * dh).ToArray(), moved.AsSpan(t * heads * dh + 2 * dh, 2 * dh).ToArray());
        }
    }

    [Fact]
    public void BadShapesAreRefusedWithTheirReason()
    {
        var qkv = new float[64];
        int[] starts = [0, 2];
        var output = new float[64];
        var caps = KernelCapabilities.Default;
        Assert.Contains("share", Assert.Throws<ArgumentException>(() => Attention.CausalBatch(qkv, 16, starts, 1, null, output, false, 3, 2, 2, 1f, caps)).Message);
        var cache = new KeyValuePrefix(1, 4, 8);
        Assert.Contains("prefix cache", Assert.Throws<ArgumentException>(() => Attention.CausalBatch(qkv, 16, starts, 1, cache, output, false, 2, 2, 2, 1f, caps)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Store(new float[100], new float[100], 4, 9));
        Assert.Contains("empty", Assert.Throws<ArgumentException>(() => Attention.CausalBatch(qkv, 16, [0, 0], 1, null, output, false, 2, 1, 4, 1f, caps)).Message);
    }

    [Fact]
    public void RotaryHeadsWithAnOffsetMatchTheirTwinAndTheWholeSequence()
    {
        // Q of 3 heads at column 0 and K of 1 head at column 48 rotated by two calls; a sequence at offset P rotates as the
        // same tokens placed after P others.
        var table = new RotaryTable(16, 1_000_000, 64);
        int ld = 5 * 16, p = 7;
        var x = KernelTestData.Uniform(10 * ld, seed: 3);
        var fast = (float[])x.Clone();
        var reference = (float[])x.Clone();
        int[] starts = [0, 4, 10];
        Rotary.ApplyHeads(fast, ld, 0, 3, starts, 2, p, table, KernelCapabilities.Default);
        Rotary.ApplyHeads(fast, ld, 48, 1, starts, 2, p, table, KernelCapabilities.Default);
        Rotary.ApplyHeadsReference(reference, ld, 0, 3, starts, 2, p, table);
        Rotary.ApplyHeadsReference(reference, ld, 48, 1, starts, 2, p, table);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(fast[i] - reference[i]) <= 2e-6 * (1 + Math.Abs(reference[i])), $"element {i}");
        Assert.Equal(x.AsSpan(64, 16).ToArray(), fast.AsSpan(64, 16).ToArray());   // columns past the rotated heads untouched

        var whole = new float[(p + 4) * ld];
        x.AsSpan(0, 4 * ld).CopyTo(whole.AsSpan(p * ld));
        Rotary.ApplyHeads(whole, ld, 0, 3, [0, p + 4], 1, 0, table, KernelCapabilities.Default);
        Assert.Equal(whole.AsSpan(p * ld, 4 * ld).ToArray().Select((v, i) => (i % ld) < 48 ? v : 0f), fast.AsSpan(0, 4 * ld).ToArray().Select((v, i) => (i % ld) < 48 ? v : 0f));
        Assert.Contains("position", Assert.Throws<ArgumentException>(() => Rotary.ApplyHeads(fast, ld, 0, 3, starts, 2, 60, table, KernelCapabilities.Default)).Message);
    }
}
