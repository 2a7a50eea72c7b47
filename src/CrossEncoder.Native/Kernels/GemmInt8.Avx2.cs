using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Native.Kernels;

internal static unsafe partial class GemmInt8
{
    /// <summary>
    /// AVX2 4 x 16 microkernel. Per group of 4 reduction steps: two 32-byte weight loads (16 columns x 4 steps), and per row
    /// a 4-byte broadcast of the activations, vpmaddubsw (u8 x s8 -> s16 pairs), vpmaddwd with ones (-> s32), vpaddd.
    /// 8 accumulators + 2 weights + ones + broadcast + product = 13 of 16 ymm.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelAvx2x4x16(byte* a, int lda, int rows, sbyte* panel, int* tile)
    {
        byte* a0 = Row(a, lda, rows, 0), a1 = Row(a, lda, rows, 1), a2 = Row(a, lda, rows, 2), a3 = Row(a, lda, rows, 3);
        Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<int> c20 = default, c21 = default, c30 = default, c31 = default;
        var ones = Vector256.Create((short)1);
        sbyte* end = panel + (long)lda * QuantizedMatrix.Nr;
        for (sbyte* w = panel; w < end; w += 64, a0 += 4, a1 += 4, a2 += 4, a3 += 4)
        {
            var w0 = Vector256.Load(w);
            var w1 = Vector256.Load(w + 32);
            var x = Vector256.Create(*(int*)a0).AsByte();
            c00 = Avx2.Add(c00, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, w0), ones));
            c01 = Avx2.Add(c01, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, w1), ones));
            x = Vector256.Create(*(int*)a1).AsByte();
            c10 = Avx2.Add(c10, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, w0), ones));
            c11 = Avx2.Add(c11, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, w1), ones));
            x = Vector256.Create(*(int*)a2).AsByte();
            c20 = Avx2.Add(c20, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, w0), ones));
            c21 = Avx2.Add(c21, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, w1), ones));
            x = Vector256.Create(*(int*)a3).AsByte();
            c30 = Avx2.Add(c30, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, w0), ones));
            c31 = Avx2.Add(c31, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(x, w1), ones));
        }
        c00.Store(tile); c01.Store(tile + 8);
        c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40);
        c30.Store(tile + 48); c31.Store(tile + 56);
    }
}
