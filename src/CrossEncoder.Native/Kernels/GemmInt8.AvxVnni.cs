using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Native.Kernels;

internal static unsafe partial class GemmInt8
{
    /// <summary>
    /// AVX-VNNI 6 x 16 microkernel. Per group of 4 reduction steps: two 32-byte weight loads, and per row a 4-byte broadcast
    /// and two vpdpbusd (u8 x s8, the 4 products of each lane summed into its s32 accumulator without saturation).
    /// 12 accumulators + 2 weights + broadcast = 15 of 16 ymm.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelVnni6x16(byte* a, int lda, int rows, sbyte* panel, int* tile)
    {
        byte* a0 = Row(a, lda, rows, 0), a1 = Row(a, lda, rows, 1), a2 = Row(a, lda, rows, 2);
        byte* a3 = Row(a, lda, rows, 3), a4 = Row(a, lda, rows, 4), a5 = Row(a, lda, rows, 5);
        Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<int> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        sbyte* end = panel + (long)lda * QuantizedMatrix.Nr;
        for (sbyte* w = panel; w < end; w += 64, a0 += 4, a1 += 4, a2 += 4, a3 += 4, a4 += 4, a5 += 4)
        {
            var w0 = Vector256.Load(w);
            var w1 = Vector256.Load(w + 32);
            var x = Vector256.Create(*(int*)a0).AsByte();
            c00 = AvxVnni.MultiplyWideningAndAdd(c00, x, w0); c01 = AvxVnni.MultiplyWideningAndAdd(c01, x, w1);
            x = Vector256.Create(*(int*)a1).AsByte();
            c10 = AvxVnni.MultiplyWideningAndAdd(c10, x, w0); c11 = AvxVnni.MultiplyWideningAndAdd(c11, x, w1);
            x = Vector256.Create(*(int*)a2).AsByte();
            c20 = AvxVnni.MultiplyWideningAndAdd(c20, x, w0); c21 = AvxVnni.MultiplyWideningAndAdd(c21, x, w1);
            x = Vector256.Create(*(int*)a3).AsByte();
            c30 = AvxVnni.MultiplyWideningAndAdd(c30, x, w0); c31 = AvxVnni.MultiplyWideningAndAdd(c31, x, w1);
            x = Vector256.Create(*(int*)a4).AsByte();
            c40 = AvxVnni.MultiplyWideningAndAdd(c40, x, w0); c41 = AvxVnni.MultiplyWideningAndAdd(c41, x, w1);
            x = Vector256.Create(*(int*)a5).AsByte();
            c50 = AvxVnni.MultiplyWideningAndAdd(c50, x, w0); c51 = AvxVnni.MultiplyWideningAndAdd(c51, x, w1);
        }
        c00.Store(tile); c01.Store(tile + 8);
        c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40);
        c30.Store(tile + 48); c31.Store(tile + 56);
        c40.Store(tile + 64); c41.Store(tile + 72);
        c50.Store(tile + 80); c51.Store(tile + 88);
    }
}
