using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CrossEncoder.Tools.Bench;

/// <summary>
/// The machine's fp32 fused multiply-add peak, measured in-process: the number every "% of peak" in the bench refers to.
/// </summary>
/// <remarks>
/// The loop keeps 12 independent accumulators in registers (Zen 2/3 have FMA latency 4-5 with two pipes, Intel/Zen 4-5
/// latency 4 with two pipes: at least 8-10 chains in flight saturate them) and runs no call and no memory access in its body,
/// so it measures the FMA units and nothing else. Each loop lives in its own method (NoInlining), so the JIT allocates its
/// registers alone; check with <c>DOTNET_JitDisasm="FmaPeak:Loop256"</c> that the body is 12 <c>vfmadd</c> on ymm registers
/// with no stack access. Flops: 2 per lane per FMA.
/// </remarks>
public static class FmaPeak
{
    /// <summary>The widest path the hardware runs with FMA: "avx512", "avx2" or "none" (no hardware FMA).</summary>
    public static string Path => Avx512F.IsSupported ? "avx512" : Fma.IsSupported ? "avx2" : "none";

    /// <summary>GFLOP/s of <paramref name="threads"/> threads each running the FMA loop at once, best of a few rounds of ~<paramref name="seconds"/>/rounds.</summary>
    public static double Measure(int threads, double seconds = 1.0)
    {
        if (Path == "none") return 0;
        long iterations = 1_000_000;
        // Calibrate to ~50 ms per call on one thread.
        var clock = Stopwatch.StartNew();
        Run(iterations);
        double perIteration = Math.Max(1e-10, clock.Elapsed.TotalSeconds / iterations);
        iterations = Math.Max(100_000, (long)(0.05 / perIteration));
        double best = 0;
        var end = Stopwatch.StartNew();
        int rounds = 0;
        while (rounds < 3 || end.Elapsed.TotalSeconds < seconds)
        {
            best = Math.Max(best, Round(threads, iterations));
            rounds++;
        }
        return best;
    }

    private static double Round(int threads, long iterations)
    {
        using var start = new Barrier(threads + 1);
        var workers = new Thread[threads];
        float sink = 0;
        for (int t = 0; t < threads; t++)
        {
            workers[t] = new Thread(() => { start.SignalAndWait(); float s = Run(iterations); Interlocked.Exchange(ref sink, s); }) { IsBackground = true };
            workers[t].Start();
        }
        start.SignalAndWait();
        var clock = Stopwatch.StartNew();
        foreach (var w in workers) w.Join();
        double elapsed = clock.Elapsed.TotalSeconds;
        GC.KeepAlive(sink);
        return threads * FlopsPerIteration * (double)iterations / elapsed / 1e9;
    }

    private static double FlopsPerIteration => 12 * 2 * (Avx512F.IsSupported ? 16 : 8);

    private static float Run(long iterations) => Avx512F.IsSupported ? Loop512(iterations) : Loop256(iterations);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop256(long iterations)
    {
        var a = Vector256.Create(0.999999f);
        var b = Vector256.Create(1e-7f);
        Vector256<float> c0 = Vector256.Create(0.1f), c1 = Vector256.Create(0.2f), c2 = Vector256.Create(0.3f), c3 = Vector256.Create(0.4f);
        Vector256<float> c4 = Vector256.Create(0.5f), c5 = Vector256.Create(0.6f), c6 = Vector256.Create(0.7f), c7 = Vector256.Create(0.8f);
        Vector256<float> c8 = Vector256.Create(0.9f), c9 = Vector256.Create(1.0f), c10 = Vector256.Create(1.1f), c11 = Vector256.Create(1.2f);
        for (long i = 0; i < iterations; i++)
        {
            c0 = Fma.MultiplyAdd(c0, a, b); c1 = Fma.MultiplyAdd(c1, a, b); c2 = Fma.MultiplyAdd(c2, a, b); c3 = Fma.MultiplyAdd(c3, a, b);
            c4 = Fma.MultiplyAdd(c4, a, b); c5 = Fma.MultiplyAdd(c5, a, b); c6 = Fma.MultiplyAdd(c6, a, b); c7 = Fma.MultiplyAdd(c7, a, b);
            c8 = Fma.MultiplyAdd(c8, a, b); c9 = Fma.MultiplyAdd(c9, a, b); c10 = Fma.MultiplyAdd(c10, a, b); c11 = Fma.MultiplyAdd(c11, a, b);
        }
        return Vector256.Sum(((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11)));
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop512(long iterations)
    {
        var a = Vector512.Create(0.999999f);
        var b = Vector512.Create(1e-7f);
        Vector512<float> c0 = Vector512.Create(0.1f), c1 = Vector512.Create(0.2f), c2 = Vector512.Create(0.3f), c3 = Vector512.Create(0.4f);
        Vector512<float> c4 = Vector512.Create(0.5f), c5 = Vector512.Create(0.6f), c6 = Vector512.Create(0.7f), c7 = Vector512.Create(0.8f);
        Vector512<float> c8 = Vector512.Create(0.9f), c9 = Vector512.Create(1.0f), c10 = Vector512.Create(1.1f), c11 = Vector512.Create(1.2f);
        for (long i = 0; i < iterations; i++)
        {
            c0 = Avx512F.FusedMultiplyAdd(c0, a, b); c1 = Avx512F.FusedMultiplyAdd(c1, a, b); c2 = Avx512F.FusedMultiplyAdd(c2, a, b);
            c3 = Avx512F.FusedMultiplyAdd(c3, a, b); c4 = Avx512F.FusedMultiplyAdd(c4, a, b); c5 = Avx512F.FusedMultiplyAdd(c5, a, b);
            c6 = Avx512F.FusedMultiplyAdd(c6, a, b); c7 = Avx512F.FusedMultiplyAdd(c7, a, b); c8 = Avx512F.FusedMultiplyAdd(c8, a, b);
            c9 = Avx512F.FusedMultiplyAdd(c9, a, b); c10 = Avx512F.FusedMultiplyAdd(c10, a, b); c11 = Avx512F.FusedMultiplyAdd(c11, a, b);
        }
        return Vector512.Sum(((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11)));
    }
}
