namespace CrossEncoder.Native.Kernels;

internal static unsafe partial class GemmInt8
{
    /// <summary>
    /// Portable 4 x 16 microkernel, scalar. It performs exactly the arithmetic of the maddubs chain (AVX2 / AVX-512BW): per
    /// lane, two u8 x s8 products summed and saturated to s16 (vpmaddubsw), two such s16 summed to s32 (vpmaddwd with ones),
    /// added to the accumulator. With 7-bit weights the saturation never triggers, which the tests check against exact sums.
    /// </summary>
    private static void KernelPortable4x16(byte* a, int lda, int rows, sbyte* panel, int* tile)
    {
        for (int i = 0; i < 4; i++)
        {
            byte* ai = Row(a, lda, rows, i);
            int* acc = tile + i * QuantizedMatrix.Nr;
            for (int c = 0; c < QuantizedMatrix.Nr; c++) acc[c] = 0;
            for (int g = 0; g < lda / 4; g++)
            {
                byte* x = ai + 4 * g;
                sbyte* wg = panel + g * 64;
                for (int c = 0; c < QuantizedMatrix.Nr; c++)
                {
                    sbyte* wc = wg + 4 * c;
                    int lo = SaturateToInt16(x[0] * wc[0] + x[1] * wc[1]);   // vpmaddubsw, even pair
                    int hi = SaturateToInt16(x[2] * wc[2] + x[3] * wc[3]);   // vpmaddubsw, odd pair
                    acc[c] += lo + hi;                                        // vpmaddwd with ones, then vpaddd
                }
            }
        }
    }

    internal static int SaturateToInt16(int v) => Math.Clamp(v, short.MinValue, short.MaxValue);
}
