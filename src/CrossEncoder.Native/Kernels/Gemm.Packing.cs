using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Native.Kernels;

// Packing A. The microkernel reads an MR-row tile of A k-major: at step p it broadcasts A[r, p] for r = 0..MR-1 from MR
// consecutive floats. Packing is a transpose of each MR x KC block:
//
//   dst[t*MR*kb + p*MR + r] = A[t*MR + r, p]        (rows past the block repeat its last row)
//
// Element by element (PackAReference) that is one scalar load and store per float, ~1 ns each: at 128 tokens the up-front
// packing of FFN-down's A (128 x 1536) took ~15 % of a two-thread GEMM, and in attention the probabilities S (T x T per
// head) are packed as the A of S V, a full extra pass over S. With AVX the block is transposed 8 x 8 in registers: load
// 8 floats of k from each of the tile's rows (MR <= 8; missing rows repeat the last one), transpose with unpack /
// shuffle / 128-bit permute (24 instructions), store MR floats per k step. The tail of k (kb mod 8) is copied one by one.
//
// Packing B given as [N, K] (weights at load, attention's K_h per head) is the same transpose with the roles swapped: a panel
// holds NR columns of C k-major, panel[p*NR + c] = B[c, p], so each group of 8 of its columns is an 8 x 8 transpose per 8
// steps of k. Columns past N are zero.

internal static unsafe partial class Gemm
{
    /// <summary>Packs A[0:rows, 0:kb] (row stride lda) into MR-row k-major tiles (see above); vectorised where AVX exists.
    /// The <c>Avx.IsSupported</c> checks here are not path choices: the layout (MR) comes from the call's capabilities, the
    /// AVX transpose is a bit-identical copy, and the check only keeps it off hardware without AVX, where an AVX2 or
    /// AVX-512 path forced by the capabilities still runs (emulated) and packs one float at a time.</summary>
    private static void PackA(float* a, int lda, int rows, int kb, int mr, float* dst)
    {
        if (Avx.IsSupported && (mr == 6 || mr == 8)) PackAAvx(a, lda, rows, kb, mr, dst);
        else PackAReference(a, lda, rows, kb, mr, dst);
    }

    /// <summary>The readable twin: dst[t*mr*kb + p*mr + r] = A[t*mr + min(r, valid-1), p], one float at a time.</summary>
    internal static void PackAReference(float* a, int lda, int rows, int kb, int mr, float* dst)
    {
        for (int t = 0; t < rows; t += mr)
        {
            float* tile = dst + (long)t * kb;
            int valid = Math.Min(mr, rows - t);
            for (int r = 0; r < mr; r++)
            {
                float* src = a + (long)(t + Math.Min(r, valid - 1)) * lda;
                for (int p = 0; p < kb; p++) tile[p * mr + r] = src[p];
            }
        }
    }

    /// <summary>AVX: each 8-step slice of a tile transposed in registers (mr = 6 or 8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackAAvx(float* a, int lda, int rows, int kb, int mr, float* dst)
    {
        float** src = stackalloc float*[8];
        for (int t = 0; t < rows; t += mr)
        {
            float* tile = dst + (long)t * kb;
            int valid = Math.Min(mr, rows - t);
            for (int r = 0; r < 8; r++) src[r] = a + (long)(t + Math.Min(r, valid - 1)) * lda;
            int p = 0;
            for (; p <= kb - 8; p += 8)
            {
                Transpose8x8(Vector256.Load(src[0] + p), Vector256.Load(src[1] + p), Vector256.Load(src[2] + p), Vector256.Load(src[3] + p),
                    Vector256.Load(src[4] + p), Vector256.Load(src[5] + p), Vector256.Load(src[6] + p), Vector256.Load(src[7] + p),
                    out var k0, out var k1, out var k2, out var k3, out var k4, out var k5, out var k6, out var k7);
                StoreSteps(tile + p * mr, mr, k0, k1, k2, k3, k4, k5, k6, k7);
            }
            for (; p < kb; p++)
                for (int r = 0; r < mr; r++) tile[p * mr + r] = src[r][p];
        }
    }

    /// <summary>One panel of B [N, K]: panel[p*nr + c] = B[c, p] for c &lt; cols, 0 for cols &lt;= c &lt; nr; vectorised where AVX exists.</summary>
    private static void PackPanelTransposed(float* b, int ldb, int cols, int kb, int nr, float* panel)
    {
        if (Avx.IsSupported && nr % 8 == 0) PackPanelTransposedAvx(b, ldb, cols, kb, nr, panel);
        else PackPanelTransposedReference(b, ldb, cols, kb, nr, panel);
    }

    /// <summary>The readable twin of <see cref="PackPanelTransposed"/>, one float at a time.</summary>
    internal static void PackPanelTransposedReference(float* b, int ldb, int cols, int kb, int nr, float* panel)
    {
        for (int cc = 0; cc < cols; cc++)
        {
            float* src = b + (long)cc * ldb;
            for (int p = 0; p < kb; p++) panel[p * nr + cc] = src[p];
        }
        for (int cc = cols; cc < nr; cc++)
            for (int p = 0; p < kb; p++) panel[p * nr + cc] = 0f;
    }

    /// <summary>AVX: each group of 8 whole columns transposed 8 x 8 in registers; a partial group and the k tail one by one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackPanelTransposedAvx(float* b, int ldb, int cols, int kb, int nr, float* panel)
    {
        int full = cols / 8 * 8, p8 = kb / 8 * 8;
        for (int g = 0; g < full; g += 8)
        {
            float* s0 = b + (long)g * ldb;
            for (int p = 0; p < p8; p += 8)
            {
                Transpose8x8(Vector256.Load(s0 + p), Vector256.Load(s0 + ldb + p), Vector256.Load(s0 + 2L * ldb + p), Vector256.Load(s0 + 3L * ldb + p),
                    Vector256.Load(s0 + 4L * ldb + p), Vector256.Load(s0 + 5L * ldb + p), Vector256.Load(s0 + 6L * ldb + p), Vector256.Load(s0 + 7L * ldb + p),
                    out var k0, out var k1, out var k2, out var k3, out var k4, out var k5, out var k6, out var k7);
                float* d = panel + (long)p * nr + g;
                k0.Store(d); k1.Store(d + nr); k2.Store(d + 2 * nr); k3.Store(d + 3 * nr);
                k4.Store(d + 4 * nr); k5.Store(d + 5 * nr); k6.Store(d + 6 * nr); k7.Store(d + 7 * nr);
            }
            for (int cc = g; cc < g + 8; cc++)
                for (int p = p8; p < kb; p++) panel[p * nr + cc] = b[(long)cc * ldb + p];
        }
        for (int cc = full; cc < cols; cc++)
        {
            float* src = b + (long)cc * ldb;
            for (int p = 0; p < kb; p++) panel[p * nr + cc] = src[p];
        }
        for (int cc = cols; cc < nr; cc++)
            for (int p = 0; p < kb; p++) panel[p * nr + cc] = 0f;
    }

    /// <summary>Eight k steps of an MR-row packed tile (MR = 6 or 8): the first MR lanes of kj to d[j*MR ..], in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StoreSteps(float* d, int mr, Vector256<float> k0, Vector256<float> k1, Vector256<float> k2, Vector256<float> k3,
        Vector256<float> k4, Vector256<float> k5, Vector256<float> k6, Vector256<float> k7)
    {
        if (mr == 8)
        {
            k0.Store(d); k1.Store(d + 8); k2.Store(d + 16); k3.Store(d + 24);
            k4.Store(d + 32); k5.Store(d + 40); k6.Store(d + 48); k7.Store(d + 56);
        }
        else
        {
            Store6(k0, d); Store6(k1, d + 6); Store6(k2, d + 12); Store6(k3, d + 18);
            Store6(k4, d + 24); Store6(k5, d + 30); Store6(k6, d + 36); Store6(k7, d + 42);
        }
    }

    /// <summary>The first 6 lanes of v to d[0..5] (a 16-byte and an 8-byte store).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store6(Vector256<float> v, float* d)
    {
        v.GetLower().Store(d);
        Sse2.StoreLow((double*)(d + 4), v.GetUpper().AsDouble());
    }

    /// <summary>Rows r0..r7 (8 floats each) in, columns k0..k7 out: kj[i] = ri[j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7,
        out Vector256<float> k0, out Vector256<float> k1, out Vector256<float> k2, out Vector256<float> k3,
        out Vector256<float> k4, out Vector256<float> k5, out Vector256<float> k6, out Vector256<float> k7)
    {
        // Interleave pairs of rows: t0 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5], ...
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        // Quads: u0 = rows 0-3 of columns 0 | 4, u1 = columns 1 | 5, u2 = 2 | 6, u3 = 3 | 7; u4..u7 the same for rows 4-7.
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        // Join the 128-bit halves: rows 0-3 from u, rows 4-7 from the matching u of the second group.
        k0 = Avx.Permute2x128(u0, u4, 0x20); k4 = Avx.Permute2x128(u0, u4, 0x31);
        k1 = Avx.Permute2x128(u1, u5, 0x20); k5 = Avx.Permute2x128(u1, u5, 0x31);
        k2 = Avx.Permute2x128(u2, u6, 0x20); k6 = Avx.Permute2x128(u2, u6, 0x31);
        k3 = Avx.Permute2x128(u3, u7, 0x20); k7 = Avx.Permute2x128(u3, u7, 0x31);
    }
}
