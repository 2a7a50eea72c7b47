using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Native.Kernels;

// C[M,N] = ((qa[M,Kp] - za[M]) . qw[N,Kp]^T) * (sa[M] * sw[N]) + bias[N]
//
// The int8 Linear product. qa: activations quantized per row to u8 with zero point za and scale sa (Quantize.Rows);
// qw: weights quantized per output channel to 7-bit s8 with scale sw, packed in QuantizedMatrix's layout (panels of 16
// columns, 4 reduction steps per 32-bit lane). Accumulation is exact in int32 (|qa qw| <= 255 * 63, so K up to ~130,000);
// the zero point is removed once per element with the column sums: sum (qa - za) qw = sum qa qw - za * colsum.
//
// Epilogue (dequantize + bias), per element, in this order so that every path and the reference agree bit for bit:
//   c = (float)(acc - za * colsum) * (sa * sw) + bias        (float multiply then add; never fused)
//
// Microkernels (each computes an MR x 16 int32 tile over the whole of Kp; A is read in place, one 4-byte broadcast per row
// per group of 4 reduction steps):
//   AvxVnni   6 x 16: vpdpbusd (u8 x s8, 4 products summed into each s32 lane, no saturation); 12 ymm accumulators
//   Avx512BW  8 x 16: vpmaddubsw (u8 x s8 pairs -> saturating s16) + vpmaddwd with ones (-> s32) + add; one zmm per row
//   Avx2      4 x 16: the same chain on ymm; 8 accumulators
//   Portable  4 x 16: scalar, emulating the maddubs chain step by step (s16 saturation included, so the 7-bit weight bound
//             that keeps the chain exact is exercised on any machine)
// Weights limited to 7 bits make the maddubs route exact (2 * 255 * 63 = 32130 < 32767), so all four give the same integers.
//
// Threading: C is cut into tiles of 48 rows x 4 panels (64 columns), claimed dynamically through KernelParallelism.

/// <summary>The SIMD path of the int8 GEMM.</summary>
internal enum Int8Isa
{
    /// <summary>Scalar, emulating the maddubs chain.</summary>
    Portable,
    /// <summary>AVX2 vpmaddubsw + vpmaddwd on 256-bit registers.</summary>
    Avx2,
    /// <summary>AVX-512BW vpmaddubsw + vpmaddwd on 512-bit registers.</summary>
    Avx512BW,
    /// <summary>AVX-VNNI vpdpbusd on 256-bit registers.</summary>
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

    /// <summary>The fastest path the hardware runs: AVX-VNNI, then AVX-512BW, then AVX2, then portable.</summary>
    public static readonly Int8Isa Best = Select(AvxVnni.IsSupported, Avx512BW.IsSupported, Avx2.IsSupported);

    /// <summary>The dispatch rule, separated from the hardware query so tests can check it for every machine.</summary>
    internal static Int8Isa Select(bool avxVnni, bool avx512BW, bool avx2) =>
        avxVnni ? Int8Isa.AvxVnni : avx512BW ? Int8Isa.Avx512BW : avx2 ? Int8Isa.Avx2 : Int8Isa.Portable;

    /// <summary>C[M,N] = ((qa - za) qw^T) * (sa sw) + bias on the best path.</summary>
    /// <param name="qa">[M, Kp] u8 activations (Kp = w.KPadded), zero padded.</param>
    /// <param name="sa">[M] activation scales.</param>
    /// <param name="za">[M] activation zero points.</param>
    /// <param name="w">The packed quantized weight [N, K].</param>
    /// <param name="bias">[N] or empty.</param>
    /// <param name="c">[M, N], overwritten.</param>
    /// <param name="m">Rows.</param>
    public static void Multiply(ReadOnlySpan<byte> qa, ReadOnlySpan<float> sa, ReadOnlySpan<int> za, QuantizedMatrix w, ReadOnlySpan<float> bias, Span<float> c, int m)
        => Multiply(qa, sa, za, w, bias, c, m, Best);

    internal static void Multiply(ReadOnlySpan<byte> qa, ReadOnlySpan<float> sa, ReadOnlySpan<int> za, QuantizedMatrix w, ReadOnlySpan<float> bias, Span<float> c, int m, Int8Isa isa)
    {
        ArgumentNullException.ThrowIfNull(w);
        MultiplyColumns(qa, sa, za, w, bias, c, m, w.N, 0, w.N, isa);
    }

    /// <summary>Columns [first, first + count) of the product only, into c[r * ldc + (j - first)]; first is a multiple of 16.</summary>
    internal static void MultiplyColumns(ReadOnlySpan<byte> qa, ReadOnlySpan<float> sa, ReadOnlySpan<int> za, QuantizedMatrix w, ReadOnlySpan<float> bias,
        Span<float> c, int m, int ldc, int first, int count, Int8Isa isa)
    {
        ArgumentNullException.ThrowIfNull(w);
        KernelGuard.Positive(m, nameof(m));
        KernelGuard.Length(qa, (long)m * w.KPadded, nameof(qa));
        KernelGuard.Length(sa, m, nameof(sa));
        KernelGuard.Length(za, m, nameof(za));
        if (first < 0 || count < 0 || first + count > w.N || first % QuantizedMatrix.Nr != 0 || ldc < count)
            throw new ArgumentOutOfRangeException(nameof(first), $"columns [{first}, {first + count}) with row stride {ldc} do not fit a product of {w.N} columns in whole 16-column panels.");
        if (m > 0 && count > 0) KernelGuard.Length(c, (long)(m - 1) * ldc + count, nameof(c));
        if (!bias.IsEmpty) KernelGuard.Length(bias, w.N, nameof(bias));
        if (!IsSupported(isa)) throw new PlatformNotSupportedException($"The {isa} int8 path needs hardware this machine lacks.");
        if (m == 0 || count == 0) return;
        fixed (byte* pa = qa)
        fixed (float* psa = sa, pbias = bias, pc = c, psw = w.Scale)
        fixed (int* pza = za, psum = w.ColumnSum)
        fixed (sbyte* pw = w.Packed)
        {
            var job = new Job
            {
                A = pa, Sa = psa, Za = pza, W = pw, Sw = psw, ColumnSum = psum, Bias = bias.IsEmpty ? null : pbias, C = pc,
                M = m, N = first + count, Kp = w.KPadded, Ldc = ldc, First = first, FirstPanel = first / QuantizedMatrix.Nr,
                Panels = (first + count + QuantizedMatrix.Nr - 1) / QuantizedMatrix.Nr, Isa = isa, RowTiles = (m + Mc - 1) / Mc,
            };
            job.PanelGroups = (job.Panels - job.FirstPanel + PanelsPerTile - 1) / PanelsPerTile;
            int parts = job.RowTiles * job.PanelGroups;
            int threads = KernelParallelism.DegreeFor(2L * m * count * w.KPadded, parts);
            if (threads <= 1) for (int i = 0; i < parts; i++) RunTile(&job, i);
            else KernelParallelism.For(parts, &job, &RunTile, threads);
        }
    }

    private struct Job
    {
        public byte* A;
        public float* Sa;
        public int* Za;
        public sbyte* W;
        public float* Sw;
        public int* ColumnSum;
        public float* Bias;
        public float* C;
        public int M, N, Kp, Ldc, First, FirstPanel, Panels, RowTiles, PanelGroups;   // N: end column; Panels: end panel
        public Int8Isa Isa;
    }

    private static void RunTile(void* state, int index)
    {
        var job = (Job*)state;
        int rowTile = index / job->PanelGroups, group = index % job->PanelGroups;
        int r0 = rowTile * Mc, r1 = Math.Min(job->M, r0 + Mc);
        int j0 = job->FirstPanel + group * PanelsPerTile, j1 = Math.Min(job->Panels, j0 + PanelsPerTile);
        int mr = job->Isa switch { Int8Isa.AvxVnni => 6, Int8Isa.Avx512BW => 8, _ => 4 };
        int* tile = stackalloc int[8 * QuantizedMatrix.Nr];
        int kp = job->Kp;
        for (int j = j0; j < j1; j++)
        {
            sbyte* panel = job->W + (long)j * kp * QuantizedMatrix.Nr;
            int col0 = j * QuantizedMatrix.Nr, cols = Math.Min(QuantizedMatrix.Nr, job->N - col0);
            for (int r = r0; r < r1; r += mr)
            {
                int rows = Math.Min(mr, r1 - r);
                byte* a = job->A + (long)r * kp;
                switch (job->Isa)
                {
                    case Int8Isa.AvxVnni: KernelVnni6x16(a, kp, rows, panel, tile); break;
                    case Int8Isa.Avx512BW: Kernel512x8x16(a, kp, rows, panel, tile); break;
                    case Int8Isa.Avx2: KernelAvx2x4x16(a, kp, rows, panel, tile); break;
                    default: KernelPortable4x16(a, kp, rows, panel, tile); break;
                }
                Epilogue(job, tile, r, rows, col0, cols);
            }
        }
    }

    /// <summary>c = (float)(acc - za * colsum) * (sa * sw) + bias for one tile (tile stride 16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Epilogue(Job* job, int* tile, int r0, int rows, int col0, int cols)
    {
        for (int i = 0; i < rows; i++)
        {
            int za = job->Za[r0 + i];
            float sa = job->Sa[r0 + i];
            float* c = job->C + (long)(r0 + i) * job->Ldc + (col0 - job->First);
            int* acc = tile + i * QuantizedMatrix.Nr;
            for (int j = 0; j < cols; j++)
            {
                float v = (float)(acc[j] - za * job->ColumnSum[col0 + j]) * (sa * job->Sw[col0 + j]);
                c[j] = job->Bias is null ? v : v + job->Bias[col0 + j];
            }
        }
    }

    /// <summary>Row pointer i of an MR-row tile; rows past the valid ones repeat the last (their results are not stored).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte* Row(byte* a, int lda, int rows, int i) => a + (long)Math.Min(i, rows - 1) * lda;
}
