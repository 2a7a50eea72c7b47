using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CrossEncoder.Native.Kernels;

// C[M,N] = A[M,K] * B[N,K]^T + bias[N]
//
// Names: m, n, k are the GEMM sizes; lda, ldb, ldc are row strides (elements); MR x NR is the register tile of one
// microkernel call; KC, MC, NC are the cache blocks over k, m and n.
//
// Blocking (the BLIS/GotoBLAS loop nest):
//
//   for jc in n by NC                       one block of NC columns of C
//     for pc in k by KC                     one slice of the reduction
//       pack B[jc:jc+NC, pc:pc+KC] -> Bp    (stays in L2/L3)
//       for ic in m by MC                   pack A[ic:ic+MC, pc:pc+KC] -> Ap (stays in L2 while every panel of Bp passes)
//         for jr in NC by NR                one packed panel, KC x NR floats, stays in L1
//           for ir in MC by MR              microkernel: C[ir:ir+MR, jr:jr+NR] (+)= A-rows x panel
//
// Packing layout. Bp is a sequence of panels; panel j holds columns [j*NR, (j+1)*NR) of the block, k-major:
//
//   Bp[j][p][c] = B[jc + j*NR + c, pc + p]      (zero where the column is past n)
//
// so at each reduction step p the microkernel loads NR contiguous floats (NR/W vector loads). Ap is a sequence of MR-row
// tiles, each k-major as well:
//
//   Ap[t][p][r] = A[ic + t*MR + r, pc + p]      (rows past the block repeat its last row; their results are discarded)
//
// so the microkernel broadcasts MR consecutive floats per step and reads exactly two sequential streams (Ap tile, B panel).
// Reading A in place instead (MR rows lda apart, re-read from L2 for every panel) ran at ~65% of the FMA peak on Zen 3;
// packing A costs one pass over A per k-slice, amortised over every panel. The first k-slice starts from the bias
// (packed after the panels, zero-padded), later slices add into C. Edge tiles (rows < MR or columns < NR) compute the full
// tile with duplicated A rows / zero B columns and copy out only the valid part.
//
// Register tiles (accumulators held in registers for the whole k-slice):
//   Avx512   8 x 32: 16 zmm accumulators + 2 B vectors + 1 broadcast (of 32 registers)
//   Avx2     6 x 16: 12 ymm accumulators + 2 B vectors + 1 broadcast (of 16 registers)
//   Portable 4 x 2W: 8 Vector<float> accumulators (W = Vector<float>.Count), for machines without either
//
// Capabilities. The call's KernelCapabilities (copied into Job.Caps at entry) pick the microkernel (Isa), fused or separate
// multiply-add on the portable path (Fma) and the most threads (MaxThreads); nothing else is consulted.
//
// Threading. KernelParallelism decides the number of threads from the flop count. A threaded call first packs all of B once
// (every k-slice, all panels, slice after slice: slice pc starts at panels*NR*pc) into the calling thread's buffer, then
// splits C into tiles of MC rows x a group of panels, many more tiles than threads, which the threads claim dynamically and
// compute against the shared packed B. When a block of rows is shared by several tiles (a short batch: fewer than ~4 row
// blocks per thread, so the panels are split into groups too), A is packed once up front instead of once per tile. Many small tiles keep both cores busy when another process takes one of them for a
// while (a fixed half-and-half split waits for the slower half), and the shared packing avoids packing B once per thread.
// A PackedMatrix (a Linear weight packed once at load, Gemm.Packed.cs) is this same buffer built once: such calls skip the
// packing and run the same tiles, on one thread too. Single-threaded unpacked calls (and attention's per-head products) keep the NC-blocked loop nest above with per-thread packing.
// Every thread's packing buffer is thread-local, 64-byte aligned, allocated once and reused, so steady-state calls allocate
// nothing. Products with m <= 2 (pooler, classifier) skip packing and use dot products.

/// <summary>An element-wise function applied to C as each tile is finished (a fused epilogue).</summary>
internal enum GemmEpilogue
{
    /// <summary>C as computed.</summary>
    None,
    /// <summary>C = GELU(C), exact GELU as <see cref="Gelu.Apply(ReadOnlySpan{float}, Span{float}, in KernelCapabilities)"/>, bit for bit.</summary>
    Gelu,
    /// <summary>
    /// residual = LayerNorm(C + residual) (BERT's post-LN "add &amp; norm"), as <see cref="LayerNorm.AddAndNormalize(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, float, in KernelCapabilities)"/>
    /// bit for bit; C keeps the product. Rows are normalised as soon as a tile has finished all their columns (one row block
    /// across every panel), while they are in L2; when a short batch splits rows across column groups, after the product.
    /// </summary>
    AddLayerNorm,
    /// <summary>
    /// y[M, I] = act(a) * m, where [a | m] = C[M, 2I] (a gated unit, <see cref="GatedUnit.Apply"/> bit for bit, act = GELU
    /// or SiLU as <see cref="Gemm.Job.Activation"/> says): B is packed in gated order (<see cref="Gemm.PackGated"/>), so a pair of
    /// panels holds the activated and the multiplier half of the same output columns; each pair's tile is reduced into a
    /// small buffer and only y is written (see Gemm.Gated.cs). C [M, 2I] never exists.
    /// </summary>
    Gated,
}

/// <summary>General matrix multiply in the layout Linear layers use: <c>C[M,N] = A[M,K] * B[N,K]^T + bias[N]</c>.</summary>
internal static unsafe partial class Gemm
{
    /// <summary>
    /// KC, the reduction slice. 384 on AVX2 and the portable path: MiniLM's K = 384 (its hidden size) in one slice, so each C
    /// tile is loaded and stored once; the A block (96 x 384 floats, 144 KiB) stays in L2 and a panel (384 x 16 floats,
    /// 24 KiB) in L1. Measured on Zen 2 against 256: forward passes 2-5 % faster (16 x 32 to 64 x 128, one thread).
    /// AVX-512 keeps 256: its panels are twice as wide (256 x 32 floats already fill a 32 KiB L1), and it could not be timed here.
    /// </summary>
    internal static int Kc(KernelIsa isa) => isa == KernelIsa.Avx512 ? 256 : 384;

    private const int MaxKc = 384;
    internal const int Mc = 96; // a multiple of every MR
    private const int Nc = 2048;

    /// <summary>C[M,N] = A[M,K] * B[N,K]^T + bias[N]. <paramref name="bias"/> may be empty (no bias).</summary>
    /// <param name="a">Row-major [M, K].</param>
    /// <param name="b">Row-major [N, K] (a Linear weight, [out, in]).</param>
    /// <param name="bias">[N], or empty.</param>
    /// <param name="c">Row-major [M, N], overwritten.</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="n">Rows of B, columns of C.</param>
    /// <param name="k">The shared (reduction) dimension.</param>
    /// <param name="caps">The path, FMA and thread limit of this call (usually <see cref="KernelCapabilities.Default"/>).</param>
    public static void MultiplyTransposed(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> bias, Span<float> c, int m, int n, int k, in KernelCapabilities caps)
    {
        KernelGuard.Positive(m, nameof(m));
        KernelGuard.Positive(n, nameof(n));
        KernelGuard.Positive(k, nameof(k));
        KernelGuard.Length(a, (long)m * k, nameof(a));
        KernelGuard.Length(b, (long)n * k, nameof(b));
        KernelGuard.Length(c, (long)m * n, nameof(c));
        if (!bias.IsEmpty) KernelGuard.Length(bias, n, nameof(bias));
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pbias = bias, pc = c)
        {
            var job = new Job
            {
                A = pa, Lda = k, B = pb, Ldb = k, BIsKByN = false, Bias = bias.IsEmpty ? null : pbias,
                C = pc, Ldc = n, M = m, N = n, K = k, Caps = caps,
            };
            Run(&job);
        }
    }

    /// <summary>Everything one GEMM needs, passed by pointer to the parts running on other threads.</summary>
    internal struct Job
    {
        public float* A, B, Bias, C;
        public int Lda, Ldb, Ldc, M, N, K;
        /// <summary>False: B is [N, K] (row j is column j of C). True: B is [K, N] (row p is step p of the reduction).</summary>
        public bool BIsKByN;
        /// <summary>The call's capabilities: <c>Caps.Isa</c> picks the microkernel and the packing layout, <c>Caps.Fma</c> the
        /// portable multiply-add, <c>Caps.MaxThreads</c> the most threads.</summary>
        public KernelCapabilities Caps;
        /// <summary>All of B packed (slice after slice, see the file header), or null until <see cref="Run"/> packs it.</summary>
        public float* Packed;
        /// <summary>Bias for the first k-slice's tiles: [panels * NR] (zero-padded), or the caller's [N] bias, or zeros.</summary>
        public float* PackedBias;
        /// <summary>Panels of one packed k-slice (the slice stride / NR); FirstPanel..Panels-1 are computed (a column range).</summary>
        public int ColumnGroups, Panels, PanelStride, FirstPanel;
        /// <summary>All of A packed once (row block rb, k-slice pc at rb*MC*K + MC*pc) when several tiles share its rows, or null.</summary>
        public float* PackedA;
        /// <summary>The caller packed A into <see cref="PackedA"/> itself (attention's probabilities, written packed by the exp pass).</summary>
        public bool APacked;
        /// <summary>What happens to each finished tile while it is in L1 (packed-B path only).</summary>
        public GemmEpilogue Epilogue;
        /// <summary>AddLayerNorm: the residual stream [M, N] (row stride N, updated in place), gamma and beta [N], epsilon.</summary>
        public float* Residual, Gamma, Beta;
        public float Eps;
        /// <summary>Gated: I, the output columns (C is y [M, I] with row stride Ldc; N is the padded packed width, Panels * NR).</summary>
        public int Inner;
        /// <summary>Gated: the activation of the unit, act(a) * m.</summary>
        public GatedActivation Activation;
    }

    /// <summary>Runs a whole job, split across threads when it is large enough.</summary>
    internal static void Run(Job* job)
    {
        int mr = Mr(job->Caps.Isa), nr = Nr(job->Caps.Isa);
        int panels = (job->N + nr - 1) / nr, first = job->FirstPanel;
        int rowTiles = (job->M + mr - 1) / mr;
        long flops = 2L * job->M * (job->N - first * nr) * job->K;
        int threads = KernelParallelism.DegreeFor(flops, Math.Max(panels - first, rowTiles), job->Caps.MaxThreads);
        if (job->Packed == null && (threads == 1 || job->M <= 2 || job->K == 0))
        {
            RunSerial(job);
            return;
        }
        if (job->Packed == null) PackAll(job, PackBuffer(checked((int)PackedLength(job))));
        // Tiles of MC rows; when that gives fewer than ~4 tiles per thread (a short batch), the panels are grouped as well.
        int rowBlocks = (job->M + Mc - 1) / Mc;
        job->Panels = panels;
        // One thread (only a pre-packed B gets here single-threaded) takes whole rows of panels: A is packed once per block.
        // A gated product splits columns by pairs of panels (an activated panel and its multiplier panel stay in one tile).
        bool gated = job->Epilogue == GemmEpilogue.Gated;
        int columnUnits = gated ? (panels - first) / 2 : panels - first;
        job->ColumnGroups = threads == 1 ? 1 : Math.Clamp((4 * threads + rowBlocks - 1) / rowBlocks, 1, columnUnits);
        if (!job->APacked) job->PackedA = null;
        if (job->ColumnGroups > 1 && !job->APacked)
        {
            // Every row block is shared by ColumnGroups tiles: pack A once here rather than once per tile. This happens only
            // for short batches (fewer than 4 row blocks per thread). The packing is split over the same threads by (row block,
            // k-slice): done on the calling thread alone it was ~4 % of a two-thread layer at 512 tokens (FFN down's A is
            // 512 x 1536) with the second core idle.
            int kc = Kc(job->Caps.Isa), slices = (job->K + kc - 1) / kc;
            job->PackedA = PackedABuffer((long)rowBlocks * Mc * job->K);
            if (threads > 1 && (long)job->M * job->K >= 4 * Mc * kc) KernelParallelism.For(rowBlocks * slices, job, &PackAPart, threads);
            else for (int part = 0; part < rowBlocks * slices; part++) PackAPart(job, part);
        }
        KernelParallelism.For(rowBlocks * job->ColumnGroups, job, gated ? &RunTileGated : &RunTile, threads);
        if (job->Epilogue == GemmEpilogue.AddLayerNorm && job->ColumnGroups > 1)
        {
            // Rows were split across column groups: normalise once every tile is done.
            long length = (long)job->M * job->N;
            LayerNorm.AddAndNormalize(new ReadOnlySpan<float>(job->C, (int)length), new ReadOnlySpan<float>(job->Residual, (int)length),
                new ReadOnlySpan<float>(job->Gamma, job->N), new ReadOnlySpan<float>(job->Beta, job->N), new Span<float>(job->Residual, (int)length),
                job->M, job->N, job->Eps, job->Caps);
        }
    }

    /// <summary>Packs one (row block, k-slice) of A into the job's shared packed A (layout: block rb, slice pc at rb*MC*K + MC*pc).</summary>
    private static void PackAPart(void* state, int part)
    {
        var job = (Job*)state;
        int kc = Kc(job->Caps.Isa), slices = (job->K + kc - 1) / kc;
        int rb = part / slices, pc = part % slices * kc;
        int i0 = rb * Mc, rows = Math.Min(Mc, job->M - i0);
        PackA(job->A + (long)i0 * job->Lda + pc, job->Lda, rows, Math.Min(kc, job->K - pc), Mr(job->Caps.Isa), job->PackedA + (long)rb * Mc * job->K + (long)Mc * pc);
    }

    /// <summary>Floats <see cref="PackAll"/> writes for the job's B: every k-slice of panels, then the first slice's bias.</summary>
    internal static long PackedLength(Job* job)
    {
        int nr = Nr(job->Caps.Isa);
        long panels = (job->N + nr - 1) / nr;
        return panels * nr * job->K + panels * nr;
    }

    /// <summary>
    /// Packs all of B (slice after slice, see the file header) and the bias (or zeros) into <paramref name="dst"/>
    /// (<see cref="PackedLength"/> floats) and points the job at it: <see cref="Run"/> then only packs A, and a job reusing
    /// the same B (attention's row blocks) packs it once.
    /// </summary>
    internal static void PackAll(Job* job, float* dst)
    {
        int nr = Nr(job->Caps.Isa), panels = (job->N + nr - 1) / nr;
        long slices = (long)panels * nr * job->K;
        int kc = Kc(job->Caps.Isa);
        for (int pc = 0; pc < job->K; pc += kc)
            Pack(job, 0, job->N, pc, Math.Min(kc, job->K - pc), nr, dst + (long)panels * nr * pc, pc == 0 ? dst + slices : null);
        job->Packed = dst;
        job->PackedBias = dst + slices;
        job->PanelStride = panels;
    }

    /// <summary>Runs the whole job on the calling thread (attention calls this once per head).</summary>
    internal static void RunSerial(Job* job) => Range(job, 0, job->M, 0, job->N);

    /// <summary>One tile of a threaded job: rows [rb*MC, +MC) x one group of panels, against the shared packed B.</summary>
    private static void RunTile(void* state, int part)
    {
        var job = (Job*)state;
        int groups = job->ColumnGroups, first = job->FirstPanel, count = job->Panels - first;
        int rb = part / groups, cg = part % groups;
        int p0 = first + (int)((long)count * cg / groups), p1 = first + (int)((long)count * (cg + 1) / groups);
        int i0 = rb * Mc, i1 = Math.Min(job->M, i0 + Mc);
        KernelIsa isa = job->Caps.Isa;
        bool fma = job->Caps.Fma;
        int mr = Mr(isa), nr = Nr(isa), k = job->K, lda = job->Lda, ldc = job->Ldc;
        float* edge = stackalloc float[8 * 32];
        float* packA = job->PackedA != null ? null : PackABuffer();
        int kc = Kc(isa);
        for (int pc = 0; pc < k; pc += kc)
        {
            int kb = Math.Min(kc, k - pc);
            if (job->PackedA != null) packA = job->PackedA + (long)rb * Mc * k + (long)Mc * pc;
            else PackA(job->A + (long)i0 * lda + pc, lda, i1 - i0, kb, mr, packA);
            float* slice = job->Packed + (long)job->PanelStride * nr * pc;
            int rowTiles = (i1 - i0 + mr - 1) / mr;
            for (int jr = p0; jr < p1; jr++)
            {
                float* panel = slice + (long)jr * nr * kb;
                int cols = Math.Min(nr, job->N - jr * nr);
                float* bias = pc == 0 ? job->PackedBias + jr * nr : null;
                // The next panel of this tile (a weight panel is usually cold: a model's weights do not fit in L3), fetched a
                // share per microkernel call so that it is in cache when its first call starts. Only the first row block
                // does it: later blocks find the panels in L3, where the hardware prefetcher keeps up.
                float* next = rb != 0 ? null : jr + 1 < p1 ? panel + nr * kb : pc + kb < k ? job->Packed + (long)job->PanelStride * nr * (pc + kb) + (long)p0 * nr * Math.Min(kc, k - pc - kb) : null;
                int nextBytes = next == null ? 0 : nr * (jr + 1 < p1 ? kb : Math.Min(kc, k - pc - kb)) * sizeof(float);
                int share = (nextBytes / rowTiles + 63) & ~63;
                for (int ir = i0, tile = 0; ir < i1; ir += mr, tile++)
                {
                    if (next != null) Prefetch((byte*)next + (long)tile * share, Math.Min(share, nextBytes - tile * share));
                    float* at = packA + (long)(ir - i0) * kb;
                    float* ct = job->C + (long)ir * ldc + jr * nr;
                    int rows = Math.Min(mr, i1 - ir);
                    switch (isa)
                    {
                        case KernelIsa.Avx512: Kernel8x32(at, rows, panel, kb, ct, ldc, cols, bias, edge); break;
                        case KernelIsa.Avx2: Kernel6x16(at, rows, panel, kb, ct, ldc, cols, bias, edge); break;
                        default: KernelPortable(at, rows, panel, kb, ct, ldc, cols, bias, edge, fma); break;
                    }
                    // The tile is final after the last k-slice: apply the epilogue while it is still in L1.
                    if (job->Epilogue == GemmEpilogue.Gelu && pc + kb == k)
                        Gelu.Tile(ct, ldc, rows, cols, job->Caps);
                }
            }
        }
        // This tile covered every column of its rows (one column group): they are final and still in L2.
        if (job->Epilogue == GemmEpilogue.AddLayerNorm && groups == 1)
        {
            float* residual = job->Residual + (long)i0 * job->N;
            LayerNorm.AddAndNormalizeRows(job->C + (long)i0 * ldc, residual, job->Gamma, job->Beta, residual, i1 - i0, job->N, job->Eps, job->Caps);
        }
    }

    /// <summary>Hints the cache to load [p, p + bytes) (x86; a no-op elsewhere). Prefetches never fault, so a range past the
    /// end of a buffer is harmless. The <c>Sse.IsSupported</c> check is not a path choice (KernelCapabilities has none to
    /// make here): a hint changes no result, and the check only keeps the instruction off non-x86 hardware.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(byte* p, int bytes)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        for (int offset = 0; offset < bytes; offset += 64) System.Runtime.Intrinsics.X86.Sse.Prefetch0(p + offset);
    }

    internal static int Mr(KernelIsa isa) => isa switch { KernelIsa.Avx512 => 8, KernelIsa.Avx2 => 6, _ => 4 };
    /// <summary>NR, the columns of one packed B panel (the microkernel's register tile width) on <paramref name="isa"/>.</summary>
    internal static int Nr(KernelIsa isa) => isa switch { KernelIsa.Avx512 => 32, KernelIsa.Avx2 => 16, _ => PortableNr };

    /// <summary>C[m0:m1, n0:n1] on the calling thread: the blocked loop nest of the file header.</summary>
    private static void Range(Job* job, int m0, int m1, int n0, int n1)
    {
        if (m1 <= m0 || n1 <= n0) return;
        float* a = job->A, c = job->C;
        int k = job->K, lda = job->Lda, ldc = job->Ldc;
        if (k == 0)
        {
            for (int i = m0; i < m1; i++)
                for (int j = n0; j < n1; j++) c[(long)i * ldc + j] = job->Bias == null ? 0f : job->Bias[j];
            return;
        }
        if (m1 - m0 <= 2 && !job->BIsKByN)
        {
            DotRows(job, m0, m1, n0, n1);
            return;
        }
        KernelIsa isa = job->Caps.Isa;
        bool fma = job->Caps.Fma;
        int mr = Mr(isa), nr = Nr(isa);
        int sliceLength = Kc(isa), nc = Math.Min(Nc, n1 - n0), kc = Math.Min(sliceLength, k);
        int maxPanels = (nc + nr - 1) / nr;
        float* pack = PackBuffer(maxPanels * nr * (kc + 1));
        float* packA = PackABuffer();
        float* edge = stackalloc float[8 * 32];
        for (int jc = n0; jc < n1; jc += Nc)
        {
            int nb = Math.Min(Nc, n1 - jc), panels = (nb + nr - 1) / nr;
            for (int pc = 0; pc < k; pc += sliceLength)
            {
                int kb = Math.Min(sliceLength, k - pc);
                bool first = pc == 0;
                float* biasPanels = pack + (long)panels * nr * kb;
                Pack(job, jc, nb, pc, kb, nr, pack, first ? biasPanels : null);
                for (int ic = m0; ic < m1; ic += Mc)
                {
                    int mb = Math.Min(Mc, m1 - ic);
                    PackA(a + (long)ic * lda + pc, lda, mb, kb, mr, packA);
                    for (int jr = 0; jr < panels; jr++)
                    {
                        float* panel = pack + (long)jr * kb * nr;
                        int cols = Math.Min(nr, nb - jr * nr);
                        float* bias = first ? biasPanels + jr * nr : null;
                        for (int ir = 0; ir < mb; ir += mr)
                        {
                            float* at = packA + (long)ir * kb;
                            float* ct = c + (long)(ic + ir) * ldc + jc + jr * nr;
                            int rows = Math.Min(mr, mb - ir);
                            switch (isa)
                            {
                                case KernelIsa.Avx512: Kernel8x32(at, rows, panel, kb, ct, ldc, cols, bias, edge); break;
                                case KernelIsa.Avx2: Kernel6x16(at, rows, panel, kb, ct, ldc, cols, bias, edge); break;
                                default: KernelPortable(at, rows, panel, kb, ct, ldc, cols, bias, edge, fma); break;
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Packs B[jc:jc+nb, pc:pc+kb] into k-major panels of nr columns; on the first k-slice also the bias.</summary>
    private static void Pack(Job* job, int jc, int nb, int pc, int kb, int nr, float* dst, float* biasDst)
    {
        float* b = job->B;
        int ldb = job->Ldb, panels = (nb + nr - 1) / nr;
        for (int jr = 0; jr < panels; jr++)
        {
            float* panel = dst + (long)jr * kb * nr;
            int cols = Math.Min(nr, nb - jr * nr);
            if (job->BIsKByN)
            {
                for (int p = 0; p < kb; p++)
                {
                    float* src = b + (long)(pc + p) * ldb + jc + jr * nr;
                    float* row = panel + p * nr;
                    new ReadOnlySpan<float>(src, cols).CopyTo(new Span<float>(row, cols));   // a vector copy (was one float at a time)
                    for (int cc = cols; cc < nr; cc++) row[cc] = 0f;
                }
            }
            else PackPanelTransposed(b + (long)(jc + jr * nr) * ldb + pc, ldb, cols, kb, nr, panel);
        }
        if (biasDst != null)
        {
            for (int j = 0; j < panels * nr; j++) biasDst[j] = job->Bias != null && j < nb ? job->Bias[jc + j] : 0f;
        }
    }

    /// <summary>Few rows (a GEMV): no packing, one dot product per output, B rows read in place.</summary>
    private static void DotRows(Job* job, int m0, int m1, int n0, int n1)
    {
        int k = job->K;
        for (int i = m0; i < m1; i++)
        {
            var ai = new ReadOnlySpan<float>(job->A + (long)i * job->Lda, k);
            for (int j = n0; j < n1; j++)
            {
                float dot = Dot(ai, new ReadOnlySpan<float>(job->B + (long)j * job->Ldb, k), job->Caps);
                job->C[(long)i * job->Ldc + j] = job->Bias == null ? dot : dot + job->Bias[j];
            }
        }
    }

    /// <summary>Copies a finished edge tile (valid rows x cols of an MR x NR tile in <paramref name="edge"/>) into C.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void StoreEdge(float* edge, int nr, int rows, int cols, float* c, int ldc, float* bias)
    {
        for (int r = 0; r < rows; r++)
        {
            float* cr = c + (long)r * ldc;
            for (int cc = 0; cc < cols; cc++) cr[cc] = (bias != null ? bias[cc] : cr[cc]) + edge[r * nr + cc];
        }
    }

    [ThreadStatic] private static float* t_packA;

    /// <summary>This thread's buffer for one packed MC x KC block of A (64-byte aligned, allocated once per thread).</summary>
    private static float* PackABuffer()
    {
        if (t_packA == null) t_packA = (float*)NativeMemory.AlignedAlloc((nuint)(Mc * MaxKc) * sizeof(float), 64);
        return t_packA;
    }

    [ThreadStatic] private static float* t_packedA;
    [ThreadStatic] private static long t_packedALength;

    /// <summary>This thread's buffer for all of A packed at once (64-byte aligned, grown on demand, kept for the thread).</summary>
    private static float* PackedABuffer(long floats) => ThreadBuffer(ref t_packedA, ref t_packedALength, floats);

    [ThreadStatic] private static float* t_pack;
    [ThreadStatic] private static long t_packLength;

    /// <summary>This thread's packing buffer, grown on demand and kept for the thread's lifetime (64-byte aligned).</summary>
    private static float* PackBuffer(int floats) => ThreadBuffer(ref t_pack, ref t_packLength, floats);

    /// <summary>A thread's buffer (a [ThreadStatic] pointer and its length in floats) of at least <paramref name="floats"/>:
    /// reallocated, 64-byte aligned, only when it is too short, then kept, so steady-state calls allocate nothing.</summary>
    private static float* ThreadBuffer(ref float* buffer, ref long length, long floats)
    {
        if (length < floats)
        {
            NativeMemory.AlignedFree(buffer);
            buffer = (float*)NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);
            length = floats;
        }
        return buffer;
    }
}
