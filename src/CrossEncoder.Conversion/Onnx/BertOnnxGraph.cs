using System.Globalization;
using Onnx;

namespace CrossEncoder.Conversion.Onnx;

/// <summary>One Hugging Face tensor found in the ONNX graph: its HF name and shape, and the initializer holding its values.</summary>
/// <param name="Name">Hugging Face <c>BertModel</c> name, e.g. <c>encoder.layer.0.attention.self.query.weight</c>.</param>
/// <param name="Shape">Hugging Face shape; Linear weights are <c>[out, in]</c>.</param>
/// <param name="Source">The ONNX initializer.</param>
/// <param name="Transpose">True for MatMul weights, stored <c>[in, out]</c> in ONNX.</param>
/// <param name="FoundBy">How the graph identified it, e.g. <c>bias of Add after MatMul_34</c>.</param>
public sealed record MappedTensor(string Name, long[] Shape, TensorProto Source, bool Transpose, string FoundBy);

/// <summary>A LayerNorm located in the graph, as one <c>LayerNormalization</c> node or the decomposed exporter pattern.</summary>
/// <param name="Prefix">HF module name, e.g. <c>encoder.layer.3.output.LayerNorm</c>.</param>
/// <param name="InputValue">The ONNX value normalized (the residual sum).</param>
/// <param name="OutputValue">The ONNX value holding the normalized, scaled and shifted result.</param>
/// <param name="Gamma">The scale initializer (HF <c>LayerNorm.weight</c>).</param>
/// <param name="Beta">The shift initializer (HF <c>LayerNorm.bias</c>).</param>
/// <param name="Epsilon">The variance epsilon, read from the attribute or the constant added to the variance.</param>
/// <param name="Form"><c>LayerNormalization</c> or <c>decomposed</c>.</param>
public sealed record LayerNormSite(string Prefix, string InputValue, string OutputValue, TensorProto Gamma, TensorProto Beta, float Epsilon, string Form);

/// <summary>
/// Recognizes a BERT encoder (embeddings -> L post-LN transformer layers -> optional pooler) in an ONNX graph and names every
/// weight with its Hugging Face <c>BertModel</c> name, by following the graph rather than guessing from initializer names.
/// </summary>
/// <remarks>
/// How each weight is found (the PyTorch exporter names MatMul weights with numbers, so the graph is the only reliable map):
/// <list type="bullet">
/// <item>Linear: a <c>MatMul(x, W[in,out])</c> followed by <c>Add(bias[out])</c>; the bias initializer keeps its module name
/// (<c>encoder.layer.0.attention.self.query.bias</c>), which names W. A <c>Gemm</c> (the pooler) carries its own names and a
/// <c>transB</c> flag.</item>
/// <item>Embedding tables: float <c>Gather</c> data inputs, told apart by their indices: the <c>input_ids</c> input (word),
/// the <c>token_type_ids</c> input (token type), or a computed range (position).</item>
/// <item>LayerNorm: a <c>LayerNormalization</c> node, or the decomposed form
/// <c>(x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) * gamma + beta</c>; named after the Linear whose output feeds its
/// residual Add (<c>...output.dense</c> -> <c>...output.LayerNorm</c>); the one fed by the embedding sum is
/// <c>embeddings.LayerNorm</c>.</item>
/// <item>Heads: the last two entries of the Reshape target after the query projection, <c>[B, T, nH, dH]</c>.</item>
/// </list>
/// Initializer names that already look like HF names must agree with the graph's answer; any disagreement, unmapped float
/// initializer, missing or unexpected tensor, or wrong shape fails with an <see cref="OnnxConversionException"/>.
/// </remarks>
public sealed class BertOnnxGraph
{
    private BertOnnxGraph(OnnxGraph graph) => Graph = graph;

    /// <summary>The indexed ONNX graph.</summary>
    public OnnxGraph Graph { get; }

    /// <summary>Every HF tensor, embeddings first, then layer by layer, then the pooler.</summary>
    public IReadOnlyList<MappedTensor> Tensors { get; private set; } = [];

    /// <summary>The LayerNorms in graph order: embeddings, then attention.output and output per layer.</summary>
    public IReadOnlyList<LayerNormSite> LayerNorms { get; private set; } = [];

    /// <summary>L, the number of transformer layers.</summary>
    public int LayerCount { get; private set; }
    /// <summary>H, the hidden size.</summary>
    public int HiddenSize { get; private set; }
    /// <summary>nH, the number of attention heads.</summary>
    public int HeadCount { get; private set; }
    /// <summary>I, the FFN intermediate size.</summary>
    public int IntermediateSize { get; private set; }
    /// <summary>V, the word-embedding rows.</summary>
    public int VocabSize { get; private set; }
    /// <summary>Rows of the position-embedding table.</summary>
    public int MaxPositionEmbeddings { get; private set; }
    /// <summary>Rows of the token-type table.</summary>
    public int TypeVocabSize { get; private set; }
    /// <summary>The LayerNorm epsilon, equal across all LayerNorms.</summary>
    public float LayerNormEpsilon { get; private set; }
    /// <summary>HF <c>hidden_act</c>: <c>gelu</c> (erf), <c>gelu_new</c> (tanh approximation) or <c>relu</c>.</summary>
    public string HiddenAct { get; private set; } = "";
    /// <summary>True when the graph contains the pooler (dense + tanh on the first token).</summary>
    public bool HasPooler => PoolerOutputValue is not null;

    /// <summary>ONNX value holding the embeddings LayerNorm output, <c>[B, T, H]</c>.</summary>
    public string EmbeddingsOutputValue { get; private set; } = "";
    /// <summary>ONNX values holding each layer's final (output.LayerNorm) result, <c>[B, T, H]</c>.</summary>
    public IReadOnlyList<string> LayerOutputValues { get; private set; } = [];
    /// <summary>ONNX value holding the pooler's tanh output, <c>[B, H]</c>, or null.</summary>
    public string? PoolerOutputValue { get; private set; }

    /// <summary>Analyzes <paramref name="model"/>.</summary>
    /// <exception cref="OnnxConversionException">The graph is not a BERT encoder; the message names the node or tensor.</exception>
    public static BertOnnxGraph Match(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Graph is null) throw new OnnxConversionException("The ONNX model has no graph.");
        var bert = new BertOnnxGraph(new OnnxGraph(model.Graph));
        bert.Analyze();
        return bert;
    }

    private void Analyze()
    {
        var mapped = new Dictionary<string, MappedTensor>(StringComparer.Ordinal);
        void Add(MappedTensor tensor)
        {
            if (!mapped.TryAdd(tensor.Name, tensor))
                throw new OnnxConversionException($"Two initializers map to '{tensor.Name}': '{mapped[tensor.Name].Source.Name}' ({mapped[tensor.Name].FoundBy}) and '{tensor.Source.Name}' ({tensor.FoundBy}).");
        }

        MapEmbeddings(Add);
        Dictionary<string, string> linearOutputs = MapLinears(Add); // ONNX value after the bias Add -> HF module prefix
        Dictionary<string, string> linearByPrefix = linearOutputs.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);
        List<LayerNormSite> layerNorms = FindLayerNorms(linearOutputs);
        foreach (LayerNormSite norm in layerNorms)
        {
            Add(new MappedTensor(norm.Prefix + ".weight", OnnxGraph.Shape(norm.Gamma), norm.Gamma, false, $"{norm.Form} LayerNorm scale"));
            Add(new MappedTensor(norm.Prefix + ".bias", OnnxGraph.Shape(norm.Beta), norm.Beta, false, $"{norm.Form} LayerNorm shift"));
        }
        LayerNorms = layerNorms;

        // Dimensions, all read from tensors.
        LayerCount = CountLayers(mapped.Keys);
        MappedTensor word = Require(mapped, "embeddings.word_embeddings.weight");
        HiddenSize = checked((int)word.Shape[1]);
        VocabSize = checked((int)word.Shape[0]);
        MaxPositionEmbeddings = checked((int)Require(mapped, "embeddings.position_embeddings.weight").Shape[0]);
        TypeVocabSize = checked((int)Require(mapped, "embeddings.token_type_embeddings.weight").Shape[0]);
        IntermediateSize = checked((int)Require(mapped, "encoder.layer.0.intermediate.dense.weight").Shape[0]);
        HeadCount = FindHeadCount(linearByPrefix.GetValueOrDefault("encoder.layer.0.attention.self.query"));
        HiddenAct = FindActivation(linearByPrefix.GetValueOrDefault("encoder.layer.0.intermediate.dense"));
        LayerNormEpsilon = layerNorms[0].Epsilon;
        foreach (LayerNormSite norm in layerNorms)
            if (norm.Epsilon != LayerNormEpsilon)
                throw new OnnxConversionException($"LayerNorm '{norm.Prefix}' uses epsilon {norm.Epsilon:R}, but '{layerNorms[0].Prefix}' uses {LayerNormEpsilon:R}; a BERT config has one layer_norm_eps.");

        CheckNamesAndShapes(mapped);
        CheckAllInitializersUsed(mapped);

        bool hasPooler = mapped.ContainsKey("pooler.dense.weight");
        var ordered = new List<MappedTensor>();
        foreach (string name in ExpectedNames(LayerCount, hasPooler)) ordered.Add(mapped[name]);
        Tensors = ordered;

        Dictionary<string, LayerNormSite> normByPrefix = layerNorms.ToDictionary(n => n.Prefix, StringComparer.Ordinal);
        EmbeddingsOutputValue = normByPrefix["embeddings.LayerNorm"].OutputValue;
        LayerOutputValues = [.. Enumerable.Range(0, LayerCount).Select(i => normByPrefix[$"encoder.layer.{i}.output.LayerNorm"].OutputValue)];
        if (hasPooler && linearByPrefix.TryGetValue("pooler.dense", out string? poolerDense))
            PoolerOutputValue = Graph.SingleConsumer(poolerDense, "Tanh")?.Output[0]
                ?? throw new OnnxConversionException($"The pooler dense output '{poolerDense}' is not followed by Tanh.");
    }

    /// <summary>The HF <c>BertModel</c> tensor names for <paramref name="layerCount"/> layers, in checkpoint order.</summary>
    public static IEnumerable<string> ExpectedNames(int layerCount, bool withPooler)
    {
        foreach (string table in new[] { "word_embeddings", "position_embeddings", "token_type_embeddings" })
            yield return $"embeddings.{table}.weight";
        yield return "embeddings.LayerNorm.weight";
        yield return "embeddings.LayerNorm.bias";
        for (int i = 0; i < layerCount; i++)
            foreach (string module in LayerModules)
            {
                yield return $"encoder.layer.{i}.{module}.weight";
                yield return $"encoder.layer.{i}.{module}.bias";
            }
        if (withPooler)
        {
            yield return "pooler.dense.weight";
            yield return "pooler.dense.bias";
        }
    }

    private static readonly string[] LayerModules =
    [
        "attention.self.query", "attention.self.key", "attention.self.value",
        "attention.output.dense", "attention.output.LayerNorm",
        "intermediate.dense", "output.dense", "output.LayerNorm",
    ];

    // ---- embeddings -------------------------------------------------------------------------------------------------

    private void MapEmbeddings(Action<MappedTensor> add)
    {
        foreach (NodeProto node in Graph.Graph.Node)
        {
            if (node.OpType != "Gather" || node.Input.Count != 2) continue;
            if (Graph.FloatInitializer(node.Input[0], 2) is not { } table) continue;
            string indices = node.Input[1];
            string role = !Graph.IsGraphInput(indices) ? "position_embeddings"
                : indices.Contains("token_type", StringComparison.OrdinalIgnoreCase) ? "token_type_embeddings"
                : "word_embeddings";
            string name = $"embeddings.{role}.weight";
            CheckAgreesWithInitializerName(table, name, $"Gather '{node.Name}' on '{indices}'");
            add(new MappedTensor(name, OnnxGraph.Shape(table), table, false, $"data of Gather '{node.Name}' indexed by '{indices}'"));
        }
    }

    // ---- Linear layers ----------------------------------------------------------------------------------------------

    private Dictionary<string, string> MapLinears(Action<MappedTensor> add)
    {
        var outputs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (NodeProto node in Graph.Graph.Node)
        {
            if (node.OpType == "MatMul")
            {
                if (Graph.FloatInitializer(node.Input[1], 2) is not { } weight)
                {
                    if (Graph.Initializers.ContainsKey(node.Input[0]))
                        throw new OnnxConversionException($"MatMul '{node.Name}' has its initializer '{node.Input[0]}' as the left operand; expected activations x W[in, out].");
                    continue; // activation x activation (attention scores, context)
                }
                string matmulOut = node.Output[0];
                long outFeatures = weight.Dims[1];
                NodeProto? biasAdd = null;
                TensorProto? bias = null;
                foreach (NodeProto consumer in Graph.Consumers(matmulOut))
                    if (consumer.OpType == "Add" && OnnxGraph.OtherInput(consumer, matmulOut) is { } other
                        && Graph.FloatInitializer(other, 1) is { } candidate && candidate.Dims[0] == outFeatures)
                        (biasAdd, bias) = (consumer, candidate);
                if (biasAdd is null || bias is null)
                    throw new OnnxConversionException($"MatMul '{node.Name}' multiplies by initializer '{weight.Name}' [{string.Join(", ", weight.Dims)}] but is not followed by an Add of a [{outFeatures}] bias initializer, so its Hugging Face name cannot be read from the graph (unmapped MatMul).");
                string prefix = ModulePrefix(bias.Name, ".bias")
                    ?? throw new OnnxConversionException($"The bias '{bias.Name}' added after MatMul '{node.Name}' does not carry a Hugging Face module name ending in '.bias', so weight '{weight.Name}' cannot be named (unmapped MatMul).");
                CheckAgreesWithInitializerName(weight, prefix + ".weight", $"MatMul '{node.Name}'");
                add(new MappedTensor(prefix + ".weight", [weight.Dims[1], weight.Dims[0]], weight, true, $"weight of MatMul '{node.Name}' (named by its bias Add '{biasAdd.Name}')"));
                add(new MappedTensor(prefix + ".bias", OnnxGraph.Shape(bias), bias, false, $"bias of Add '{biasAdd.Name}' after MatMul '{node.Name}'"));
                outputs[biasAdd.Output[0]] = prefix;
            }
            else if (node.OpType == "Gemm")
            {
                if (node.Input.Count < 3 || Graph.FloatInitializer(node.Input[1], 2) is not { } weight || Graph.FloatInitializer(node.Input[2], 1) is not { } bias)
                    throw new OnnxConversionException($"Gemm '{node.Name}' does not multiply by a weight initializer and add a bias initializer (unmapped Gemm).");
                if (OnnxGraph.IntAttribute(node, "transA", 0) != 0 || OnnxGraph.FloatAttribute(node, "alpha", 1f) != 1f || OnnxGraph.FloatAttribute(node, "beta", 1f) != 1f)
                    throw new OnnxConversionException($"Gemm '{node.Name}' uses transA/alpha/beta; only y = x W^T + b (or x W + b) maps to a Linear.");
                bool weightIsOutIn = OnnxGraph.IntAttribute(node, "transB", 0) == 1; // transB=1: W stored [out, in] as in PyTorch
                string prefix = ModulePrefix(bias.Name, ".bias") ?? ModulePrefix(weight.Name, ".weight")
                    ?? throw new OnnxConversionException($"Gemm '{node.Name}' has neither a weight nor a bias with a Hugging Face name ('{weight.Name}', '{bias.Name}').");
                CheckAgreesWithInitializerName(weight, prefix + ".weight", $"Gemm '{node.Name}'");
                long[] shape = weightIsOutIn ? OnnxGraph.Shape(weight) : [weight.Dims[1], weight.Dims[0]];
                add(new MappedTensor(prefix + ".weight", shape, weight, !weightIsOutIn, $"B of Gemm '{node.Name}' (transB={(weightIsOutIn ? 1 : 0)})"));
                add(new MappedTensor(prefix + ".bias", OnnxGraph.Shape(bias), bias, false, $"C of Gemm '{node.Name}'"));
                outputs[node.Output[0]] = prefix;
            }
        }
        return outputs;
    }

    // ---- LayerNorm --------------------------------------------------------------------------------------------------

    private List<LayerNormSite> FindLayerNorms(Dictionary<string, string> linearOutputs)
    {
        var sites = new List<LayerNormSite>();
        foreach (NodeProto node in Graph.Graph.Node)
        {
            (string Input, string Output, TensorProto Gamma, TensorProto Beta, float Epsilon, string Form)? found = node.OpType switch
            {
                "LayerNormalization" => MatchFusedLayerNorm(node),
                "Div" => MatchDecomposedLayerNorm(node),
                _ => null,
            };
            if (found is not { } f) continue;
            string prefix = NameLayerNorm(f.Input, linearOutputs, node);
            CheckAgreesWithInitializerName(f.Gamma, prefix + ".weight", $"LayerNorm at '{node.Name}'");
            CheckAgreesWithInitializerName(f.Beta, prefix + ".bias", $"LayerNorm at '{node.Name}'");
            sites.Add(new LayerNormSite(prefix, f.Input, f.Output, f.Gamma, f.Beta, f.Epsilon, f.Form));
        }
        if (sites.Count == 0) throw new OnnxConversionException("No LayerNorm found (neither LayerNormalization nodes nor the decomposed ReduceMean/Sub/Pow/Sqrt/Div pattern); this is not a BERT encoder graph.");
        if (sites.Count(s => s.Prefix == "embeddings.LayerNorm") != 1)
            throw new OnnxConversionException($"Expected exactly one LayerNorm on the embedding sum, found {sites.Count(s => s.Prefix == "embeddings.LayerNorm")}.");
        return sites;
    }

    private (string, string, TensorProto, TensorProto, float, string)? MatchFusedLayerNorm(NodeProto node)
    {
        if (node.Input.Count < 3 || Graph.FloatInitializer(node.Input[1], 1) is not { } gamma || Graph.FloatInitializer(node.Input[2], 1) is not { } beta)
            throw new OnnxConversionException($"LayerNormalization '{node.Name}' lacks a scale or bias initializer (inputs: {string.Join(", ", node.Input)}).");
        if (OnnxGraph.IntAttribute(node, "axis", -1) != -1)
            throw new OnnxConversionException($"LayerNormalization '{node.Name}' normalizes over axis {OnnxGraph.IntAttribute(node, "axis", -1)}; BERT normalizes the last axis.");
        return (node.Input[0], node.Output[0], gamma, beta, OnnxGraph.FloatAttribute(node, "epsilon", 1e-5f), "LayerNormalization");
    }

    /// <summary>Matches <c>Div(Sub(x, ReduceMean(x)), Sqrt(Add(ReduceMean(Pow(centered, 2)), eps))) -> Mul(gamma) -> Add(beta)</c>.</summary>
    private (string, string, TensorProto, TensorProto, float, string)? MatchDecomposedLayerNorm(NodeProto div)
    {
        string centered = div.Input[0];
        if (Graph.Producer(centered, "Sub") is not { } sub || Graph.Producer(sub.Input[1], "ReduceMean") is not { } mean || mean.Input[0] != sub.Input[0]) return null;
        if (Graph.Producer(div.Input[1], "Sqrt") is not { } sqrt || Graph.Producer(sqrt.Input[0], "Add") is not { } addEps) return null;
        NodeProto? variance = Graph.Producer(addEps.Input[0], "ReduceMean") ?? Graph.Producer(addEps.Input[1], "ReduceMean");
        if (variance is null || OnnxGraph.OtherInput(addEps, variance.Output[0]) is not { } epsValue) return null;
        NodeProto? square = Graph.Producer(variance.Input[0]);
        bool squares = square is not null && (square.OpType == "Pow" && square.Input[0] == centered && Graph.ScalarConstant(square.Input[1]) == 2.0
            || square.OpType == "Mul" && square.Input[0] == centered && square.Input[1] == centered);
        if (!squares) return null;
        // From here the normalization core matched: anything missing is an error, not "some other Div".
        string where = $"the decomposed LayerNorm ending in Div '{div.Name}'";
        double epsilon = Graph.ScalarConstant(epsValue) ?? throw new OnnxConversionException($"The epsilon '{epsValue}' of {where} is not a constant.");
        NodeProto mul = Graph.SingleConsumer(div.Output[0], "Mul") ?? throw new OnnxConversionException($"{where} is not followed by a Mul with the scale.");
        TensorProto gamma = Graph.FloatInitializer(OnnxGraph.OtherInput(mul, div.Output[0]) ?? "", 1)
            ?? throw new OnnxConversionException($"The scale of {where} (Mul '{mul.Name}' input '{OnnxGraph.OtherInput(mul, div.Output[0])}') is not a [H] initializer: missing LayerNorm weight.");
        NodeProto add = Graph.SingleConsumer(mul.Output[0], "Add") ?? throw new OnnxConversionException($"{where} is not followed by an Add with the shift.");
        TensorProto beta = Graph.FloatInitializer(OnnxGraph.OtherInput(add, mul.Output[0]) ?? "", 1)
            ?? throw new OnnxConversionException($"The shift of {where} (Add '{add.Name}' input '{OnnxGraph.OtherInput(add, mul.Output[0])}') is not a [H] initializer: missing LayerNorm bias.");
        return (sub.Input[0], add.Output[0], gamma, beta, (float)epsilon, "decomposed");
    }

    /// <summary>Names a LayerNorm by the Linear feeding its residual Add, or as the embeddings LayerNorm when fed by the embedding sum.</summary>
    private string NameLayerNorm(string input, Dictionary<string, string> linearOutputs, NodeProto at)
    {
        if (Graph.Producer(input, "Add") is { } residual)
            foreach (string operand in residual.Input)
                if (linearOutputs.TryGetValue(operand, out string? linear))
                {
                    if (!linear.EndsWith(".dense", StringComparison.Ordinal))
                        throw new OnnxConversionException($"The LayerNorm at '{at.Name}' follows Linear '{linear}', which is not a '.dense' output projection.");
                    return linear[..^".dense".Length] + ".LayerNorm";
                }
        if (FedByWordEmbeddings(input, depth: 0)) return "embeddings.LayerNorm";
        throw new OnnxConversionException($"The LayerNorm at '{at.Name}' normalizes '{input}', which is neither a residual sum after an output Linear nor the embedding sum.");
    }

    private bool FedByWordEmbeddings(string value, int depth)
    {
        if (depth > 4 || Graph.Producer(value) is not { } node) return false;
        if (node.OpType == "Gather") return Graph.FloatInitializer(node.Input[0], 2) is not null && Graph.IsGraphInput(node.Input[1]);
        return node.OpType == "Add" && node.Input.Any(v => FedByWordEmbeddings(v, depth + 1));
    }

    // ---- dimensions -------------------------------------------------------------------------------------------------

    private static int CountLayers(IEnumerable<string> names)
    {
        var indices = new SortedSet<int>();
        foreach (string name in names)
        {
            if (!name.StartsWith("encoder.layer.", StringComparison.Ordinal)) continue;
            string rest = name["encoder.layer.".Length..];
            int dot = rest.IndexOf('.');
            if (dot <= 0 || !int.TryParse(rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                throw new OnnxConversionException($"Tensor '{name}' has no layer index.");
            indices.Add(index);
        }
        if (indices.Count == 0) throw new OnnxConversionException("No encoder.layer.* tensors found; this is not a BERT encoder graph.");
        if (indices.Min != 0 || indices.Max != indices.Count - 1)
            throw new OnnxConversionException($"Encoder layer indices are not 0..L-1: found {string.Join(", ", indices)}.");
        return indices.Count;
    }

    /// <summary>Reads nH from the Reshape of the query projection to <c>[B, T, nH, dH]</c>.</summary>
    private int FindHeadCount(string? queryOutput)
    {
        if (queryOutput is null) throw new OnnxConversionException("Missing tensor 'encoder.layer.0.attention.self.query.weight': cannot read the number of attention heads.");
        NodeProto reshape = Graph.SingleConsumer(queryOutput, "Reshape")
            ?? throw new OnnxConversionException($"The query projection output '{queryOutput}' is not reshaped into heads; cannot read num_attention_heads.");
        long[] target = ResolveShape(reshape.Input[1]);
        if (target.Length != 4 || target[2] <= 0 || target[3] <= 0 || target[2] * target[3] != HiddenSize)
            throw new OnnxConversionException($"Reshape '{reshape.Name}' of the query projection targets [{string.Join(", ", target)}] (-1 = computed at run time); expected [B, T, nH, dH] with nH x dH = {HiddenSize}.");
        return checked((int)target[2]);
    }

    /// <summary>A Reshape target as far as it is constant: an initializer/Constant, or a Concat of constant and run-time (-1) pieces.</summary>
    private long[] ResolveShape(string value)
    {
        if (Graph.Constant(value) is { } constant) return OnnxGraph.ReadInt64s(constant);
        if (Graph.Producer(value, "Concat") is not { } concat) return [];
        var shape = new List<long>();
        foreach (string piece in concat.Input)
            shape.AddRange(Graph.Constant(piece) is { } part ? OnnxGraph.ReadInt64s(part) : [-1]);
        return [.. shape];
    }

    /// <summary>Identifies the FFN activation from the ops between the intermediate Linear and the output Linear.</summary>
    private string FindActivation(string? intermediateOutput)
    {
        if (intermediateOutput is null) throw new OnnxConversionException("Missing tensor 'encoder.layer.0.intermediate.dense.weight': cannot identify hidden_act.");
        var ops = new HashSet<string>(StringComparer.Ordinal);
        var frontier = new List<string> { intermediateOutput };
        for (int depth = 0; depth < 6 && frontier.Count > 0; depth++)
        {
            var next = new List<string>();
            foreach (string value in frontier)
                foreach (NodeProto consumer in Graph.Consumers(value))
                {
                    if (consumer.OpType == "MatMul") continue; // reached the output Linear
                    ops.Add(consumer.OpType);
                    if (consumer.OpType is "Gelu" or "FastGelu")
                        return consumer.OpType == "FastGelu" || consumer.Attribute.Any(a => a.Name == "approximate" && a.S.ToStringUtf8() == "tanh") ? "gelu_new" : "gelu";
                    next.AddRange(consumer.Output);
                }
            frontier = next;
        }
        if (ops.Contains("Erf")) return "gelu";
        if (ops.Contains("Tanh")) return "gelu_new";
        if (ops.Contains("Relu")) return "relu";
        throw new OnnxConversionException($"Cannot identify the FFN activation after '{intermediateOutput}' (ops seen: {string.Join(", ", ops)}).");
    }

    // ---- validation -------------------------------------------------------------------------------------------------

    private void CheckNamesAndShapes(Dictionary<string, MappedTensor> mapped)
    {
        bool hasPooler = mapped.ContainsKey("pooler.dense.weight") || mapped.ContainsKey("pooler.dense.bias");
        var expected = ExpectedNames(LayerCount, hasPooler).ToList();
        var missing = expected.Where(n => !mapped.ContainsKey(n)).ToList();
        var unexpected = mapped.Keys.Except(expected, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new OnnxConversionException(
                $"The graph does not map onto a {LayerCount}-layer BertModel. Missing tensors: [{string.Join(", ", missing)}]. Unexpected tensors: [{string.Join(", ", unexpected.Select(n => $"{n} (from '{mapped[n].Source.Name}')"))}].");

        long h = HiddenSize, i = IntermediateSize;
        foreach (MappedTensor tensor in mapped.Values)
        {
            long[]? want = ExpectedShape(tensor.Name, h, i);
            if (want is not null && !want.SequenceEqual(tensor.Shape))
                throw new OnnxConversionException($"Tensor '{tensor.Name}' (initializer '{tensor.Source.Name}', {tensor.FoundBy}) has Hugging Face shape [{string.Join(", ", tensor.Shape)}]; expected [{string.Join(", ", want)}] for H={h}, I={i}.");
        }
    }

    private static long[]? ExpectedShape(string name, long h, long i)
    {
        bool weight = name.EndsWith(".weight", StringComparison.Ordinal);
        if (name.StartsWith("embeddings.", StringComparison.Ordinal) && name.Contains("_embeddings.", StringComparison.Ordinal)) return null; // [rows, H], H read from word table
        if (name.Contains("LayerNorm", StringComparison.Ordinal)) return [h];
        if (name.Contains(".intermediate.dense.", StringComparison.Ordinal)) return weight ? [i, h] : [i];
        if (name.Contains(".output.dense.", StringComparison.Ordinal) && !name.Contains("attention", StringComparison.Ordinal)) return weight ? [h, i] : [h];
        return weight ? [h, h] : [h]; // query, key, value, attention.output.dense, pooler.dense
    }

    private void CheckAllInitializersUsed(Dictionary<string, MappedTensor> mapped)
    {
        var used = new HashSet<string>(mapped.Values.Select(t => t.Source.Name), StringComparer.Ordinal);
        foreach (MappedTensor tensor in mapped.Values)
            if (tensor.Name.Contains("_embeddings.", StringComparison.Ordinal) && tensor.Shape[1] != HiddenSize)
                throw new OnnxConversionException($"Embedding table '{tensor.Name}' has width {tensor.Shape[1]}; the word embeddings have {HiddenSize}.");
        var unmapped = Graph.Initializers.Values
            .Where(t => t.DataType == (int)TensorProto.Types.DataType.Float && OnnxGraph.ElementCount(t) > 1 && !used.Contains(t.Name))
            .Select(t => $"{t.Name} [{string.Join(", ", t.Dims)}]").ToList();
        if (unmapped.Count > 0)
            throw new OnnxConversionException($"Float initializers not recognized as any BertModel weight: {string.Join(", ", unmapped)}.");
    }

    // ---- names ------------------------------------------------------------------------------------------------------

    /// <summary>
    /// The HF module prefix of an initializer named <c>{prefix}{suffix}</c>, after dropping a <c>bert.</c> prefix; null when the
    /// name is an exporter number or does not end in <paramref name="suffix"/>.
    /// </summary>
    private static string? ModulePrefix(string initializerName, string suffix)
    {
        string name = NormalizeName(initializerName);
        return name.EndsWith(suffix, StringComparison.Ordinal) && name.Length > suffix.Length ? name[..^suffix.Length] : null;
    }

    /// <summary>Drops the <c>bert.</c> prefix and maps <c>LayerNorm.gamma/beta</c> to <c>weight/bias</c>.</summary>
    public static string NormalizeName(string name)
    {
        if (name.StartsWith("bert.", StringComparison.Ordinal)) name = name["bert.".Length..];
        if (name.EndsWith(".gamma", StringComparison.Ordinal)) name = name[..^".gamma".Length] + ".weight";
        if (name.EndsWith(".beta", StringComparison.Ordinal)) name = name[..^".beta".Length] + ".bias";
        return name;
    }

    private static bool LooksLikeHfName(string name) => name.Contains('.', StringComparison.Ordinal) && !name.All(c => char.IsDigit(c) || c == '_' || c == ':');

    private static void CheckAgreesWithInitializerName(TensorProto initializer, string graphName, string site)
    {
        if (LooksLikeHfName(initializer.Name) && NormalizeName(initializer.Name) != graphName)
            throw new OnnxConversionException($"Initializer '{initializer.Name}' is used as '{graphName}' by {site}; its own name disagrees with the graph structure.");
    }

    private static MappedTensor Require(Dictionary<string, MappedTensor> mapped, string name)
        => mapped.TryGetValue(name, out MappedTensor? tensor) ? tensor
            : throw new OnnxConversionException($"Missing tensor '{name}': the graph has no node using it as a BERT weight.");
}
