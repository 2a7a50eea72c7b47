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

/// <summary>A weight matrix W[N,K] quantized per output channel (int8 symmetric) and packed for <see cref="GemmInt8"/>.</summary>
internal sealed class QuantizedMatrix
{
    /// <summary>Columns per panel (two 256-bit registers of 32-bit lanes).</summary>
    public const int Nr = 16;

    private QuantizedMatrix(int n, int k, sbyte[] packed, float[] scale, int[] columnSum)
    {
        N = n; K = k; Packed = packed; Scale = scale; ColumnSum = columnSum;
    }

    /// <summary>Rows of W (output features).</summary>
    public int N { get; }
    /// <summary>Columns of W (input features).</summary>
    public int K { get; }
    /// <summary>K rounded up to 4.</summary>
    public int KPadded => Quantize.PadK(K);
    /// <summary>ceil(N / 16).</summary>
    public int Panels => (N + Nr - 1) / Nr;
    /// <summary>The packed weights (layout in the file header).</summary>
    public sbyte[] Packed { get; }
    /// <summary>[N] dequantization scale per output channel.</summary>
    public float[] Scale { get; }
    /// <summary>[N] sum of each channel's quantized weights.</summary>
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
        int kp = Quantize.PadK(k), panels = (n + Nr - 1) / Nr;
        var packed = new sbyte[(long)panels * kp * Nr];
        var sums = new int[n];
        for (int row = 0; row < n; row++)
        {
            int j = row / Nr, c = row % Nr, sum = 0;
            for (int p = 0; p < k; p++)
            {
                sbyte v = q[row * k + p];
                if (v < -Quantize.WeightMax || v > Quantize.WeightMax)
                    throw new ArgumentException($"Quantized weight [{row}, {p}] = {v} is outside [-{Quantize.WeightMax}, {Quantize.WeightMax}].", nameof(q));
                packed[(long)j * kp * Nr + (p / 4) * 64 + c * 4 + (p % 4)] = v;
                sum += v;
            }
            sums[row] = sum;
        }
        return new QuantizedMatrix(n, k, packed, scale.ToArray(), sums);
    }

    /// <summary>Unpacks q[N,K] (for writing a quantized file and for tests).</summary>
    public sbyte[] Unpack()
    {
        var q = new sbyte[(long)N * K];
        int kp = KPadded;
        for (int row = 0; row < N; row++)
            for (int p = 0; p < K; p++)
                q[row * K + p] = Packed[(long)(row / Nr) * kp * Nr + (p / 4) * 64 + (row % Nr) * 4 + (p % 4)];
        return q;
    }
}
