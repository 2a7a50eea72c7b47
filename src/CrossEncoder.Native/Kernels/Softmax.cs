using System.Numerics;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. Three vector passes over the row: m = max(x); y = exp(x - m) while summing y; y *= 1/sum.
// Subtracting the max keeps every exponent <= 0, so nothing overflows however large the scores are, and the largest term
// is exactly 1, so the sum is >= 1 and the division is safe. exp(-inf) = 0 gives masked keys probability 0. A row that is
// entirely -inf has no defined softmax (it would be 0/0) and is rejected, as in the reference.
// The exponential is VectorExp's float exp (within ~1 ulp; results below 2^-126 flush to 0, an absolute error < 1e-38).
// A NaN in the row makes the max NaN and with it every output.

/// <summary>Numerically stable softmax over one row: <c>y = exp(x - max x) / sum exp(x - max x)</c>.</summary>
public static unsafe partial class Softmax
{
    /// <summary>y = softmax(x); y may alias x. Entries equal to -inf get probability 0; an all -inf row is an error.</summary>
    public static void Apply(ReadOnlySpan<float> x, Span<float> y) => Apply(x, y, KernelIsas.Best);

    internal static void Apply(ReadOnlySpan<float> x, Span<float> y, KernelIsa isa)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        if (x.IsEmpty) return;
        fixed (float* px = x, py = y) Row(px, py, x.Length, isa);
    }

    /// <summary>Softmax of one row of n &gt; 0 values (validated by the caller); y may equal x.</summary>
    internal static void Row(float* x, float* y, int n, KernelIsa isa)
    {
        float max = Max(x, n, isa);
        if (float.IsNegativeInfinity(max)) throw new ArgumentException("Softmax of a row that is entirely -infinity is undefined.", nameof(x));
        float inv = 1f / ExpAndSum(x, y, max, n, isa);
        int i = 0;
        if (isa == KernelIsa.Avx512)
            for (; i <= n - 16; i += 16) (Vector512.Load(y + i) * inv).Store(y + i);
        else
            for (int w = Vector<float>.Count; i <= n - w; i += w) Vector.Store(Vector.Load(y + i) * inv, y + i);
        for (; i < n; i++) y[i] *= inv;
    }

    private static float Max(float* x, int n, KernelIsa isa)
    {
        int i = 0;
        float max = float.NegativeInfinity;
        if (isa == KernelIsa.Avx512 && n >= 16)
        {
            var m = Vector512.Load(x);
            for (i = 16; i <= n - 16; i += 16) m = Vector512.Max(m, Vector512.Load(x + i));
            for (int l = 0; l < 16; l++) max = MathF.Max(max, m[l]);
        }
        else if (isa != KernelIsa.Avx512 && n >= Vector<float>.Count)
        {
            int w = Vector<float>.Count;
            var m = Vector.Load(x);
            for (i = w; i <= n - w; i += w) m = Vector.Max(m, Vector.Load(x + i));
            for (int l = 0; l < w; l++) max = MathF.Max(max, m[l]);
        }
        for (; i < n; i++) max = MathF.Max(max, x[i]);
        return max;
    }

    /// <summary>y = exp(x - max); returns sum(y).</summary>
    private static float ExpAndSum(float* x, float* y, float max, int n, KernelIsa isa)
    {
        int i = 0;
        float sum = 0;
        if (isa == KernelIsa.Avx512)
        {
            Vector512<float> s = default, vm = Vector512.Create(max);
            for (; i <= n - 16; i += 16)
            {
                var e = VectorExp.Exp(Vector512.Load(x + i) - vm);
                e.Store(y + i);
                s += e;
            }
            sum = Vector512.Sum(s);
        }
        else if (KernelIsas.UsesFma(isa)) return ExpAndSum<FusedMultiplyAdd>(x, y, max, n);
        else return ExpAndSum<SeparateMultiplyAdd>(x, y, max, n);
        for (; i < n; i++)
        {
            y[i] = MathF.Exp(x[i] - max);
            sum += y[i];
        }
        return sum;
    }

    private static float ExpAndSum<TMultiplyAdd>(float* x, float* y, float max, int n) where TMultiplyAdd : struct, IMultiplyAdd
    {
        int i = 0, w = Vector<float>.Count;
        Vector<float> s = default, vm = new(max);
        for (; i <= n - w; i += w)
        {
            var e = VectorExp.Exp<TMultiplyAdd>(Vector.Load(x + i) - vm);
            Vector.Store(e, y + i);
            s += e;
        }
        float sum = Vector.Sum(s);
        for (; i < n; i++)
        {
            y[i] = MathF.Exp(x[i] - max);
            sum += y[i];
        }
        return sum;
    }
}
