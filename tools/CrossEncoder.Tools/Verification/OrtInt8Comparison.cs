using CrossEncoder.Native.Reranking.Verification;
using CrossEncoder.Native.Tokenization;
using CrossEncoder.Conversion.Onnx;
using CrossEncoder.Tools.Reference;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace CrossEncoder.Tools.Verification;

/// <summary>
/// The int8 gate's neighbour: ONNX Runtime's own dynamic int8 (the model <see cref="OnnxDynamicQuantizer"/> writes, as
/// quantize_dynamic would) against ONNX Runtime fp32 on the same ONNX export and the same real pairs, with the gate's metrics.
/// </summary>
/// <remarks>
/// Bi-encoder exports (output <c>last_hidden_state</c> [B, T, H]) only: the sentence embedding is the mean over unmasked tokens
/// then L2 normalization (as sentence-transformers and our engine), the score cosine(query, document), the vectors for the
/// minimum cosine the embeddings: exactly what <see cref="PrecisionGate"/> measures for a bi-encoder. Each query and its candidates go
/// through ONNX Runtime in batches of 16 padded to the longest, as a user would run it; note that DynamicQuantizeLinear picks
/// one scale for the whole batch tensor, so ORT int8's scores depend a little on what shares the batch.
/// </remarks>
public static class OrtInt8Comparison
{
    /// <summary>The ORT session output this comparison reads.</summary>
    public const string LastHiddenState = "last_hidden_state";

    /// <summary>
    /// Returns the figures, or null with <paramref name="why"/> when the export cannot be compared (no last_hidden_state
    /// output, e.g. a cross-encoder export with logits).
    /// </summary>
    public static PrecisionGateReport? Run(string onnxPath, ITextPairTokenizer tokenizer, IReadOnlyList<RankingQuery> queries, int maxLength, int threads,
        out string why, OnnxDynamicQuantizationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queries);
        if (queries.Count == 0) throw new ArgumentException("No queries to compare.", nameof(queries));
        ModelProto fp32 = OnnxGraph.LoadModel(onnxPath);
        if (!fp32.Graph.Output.Any(o => o.Name == LastHiddenState))
        {
            why = $"ONNX Runtime's int8 is compared on bi-encoder exports (output '{LastHiddenState}'); '{onnxPath}' has outputs {string.Join(", ", fp32.Graph.Output.Select(o => o.Name))}.";
            return null;
        }
        ModelProto int8 = fp32.Clone();
        var quantization = OnnxDynamicQuantizer.Quantize(int8, options);
        using var reference = new Session(fp32.ToByteArray(), threads);
        using var candidate = new Session(int8.ToByteArray(), threads);
        var a = Score(reference, tokenizer, queries, maxLength, cancellationToken);
        var b = Score(candidate, tokenizer, queries, maxLength, cancellationToken);
        double minCos = 1;
        for (int i = 0; i < a.Vectors.Count; i++) minCos = Math.Min(minCos, Dot(a.Vectors[i], b.Vectors[i]));   // unit vectors
        why = $"{quantization.QuantizedMatMuls} MatMuls in int8 (per-column QInt8 weights{(options?.ReduceRange == true ? ", reduce_range" : "")}, u8 activations), {quantization.SkippedMatMuls} left fp32";
        return PrecisionGate.Compare(queries, a.Scores, b.Scores, minCos);
    }

    /// <summary>
    /// Loads <paramref name="int8OnnxPath"/> in ONNX Runtime (CPU, all optimizations) next to its fp32 original, runs both on
    /// <paramref name="sequences"/> (one padded batch), and returns how far int8 is from fp32 plus the op mix of the graph ORT
    /// actually runs (from its optimized-model dump), which shows whether the CPU fusions fired.
    /// </summary>
    public static OrtInt8Check Check(string fp32OnnxPath, string int8OnnxPath, IReadOnlyList<EncodedPair> sequences, int threads)
    {
        if (sequences.Count == 0) throw new ArgumentException("No sequences to run.", nameof(sequences));
        if (!OnnxGraph.LoadModel(fp32OnnxPath).Graph.Output.Any(o => o.Name == LastHiddenState))
            throw new InvalidDataException($"'{fp32OnnxPath}' has no '{LastHiddenState}' output; the check compares bi-encoder exports.");
        string optimized = Path.Combine(Path.GetTempPath(), $"crossencoder-ort-int8-{Guid.NewGuid():N}.onnx");
        try
        {
            using var reference = new Session(File.ReadAllBytes(fp32OnnxPath), threads);
            using var candidate = new Session(File.ReadAllBytes(int8OnnxPath), threads, optimized);
            var (a, mask, b, t, h) = reference.Run(sequences);
            var (q, _, _, _, _) = candidate.Run(sequences);
            double maxDiff = 0;
            for (int s = 0; s < b * t; s++)
                if (mask[s] != 0)
                    for (int k = 0; k < h; k++) maxDiff = Math.Max(maxDiff, Math.Abs(a[s * h + k] - q[s * h + k]));
            double[] ea = OnnxReference.MeanPoolNormalize(a, mask, b, t, h), eq = OnnxReference.MeanPoolNormalize(q, mask, b, t, h);
            double minCos = 1;
            for (int s = 0; s < b; s++) minCos = Math.Min(minCos, Dot(ea.AsSpan(s * h, h).ToArray(), eq.AsSpan(s * h, h).ToArray()));
            var ops = OnnxGraph.LoadModel(optimized).Graph.Node.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            return new OrtInt8Check(b, maxDiff, minCos, ops);
        }
        finally
        {
            File.Delete(optimized);
        }
    }

    private static (List<double[]> Scores, List<double[]> Vectors) Score(Session session, ITextPairTokenizer tokenizer, IReadOnlyList<RankingQuery> queries, int maxLength, CancellationToken cancellationToken)
    {
        var scores = new List<double[]>();
        var vectors = new List<double[]>();
        foreach (var query in queries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var encoded = new List<EncodedPair> { tokenizer.EncodeSingle(query.Query, maxLength) };
            encoded.AddRange(query.Documents.Select(d => tokenizer.EncodeSingle(d, maxLength)));
            var embeddings = new List<double[]>();
            for (int first = 0; first < encoded.Count; first += 16)
                embeddings.AddRange(session.Embed(encoded.Skip(first).Take(16).ToList()));
            scores.Add(embeddings.Skip(1).Select(e => Dot(embeddings[0], e)).ToArray());
            vectors.AddRange(embeddings);
        }
        return (scores, vectors);
    }

    private static double Dot(double[] x, double[] y)
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += x[i] * y[i];
        return s;
    }

    /// <summary>One ORT session over an in-memory model, returning normalized mean-pooled embeddings.</summary>
    private sealed class Session : IDisposable
    {
        private readonly InferenceSession _session;

        public Session(byte[] model, int threads, string? optimizedModelPath = null)
        {
            using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            if (optimizedModelPath is not null)
            {
                options.OptimizedModelFilePath = optimizedModelPath;
                options.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;   // not the "hardware-specific dump" warning
            }
            _session = new InferenceSession(model, options);
        }

        /// <summary>The sequences right-padded to [B, T]; returns B unit embeddings [H].</summary>
        public List<double[]> Embed(IReadOnlyList<EncodedPair> batch)
        {
            var (hiddenState, mask, b, t, h) = Run(batch);
            double[] pooled = OnnxReference.MeanPoolNormalize(hiddenState, mask, b, t, h); // [B, H]
            return [.. Enumerable.Range(0, b).Select(s => pooled.AsSpan(s * h, h).ToArray())];
        }

        /// <summary>The sequences right-padded to [B, T]; returns last_hidden_state [B, T, H] and the mask [B, T].</summary>
        public (float[] HiddenState, long[] Mask, int B, int T, int H) Run(IReadOnlyList<EncodedPair> batch)
        {
            int b = batch.Count, t = batch.Max(e => e.InputIds.Length);
            long[] ids = new long[b * t], types = new long[b * t], mask = new long[b * t];
            for (int s = 0; s < b; s++)
                for (int j = 0; j < batch[s].InputIds.Length; j++)
                {
                    ids[s * t + j] = batch[s].InputIds[j];
                    types[s * t + j] = batch[s].TokenTypeIds[j];
                    mask[s * t + j] = 1;
                }
            var provided = new Dictionary<string, long[]> { ["input_ids"] = ids, ["token_type_ids"] = types, ["attention_mask"] = mask };
            string[] inputNames = [.. _session.InputMetadata.Keys];
            long[] shape = [b, t];
            var inputs = inputNames.Select(n => OrtValue.CreateTensorValueFromMemory(
                provided.TryGetValue(n, out var v) ? v : throw new InvalidDataException($"the ONNX model has an input '{n}' this comparison does not know how to fill."), shape)).ToList();
            try
            {
                using var runOptions = new RunOptions();
                using var outputs = _session.Run(runOptions, inputNames, inputs, [LastHiddenState]);
                float[] hiddenState = outputs[0].GetTensorDataAsSpan<float>().ToArray(); // [B, T, H]
                return (hiddenState, mask, b, t, hiddenState.Length / (b * t));
            }
            finally
            {
                foreach (var input in inputs) input.Dispose();
            }
        }

        public void Dispose() => _session.Dispose();
    }
}

/// <summary>What <see cref="OrtInt8Comparison.Check"/> saw.</summary>
/// <param name="Sequences">Sequences run.</param>
/// <param name="MaxAbsHiddenDiff">Largest |int8 - fp32| over last_hidden_state at unmasked positions.</param>
/// <param name="MinEmbeddingCosine">Smallest cosine between the two mean-pooled sentence embeddings.</param>
/// <param name="OptimizedOpCounts">Op types of the graph ONNX Runtime runs after its optimizations, with counts.</param>
public sealed record OrtInt8Check(int Sequences, double MaxAbsHiddenDiff, double MinEmbeddingCosine, IReadOnlyDictionary<string, int> OptimizedOpCounts);
