using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Native.Kernels;

// Quantization for the int8 GEMM (GemmInt8.cs).
//
// Activations, per row (one token), asymmetric unsigned on L levels:   x ~ scale * (q - zeroPoint),  q in [0, L]
//   lo = min(0, min x), hi = max(0, max x)             (the range always holds 0, so zero stays exact)
//   scale = (hi - lo) / L  (1 for an all-zero row),  zeroPoint = clamp(round(-lo / scale), 0, L)
//   q = clamp(round(x * (1 / scale)) + zeroPoint, 0, L)              (round half to even)
//   L = ActivationMax(Kp) = 4095 (12 bits) for K up to 4128, fewer beyond, so that sum_p q qw always fits int32.
// q is stored as u16 (the GEMM multiplies 16-bit lanes). The row is written at stride kPadded (K rounded up to 4, the
// GEMM's reduction step) with zeros in the padding.
//
// Weights, per output channel (row of W[N,K]), symmetric int8:   w ~ scale * q,  q in [-127, 127]
//   scale = max|w| / 127  (1 for an all-zero row),  q = clamp(round(w / scale), -127, 127)
//
// Why 12-bit activations: the products run as 16-bit x 16-bit multiply-adds (vpmaddwd / vpdpwssd), which cost on AVX2 and
// AVX-512BW exactly what the 8-bit route (vpmaddubsw + vpmaddwd) costs, and are exact for any 16-bit operands; 8-bit
// activations would buy nothing there. Measured on 1,000 real pairs (verify --precision int8): 8-bit activations leave
// the probe-head cross-encoder's mean Spearman at 0.988, 12-bit ones at 0.998 (see README, int8).

/// <summary>Per-row (activation) and per-channel (weight) quantization for <see cref="GemmInt8"/>.</summary>
internal static unsafe partial class Quantize
{
    /// <summary>Largest weight magnitude after quantization (int8, symmetric).</summary>
    public const int WeightMax = 127;

    /// <summary>Activation levels for 12 bits.</summary>
    public const int ActivationBits12 = 4095;

    /// <summary>The activations' top level L for a reduction of <paramref name="kPadded"/> steps: 4095 (12 bits) unless
    /// L * 127 * Kp would not fit int32, then the largest L that does (K above 4,128).</summary>
    public static int ActivationMax(int kPadded) =>
        (int)Math.Max(1, Math.Min(ActivationBits12, int.MaxValue / (WeightMax * (long)Math.Max(kPadded, 1))));

    /// <summary>K rounded up to the GEMM's reduction step (4 bytes per 32-bit lane).</summary>
    public static int PadK(int k) => (k + 3) & ~3;

    /// <summary>
    /// q[M, kPadded] = per-row asymmetric quantization of x[M, K] to [0, ActivationMax(kPadded)]; scale[M], zeroPoint[M].
    /// Padding columns are zero. The AVX2 loops run where <paramref name="caps"/>.<see cref="KernelCapabilities.Int8UsesAvx2"/>,
    /// the portable Vector&lt;T&gt; ones otherwise (bit-identical); at most <see cref="KernelCapabilities.MaxThreads"/> threads.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">The hardware lacks <paramref name="caps"/>.Int8Isa.</exception>
    public static void Rows(ReadOnlySpan<float> x, Span<ushort> q, Span<float> scale, Span<int> zeroPoint, int m, int k, in KernelCapabilities caps)
    {
        caps.RequireInt8Support();
        int kp = PadK(k);
        KernelGuard.Positive(m, nameof(m));
        KernelGuard.Positive(k, nameof(k));
        KernelGuard.Length(x, (long)m * k, nameof(x));
        KernelGuard.Length(q, (long)m * kp, nameof(q));
        KernelGuard.Length(scale, m, nameof(scale));
        KernelGuard.Length(zeroPoint, m, nameof(zeroPoint));
        int levels = ActivationMax(kp), parts = (m + RowsPerPart - 1) / RowsPerPart;
        // Rows are independent: large inputs are cut into parts of 32 rows across the cores (~8 flops' worth per element).
        int threads = caps.ThreadsFor(8L * m * k, parts);
        fixed (float* px = x)
        fixed (ushort* pq = q)
        fixed (float* ps = scale)
        fixed (int* pz = zeroPoint)
        {
            var job = new RowsJob { X = px, Q = pq, Scale = ps, ZeroPoint = pz, M = m, K = k, Levels = levels, Avx2 = caps.Int8UsesAvx2 };
            if (threads <= 1) for (int part = 0; part < parts; part++) RowsPart(&job, part);
            else KernelParallelism.For(parts, &job, &RowsPart, threads);
        }
    }

    /// <summary><see cref="Rows(ReadOnlySpan{float}, Span{ushort}, Span{float}, Span{int}, int, int, in KernelCapabilities)"/> for <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static void Rows(ReadOnlySpan<float> x, Span<ushort> q, Span<float> scale, Span<int> zeroPoint, int m, int k)
        => Rows(x, q, scale, zeroPoint, m, k, KernelCapabilities.Default);

    private const int RowsPerPart = 32;

    private struct RowsJob
    {
        public float* X;
        public ushort* Q;
        public float* Scale;
        public int* ZeroPoint;
        public int M, K, Levels;
        /// <summary>The call's <see cref="KernelCapabilities.Int8UsesAvx2"/>.</summary>
        public bool Avx2;
    }

    private static void RowsPart(void* state, int part)
    {
        var job = (RowsJob*)state;
        int k = job->K, kp = PadK(k), r1 = Math.Min(job->M, (part + 1) * RowsPerPart);
        for (int r = part * RowsPerPart; r < r1; r++)
            Row(new ReadOnlySpan<float>(job->X + (long)r * k, k), new Span<ushort>(job->Q + (long)r * kp, kp), job->Levels, job->Avx2, out job->Scale[r], out job->ZeroPoint[r]);
    }

    /// <summary>The range, scale and zero point of one row on <paramref name="levels"/> levels (shared with the reference twin).</summary>
    internal static (float Scale, int ZeroPoint, float InverseScale) RowParameters(float lo, float hi, int levels)
    {
        lo = MathF.Min(0f, lo);
        hi = MathF.Max(0f, hi);
        float scale = (hi - lo) / levels;
        // A NaN or infinite input: every q becomes 0 and the scale NaN, so the product's row is NaN, as in fp32.
        if (!float.IsFinite(scale)) return (float.NaN, 0, 0f);
        if (!(scale > 0f)) return (1f, 0, 1f);
        int zeroPoint = (int)Math.Clamp(MathF.Round(-lo / scale), 0f, levels);
        return (scale, zeroPoint, 1f / scale);
    }

    private static void Row(ReadOnlySpan<float> x, Span<ushort> q, int levels, bool avx2, out float scale, out int zeroPoint)
    {
        int k = x.Length, i = 0;
        float lo = 0f, hi = 0f;
        ref float x0 = ref MemoryMarshal.GetReference(x);
        if (avx2 && k >= 8)
        {
            // vminps / vmaxps: for finite inputs the same extremes as MathF.Min / Max (a signed zero can differ, which
            // RowParameters' min(0, lo) / max(0, hi) then makes irrelevant). They drop a NaN where MathF keeps it, so NaNs
            // are tracked on their own (vcmpunordps).
            var vlo = Vector256<float>.Zero;
            var vhi = Vector256<float>.Zero;
            var nan = Vector256<float>.Zero;
            fixed (float* px = x)
                for (; i <= k - 8; i += 8)
                {
                    var v = Avx.LoadVector256(px + i);
                    vlo = Avx.Min(vlo, v);
                    vhi = Avx.Max(vhi, v);
                    nan = Avx.Or(nan, Avx.CompareUnordered(v, v));
                }
            for (int l = 0; l < 8; l++) { lo = MathF.Min(lo, vlo.GetElement(l)); hi = MathF.Max(hi, vhi.GetElement(l)); }
            if (Avx.MoveMask(nan) != 0) lo = float.NaN;
        }
        // Vector.IsHardwareAccelerated (here and below) is not a path choice: the Vector<T> loops and the scalar ones give the
        // same bits (RowsReference is scalar), and the check only skips vector code where Vector<T> would be emulated.
        else if (Vector.IsHardwareAccelerated && k >= Vector<float>.Count)
        {
            var vlo = Vector<float>.Zero;
            var vhi = Vector<float>.Zero;
            var ordered = Vector<int>.AllBitsSet;   // lanes stay all ones while no NaN was seen (NaN != NaN)
            for (; i <= k - Vector<float>.Count; i += Vector<float>.Count)
            {
                var v = Vector.LoadUnsafe(ref x0, (nuint)i);
                vlo = Vector.Min(vlo, v);
                vhi = Vector.Max(vhi, v);
                ordered &= Vector.Equals(v, v);
            }
            for (int l = 0; l < Vector<float>.Count; l++) { lo = MathF.Min(lo, vlo[l]); hi = MathF.Max(hi, vhi[l]); }
            if (ordered != Vector<int>.AllBitsSet) lo = float.NaN;
        }
        for (; i < k; i++) { lo = MathF.Min(lo, x[i]); hi = MathF.Max(hi, x[i]); }
        (scale, zeroPoint, float inv) = RowParameters(lo, hi, levels);

        // q = clamp(round(x * inv), -zp, L - zp) + zp: clamping before the conversion keeps it in int range.
        i = 0;
        float qlo = -zeroPoint, qhi = levels - zeroPoint;
        if (avx2)
        {
            // The same operations as the portable loop below, in AVX2 (Vector.Round and Vector.Narrow cost ~2.5 cycles an
            // element there): vroundps (to nearest, half to even, as MathF.Round), clamp, convert, add, then vpackusdw
            // (in-lane: a0-3 b0-3 | a4-7 b4-7) and vpermq to restore the order.
            var vinv = Vector256.Create(inv);
            var vqlo = Vector256.Create(qlo);
            var vqhi = Vector256.Create(qhi);
            var vzp = Vector256.Create(zeroPoint);
            fixed (float* px = x)
            fixed (ushort* pq = q)
                for (; i <= k - 16; i += 16)
                {
                    var a = Avx.RoundToNearestInteger(Avx.Multiply(Avx.LoadVector256(px + i), vinv));
                    var b = Avx.RoundToNearestInteger(Avx.Multiply(Avx.LoadVector256(px + i + 8), vinv));
                    var qa = Avx2.Add(Avx.ConvertToVector256Int32WithTruncation(Avx.Min(Avx.Max(a, vqlo), vqhi)), vzp);
                    var qb = Avx2.Add(Avx.ConvertToVector256Int32WithTruncation(Avx.Min(Avx.Max(b, vqlo), vqhi)), vzp);
                    Avx2.Permute4x64(Avx2.PackUnsignedSaturate(qa, qb).AsUInt64(), 0b11_01_10_00).AsUInt16().Store(pq + i);
                }
        }
        else if (Vector.IsHardwareAccelerated && k >= 2 * Vector<float>.Count)
        {
            var vinv = new Vector<float>(inv);
            var vqlo = new Vector<float>(qlo);
            var vqhi = new Vector<float>(qhi);
            var vzp = new Vector<int>(zeroPoint);
            ref ushort q0 = ref MemoryMarshal.GetReference(q);
            for (; i <= k - 2 * Vector<float>.Count; i += 2 * Vector<float>.Count)
            {
                var a = Vector.Round(Vector.LoadUnsafe(ref x0, (nuint)i) * vinv);
                var b = Vector.Round(Vector.LoadUnsafe(ref x0, (nuint)(i + Vector<float>.Count)) * vinv);
                var qa = Vector.ConvertToInt32(Vector.Min(Vector.Max(a, vqlo), vqhi)) + vzp;
                var qb = Vector.ConvertToInt32(Vector.Min(Vector.Max(b, vqlo), vqhi)) + vzp;
                Vector.Narrow(Vector.AsVectorUInt32(qa), Vector.AsVectorUInt32(qb)).StoreUnsafe(ref q0, (nuint)i);   // values in [0, L]: exact
            }
        }
        for (; i < k; i++)
            q[i] = (ushort)((int)MathF.Min(MathF.Max(MathF.Round(x[i] * inv), qlo), qhi) + zeroPoint);
        q[k..].Clear();
    }

    /// <summary>Index of the first NaN or infinity in <paramref name="values"/>, or -1.</summary>
    public static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++) if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>q[N, K] = per-output-channel symmetric quantization of w[N, K] to [-max, max] (int8 by default); scale[N].</summary>
    public static void Weights(ReadOnlySpan<float> w, Span<sbyte> q, Span<float> scale, int n, int k, int max = WeightMax)
    {
        if (max is < 1 or > 127) throw new ArgumentOutOfRangeException(nameof(max), max, "max must be in [1, 127].");
        KernelGuard.Length(w, (long)n * k, nameof(w));
        KernelGuard.Length(q, (long)n * k, nameof(q));
        KernelGuard.Length(scale, n, nameof(scale));
        for (int r = 0; r < n; r++)
        {
            var row = w.Slice(r * k, k);
            float amax = 0f;
            foreach (float v in row) amax = MathF.Max(amax, MathF.Abs(v));
            if (!float.IsFinite(amax))   // NaN or infinity: it would round to an arbitrary integer and hide in finite scores
                throw new ArgumentException($"weight row {r} holds {row[FirstNonFinite(row)]} at column {FirstNonFinite(row)}: int8 cannot represent a non-finite weight.", nameof(w));
            float s = amax > 0f && float.IsFinite(amax) ? amax / max : 1f;
            scale[r] = s;
            for (int i = 0; i < k; i++)
                q[r * k + i] = (sbyte)Math.Clamp(MathF.Round(row[i] / s), -max, max);
        }
    }
}
