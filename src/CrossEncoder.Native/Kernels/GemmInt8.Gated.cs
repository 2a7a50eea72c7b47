namespace CrossEncoder.Native.Kernels;

// y[M, I] = act(a) * m,   [a | m] = ((qa[M,Kp] - za[M]) . qw[2I,Kp]^T) * (sa[M] * sw[2I]) + bias[2I]
//
// The int8 gated feed-forward input layer with its gated unit (GatedUnit.cs: GELU for GeGLU, SiLU for SwiGLU) fused into
// the epilogue. The weight is in gated order (QuantizedMatrix.FromQuantizedGated): panel 2q holds activated rows
// [q*16, +16), panel 2q + 1 the multiplier rows of the same columns. Each microkernel call already reduces over the whole
// of Kp (GemmInt8.cs), so per pair, for each MR-row tile of the tile's 48 rows:
//
//   activated panel  -> int32 tile -> dequantize + bias -> A[rows, 16]      (A, M: [48, 16] floats each, on the stack)
//   multiplier panel -> int32 tile -> dequantize + bias -> M[rows, 16]
//
// then y[48 rows, q*16 : +cols] = act(A) * M (cols = min(16, I - q*16)), the activation in one call over the contiguous A
// (a call per 16-float row cost ~4 % of the layer).
//
// The dequantization is the plain product's epilogue (same integer and float operations), the activation and the multiply
// are GatedUnit.Apply's, so y is bit-identical to the unfused route (the plain int8 product [M, 2I], then GeGlu.Apply or
// SwiGlu.Apply). Padding columns (past I) have zero weights, scale and bias: they compute 0 and are dropped. Tiles: 48 rows
// x 2 pairs, claimed dynamically as in the plain product.

internal static unsafe partial class GemmInt8
{
    private const int PairsPerTile = PanelsPerTile / 2;

    /// <summary>
    /// y[M, I] = act(a) * m with [a | m] the int8 product of a gated weight (see the file header): the gated unit of a gated
    /// feed-forward block applied to each tile in L1; the [M, 2I] product is never written.
    /// </summary>
    /// <param name="qa">[M, Kp] activations (Quantize.Rows), Kp = w.KPadded.</param>
    /// <param name="sa">[M] activation scales.</param>
    /// <param name="za">[M] activation zero points.</param>
    /// <param name="w">The weight [2I, K] in gated order (<see cref="QuantizedMatrix.FromQuantizedGated"/>).</param>
    /// <param name="bias">[2I] in the original order (activated half, then multiplier half), or empty.</param>
    /// <param name="y">[M, I], overwritten.</param>
    /// <param name="m">Rows.</param>
    /// <param name="activation">act: GELU (GeGLU) or SiLU (SwiGLU).</param>
    /// <param name="caps">This call's int8 path (it must run on this hardware), epilogue form, activation path and thread limit.</param>
    /// <exception cref="PlatformNotSupportedException">The hardware lacks <paramref name="caps"/>.Int8Isa.</exception>
    /// <exception cref="ArgumentException"><paramref name="w"/> is not in gated order, or a span is too short.</exception>
    public static void MultiplyGated(ReadOnlySpan<ushort> qa, ReadOnlySpan<float> sa, ReadOnlySpan<int> za, QuantizedMatrix w, ReadOnlySpan<float> bias,
        Span<float> y, int m, GatedActivation activation, in KernelCapabilities caps)
    {
        caps.RequireInt8Support();
        ArgumentNullException.ThrowIfNull(w);
        if (!w.IsGated) throw new ArgumentException("The matrix is not in gated order: build it with QuantizedMatrix.FromQuantizedGated.", nameof(w));
        KernelGuard.Positive(m, nameof(m));
        int inner = w.Inner;
        KernelGuard.Length(qa, (long)m * w.KPadded, nameof(qa));
        KernelGuard.Length(sa, m, nameof(sa));
        KernelGuard.Length(za, m, nameof(za));
        KernelGuard.Length(y, (long)m * inner, nameof(y));
        if (!bias.IsEmpty) KernelGuard.Length(bias, 2 * inner, nameof(bias));
        if (m == 0) return;
        fixed (ushort* pa = qa)
        fixed (float* psa = sa, pbias = bias, py = y, psw = w.Scale)
        fixed (int* pza = za, psum = w.ColumnSum)
        fixed (sbyte* pw = w.Packed)
        {
            var job = new Job
            {
                A = pa, Sa = psa, Za = pza, W = pw, Sw = psw, ColumnSum = psum, Bias = bias.IsEmpty ? null : pbias, C = py,
                M = m, N = w.Panels * QuantizedMatrix.Nr, Kp = w.KPadded, Ldc = inner, Panels = w.Panels, Caps = caps,
                RowTiles = (m + Mc - 1) / Mc, Inner = inner, Activation = activation,
            };
            job.PanelGroups = (w.Panels / 2 + PairsPerTile - 1) / PairsPerTile;
            int parts = job.RowTiles * job.PanelGroups;
            int threads = caps.ThreadsFor(2L * m * job.N * w.KPadded, parts);
            if (threads <= 1) for (int i = 0; i < parts; i++) RunTileGated(&job, i);
            else KernelParallelism.For(parts, &job, &RunTileGated, threads);
        }
    }

    /// <summary>y[M, I] = GELU(a) * m: <see cref="MultiplyGated"/> with GeGLU's activation.</summary>
    public static void MultiplyGeGlu(ReadOnlySpan<ushort> qa, ReadOnlySpan<float> sa, ReadOnlySpan<int> za, QuantizedMatrix w, ReadOnlySpan<float> bias,
        Span<float> y, int m, in KernelCapabilities caps)
        => MultiplyGated(qa, sa, za, w, bias, y, m, GatedActivation.Gelu, caps);

    /// <summary>y[M, I] = SiLU(a) * m: <see cref="MultiplyGated"/> with SwiGLU's activation.</summary>
    public static void MultiplySwiGlu(ReadOnlySpan<ushort> qa, ReadOnlySpan<float> sa, ReadOnlySpan<int> za, QuantizedMatrix w, ReadOnlySpan<float> bias,
        Span<float> y, int m, in KernelCapabilities caps)
        => MultiplyGated(qa, sa, za, w, bias, y, m, GatedActivation.Silu, caps);

    /// <summary>The fused GeGLU product on the <paramref name="isa"/> path, everything else as <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static void MultiplyGeGlu(ReadOnlySpan<ushort> qa, ReadOnlySpan<float> sa, ReadOnlySpan<int> za, QuantizedMatrix w, ReadOnlySpan<float> bias,
        Span<float> y, int m, Int8Isa isa)
        => MultiplyGeGlu(qa, sa, za, w, bias, y, m, KernelCapabilities.Default with { Int8Isa = isa });

    /// <summary>One tile: rows [48 t, +48) x up to <see cref="PairsPerTile"/> pairs of panels (the loop of the file header).</summary>
    private static void RunTileGated(void* state, int index)
    {
        const int nr = QuantizedMatrix.Nr;
        var job = (Job*)state;
        int rowTile = index / job->PanelGroups, group = index % job->PanelGroups;
        int r0 = rowTile * Mc, r1 = Math.Min(job->M, r0 + Mc);
        int q0 = group * PairsPerTile, q1 = Math.Min(job->Panels / 2, q0 + PairsPerTile);
        Int8Isa isa = job->Caps.Int8Isa;
        bool avx2Epilogue = job->Caps.Int8UsesAvx2;
        int mr = isa switch { Int8Isa.Avx512BW => 8, Int8Isa.Portable => 4, _ => 2 };
        int* tile = stackalloc int[8 * TileStride];     // [MR, 2 lanes x 16 columns] int32 sums of one panel
        float* product = stackalloc float[2 * Mc * nr]; // A [48, 16] then M [48, 16]: a and m of the pair's 16 columns
        float* pairBias = stackalloc float[2 * nr];     // [activated 16 | multiplier 16], zero past I
        int kp = job->Kp, inner = job->Inner;
        for (int q = q0; q < q1; q++)
        {
            int col0 = q * nr, cols = Math.Min(nr, inner - col0);
            GatedUnit.PairBias(job->Bias, inner, col0, cols, nr, pairBias);
            float* bias = job->Bias == null ? null : pairBias;
            for (int r = r0; r < r1; r += mr)
            {
                int rows = Math.Min(mr, r1 - r);
                float* pt = product + (long)(r - r0) * nr;
                ushort* a = job->A + (long)r * kp;
                for (int half = 0; half < 2; half++)
                {
                    int panelIndex = 2 * q + half;
                    sbyte* panel = job->W + (long)panelIndex * kp * nr;
                    switch (isa)
                    {
                        case Int8Isa.AvxVnni: Kernel2x16<VnniPairMultiplyAdd>(a, kp, rows, panel, tile); break;
                        case Int8Isa.Avx512BW: Kernel512x8x16(a, kp, rows, panel, tile); break;
                        case Int8Isa.Avx2: Kernel2x16<Avx2PairMultiplyAdd>(a, kp, rows, panel, tile); break;
                        default: KernelPortable4x16(a, kp, rows, panel, tile); break;
                    }
                    // Scales and column sums are in packed order: packed column panelIndex * 16 + c.
                    float* halfBias = bias == null ? null : bias + half * nr;
                    if (avx2Epilogue) EpilogueAvx2(job, tile, r, rows, panelIndex * nr, pt + half * Mc * nr, nr, halfBias);
                    else Epilogue(job, tile, r, rows, panelIndex * nr, nr, pt + half * Mc * nr, nr, halfBias);
                }
            }
            GatedUnit.Tile(job->Activation, product, product + Mc * nr, r1 - r0, nr, cols, job->C + (long)r0 * job->Ldc + col0, job->Ldc, job->Caps);
        }
    }
}
