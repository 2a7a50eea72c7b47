using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

// y[R, N] = x[R, N] / sqrt(mean(x^2) + eps) * weight[N], per row
//
// Implementation notes. The arithmetic, in this order, is the RMSNorm of Hugging Face's decoders in float32
// (T5LayerNorm and its copies, e.g. Qwen2RMSNorm / Qwen3RMSNorm in transformers' modeling_qwen3.py):
//
//   variance = hidden.pow(2).mean(-1)               s = sum(x^2) in float (vector partial sums), variance = s / n
//   hidden = hidden * torch.rsqrt(variance + eps)   inv = 1 / sqrt(variance + eps): torch's CPU rsqrt is a square root
//                                                   then a division, two roundings, and so is ours
//   return weight * hidden                          y = weight * (x * inv): two products, each rounded, never fused
//
// Only the order of the partial sums in s differs from torch's (its reduction is blocked differently too); every step
// after s is the same float operation on the same operands. Unlike LayerNorm nothing cancels: every step is a product or a
// sum of squares, so the error is relative, per element: s carries at most k/2 ulp of relative error (k = the additions
// one partial sum sees: n / 64 + 4 on AVX-512, n / 32 + 3 on a 256-bit Vector<T>, plus the tail), inv half of that, and
// the two products an ulp (RmsNormTests' budget, 2e-6 relative, covers n up to a few thousand).
//
// Three entry points share one row loop:
//   Normalize        output = RMSNorm(input)                                      (output may alias input)
//   AddAndNormalize  residual += x; output = RMSNorm(residual)                    (the pre-norm block's "add the sublayer
//                                                                                  to the stream, normalise for the next")
//   NormalizeHeads   x[r, c0 + h*dH : +dH] = RMSNorm(that slice), for h < heads   (per-head q/k norms on a fused [N, ld]
//                                                                                  projection, in place)
// Every element is read before it is written, at the same index, so in-place calls are safe. Large calls are split over
// rows by KernelParallelism.

/// <summary>Root-mean-square normalisation over the last dimension: <c>y = x / sqrt(mean(x^2) + eps) * weight</c>, per row.</summary>
internal static unsafe partial class RmsNorm
{
    /// <summary>output[R, N] = RMSNorm(input[R, N]) * weight[N]; output may alias input. <paramref name="caps"/>: path, FMA, threads.</summary>
    /// <exception cref="ArgumentException">A span is shorter than its shape needs.</exception>
    public static void Normalize(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, Span<float> output, int rows, int n, float eps, in KernelCapabilities caps)
    {
        KernelGuard.Positive(rows, nameof(rows));
        KernelGuard.Positive(n, nameof(n));
        KernelGuard.Length(input, (long)rows * n, nameof(input));
        KernelGuard.Length(weight, n, nameof(weight));
        KernelGuard.Length(output, (long)rows * n, nameof(output));
        if (rows == 0 || n == 0) return;
        fixed (float* px = input, pw = weight, py = output)
        {
            var job = new Job { X = px, Weight = pw, Output = py, Rows = rows, N = n, Ld = n, Segments = 1, Eps = eps, Caps = caps };
            Run(&job);
        }
    }

    /// <summary>
    /// residual[R, N] += x[R, N], then output[R, N] = RMSNorm(residual) * weight[N]: the residual add of a pre-norm block fused
    /// with the norm of the next sublayer's input, one pass over the stream. The sum is rounded to float and stored (as
    /// <c>residual + hidden_states</c> is in torch) before it is normalised. output may alias x, not residual (the stream
    /// would be lost).
    /// </summary>
    /// <exception cref="ArgumentException">A span is shorter than its shape needs.</exception>
    public static void AddAndNormalize(Span<float> residual, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> output, int rows, int n, float eps,
        in KernelCapabilities caps)
    {
        KernelGuard.Positive(rows, nameof(rows));
        KernelGuard.Positive(n, nameof(n));
        KernelGuard.Length(residual, (long)rows * n, nameof(residual));
        KernelGuard.Length(x, (long)rows * n, nameof(x));
        KernelGuard.Length(weight, n, nameof(weight));
        KernelGuard.Length(output, (long)rows * n, nameof(output));
        if (rows == 0 || n == 0) return;
        fixed (float* pr = residual, px = x, pw = weight, py = output)
        {
            var job = new Job { X = px, Residual = pr, Weight = pw, Output = py, Rows = rows, N = n, Ld = n, Segments = 1, Eps = eps, Caps = caps };
            Run(&job);
        }
    }

    /// <summary>
    /// In place, per row r &lt; rows (row stride <paramref name="ld"/>) and head h &lt; heads: the slice
    /// x[r, firstColumn + h*headDim : +headDim] = RMSNorm(that slice) * weight[headDim], every head with the same weight. For
    /// per-head norms of queries or keys inside a fused projection [N, ld] (q heads, then k heads, then v).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The heads do not fit in a row of <paramref name="ld"/> columns.</exception>
    /// <exception cref="ArgumentException">A span is shorter than its shape needs.</exception>
    public static void NormalizeHeads(Span<float> x, int ld, int rows, int heads, int headDim, int firstColumn, ReadOnlySpan<float> weight, float eps,
        in KernelCapabilities caps)
    {
        KernelGuard.Positive(rows, nameof(rows));
        KernelGuard.Positive(heads, nameof(heads));
        KernelGuard.Positive(headDim, nameof(headDim));
        KernelGuard.Positive(firstColumn, nameof(firstColumn));
        long end = firstColumn + (long)heads * headDim;
        if (end > ld) throw new ArgumentOutOfRangeException(nameof(ld), ld, $"Columns [{firstColumn}, {end}) of {heads} heads x {headDim} do not fit a row stride of {ld}.");
        KernelGuard.Length(weight, headDim, nameof(weight));
        if (rows == 0 || heads == 0 || headDim == 0) return;
        KernelGuard.Length(x, (long)(rows - 1) * ld + end, nameof(x));
        fixed (float* px = x, pw = weight)
        {
            float* first = px + firstColumn;
            var job = new Job { X = first, Weight = pw, Output = first, Rows = rows, N = headDim, Ld = ld, Segments = heads, Eps = eps, Caps = caps };
            Run(&job);
        }
    }

    /// <summary>Rows of segments: segment s of row r is [r*Ld + s*N, +N) of X (and of Residual and Output).</summary>
    private struct Job
    {
        public float* X, Residual, Weight, Output;
        public int Rows, N, Ld, Segments, Parts;
        public float Eps;
        public KernelCapabilities Caps;
    }

    private static void Run(Job* job)
    {
        // ~4 flops per element (square-add, two products; the add of AddAndNormalize); parts are blocks of rows.
        job->Parts = job->Caps.ThreadsFor(4L * job->Rows * job->Segments * job->N, job->Rows);
        if (job->Parts == 1) RunRows(job, 0, job->Rows);
        else KernelParallelism.For(job->Parts, job, &RunPart, job->Caps.MaxThreads);
    }

    private static void RunPart(void* state, int part)
    {
        var job = (Job*)state;
        RunRows(job, (int)((long)job->Rows * part / job->Parts), (int)((long)job->Rows * (part + 1) / job->Parts));
    }

    private static void RunRows(Job* job, int r0, int r1)
    {
        int n = job->N;
        for (int r = r0; r < r1; r++)
            for (int s = 0; s < job->Segments; s++)
            {
                long at = (long)r * job->Ld + (long)s * n;
                float* x = job->X + at, y = job->Output + at;
                float sumOfSquares;
                if (job->Residual != null)
                {
                    float* residual = job->Residual + at;
                    sumOfSquares = AddAndSumSquares(residual, x, n, job->Caps);    // residual += x; sum(residual^2)
                    x = residual;                                                   // the norm reads the updated stream
                }
                else sumOfSquares = SumSquares(x, n, job->Caps);
                if (!float.IsFinite(sumOfSquares))
                {
                    // Finite values past ~1.8e19 overflow the float sum of squares, and torch's float arithmetic then scales the
                    // row to zeros: a silent wrong result. Such a (rare) row is computed by the reference twin, in double, where it
                    // cannot overflow; a row holding an infinity or NaN stays non-finite and is reported downstream.
                    RowReference(new ReadOnlySpan<float>(x, n), new ReadOnlySpan<float>(job->Weight, n), new Span<float>(y, n), job->Eps);
                    continue;
                }
                float variance = sumOfSquares / n;
                float inv = 1f / MathF.Sqrt(variance + job->Eps);                  // torch.rsqrt(variance + eps)
                Scale(x, inv, job->Weight, y, n, job->Caps.Isa);                   // weight * (x * inv)
            }
    }

    /// <summary>sum(x^2) with four vector partial sums (independent FMA chains), then the tail.</summary>
    private static float SumSquares(float* x, int n, in KernelCapabilities caps)
    {
        if (caps.Isa != KernelIsa.Avx512)
            return caps.UsesFma ? SumSquares<FusedMultiplyAdd>(x, null, n) : SumSquares<SeparateMultiplyAdd>(x, null, n);
        return SumSquares512(x, null, n);
    }

    /// <summary>residual += x, element by element (float), and returns sum(residual^2) of the new values.</summary>
    private static float AddAndSumSquares(float* residual, float* x, int n, in KernelCapabilities caps)
    {
        if (caps.Isa != KernelIsa.Avx512)
            return caps.UsesFma ? SumSquares<FusedMultiplyAdd>(residual, x, n) : SumSquares<SeparateMultiplyAdd>(residual, x, n);
        return SumSquares512(residual, x, n);
    }

    /// <summary>v = s[i] (+ add[i], stored back into s when add is not null); returns sum(v^2).</summary>
    private static float SumSquares512(float* s, float* add, int n)
    {
        int i = 0;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (; i <= n - 64; i += 64)
        {
            var v0 = Load512(s, add, i); var v1 = Load512(s, add, i + 16); var v2 = Load512(s, add, i + 32); var v3 = Load512(s, add, i + 48);
            a0 = Vector512.FusedMultiplyAdd(v0, v0, a0); a1 = Vector512.FusedMultiplyAdd(v1, v1, a1);
            a2 = Vector512.FusedMultiplyAdd(v2, v2, a2); a3 = Vector512.FusedMultiplyAdd(v3, v3, a3);
        }
        for (; i <= n - 16; i += 16)
        {
            var v = Load512(s, add, i);
            a0 = Vector512.FusedMultiplyAdd(v, v, a0);
        }
        float sum = Vector512.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++)
        {
            float v = add == null ? s[i] : (s[i] = s[i] + add[i]);
            sum = MathF.FusedMultiplyAdd(v, v, sum);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Load512(float* s, float* add, int i)
    {
        var v = Vector512.Load(s + i);
        if (add == null) return v;
        v += Vector512.Load(add + i);
        v.Store(s + i);
        return v;
    }

    private static float SumSquares<TMultiplyAdd>(float* s, float* add, int n) where TMultiplyAdd : struct, IMultiplyAdd
    {
        int w = Vector<float>.Count, i = 0;
        Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (; i <= n - 4 * w; i += 4 * w)
        {
            var v0 = Load(s, add, i); var v1 = Load(s, add, i + w); var v2 = Load(s, add, i + 2 * w); var v3 = Load(s, add, i + 3 * w);
            a0 = TMultiplyAdd.Apply(v0, v0, a0); a1 = TMultiplyAdd.Apply(v1, v1, a1);
            a2 = TMultiplyAdd.Apply(v2, v2, a2); a3 = TMultiplyAdd.Apply(v3, v3, a3);
        }
        for (; i <= n - w; i += w)
        {
            var v = Load(s, add, i);
            a0 = TMultiplyAdd.Apply(v, v, a0);
        }
        float sum = Vector.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++)
        {
            float v = add == null ? s[i] : (s[i] = s[i] + add[i]);
            sum = TMultiplyAdd.Apply(v, v, sum);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Load(float* s, float* add, int i)
    {
        var v = Vector.Load(s + i);
        if (add == null) return v;
        v += Vector.Load(add + i);
        Vector.Store(v, s + i);
        return v;
    }

    /// <summary>y = weight * (x * inv), two roundings as in torch (no FMA: there is no sum to fuse).</summary>
    private static void Scale(float* x, float inv, float* weight, float* y, int n, KernelIsa isa)
    {
        int i = 0;
        if (isa == KernelIsa.Avx512)
        {
            var vi = Vector512.Create(inv);
            for (; i <= n - 16; i += 16) (Vector512.Load(weight + i) * (Vector512.Load(x + i) * vi)).Store(y + i);
        }
        else
        {
            var vi = new Vector<float>(inv);
            for (int w = Vector<float>.Count; i <= n - w; i += w) Vector.Store(Vector.Load(weight + i) * (Vector.Load(x + i) * vi), y + i);
        }
        for (; i < n; i++) y[i] = weight[i] * (x[i] * inv);
    }
}
