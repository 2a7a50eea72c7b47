namespace CrossEncoder.Native.Kernels;

/// <summary>Entry checks shared by all kernels: lengths are validated once, inner loops then run unchecked.</summary>
internal static class KernelGuard
{
    public static void Length<T>(ReadOnlySpan<T> span, long required, string name)
    {
        if (span.Length < required)
            throw new ArgumentException($"Span '{name}' has {span.Length} elements; the shape needs {required}.", name);
    }

    public static void Length<T>(Span<T> span, long required, string name) => Length((ReadOnlySpan<T>)span, required, name);

    public static void Positive(int value, string name)
    {
        if (value < 0) throw new ArgumentOutOfRangeException(name, value, "Dimensions must be non-negative.");
    }
}
