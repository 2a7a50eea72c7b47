using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Tests.Kernels;

/// <summary>Shared helpers for the kernel tests: seeded random fills, error measures, forced capabilities.</summary>
internal static class KernelTestData
{
    /// <summary>This machine's capabilities with the fp32 path forced to <paramref name="isa"/> (any path runs anywhere).</summary>
    public static KernelCapabilities Caps(KernelIsa isa) => KernelCapabilities.Default with { Isa = isa };

    /// <summary>The portable path as it runs on hardware without an FMA: a multiply then an add.</summary>
    public static readonly KernelCapabilities PortableWithoutFma = KernelCapabilities.Default with { Isa = KernelIsa.Portable, Fma = false };

    /// <summary>Uniform values in [-scale, scale), reproducible from the seed.</summary>
    public static float[] Uniform(int length, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return x;
    }

    public static float MaxAbs(ReadOnlySpan<float> x)
    {
        float m = 0;
        foreach (float v in x) m = Math.Max(m, Math.Abs(v));
        return m;
    }
}
