using System.Buffers.Binary;
using Google.Protobuf;
using Onnx;

namespace CrossEncoder.Conversion.Onnx;

/// <summary>Knobs of <see cref="OnnxDynamicQuantizer"/>; the defaults are <c>quantize_dynamic</c>'s.</summary>
public sealed record OnnxDynamicQuantizationOptions
{
    /// <summary>
    /// 7-bit weights ([-64, 64]) instead of [-127, 127]: <c>reduce_range=True</c>, ONNX Runtime's advice against
    /// <c>vpmaddubsw</c> saturation on AVX2 / AVX-512 machines without VNNI. Default false, as <c>quantize_dynamic</c>.
    /// </summary>
    public bool ReduceRange { get; init; }
}

/// <summary>What one rewrite did.</summary>
/// <param name="QuantizedMatMuls">MatMuls rewritten into DynamicQuantizeLinear + MatMulInteger + rescale.</param>
/// <param name="SkippedMatMuls">MatMuls left in fp32 (B not a constant 2-D float initializer, e.g. attention's Q·Kᵀ and P·V).</param>
/// <param name="QuantizedWeights">Weight initializers replaced by int8 + per-column scale and zero point.</param>
/// <param name="Fp32WeightBytes">Bytes of those weights in fp32.</param>
/// <param name="Int8WeightBytes">Bytes of their int8 replacements (int8 data + fp32 scales + int8 zero points).</param>
public sealed record OnnxDynamicQuantizationReport(int QuantizedMatMuls, int SkippedMatMuls, int QuantizedWeights, long Fp32WeightBytes, long Int8WeightBytes);

/// <summary>
/// Rewrites an fp32 ONNX graph into the model <c>onnxruntime.quantization.quantize_dynamic(model, out,
/// op_types_to_quantize=["MatMul"], per_channel=True, weight_type=QuantType.QInt8)</c> writes, so ONNX Runtime's own int8 can
/// be measured without Python. Only MatMul is quantized: the embedding Gathers, attention's activation-by-activation MatMuls,
/// LayerNorm, Softmax and GELU stay fp32 (quantize_dynamic's default op set would also store the embedding tables as int8
/// through Gather + DequantizeLinear, which changes the file size, not the MatMul work).
/// </summary>
/// <remarks>
/// <para>Each <c>MatMul(x, W)</c> whose W is a constant float initializer <c>[K, N]</c> (quantize_dynamic's
/// <c>MatMulConstBOnly</c>) becomes, with the value names quantize_dynamic gives them:</para>
/// <code>
/// DynamicQuantizeLinear(x)            -> x_quantized (u8), x_scale, x_zero_point   (one per activation, shared by its MatMuls)
/// MatMulInteger(x_quantized, W_quantized, x_zero_point, W_zero_point) -> int32
/// Cast(to float)
/// Mul(x_scale, W_scale)               -> the per-column scale product
/// Mul(cast, scale product)            -> the MatMul's original output name (so the following bias Add is untouched)
/// </code>
/// <para>ONNX Runtime's CPU provider fuses MatMulInteger + Cast + Mul(Mul(scales)) (+ a following Add of a constant bias
/// when the bias is the Add's second input) into <c>MatMulIntegerToFloat</c>, and that plus its DynamicQuantizeLinear into
/// <c>DynamicQuantizeMatMul</c> when the quantized activation feeds only that MatMul
/// (onnxruntime/core/optimizer/matmul_integer_to_float.cc, dynamic_quantize_matmul_fusion.cc).</para>
/// <para>Weights, as quantize_dynamic with <c>per_channel=True</c>: per output column j (axis -1 of W[K, N]) symmetric int8:
/// absmax_j = max_k |W[k, j]|, scale_j = 2 absmax_j / 254 (computed in double, stored as float; 1 for an all-zero column),
/// q = clip(round_half_even(W / scale_j), -128, 127) in float32, zero point 0. With <see cref="OnnxDynamicQuantizationOptions.ReduceRange"/>
/// the range is [-64, 64] (scale = 2 absmax / 128). Activations: DynamicQuantizeLinear's u8, one scale and zero point for the
/// whole tensor (every row of the padded batch), computed at run time by ONNX Runtime.</para>
/// </remarks>
public static class OnnxDynamicQuantizer
{
    private const int Float = (int)TensorProto.Types.DataType.Float;
    private const int Int8 = (int)TensorProto.Types.DataType.Int8;

    /// <summary>numpy.finfo(float32).tiny: quantize_dynamic's scale below this (an all-zero column) becomes 1.</summary>
    private const double Float32Tiny = 1.1754943508222875e-38;

    /// <summary>Reads <paramref name="inputPath"/>, rewrites it, writes <paramref name="outputPath"/>.</summary>
    public static OnnxDynamicQuantizationReport QuantizeFile(string inputPath, string outputPath, OnnxDynamicQuantizationOptions? options = null)
    {
        ModelProto model = OnnxGraph.LoadModel(inputPath);
        var report = Quantize(model, options);
        string? directory = Path.GetDirectoryName(Path.GetFullPath(outputPath));
        if (directory is not null) Directory.CreateDirectory(directory);
        string temporary = outputPath + ".partial";
        using (var stream = File.Create(temporary)) model.WriteTo(stream);
        File.Move(temporary, outputPath, overwrite: true);
        return report;
    }

    /// <summary>Rewrites <paramref name="model"/> in place (clone it first to keep the fp32 graph).</summary>
    /// <exception cref="OnnxConversionException">The model's ai.onnx opset is below 11 (DynamicQuantizeLinear), or it has no MatMul to quantize.</exception>
    public static OnnxDynamicQuantizationReport Quantize(ModelProto model, OnnxDynamicQuantizationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new OnnxDynamicQuantizationOptions();
        GraphProto graph = model.Graph ?? throw new OnnxConversionException("The ONNX model has no graph.");
        long opset = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        if (opset < 11)
            throw new OnnxConversionException($"The ONNX model uses ai.onnx opset {opset}; dynamic quantization needs opset 11 or later (DynamicQuantizeLinear).");

        var index = new OnnxGraph(graph);
        var quantizedActivations = new HashSet<string>(StringComparer.Ordinal);
        var quantizedWeights = new Dictionary<string, (string Data, string Scale, string ZeroPoint)>(StringComparer.Ordinal);
        var newInitializers = new List<TensorProto>();
        var nodes = new List<NodeProto>();
        int quantized = 0, skipped = 0;
        long fp32Bytes = 0, int8Bytes = 0;

        foreach (NodeProto node in graph.Node)
        {
            if (node.OpType != "MatMul" || node.Domain is not ("" or "ai.onnx")) { nodes.Add(node); continue; }
            string x = node.Input[0], w = node.Input[1];
            TensorProto? weight = index.FloatInitializer(w, rank: 2);
            if (weight is null || index.Initializers.ContainsKey(x)) { skipped++; nodes.Add(node); continue; }

            // The activation: one DynamicQuantizeLinear per value, reused by every MatMul reading it (Q, K and V share one).
            if (quantizedActivations.Add(x))
                nodes.Add(new NodeProto
                {
                    OpType = "DynamicQuantizeLinear", Name = x + "_QuantizeLinear",
                    Input = { x }, Output = { x + "_quantized", x + "_scale", x + "_zero_point" },
                });

            if (!quantizedWeights.TryGetValue(w, out var q))
            {
                var (data, scale, zeroPoint) = QuantizeWeight(weight, options.ReduceRange);
                newInitializers.AddRange([data, scale, zeroPoint]);
                quantizedWeights[w] = q = (data.Name, scale.Name, zeroPoint.Name);
                fp32Bytes += OnnxGraph.ElementCount(weight) * sizeof(float);
                int8Bytes += data.RawData.Length + scale.RawData.Length + zeroPoint.RawData.Length;
            }

            string output = node.Output[0];
            string name = node.Name.Length > 0 ? node.Name + "_quant" : "";
            string integer = output + "_output_quantized";
            string cast = integer + "_cast_output";
            string scalesMul = name.Length > 0 ? name + "_scales_mul" : $"{x}_scale_{q.Scale}_mul";
            nodes.Add(new NodeProto { OpType = "MatMulInteger", Name = name, Input = { x + "_quantized", q.Data, x + "_zero_point", q.ZeroPoint }, Output = { integer } });
            nodes.Add(new NodeProto
            {
                OpType = "Cast", Name = integer + "_cast", Input = { integer }, Output = { cast },
                Attribute = { new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = Float } },
            });
            nodes.Add(new NodeProto { OpType = "Mul", Name = scalesMul, Input = { x + "_scale", q.Scale }, Output = { scalesMul + ":0" } });
            nodes.Add(new NodeProto { OpType = "Mul", Name = name.Length > 0 ? name + "_output_scale_mul" : "", Input = { cast, scalesMul + ":0" }, Output = { output } });
            quantized++;
        }
        if (quantized == 0)
            throw new OnnxConversionException($"The ONNX model has no MatMul with a constant 2-D float weight to quantize ({skipped} MatMul(s) multiply two activations).");

        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        // Drop the fp32 weights no remaining node reads (a weight shared with an unquantized node stays).
        var stillRead = new HashSet<string>(nodes.SelectMany(n => n.Input), StringComparer.Ordinal);
        foreach (var output in graph.Output) stillRead.Add(output.Name);
        foreach (string w in quantizedWeights.Keys.Where(w => !stillRead.Contains(w)))
        {
            graph.Initializer.Remove(index.Initializers[w]);
            if (graph.Input.FirstOrDefault(i => i.Name == w) is { } input) graph.Input.Remove(input);
        }
        graph.Initializer.AddRange(newInitializers);
        return new OnnxDynamicQuantizationReport(quantized, skipped, quantizedWeights.Count, fp32Bytes, int8Bytes);
    }

    /// <summary>W[K, N] -> int8 W_quantized[K, N], float W_scale[N], int8 W_zero_point[N] (zeros): symmetric per column.</summary>
    internal static (TensorProto Data, TensorProto Scale, TensorProto ZeroPoint) QuantizeWeight(TensorProto weight, bool reduceRange)
    {
        float[] values = OnnxGraph.ReadFloats(weight); // [K, N] row-major
        int k = checked((int)weight.Dims[0]), n = checked((int)weight.Dims[1]);
        int qmax = reduceRange ? 64 : 127;
        var scales = new float[n];
        for (int j = 0; j < n; j++)
        {
            float absmax = 0;
            for (int r = 0; r < k; r++) absmax = Math.Max(absmax, Math.Abs(values[r * n + j]));
            double scale = 2.0 * absmax / (2.0 * qmax);
            scales[j] = scale < Float32Tiny ? 1f : (float)scale;
        }
        var data = new byte[k * n];
        for (int r = 0; r < k; r++)
            for (int j = 0; j < n; j++)
            {
                float q = MathF.Round(values[r * n + j] / scales[j], MidpointRounding.ToEven);   // float32 divide, numpy round
                data[r * n + j] = (byte)(sbyte)Math.Clamp(q, -128f, 127f);
            }
        var scaleBytes = new byte[n * sizeof(float)];
        for (int j = 0; j < n; j++) BinaryPrimitives.WriteSingleLittleEndian(scaleBytes.AsSpan(j * sizeof(float)), scales[j]);
        return (
            new TensorProto { Name = weight.Name + "_quantized", DataType = Int8, Dims = { k, n }, RawData = ByteString.CopyFrom(data) },
            new TensorProto { Name = weight.Name + "_scale", DataType = Float, Dims = { n }, RawData = ByteString.CopyFrom(scaleBytes) },
            new TensorProto { Name = weight.Name + "_zero_point", DataType = Int8, Dims = { n }, RawData = ByteString.CopyFrom(new byte[n]) });
    }
}
