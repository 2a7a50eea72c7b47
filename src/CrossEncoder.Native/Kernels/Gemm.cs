namespace CrossEncoder.Native.Kernels;

// STUB (kernels helper replaces the fast path; keep the public signatures).

/// <summary>General matrix multiply in the layout Linear layers use: <c>C[M,N] = A[M,K] * B[N,K]^T + bias[N]</c>.</summary>
public static partial class Gemm
{
    /// <summary>C[M,N] = A[M,K] * B[N,K]^T + bias[N]. <paramref name="bias"/> may be empty (no bias).</summary>
    /// <param name="a">Row-major [M, K].</param>
    /// <param name="b">Row-major [N, K] (a Linear weight, [out, in]).</param>
    /// <param name="bias">[N], or empty.</param>
    /// <param name="c">Row-major [M, N], overwritten.</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Rows of B, columns of C.</param>
    /// <param name="k">The shared (reduction) dimension.</param>
    public static void MultiplyTransposed(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> bias, Span<float> c, int m, int n, int k)
        => MultiplyTransposedReference(a, b, bias, c, m, n, k);
}
