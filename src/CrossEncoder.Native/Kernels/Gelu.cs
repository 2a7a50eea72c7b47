using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. GELU(x) = x * Phi(x), Phi(x) = (1 + erf(u)) / 2 with u = x / sqrt 2. Evaluated in float, per lane,
// through one function of a = |u| only:
//
//   h(a) = erfc(a) / 2 = Phi(-|x|)                       so Phi(x) = 1 - h for x > 0 and h for x <= 0
//   erfc(a) = exp(-a^2) * t * Q(t),  t = 1 / (1 + p a),  p = 0.4
//
// g(a) = exp(a^2) erfc(a) is smooth and decays like 1/(a sqrt pi), so g/t = Q is smooth on t in (0, 1] with Q(0) = p/sqrt pi;
// Q is its degree-10 Chebyshev interpolant (mpmath, 30 digits), max relative error 8.7e-9 in exact arithmetic over all
// a >= 0 (the choice of p and degree came from a scan; degree 9 was 5e-8). Halving is folded into the coefficients.
// exp is VectorExp's Cody-Waite float exp. Against the double reference the result stays within 1.2e-7 * max(1, |x|)
// (GeluTests' budget is 2e-7). Unlike 1 + erf(u), this keeps relative accuracy in the negative tail: GELU(-10) = -7.6e-23
// comes out to 7 digits.
//
// This replaced a two-branch form (erf polynomial for |u| < 1, erfc for |u| >= 1, both computed and blended, with the
// runtime's double-based exp) at ~90 instructions per vector; this one is ~40 and runs ~3x faster. One division (t) stays:
// a reciprocal estimate plus Newton step would cost the same instructions on AVX2 and lose a bit.
//
// Special values: NaN -> NaN, +inf -> +inf (h = 0), -inf -> -0 (the limit; the literal formula x*Phi(x) would give
// -inf * 0 = NaN), large negative x -> -0 (exp flushes to 0 below 2^-126), large positive x -> x.

/// <summary>Exact GELU: <c>y = x/2 * (1 + erf(x / sqrt 2))</c>, as BERT's "gelu" (not the tanh approximation).</summary>
internal static unsafe partial class Gelu
{
    private const float InvSqrt2 = 0.70710678118654752f;
    private const float P = 0.4f;
    // Q(t) / 2, lowest degree first.
    private const float Q0 = 0.5f * 0.22567583145616354f, Q1 = 0.5f * 0.22567631692737903f, Q2 = 0.5f * 0.20760072039703961f,
        Q3 = 0.5f * 0.17189057191666254f, Q4 = 0.5f * 0.11809512301367547f, Q5 = 0.5f * 0.087120641642657829f,
        Q6 = 0.5f * -0.053793166327015024f, Q7 = 0.5f * 0.14680324567174768f, Q8 = 0.5f * -0.24304173183552104f,
        Q9 = 0.5f * 0.14384106928340988f, Q10 = 0.5f * -0.0298686284891798f;

    /// <summary>y[i] = GELU(x[i]); y may alias x. <paramref name="caps"/>: the path, FMA and thread limit of this call.</summary>
    public static void Apply(ReadOnlySpan<float> x, Span<float> y, in KernelCapabilities caps)
    {
        KernelGuard.Length(y, x.Length, nameof(y));
        // ~40 flops per element; large activations (e.g. [B*T, I] in the feed-forward block) are split across threads, in
        // chunks of ChunkFloats claimed dynamically so that a core busy with another process does not hold back the call.
        int threads = caps.ThreadsFor(40L * x.Length, x.Length / 1024);
        if (threads <= 1)
        {
            Chunk(x, y, caps);
            return;
        }
        fixed (float* px = x, py = y)
        {
            var job = new Job { X = px, Y = py, Length = x.Length, Caps = caps };
            KernelParallelism.For((int)(((long)x.Length + ChunkFloats - 1) / ChunkFloats), &job, &RunPart, threads);
        }
    }

    /// <summary><see cref="Apply(ReadOnlySpan{float}, Span{float}, in KernelCapabilities)"/> for <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static void Apply(ReadOnlySpan<float> x, Span<float> y) => Apply(x, y, KernelCapabilities.Default);

    /// <summary>Floats per part of a threaded call (64 KiB: a multiple of every vector width, so only the last part has a tail).</summary>
    private const int ChunkFloats = 16384;

    private struct Job
    {
        public float* X, Y;
        public int Length;
        public KernelCapabilities Caps;
    }

    private static void RunPart(void* state, int part)
    {
        var job = (Job*)state;
        int start = part * ChunkFloats, end = Math.Min(job->Length, start + ChunkFloats);
        Chunk(new ReadOnlySpan<float>(job->X + start, end - start), new Span<float>(job->Y + start, end - start), job->Caps);
    }

    /// <summary>
    /// GELU in place on a finished GEMM tile (rows x cols, row stride ldc): the GEMM epilogue. Two rows of two vectors at a
    /// time go through the four-way interleaved lanes (a 16-wide AVX2 tile is exactly that); anything else row by row.
    /// </summary>
    internal static void Tile(float* c, int ldc, int rows, int cols, in KernelCapabilities caps)
    {
        int w = Vector<float>.Count, r = 0;
        if (caps.Isa != KernelIsa.Avx512 && cols == 2 * w)
        {
            bool fused = caps.UsesFma;
            for (; r + 1 < rows; r += 2)
            {
                float* c0 = c + (long)r * ldc, c1 = c0 + ldc;
                var x0 = Vector.Load(c0); var x1 = Vector.Load(c0 + w); var x2 = Vector.Load(c1); var x3 = Vector.Load(c1 + w);
                if (fused) Lanes4<FusedMultiplyAdd>(ref x0, ref x1, ref x2, ref x3);
                else Lanes4<SeparateMultiplyAdd>(ref x0, ref x1, ref x2, ref x3);
                Vector.Store(x0, c0); Vector.Store(x1, c0 + w); Vector.Store(x2, c1); Vector.Store(x3, c1 + w);
            }
        }
        for (; r < rows; r++) Row(c + (long)r * ldc, cols, caps);
    }

    /// <summary>y = GELU(y) in place on n floats, on the calling thread (one row of a finished tile).</summary>
    internal static void Row(float* y, int n, in KernelCapabilities caps)
    {
        var row = new Span<float>(y, n);
        Chunk(row, row, caps);
    }

    private static void Chunk(ReadOnlySpan<float> x, Span<float> y, in KernelCapabilities caps)
    {
        if (caps.Isa == KernelIsa.Avx512) Apply512(x, y);
        else if (caps.UsesFma) ApplyPortable<FusedMultiplyAdd>(x, y);
        else ApplyPortable<SeparateMultiplyAdd>(x, y);
    }

    private static void ApplyPortable<TMultiplyAdd>(ReadOnlySpan<float> x, Span<float> y) where TMultiplyAdd : struct, IMultiplyAdd
    {
        int w = Vector<float>.Count, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        for (; i <= x.Length - 4 * w; i += 4 * w)
        {
            var x0 = Vector.LoadUnsafe(ref xr, (nuint)i); var x1 = Vector.LoadUnsafe(ref xr, (nuint)(i + w));
            var x2 = Vector.LoadUnsafe(ref xr, (nuint)(i + 2 * w)); var x3 = Vector.LoadUnsafe(ref xr, (nuint)(i + 3 * w));
            Lanes4<TMultiplyAdd>(ref x0, ref x1, ref x2, ref x3);
            Vector.StoreUnsafe(x0, ref yr, (nuint)i); Vector.StoreUnsafe(x1, ref yr, (nuint)(i + w));
            Vector.StoreUnsafe(x2, ref yr, (nuint)(i + 2 * w)); Vector.StoreUnsafe(x3, ref yr, (nuint)(i + 3 * w));
        }
        for (; i <= x.Length - w; i += w) Vector.StoreUnsafe(Lanes<TMultiplyAdd>(Vector.LoadUnsafe(ref xr, (nuint)i)), ref yr, (nuint)i);
        if (i < x.Length)
        {
            // The tail goes through the same vector code via a padded copy, so every element sees identical math.
            Span<float> tail = stackalloc float[Vector<float>.Count];
            tail.Clear();
            x[i..].CopyTo(tail);
            Lanes<TMultiplyAdd>(new Vector<float>(tail)).CopyTo(tail);
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
    private static Vector<float> Lanes<TMultiplyAdd>(Vector<float> x) where TMultiplyAdd : struct, IMultiplyAdd
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
        var h = VectorExp.Exp<TMultiplyAdd>(-(a * a)) * (t * q); // erfc(a) / 2
        var phi = Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), Vector<float>.One - h, h);
        // Clamping x keeps -inf * 0 from becoming NaN; NaN inputs are passed through explicitly.
        var y = Vector.MaxNative(x, new Vector<float>(float.MinValue)) * phi;
        return Vector.ConditionalSelect(Vector.Equals(x, x), y, x);
    }

    /// <summary>
    /// <see cref="Lanes{TMultiplyAdd}(Vector{float})"/> of four vectors, step by step across the four (bit-identical per lane):
    /// one GELU is a chain of a division, ten Horner FMAs and an exp (~110 cycles of latency), and the JIT emits statements
    /// in order, so four interleaved chains keep the FMA units busy where one at a time left them waiting.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Lanes4<TMultiplyAdd>(ref Vector<float> x0, ref Vector<float> x1, ref Vector<float> x2, ref Vector<float> x3)
        where TMultiplyAdd : struct, IMultiplyAdd
    {
        var s = new Vector<float>(InvSqrt2);
        var a0 = Vector.Abs(x0) * s; var a1 = Vector.Abs(x1) * s; var a2 = Vector.Abs(x2) * s; var a3 = Vector.Abs(x3) * s;
        var pp = new Vector<float>(P);
        var t0 = Vector<float>.One / TMultiplyAdd.Apply(a0, pp, Vector<float>.One);
        var t1 = Vector<float>.One / TMultiplyAdd.Apply(a1, pp, Vector<float>.One);
        var t2 = Vector<float>.One / TMultiplyAdd.Apply(a2, pp, Vector<float>.One);
        var t3 = Vector<float>.One / TMultiplyAdd.Apply(a3, pp, Vector<float>.One);
        var c10 = new Vector<float>(Q10); var c = new Vector<float>(Q9);
        var q0 = TMultiplyAdd.Apply(c10, t0, c); var q1 = TMultiplyAdd.Apply(c10, t1, c);
        var q2 = TMultiplyAdd.Apply(c10, t2, c); var q3 = TMultiplyAdd.Apply(c10, t3, c);
        Step(ref q0, ref q1, ref q2, ref q3, t0, t1, t2, t3, Q8);
        Step(ref q0, ref q1, ref q2, ref q3, t0, t1, t2, t3, Q7);
        Step(ref q0, ref q1, ref q2, ref q3, t0, t1, t2, t3, Q6);
        Step(ref q0, ref q1, ref q2, ref q3, t0, t1, t2, t3, Q5);
        Step(ref q0, ref q1, ref q2, ref q3, t0, t1, t2, t3, Q4);
        Step(ref q0, ref q1, ref q2, ref q3, t0, t1, t2, t3, Q3);
        Step(ref q0, ref q1, ref q2, ref q3, t0, t1, t2, t3, Q2);
        Step(ref q0, ref q1, ref q2, ref q3, t0, t1, t2, t3, Q1);
        Step(ref q0, ref q1, ref q2, ref q3, t0, t1, t2, t3, Q0);
        var e0 = -(a0 * a0); var e1 = -(a1 * a1); var e2 = -(a2 * a2); var e3 = -(a3 * a3);
        VectorExp.Exp4<TMultiplyAdd>(ref e0, ref e1, ref e2, ref e3);
        x0 = Finish(x0, e0 * (t0 * q0)); x1 = Finish(x1, e1 * (t1 * q1));
        x2 = Finish(x2, e2 * (t2 * q2)); x3 = Finish(x3, e3 * (t3 * q3));

        static void Step(ref Vector<float> q0, ref Vector<float> q1, ref Vector<float> q2, ref Vector<float> q3,
            Vector<float> t0, Vector<float> t1, Vector<float> t2, Vector<float> t3, float coefficient)
        {
            var k = new Vector<float>(coefficient);
            q0 = TMultiplyAdd.Apply(q0, t0, k); q1 = TMultiplyAdd.Apply(q1, t1, k);
            q2 = TMultiplyAdd.Apply(q2, t2, k); q3 = TMultiplyAdd.Apply(q3, t3, k);
        }

        // x * Phi(x) from h = erfc(|x|/sqrt 2)/2, as in Lanes.
        static Vector<float> Finish(Vector<float> x, Vector<float> h)
        {
            var phi = Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<float>.Zero), Vector<float>.One - h, h);
            var y = Vector.MaxNative(x, new Vector<float>(float.MinValue)) * phi;
            return Vector.ConditionalSelect(Vector.Equals(x, x), y, x);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Lanes(Vector512<float> x)
    {
        var a = Vector512.Abs(x) * InvSqrt2;
        var t = Vector512<float>.One / Vector512.FusedMultiplyAdd(a, Vector512.Create(P), Vector512<float>.One);
        var q = Vector512.FusedMultiplyAdd(Vector512.Create(Q10), t, Vector512.Create(Q9));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(Q8));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(Q7));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(Q6));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(Q5));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(Q4));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(Q3));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(Q2));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(Q1));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(Q0));
        var h = VectorExp.Exp(-(a * a)) * (t * q);
        var phi = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), Vector512<float>.One - h, h);
        var y = Vector512.MaxNative(x, Vector512.Create(float.MinValue)) * phi;
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), y, x);
    }
}
