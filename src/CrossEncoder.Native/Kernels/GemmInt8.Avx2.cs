using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Native.Kernels;

internal static unsafe partial class GemmInt8
{
    /// <summary>
    /// AVX2 2 x 16 microkernel. Per group of 4 reduction steps (64 weights: 4 registers of 4 columns) and per row: one 8-byte
    /// broadcast of the row's 4 activations, then per register vpmaddwd (16-bit pairs multiplied and summed into 32-bit
    /// lanes) and vpaddd. 8 accumulators + 2 broadcasts + weights + product = 12 of 16 ymm.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelAvx2x2x16(ushort* a, int lda, int rows, short* panel, int* tile)
    {
        ushort* a0 = Row(a, lda, rows, 0), a1 = Row(a, lda, rows, 1);
        Vector256<int> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<int> c10 = default, c11 = default, c12 = default, c13 = default;
        short* end = panel + (long)lda * QuantizedMatrix.Nr;
        for (short* w = panel; w < end; w += 64, a0 += 4, a1 += 4)
        {
            var x0 = Vector256.Create(*(long*)a0).AsInt16();
            var x1 = Vector256.Create(*(long*)a1).AsInt16();
            var w0 = Vector256.Load(w);
            c00 = Avx2.Add(c00, Avx2.MultiplyAddAdjacent(x0, w0));
            c10 = Avx2.Add(c10, Avx2.MultiplyAddAdjacent(x1, w0));
            var w1 = Vector256.Load(w + 16);
            c01 = Avx2.Add(c01, Avx2.MultiplyAddAdjacent(x0, w1));
            c11 = Avx2.Add(c11, Avx2.MultiplyAddAdjacent(x1, w1));
            var w2 = Vector256.Load(w + 32);
            c02 = Avx2.Add(c02, Avx2.MultiplyAddAdjacent(x0, w2));
            c12 = Avx2.Add(c12, Avx2.MultiplyAddAdjacent(x1, w2));
            var w3 = Vector256.Load(w + 48);
            c03 = Avx2.Add(c03, Avx2.MultiplyAddAdjacent(x0, w3));
            c13 = Avx2.Add(c13, Avx2.MultiplyAddAdjacent(x1, w3));
        }
        c00.Store(tile); c01.Store(tile + 8); c02.Store(tile + 16); c03.Store(tile + 24);
        c10.Store(tile + 32); c11.Store(tile + 40); c12.Store(tile + 48); c13.Store(tile + 56);
    }
}
