using BenchmarkDotNet.Attributes;
using CrossEncoder.Conversion.Packaged;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.SafeTensors;

namespace CrossEncoder.Native.Benchmarks;

/// <summary>
/// What the load-time finite check (every weight the forward reads, issue 20) costs on the default model, all-MiniLM-L6-v2
/// (22.7M weights): loading the folder in fp32 (the check included) against the check alone over the same weights.
/// </summary>
public class LoadCheckBenchmarks
{
    private string _folder = null!;
    private float[][] _weights = null!;

    [GlobalSetup]
    public void Setup()
    {
        _folder = MiniLmPackage.EnsureModelFolder(Path.Combine(EncoderBenchmarks.FindRepository(), "weights", "all-MiniLM-L6-v2")).ModelDir;
        using var file = SafeTensorsFile.Open(Path.Combine(_folder, "model.safetensors"));
        _weights = [.. file.Tensors.Keys.Select(file.ReadFloat32)];
    }

    [Benchmark(Baseline = true, Description = "ModelLoader.Load fp32 (check included)")]
    public object Load() => ModelLoader.Load(_folder, Precision.Fp32).Model;

    [Benchmark(Description = "finite check of every weight")]
    public int Check()
    {
        int bad = 0;
        foreach (var w in _weights) bad += Finite.IndexOfNonFinite(w, KernelCapabilities.Default) >= 0 ? 1 : 0;
        return bad;
    }
}
