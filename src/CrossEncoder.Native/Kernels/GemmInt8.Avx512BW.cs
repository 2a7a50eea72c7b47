using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Native.Kernels;

internal static unsafe partial class GemmInt8
{
    /// <summary>
    /// AVX-512BW 8 x 16 microkernel. One 64-byte group (16 columns x 4 reduction steps) is exactly one zmm, so each row has
    /// one accumulator: per group one weight load, and per row a 4-byte broadcast, vpmaddubsw, vpmaddwd with ones, vpaddd.
    /// 8 accumulators + weights + ones + broadcast + product = 12 of 32 zmm.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512x8x16(byte* a, int lda, int rows, sbyte* panel, int* tile)
    {
        byte* a0 = Row(a, lda, rows, 0), a1 = Row(a, lda, rows, 1), a2 = Row(a, lda, rows, 2), a3 = Row(a, lda, rows, 3);
        byte* a4 = Row(a, lda, rows, 4), a5 = Row(a, lda, rows, 5), a6 = Row(a, lda, rows, 6), a7 = Row(a, lda, rows, 7);
        Vector512<int> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        var ones = Vector512.Create((short)1);
        sbyte* end = panel + (long)lda * QuantizedMatrix.Nr;
        for (long g = 0; panel + g < end; g += 64)
        {
            var wv = Vector512.Load(panel + g);
            long p = g / 16;   // byte offset into each row: 4 per group
            c0 = Avx512BW.Add(c0, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)(a0 + p)).AsByte(), wv), ones));
            c1 = Avx512BW.Add(c1, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)(a1 + p)).AsByte(), wv), ones));
            c2 = Avx512BW.Add(c2, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)(a2 + p)).AsByte(), wv), ones));
            c3 = Avx512BW.Add(c3, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)(a3 + p)).AsByte(), wv), ones));
            c4 = Avx512BW.Add(c4, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)(a4 + p)).AsByte(), wv), ones));
            c5 = Avx512BW.Add(c5, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)(a5 + p)).AsByte(), wv), ones));
            c6 = Avx512BW.Add(c6, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)(a6 + p)).AsByte(), wv), ones));
            c7 = Avx512BW.Add(c7, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)(a7 + p)).AsByte(), wv), ones));
        }
        c0.Store(tile); c1.Store(tile + 16); c2.Store(tile + 32); c3.Store(tile + 48);
        c4.Store(tile + 64); c5.Store(tile + 80); c6.Store(tile + 96); c7.Store(tile + 112);
    }
}
