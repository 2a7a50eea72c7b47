using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. GELU(x) = x * Phi(x), Phi(x) = (1 + erf(u)) / 2 with u = x / sqrt 2. Evaluated in float, per lane:
//
//   |u| < 1   erf(u) = u * A(u^2), A a degree-6 polynomial: Chebyshev interpolant of erf(u)/u on u^2 in [0, 1]
//             (max relative error 1.3e-9 in exact arithmetic).
//   |u| >= 1  erfc(|u|) = exp(-u^2) * t * B(w),  t = 1/|u|,  w = 2.4 t - 1.4 (maps t in [1/6, 1] to [-1, 1]), B a degree-10
//             polynomial: Chebyshev interpolant of g(t) = |u| exp(u^2) erfc(|u|) (max relative error 1.3e-8 exactly, 7e-8
//             with float Horner). For |u| > 6, w is clamped to -1: erfc(6) = 2e-17, so the small error in g is invisible.
//             Phi = 1 - erfc/2 for x > 0, erfc/2 for x < 0 (no cancellation on the negative side).
//
// Both branches are computed for every lane and blended, so there are no data-dependent branches. The coefficients were
// fitted with mpmath (40 digits) at Chebyshev nodes. Measured against the double reference, |fast - ref| stays below
// ~1.5e-7 * max(1, |x|) over the float range (see GeluTests). Special values: NaN -> NaN, +inf -> +inf, -inf -> -0 (the
// limit; the literal formula x*Phi(x) would give -inf * 0 = NaN), large negative x -> -0, large positive x -> x.

/// <summary>Exact GELU: <c>y = x/2 * (1 + erf(x / sqrt 2))</c>, as BERT's "gelu" (not the tanh approximation).</summary>
public static unsafe partial class Gelu
{
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float A0 = 1.1283791658483509f, A1 = -0.37612626666720331f, A2 = 0.11283594715160218f, A3 = -0.026854212010626412f,
        A4 = 0.005189087423433974f, A5 = -0.00080168642871658695f, A6 = 7.8758750626854883e-5f;
    private const float B0 = 0.49666648512593865f, B1 = -0.071282842419871078f, B2 = -0.0019369147844896233f, B3 = 0.0062190204112244372f,
        B4 = -0.002668813063384419f, B5 = 0.0006445863085039157f, B6 = -5.3434978231074178e-6f, B7 = -0.00010068876770896183f,
        B8 = 6.5857978895013626e-5f, B9 = -1.7995258263261778e-5f, B10 = 2.2247262604028157e-7f;

    /// <summary>y[i] = GELU(x[i]); y may alias x.</summary>
    public static void Apply(ReadOnlySpan<float> x, Span<float> y) => Apply(x, y, KernelIsas.Best);

    internal static void Apply(ReadOnlySpan<float> x, Span<float> y, KernelIsa isa)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        // ~40 flops per element; large activations (e.g. [B*T, I] in the feed-forward block) are split into chunks.
        int parts = KernelParallelism.DegreeFor(40L * x.Length, x.Length / 1024);
        if (parts <= 1)
        {
            Chunk(x, y, isa);
            return;
        }
        fixed (float* px = x, py = y)
        {
            var job = new Job { X = px, Y = py, Length = x.Length, Parts = parts, Isa = isa };
            KernelParallelism.For(parts, &job, &RunPart);
        }
    }

    private struct Job
    {
        public float* X, Y;
        public int Length, Parts;
        public KernelIsa Isa;
    }

    private static void RunPart(void* state, int part)
    {
        var job = (Job*)state;
        // Chunk boundaries on multiples of 64 floats keep every chunk but the last free of vector tails.
        int start = (int)((long)job->Length * part / job->Parts) & ~63;
        int end = part == job->Parts - 1 ? job->Length : (int)((long)job->Length * (part + 1) / job->Parts) & ~63;
        Chunk(new ReadOnlySpan<float>(job->X + start, end - start), new Span<float>(job->Y + start, end - start), job->Isa);
    }

    private static void Chunk(ReadOnlySpan<float> x, Span<float> y, KernelIsa isa)
    {
        if (isa == KernelIsa.Avx512) Apply512(x, y);
        else ApplyPortable(x, y);
    }

    private static void ApplyPortable(ReadOnlySpan<float> x, Span<float> y)
    {
        int w = Vector<float>.Count, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; i <= x.Length - w; i += w) Vector.StoreUnsafe(Lanes(Vector.LoadUnsafe(ref xr, (nuint)i)), ref yr, (nuint)i);
        if (i < x.Length)
        {
            // The tail goes through the same vector code via a padded copy, so every element sees identical math.
            Span<float> tail = stackalloc float[Vector<float>.Count];
            tail.Clear();
            x[i..].CopyTo(tail);
            Lanes(new Vector<float>(tail)).CopyTo(tail);
            tail[..(x.Length - i)].CopyTo(y[i..]);
        }
    }

    private static void Apply512(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            Lanes(Vector512.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        if (i < x.Length)
        {
            Span<float> tail = stackalloc float[Vector512<float>.Count];
            tail.Clear();
            x[i..].CopyTo(tail);
            Lanes(Vector512.Create((ReadOnlySpan<float>)tail)).CopyTo(tail);
            tail[..(x.Length - i)].CopyTo(y[i..]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Lanes(Vector<float> x)
    {
        var one = Vector<float>.One;
        var half = new Vector<float>(0.5f);
        var u = x * InvSqrt2;
        var au = Vector.Abs(u);
        var s = u * u;
        // |u| < 1: Phi = 1/2 + u A(u^2) / 2.
        var a = Vector.FusedMultiplyAdd(s, new Vector<float>(A6), new Vector<float>(A5));
        a = Vector.FusedMultiplyAdd(a, s, new Vector<float>(A4));
        a = Vector.FusedMultiplyAdd(a, s, new Vector<float>(A3));
        a = Vector.FusedMultiplyAdd(a, s, new Vector<float>(A2));
        a = Vector.FusedMultiplyAdd(a, s, new Vector<float>(A1));
        a = Vector.FusedMultiplyAdd(a, s, new Vector<float>(A0));
        var phiSmall = Vector.FusedMultiplyAdd(u * a, half, half);
        // |u| >= 1: erfc(|u|)/2 = exp(-u^2) t B(w) / 2.
        var t = one / Vector.Max(au, one);
        var w = Vector.Max(Vector.FusedMultiplyAdd(t, new Vector<float>(2.4f), new Vector<float>(-1.4f)), -one);
        var b = Vector.FusedMultiplyAdd(w, new Vector<float>(B10), new Vector<float>(B9));
        b = Vector.FusedMultiplyAdd(b, w, new Vector<float>(B8));
        b = Vector.FusedMultiplyAdd(b, w, new Vector<float>(B7));
        b = Vector.FusedMultiplyAdd(b, w, new Vector<float>(B6));
        b = Vector.FusedMultiplyAdd(b, w, new Vector<float>(B5));
        b = Vector.FusedMultiplyAdd(b, w, new Vector<float>(B4));
        b = Vector.FusedMultiplyAdd(b, w, new Vector<float>(B3));
        b = Vector.FusedMultiplyAdd(b, w, new Vector<float>(B2));
        b = Vector.FusedMultiplyAdd(b, w, new Vector<float>(B1));
        b = Vector.FusedMultiplyAdd(b, w, new Vector<float>(B0));
        var halfErfc = Vector.Exp(-s) * (t * b) * half;
        var phiLarge = Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), one - halfErfc, halfErfc);
        var phi = Vector.ConditionalSelect(Vector.LessThan(au, one), phiSmall, phiLarge);
        // Clamping x keeps -inf * 0 from becoming NaN; NaN inputs are passed through explicitly.
        var y = Vector.Max(x, new Vector<float>(float.MinValue)) * phi;
        return Vector.ConditionalSelect(Vector.Equals(x, x), y, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Lanes(Vector512<float> x)
    {
        var one = Vector512<float>.One;
        var half = Vector512.Create(0.5f);
        var u = x * InvSqrt2;
        var au = Vector512.Abs(u);
        var s = u * u;
        var a = Vector512.FusedMultiplyAdd(s, Vector512.Create(A6), Vector512.Create(A5));
        a = Vector512.FusedMultiplyAdd(a, s, Vector512.Create(A4));
        a = Vector512.FusedMultiplyAdd(a, s, Vector512.Create(A3));
        a = Vector512.FusedMultiplyAdd(a, s, Vector512.Create(A2));
        a = Vector512.FusedMultiplyAdd(a, s, Vector512.Create(A1));
        a = Vector512.FusedMultiplyAdd(a, s, Vector512.Create(A0));
        var phiSmall = Vector512.FusedMultiplyAdd(u * a, half, half);
        var t = one / Vector512.Max(au, one);
        var w = Vector512.Max(Vector512.FusedMultiplyAdd(t, Vector512.Create(2.4f), Vector512.Create(-1.4f)), -one);
        var b = Vector512.FusedMultiplyAdd(w, Vector512.Create(B10), Vector512.Create(B9));
        b = Vector512.FusedMultiplyAdd(b, w, Vector512.Create(B8));
        b = Vector512.FusedMultiplyAdd(b, w, Vector512.Create(B7));
        b = Vector512.FusedMultiplyAdd(b, w, Vector512.Create(B6));
        b = Vector512.FusedMultiplyAdd(b, w, Vector512.Create(B5));
        b = Vector512.FusedMultiplyAdd(b, w, Vector512.Create(B4));
        b = Vector512.FusedMultiplyAdd(b, w, Vector512.Create(B3));
        b = Vector512.FusedMultiplyAdd(b, w, Vector512.Create(B2));
        b = Vector512.FusedMultiplyAdd(b, w, Vector512.Create(B1));
        b = Vector512.FusedMultiplyAdd(b, w, Vector512.Create(B0));
        var halfErfc = Vector512.Exp(-s) * (t * b) * half;
        var phiLarge = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), one - halfErfc, halfErfc);
        var phi = Vector512.ConditionalSelect(Vector512.LessThan(au, one), phiSmall, phiLarge);
        var y = Vector512.Max(x, Vector512.Create(float.MinValue)) * phi;
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), y, x);
    }
}
