namespace CrossEncoder.Native.Kernels;

// STUB (kernels helper replaces the fast path; keep the public signatures).

/// <summary>Layer normalisation over the last dimension: <c>y = (x - mean) / sqrt(var + eps) * gamma + beta</c>, per row.</summary>
public static partial class LayerNorm
{
    /// <summary>output[R,N] = LN(input[R,N]); output may alias input.</summary>
    public static void Normalize(ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> output, int rows, int n, float eps)
        => NormalizeReference(input, gamma, beta, output, rows, n, eps);

    /// <summary>output[R,N] = LN(x[R,N] + residual[R,N]); output may alias x or residual.</summary>
    public static void AddAndNormalize(ReadOnlySpan<float> x, ReadOnlySpan<float> residual, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> output, int rows, int n, float eps)
        => AddAndNormalizeReference(x, residual, gamma, beta, output, rows, n, eps);
}
