namespace CrossEncoder.Native.Kernels;

// A constant weight W[N,K] quantized per output channel to int8 (Quantize.Weights, [-127, 127]) and packed once into the
// layout every int8 microkernel streams (the same layout for every ISA, so a packed matrix never depends
// on the machine). NR = 16 columns per panel, K padded to Kp = round up(K, 4), panels = ceil(N / 16):
//
//   data[j*Kp*16 + (p/4)*64 + c*4 + (p%4)] = q[j*16 + c, p]      (zero where j*16 + c >= N or p >= K)
//
// i.e. each panel is a sequence of 64-byte groups; group g holds, for each of the 16 columns, the 4 weights of reduction
// steps 4g..4g+3. The kernels widen 16 bytes (4 columns) at a time to a 256-bit register of 16-bit lanes (vpmovsxbw, 32
// bytes to a zmm): each 32-bit lane is then one column's 2 consecutive weights, which vpmaddwd (or vpdpwssd) multiplies with the same 2 steps of one activation row (4 activations
// broadcast as one 64-bit value), summing the 2 products into that lane. Alongside: scale[N] (the dequantization factor)
// and columnSum[N] = sum_p q[n, p] (for the activations' zero point: sum (qa - za) qw = sum qa qw - za sum qw).
// Kept as int8 in memory (a quarter of fp32: MiniLM's linears are 10.6 MB), widened in the kernel: the widening runs off
// the multiplier's port. Measured against packing them widened to 16 bits (21 MB) on 2 Zen 2 cores: 1 x 128 forward
// 20.0 -> 19.5 ms, longer batches within noise, and half the memory.
//
// Gated order (FromQuantizedGated, for GemmInt8.MultiplyGated): W is [2I, K], rows [0, I) the activated half, [I, 2I) the
// multiplier half. The packed rows are reordered so that panels come in pairs, panels = 2 * ceil(I / 16): packed row
// (2q + h)*16 + c is W row h*I + q*16 + c (zero, with scale 0 and column sum 0, where q*16 + c >= I). Scale and ColumnSum follow the packed
// order ([panels * 16]); N stays 2I and Unpack restores the original order. Only the order in memory changes: a file keeps
// the tensor as [2I, K] with per-row scales in that order.

/// <summary>A weight matrix W[N,K] quantized per output channel (int8 symmetric) and packed for <see cref="GemmInt8"/>.</summary>
internal sealed class QuantizedMatrix
{
    /// <summary>Columns per panel (two 256-bit registers of 32-bit lanes).</summary>
    public const int Nr = 16;

    private QuantizedMatrix(int n, int k, int inner, sbyte[] packed, float[] scale, int[] columnSum)
    {
        N = n; K = k; Inner = inner; Packed = packed; Scale = scale; ColumnSum = columnSum;
        Panels = inner > 0 ? 2 * ((inner + Nr - 1) / Nr) : (n + Nr - 1) / Nr;
    }

    /// <summary>Rows of W (output features).</summary>
    public int N { get; }
    /// <summary>Columns of W (input features).</summary>
    public int K { get; }
    /// <summary>K rounded up to 4.</summary>
    public int KPadded => Quantize.PadK(K);
    /// <summary>ceil(N / 16); gated: 2 * ceil(I / 16) (activated and multiplier panels in pairs).</summary>
    public int Panels { get; }
    /// <summary>I for a matrix in gated order (<see cref="FromQuantizedGated"/>, N = 2I); 0 for the plain order.</summary>
    public int Inner { get; }
    /// <summary>True when the rows are in gated order (only <see cref="GemmInt8.MultiplyGated"/> takes it).</summary>
    public bool IsGated => Inner > 0;
    /// <summary>The packed weights (layout in the file header).</summary>
    public sbyte[] Packed { get; }
    /// <summary>[N] dequantization scale per output channel (gated: [Panels * 16], in packed order).</summary>
    public float[] Scale { get; }
    /// <summary>[N] sum of each channel's quantized weights (gated: [Panels * 16], in packed order).</summary>
    public int[] ColumnSum { get; }

    /// <summary>Quantizes a float W[N,K] (int8, per channel) and packs it.</summary>
    public static QuantizedMatrix FromFloat(ReadOnlySpan<float> w, int n, int k)
    {
        var q = new sbyte[(long)n * k];
        var scale = new float[n];
        Quantize.Weights(w, q, scale, n, k);
        return FromQuantized(q, scale, n, k);
    }

    /// <summary>Packs already quantized weights q[N,K] (each in [-127, 127]) with their scales[N].</summary>
    public static QuantizedMatrix FromQuantized(ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scale, int n, int k)
    {
        KernelGuard.Positive(n, nameof(n));
        KernelGuard.Positive(k, nameof(k));
        KernelGuard.Length(q, (long)n * k, nameof(q));
        KernelGuard.Length(scale, n, nameof(scale));
        var (packed, sums) = PackRows(q, n, k, row => row);
        return new QuantizedMatrix(n, k, 0, packed, scale.ToArray(), sums);
    }

    /// <summary>
    /// Packs a gated layer's quantized weight q[2I, K] (activated rows, then multiplier rows; each in [-127, 127]) with its scales[2I],
    /// both in the original order, into gated order (file header): for <see cref="GemmInt8.MultiplyGated"/>.
    /// </summary>
    public static QuantizedMatrix FromQuantizedGated(ReadOnlySpan<sbyte> q, ReadOnlySpan<float> scale, int inner, int k)
    {
        if (inner <= 0) throw new ArgumentOutOfRangeException(nameof(inner), inner, "A gated layer needs at least one output.");
        KernelGuard.Positive(k, nameof(k));
        KernelGuard.Length(q, 2L * inner * k, nameof(q));
        KernelGuard.Length(scale, 2 * inner, nameof(scale));
        int padded = 2 * ((inner + Nr - 1) / Nr) * Nr;
        var (packed, sums) = PackRows(q, padded, k, row => GatedSourceRow(row, inner));
        var packedScale = new float[padded];
        for (int row = 0; row < padded; row++)
            if (GatedSourceRow(row, inner) is int source and >= 0) packedScale[row] = scale[source];
        return new QuantizedMatrix(2 * inner, k, inner, packed, packedScale, sums);
    }

    /// <summary>The row of W [2I, K] at packed row <paramref name="row"/> of the gated order, or -1 for a zero padding row.</summary>
    private static int GatedSourceRow(int row, int inner)
    {
        int panel = row / Nr, q = panel / 2, half = panel % 2, column = q * Nr + row % Nr;
        return column < inner ? half * inner + column : -1;
    }

    /// <summary>Packs <paramref name="rows"/> rows, packed row r taken from q's row source(r) (zeros where that is -1), with
    /// their column sums.</summary>
    private static (sbyte[] Packed, int[] Sums) PackRows(ReadOnlySpan<sbyte> q, int rows, int k, Func<int, int> source)
    {
        int kp = Quantize.PadK(k), panels = (rows + Nr - 1) / Nr;
        var packed = new sbyte[(long)panels * kp * Nr];
        var sums = new int[rows];
        for (int row = 0; row < rows; row++)
        {
            int j = row / Nr, c = row % Nr, sum = 0, from = source(row);
            if (from < 0) continue;
            for (int p = 0; p < k; p++)
            {
                sbyte v = q[from * k + p];
                if (v < -Quantize.WeightMax || v > Quantize.WeightMax)
                    throw new ArgumentException($"Quantized weight [{from}, {p}] = {v} is outside [-{Quantize.WeightMax}, {Quantize.WeightMax}].", nameof(q));
                packed[(long)j * kp * Nr + (p / 4) * 64 + c * 4 + (p % 4)] = v;
                sum += v;
            }
            sums[row] = sum;
        }
        return (packed, sums);
    }

    /// <summary>Unpacks q[N,K] in the original row order (for writing a quantized file and for tests).</summary>
    public sbyte[] Unpack()
    {
        var q = new sbyte[(long)N * K];
        int kp = KPadded, packedRows = Panels * Nr;
        for (int row = 0; row < packedRows; row++)
        {
            int to = IsGated ? GatedSourceRow(row, Inner) : row;
            if (to < 0 || to >= N) continue;
            for (int p = 0; p < K; p++)
                q[to * K + p] = Packed[(long)(row / Nr) * kp * Nr + (p / 4) * 64 + (row % Nr) * 4 + (p % 4)];
        }
        return q;
    }
}
