using System.Numerics;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. Three vector passes over the row: m = max(x); y = exp(x - m) while summing y; y *= 1/sum.
// Subtracting the max keeps every exponent <= 0, so nothing overflows however large the scores are, and the largest term
// is exactly 1, so the sum is >= 1 and the division is safe. exp(-inf) = 0 gives masked keys probability 0. A row that is
// entirely -inf has no defined softmax (it would be 0/0), nor has one whose max is +inf or NaN: every output is NaN, as in
// the reference. Such a row is data, not a caller's mistake (attention scores that overflowed), so it never throws: the NaN
// reaches the model's output, whose check names the stage that overflowed. (VectorExp maps a NaN lane to an unspecified
// value, so the row is filled with NaN rather than left to the arithmetic.)
// The exponential is VectorExp's float exp (within ~1 ulp; results below 2^-126 flush to 0, an absolute error < 1e-38).
// A NaN in the row makes the max NaN and with it every output.

/// <summary>Numerically stable softmax over one row: <c>y = exp(x - max x) / sum exp(x - max x)</c>.</summary>
internal static unsafe partial class Softmax
{
    /// <summary>y = softmax(x); y may alias x. Entries equal to -inf get probability 0; a row whose max is not finite (all
    /// -inf, or holding +inf or NaN) gives NaN everywhere.
    /// <paramref name="caps"/>: the path and FMA of this call (one row: no threads).</summary>
    public static void Apply(ReadOnlySpan<float> x, Span<float> y, in KernelCapabilities caps)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        if (x.IsEmpty) return;
        fixed (float* px = x, py = y) Row(px, py, x.Length, caps);
    }

    /// <summary>Softmax of one row of n &gt; 0 values (validated by the caller); y may equal x.</summary>
    internal static void Row(float* x, float* y, int n, in KernelCapabilities caps)
    {
        float max = Max(x, n, caps.Isa);
        if (!float.IsFinite(max)) { new Span<float>(y, n).Fill(float.NaN); return; }
        float inv = 1f / ExpAndSum(x, y, max, n, caps);
        int i = 0;
        if (caps.Isa == KernelIsa.Avx512)
            for (; i <= n - 16; i += 16) (Vector512.Load(y + i) * inv).Store(y + i);
        else
            for (int w = Vector<float>.Count; i <= n - w; i += w) Vector.Store(Vector.Load(y + i) * inv, y + i);
        for (; i < n; i++) y[i] *= inv;
    }

    /// <summary>
    /// The unnormalised half of softmax(x * scale), for attention, which divides later (once per row of S V: dH values
    /// instead of T): x = exp(scale * x - scale * max x) in place; returns the sum. scale &gt; 0, n &gt; 0. One pass for the
    /// max, one for exp and sum (four exps interleaved, VectorExp.Exp4); Row's scale, bias and normalisation passes are not needed.
    /// </summary>
    internal static float ExpScaledInPlace(float* x, int n, float scale, in KernelCapabilities caps)
    {
        float max = Max(x, n, caps.Isa);
        if (!float.IsFinite(max)) { new Span<float>(x, n).Fill(float.NaN); return float.NaN; }   // no softmax: NaN through the division
        float shift = -max * scale;
        if (caps.Isa != KernelIsa.Avx512)
            return caps.UsesFma ? ExpScaled<FusedMultiplyAdd>(x, n, scale, shift) : ExpScaled<SeparateMultiplyAdd>(x, n, scale, shift);
        int i = 0;
        Vector512<float> s0 = default, s1 = default, vs = Vector512.Create(scale), vb = Vector512.Create(shift);
        for (; i <= n - 64; i += 64)
        {
            var e0 = Vector512.FusedMultiplyAdd(Vector512.Load(x + i), vs, vb);
            var e1 = Vector512.FusedMultiplyAdd(Vector512.Load(x + i + 16), vs, vb);
            var e2 = Vector512.FusedMultiplyAdd(Vector512.Load(x + i + 32), vs, vb);
            var e3 = Vector512.FusedMultiplyAdd(Vector512.Load(x + i + 48), vs, vb);
            VectorExp.Exp4(ref e0, ref e1, ref e2, ref e3);
            e0.Store(x + i); e1.Store(x + i + 16); e2.Store(x + i + 32); e3.Store(x + i + 48);
            s0 += e0 + e2; s1 += e1 + e3;
        }
        for (; i <= n - 16; i += 16)
        {
            var e = VectorExp.Exp(Vector512.FusedMultiplyAdd(Vector512.Load(x + i), vs, vb));
            e.Store(x + i);
            s0 += e;
        }
        float sum = Vector512.Sum(s0 + s1);
        for (; i < n; i++) { x[i] = MathF.Exp(MathF.FusedMultiplyAdd(x[i], scale, shift)); sum += x[i]; }
        return sum;
    }

    private static float ExpScaled<TMultiplyAdd>(float* x, int n, float scale, float shift) where TMultiplyAdd : struct, IMultiplyAdd
    {
        int i = 0, w = Vector<float>.Count;
        Vector<float> s0 = default, s1 = default, vs = new(scale), vb = new(shift);
        for (; i <= n - 4 * w; i += 4 * w)
        {
            var e0 = TMultiplyAdd.Apply(Vector.Load(x + i), vs, vb);
            var e1 = TMultiplyAdd.Apply(Vector.Load(x + i + w), vs, vb);
            var e2 = TMultiplyAdd.Apply(Vector.Load(x + i + 2 * w), vs, vb);
            var e3 = TMultiplyAdd.Apply(Vector.Load(x + i + 3 * w), vs, vb);
            VectorExp.Exp4<TMultiplyAdd>(ref e0, ref e1, ref e2, ref e3);
            Vector.Store(e0, x + i); Vector.Store(e1, x + i + w); Vector.Store(e2, x + i + 2 * w); Vector.Store(e3, x + i + 3 * w);
            s0 += e0 + e2; s1 += e1 + e3;
        }
        for (; i <= n - w; i += w)
        {
            var e = VectorExp.Exp<TMultiplyAdd>(TMultiplyAdd.Apply(Vector.Load(x + i), vs, vb));
            Vector.Store(e, x + i);
            s0 += e;
        }
        float sum = Vector.Sum(s0 + s1);
        for (; i < n; i++) { x[i] = MathF.Exp(TMultiplyAdd.Apply(x[i], scale, shift)); sum += x[i]; }
        return sum;
    }

    internal static float Max(float* x, int n, KernelIsa isa)
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
    private static float ExpAndSum(float* x, float* y, float max, int n, in KernelCapabilities caps)
    {
        int i = 0;
        float sum = 0;
        if (caps.Isa == KernelIsa.Avx512)
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
        else if (caps.UsesFma) return ExpAndSum<FusedMultiplyAdd>(x, y, max, n);
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
