namespace CrossEncoder.Native.Kernels;

// The products a backward pass needs, on the same packed GEMM as the forward (Gemm.cs). For a linear layer
// Y[M,N] = X[M,K] W[N,K]^T + b:
//   dX[M,K] = dY[M,N] W[N,K]          -> Multiply: B given as [K_reduction = N, columns = K], the weight as stored
//   dW[N,K] += dY[M,N]^T X[M,K]       -> MultiplyTransposedA: A transposed once into scratch, then Multiply
// The GEMM overwrites C; gradients accumulate, so the accumulating forms add a finished product into the destination.
internal static unsafe partial class Gemm
{
    /// <summary>C[M,N] = A[M,K] * B[K,N] (B row-major [K, N], not transposed), overwritten.</summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, in KernelCapabilities caps)
    {
        KernelGuard.Positive(m, nameof(m));
        KernelGuard.Positive(n, nameof(n));
        KernelGuard.Positive(k, nameof(k));
        KernelGuard.Length(a, (long)m * k, nameof(a));
        KernelGuard.Length(b, (long)k * n, nameof(b));
        KernelGuard.Length(c, (long)m * n, nameof(c));
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c) Strided(pa, k, pb, n, bIsKByN: true, pc, n, m, n, k, caps, serial: false);
    }

    /// <summary>C[M,N] (+)= A[K,M]^T * B[K,N]: the weight gradient dW = dY^T X of a linear layer (A = dY [tokens, out], B = X
    /// [tokens, in]). <paramref name="scratch"/> holds at least K*M + M*N floats; with <paramref name="accumulate"/> the product
    /// is added to C, otherwise C is overwritten.</summary>
    public static void MultiplyTransposedA(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, Span<float> scratch, bool accumulate, in KernelCapabilities caps)
    {
        KernelGuard.Positive(m, nameof(m));
        KernelGuard.Positive(n, nameof(n));
        KernelGuard.Positive(k, nameof(k));
        KernelGuard.Length(a, (long)k * m, nameof(a));
        KernelGuard.Length(b, (long)k * n, nameof(b));
        KernelGuard.Length(c, (long)m * n, nameof(c));
        KernelGuard.Length(scratch, (long)k * m + (accumulate ? (long)m * n : 0), nameof(scratch));
        if (m == 0 || n == 0) return;
        Span<float> at = scratch[..(k * m)];                                           // [M, K] = A^T
        Transpose(a, at, k, m);
        if (k == 0) { if (!accumulate) c[..(m * n)].Clear(); return; }
        Span<float> product = accumulate ? scratch.Slice(k * m, m * n) : c;
        fixed (float* pa = at, pb = b, pc = product) Strided(pa, k, pb, n, bIsKByN: true, pc, n, m, n, k, caps, serial: false);
        if (accumulate) System.Numerics.Tensors.TensorPrimitives.Add(c[..(m * n)], product, c[..(m * n)]);
    }

    /// <summary>dst[C,R] = src[R,C]^T, in blocks of 32 x 32 so both sides stay in cache.</summary>
    public static void Transpose(ReadOnlySpan<float> src, Span<float> dst, int rows, int columns)
    {
        KernelGuard.Length(src, (long)rows * columns, nameof(src));
        KernelGuard.Length(dst, (long)rows * columns, nameof(dst));
        const int Block = 32;
        for (int r0 = 0; r0 < rows; r0 += Block)
            for (int c0 = 0; c0 < columns; c0 += Block)
            {
                int r1 = Math.Min(rows, r0 + Block), c1 = Math.Min(columns, c0 + Block);
                for (int r = r0; r < r1; r++)
                    for (int c = c0; c < c1; c++) dst[c * rows + r] = src[r * columns + c];
            }
    }

    /// <summary>C[M,N] = A[M,K] * op(B) with strides (row length) lda, ldb, ldc: op(B) = B[K,N] when <paramref name="bIsKByN"/>,
    /// else B[N,K]^T. <paramref name="serial"/>: on the calling thread (a part of an already parallel loop).</summary>
    internal static void Strided(float* a, int lda, float* b, int ldb, bool bIsKByN, float* c, int ldc, int m, int n, int k, in KernelCapabilities caps, bool serial)
    {
        var job = new Job { A = a, Lda = lda, B = b, Ldb = ldb, BIsKByN = bIsKByN, C = c, Ldc = ldc, M = m, N = n, K = k, Caps = caps };
        if (serial) RunSerial(&job);
        else Run(&job);
    }
}
