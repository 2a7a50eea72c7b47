namespace CrossEncoder.Native.Kernels;

// The pre-packed weight path: B[N,K] packed once (PackedMatrix, layout in its file header) and reused by every call, which
// then only packs A. The packed buffer is exactly the one a threaded unpacked call builds per call, so the product runs the
// same tiles (Gemm.RunTile) in the same k-slice order, and C is bit-identical to the unpacked path — except for m <= 2, where
// the unpacked path takes dot products over the rows of B (which a PackedMatrix no longer has in row form) and this path runs
// the microkernels on a one- or two-row tile, equal up to float summation order.
//
// The layout belongs to one microkernel (PackedMatrix.Isa, from the capabilities passed to Pack); a product with it must be
// given capabilities with the same Isa (their Fma and MaxThreads apply as in any call), or it throws.

internal static unsafe partial class Gemm
{
    /// <summary>
    /// Packs <c>B[N,K]</c> (row-major, e.g. a Linear weight <c>[out, in]</c>) once into the panel layout of the microkernel of
    /// <paramref name="caps"/>.<see cref="KernelCapabilities.Isa"/>. Call once at load and pass the result, with the same
    /// capabilities, to <see cref="MultiplyTransposed(ReadOnlySpan{float}, PackedMatrix, ReadOnlySpan{float}, Span{float}, int, in KernelCapabilities)"/>.
    /// </summary>
    /// <param name="b">Row-major [N, K].</param>
    /// <param name="n">Rows of B (columns of C).</param>
    /// <param name="k">Columns of B (the reduction dimension).</param>
    /// <param name="caps">Whose microkernel the layout is for (only <see cref="KernelCapabilities.Isa"/> matters).</param>
    /// <returns>A copy of B in packed form; <paramref name="b"/> is not referenced afterwards.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> or <paramref name="k"/> is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="b"/> is shorter than N*K.</exception>
    public static PackedMatrix Pack(ReadOnlySpan<float> b, int n, int k, in KernelCapabilities caps)
    {
        KernelGuard.Positive(n, nameof(n));
        KernelGuard.Positive(k, nameof(k));
        KernelGuard.Length(b, (long)n * k, nameof(b));
        KernelIsa isa = caps.Isa;
        int nr = Nr(isa);
        var packed = new PackedMatrix(n, k, isa, nr);
        if (n == 0 || k == 0) return packed;
        long sliceStride = (long)packed.Panels * nr;
        fixed (float* pb = b, dst = packed.Data)
        {
            var job = new Job { B = pb, Ldb = k, BIsKByN = false, N = n, K = k, Caps = caps };
            int kc = Kc(isa);
            for (int pc = 0; pc < k; pc += kc)
                Pack(&job, 0, n, pc, Math.Min(kc, k - pc), nr, dst + sliceStride * pc, null);
        }
        return packed;
    }

    /// <summary><see cref="Pack(ReadOnlySpan{float}, int, int, in KernelCapabilities)"/> for <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static PackedMatrix Pack(ReadOnlySpan<float> b, int n, int k) => Pack(b, n, k, KernelCapabilities.Default);

    /// <summary>
    /// C[M,N] = A[M,K] * B[N,K]^T + bias[N] with B pre-packed by <see cref="Pack(ReadOnlySpan{float}, int, int, in KernelCapabilities)"/>:
    /// the same product, threading and results as
    /// <see cref="MultiplyTransposed(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, in KernelCapabilities)"/>
    /// (bit-identical for M &gt; 2), without packing B on every call. Allocates nothing.
    /// </summary>
    /// <param name="a">Row-major [M, K], K = <see cref="PackedMatrix.K"/>.</param>
    /// <param name="b">B [N, K], packed.</param>
    /// <param name="bias">[N], or empty (no bias).</param>
    /// <param name="c">Row-major [M, N], N = <see cref="PackedMatrix.N"/>, overwritten.</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="caps">This call's capabilities; their <see cref="KernelCapabilities.Isa"/> must be the one B was packed for.</param>
    /// <exception cref="ArgumentNullException"><paramref name="b"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="m"/> is negative.</exception>
    /// <exception cref="ArgumentException">A span is shorter than its shape needs, a non-empty bias is shorter than N, or B
    /// was packed for another path.</exception>
    public static void MultiplyTransposed(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> c, int m, in KernelCapabilities caps)
        => MultiplyTransposed(a, b, bias, c, m, GemmEpilogue.None, caps);

    /// <summary>The packed product for <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static void MultiplyTransposed(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> c, int m)
        => MultiplyTransposed(a, b, bias, c, m, GemmEpilogue.None, KernelCapabilities.Default);

    /// <summary>
    /// Only columns [<paramref name="firstColumn"/>, +<paramref name="columns"/>) of the product with a packed B:
    /// <c>C[i, j] = A[i,:] . B[j,:] + bias[j]</c> written at <c>c[i * ldc + j]</c> (j in the full column numbering, so C can
    /// be the full-width [M, N] buffer), the other columns untouched. <paramref name="firstColumn"/> must be a multiple of
    /// <see cref="PackedMatrix.Nr"/> (whole panels). Same tiles and results as the full product on those columns.
    /// </summary>
    public static void MultiplyTransposedColumns(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> c, int m, int ldc, int firstColumn, int columns,
        in KernelCapabilities caps)
        => MultiplyTransposedColumns(a, b, bias, c, m, ldc, firstColumn, columns, GemmEpilogue.None, null, null, null, 0f, caps);

    /// <summary>The column range for <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static void MultiplyTransposedColumns(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> c, int m, int ldc, int firstColumn, int columns)
        => MultiplyTransposedColumns(a, b, bias, c, m, ldc, firstColumn, columns, KernelCapabilities.Default);

    /// <summary>C[M,N] = epilogue(A[M,K] * B[N,K]^T + bias[N]) with B packed: the epilogue runs on each tile while it is in L1.</summary>
    public static void MultiplyTransposed(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> c, int m, GemmEpilogue epilogue,
        in KernelCapabilities caps)
    {
        ArgumentNullException.ThrowIfNull(b);
        KernelGuard.Positive(m, nameof(m));
        KernelGuard.Length(c, (long)m * b.N, nameof(c));
        MultiplyTransposedColumns(a, b, bias, c, m, b.N, 0, b.N, epilogue, null, null, null, 0f, caps);
    }

    /// <summary>The product with an epilogue for <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static void MultiplyTransposed(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> c, int m, GemmEpilogue epilogue)
        => MultiplyTransposed(a, b, bias, c, m, epilogue, KernelCapabilities.Default);

    /// <summary>
    /// residual[M,N] = LayerNorm(A[M,K] * B[N,K]^T + bias[N] + residual) with B packed, the product left in
    /// <paramref name="c"/> [M, N] (scratch); rows are normalised while cache-hot (see <see cref="GemmEpilogue.AddLayerNorm"/>).
    /// </summary>
    public static void MultiplyTransposedAddLayerNorm(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> c, int m,
        Span<float> residual, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps, in KernelCapabilities caps)
    {
        ArgumentNullException.ThrowIfNull(b);
        KernelGuard.Positive(m, nameof(m));
        KernelGuard.Length(c, (long)m * b.N, nameof(c));
        KernelGuard.Length(residual, (long)m * b.N, nameof(residual));
        KernelGuard.Length(gamma, b.N, nameof(gamma));
        KernelGuard.Length(beta, b.N, nameof(beta));
        fixed (float* pr = residual, pg = gamma, pbeta = beta)
            MultiplyTransposedColumns(a, b, bias, c, m, b.N, 0, b.N, GemmEpilogue.AddLayerNorm, pr, pg, pbeta, eps, caps);
    }

    /// <summary>The fused residual + LayerNorm product for <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static void MultiplyTransposedAddLayerNorm(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> c, int m,
        Span<float> residual, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps)
        => MultiplyTransposedAddLayerNorm(a, b, bias, c, m, residual, gamma, beta, eps, KernelCapabilities.Default);

    private static void MultiplyTransposedColumns(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> c, int m, int ldc, int firstColumn, int columns, GemmEpilogue epilogue,
        float* residual, float* gamma, float* beta, float eps, in KernelCapabilities caps)
    {
        ArgumentNullException.ThrowIfNull(b);
        if (b.Isa != caps.Isa)
            throw new ArgumentException($"The matrix was packed for the {b.Isa} microkernel; this call asks for {caps.Isa}.", nameof(b));
        if (b.IsGated)
            throw new ArgumentException("The matrix was packed in gated order (Gemm.PackGated); only MultiplyTransposedGated takes it.", nameof(b));
        if (epilogue == GemmEpilogue.Gated)
            throw new ArgumentException("The Gated epilogue needs a matrix packed in gated order: call MultiplyTransposedGated.", nameof(epilogue));
        KernelGuard.Positive(m, nameof(m));
        int n = b.N, k = b.K;
        if (firstColumn < 0 || columns < 0 || firstColumn + columns > n || firstColumn % b.Nr != 0)
            throw new ArgumentOutOfRangeException(nameof(firstColumn), firstColumn, $"Columns [{firstColumn}, +{columns}) must lie in [0, {n}) and start on a panel ({b.Nr} columns).");
        int end = firstColumn + columns;
        if (ldc < end) throw new ArgumentOutOfRangeException(nameof(ldc), ldc, $"Row stride must be at least {end}.");
        KernelGuard.Length(a, (long)m * k, nameof(a));
        if (m > 0 && columns > 0) KernelGuard.Length(c, (long)(m - 1) * ldc + end, nameof(c));
        if (!bias.IsEmpty) KernelGuard.Length(bias, n, nameof(bias));
        if (m == 0 || columns == 0) return;
        if (k == 0)
        {
            // No reduction: every row of C is the bias (or zero), as in the unpacked path.
            for (int i = 0; i < m; i++)
            {
                var row = c.Slice(i * ldc + firstColumn, columns);
                if (bias.IsEmpty) row.Clear(); else bias.Slice(firstColumn, columns).CopyTo(row);
                if (epilogue == GemmEpilogue.Gelu) Gelu.Apply(row, row, caps);
            }
            if (epilogue == GemmEpilogue.AddLayerNorm)
                fixed (float* pc = c) LayerNorm.AddAndNormalizeRows(pc, residual, gamma, beta, residual, m, n, eps, caps);
            return;
        }
        fixed (float* pa = a, pb = b.Data, pbias = bias, pc = c)
        {
            // The first k-slice's tiles start from the bias. Full tiles read NR bias floats inside [0, N) and edge tiles only
            // their valid columns, so the caller's [N] bias serves as is; without one, the matrix's zero tail does.
            var job = new Job
            {
                A = pa, Lda = k, Bias = bias.IsEmpty ? null : pbias, C = pc, Ldc = ldc, M = m, N = end, K = k, Caps = caps,
                Packed = pb, PackedBias = bias.IsEmpty ? pb + b.ZerosOffset : pbias, PanelStride = b.Panels, FirstPanel = firstColumn / b.Nr,
                Epilogue = epilogue, Residual = residual, Gamma = gamma, Beta = beta, Eps = eps,
            };
            Run(&job);
        }
    }
}
