namespace CrossEncoder.Native.Kernels;

internal static partial class Finite
{
    /// <summary>Readable twin of <see cref="IndexOfNonFinite"/>: the first i with !float.IsFinite(x[i]), or -1.</summary>
    public static int IndexOfNonFiniteReference(ReadOnlySpan<float> x)
    {
        for (int i = 0; i < x.Length; i++)
            if (!float.IsFinite(x[i])) return i;
        return -1;
    }
}
