namespace CrossEncoder.Native.Kernels;

// STUB (kernels helper replaces the fast path; keep the public signatures).

/// <summary>Numerically stable softmax over one row: <c>y = exp(x - max x) / sum exp(x - max x)</c>.</summary>
public static partial class Softmax
{
    /// <summary>y = softmax(x); y may alias x. Entries equal to -inf get probability 0; an all -inf row is an error.</summary>
    public static void Apply(ReadOnlySpan<float> x, Span<float> y) => ApplyReference(x, y);
}
