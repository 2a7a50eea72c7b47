using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Native.Kernels;

internal static unsafe partial class GemmInt8
{
    /// <summary>
    /// The 2 x 16 microkernel of the 256-bit paths (AVX2, AVX-VNNI). Per group of 4 reduction steps (64 int8 weights, widened
    /// to 4 registers of 4 columns) and per row: one 8-byte broadcast of the row's 4 activations, then per register one pair multiply-add
    /// <typeparamref name="TPairs"/> (16-bit pairs multiplied and summed into the 32-bit lanes of the accumulator).
    /// 8 accumulators + 2 broadcasts + weights + product = 12 of 16 ymm.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel2x16<TPairs>(ushort* a, int lda, int rows, sbyte* panel, int* tile) where TPairs : struct, IPairMultiplyAdd
    {
        ushort* a0 = Row(a, lda, rows, 0), a1 = Row(a, lda, rows, 1);
        Vector256<int> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<int> c10 = default, c11 = default, c12 = default, c13 = default;
        sbyte* end = panel + (long)lda * QuantizedMatrix.Nr;
        for (sbyte* w = panel; w < end; w += 64, a0 += 4, a1 += 4)
        {
            var x0 = Vector256.Create(*(long*)a0).AsInt16();
            var x1 = Vector256.Create(*(long*)a1).AsInt16();
            var w0 = Avx2.ConvertToVector256Int16(w);          // vpmovsxbw: 16 int8 weights (4 columns) to 16-bit lanes
            c00 = TPairs.Accumulate(c00, x0, w0);
            c10 = TPairs.Accumulate(c10, x1, w0);
            var w1 = Avx2.ConvertToVector256Int16(w + 16);
            c01 = TPairs.Accumulate(c01, x0, w1);
            c11 = TPairs.Accumulate(c11, x1, w1);
            var w2 = Avx2.ConvertToVector256Int16(w + 32);
            c02 = TPairs.Accumulate(c02, x0, w2);
            c12 = TPairs.Accumulate(c12, x1, w2);
            var w3 = Avx2.ConvertToVector256Int16(w + 48);
            c03 = TPairs.Accumulate(c03, x0, w3);
            c13 = TPairs.Accumulate(c13, x1, w3);
        }
        c00.Store(tile); c01.Store(tile + 8); c02.Store(tile + 16); c03.Store(tile + 24);
        c10.Store(tile + 32); c11.Store(tile + 40); c12.Store(tile + 48); c13.Store(tile + 56);
    }
}

/// <summary>acc + (the products of x and w's 16-bit lanes, summed in pairs into 32-bit lanes): one step of the int8 GEMM.</summary>
internal interface IPairMultiplyAdd
{
    static abstract Vector256<int> Accumulate(Vector256<int> acc, Vector256<short> x, Vector256<short> w);
}

/// <summary>AVX2: vpmaddwd, then vpaddd.</summary>
internal readonly struct Avx2PairMultiplyAdd : IPairMultiplyAdd
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Accumulate(Vector256<int> acc, Vector256<short> x, Vector256<short> w) => Avx2.Add(acc, Avx2.MultiplyAddAdjacent(x, w));
}

/// <summary>AVX-VNNI: vpdpwssd, the same in one instruction (no saturation; vpdpwssds would saturate).</summary>
internal readonly struct VnniPairMultiplyAdd : IPairMultiplyAdd
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Accumulate(Vector256<int> acc, Vector256<short> x, Vector256<short> w) => AvxVnni.MultiplyWideningAndAdd(acc, x, w);
}
