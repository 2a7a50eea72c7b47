using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

// y = SiLU(x) = x * sigmoid(x) = x / (1 + e^-x)
//
// Implementation notes. Per float lane, through one exp of a non-positive argument (VectorExp's domain, so nothing
// overflows):
//
//   e = exp(-|x|)                     VectorExp (Cody-Waite, degree-5 polynomial): within ~1 ulp
//   y = x / (1 + e)         x >= 0    sigmoid(x) = 1 / (1 + e^-x)
//   y = (x * e) / (1 + e)   x < 0     sigmoid(x) = e^x / (1 + e^x), the same e
//
// For x >= 0 the numerator x * 1 is exact; for x < 0 the product x * e adds one rounding. Measured against the double
// formula (SiluTests' dense sweep, every 1/4096 over [-100, 100] and out to float.MaxValue, every path): at most 2.16e-7
// relative (~3.6 ulp, the final rounding included); budget 3e-7. No MathF.Exp per element: the tail goes through the same
// vector code via a padded copy, so every element sees the same arithmetic whatever its position (a GEMM tile and a plain
// row give the same bits).
//
// The loops are Gelu's shape, written again on purpose: one generic driver for both (tried) shrank Gelu's portable loop
// method, the JIT's inlining budget (which scales with the caller's size) then left Gelu's four-way Lanes4 a call, and GELU
// ran 2.8x slower (1.84 against 0.67 ns a float on Zen 4). The stackalloc in each loop method also has the JIT compile it
// fully optimised at once (no on-stack-replacement stage).
//
// Range and special values. Below x = -87.3, e^x is under the smallest normal float and VectorExp flushes it to 0, so y
// is -0 where the true value is at most 1.1e-36 in magnitude. +inf -> +inf, -inf -> -0 (the limit; x * e would be
// -inf * 0 = NaN, so x is clamped to float.MinValue first), NaN -> NaN (selected back explicitly, as Gelu does).

/// <summary>The sigmoid-weighted linear unit <c>SiLU(x) = x * sigmoid(x)</c> ("swish"), vectorised.</summary>
internal static unsafe partial class Silu
{
    /// <summary>y[i] = SiLU(x[i]) on the calling thread; y may alias x. <paramref name="caps"/>: the path and FMA of this call.</summary>
    /// <exception cref="ArgumentException">y is shorter than x.</exception>
    public static void Apply(ReadOnlySpan<float> x, Span<float> y, in KernelCapabilities caps)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        if (caps.Isa == KernelIsa.Avx512) Apply512(x, y);
        else if (caps.UsesFma) ApplyPortable<FusedMultiplyAdd>(x, y);
        else ApplyPortable<SeparateMultiplyAdd>(x, y);
    }

    /// <summary>y = SiLU(y) in place on n floats (a finished GEMM tile's block).</summary>
    internal static void Row(float* y, int n, in KernelCapabilities caps)
    {
        var row = new Span<float>(y, n);
        Apply(row, row, caps);
    }

    private static void ApplyPortable<TMultiplyAdd>(ReadOnlySpan<float> x, Span<float> y) where TMultiplyAdd : struct, IMultiplyAdd
    {
        int w = Vector<float>.Count, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; i <= x.Length - w; i += w) Vector.StoreUnsafe(Lanes<TMultiplyAdd>(Vector.LoadUnsafe(ref xr, (nuint)i)), ref yr, (nuint)i);
        if (i == x.Length) return;
        Span<float> tail = stackalloc float[Vector<float>.Count];
        tail.Clear();
        x[i..].CopyTo(tail);
        Lanes<TMultiplyAdd>(new Vector<float>(tail)).CopyTo(tail);
        tail[..(x.Length - i)].CopyTo(y[i..]);
    }

    private static void Apply512(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            Lanes(Vector512.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        if (i == x.Length) return;
        Span<float> tail = stackalloc float[Vector512<float>.Count];
        tail.Clear();
        x[i..].CopyTo(tail);
        Lanes(Vector512.Create((ReadOnlySpan<float>)tail)).CopyTo(tail);
        tail[..(x.Length - i)].CopyTo(y[i..]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Lanes<TMultiplyAdd>(Vector<float> x) where TMultiplyAdd : struct, IMultiplyAdd
    {
        var e = VectorExp.Exp<TMultiplyAdd>(-Vector.Abs(x));                                            // e^-|x|
        var numerator = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, Vector<float>.Zero), Vector<float>.One, e);
        var y = Vector.MaxNative(x, new Vector<float>(float.MinValue)) * numerator / (Vector<float>.One + e);
        return Vector.ConditionalSelect(Vector.Equals(x, x), y, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Lanes(Vector512<float> x)
    {
        var e = VectorExp.Exp(-Vector512.Abs(x));
        var numerator = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.One, e);
        var y = Vector512.MaxNative(x, Vector512.Create(float.MinValue)) * numerator / (Vector512<float>.One + e);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), y, x);
    }
}
