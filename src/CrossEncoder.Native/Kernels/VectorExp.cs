using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. exp(x) per float lane, for the kernels that need many of them (Softmax, the erfc of Gelu), both of
// which only pass x <= 0. The runtime's Vector<float>.Exp and Vector512.Exp widen to double for accuracy we do not need;
// this is the classic float method in ~14 vector instructions (about half the time):
//
//   n = round(x / ln 2)                       fma(x, log2 e, 1.5 * 2^23 + 127) rounds to an integer in the low mantissa
//                                             bits; the + 127 is the exponent bias, so those bits are already n + 127
//   r = x - n ln2_hi - n ln2_lo               Cody-Waite: ln2_hi has 9 significant bits, so n * ln2_hi is exact for |n| < 2^15
//                                             and r in [-ln2/2, ln2/2] carries no cancellation error
//   exp(r) = 1 + r + r^2 P(r)                 P degree 5, Cephes expf minimax coefficients: relative error < 1.2e-7 on the
//                                             interval; within ~1 ulp overall after float rounding (VectorExpTests)
//   exp(x) = exp(r) * 2^n                     2^n is the float with exponent field n + 127: the rounding bits shifted left 23
//                                             (the magic number's own bits all shift out of the 32-bit lane)
//
// Range. x is clamped below at -88: there n = -127, the exponent field is 0 and the result is exactly 0, as is exp(-inf).
// Results under 2^-126 (x < -87.7) are flushed to 0 instead of rounding into the denormals (an absolute error < 1e-38).
// Above, x must be at most 88 (n <= 127); callers pass x <= 0. A NaN lane gives an unspecified value: callers that can see
// NaN carry it through themselves (Softmax's row max is NaN, Gelu selects x back).

/// <summary>Vectorised single-precision exp for x &lt;= 0 (Cody-Waite reduction, degree-5 polynomial, 2^n from exponent bits).</summary>
internal static class VectorExp
{
    private const float Log2E = 1.44269504088896341f;
    private const float RoundMagic = 12582912f + 127f; // 1.5 * 2^23 rounds to an integer; + 127 pre-adds the exponent bias
    private const float Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float P0 = 5.0000001201e-1f, P1 = 1.6666665459e-1f, P2 = 4.1665795894e-2f, P3 = 8.3334519073e-3f,
        P4 = 1.3981999507e-3f, P5 = 1.9875691500e-4f;
    private const float Lo = -88f;

    /// <summary>exp of every lane (W = Vector&lt;float&gt;.Count) with fused multiply-adds; lanes must be &lt;= 88.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Exp(Vector<float> x) => Exp<FusedMultiplyAdd>(x);

    /// <summary>
    /// exp of every lane, a * b + c computed by <typeparamref name="TMultiplyAdd"/>. Unfused, n * ln2_hi is still exact and
    /// x * log2 e rounds once more before the integer rounding, which can only move n by one where r is at the interval's edge.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Exp<TMultiplyAdd>(Vector<float> x) where TMultiplyAdd : struct, IMultiplyAdd
    {
        x = Vector.MaxNative(x, new Vector<float>(Lo));
        var t = TMultiplyAdd.Apply(x, new Vector<float>(Log2E), new Vector<float>(RoundMagic));
        var n = t - new Vector<float>(RoundMagic);
        var r = TMultiplyAdd.Apply(n, new Vector<float>(-Ln2Hi), x);
        r = TMultiplyAdd.Apply(n, new Vector<float>(-Ln2Lo), r);
        var p = TMultiplyAdd.Apply(new Vector<float>(P5), r, new Vector<float>(P4));
        p = TMultiplyAdd.Apply(p, r, new Vector<float>(P3));
        p = TMultiplyAdd.Apply(p, r, new Vector<float>(P2));
        p = TMultiplyAdd.Apply(p, r, new Vector<float>(P1));
        p = TMultiplyAdd.Apply(p, r, new Vector<float>(P0));
        p = TMultiplyAdd.Apply(p, r * r, r) + Vector<float>.One;
        return p * Vector.AsVectorSingle(Vector.ShiftLeft(Vector.AsVectorInt32(t), 23));
    }

    /// <summary>
    /// <see cref="Exp{TMultiplyAdd}(Vector{float})"/> of four vectors at once, the same operations in the same order per lane
    /// (bit-identical results), written step by step across the four so that the instruction stream interleaves four
    /// independent chains. One exp is a chain of ~12 dependent FMAs (~55 cycles of latency on Zen 2); the JIT does not
    /// reorder instructions and the out-of-order window holds about two such chains, so a loop of single exps ran at
    /// ~3.5 cycles per float; interleaved, the FMA units stay busy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Exp4<TMultiplyAdd>(ref Vector<float> x0, ref Vector<float> x1, ref Vector<float> x2, ref Vector<float> x3)
        where TMultiplyAdd : struct, IMultiplyAdd
    {
        var lo = new Vector<float>(Lo);
        x0 = Vector.MaxNative(x0, lo); x1 = Vector.MaxNative(x1, lo); x2 = Vector.MaxNative(x2, lo); x3 = Vector.MaxNative(x3, lo);
        var log2e = new Vector<float>(Log2E);
        var magic = new Vector<float>(RoundMagic);
        var t0 = TMultiplyAdd.Apply(x0, log2e, magic); var t1 = TMultiplyAdd.Apply(x1, log2e, magic);
        var t2 = TMultiplyAdd.Apply(x2, log2e, magic); var t3 = TMultiplyAdd.Apply(x3, log2e, magic);
        var n0 = t0 - magic; var n1 = t1 - magic; var n2 = t2 - magic; var n3 = t3 - magic;
        var hi = new Vector<float>(-Ln2Hi);
        var r0 = TMultiplyAdd.Apply(n0, hi, x0); var r1 = TMultiplyAdd.Apply(n1, hi, x1);
        var r2 = TMultiplyAdd.Apply(n2, hi, x2); var r3 = TMultiplyAdd.Apply(n3, hi, x3);
        var lo2 = new Vector<float>(-Ln2Lo);
        r0 = TMultiplyAdd.Apply(n0, lo2, r0); r1 = TMultiplyAdd.Apply(n1, lo2, r1);
        r2 = TMultiplyAdd.Apply(n2, lo2, r2); r3 = TMultiplyAdd.Apply(n3, lo2, r3);
        var c5 = new Vector<float>(P5);
        var c4 = new Vector<float>(P4);
        var p0 = TMultiplyAdd.Apply(c5, r0, c4); var p1 = TMultiplyAdd.Apply(c5, r1, c4);
        var p2 = TMultiplyAdd.Apply(c5, r2, c4); var p3 = TMultiplyAdd.Apply(c5, r3, c4);
        var c = new Vector<float>(P3);
        p0 = TMultiplyAdd.Apply(p0, r0, c); p1 = TMultiplyAdd.Apply(p1, r1, c); p2 = TMultiplyAdd.Apply(p2, r2, c); p3 = TMultiplyAdd.Apply(p3, r3, c);
        c = new Vector<float>(P2);
        p0 = TMultiplyAdd.Apply(p0, r0, c); p1 = TMultiplyAdd.Apply(p1, r1, c); p2 = TMultiplyAdd.Apply(p2, r2, c); p3 = TMultiplyAdd.Apply(p3, r3, c);
        c = new Vector<float>(P1);
        p0 = TMultiplyAdd.Apply(p0, r0, c); p1 = TMultiplyAdd.Apply(p1, r1, c); p2 = TMultiplyAdd.Apply(p2, r2, c); p3 = TMultiplyAdd.Apply(p3, r3, c);
        c = new Vector<float>(P0);
        p0 = TMultiplyAdd.Apply(p0, r0, c); p1 = TMultiplyAdd.Apply(p1, r1, c); p2 = TMultiplyAdd.Apply(p2, r2, c); p3 = TMultiplyAdd.Apply(p3, r3, c);
        p0 = TMultiplyAdd.Apply(p0, r0 * r0, r0) + Vector<float>.One; p1 = TMultiplyAdd.Apply(p1, r1 * r1, r1) + Vector<float>.One;
        p2 = TMultiplyAdd.Apply(p2, r2 * r2, r2) + Vector<float>.One; p3 = TMultiplyAdd.Apply(p3, r3 * r3, r3) + Vector<float>.One;
        x0 = p0 * Vector.AsVectorSingle(Vector.ShiftLeft(Vector.AsVectorInt32(t0), 23));
        x1 = p1 * Vector.AsVectorSingle(Vector.ShiftLeft(Vector.AsVectorInt32(t1), 23));
        x2 = p2 * Vector.AsVectorSingle(Vector.ShiftLeft(Vector.AsVectorInt32(t2), 23));
        x3 = p3 * Vector.AsVectorSingle(Vector.ShiftLeft(Vector.AsVectorInt32(t3), 23));
    }

    /// <summary>The Vector512 form of <see cref="Exp4{TMultiplyAdd}"/>: four exps interleaved, bit-identical to <see cref="Exp(Vector512{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Exp4(ref Vector512<float> x0, ref Vector512<float> x1, ref Vector512<float> x2, ref Vector512<float> x3)
    {
        var lo = Vector512.Create(Lo);
        x0 = Vector512.MaxNative(x0, lo); x1 = Vector512.MaxNative(x1, lo); x2 = Vector512.MaxNative(x2, lo); x3 = Vector512.MaxNative(x3, lo);
        var log2e = Vector512.Create(Log2E);
        var magic = Vector512.Create(RoundMagic);
        var t0 = Vector512.FusedMultiplyAdd(x0, log2e, magic); var t1 = Vector512.FusedMultiplyAdd(x1, log2e, magic);
        var t2 = Vector512.FusedMultiplyAdd(x2, log2e, magic); var t3 = Vector512.FusedMultiplyAdd(x3, log2e, magic);
        var n0 = t0 - magic; var n1 = t1 - magic; var n2 = t2 - magic; var n3 = t3 - magic;
        var hi = Vector512.Create(-Ln2Hi);
        var r0 = Vector512.FusedMultiplyAdd(n0, hi, x0); var r1 = Vector512.FusedMultiplyAdd(n1, hi, x1);
        var r2 = Vector512.FusedMultiplyAdd(n2, hi, x2); var r3 = Vector512.FusedMultiplyAdd(n3, hi, x3);
        var lo2 = Vector512.Create(-Ln2Lo);
        r0 = Vector512.FusedMultiplyAdd(n0, lo2, r0); r1 = Vector512.FusedMultiplyAdd(n1, lo2, r1);
        r2 = Vector512.FusedMultiplyAdd(n2, lo2, r2); r3 = Vector512.FusedMultiplyAdd(n3, lo2, r3);
        var c5 = Vector512.Create(P5);
        var c4 = Vector512.Create(P4);
        var p0 = Vector512.FusedMultiplyAdd(c5, r0, c4); var p1 = Vector512.FusedMultiplyAdd(c5, r1, c4);
        var p2 = Vector512.FusedMultiplyAdd(c5, r2, c4); var p3 = Vector512.FusedMultiplyAdd(c5, r3, c4);
        var c = Vector512.Create(P3);
        p0 = Vector512.FusedMultiplyAdd(p0, r0, c); p1 = Vector512.FusedMultiplyAdd(p1, r1, c); p2 = Vector512.FusedMultiplyAdd(p2, r2, c); p3 = Vector512.FusedMultiplyAdd(p3, r3, c);
        c = Vector512.Create(P2);
        p0 = Vector512.FusedMultiplyAdd(p0, r0, c); p1 = Vector512.FusedMultiplyAdd(p1, r1, c); p2 = Vector512.FusedMultiplyAdd(p2, r2, c); p3 = Vector512.FusedMultiplyAdd(p3, r3, c);
        c = Vector512.Create(P1);
        p0 = Vector512.FusedMultiplyAdd(p0, r0, c); p1 = Vector512.FusedMultiplyAdd(p1, r1, c); p2 = Vector512.FusedMultiplyAdd(p2, r2, c); p3 = Vector512.FusedMultiplyAdd(p3, r3, c);
        c = Vector512.Create(P0);
        p0 = Vector512.FusedMultiplyAdd(p0, r0, c); p1 = Vector512.FusedMultiplyAdd(p1, r1, c); p2 = Vector512.FusedMultiplyAdd(p2, r2, c); p3 = Vector512.FusedMultiplyAdd(p3, r3, c);
        p0 = Vector512.FusedMultiplyAdd(p0, r0 * r0, r0) + Vector512<float>.One; p1 = Vector512.FusedMultiplyAdd(p1, r1 * r1, r1) + Vector512<float>.One;
        p2 = Vector512.FusedMultiplyAdd(p2, r2 * r2, r2) + Vector512<float>.One; p3 = Vector512.FusedMultiplyAdd(p3, r3 * r3, r3) + Vector512<float>.One;
        x0 = p0 * Vector512.ShiftLeft(t0.AsInt32(), 23).AsSingle();
        x1 = p1 * Vector512.ShiftLeft(t1.AsInt32(), 23).AsSingle();
        x2 = p2 * Vector512.ShiftLeft(t2.AsInt32(), 23).AsSingle();
        x3 = p3 * Vector512.ShiftLeft(t3.AsInt32(), 23).AsSingle();
    }

    /// <summary>exp of every lane of a Vector512 (same method as the Vector&lt;float&gt; overload); lanes must be &lt;= 88.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.MaxNative(x, Vector512.Create(Lo));
        var t = Vector512.FusedMultiplyAdd(x, Vector512.Create(Log2E), Vector512.Create(RoundMagic));
        var n = t - Vector512.Create(RoundMagic);
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(P5), r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P0));
        p = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        return p * Vector512.ShiftLeft(t.AsInt32(), 23).AsSingle();
    }
}
