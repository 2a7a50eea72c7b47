using System.Buffers.Binary;
using Google.Protobuf;
using Onnx;

namespace CrossEncoder.Conversion.Onnx;

/// <summary>
/// A read-only index over an ONNX <see cref="GraphProto"/>: initializers by name, the node producing each value, the nodes
/// consuming it, and constant folding of <c>Constant</c> nodes. The BERT pattern matcher walks the graph through it.
/// </summary>
/// <remarks>
/// ONNX in one paragraph: a <c>ModelProto</c> holds one <c>GraphProto</c>; the graph lists its inputs, outputs, the
/// <c>initializer</c> tensors (the weights, each a <c>TensorProto</c> with <c>dims</c> and either <c>raw_data</c> in
/// little-endian order or a typed repeated field) and the <c>node</c>s in topological order. A node names its input and
/// output values by string; a value is a graph input, an initializer, or the output of exactly one node.
/// </remarks>
public sealed class OnnxGraph
{
    private readonly Dictionary<string, TensorProto> _initializers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeProto> _producers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _inputs = new(StringComparer.Ordinal);

    /// <summary>Indexes <paramref name="graph"/>; the graph must not be modified while this index is used.</summary>
    public OnnxGraph(GraphProto graph)
    {
        Graph = graph ?? throw new ArgumentNullException(nameof(graph));
        foreach (TensorProto tensor in graph.Initializer) _initializers[tensor.Name] = tensor;
        foreach (ValueInfoProto input in graph.Input) _inputs.Add(input.Name);
        foreach (NodeProto node in graph.Node)
        {
            foreach (string output in node.Output) _producers[output] = node;
            foreach (string input in node.Input)
            {
                if (input.Length == 0) continue; // an omitted optional input
                if (!_consumers.TryGetValue(input, out List<NodeProto>? list)) _consumers[input] = list = [];
                list.Add(node);
            }
        }
    }

    /// <summary>The indexed graph.</summary>
    public GraphProto Graph { get; }

    /// <summary>Initializers by name.</summary>
    public IReadOnlyDictionary<string, TensorProto> Initializers => _initializers;

    /// <summary>True when <paramref name="name"/> is a graph input that is not also an initializer.</summary>
    public bool IsGraphInput(string name) => _inputs.Contains(name) && !_initializers.ContainsKey(name);

    /// <summary>The node whose output is <paramref name="value"/>, or null for graph inputs and initializers.</summary>
    public NodeProto? Producer(string value) => _producers.GetValueOrDefault(value);

    /// <summary>The node producing <paramref name="value"/> if its op type is <paramref name="opType"/>.</summary>
    public NodeProto? Producer(string value, string opType) => Producer(value) is { } node && node.OpType == opType ? node : null;

    /// <summary>The nodes reading <paramref name="value"/>.</summary>
    public IReadOnlyList<NodeProto> Consumers(string value) => _consumers.TryGetValue(value, out List<NodeProto>? list) ? list : [];

    /// <summary>The single consumer of <paramref name="value"/> with op type <paramref name="opType"/>, or null.</summary>
    public NodeProto? SingleConsumer(string value, string opType)
    {
        NodeProto? found = null;
        foreach (NodeProto node in Consumers(value))
        {
            if (node.OpType != opType) continue;
            if (found is not null) return null;
            found = node;
        }
        return found;
    }

    /// <summary>For a two-input node (Add, Mul, ...), the input that is not <paramref name="value"/>.</summary>
    public static string? OtherInput(NodeProto node, string value)
    {
        if (node.Input.Count != 2) return null;
        if (node.Input[0] == value) return node.Input[1];
        if (node.Input[1] == value) return node.Input[0];
        return null;
    }

    /// <summary>The initializer named <paramref name="value"/> if it is float32 with rank <paramref name="rank"/>.</summary>
    public TensorProto? FloatInitializer(string value, int rank)
        => _initializers.TryGetValue(value, out TensorProto? t) && t.DataType == (int)TensorProto.Types.DataType.Float && t.Dims.Count == rank ? t : null;

    /// <summary>
    /// The constant tensor behind <paramref name="value"/>: an initializer, or the <c>value</c> attribute of a
    /// <c>Constant</c> node. Null when the value is computed at run time.
    /// </summary>
    public TensorProto? Constant(string value)
    {
        if (_initializers.TryGetValue(value, out TensorProto? tensor)) return tensor;
        if (Producer(value, "Constant") is { } node)
            foreach (AttributeProto attribute in node.Attribute)
                if (attribute.Name == "value" && attribute.T is not null) return attribute.T;
        return null;
    }

    /// <summary>A scalar (or one-element) constant as double, or null.</summary>
    public double? ScalarConstant(string value)
    {
        if (Constant(value) is not { } tensor || ElementCount(tensor) != 1) return null;
        return tensor.DataType switch
        {
            (int)TensorProto.Types.DataType.Float => ReadFloats(tensor)[0],
            (int)TensorProto.Types.DataType.Double => tensor.RawData.Length == 8 ? BinaryPrimitives.ReadDoubleLittleEndian(tensor.RawData.Span) : tensor.DoubleData[0],
            (int)TensorProto.Types.DataType.Int64 => ReadInt64s(tensor)[0],
            _ => null,
        };
    }

    /// <summary>An integer attribute of <paramref name="node"/>, or <paramref name="fallback"/>.</summary>
    public static long IntAttribute(NodeProto node, string name, long fallback)
    {
        foreach (AttributeProto attribute in node.Attribute)
            if (attribute.Name == name) return attribute.I;
        return fallback;
    }

    /// <summary>A float attribute of <paramref name="node"/>, or <paramref name="fallback"/>.</summary>
    public static float FloatAttribute(NodeProto node, string name, float fallback)
    {
        foreach (AttributeProto attribute in node.Attribute)
            if (attribute.Name == name) return attribute.F;
        return fallback;
    }

    /// <summary>The product of a tensor's dims (1 for a scalar).</summary>
    public static long ElementCount(TensorProto tensor)
    {
        long count = 1;
        foreach (long dim in tensor.Dims) count = checked(count * dim);
        return count;
    }

    /// <summary>The dims of <paramref name="tensor"/> as an array.</summary>
    public static long[] Shape(TensorProto tensor) => [.. tensor.Dims];

    /// <summary>Decodes a float32 tensor from <c>raw_data</c> (little-endian) or <c>float_data</c>.</summary>
    /// <exception cref="OnnxConversionException">The tensor is not float32, stores external data, or its size disagrees with its dims.</exception>
    public static float[] ReadFloats(TensorProto tensor)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
            throw new OnnxConversionException($"Tensor '{tensor.Name}' has ONNX data type {(TensorProto.Types.DataType)tensor.DataType}; expected Float.");
        RejectExternalData(tensor);
        long count = ElementCount(tensor);
        var values = new float[count];
        if (tensor.RawData.Length > 0)
        {
            if (tensor.RawData.Length != count * sizeof(float))
                throw new OnnxConversionException($"Tensor '{tensor.Name}' holds {tensor.RawData.Length} raw bytes; its dims [{string.Join(", ", tensor.Dims)}] need {count * sizeof(float)}.");
            ReadOnlySpan<byte> raw = tensor.RawData.Span;
            for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(i * sizeof(float))..]);
        }
        else
        {
            if (tensor.FloatData.Count != count)
                throw new OnnxConversionException($"Tensor '{tensor.Name}' holds {tensor.FloatData.Count} floats; its dims [{string.Join(", ", tensor.Dims)}] need {count}.");
            tensor.FloatData.CopyTo(values, 0);
        }
        return values;
    }

    /// <summary>Decodes an int64 tensor from <c>raw_data</c> or <c>int64_data</c>.</summary>
    public static long[] ReadInt64s(TensorProto tensor)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Int64)
            throw new OnnxConversionException($"Tensor '{tensor.Name}' has ONNX data type {(TensorProto.Types.DataType)tensor.DataType}; expected Int64.");
        RejectExternalData(tensor);
        if (tensor.RawData.Length == 0) return [.. tensor.Int64Data];
        var values = new long[tensor.RawData.Length / sizeof(long)];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadInt64LittleEndian(tensor.RawData.Span[(i * sizeof(long))..]);
        return values;
    }

    private static void RejectExternalData(TensorProto tensor)
    {
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0)
            throw new OnnxConversionException($"Tensor '{tensor.Name}' stores its data in an external file; only self-contained ONNX files are supported.");
    }

    /// <summary>Parses an ONNX file, turning protobuf failures into an <see cref="OnnxConversionException"/> naming the file.</summary>
    public static ModelProto LoadModel(string onnxPath)
    {
        if (!File.Exists(onnxPath)) throw new FileNotFoundException($"ONNX model not found: '{onnxPath}'.", onnxPath);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFromFile(onnxPath);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxConversionException($"'{onnxPath}' is not a valid ONNX model (protobuf parse failed: {e.Message}).", e);
        }
        if (model.Graph is null || model.Graph.Node.Count == 0)
            throw new OnnxConversionException($"'{onnxPath}' is not a valid ONNX model: it contains no graph nodes.");
        return model;
    }
}
