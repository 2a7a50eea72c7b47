using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

internal static unsafe partial class Gemm
{
    /// <summary>
    /// AVX-512 microkernel, 8 x 32 tile: C[8,32] (+)= A[8,kc] * panel[kc,32]. Per reduction step: two 16-float loads of the
    /// packed panel, eight broadcasts from the packed A tile (8 consecutive floats), sixteen FMAs into zmm accumulators.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x32(float* ap, int rows, float* panel, int kc, float* c, int ldc, int cols, float* bias, float* edge)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        float* bp = panel;
        float* end = panel + (long)kc * 32;
        for (; bp < end; bp += 32, ap += 8)
        {
            var b0 = Vector512.Load(bp);
            var b1 = Vector512.Load(bp + 16);
            var x = Vector512.Create(ap[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(ap[1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(ap[2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(ap[3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(ap[4]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(ap[5]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(ap[6]);
            c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(ap[7]);
            c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
        }
        if (rows == 8 && cols == 32)
        {
            Store512(c, c00, c01, bias); c += ldc;
            Store512(c, c10, c11, bias); c += ldc;
            Store512(c, c20, c21, bias); c += ldc;
            Store512(c, c30, c31, bias); c += ldc;
            Store512(c, c40, c41, bias); c += ldc;
            Store512(c, c50, c51, bias); c += ldc;
            Store512(c, c60, c61, bias); c += ldc;
            Store512(c, c70, c71, bias);
        }
        else
        {
            c00.Store(edge); c01.Store(edge + 16); c10.Store(edge + 32); c11.Store(edge + 48);
            c20.Store(edge + 64); c21.Store(edge + 80); c30.Store(edge + 96); c31.Store(edge + 112);
            c40.Store(edge + 128); c41.Store(edge + 144); c50.Store(edge + 160); c51.Store(edge + 176);
            c60.Store(edge + 192); c61.Store(edge + 208); c70.Store(edge + 224); c71.Store(edge + 240);
            StoreEdge(edge, 32, rows, cols, c, ldc, bias);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, Vector512<float> v0, Vector512<float> v1, float* bias)
    {
        if (bias != null)
        {
            (v0 + Vector512.Load(bias)).Store(c);
            (v1 + Vector512.Load(bias + 16)).Store(c + 16);
        }
        else
        {
            (v0 + Vector512.Load(c)).Store(c);
            (v1 + Vector512.Load(c + 16)).Store(c + 16);
        }
    }
}
