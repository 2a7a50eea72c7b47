namespace CrossEncoder.Native.Tests.Kernels;

/// <summary>Shared helpers for the kernel tests: seeded random fills and error measures.</summary>
internal static class KernelTestData
{
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
