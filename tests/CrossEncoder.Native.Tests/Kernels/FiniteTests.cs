using CrossEncoder.Native.Kernels;
using Xunit;

namespace CrossEncoder.Native.Tests.Kernels;

/// <summary>Finite.IndexOfNonFinite (the load-time weight check) against its twin: every path, every length up to a few
/// vectors (the tails), a bad value at every position, every kind of non-finite bit pattern.</summary>
public sealed class FiniteTests
{
    private static readonly KernelCapabilities[] Paths = [.. KernelIsas.All.Select(KernelTestData.Caps)];

    // NaN (quiet, signalling, negative, with payload), +-inf; and finite extremes that must not be taken for them.
    private static readonly float[] NonFinite =
    [
        float.NaN, float.PositiveInfinity, float.NegativeInfinity, BitConverter.Int32BitsToSingle(0x7F80_0001),
        BitConverter.Int32BitsToSingle(unchecked((int)0xFFC0_1234)),
    ];

    [Fact]
    public void FindsTheFirstNonFiniteValueAtEveryPositionOnEveryPath()
    {
        foreach (var caps in Paths)
            for (int n = 0; n <= 200; n += n < 70 ? 1 : 13)
            {
                float[] x = KernelTestData.Uniform(n, seed: n, scale: 3e38f);
                Assert.Equal(-1, Finite.IndexOfNonFiniteReference(x));
                Assert.Equal(-1, Finite.IndexOfNonFinite(x, caps));
                for (int at = 0; at < n; at++)
                {
                    x[at] = NonFinite[at % NonFinite.Length];
                    if (at + 3 < n) x[at + 3] = float.NaN;   // a later one must not win
                    Assert.Equal(at, Finite.IndexOfNonFiniteReference(x));
                    Assert.Equal(at, Finite.IndexOfNonFinite(x, caps));
                    x = KernelTestData.Uniform(n, seed: n, scale: 3e38f);
                }
            }
    }

    [Fact]
    public void FiniteExtremesAreFinite()
    {
        float[] x = [float.MaxValue, float.MinValue, float.Epsilon, -float.Epsilon, 0f, -0f, 1e-40f, BitConverter.Int32BitsToSingle(0x7F7F_FFFF)];
        var many = Enumerable.Repeat(x, 40).SelectMany(v => v).ToArray();
        foreach (var caps in Paths) Assert.Equal(-1, Finite.IndexOfNonFinite(many, caps));
        Assert.Equal(-1, Finite.IndexOfNonFiniteReference(many));
    }
}
