using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Native.Kernels;

// C[M,N] = ((qa[M,Kp] - za[M]) . qw[N,Kp]^T) * (sa[M] * sw[N]) + bias[N]
//
// The int8 Linear product. qa: activations quantized per row to 12 bits (u16 lanes) with zero point za and scale sa
// (Quantize.Rows); qw: weights quantized per output channel to int8 with scale sw, packed in QuantizedMatrix's layout
// (panels of 16 columns, groups of 4 reduction steps) and widened to 16 bits in the kernels as they are loaded. Every path multiplies 16-bit x 16-bit and
// sums each pair of products into a 32-bit lane (vpmaddwd, or vpdpwssd on AVX-VNNI), which is exact; accumulation is exact
// in int32 because Quantize.ActivationMax bounds L * 127 * Kp by int.MaxValue. The zero point is removed once per element
// with the column sums: sum (qa - za) qw = sum qa qw - za * colsum (int32, wrapping is harmless: the true value fits).
//
// Epilogue (dequantize + bias), per element, in this order so that every path and the reference agree bit for bit:
//   c = (float)(acc - za * colsum) * (sa * sw) + bias        (float multiply then add; never fused)
//
// Microkernels (each computes an MR x 16 tile over the whole of Kp; A is read in place, one 8-byte broadcast of 4 u16
// activations per row per group; the tile holds 2 lanes per column, even and odd step pairs, added in the epilogue):
//   Avx512BW  8 x 16: vpmaddwd + vpaddd on zmm (8 columns per register): 16 accumulators
//   AvxVnni   2 x 16: vpdpwssd (multiply pairs and accumulate in one instruction) on ymm: 8 accumulators
//   Avx2      2 x 16: vpmaddwd + vpaddd on ymm: 8 accumulators
//   Portable  4 x 16: scalar, the same pair lanes
// Why 16-bit products rather than vpmaddubsw (u8 x s8): vpmaddubsw saturates a pair sum at 32767 (255 x 127 x 2 = 64770),
// and without VNNI it needs a vpmaddwd after it anyway, so per product it costs the multiplier the same as vpmaddwd alone
// while forcing 7-bit operands. The 16-bit route is exact for int8 weights and 12-bit activations (Quantize.cs).
//
// Capabilities: the microkernel is the call's KernelCapabilities.Int8Isa (validated against the hardware at entry), the
// epilogue's AVX2 form runs where Int8UsesAvx2, the fused GELU follows Isa and Fma, threads at most MaxThreads.
//
// Threading: C is cut into tiles of 48 rows x 4 panels (64 columns), claimed dynamically through KernelParallelism.

/// <summary>The SIMD path of the int8 GEMM, the <see cref="KernelCapabilities.Int8Isa"/> of a call (only values the hardware runs).</summary>
internal enum Int8Isa
{
    /// <summary>Scalar, the same pair lanes as the SIMD paths.</summary>
    Portable,
    /// <summary>AVX2 vpmaddwd + vpaddd on 256-bit registers.</summary>
    Avx2,
    /// <summary>AVX-512BW vpmaddwd + vpaddd on 512-bit registers.</summary>
    Avx512BW,
    /// <summary>AVX-VNNI vpdpwssd on 256-bit registers.</summary>
    AvxVnni,
}

/// <summary>The int8 matrix product of quantized Linear layers: <c>C[M,N] = dequant(qa[M,K] qw[N,K]^T) + bias[N]</c>.</summary>
internal static unsafe partial class GemmInt8
{
    private const int Mc = 48;          // rows per tile: a multiple of every MR (4, 6, 8)
    private const int PanelsPerTile = 4;

    /// <summary>True when the hardware runs <paramref name="isa"/> (Portable always).</summary>
    public static bool IsSupported(Int8Isa isa) => isa switch
    {
        Int8Isa.AvxVnni => AvxVnni.IsSupported,
        Int8Isa.Avx512BW => Avx512BW.IsSupported,
        Int8Isa.Avx2 => Avx2.IsSupported,
        _ => true,
    };

    /// <summary>The fastest path the hardware runs: <see cref="KernelCapabilities.Default"/>'s.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static Int8Isa Best => KernelCapabilities.Default.Int8Isa;

    /// <summary>The dispatch rule of <see cref="KernelCapabilities.Detect"/>: AVX-512BW (32 products per instruction), then
    /// AVX-VNNI (16, fused with the add), then AVX2, then portable. Separated from the hardware query so tests can check it
    /// for every machine.</summary>
    internal static Int8Isa Select(bool avxVnni, bool avx512BW, bool avx2) =>
        avx512BW ? Int8Isa.Avx512BW : avxVnni ? Int8Isa.AvxVnni : avx2 ? Int8Isa.Avx2 : Int8Isa.Portable;

    /// <summary>C[M,N] = ((qa - za) qw^T) * (sa sw) + bias.</summary>
    /// <param name="qa">[M, Kp] activations in [0, Quantize.ActivationMax(Kp)] (Kp = w.KPadded), zero padded.</param>
    /// <param name="sa">[M] activation scales.</param>
    /// <param name="za">[M] activation zero points.</param>
    /// <param name="w">The packed quantized weight [N, K].</param>
    /// <param name="bias">[N] or empty.</param>
    /// <param name="c">[M, N], overwritten.</param>
    /// <param name="m">Rows.</param>
    /// <param name="caps">This call's int8 path (it must run on this hardware), epilogue form and thread limit.</param>
    /// <exception cref="PlatformNotSupportedException">The hardware lacks <paramref name="caps"/>.Int8Isa.</exception>
    public static void Multiply(ReadOnlySpan<ushort> qa, ReadOnlySpan<float> sa, ReadOnlySpan<int> za, QuantizedMatrix w, ReadOnlySpan<float> bias, Span<float> c, int m,
        in KernelCapabilities caps)
    {
        ArgumentNullException.ThrowIfNull(w);
        MultiplyColumns(qa, sa, za, w, bias, c, m, w.N, 0, w.N, gelu: false, caps);
    }

    /// <summary>
    /// Columns [first, first + count) of the product only, into c[r * ldc + (j - first)]; first is a multiple of 16. With
    /// <paramref name="gelu"/>, GELU is applied to each finished tile (BERT's FFN up) while it is in L1.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">The hardware lacks <paramref name="caps"/>.Int8Isa.</exception>
    public static void MultiplyColumns(ReadOnlySpan<ushort> qa, ReadOnlySpan<float> sa, ReadOnlySpan<int> za, QuantizedMatrix w, ReadOnlySpan<float> bias,
        Span<float> c, int m, int ldc, int first, int count, bool gelu, in KernelCapabilities caps)
    {
        caps.RequireInt8Support();
        ArgumentNullException.ThrowIfNull(w);
        if (w.IsGated) throw new ArgumentException("The matrix is in gated order (QuantizedMatrix.FromQuantizedGated); only MultiplyGated takes it.", nameof(w));
        KernelGuard.Positive(m, nameof(m));
        KernelGuard.Length(qa, (long)m * w.KPadded, nameof(qa));
        KernelGuard.Length(sa, m, nameof(sa));
        KernelGuard.Length(za, m, nameof(za));
        if (first < 0 || count < 0 || first + count > w.N || first % QuantizedMatrix.Nr != 0 || ldc < count)
            throw new ArgumentOutOfRangeException(nameof(first), $"columns [{first}, {first + count}) with row stride {ldc} do not fit a product of {w.N} columns in whole 16-column panels.");
        if (m > 0 && count > 0) KernelGuard.Length(c, (long)(m - 1) * ldc + count, nameof(c));
        if (!bias.IsEmpty) KernelGuard.Length(bias, w.N, nameof(bias));
        if (m == 0 || count == 0) return;
        fixed (ushort* pa = qa)
        fixed (float* psa = sa, pbias = bias, pc = c, psw = w.Scale)
        fixed (int* pza = za, psum = w.ColumnSum)
        fixed (sbyte* pw = w.Packed)
        {
            var job = new Job
            {
                A = pa, Sa = psa, Za = pza, W = pw, Sw = psw, ColumnSum = psum, Bias = bias.IsEmpty ? null : pbias, C = pc,
                M = m, N = first + count, Kp = w.KPadded, Ldc = ldc, First = first, FirstPanel = first / QuantizedMatrix.Nr,
                Panels = (first + count + QuantizedMatrix.Nr - 1) / QuantizedMatrix.Nr, Caps = caps, RowTiles = (m + Mc - 1) / Mc, Gelu = gelu,
            };
            job.PanelGroups = (job.Panels - job.FirstPanel + PanelsPerTile - 1) / PanelsPerTile;
            int parts = job.RowTiles * job.PanelGroups;
            int threads = caps.ThreadsFor(2L * m * count * w.KPadded, parts);
            if (threads <= 1) for (int i = 0; i < parts; i++) RunTile(&job, i);
            else KernelParallelism.For(parts, &job, &RunTile, threads);
        }
    }

    private struct Job
    {
        public ushort* A;
        public float* Sa;
        public int* Za;
        public sbyte* W;
        public float* Sw;
        public int* ColumnSum;
        public float* Bias;
        public float* C;
        public int M, N, Kp, Ldc, First, FirstPanel, Panels, RowTiles, PanelGroups;   // N: end column; Panels: end panel
        /// <summary>The call's capabilities: Int8Isa the microkernel, Int8UsesAvx2 the epilogue, Isa and Fma the GELU.</summary>
        public KernelCapabilities Caps;
        public bool Gelu;
        /// <summary>MultiplyGated: I (C is y [M, I]; N and Panels count the padded gated panels, PanelGroups groups of pairs).</summary>
        public int Inner;
        /// <summary>MultiplyGated: the activation of the unit, act(a) * m.</summary>
        public GatedActivation Activation;
    }

    /// <summary>The product on the <paramref name="isa"/> path, everything else as <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static void MultiplyColumns(ReadOnlySpan<ushort> qa, ReadOnlySpan<float> sa, ReadOnlySpan<int> za, QuantizedMatrix w, ReadOnlySpan<float> bias,
        Span<float> c, int m, int ldc, int first, int count, Int8Isa isa, bool gelu = false)
        => MultiplyColumns(qa, sa, za, w, bias, c, m, ldc, first, count, gelu, KernelCapabilities.Default with { Int8Isa = isa });

    /// <summary>Ints per tile row: two 32-bit lanes per column (the even and the odd pair of each group of 4 steps).</summary>
    private const int TileStride = 2 * QuantizedMatrix.Nr;

    private static void RunTile(void* state, int index)
    {
        var job = (Job*)state;
        int rowTile = index / job->PanelGroups, group = index % job->PanelGroups;
        int r0 = rowTile * Mc, r1 = Math.Min(job->M, r0 + Mc);
        int j0 = job->FirstPanel + group * PanelsPerTile, j1 = Math.Min(job->Panels, j0 + PanelsPerTile);
        Int8Isa isa = job->Caps.Int8Isa;
        bool avx2Epilogue = job->Caps.Int8UsesAvx2;
        int mr = isa switch { Int8Isa.Avx512BW => 8, Int8Isa.Portable => 4, _ => 2 };
        int* tile = stackalloc int[8 * TileStride];
        int kp = job->Kp;
        for (int j = j0; j < j1; j++)
        {
            sbyte* panel = job->W + (long)j * kp * QuantizedMatrix.Nr;
            int col0 = j * QuantizedMatrix.Nr, cols = Math.Min(QuantizedMatrix.Nr, job->N - col0);
            for (int r = r0; r < r1; r += mr)
            {
                int rows = Math.Min(mr, r1 - r);
                ushort* a = job->A + (long)r * kp;
                switch (isa)
                {
                    case Int8Isa.AvxVnni: Kernel2x16<VnniPairMultiplyAdd>(a, kp, rows, panel, tile); break;
                    case Int8Isa.Avx512BW: Kernel512x8x16(a, kp, rows, panel, tile); break;
                    case Int8Isa.Avx2: Kernel2x16<Avx2PairMultiplyAdd>(a, kp, rows, panel, tile); break;
                    default: KernelPortable4x16(a, kp, rows, panel, tile); break;
                }
                float* c = job->C + (long)r * job->Ldc + (col0 - job->First);
                float* bias = job->Bias == null ? null : job->Bias + col0;
                if (avx2Epilogue && cols == QuantizedMatrix.Nr) EpilogueAvx2(job, tile, r, rows, col0, c, job->Ldc, bias);
                else Epilogue(job, tile, r, rows, col0, cols, c, job->Ldc, bias);
                if (job->Gelu) Kernels.Gelu.Tile(job->C + (long)r * job->Ldc + (col0 - job->First), job->Ldc, rows, cols, job->Caps);
            }
        }
    }

    /// <summary>c = (float)(acc - za * colsum) * (sa * sw) + bias for one tile, acc = the sum of a column's two lanes. Rows
    /// r0.. of the activations, packed columns col0..col0+cols of the weight (its scales and column sums); the results go to
    /// <paramref name="c"/> (the tile's first element, row stride ldc), with <paramref name="bias"/> (the tile's first column's, or null).</summary>
    private static void Epilogue(Job* job, int* tile, int r0, int rows, int col0, int cols, float* c, int ldc, float* bias)
    {
        for (int i = 0; i < rows; i++, c += ldc)
        {
            int za = job->Za[r0 + i];
            float sa = job->Sa[r0 + i];
            int* lanes = tile + i * TileStride;
            for (int j = 0; j < cols; j++)
            {
                int acc = lanes[2 * j] + lanes[2 * j + 1];
                float v = (float)(acc - za * job->ColumnSum[col0 + j]) * (sa * job->Sw[col0 + j]);
                c[j] = bias is null ? v : v + bias[j];
            }
        }
    }

    /// <summary>The same epilogue 8 columns at a time (a full 16-column panel): the same integer and float operations in
    /// the same order, so it is bit-identical to <see cref="Epilogue"/>.</summary>
    private static void EpilogueAvx2(Job* job, int* tile, int r0, int rows, int col0, float* c, int ldc, float* bias)
    {
        for (int i = 0; i < rows; i++, c += ldc)
        {
            var za = Vector256.Create(job->Za[r0 + i]);
            var sa = Vector256.Create(job->Sa[r0 + i]);
            int* lanes = tile + i * TileStride;
            for (int j = 0; j < QuantizedMatrix.Nr; j += 8)
            {
                // lanes (c0 even, c0 odd, c1 even, ...): hadd gives c0 c1 c4 c5 | c2 c3 c6 c7, the permute restores the order
                var pairs = Avx2.HorizontalAdd(Vector256.Load(lanes + 2 * j), Vector256.Load(lanes + 2 * j + 8));
                var acc = Avx2.Permute4x64(pairs.AsInt64(), 0b11_01_10_00).AsInt32();
                var centred = acc - za * Vector256.Load(job->ColumnSum + col0 + j);
                var v = Vector256.ConvertToSingle(centred) * (sa * Vector256.Load(job->Sw + col0 + j));
                if (bias is not null) v += Vector256.Load(bias + j);
                v.Store(c + j);
            }
        }
    }

    /// <summary>Row pointer i of an MR-row tile; rows past the valid ones repeat the last (their results are not stored).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort* Row(ushort* a, int lda, int rows, int i) => a + (long)Math.Min(i, rows - 1) * lda;
}
