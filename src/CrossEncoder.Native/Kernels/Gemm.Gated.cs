using System.Runtime.InteropServices;

namespace CrossEncoder.Native.Kernels;

// y[M, I] = act(A[M,K] * Ba[I,K]^T + ba[I]) * (A[M,K] * Bm[I,K]^T + bm[I]),   B = [Ba; Bm] = [2I, K], bias = [ba; bm] = [2I]
//
// The gated feed-forward input layer (GatedUnit.cs: act = GELU for GeGLU, SiLU for SwiGLU) with the unit fused into the
// GEMM: the product [M, 2I] is never written. Ba is the activated half, Bm the multiplier half.
//
// Packing (Gemm.PackGated, layout in PackedMatrix.cs): the panels come in pairs, panel 2q = activated rows [q*NR, +NR),
// panel 2q + 1 = the multiplier rows of the same output columns, zero rows past I. A pair of panels therefore computes a
// and m of output columns [q*NR, q*NR + NR) side by side. The layout does not depend on the activation: the call names it.
//
// Loop nest of one tile (rows [i0, i0 + MC) x a group of pairs; the same tiles and thread split as Gemm.RunTile, in pairs):
//
//   pack A[i0:i0+MC, 0:K] -> Ap, every k-slice (slice pc at MC*pc; once per row block, or shared when groups split rows)
//   for q in the group's pairs
//     for pc in K by KC                      (the same k-slices, in the same order, as the plain product)
//       for half in activated, multiplier
//         for ir in MC by MR                 microkernel: P[half][ir:ir+MR, 0:NR] (+)= A-rows x panel(2q + half, pc)
//     y[i0:, q*NR : +cols] = act(P[0]) * P[1]                       (cols = min(NR, I - q*NR); the zero columns are dropped)
//
// P is a per-thread buffer of two [MC, NR] blocks, a then m (24 KiB at NR = 32), that stays in L1/L2 across the k-slices
// in place of the full C; each block is contiguous, so the activation runs once over the whole of a.
// Every element of P is computed exactly as the plain packed product computes that column (same microkernel, same k-slices,
// the bias added on the first), and the epilogue is GatedUnit.Apply's arithmetic, so y is bit-identical to the unfused
// route (Gemm.MultiplyTransposed with the plain packed B, then GeGlu.Apply or SwiGlu.Apply). The bias is copied per pair
// into a 2*NR buffer in panel order (zeros past I), so the caller passes it in its original [2I] order.
//
// Traffic is that of the plain product minus C: each panel k-slice is streamed once per row block and stays in L1 while the
// row tiles pass, the packed A block (MC x K, 288 KiB at K = 768) is re-read from L2 for every pair.

internal static unsafe partial class Gemm
{
    /// <summary>
    /// Packs a gated layer's weight <c>B[2I, K]</c> (rows [0, I) the activated half, [I, 2I) the multiplier half, torch
    /// layout <c>[out, in]</c>) in gated order: each panel of activated rows followed by the panel of the matching multiplier
    /// rows (PackedMatrix.cs). Only <see cref="MultiplyTransposedGated"/> (and its GeGLU / SwiGLU forms) takes the result.
    /// </summary>
    /// <param name="b">Row-major [2I, K].</param>
    /// <param name="inner">I, the outputs of the gated unit (half the rows of B).</param>
    /// <param name="k">Columns of B (the reduction dimension).</param>
    /// <param name="caps">Whose microkernel the layout is for (only <see cref="KernelCapabilities.Isa"/> matters).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="inner"/> is not positive or <paramref name="k"/> is negative.</exception>
    /// <exception cref="ArgumentException"><paramref name="b"/> is shorter than 2I*K.</exception>
    public static PackedMatrix PackGated(ReadOnlySpan<float> b, int inner, int k, in KernelCapabilities caps)
    {
        if (inner <= 0) throw new ArgumentOutOfRangeException(nameof(inner), inner, "A gated layer needs at least one output.");
        KernelGuard.Positive(k, nameof(k));
        KernelGuard.Length(b, 2L * inner * k, nameof(b));
        KernelIsa isa = caps.Isa;
        int nr = Nr(isa), kc = Kc(isa);
        var packed = new PackedMatrix(2 * inner, k, isa, nr, inner);
        long sliceStride = (long)packed.Panels * nr;
        fixed (float* pb = b, dst = packed.Data)
            for (int pc = 0; pc < k; pc += kc)
            {
                int kb = Math.Min(kc, k - pc);
                for (int panel = 0; panel < packed.Panels; panel++)
                {
                    // Panel 2q + half: rows half*I + [q*NR, q*NR + cols) of B; PackPanelTransposed zero-fills columns cols..NR.
                    int q = panel / 2, half = panel % 2, cols = Math.Min(nr, inner - q * nr);
                    float* source = pb + ((long)half * inner + (long)q * nr) * k + pc;
                    PackPanelTransposed(source, k, cols, kb, nr, dst + sliceStride * pc + (long)panel * nr * kb);
                }
            }
        return packed;
    }

    /// <summary>
    /// y[M, I] = act(A Ba^T + ba) * (A Bm^T + bm) with B = [Ba; Bm] packed by <see cref="PackGated"/>: the gated feed-forward
    /// input layer with its gated unit applied in the GEMM epilogue (see the file header). Bit-identical to the plain packed
    /// product followed by <see cref="GatedUnit.Apply"/> with the same activation. Allocates nothing in steady state.
    /// </summary>
    /// <param name="a">Row-major [M, K].</param>
    /// <param name="b">B [2I, K] packed in gated order.</param>
    /// <param name="bias">[2I] in the original order (activated half, then multiplier half), or empty.</param>
    /// <param name="y">Row-major [M, I], overwritten.</param>
    /// <param name="m">Rows of A and y.</param>
    /// <param name="activation">act: GELU (GeGLU) or SiLU (SwiGLU).</param>
    /// <param name="caps">This call's capabilities; their <see cref="KernelCapabilities.Isa"/> must be the one B was packed for.</param>
    /// <exception cref="ArgumentException">B is not gated or was packed for another path, or a span is too short.</exception>
    public static void MultiplyTransposedGated(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> y, int m, GatedActivation activation,
        in KernelCapabilities caps)
    {
        ArgumentNullException.ThrowIfNull(b);
        if (!b.IsGated) throw new ArgumentException("The matrix is not packed in gated order: pack it with Gemm.PackGated.", nameof(b));
        if (b.Isa != caps.Isa)
            throw new ArgumentException($"The matrix was packed for the {b.Isa} microkernel; this call asks for {caps.Isa}.", nameof(b));
        KernelGuard.Positive(m, nameof(m));
        int inner = b.Inner, k = b.K;
        KernelGuard.Length(a, (long)m * k, nameof(a));
        KernelGuard.Length(y, (long)m * inner, nameof(y));
        if (!bias.IsEmpty) KernelGuard.Length(bias, 2 * inner, nameof(bias));
        if (m == 0) return;
        if (k == 0)
        {
            // No reduction: every row of the product is the bias (or zero).
            for (int i = 0; i < m; i++)
                for (int j = 0; j < inner; j++)
                {
                    float activated = bias.IsEmpty ? 0f : bias[j], multiplier = bias.IsEmpty ? 0f : bias[inner + j];
                    y[i * inner + j] = GatedUnit.Scalar(activation, activated, multiplier, caps);
                }
            return;
        }
        fixed (float* pa = a, pb = b.Data, pbias = bias, py = y)
        {
            var job = new Job
            {
                A = pa, Lda = k, Bias = bias.IsEmpty ? null : pbias, C = py, Ldc = inner, M = m, N = b.Panels * b.Nr, K = k, Caps = caps,
                Packed = pb, PanelStride = b.Panels, Epilogue = GemmEpilogue.Gated, Inner = inner, Activation = activation,
            };
            Run(&job);
        }
    }

    /// <summary>y[M, I] = GELU(A Ba^T + ba) * (A Bm^T + bm): <see cref="MultiplyTransposedGated"/> with GeGLU's activation.</summary>
    public static void MultiplyTransposedGeGlu(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> y, int m, in KernelCapabilities caps)
        => MultiplyTransposedGated(a, b, bias, y, m, GatedActivation.Gelu, caps);

    /// <summary>y[M, I] = SiLU(A Ba^T + ba) * (A Bm^T + bm): <see cref="MultiplyTransposedGated"/> with SwiGLU's activation.</summary>
    public static void MultiplyTransposedSwiGlu(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> y, int m, in KernelCapabilities caps)
        => MultiplyTransposedGated(a, b, bias, y, m, GatedActivation.Silu, caps);

    /// <summary>The fused GeGLU product for <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static void MultiplyTransposedGeGlu(ReadOnlySpan<float> a, PackedMatrix b, ReadOnlySpan<float> bias, Span<float> y, int m)
        => MultiplyTransposedGeGlu(a, b, bias, y, m, KernelCapabilities.Default);

    /// <summary>One tile of a gated job: rows [rb*MC, +MC) x one group of panel pairs (the loop nest of the file header).</summary>
    private static void RunTileGated(void* state, int part)
    {
        var job = (Job*)state;
        int groups = job->ColumnGroups, pairs = job->Panels / 2;
        int rb = part / groups, cg = part % groups;
        int q0 = (int)((long)pairs * cg / groups), q1 = (int)((long)pairs * (cg + 1) / groups);
        int i0 = rb * Mc, mb = Math.Min(job->M, i0 + Mc) - i0;
        KernelIsa isa = job->Caps.Isa;
        bool fma = job->Caps.Fma;
        int mr = Mr(isa), nr = Nr(isa), k = job->K, kc = Kc(isa), inner = job->Inner;
        float* edge = stackalloc float[8 * 32];
        float* pairBias = stackalloc float[2 * 32];          // [activated NR | multiplier NR] of the current pair
        float* product = GatedTileBuffer();                  // P: a [MC, NR], then m [MC, NR] at product + MC*NR
        // A [MC, K] packed for every k-slice (slice pc at MC*pc): shared when several tiles hold these rows, else our own.
        float* packA = job->PackedA != null ? job->PackedA + (long)rb * Mc * k : RowBlockABuffer((long)Mc * k);
        if (job->PackedA == null)
            for (int pc = 0; pc < k; pc += kc)
                PackA(job->A + (long)i0 * job->Lda + pc, job->Lda, mb, Math.Min(kc, k - pc), mr, packA + (long)Mc * pc);
        for (int q = q0; q < q1; q++)
        {
            int col0 = q * nr, cols = Math.Min(nr, inner - col0);
            GatedUnit.PairBias(job->Bias, inner, col0, cols, nr, pairBias);
            for (int pc = 0; pc < k; pc += kc)
            {
                int kb = Math.Min(kc, k - pc);
                float* slice = job->Packed + (long)job->PanelStride * nr * pc;
                for (int half = 0; half < 2; half++)
                {
                    float* panel = slice + (long)(2 * q + half) * nr * kb;
                    float* bias = pc == 0 ? pairBias + half * nr : null;   // the first slice starts from the bias, later ones add
                    for (int ir = 0; ir < mb; ir += mr)
                    {
                        float* at = packA + (long)Mc * pc + (long)ir * kb;
                        float* pt = product + (long)half * Mc * nr + ir * nr;
                        int rows = Math.Min(mr, mb - ir);
                        switch (isa)
                        {
                            case KernelIsa.Avx512: Kernel8x32(at, rows, panel, kb, pt, nr, nr, bias, edge); break;
                            case KernelIsa.Avx2: Kernel6x16(at, rows, panel, kb, pt, nr, nr, bias, edge); break;
                            default: KernelPortable(at, rows, panel, kb, pt, nr, nr, bias, edge, fma); break;
                        }
                    }
                }
            }
            // a and m of these columns are final and in L1: y = act(a) * m, only the valid columns.
            GatedUnit.Tile(job->Activation, product, product + (long)Mc * nr, mb, nr, cols, job->C + (long)i0 * job->Ldc + col0, job->Ldc, job->Caps);
        }
    }

    [ThreadStatic] private static float* t_gatedTile;

    /// <summary>This thread's P buffer, 2 x [MC, 32] floats (the widest NR), 64-byte aligned, allocated once per thread.</summary>
    private static float* GatedTileBuffer()
    {
        if (t_gatedTile == null) t_gatedTile = (float*)NativeMemory.AlignedAlloc((nuint)(Mc * 2 * 32) * sizeof(float), 64);
        return t_gatedTile;
    }

    [ThreadStatic] private static float* t_rowBlockA;
    [ThreadStatic] private static long t_rowBlockALength;

    /// <summary>This thread's buffer for one row block of A packed over every k-slice ([MC, K]), grown on demand, kept.</summary>
    private static float* RowBlockABuffer(long floats) => ThreadBuffer(ref t_rowBlockA, ref t_rowBlockALength, floats);
}
