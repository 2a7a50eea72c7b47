using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Benchmarks;

/// <summary>The Linear-layer GEMM shapes of MiniLM-L6 (M = 16 pairs x 128 tokens): our blocked kernel vs a TensorPrimitives.Dot loop.</summary>
public class GemmBenchmarks
{
    private float[] _a = null!, _b = null!, _bias = null!, _c = null!;

    /// <summary>(N, K) of the layer: QKV, FFN up, FFN down.</summary>
    [Params("1152x384", "1536x384", "384x1536")]
    public string Shape { get; set; } = "";

    private const int M = 2048;
    private int N => int.Parse(Shape.Split('x')[0]);
    private int K => int.Parse(Shape.Split('x')[1]);

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(3);
        _a = Enumerable.Range(0, M * K).Select(_ => random.NextSingle() - 0.5f).ToArray();
        _b = Enumerable.Range(0, N * K).Select(_ => random.NextSingle() - 0.5f).ToArray();
        _bias = new float[N];
        _c = new float[M * N];
    }

    [Benchmark(Baseline = true)]
    public void TensorPrimitivesDot()
    {
        int n = N, k = K;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < n; j++)
                _c[i * n + j] = TensorPrimitives.Dot(_a.AsSpan(i * k, k), _b.AsSpan(j * k, k)) + _bias[j];
    }

    [Benchmark]
    public void Blocked() => Gemm.MultiplyTransposed(_a, _b, _bias, _c, M, N, K, KernelCapabilities.Default);
}
