namespace CrossEncoder.Native.Kernels;

internal static unsafe partial class GemmInt8
{
    /// <summary>
    /// Portable 4 x 16 microkernel, scalar, with the SIMD paths' lanes: per column an even lane (steps 4g, 4g+1) and an odd
    /// lane (4g+2, 4g+3), each the sum of two 16-bit products, as vpmaddwd forms them.
    /// </summary>
    private static void KernelPortable4x16(ushort* a, int lda, int rows, sbyte* panel, int* tile)
    {
        for (int i = 0; i < 4; i++)
        {
            ushort* ai = Row(a, lda, rows, i);
            int* lanes = tile + i * TileStride;
            for (int l = 0; l < TileStride; l++) lanes[l] = 0;
            for (int g = 0; g < lda / 4; g++)
            {
                ushort* x = ai + 4 * g;
                sbyte* wg = panel + g * 64;
                for (int c = 0; c < QuantizedMatrix.Nr; c++)
                {
                    sbyte* wc = wg + 4 * c;
                    lanes[2 * c] += x[0] * wc[0] + x[1] * wc[1];
                    lanes[2 * c + 1] += x[2] * wc[2] + x[3] * wc[3];
                }
            }
        }
    }
}
