using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Native.Kernels;

internal static unsafe partial class GemmInt8
{
    /// <summary>
    /// AVX-512BW 8 x 16 microkernel. A group (16 columns x 4 steps, 64 int8 weights) widens to two zmm of 8 columns; per row an
    /// 8-byte broadcast of 4 activations, two vpmaddwd and two vpaddd. 16 accumulators + 2 weights + broadcast + product =
    /// 20 of 32 zmm.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512x8x16(ushort* a, int lda, int rows, sbyte* panel, int* tile)
    {
        ushort* a0 = Row(a, lda, rows, 0), a1 = Row(a, lda, rows, 1), a2 = Row(a, lda, rows, 2), a3 = Row(a, lda, rows, 3);
        ushort* a4 = Row(a, lda, rows, 4), a5 = Row(a, lda, rows, 5), a6 = Row(a, lda, rows, 6), a7 = Row(a, lda, rows, 7);
        Vector512<int> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<int> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        sbyte* end = panel + (long)lda * QuantizedMatrix.Nr;
        for (long g = 0; panel + g < end; g += 64)
        {
            var w0 = Avx512BW.ConvertToVector512Int16(Vector256.Load(panel + g));        // vpmovsxbw: 8 columns to 16-bit lanes
            var w1 = Avx512BW.ConvertToVector512Int16(Vector256.Load(panel + g + 32));
            long p = g / 16;   // activations per row: 4 per group
            var x = Vector512.Create(*(long*)(a0 + p)).AsInt16();
            c00 = Avx512BW.Add(c00, Avx512BW.MultiplyAddAdjacent(x, w0)); c01 = Avx512BW.Add(c01, Avx512BW.MultiplyAddAdjacent(x, w1));
            x = Vector512.Create(*(long*)(a1 + p)).AsInt16();
            c10 = Avx512BW.Add(c10, Avx512BW.MultiplyAddAdjacent(x, w0)); c11 = Avx512BW.Add(c11, Avx512BW.MultiplyAddAdjacent(x, w1));
            x = Vector512.Create(*(long*)(a2 + p)).AsInt16();
            c20 = Avx512BW.Add(c20, Avx512BW.MultiplyAddAdjacent(x, w0)); c21 = Avx512BW.Add(c21, Avx512BW.MultiplyAddAdjacent(x, w1));
            x = Vector512.Create(*(long*)(a3 + p)).AsInt16();
            c30 = Avx512BW.Add(c30, Avx512BW.MultiplyAddAdjacent(x, w0)); c31 = Avx512BW.Add(c31, Avx512BW.MultiplyAddAdjacent(x, w1));
            x = Vector512.Create(*(long*)(a4 + p)).AsInt16();
            c40 = Avx512BW.Add(c40, Avx512BW.MultiplyAddAdjacent(x, w0)); c41 = Avx512BW.Add(c41, Avx512BW.MultiplyAddAdjacent(x, w1));
            x = Vector512.Create(*(long*)(a5 + p)).AsInt16();
            c50 = Avx512BW.Add(c50, Avx512BW.MultiplyAddAdjacent(x, w0)); c51 = Avx512BW.Add(c51, Avx512BW.MultiplyAddAdjacent(x, w1));
            x = Vector512.Create(*(long*)(a6 + p)).AsInt16();
            c60 = Avx512BW.Add(c60, Avx512BW.MultiplyAddAdjacent(x, w0)); c61 = Avx512BW.Add(c61, Avx512BW.MultiplyAddAdjacent(x, w1));
            x = Vector512.Create(*(long*)(a7 + p)).AsInt16();
            c70 = Avx512BW.Add(c70, Avx512BW.MultiplyAddAdjacent(x, w0)); c71 = Avx512BW.Add(c71, Avx512BW.MultiplyAddAdjacent(x, w1));
        }
        c00.Store(tile); c01.Store(tile + 16); c10.Store(tile + 32); c11.Store(tile + 48);
        c20.Store(tile + 64); c21.Store(tile + 80); c30.Store(tile + 96); c31.Store(tile + 112);
        c40.Store(tile + 128); c41.Store(tile + 144); c50.Store(tile + 160); c51.Store(tile + 176);
        c60.Store(tile + 192); c61.Store(tile + 208); c70.Store(tile + 224); c71.Store(tile + 240);
    }
}
