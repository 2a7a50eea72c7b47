using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace CrossEncoder.Tools.Bench;

/// <summary>
/// ONNX Runtime on a BERT ONNX export as a user would run it: ORT_ENABLE_ALL, <c>threads</c> intra-op threads, one batch
/// padded to its longest sequence per call. Inputs are built once per batch (outside any timing), so only <c>Run</c> is timed.
/// </summary>
public sealed class OrtEncoder : IDisposable
{
    private readonly InferenceSession _session;

    /// <summary>Opens a session on <paramref name="onnxPath"/>.</summary>
    public OrtEncoder(string onnxPath, int threads)
    {
        using var options = Options(threads);
        _session = new InferenceSession(onnxPath, options);
    }

    /// <summary>Opens a session on an in-memory ONNX model (e.g. the dynamically quantized one).</summary>
    public OrtEncoder(byte[] model, int threads)
    {
        using var options = Options(threads);
        _session = new InferenceSession(model, options);
    }

    private static SessionOptions Options(int threads) =>
        new() { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };

    /// <summary>The ONNX Runtime version string.</summary>
    public static string Version => OrtEnv.Instance().GetVersionString();

    /// <summary>Feeds for one batch: the sequences padded with 0 (mask 0) to the longest.</summary>
    public IReadOnlyList<NamedOnnxValue> Batch(IReadOnlyList<(int[] Ids, int[] Types)> sequences)
    {
        int b = sequences.Count, t = sequences.Max(s => s.Ids.Length);
        long[] ids = new long[b * t], types = new long[b * t], mask = new long[b * t];
        for (int s = 0; s < b; s++)
            for (int j = 0; j < sequences[s].Ids.Length; j++)
            {
                ids[s * t + j] = sequences[s].Ids[j];
                types[s * t + j] = sequences[s].Types[j];
                mask[s * t + j] = 1;
            }
        int[] shape = [b, t];
        var feeds = new List<NamedOnnxValue>();
        foreach (string name in _session.InputMetadata.Keys)
        {
            long[] data = name switch
            {
                "input_ids" => ids,
                "token_type_ids" => types,
                "attention_mask" => mask,
                _ => throw new InvalidDataException($"the ONNX model has an input '{name}' the bench does not know how to fill."),
            };
            feeds.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(data, shape)));
        }
        return feeds;
    }

    /// <summary>Runs one prepared batch.</summary>
    public void Run(IReadOnlyList<NamedOnnxValue> feeds)
    {
        using var outputs = _session.Run(feeds);
    }

    /// <inheritdoc/>
    public void Dispose() => _session.Dispose();
}
