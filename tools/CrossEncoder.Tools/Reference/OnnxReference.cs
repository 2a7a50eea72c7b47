using CrossEncoder.Conversion.Onnx;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace CrossEncoder.Tools.Reference;

/// <summary>One output of the reference: a row-major float tensor and its shape, outermost first.</summary>
/// <param name="Name">Stable name: <c>embeddings</c>, <c>layer.{i}</c>, <c>last_hidden_state</c> or <c>pooler_output</c>.</param>
/// <param name="Shape"><c>[B, T, H]</c> for hidden states, <c>[B, H]</c> for the pooler.</param>
/// <param name="Data">The values.</param>
public sealed record ReferenceTensor(string Name, int[] Shape, float[] Data);

/// <summary>Session knobs for <see cref="OnnxReference"/>.</summary>
public sealed record OnnxReferenceOptions
{
    /// <summary>ONNX Runtime graph optimizations; the default (all) is what a user of the ONNX file gets.</summary>
    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;
    /// <summary>Intra-op threads; 1 keeps reductions in a fixed order, so results are bit-for-bit repeatable.</summary>
    public int IntraOpThreads { get; init; } = 1;
}

/// <summary>
/// ONNX Runtime running a BERT ONNX export as the numerical reference, exposing every layer's hidden state under a stable name
/// so a comparison can say which layer diverged first.
/// </summary>
/// <remarks>
/// The ONNX graph only outputs <c>last_hidden_state</c> (and the pooler). An in-memory copy of the model gets one
/// <c>Identity</c> node and graph output per intermediate, located through the graph by <see cref="BertOnnxGraph"/>:
/// <c>embeddings</c> is the embeddings LayerNorm output and <c>layer.{i}</c> the output LayerNorm closing layer i (the
/// LayerNorm after the FFN residual Add). <c>layer.{L-1}</c> is therefore the very tensor <c>last_hidden_state</c> holds.
/// </remarks>
public sealed class OnnxReference : IDisposable
{
    /// <summary>Stable name of the embeddings LayerNorm output, <c>[B, T, H]</c>.</summary>
    public const string Embeddings = "embeddings";
    /// <summary>Stable name of the encoder output, <c>[B, T, H]</c>.</summary>
    public const string LastHiddenState = "last_hidden_state";
    /// <summary>Stable name of the pooler output (tanh(dense(first token))), <c>[B, H]</c>.</summary>
    public const string PoolerOutput = "pooler_output";

    /// <summary>Stable name of layer <paramref name="layer"/>'s output, <c>[B, T, H]</c>.</summary>
    public static string Layer(int layer) => $"layer.{layer}";

    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;

    /// <summary>Loads <paramref name="onnxPath"/>, adds the per-layer outputs, and opens a session.</summary>
    /// <exception cref="OnnxConversionException">The file is not a BERT encoder export this class understands.</exception>
    public OnnxReference(string onnxPath, OnnxReferenceOptions? options = null)
    {
        options ??= new OnnxReferenceOptions();
        ModelProto model = OnnxGraph.LoadModel(onnxPath);
        BertOnnxGraph bert = BertOnnxGraph.Match(model);
        LayerCount = bert.LayerCount;
        HiddenSize = bert.HiddenSize;
        ModelInputs = [.. model.Graph.Input.Where(i => !bert.Graph.Initializers.ContainsKey(i.Name)).Select(Describe)];
        ModelOutputs = [.. model.Graph.Output.Select(Describe)];

        _inputNames = [.. model.Graph.Input.Where(i => !bert.Graph.Initializers.ContainsKey(i.Name)).Select(i => i.Name)];
        foreach (ValueInfoProto input in model.Graph.Input.Where(i => _inputNames.Contains(i.Name)))
        {
            if (input.Name is not ("input_ids" or "attention_mask" or "token_type_ids"))
                throw new OnnxConversionException($"The model needs input '{input.Name}'; only input_ids, attention_mask and token_type_ids are supported.");
            if (input.Type?.TensorType?.ElemType != (int)TensorProto.Types.DataType.Int64)
                throw new OnnxConversionException($"Model input '{input.Name}' is {(TensorProto.Types.DataType)(input.Type?.TensorType?.ElemType ?? 0)}; expected Int64.");
        }

        // Expose the intermediates: value -> Identity -> graph output with a stable name.
        var exposed = new List<(string Name, string Value)> { (Embeddings, bert.EmbeddingsOutputValue) };
        for (int i = 0; i < LayerCount; i++) exposed.Add((Layer(i), bert.LayerOutputValues[i]));
        exposed.Add((LastHiddenState, bert.LayerOutputValues[^1]));
        if (bert.PoolerOutputValue is { } pooler) exposed.Add((PoolerOutput, pooler));
        var graphOutputs = model.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach ((string name, string value) in exposed)
        {
            if (name == value && graphOutputs.Contains(name)) continue; // already a graph output under this name
            if (bert.Graph.Producer(name) is not null || bert.Graph.Initializers.ContainsKey(name))
                throw new OnnxConversionException($"Cannot expose '{name}': the graph already has a value with that name.");
            model.Graph.Node.Add(new NodeProto { OpType = "Identity", Name = $"expose_{name}", Input = { value }, Output = { name } });
            model.Graph.Output.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        }
        _outputNames = [.. exposed.Select(e => e.Name)];

        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = options.OptimizationLevel,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = options.IntraOpThreads,
            InterOpNumThreads = 1,
        };
        _session = new InferenceSession(model.ToByteArray(), sessionOptions);
    }

    /// <summary>L, the number of encoder layers.</summary>
    public int LayerCount { get; }
    /// <summary>H, the hidden size.</summary>
    public int HiddenSize { get; }
    /// <summary>The model's inputs as declared in the ONNX file, e.g. <c>input_ids: Int64[batch, sequence]</c>.</summary>
    public IReadOnlyList<string> ModelInputs { get; }
    /// <summary>The model's own outputs as declared in the ONNX file (before the per-layer outputs were added).</summary>
    public IReadOnlyList<string> ModelOutputs { get; }
    /// <summary>The stable names <see cref="Run"/> returns: embeddings, layer.0..layer.{L-1}, last_hidden_state, pooler_output.</summary>
    public IReadOnlyList<string> OutputNames => _outputNames;

    /// <summary>Runs a batch; each input is row-major <c>[B, T]</c>.</summary>
    /// <returns>Every tensor in <see cref="OutputNames"/>, by name.</returns>
    public IReadOnlyDictionary<string, ReferenceTensor> Run(long[] inputIds, long[] attentionMask, long[] tokenTypeIds, int batch, int sequenceLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sequenceLength);
        int count = checked(batch * sequenceLength);
        var provided = new Dictionary<string, long[]>(StringComparer.Ordinal)
        {
            ["input_ids"] = inputIds, ["attention_mask"] = attentionMask, ["token_type_ids"] = tokenTypeIds,
        };
        foreach ((string name, long[] values) in provided)
        {
            ArgumentNullException.ThrowIfNull(values, name);
            if (values.Length != count) throw new ArgumentException($"'{name}' has {values.Length} elements; [B, T] = [{batch}, {sequenceLength}] needs {count}.", name);
        }

        long[] shape = [batch, sequenceLength];
        var inputs = new List<OrtValue>(_inputNames.Length);
        try
        {
            foreach (string name in _inputNames) inputs.Add(OrtValue.CreateTensorValueFromMemory(provided[name], shape));
            using var runOptions = new RunOptions();
            using IDisposableReadOnlyCollection<OrtValue> outputs = _session.Run(runOptions, _inputNames, inputs, _outputNames);
            var result = new Dictionary<string, ReferenceTensor>(StringComparer.Ordinal);
            for (int i = 0; i < _outputNames.Length; i++)
            {
                OrtValue output = outputs[i];
                int[] dims = [.. output.GetTensorTypeAndShape().Shape.Select(d => checked((int)d))];
                result[_outputNames[i]] = new ReferenceTensor(_outputNames[i], dims, output.GetTensorDataAsSpan<float>().ToArray());
            }
            return result;
        }
        finally
        {
            foreach (OrtValue input in inputs) input.Dispose();
        }
    }

    /// <summary>
    /// The sentence-transformers embedding from a <c>last_hidden_state</c>: mean over the tokens whose mask is non-zero, then
    /// L2 normalization, computed in double. Returns <c>[B, H]</c>.
    /// </summary>
    /// <remarks>As sentence-transformers: the token count is clamped to at least 1e-9 and the norm to at least 1e-12 (torch's
    /// <c>F.normalize</c>), so an all-padding row yields zeros instead of NaN.</remarks>
    public static double[] MeanPoolNormalize(ReadOnlySpan<float> lastHiddenState, ReadOnlySpan<long> attentionMask, int batch, int sequenceLength, int hidden)
    {
        if (lastHiddenState.Length != (long)batch * sequenceLength * hidden)
            throw new ArgumentException($"last_hidden_state has {lastHiddenState.Length} elements; [B, T, H] = [{batch}, {sequenceLength}, {hidden}] needs {(long)batch * sequenceLength * hidden}.", nameof(lastHiddenState));
        if (attentionMask.Length != (long)batch * sequenceLength)
            throw new ArgumentException($"attention_mask has {attentionMask.Length} elements; [B, T] needs {(long)batch * sequenceLength}.", nameof(attentionMask));
        var pooled = new double[batch * hidden]; // [B, H]
        for (int b = 0; b < batch; b++)
        {
            Span<double> row = pooled.AsSpan(b * hidden, hidden);
            double tokens = 0;
            for (int t = 0; t < sequenceLength; t++)
            {
                if (attentionMask[b * sequenceLength + t] == 0) continue;
                tokens++;
                ReadOnlySpan<float> state = lastHiddenState.Slice((b * sequenceLength + t) * hidden, hidden);
                for (int h = 0; h < hidden; h++) row[h] += state[h];
            }
            double scale = 1.0 / Math.Max(tokens, 1e-9);
            double squares = 0;
            for (int h = 0; h < hidden; h++) { row[h] *= scale; squares += row[h] * row[h]; }
            double inverseNorm = 1.0 / Math.Max(Math.Sqrt(squares), 1e-12);
            for (int h = 0; h < hidden; h++) row[h] *= inverseNorm;
        }
        return pooled;
    }

    private static string Describe(ValueInfoProto value)
    {
        TypeProto.Types.Tensor? tensor = value.Type?.TensorType;
        if (tensor is null) return value.Name;
        string dims = tensor.Shape is null ? "?" : string.Join(", ", tensor.Shape.Dim.Select(d => d.HasDimValue ? d.DimValue.ToString(System.Globalization.CultureInfo.InvariantCulture) : d.DimParam));
        return $"{value.Name}: {(TensorProto.Types.DataType)tensor.ElemType}[{dims}]";
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();
}
