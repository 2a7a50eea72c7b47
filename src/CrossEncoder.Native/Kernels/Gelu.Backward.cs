using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. d GELU(x) / dx = Phi(x) + x phi(x), with phi the standard normal density exp(-x^2/2) / sqrt(2 pi).
// Phi comes from the forward's function h(a) = erfc(a)/2 = Phi(-|x|) (Gelu.cs), and exp(-a^2) with a = |x| / sqrt 2 is
// exactly exp(-x^2/2), so the density costs one multiply more. The reference twin is double with SpecialFunctions.Erf.
internal static unsafe partial class Gelu
{
    private const float InvSqrt2Pi = 0.39894228040143268f;

    /// <summary>dx[i] = dy[i] * GELU'(x[i]) for BERT's exact GELU; dx may alias dy.</summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx, in KernelCapabilities caps)
    {
        KernelGuard.Length(dy, x.Length, nameof(dy));
        KernelGuard.Length(dx, x.Length, nameof(dx));
        if (caps.UsesFma) BackwardPortable<FusedMultiplyAdd>(x, dy, dx);
        else BackwardPortable<SeparateMultiplyAdd>(x, dy, dx);
    }

    private static void BackwardPortable<TMultiplyAdd>(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) where TMultiplyAdd : struct, IMultiplyAdd
    {
        int w = Vector<float>.Count, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float dyr = ref MemoryMarshal.GetReference(dy);
        ref float dxr = ref MemoryMarshal.GetReference(dx);
        for (; i <= x.Length - w; i += w)
            Vector.StoreUnsafe(Vector.LoadUnsafe(ref dyr, (nuint)i) * Derivative<TMultiplyAdd>(Vector.LoadUnsafe(ref xr, (nuint)i)), ref dxr, (nuint)i);
        if (i < x.Length)
        {
            // The tail goes through the same vector code via a padded copy, so every element sees identical math.
            Span<float> tail = stackalloc float[w];
            tail.Clear();
            x[i..].CopyTo(tail);
            var d = Derivative<TMultiplyAdd>(new Vector<float>(tail));
            for (int j = 0; j < x.Length - i; j++) dx[i + j] = dy[i + j] * d[j];
        }
    }

    /// <summary>GELU'(x) per lane: Phi(x) + x phi(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Derivative<TMultiplyAdd>(Vector<float> x) where TMultiplyAdd : struct, IMultiplyAdd
    {
        var a = Vector.Abs(x) * InvSqrt2;
        var t = Vector<float>.One / TMultiplyAdd.Apply(a, new Vector<float>(P), Vector<float>.One);
        var q = TMultiplyAdd.Apply(new Vector<float>(Q10), t, new Vector<float>(Q9));
        q = TMultiplyAdd.Apply(q, t, new Vector<float>(Q8));
        q = TMultiplyAdd.Apply(q, t, new Vector<float>(Q7));
        q = TMultiplyAdd.Apply(q, t, new Vector<float>(Q6));
        q = TMultiplyAdd.Apply(q, t, new Vector<float>(Q5));
        q = TMultiplyAdd.Apply(q, t, new Vector<float>(Q4));
        q = TMultiplyAdd.Apply(q, t, new Vector<float>(Q3));
        q = TMultiplyAdd.Apply(q, t, new Vector<float>(Q2));
        q = TMultiplyAdd.Apply(q, t, new Vector<float>(Q1));
        q = TMultiplyAdd.Apply(q, t, new Vector<float>(Q0));
        var e = VectorExp.Exp<TMultiplyAdd>(-(a * a));                       // exp(-x^2 / 2)
        var h = e * (t * q);                                                 // Phi(-|x|)
        var cdf = Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), Vector<float>.One - h, h);
        // x phi(x) -> 0 as |x| -> inf; the clamp keeps inf * 0 from becoming NaN.
        var xc = Vector.Min(Vector.Max(x, new Vector<float>(-1e4f)), new Vector<float>(1e4f));
        var d = TMultiplyAdd.Apply(xc * new Vector<float>(InvSqrt2Pi), e, cdf);
        return Vector.ConditionalSelect(Vector.Equals(x, x), d, x);
    }

    /// <summary>Readable twin of <see cref="Backward"/>: GELU'(x) = Phi(x) + x phi(x) in double.</summary>
    public static double DerivativeReference(double x)
    {
        double cdf = 0.5 * (1.0 + SpecialFunctions.Erf(x / Math.Sqrt(2.0)));
        double density = Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);
        return double.IsInfinity(x) ? (x > 0 ? 1 : 0) : cdf + x * density;
    }
}
