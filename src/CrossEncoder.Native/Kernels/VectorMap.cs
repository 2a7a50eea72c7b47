using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

/// <summary>An element-wise float function given per vector (GELU, SiLU), for <see cref="VectorMap"/>.</summary>
internal interface IVectorFunction
{
    /// <summary>f of every lane of a Vector512 (the AVX-512 path).</summary>
    static abstract Vector512<float> Lanes(Vector512<float> x);

    /// <summary>f of every lane of a Vector&lt;float&gt;, a * b + c computed by <typeparamref name="TMultiplyAdd"/> (the other paths).</summary>
    static abstract Vector<float> Lanes<TMultiplyAdd>(Vector<float> x) where TMultiplyAdd : struct, IMultiplyAdd;
}

/// <summary>
/// y[i] = f(x[i]) over a span, one vector at a time; the tail goes through the same vector code via a zero-padded copy, so
/// an element's result does not depend on where it sits (a GEMM tile and a plain row give the same bits). y may alias x.
/// </summary>
internal static class VectorMap
{
    /// <summary>The AVX-512 path: Vector512 lanes.</summary>
    public static void Apply512<TFunction>(ReadOnlySpan<float> x, Span<float> y) where TFunction : IVectorFunction
    {
        int i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            TFunction.Lanes(Vector512.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        if (i == x.Length) return;
        Span<float> tail = stackalloc float[Vector512<float>.Count];
        tail.Clear();
        x[i..].CopyTo(tail);
        TFunction.Lanes(Vector512.Create((ReadOnlySpan<float>)tail)).CopyTo(tail);
        tail[..(x.Length - i)].CopyTo(y[i..]);
    }

    /// <summary>The portable path: Vector&lt;float&gt; lanes from element <paramref name="start"/> on (a caller's faster loop
    /// may have done the elements before).</summary>
    public static void ApplyPortable<TFunction, TMultiplyAdd>(ReadOnlySpan<float> x, Span<float> y, int start = 0)
        where TFunction : IVectorFunction where TMultiplyAdd : struct, IMultiplyAdd
    {
        int w = Vector<float>.Count, i = start;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; i <= x.Length - w; i += w) Vector.StoreUnsafe(TFunction.Lanes<TMultiplyAdd>(Vector.LoadUnsafe(ref xr, (nuint)i)), ref yr, (nuint)i);
        if (i == x.Length) return;
        Span<float> tail = stackalloc float[Vector<float>.Count];
        tail.Clear();
        x[i..].CopyTo(tail);
        TFunction.Lanes<TMultiplyAdd>(new Vector<float>(tail)).CopyTo(tail);
        tail[..(x.Length - i)].CopyTo(y[i..]);
    }
}
