using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CrossEncoder.Native.Kernels;

// Quantization for the int8 GEMM (GemmInt8.cs).
//
// Activations, per row (one token), asymmetric u8:   x ~ scale * (q - zeroPoint),  q in [0, 255]
//   lo = min(0, min x), hi = max(0, max x)             (the range always holds 0, so zero stays exact)
//   scale = (hi - lo) / 255  (1 for an all-zero row),  zeroPoint = clamp(round(-lo / scale), 0, 255)
//   q = clamp(round(x * (1 / scale)) + zeroPoint, 0, 255)            (round half to even)
// The row is written at stride kPadded (K rounded up to 4, the GEMM's reduction step) with zeros in the padding.
//
// Weights, per output channel (row of W[N,K]), symmetric s8 on 7 bits:   w ~ scale * q,  q in [-63, 63]
//   scale = max|w| / 63  (1 for an all-zero row),  q = clamp(round(w / scale), -63, 63)
// Why 7 bits: the AVX2 / AVX-512BW route multiplies u8 x s8 with vpmaddubsw, which adds two products into a *saturating*
// s16: 255 * 127 * 2 = 64770 would overflow, 255 * 63 * 2 = 32130 cannot. Every ISA path uses the same 7-bit weights, so
// all paths (and the reference twin) produce identical integers; the accuracy cost is measured by the gate (`verify`).

/// <summary>Per-row (activation) and per-channel (weight) quantization for <see cref="GemmInt8"/>.</summary>
internal static partial class Quantize
{
    /// <summary>Largest weight magnitude after quantization (7 bits, see the file header).</summary>
    public const int WeightMax = 63;

    /// <summary>K rounded up to the GEMM's reduction step (4 bytes per 32-bit lane).</summary>
    public static int PadK(int k) => (k + 3) & ~3;

    /// <summary>
    /// q[M, kPadded] = per-row asymmetric u8 quantization of x[M, K]; scale[M], zeroPoint[M]. Padding columns are zero.
    /// </summary>
    public static void Rows(ReadOnlySpan<float> x, Span<byte> q, Span<float> scale, Span<int> zeroPoint, int m, int k)
    {
        int kp = PadK(k);
        KernelGuard.Positive(m, nameof(m));
        KernelGuard.Positive(k, nameof(k));
        KernelGuard.Length(x, (long)m * k, nameof(x));
        KernelGuard.Length(q, (long)m * kp, nameof(q));
        KernelGuard.Length(scale, m, nameof(scale));
        KernelGuard.Length(zeroPoint, m, nameof(zeroPoint));
        for (int r = 0; r < m; r++)
            Row(x.Slice(r * k, k), q.Slice(r * kp, kp), out scale[r], out zeroPoint[r]);
    }

    /// <summary>The range, scale and zero point of one row (shared with the reference twin).</summary>
    internal static (float Scale, int ZeroPoint, float InverseScale) RowParameters(float lo, float hi)
    {
        lo = MathF.Min(0f, lo);
        hi = MathF.Max(0f, hi);
        float scale = (hi - lo) / 255f;
        if (!(scale > 0f) || !float.IsFinite(scale)) return (1f, 0, 1f);
        int zeroPoint = (int)Math.Clamp(MathF.Round(-lo / scale), 0f, 255f);
        return (scale, zeroPoint, 1f / scale);
    }

    private static void Row(ReadOnlySpan<float> x, Span<byte> q, out float scale, out int zeroPoint)
    {
        int k = x.Length, i = 0;
        float lo = 0f, hi = 0f;
        if (Vector.IsHardwareAccelerated && k >= Vector<float>.Count)
        {
            var vlo = Vector<float>.Zero;
            var vhi = Vector<float>.Zero;
            ref float x0 = ref MemoryMarshal.GetReference(x);
            for (; i <= k - Vector<float>.Count; i += Vector<float>.Count)
            {
                var v = Vector.LoadUnsafe(ref x0, (nuint)i);
                vlo = Vector.Min(vlo, v);
                vhi = Vector.Max(vhi, v);
            }
            for (int l = 0; l < Vector<float>.Count; l++) { lo = MathF.Min(lo, vlo[l]); hi = MathF.Max(hi, vhi[l]); }
        }
        for (; i < k; i++) { lo = MathF.Min(lo, x[i]); hi = MathF.Max(hi, x[i]); }
        (scale, zeroPoint, float inv) = RowParameters(lo, hi);

        // q = clamp(round(x * inv), -zp, 255 - zp) + zp: clamping before the conversion keeps it in int range.
        i = 0;
        float qlo = -zeroPoint, qhi = 255 - zeroPoint;
        if (Vector.IsHardwareAccelerated && k >= Vector<float>.Count)
        {
            ref float x0 = ref MemoryMarshal.GetReference(x);
            var vinv = new Vector<float>(inv);
            var vqlo = new Vector<float>(qlo);
            var vqhi = new Vector<float>(qhi);
            var vzp = new Vector<int>(zeroPoint);
            Span<int> lanes = stackalloc int[Vector<int>.Count];
            for (; i <= k - Vector<float>.Count; i += Vector<float>.Count)
            {
                var v = Vector.Round(Vector.LoadUnsafe(ref x0, (nuint)i) * vinv);
                var qi = Vector.ConvertToInt32(Vector.Min(Vector.Max(v, vqlo), vqhi)) + vzp;
                qi.CopyTo(lanes);
                for (int l = 0; l < lanes.Length; l++) q[i + l] = (byte)lanes[l];
            }
        }
        for (; i < k; i++)
            q[i] = (byte)((int)MathF.Min(MathF.Max(MathF.Round(x[i] * inv), qlo), qhi) + zeroPoint);
        q[k..].Clear();
    }

    /// <summary>q[N, K] = per-output-channel symmetric quantization of w[N, K] to [-max, max] (7 bits by default); scale[N].</summary>
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
            float s = amax > 0f && float.IsFinite(amax) ? amax / max : 1f;
            scale[r] = s;
            for (int i = 0; i < k; i++)
                q[r * k + i] = (sbyte)Math.Clamp(MathF.Round(row[i] / s), -max, max);
        }
    }
}
