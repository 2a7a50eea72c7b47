using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

internal static unsafe partial class Gemm
{
    private static readonly int PortableNr = 2 * Vector<float>.Count;

    /// <summary>
    /// Portable microkernel, 4 x 2W tile (W = Vector&lt;float&gt;.Count): the same scheme as the ISA kernels with eight
    /// Vector&lt;float&gt; accumulators and a packed A tile of 4 floats per step, for hardware with neither AVX2 nor AVX-512
    /// (e.g. Arm NEON, W = 4). <paramref name="fma"/>: the call's <see cref="KernelCapabilities.Fma"/>.
    /// </summary>
    private static void KernelPortable(float* ap, int rows, float* panel, int kc, float* c, int ldc, int cols, float* bias, float* edge, bool fma)
    {
        if (fma) KernelPortable<FusedMultiplyAdd>(ap, rows, panel, kc, c, ldc, cols, bias, edge);
        else KernelPortable<SeparateMultiplyAdd>(ap, rows, panel, kc, c, ldc, cols, bias, edge);
    }

    private static void KernelPortable<TMultiplyAdd>(float* ap, int rows, float* panel, int kc, float* c, int ldc, int cols, float* bias, float* edge)
        where TMultiplyAdd : struct, IMultiplyAdd
    {
        int w = Vector<float>.Count, nr = 2 * w;
        Vector<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        float* bp = panel;
        for (int p = 0; p < kc; p++, bp += nr, ap += 4)
        {
            var b0 = Vector.Load(bp);
            var b1 = Vector.Load(bp + w);
            var x = new Vector<float>(ap[0]);
            c00 = TMultiplyAdd.Apply(x, b0, c00); c01 = TMultiplyAdd.Apply(x, b1, c01);
            x = new Vector<float>(ap[1]);
            c10 = TMultiplyAdd.Apply(x, b0, c10); c11 = TMultiplyAdd.Apply(x, b1, c11);
            x = new Vector<float>(ap[2]);
            c20 = TMultiplyAdd.Apply(x, b0, c20); c21 = TMultiplyAdd.Apply(x, b1, c21);
            x = new Vector<float>(ap[3]);
            c30 = TMultiplyAdd.Apply(x, b0, c30); c31 = TMultiplyAdd.Apply(x, b1, c31);
        }
        // Always through the edge tile: this path favours simplicity over the last few percent.
        Vector.Store(c00, edge); Vector.Store(c01, edge + w);
        Vector.Store(c10, edge + nr); Vector.Store(c11, edge + nr + w);
        Vector.Store(c20, edge + 2 * nr); Vector.Store(c21, edge + 2 * nr + w);
        Vector.Store(c30, edge + 3 * nr); Vector.Store(c31, edge + 3 * nr + w);
        StoreEdge(edge, nr, rows, cols, c, ldc, bias);
    }

    /// <summary>sum_i x[i] * y[i] in float with vector accumulators (the lengths must match).</summary>
    internal static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y, in KernelCapabilities caps)
    {
        fixed (float* px = x, py = y) return Dot(px, py, x.Length, caps);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Dot(float* x, float* y, int length, in KernelCapabilities caps)
    {
        int i = 0;
        float sum = 0f;
        if (caps.Isa == KernelIsa.Avx512)
        {
            Vector512<float> s0 = default, s1 = default;
            for (; i <= length - 32; i += 32)
            {
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(x + i), Vector512.Load(y + i), s0);
                s1 = Vector512.FusedMultiplyAdd(Vector512.Load(x + i + 16), Vector512.Load(y + i + 16), s1);
            }
            for (; i <= length - 16; i += 16) s0 = Vector512.FusedMultiplyAdd(Vector512.Load(x + i), Vector512.Load(y + i), s0);
            sum = Vector512.Sum(s0 + s1);
        }
        else return caps.UsesFma ? Dot<FusedMultiplyAdd>(x, y, length) : Dot<SeparateMultiplyAdd>(x, y, length);
        for (; i < length; i++) sum = MathF.FusedMultiplyAdd(x[i], y[i], sum);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot<TMultiplyAdd>(float* x, float* y, int length) where TMultiplyAdd : struct, IMultiplyAdd
    {
        int i = 0, w = Vector<float>.Count;
        Vector<float> s0 = default, s1 = default;
        for (; i <= length - 2 * w; i += 2 * w)
        {
            s0 = TMultiplyAdd.Apply(Vector.Load(x + i), Vector.Load(y + i), s0);
            s1 = TMultiplyAdd.Apply(Vector.Load(x + i + w), Vector.Load(y + i + w), s1);
        }
        for (; i <= length - w; i += w) s0 = TMultiplyAdd.Apply(Vector.Load(x + i), Vector.Load(y + i), s0);
        float sum = Vector.Sum(s0 + s1);
        for (; i < length; i++) sum = TMultiplyAdd.Apply(x[i], y[i], sum);
        return sum;
    }
}
