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
public sealed record GemmResult(int M, int N, int K, int Threads, string Path, double Gflops, double PercentOfPeak)
{
    /// <summary>The layer the shape is, for the decoder rows (e.g. <c>qwen q|k|v</c>); null for the encoder rows.</summary>
    public string? Layer { get; init; }
}

/// <summary>A shape of the GEMM rows: <c>C[M,N] = A[M,K] B[N,K]^T</c>, or with <paramref name="Gated"/> the fused SwiGLU
/// product <c>y[M, N/2] = SiLU(A Bg^T) * (A Bu^T)</c> over a stacked [N, K] weight (N = 2I).</summary>
/// <param name="Layer">The decoder layer it is, in the report; null for the encoder rows.</param>
/// <param name="K">Input features.</param>
/// <param name="N">Output features of the product (2I for the gated one).</param>
/// <param name="Gated">True: the gated product (Gemm.MultiplyTransposedSwiGlu, GemmInt8.MultiplySwiGlu).</param>
/// <param name="Bias">True: a bias [N] is added (the encoders' linears have one; Qwen3's have none).</param>
public sealed record GemmShape(string? Layer, int K, int N, bool Gated = false, bool Bias = false);

/// <summary>The model's GEMM shapes timed on one thread and on all threads.</summary>
public static class GemmBench
{
    /// <summary>Rows: 16 (one short batch) to 8192 (a large batch).</summary>
    public static readonly int[] Rows = [16, 128, 512, 2048, 8192];

    /// <summary>(K, N) of MiniLM/BERT-base-like layers at H = 384: QKV, attention output, FFN up, FFN down.</summary>
    public static readonly (int K, int N)[] Shapes = [(384, 1152), (384, 384), (384, 1536), (1536, 384)];

    /// <summary>Rows of the decoder rows: one short prompt's tokens and a batch (the 80 % target applies from M = 128).</summary>
    public static readonly int[] DecoderRows = [128, 512];

    /// <summary>Qwen3-Reranker-0.6B's linears (H 1024, 16 query heads and 8 key/value heads of 128, I 3072): q|k|v fused
    /// (2048 + 1024 + 1024 rows), gate|up fused with SwiGLU in the epilogue (2 x 3072 rows), o_proj, down_proj. No biases.</summary>
    public static readonly GemmShape[] DecoderShapes =
        [new("qwen q|k|v", 1024, 4096), new("qwen gate|up SwiGLU", 1024, 2 * 3072, Gated: true), new("qwen o_proj", 2048, 1024), new("qwen down_proj", 3072, 1024)];

    /// <summary>Times every shape; <paramref name="peakOneCore"/> / <paramref name="peakAllCores"/> give the percentages.</summary>
    public static List<GemmResult> Run(int threads, double peakOneCore, double peakAllCores, double secondsPerRow, Action<GemmResult>? progress = null)
    {
        var results = new List<GemmResult>();
        var best = KernelCapabilities.Default;
        string bestName = best.Isa.ToString().ToLowerInvariant();
        foreach (int m in Rows)
            foreach (var (k, n) in Shapes)
                foreach (int t in threads == 1 ? [1] : new[] { 1, threads })
                    Add(Time(m, new GemmShape(null, k, n, Bias: true), best with { MaxThreads = t }, secondsPerRow, bestName, t == 1 ? peakOneCore : peakAllCores));
        // The portable path (Vector<T>) on one shape: with the hardware's FMA (where it has one), and with multiply + add as on
        // hardware without one.
        var portable = best with { Isa = KernelIsa.Portable, MaxThreads = 1 };
        var ffnUp = new GemmShape(null, 384, 1536, Bias: true);
        Add(Time(2048, ffnUp, portable, secondsPerRow, "portable", peakOneCore));
        Add(Time(2048, ffnUp, portable with { Fma = false }, secondsPerRow, "portable-no-fma", peakOneCore));
        foreach (int m in DecoderRows)
            foreach (var shape in DecoderShapes)
                foreach (int t in threads == 1 ? [1] : new[] { 1, threads })
                    Add(Time(m, shape, best with { MaxThreads = t }, secondsPerRow, bestName, t == 1 ? peakOneCore : peakAllCores));
        return results;

        void Add(GemmResult r)
        {
            results.Add(r);
            progress?.Invoke(r);
        }
    }

    /// <summary>Times one shape with the kernels forced to <paramref name="caps"/> (path, FMA, threads), passed to every call:
    /// the weight packed once, as Linear layers run it; the gated shape through the fused SwiGLU product.</summary>
    private static GemmResult Time(int m, GemmShape shape, KernelCapabilities caps, double seconds, string path, double peak)
    {
        int n = shape.N, k = shape.K;
        var a = RandomMatrix(m, k, seed: m * 31 + n * 7 + k);
        var b = RandomMatrix(n, k, seed: n * 7 + k);
        float[] bias = shape.Bias ? new float[n] : [];
        var c = new float[m * (shape.Gated ? n / 2 : n)];
        Action call;
        if (shape.Gated)
        {
            var gated = Gemm.PackGated(b, n / 2, k, caps);
            call = () => Gemm.MultiplyTransposedSwiGlu(a, gated, bias, c, m, caps);
        }
        else
        {
            var packed = Gemm.Pack(b, n, k, caps);
            call = () => Gemm.MultiplyTransposed(a, packed, bias, c, m, caps);
        }
        double gflops = MedianRate(call, 2.0 * m * n * k, seconds);
        return new GemmResult(m, n, k, caps.MaxThreads, path, gflops, peak > 0 ? 100 * gflops / peak : 0) { Layer = shape.Layer };
    }

    /// <summary>[rows, columns] uniform in [-0.5, 0.5), seeded.</summary>
    internal static float[] RandomMatrix(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        var values = new float[rows * columns];
        for (int i = 0; i < values.Length; i++) values[i] = random.NextSingle() - 0.5f;
        return values;
    }

    /// <summary>
    /// The median rate of <paramref name="call"/> in G operations per second (<paramref name="operationsPerCall"/> each):
    /// after a 0.2 s warm-up (not one call: a kernel's tile loop starts as tier-0 code and is recompiled after ~30 calls),
    /// chunks of >= 20 ms for about <paramref name="seconds"/>, at least three; the median chunk is the figure.
    /// </summary>
    internal static double MedianRate(Action call, double operationsPerCall, double seconds)
    {
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 0.2) call();
        var one = Stopwatch.StartNew();
        call();
        int perChunk = (int)Math.Clamp(0.02 / Math.Max(1e-7, one.Elapsed.TotalSeconds), 1, 100_000);
        var rates = new List<double>();
        var total = Stopwatch.StartNew();
        while (rates.Count < 3 || total.Elapsed.TotalSeconds < seconds)
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < perChunk; i++) call();
            rates.Add(operationsPerCall * perChunk / clock.Elapsed.TotalSeconds / 1e9);
        }
        return BenchStatistics.Median(rates);
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
