using BenchmarkDotNet.Attributes;
using CrossEncoder.Tools.Bench;
using CrossEncoder.Conversion.Packaged;

namespace CrossEncoder.Native.Benchmarks;

/// <summary>
/// The cases of <c>crossencoder bench --suite</c> (<see cref="BenchCases"/>: padded batches, the MEDLINE rerank workload,
/// 20 x 128 latency) under BenchmarkDotNet: one operation is one call (PairsPerCall pairs), ONNX Runtime is the baseline,
/// so Ratio is ours / ORT time (below 1 means faster; the bench reports the inverse, a throughput ratio).
/// </summary>
[MemoryDiagnoser]
public class SuiteBenchmarks
{
    private BenchContext _context = null!;
    private PreparedCase _prepared = null!;

    /// <summary>The case names, as in the bench JSON.</summary>
    public static IEnumerable<string> CaseNames => BenchCases.All().Select(c => c.Name);

    /// <summary>The case.</summary>
    [ParamsSource(nameof(CaseNames))]
    public string Case { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        string weights = Path.Combine(FindRepository(), "weights", "all-MiniLM-L6-v2");
        var (modelDirectory, onnxPath, _) = MiniLmPackage.EnsureModelFolder(weights);
        var (query, documents) = BenchContext.DefaultWorkload();
        _context = BenchContext.Open(modelDirectory, onnxPath, new BenchSettings(Environment.ProcessorCount, 1, query, documents));
        _prepared = BenchCases.All().Single(c => c.Name == Case).Prepare(_context);
    }

    [GlobalCleanup]
    public void Cleanup() => _context.Dispose();

    [Benchmark(Baseline = true, Description = "ONNX Runtime")]
    public void OnnxRuntime() => _prepared.Ort();

    [Benchmark(Description = "CrossEncoder.Native fp32")]
    public void Native() => _prepared.Ours();

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CrossEncoder.Native.sln"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}
