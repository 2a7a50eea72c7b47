namespace CrossEncoder.Native.Kernels;

internal static unsafe partial class Quantize
{
    /// <summary>Reference twin of <see cref="Rows(ReadOnlySpan{float}, Span{ushort}, Span{float}, Span{int}, int, int, in KernelCapabilities)"/>: one element at a time, straight from the formulas in the file header.</summary>
    public static void RowsReference(ReadOnlySpan<float> x, Span<ushort> q, Span<float> scale, Span<int> zeroPoint, int m, int k)
    {
        int kp = PadK(k), levels = ActivationMax(kp);
        for (int r = 0; r < m; r++)
        {
            var row = x.Slice(r * k, k);
            float lo = 0f, hi = 0f;
            foreach (float v in row) { lo = MathF.Min(lo, v); hi = MathF.Max(hi, v); }
            var (s, zp, inv) = RowParameters(lo, hi, levels);
            scale[r] = s;
            zeroPoint[r] = zp;
            for (int i = 0; i < kp; i++)
                q[r * kp + i] = i < k ? (ushort)((int)MathF.Min(MathF.Max(MathF.Round(row[i] * inv), -zp), levels - zp) + zp) : (ushort)0;
        }
    }
}
