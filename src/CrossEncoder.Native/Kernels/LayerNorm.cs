using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CrossEncoder.Native.Kernels;

// Implementation notes. Per row of n values (after adding the residual, written to the output first so that aliasing is
// harmless: every element is read before it is written, at the same index):
//   1. mean0 = sum(x) / n                                     (float, vector accumulators)
//   2. d = x - mean0;  s1 = sum(d);  s2 = sum(d^2)            (two-pass, float)
//      mean = mean0 + s1/n;  var = (s2 - s1^2/n) / n          (the Chan-Golub-LeVeque correction: s1 would be 0 in exact
//                                                              arithmetic; it carries the rounding error of mean0, which
//                                                              keeps rows with a large offset and a small spread accurate)
//   3. y = ((x - mean0) - s1/n) * inv * gamma + beta         (mean kept as the unrounded pair mean0 + s1/n: x - mean0 is
//                                                              exact for x near mean0, so a large offset costs nothing)
// Rows are independent; large inputs are split over rows by KernelParallelism.

/// <summary>Layer normalisation over the last dimension: <c>y = (x - mean) / sqrt(var + eps) * gamma + beta</c>, per row.</summary>
internal static unsafe partial class LayerNorm
{
    /// <summary>output[R,N] = LN(input[R,N]); output may alias input. <paramref name="caps"/>: path, FMA, threads.</summary>
    public static void Normalize(ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> output, int rows, int n, float eps,
        in KernelCapabilities caps)
        => AddAndNormalize(input, ReadOnlySpan<float>.Empty, gamma, beta, output, rows, n, eps, caps);

    /// <summary><see cref="Normalize(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, float, in KernelCapabilities)"/> for <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static void Normalize(ReadOnlySpan<float> input, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> output, int rows, int n, float eps)
        => AddAndNormalize(input, ReadOnlySpan<float>.Empty, gamma, beta, output, rows, n, eps, KernelCapabilities.Default);

    /// <summary><see cref="AddAndNormalize(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, float, in KernelCapabilities)"/> for <see cref="KernelCapabilities.Default"/>.</summary>
    // convenience for tests and tools (KernelCapabilities.Default); model code passes its own record (LayeringTests checks it)
    public static void AddAndNormalize(ReadOnlySpan<float> x, ReadOnlySpan<float> residual, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> output, int rows, int n, float eps)
        => AddAndNormalize(x, residual, gamma, beta, output, rows, n, eps, KernelCapabilities.Default);

    /// <summary>output[R,N] = LN(x[R,N] + residual[R,N]); output may alias x or residual; an empty residual means none.
    /// <paramref name="caps"/>: the path, FMA and thread limit of this call.</summary>
    public static void AddAndNormalize(ReadOnlySpan<float> x, ReadOnlySpan<float> residual, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> output, int rows, int n, float eps,
        in KernelCapabilities caps)
    {
        KernelGuard.Positive(rows, nameof(rows));
        KernelGuard.Positive(n, nameof(n));
        KernelGuard.Length(x, (long)rows * n, nameof(x));
        if (!residual.IsEmpty) KernelGuard.Length(residual, (long)rows * n, nameof(residual));
        KernelGuard.Length(gamma, n, nameof(gamma));
        KernelGuard.Length(beta, n, nameof(beta));
        KernelGuard.Length(output, (long)rows * n, nameof(output));
        if (rows == 0 || n == 0) return;
        fixed (float* px = x, pr = residual, pg = gamma, pb = beta, po = output)
        {
            var job = new Job { X = px, Residual = residual.IsEmpty ? null : pr, Gamma = pg, Beta = pb, Output = po, Rows = rows, N = n, Eps = eps, Caps = caps };
            // ~10 flops per element; parts are blocks of rows.
            job.Parts = caps.ThreadsFor(10L * rows * n, rows);
            if (job.Parts == 1) RunRows(&job, 0, rows);
            else KernelParallelism.For(job.Parts, &job, &RunPart, caps.MaxThreads);
        }
    }

    private struct Job
    {
        public float* X, Residual, Gamma, Beta, Output;
        public int Rows, N, Parts;
        public float Eps;
        public KernelCapabilities Caps;
    }

    /// <summary>output[R,N] = LN(x[R,N] + residual[R,N]) on the calling thread (a GEMM epilogue on its finished rows); the
    /// same arithmetic as <see cref="AddAndNormalize(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, float, in KernelCapabilities)"/>.</summary>
    internal static void AddAndNormalizeRows(float* x, float* residual, float* gamma, float* beta, float* output, int rows, int n, float eps, in KernelCapabilities caps)
    {
        var job = new Job { X = x, Residual = residual, Gamma = gamma, Beta = beta, Output = output, Rows = rows, N = n, Eps = eps, Caps = caps, Parts = 1 };
        RunRows(&job, 0, rows);
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
        {
            float* x = job->X + (long)r * n, y = job->Output + (long)r * n;
            if (job->Residual != null) Add(x, job->Residual + (long)r * n, y, n, job->Caps.Isa);
            else if (x != y) Buffer.MemoryCopy(x, y, (long)n * sizeof(float), (long)n * sizeof(float));
            float mean0 = Sum(y, n, job->Caps.Isa) / n;
            var (s1, s2) = DeviationSums(y, mean0, n, job->Caps);
            float variance = MathF.Max(0f, (s2 - s1 * s1 / n) / n);
            float inv = 1f / MathF.Sqrt(variance + job->Eps);
            Scale(y, mean0, s1 / n, inv, job->Gamma, job->Beta, n, job->Caps);
        }
    }

    private static void Add(float* x, float* r, float* y, int n, KernelIsa isa)
    {
        int i = 0;
        if (isa == KernelIsa.Avx512)
            for (; i <= n - 16; i += 16) (Vector512.Load(x + i) + Vector512.Load(r + i)).Store(y + i);
        else
            for (int w = Vector<float>.Count; i <= n - w; i += w) Vector.Store(Vector.Load(x + i) + Vector.Load(r + i), y + i);
        for (; i < n; i++) y[i] = x[i] + r[i];
    }

    private static float Sum(float* x, int n, KernelIsa isa)
    {
        int i = 0;
        float sum = 0;
        if (isa == KernelIsa.Avx512)
        {
            Vector512<float> s = default;
            for (; i <= n - 16; i += 16) s += Vector512.Load(x + i);
            sum = Vector512.Sum(s);
        }
        else
        {
            Vector<float> s = default;
            for (int w = Vector<float>.Count; i <= n - w; i += w) s += Vector.Load(x + i);
            sum = Vector.Sum(s);
        }
        for (; i < n; i++) sum += x[i];
        return sum;
    }

    /// <summary>(sum(x - c), sum((x - c)^2)).</summary>
    private static (float, float) DeviationSums(float* x, float c, int n, in KernelCapabilities caps)
    {
        int i = 0;
        float s1 = 0, s2 = 0;
        if (caps.Isa == KernelIsa.Avx512)
        {
            Vector512<float> v1 = default, v2 = default, vc = Vector512.Create(c);
            for (; i <= n - 16; i += 16)
            {
                var d = Vector512.Load(x + i) - vc;
                v1 += d;
                v2 = Vector512.FusedMultiplyAdd(d, d, v2);
            }
            s1 = Vector512.Sum(v1);
            s2 = Vector512.Sum(v2);
        }
        else return caps.UsesFma ? DeviationSums<FusedMultiplyAdd>(x, c, n) : DeviationSums<SeparateMultiplyAdd>(x, c, n);
        for (; i < n; i++)
        {
            float d = x[i] - c;
            s1 += d;
            s2 = MathF.FusedMultiplyAdd(d, d, s2);
        }
        return (s1, s2);
    }

    private static (float, float) DeviationSums<TMultiplyAdd>(float* x, float c, int n) where TMultiplyAdd : struct, IMultiplyAdd
    {
        int i = 0;
        Vector<float> v1 = default, v2 = default, vc = new(c);
        for (int w = Vector<float>.Count; i <= n - w; i += w)
        {
            var d = Vector.Load(x + i) - vc;
            v1 += d;
            v2 = TMultiplyAdd.Apply(d, d, v2);
        }
        float s1 = Vector.Sum(v1), s2 = Vector.Sum(v2);
        for (; i < n; i++)
        {
            float d = x[i] - c;
            s1 += d;
            s2 = TMultiplyAdd.Apply(d, d, s2);
        }
        return (s1, s2);
    }

    /// <summary>y = ((y - mean0) - correction) * inv * gamma + beta, in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scale(float* y, float mean0, float correction, float inv, float* gamma, float* beta, int n, in KernelCapabilities caps)
    {
        int i = 0;
        if (caps.Isa == KernelIsa.Avx512)
        {
            Vector512<float> vm = Vector512.Create(mean0), vc = Vector512.Create(correction), vi = Vector512.Create(inv);
            for (; i <= n - 16; i += 16)
                Vector512.FusedMultiplyAdd((Vector512.Load(y + i) - vm - vc) * vi, Vector512.Load(gamma + i), Vector512.Load(beta + i)).Store(y + i);
        }
        else
        {
            if (caps.UsesFma) Scale<FusedMultiplyAdd>(y, mean0, correction, inv, gamma, beta, n);
            else Scale<SeparateMultiplyAdd>(y, mean0, correction, inv, gamma, beta, n);
            return;
        }
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd((y[i] - mean0 - correction) * inv, gamma[i], beta[i]);
    }

    private static void Scale<TMultiplyAdd>(float* y, float mean0, float correction, float inv, float* gamma, float* beta, int n) where TMultiplyAdd : struct, IMultiplyAdd
    {
        int i = 0;
        Vector<float> vm = new(mean0), vc = new(correction), vi = new(inv);
        for (int w = Vector<float>.Count; i <= n - w; i += w)
            Vector.Store(TMultiplyAdd.Apply((Vector.Load(y + i) - vm - vc) * vi, Vector.Load(gamma + i), Vector.Load(beta + i)), y + i);
        for (; i < n; i++) y[i] = TMultiplyAdd.Apply((y[i] - mean0 - correction) * inv, gamma[i], beta[i]);
    }
}
