namespace CrossEncoder.Native.Kernels;

internal static partial class GemmInt8
{
    /// <summary>
    /// Reference twin: C[M,N] = (float)(sum_p qa[m,p] qw[n,p] - za[m] sum_p qw[n,p]) * (sa[m] sw[n]) + bias[n], with exact
    /// integer sums over the unpacked weights q[N,K] (activations at stride Kp = K rounded up to 4).
    /// </summary>
    public static void MultiplyReference(ReadOnlySpan<ushort> qa, ReadOnlySpan<float> sa, ReadOnlySpan<int> za,
        ReadOnlySpan<sbyte> qw, ReadOnlySpan<float> sw, ReadOnlySpan<float> bias, Span<float> c, int m, int n, int k)
    {
        int kp = Quantize.PadK(k);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                int dot = 0, sum = 0;
                for (int p = 0; p < k; p++)
                {
                    dot += qa[i * kp + p] * qw[j * k + p];
                    sum += qw[j * k + p];
                }
                float v = (float)(dot - za[i] * sum) * (sa[i] * sw[j]);
                c[i * n + j] = bias.IsEmpty ? v : v + bias[j];
            }
    }

    /// <summary>
    /// The readable twin of <see cref="MultiplyGated"/>: the plain product [M, 2I] by <see cref="MultiplyReference"/> over the
    /// unpacked weights q[2I, K] and scales[2I] in the original order, then <see cref="GatedUnit.ApplyReference"/> (the
    /// activation in double). Allocates the product.
    /// </summary>
    public static void MultiplyGatedReference(ReadOnlySpan<ushort> qa, ReadOnlySpan<float> sa, ReadOnlySpan<int> za,
        ReadOnlySpan<sbyte> qw, ReadOnlySpan<float> sw, ReadOnlySpan<float> bias, Span<float> y, int m, int inner, int k, GatedActivation activation)
    {
        var product = new float[(long)m * 2 * inner];   // [M, 2I]
        MultiplyReference(qa, sa, za, qw, sw, bias, product, m, 2 * inner, k);
        GatedUnit.ApplyReference(activation, product, y, m, inner);
    }
}
