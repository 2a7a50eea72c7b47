using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

internal static unsafe partial class Gemm
{
    /// <summary>
    /// AVX2 microkernel, 6 x 16 tile: C[6,16] (+)= A[6,kc] * panel[kc,16]. Per reduction step: two 8-float loads of the
    /// packed panel, six broadcasts from the packed A tile (6 consecutive floats), twelve FMAs into accumulators that stay in
    /// ymm registers (12 accumulators + 2 B vectors + 1 broadcast = 15 of 16).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16(float* ap, int rows, float* panel, int kc, float* c, int ldc, int cols, float* bias, float* edge)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* bp = panel;
        float* end = panel + (long)kc * 16;
        for (; bp < end; bp += 16, ap += 6)
        {
            var b0 = Vector256.Load(bp);
            var b1 = Vector256.Load(bp + 8);
            var x = Vector256.Create(ap[0]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(ap[1]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(ap[2]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(ap[3]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(ap[4]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(ap[5]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }
        if (rows == 6 && cols == 16)
        {
            Store256(c, c00, c01, bias); c += ldc;
            Store256(c, c10, c11, bias); c += ldc;
            Store256(c, c20, c21, bias); c += ldc;
            Store256(c, c30, c31, bias); c += ldc;
            Store256(c, c40, c41, bias); c += ldc;
            Store256(c, c50, c51, bias);
        }
        else
        {
            c00.Store(edge); c01.Store(edge + 8); c10.Store(edge + 16); c11.Store(edge + 24);
            c20.Store(edge + 32); c21.Store(edge + 40); c30.Store(edge + 48); c31.Store(edge + 56);
            c40.Store(edge + 64); c41.Store(edge + 72); c50.Store(edge + 80); c51.Store(edge + 88);
            StoreEdge(edge, 16, rows, cols, c, ldc, bias);
        }
    }

    /// <summary>One tile row of 16: C = bias + acc on the first k-slice (bias != null), C += acc after.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, Vector256<float> v0, Vector256<float> v1, float* bias)
    {
        if (bias != null)
        {
            (v0 + Vector256.Load(bias)).Store(c);
            (v1 + Vector256.Load(bias + 8)).Store(c + 8);
        }
        else
        {
            (v0 + Vector256.Load(c)).Store(c);
            (v1 + Vector256.Load(c + 8)).Store(c + 8);
        }
    }
}
