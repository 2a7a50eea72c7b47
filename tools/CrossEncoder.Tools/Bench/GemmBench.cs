using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using System.Diagnostics;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Tools.Bench;

/// <summary>One GEMM measurement: <c>C[M,N] = A[M,K] B[N,K]^T + bias</c> through a weight packed once, as Linear layers run it.</summary>
/// <param name="M">Rows (tokens).</param>
/// <param name="N">Output features.</param>
/// <param name="K">Input features.</param>
/// <param name="Threads">Threads allowed.</param>
/// <param name="Path">Microkernel: avx512, avx2, portable (hardware FMA) or portable-no-fma (multiply + add, as on hardware without FMA).</param>
/// <param name="Gflops">Median GFLOP/s (2MNK flops per call).</param>
/// <param name="PercentOfPeak">Against the FMA peak of the same number of cores.</param>
public sealed record GemmResult(int M, int N, int K, int Threads, string Path, double Gflops, double PercentOfPeak);

/// <summary>The model's GEMM shapes timed on one thread and on all threads.</summary>
public static class GemmBench
{
    /// <summary>Rows: 16 (one short batch) to 8192 (a large batch).</summary>
    public static readonly int[] Rows = [16, 128, 512, 2048, 8192];

    /// <summary>(K, N) of MiniLM/BERT-base-like layers at H = 384: QKV, attention output, FFN up, FFN down.</summary>
    public static readonly (int K, int N)[] Shapes = [(384, 1152), (384, 384), (384, 1536), (1536, 384)];

    /// <summary>Times every shape; <paramref name="peakOneCore"/> / <paramref name="peakAllCores"/> give the percentages.</summary>
    public static List<GemmResult> Run(int threads, double peakOneCore, double peakAllCores, double secondsPerRow, Action<GemmResult>? progress = null)
    {
        var results = new List<GemmResult>();
        var best = KernelCapabilities.Default;
        string bestName = best.Isa.ToString().ToLowerInvariant();
        foreach (int m in Rows)
            foreach (var (k, n) in Shapes)
                foreach (int t in threads == 1 ? [1] : new[] { 1, threads })
                    Add(Time(m, n, k, best with { MaxThreads = t }, secondsPerRow, bestName, t == 1 ? peakOneCore : peakAllCores));
        // The portable path (Vector<T>) on one shape: with the hardware's FMA (where it has one), and with multiply + add as on
        // hardware without one.
        var portable = best with { Isa = KernelIsa.Portable, MaxThreads = 1 };
        Add(Time(2048, 1536, 384, portable, secondsPerRow, "portable", peakOneCore));
        Add(Time(2048, 1536, 384, portable with { Fma = false }, secondsPerRow, "portable-no-fma", peakOneCore));
        return results;

        void Add(GemmResult r)
        {
            results.Add(r);
            progress?.Invoke(r);
        }
    }

    /// <summary>Times one shape with the kernels forced to <paramref name="caps"/> (path, FMA, threads), passed to every call.</summary>
    private static GemmResult Time(int m, int n, int k, KernelCapabilities caps, double seconds, string path, double peak)
    {
        var random = new Random(m * 31 + n * 7 + k);
        var a = new float[m * k];
        var b = new float[n * k];
        var bias = new float[n];
        var c = new float[m * n];
        for (int i = 0; i < a.Length; i++) a[i] = random.NextSingle() - 0.5f;
        for (int i = 0; i < b.Length; i++) b[i] = random.NextSingle() - 0.5f;
        var packed = Gemm.Pack(b, n, k, caps);
        // Warm up for 0.2 s, not one call: the tile loop starts as tier-0 code and is recompiled after ~30 calls.
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 0.2) Gemm.MultiplyTransposed(a, packed, bias, c, m, caps);
        double flops = 2.0 * m * n * k;
        // Chunks of >= 20 ms; the median chunk is the figure.
        var one = Stopwatch.StartNew();
        Gemm.MultiplyTransposed(a, packed, bias, c, m, caps);
        int perChunk = (int)Math.Clamp(0.02 / Math.Max(1e-7, one.Elapsed.TotalSeconds), 1, 100_000);
        var rates = new List<double>();
        var total = Stopwatch.StartNew();
        while (rates.Count < 3 || total.Elapsed.TotalSeconds < seconds)
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < perChunk; i++) Gemm.MultiplyTransposed(a, packed, bias, c, m, caps);
            rates.Add(flops * perChunk / clock.Elapsed.TotalSeconds / 1e9);
        }
        double gflops = BenchStatistics.Median(rates);
        return new GemmResult(m, n, k, caps.MaxThreads, path, gflops, peak > 0 ? 100 * gflops / peak : 0);
    }
}

/// <summary>Median and percentiles of timing samples.</summary>
public static class BenchStatistics
{
    /// <summary>The median (mean of the middle two for an even count).</summary>
    public static double Median(IReadOnlyList<double> values) => Percentile(values, 0.5);

    /// <summary>Linear-interpolated percentile, <paramref name="p"/> in [0, 1].</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.OrderBy(v => v).ToArray();
        double position = p * (sorted.Length - 1);
        int low = (int)Math.Floor(position), high = (int)Math.Ceiling(position);
        return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
    }
}
