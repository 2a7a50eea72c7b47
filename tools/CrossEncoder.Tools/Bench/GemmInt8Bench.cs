using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Tools.Bench;

/// <summary>
/// The int8 GEMM (12-bit quantized activations x packed int8 weights, dequantize + bias) on the model's shapes, in G int-ops/s
/// (2MNK per call: one multiply and one add per product), against the integer peak of the same instruction chain.
/// </summary>
public static class GemmInt8Bench
{
    /// <summary>Rows timed (M >= 128 is where the target applies).</summary>
    public static readonly int[] Rows = [128, 2048];

    /// <summary>
    /// Times every (M, shape) of the encoder rows, then the decoder's shapes (<see cref="GemmBench.DecoderShapes"/> at
    /// <see cref="GemmBench.DecoderRows"/>), on 1 thread and on <paramref name="threads"/>; path names start with "int8-".
    /// <paramref name="peakOneCore"/> / <paramref name="peakAllCores"/> (<see cref="IntegerPeak"/>) give the percentages.
    /// </summary>
    public static List<GemmResult> Run(int threads, double peakOneCore, double peakAllCores, double seconds, Action<GemmResult>? progress = null)
    {
        var results = new List<GemmResult>();
        foreach (int m in Rows)
            foreach (var (k, n) in GemmBench.Shapes)
                foreach (int t in threads == 1 ? [1] : new[] { 1, threads })
                    Add(Time(m, new GemmShape(null, k, n, Bias: true), t, seconds, t == 1 ? peakOneCore : peakAllCores));
        foreach (int m in GemmBench.DecoderRows)
            foreach (var shape in GemmBench.DecoderShapes)
                foreach (int t in threads == 1 ? [1] : new[] { 1, threads })
                    Add(Time(m, shape, t, seconds, t == 1 ? peakOneCore : peakAllCores));
        return results;

        void Add(GemmResult r)
        {
            results.Add(r);
            progress?.Invoke(r);
        }
    }

    /// <summary>One shape: the weight quantized and packed once, the activations quantized once (not timed), then the
    /// integer product with its dequantization epilogue (the gated shape with SwiGLU fused) on the best int8 path.</summary>
    private static GemmResult Time(int m, GemmShape shape, int threads, double seconds, double peak)
    {
        int n = shape.N, k = shape.K;
        var a = GemmBench.RandomMatrix(m, k, seed: m * 31 + n * 7 + k);
        var w = GemmBench.RandomMatrix(n, k, seed: n * 7 + k);
        var q = new sbyte[w.Length];
        var scale = new float[n];
        Quantize.Weights(w, q, scale, n, k);
        var packed = shape.Gated ? QuantizedMatrix.FromQuantizedGated(q, scale, n / 2, k) : QuantizedMatrix.FromQuantized(q, scale, n, k);
        var qa = new ushort[m * packed.KPadded];
        var sa = new float[m];
        var za = new int[m];
        // The best int8 path on `threads` threads, passed to every call.
        var caps = KernelCapabilities.Default with { MaxThreads = threads };
        Quantize.Rows(a, qa, sa, za, m, k, caps);
        float[] bias = shape.Bias ? new float[n] : [];
        var c = new float[m * (shape.Gated ? n / 2 : n)];
        // The warm-up matters: the first row timed after one call measured 56 % of the integer peak instead of ~88 %.
        Action call = shape.Gated ? () => GemmInt8.MultiplySwiGlu(qa, sa, za, packed, bias, c, m, caps) : () => GemmInt8.Multiply(qa, sa, za, packed, bias, c, m, caps);
        double gops = GemmBench.MedianRate(call, 2.0 * m * n * k, seconds);
        return new GemmResult(m, n, k, threads, "int8-" + caps.Int8Isa.ToString().ToLowerInvariant(), gops, peak > 0 ? 100 * gops / peak : 0) { Layer = shape.Layer };
    }

    /// <summary>
    /// Integer peak, G int-ops/s, of the chain the int8 GEMM uses on AVX2: 8 independent accumulators, each step vpmaddwd +
    /// vpaddd = 16 products of 16-bit lanes = 32 int-ops per 256-bit register. Run on
    /// <paramref name="threads"/> threads at once, the sum of their rates. 0 without AVX2.
    /// </summary>
    public static double IntegerPeak(int threads, double seconds)
    {
        if (!Avx2.IsSupported) return 0;
        var rates = new double[threads];
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() => rates[t] = PeakOneThread(seconds))).ToArray();
        foreach (var thread in workers) thread.Start();
        foreach (var thread in workers) thread.Join();
        return rates.Sum();
    }

    private static double PeakOneThread(double seconds)
    {
        const int Steps = 1 << 16;
        var best = 0.0;
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < Math.Max(0.2, seconds / 4))
        {
            var clock = Stopwatch.StartNew();
            Sink += Spin(Steps);
            best = Math.Max(best, 8.0 * 32 * Steps / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>The timed loop, alone in its method: a call inside it (the clock) would make the JIT keep the accumulators
    /// on the stack, which measured 43 G int-ops/s instead of 107 on Zen 2.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int Spin(int steps)
    {
        // Eight different products (two activations x four weights): identical expressions would be computed once by the
        // JIT, and 8 accumulators + 2 + 4 operands = 14 ymm leave no spill.
        Vector256<short> x0 = Vector256.Create((short)3), x1 = Vector256.Create((short)4);
        Vector256<short> y0 = Vector256.Create((short)5), y1 = Vector256.Create((short)6), y2 = Vector256.Create((short)7), y3 = Vector256.Create((short)8);
        Vector256<int> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (int i = 0; i < steps; i++)
        {
            c0 = Avx2.Add(c0, Avx2.MultiplyAddAdjacent(x0, y0));
            c1 = Avx2.Add(c1, Avx2.MultiplyAddAdjacent(x1, y0));
            c2 = Avx2.Add(c2, Avx2.MultiplyAddAdjacent(x0, y1));
            c3 = Avx2.Add(c3, Avx2.MultiplyAddAdjacent(x1, y1));
            c4 = Avx2.Add(c4, Avx2.MultiplyAddAdjacent(x0, y2));
            c5 = Avx2.Add(c5, Avx2.MultiplyAddAdjacent(x1, y2));
            c6 = Avx2.Add(c6, Avx2.MultiplyAddAdjacent(x0, y3));
            c7 = Avx2.Add(c7, Avx2.MultiplyAddAdjacent(x1, y3));
            x0 = Avx2.Add(x0, Vector256<short>.One);   // keeps the products from being hoisted out of the loop
            x1 = Avx2.Add(x1, Vector256<short>.One);
        }
        return (c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7).GetElement(0);
    }

    private static int Sink;
}
