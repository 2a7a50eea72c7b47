using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Native.Kernels;

internal static unsafe partial class GemmInt8
{
    /// <summary>
    /// AVX-VNNI 2 x 16 microkernel: the AVX2 kernel's structure with vpdpwssd, which multiplies the 16-bit pairs and adds
    /// them to the 32-bit accumulator in one instruction (no saturation; vpdpwssds would saturate).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelVnni2x16(ushort* a, int lda, int rows, short* panel, int* tile)
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
            c00 = AvxVnni.MultiplyWideningAndAdd(c00, x0, w0);
            c10 = AvxVnni.MultiplyWideningAndAdd(c10, x1, w0);
            var w1 = Vector256.Load(w + 16);
            c01 = AvxVnni.MultiplyWideningAndAdd(c01, x0, w1);
            c11 = AvxVnni.MultiplyWideningAndAdd(c11, x1, w1);
            var w2 = Vector256.Load(w + 32);
            c02 = AvxVnni.MultiplyWideningAndAdd(c02, x0, w2);
            c12 = AvxVnni.MultiplyWideningAndAdd(c12, x1, w2);
            var w3 = Vector256.Load(w + 48);
            c03 = AvxVnni.MultiplyWideningAndAdd(c03, x0, w3);
            c13 = AvxVnni.MultiplyWideningAndAdd(c13, x1, w3);
        }
        c00.Store(tile); c01.Store(tile + 8); c02.Store(tile + 16); c03.Store(tile + 24);
        c10.Store(tile + 32); c11.Store(tile + 40); c12.Store(tile + 48); c13.Store(tile + 56);
    }
}
