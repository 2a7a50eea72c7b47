using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Native.Kernels;

// The exp pass writing straight into the GEMM's packed A. S V reads the probabilities S [rows, T] as the A of a GEMM, which
// packs them into MR-row k-major tiles first (Gemm.Packing.cs): one more read and write of S per head. When the scores are
// unmasked the exp pass already reads every score once, so it can write the packed layout itself:
//
//   pass 1: m_i = max_j S[i, j]                                  per row (Softmax.Max)
//   pass 2: for each MR-row tile and each 8 columns:
//             e_r = exp(S[r, j..j+8] * scale - m_r * scale)      MR vectors, four exps interleaved (VectorExp.Exp4)
//             l_r += e_r                                         row sums, divided out after S V as before
//             transpose the MR x 8 block (Gemm.Transpose8x8) and store MR floats per column: Ap[slice][tile][p][r]
//
// The layout is the one Gemm.Run reads for a pre-packed A (Job.APacked): k-slices of KC columns at MC * pc, tiles of MR rows
// at (tile row) * kb inside a slice, rows past the block repeating its last row. Vector<float> must be 8 wide (AVX2, or
// AVX-512 hardware, where Vector<T> stays 256-bit) and MR 6 or 8; otherwise Head takes the in-place exp and Gemm packs.

internal static unsafe partial class Attention
{
    /// <summary>
    /// True when <see cref="ExpScaledPacked"/> can run for this call's path (MR of 6 or 8, fused multiply-add, 8-float vectors).
    /// <c>Avx.IsSupported</c> is not a path choice: Gemm.Transpose8x8 is AVX intrinsics without a software fallback, so an AVX2
    /// or AVX-512 path forced on hardware without AVX (it runs emulated) takes the in-place exp and Gemm's scalar packing.
    /// </summary>
    internal static bool CanPackProbabilities(in KernelCapabilities caps) =>
        Avx.IsSupported && Vector<float>.Count == 8 && Gemm.Mr(caps.Isa) is 6 or 8 && caps.UsesFma;

    /// <summary>
    /// dst = exp(S * scale - max_row * scale) in the packed A layout of <c>Gemm.Run</c> (see above) for S [rows &lt;= MC, t]
    /// (row stride ld); sums[i] = the row sums of the written values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ExpScaledPacked(float* s, int ld, int rows, int t, float scale, KernelIsa isa, float* dst, float* sums)
    {
        int mr = Gemm.Mr(isa), sliceLength = Gemm.Kc(isa);
        float* shift = stackalloc float[Gemm.Mc];
        for (int i = 0; i < rows; i++)
        {
            float max = Softmax.Max(s + (long)i * ld, t, isa);
            // A row without a softmax (max -inf, +inf or NaN: overflowed scores) gets a NaN sum, so its output row is NaN.
            shift[i] = float.IsFinite(max) ? -max * scale : 0f;
            sums[i] = float.IsFinite(max) ? 0f : float.NaN;
        }
        var vs = new Vector<float>(scale);
        float** src = stackalloc float*[8];
        Vector<float>* sum = stackalloc Vector<float>[8];
        for (int r0 = 0; r0 < rows; r0 += mr)
        {
            int valid = Math.Min(mr, rows - r0);
            for (int r = 0; r < 8; r++) { src[r] = s + (long)(r0 + Math.Min(r, valid - 1)) * ld; sum[r] = default; }
            var b0 = new Vector<float>(shift[r0 + Math.Min(0, valid - 1)]); var b1 = new Vector<float>(shift[r0 + Math.Min(1, valid - 1)]);
            var b2 = new Vector<float>(shift[r0 + Math.Min(2, valid - 1)]); var b3 = new Vector<float>(shift[r0 + Math.Min(3, valid - 1)]);
            var b4 = new Vector<float>(shift[r0 + Math.Min(4, valid - 1)]); var b5 = new Vector<float>(shift[r0 + Math.Min(5, valid - 1)]);
            var b6 = new Vector<float>(shift[r0 + Math.Min(6, valid - 1)]); var b7 = new Vector<float>(shift[r0 + Math.Min(7, valid - 1)]);
            for (int pc = 0; pc < t; pc += sliceLength)
            {
                int kb = Math.Min(sliceLength, t - pc);
                float* tile = dst + (long)Gemm.Mc * pc + (long)r0 * kb;
                int p = 0;
                for (; p <= kb - 8; p += 8)
                {
                    int j = pc + p;
                    var e0 = Vector.FusedMultiplyAdd(Vector.Load(src[0] + j), vs, b0); var e1 = Vector.FusedMultiplyAdd(Vector.Load(src[1] + j), vs, b1);
                    var e2 = Vector.FusedMultiplyAdd(Vector.Load(src[2] + j), vs, b2); var e3 = Vector.FusedMultiplyAdd(Vector.Load(src[3] + j), vs, b3);
                    VectorExp.Exp4<FusedMultiplyAdd>(ref e0, ref e1, ref e2, ref e3);
                    var e4 = Vector.FusedMultiplyAdd(Vector.Load(src[4] + j), vs, b4); var e5 = Vector.FusedMultiplyAdd(Vector.Load(src[5] + j), vs, b5);
                    Vector<float> e6, e7;
                    if (mr == 8) { e6 = Vector.FusedMultiplyAdd(Vector.Load(src[6] + j), vs, b6); e7 = Vector.FusedMultiplyAdd(Vector.Load(src[7] + j), vs, b7); }
                    else { e6 = e4; e7 = e5; }
                    VectorExp.Exp4<FusedMultiplyAdd>(ref e4, ref e5, ref e6, ref e7);
                    sum[0] += e0; sum[1] += e1; sum[2] += e2; sum[3] += e3; sum[4] += e4; sum[5] += e5; sum[6] += e6; sum[7] += e7;
                    Gemm.Transpose8x8(e0.AsVector256(), e1.AsVector256(), e2.AsVector256(), e3.AsVector256(),
                        e4.AsVector256(), e5.AsVector256(), e6.AsVector256(), e7.AsVector256(),
                        out var k0, out var k1, out var k2, out var k3, out var k4, out var k5, out var k6, out var k7);
                    Gemm.StoreSteps(tile + p * mr, mr, k0, k1, k2, k3, k4, k5, k6, k7);
                }
                for (; p < kb; p++)
                    for (int r = 0; r < mr; r++)
                    {
                        float e = MathF.Exp(MathF.FusedMultiplyAdd(src[r][pc + p], scale, shift[r0 + Math.Min(r, valid - 1)]));
                        tile[p * mr + r] = e;
                        if (r < valid) sums[r0 + r] += e;
                    }
            }
            for (int r = 0; r < valid; r++) sums[r0 + r] += Vector.Sum(sum[r]);
        }
    }
}
