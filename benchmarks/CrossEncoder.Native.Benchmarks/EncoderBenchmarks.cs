using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Model.Common;
using BenchmarkDotNet.Attributes;
using CrossEncoder.Native.Model;
using CrossEncoder.Conversion.Packaged;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CrossEncoder.Native.Benchmarks;

/// <summary>
/// One forward pass of all-MiniLM-L6-v2 over a batch of (query, document) pairs of a fixed length: this engine on the converted
/// safetensors folder versus ONNX Runtime on the original ONNX export, same token ids, both using all cores. ONNX Runtime is the
/// baseline, so the Ratio column is ours / ORT time (below 1 means faster).
/// </summary>
[MemoryDiagnoser]
public class EncoderBenchmarks
{
    private BertModel _model = null!;
    private BertWorkspace _workspace = null!;
    private InferenceSession _session = null!;
    private List<NamedOnnxValue> _feeds = null!;
    private int[] _ids = null!, _types = null!;

    /// <summary>Tokens per pair, specials included.</summary>
    [Params(32, 128, 512)]
    public int Tokens { get; set; }

    /// <summary>Pairs per batch.</summary>
    [Params(16)]
    public int Pairs { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string weights = Path.Combine(FindRepository(), "weights", "all-MiniLM-L6-v2");
        var (modelDirectory, onnxPath, _) = MiniLmPackage.EnsureModelFolder(weights);
        _model = BertModel.Load(modelDirectory);
        _workspace = _model.CreateWorkspace(Pairs * Tokens, Pairs);
        var random = new Random(1);
        _ids = new int[Pairs * Tokens];
        _types = new int[Pairs * Tokens];
        for (int p = 0; p < Pairs; p++)
        {
            for (int t = 0; t < Tokens; t++) _ids[p * Tokens + t] = random.Next(1000, _model.Config.VocabSize);
            _ids[p * Tokens] = 101;
            _ids[p * Tokens + Tokens / 4] = 102;
            _ids[p * Tokens + Tokens - 1] = 102;
            for (int t = Tokens / 4 + 1; t < Tokens; t++) _types[p * Tokens + t] = 1;
        }
        var options = new SessionOptions { IntraOpNumThreads = Environment.ProcessorCount, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        _session = new InferenceSession(onnxPath, options);
        int[] shape = [Pairs, Tokens];
        _feeds =
        [
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(_ids.Select(i => (long)i).ToArray(), shape)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(Enumerable.Repeat(1L, _ids.Length).ToArray(), shape)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(_types.Select(i => (long)i).ToArray(), shape)),
        ];
    }

    [GlobalCleanup]
    public void Cleanup() => _session.Dispose();

    [Benchmark(Baseline = true, Description = "ONNX Runtime")]
    public int OnnxRuntime()
    {
        using var outputs = _session.Run(_feeds);
        return outputs.Count;
    }

    [Benchmark(Description = "CrossEncoder.Native fp32")]
    public float Native()
    {
        _workspace.Batch.Clear();
        for (int p = 0; p < Pairs; p++) _workspace.Batch.Add(_ids.AsSpan(p * Tokens, Tokens), _types.AsSpan(p * Tokens, Tokens));
        return _model.Forward(_workspace)[0];
    }

    internal static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CrossEncoder.Native.sln"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}
