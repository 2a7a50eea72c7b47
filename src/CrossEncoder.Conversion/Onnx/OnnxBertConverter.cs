using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CrossEncoder.Native.SafeTensors;
using Onnx;

namespace CrossEncoder.Conversion.Onnx;

/// <summary>Knobs for <see cref="OnnxBertConverter.Convert"/>; none of them changes a weight.</summary>
public sealed record OnnxBertConversionOptions
{
    /// <summary>Replace an existing converted model in the output directory (otherwise that is an error).</summary>
    public bool Overwrite { get; init; }
    /// <summary>The tokenizer lower-cases input (<c>tokenizer_config.json</c> <c>do_lower_case</c>); true for uncased BERT.</summary>
    public bool DoLowerCase { get; init; } = true;
    /// <summary>sentence-transformers pooling written to <c>1_Pooling/config.json</c>: mean over unmasked tokens.</summary>
    public bool MeanPooling { get; init; } = true;
    /// <summary>Adds the sentence-transformers Normalize module (L2) after pooling in <c>modules.json</c>.</summary>
    public bool Normalize { get; init; } = true;
}

/// <summary>The BertConfig numbers the converter derived from the graph, as written to <c>config.json</c>.</summary>
public sealed record OnnxBertConfig(
    int VocabSize, int HiddenSize, int NumHiddenLayers, int NumAttentionHeads, int IntermediateSize, string HiddenAct,
    double LayerNormEps, int MaxPositionEmbeddings, int TypeVocabSize, int PadTokenId);

/// <summary>What one conversion did.</summary>
/// <param name="OutputDirectory">The Hugging Face model folder.</param>
/// <param name="TensorCount">Tensors in <c>model.safetensors</c>.</param>
/// <param name="ParameterCount">Total elements over all tensors.</param>
/// <param name="Config">The derived configuration.</param>
/// <param name="Tensors">Each HF tensor with the initializer it came from and how the graph identified it.</param>
/// <param name="Graph">Inputs, outputs and op counts of the source graph.</param>
/// <param name="SourceSha256">SHA-256 of the ONNX file, also stored in the safetensors metadata.</param>
/// <param name="Elapsed">Wall time of the conversion.</param>
public sealed record OnnxBertConversionReport(
    string OutputDirectory, int TensorCount, long ParameterCount, OnnxBertConfig Config, IReadOnlyList<MappedTensor> Tensors,
    OnnxGraphFacts Graph, string SourceSha256, TimeSpan Elapsed)
{
    /// <summary>A human-readable summary: graph facts, config, and the weight map.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        text.AppendLine(Graph.Describe());
        text.AppendLine(CultureInfo.InvariantCulture, $"config: {Config}");
        text.AppendLine(CultureInfo.InvariantCulture, $"{TensorCount} tensors, {ParameterCount:N0} parameters -> {OutputDirectory} in {Elapsed.TotalSeconds:F2}s");
        foreach (MappedTensor t in Tensors)
            text.AppendLine(CultureInfo.InvariantCulture, $"  {t.Name} [{string.Join(", ", t.Shape)}] <- '{t.Source.Name}'{(t.Transpose ? " (transposed)" : "")}: {t.FoundBy}");
        return text.ToString();
    }
}

/// <summary>Facts about an ONNX graph worth printing: its interface, op mix and LayerNorm form.</summary>
public sealed record OnnxGraphFacts(
    string Producer, long OpsetVersion, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
    IReadOnlyDictionary<string, int> OpCounts, string LayerNormForm, float LayerNormEpsilon)
{
    /// <summary>Reads the facts from <paramref name="model"/> and its match.</summary>
    public static OnnxGraphFacts From(ModelProto model, BertOnnxGraph bert)
    {
        static string Describe(ValueInfoProto value)
        {
            TypeProto.Types.Tensor? tensor = value.Type?.TensorType;
            if (tensor is null) return value.Name;
            string dims = tensor.Shape is null ? "?" : string.Join(", ", tensor.Shape.Dim.Select(d => d.HasDimValue ? d.DimValue.ToString(CultureInfo.InvariantCulture) : d.DimParam));
            return $"{value.Name}: {(TensorProto.Types.DataType)tensor.ElemType}[{dims}]";
        }
        var ops = model.Graph.Node.GroupBy(n => n.OpType).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        return new OnnxGraphFacts(
            $"{model.ProducerName} {model.ProducerVersion}", model.OpsetImport.FirstOrDefault(o => o.Domain.Length == 0)?.Version ?? 0,
            [.. model.Graph.Input.Where(i => !bert.Graph.Initializers.ContainsKey(i.Name)).Select(Describe)],
            [.. model.Graph.Output.Select(Describe)], ops,
            string.Join("/", bert.LayerNorms.Select(n => n.Form).Distinct()), bert.LayerNormEpsilon);
    }

    /// <summary>One line per fact.</summary>
    public string Describe() =>
        $"producer: {Producer}, opset {OpsetVersion}\ninputs: {string.Join("; ", Inputs)}\noutputs: {string.Join("; ", Outputs)}\n" +
        $"ops: {string.Join(", ", OpCounts.Select(p => $"{p.Key} x{p.Value}"))}\nLayerNorm: {LayerNormForm}, epsilon {LayerNormEpsilon.ToString("R", CultureInfo.InvariantCulture)}";
}

/// <summary>
/// Turns a BERT ONNX export into a Hugging Face model folder: <c>model.safetensors</c> with <c>BertModel</c> names,
/// <c>config.json</c>, <c>vocab.txt</c>, <c>tokenizer_config.json</c>, <c>special_tokens_map.json</c>, and the
/// sentence-transformers <c>modules.json</c> + <c>1_Pooling/config.json</c>.
/// </summary>
/// <remarks>
/// Every number in <c>config.json</c> is read from the graph (<see cref="BertOnnxGraph"/>); only the training-time
/// hyper-parameters an inference graph cannot contain (dropout probabilities, initializer range) are Hugging Face's defaults.
/// Values are copied bit for bit; MatMul weights are transposed from ONNX <c>[in, out]</c> to PyTorch <c>[out, in]</c>.
/// </remarks>
public static class OnnxBertConverter
{
    /// <summary>Converter identity stored in the safetensors metadata.</summary>
    public const string ConverterId = "CrossEncoder.Conversion.Onnx.OnnxBertConverter/1";

    /// <summary>Converts <paramref name="onnxPath"/> + <paramref name="vocabPath"/> into <paramref name="outputDirectory"/>.</summary>
    /// <remarks>
    /// Everything is written to a temporary sibling folder first. A new output directory is then created by one rename; into an
    /// existing one (e.g. a folder that already holds <c>source/</c>) the files are renamed one by one with
    /// <c>model.safetensors</c> last, so a folder holding <c>model.safetensors</c> is always complete.
    /// </remarks>
    /// <exception cref="FileNotFoundException">The ONNX file or the vocabulary is missing.</exception>
    /// <exception cref="OnnxConversionException">The file is not ONNX, the graph is not a BERT encoder, or the vocabulary does not fit it.</exception>
    /// <exception cref="IOException">The output already holds a model and <see cref="OnnxBertConversionOptions.Overwrite"/> is off.</exception>
    public static OnnxBertConversionReport Convert(string onnxPath, string vocabPath, string outputDirectory, OnnxBertConversionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(onnxPath);
        ArgumentException.ThrowIfNullOrEmpty(vocabPath);
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        options ??= new OnnxBertConversionOptions();
        var clock = Stopwatch.StartNew();
        if (!options.Overwrite) ThrowIfModelExists(Path.GetFullPath(outputDirectory)); // fail before the work, and again before publishing
        if (!File.Exists(vocabPath)) throw new FileNotFoundException($"Vocabulary file not found: '{vocabPath}' (a BERT WordPiece vocab.txt is required next to the ONNX model).", vocabPath);

        ModelProto model = OnnxGraph.LoadModel(onnxPath);
        BertOnnxGraph bert = BertOnnxGraph.Match(model);
        string[] vocabulary = ReadVocabulary(vocabPath);
        if (vocabulary.Length != bert.VocabSize)
            throw new OnnxConversionException($"Vocabulary '{vocabPath}' has {vocabulary.Length} tokens but the word-embedding table has {bert.VocabSize} rows.");
        int padTokenId = Array.IndexOf(vocabulary, "[PAD]");
        if (padTokenId < 0) throw new OnnxConversionException($"Vocabulary '{vocabPath}' has no [PAD] token.");

        var config = new OnnxBertConfig(bert.VocabSize, bert.HiddenSize, bert.LayerCount, bert.HeadCount, bert.IntermediateSize, bert.HiddenAct,
            ShortestDouble(bert.LayerNormEpsilon), bert.MaxPositionEmbeddings, bert.TypeVocabSize, padTokenId);
        string sha256 = System.Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(onnxPath)));

        string target = Path.GetFullPath(outputDirectory);
        string parent = Path.GetDirectoryName(target) ?? throw new ArgumentException($"'{outputDirectory}' has no parent directory.", nameof(outputDirectory));
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".{Path.GetFileName(target)}.converting-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        long parameters;
        try
        {
            parameters = WriteWeights(bert, Path.Combine(staging, "model.safetensors"), new Dictionary<string, string>
            {
                ["format"] = "pt",
                ["source"] = $"{Path.GetFileName(onnxPath)} sha256:{sha256}",
                ["converter"] = ConverterId,
            });
            WriteJson(Path.Combine(staging, "config.json"), ConfigJson(config));
            File.Copy(vocabPath, Path.Combine(staging, "vocab.txt"));
            WriteJson(Path.Combine(staging, "tokenizer_config.json"), TokenizerConfigJson(options, config));
            WriteJson(Path.Combine(staging, "special_tokens_map.json"), SpecialTokens());
            WriteJson(Path.Combine(staging, "modules.json"), ModulesJson(options));
            Directory.CreateDirectory(Path.Combine(staging, "1_Pooling"));
            WriteJson(Path.Combine(staging, "1_Pooling", "config.json"), PoolingJson(options, config));
            MoveIntoPlace(staging, target, options.Overwrite);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }

        return new OnnxBertConversionReport(target, bert.Tensors.Count, parameters, config, bert.Tensors,
            OnnxGraphFacts.From(model, bert), sha256, clock.Elapsed);
    }

    /// <summary>Reads the values of one mapped tensor in Hugging Face layout (transposing MatMul weights).</summary>
    public static float[] ReadHuggingFaceValues(MappedTensor tensor)
    {
        float[] values = OnnxGraph.ReadFloats(tensor.Source);
        return tensor.Transpose ? Transpose(values, rows: checked((int)tensor.Source.Dims[0]), columns: checked((int)tensor.Source.Dims[1])) : values;
    }

    /// <summary>Returns <c>B[c, r] = A[r, c]</c> for a row-major <c>A[rows, columns]</c>.</summary>
    public static float[] Transpose(float[] a, int rows, int columns)
    {
        if (a.Length != (long)rows * columns) throw new ArgumentException($"Length {a.Length} is not {rows} x {columns}.", nameof(a));
        var b = new float[a.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                b[c * rows + r] = a[r * columns + c];
        return b;
    }

    private static long WriteWeights(BertOnnxGraph bert, string path, Dictionary<string, string> metadata)
    {
        var tensors = new List<KeyValuePair<string, (long[] Shape, float[] Data)>>(bert.Tensors.Count);
        long parameters = 0;
        foreach (MappedTensor tensor in bert.Tensors)
        {
            float[] values = ReadHuggingFaceValues(tensor);
            parameters += values.LongLength;
            tensors.Add(new(tensor.Name, (tensor.Shape, values)));
        }
        SafeTensorsWriter.WriteFloat32(path, tensors, metadata);
        return parameters;
    }

    /// <summary>The vocabulary lines (CRLF or LF), without a trailing empty line.</summary>
    private static string[] ReadVocabulary(string path)
    {
        string[] lines = File.ReadAllText(path).Split('\n');
        for (int i = 0; i < lines.Length; i++) lines[i] = lines[i].TrimEnd('\r');
        return lines.Length > 0 && lines[^1].Length == 0 ? lines[..^1] : lines;
    }

    /// <summary>The float epsilon as the shortest decimal that round-trips (1e-12, not 9.9999999600419720e-13).</summary>
    private static double ShortestDouble(float value) => double.Parse(value.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    // ---- JSON files (keys sorted, 2-space indent, as Hugging Face writes them) ----------------------------------------

    private static SortedDictionary<string, object?> ConfigJson(OnnxBertConfig c) => new(StringComparer.Ordinal)
    {
        ["architectures"] = new[] { "BertModel" },
        ["attention_probs_dropout_prob"] = 0.1, // training-only: Hugging Face default
        ["classifier_dropout"] = null,
        ["hidden_act"] = c.HiddenAct,
        ["hidden_dropout_prob"] = 0.1, // training-only: Hugging Face default
        ["hidden_size"] = c.HiddenSize,
        ["initializer_range"] = 0.02, // training-only: Hugging Face default
        ["intermediate_size"] = c.IntermediateSize,
        ["layer_norm_eps"] = c.LayerNormEps,
        ["max_position_embeddings"] = c.MaxPositionEmbeddings,
        ["model_type"] = "bert",
        ["num_attention_heads"] = c.NumAttentionHeads,
        ["num_hidden_layers"] = c.NumHiddenLayers,
        ["pad_token_id"] = c.PadTokenId,
        ["position_embedding_type"] = "absolute",
        ["torch_dtype"] = "float32",
        ["type_vocab_size"] = c.TypeVocabSize,
        ["use_cache"] = true,
        ["vocab_size"] = c.VocabSize,
    };

    private static SortedDictionary<string, object?> TokenizerConfigJson(OnnxBertConversionOptions options, OnnxBertConfig c) => new(StringComparer.Ordinal)
    {
        ["cls_token"] = "[CLS]",
        ["do_basic_tokenize"] = true,
        ["do_lower_case"] = options.DoLowerCase,
        ["mask_token"] = "[MASK]",
        ["model_max_length"] = c.MaxPositionEmbeddings,
        ["never_split"] = null,
        ["pad_token"] = "[PAD]",
        ["sep_token"] = "[SEP]",
        ["strip_accents"] = null,
        ["tokenize_chinese_chars"] = true,
        ["tokenizer_class"] = "BertTokenizer",
        ["unk_token"] = "[UNK]",
    };

    private static SortedDictionary<string, object?> SpecialTokens() => new(StringComparer.Ordinal)
    {
        ["cls_token"] = "[CLS]", ["mask_token"] = "[MASK]", ["pad_token"] = "[PAD]", ["sep_token"] = "[SEP]", ["unk_token"] = "[UNK]",
    };

    private static List<SortedDictionary<string, object?>> ModulesJson(OnnxBertConversionOptions options)
    {
        var modules = new List<SortedDictionary<string, object?>>
        {
            new(StringComparer.Ordinal) { ["idx"] = 0, ["name"] = "0", ["path"] = "", ["type"] = "sentence_transformers.models.Transformer" },
            new(StringComparer.Ordinal) { ["idx"] = 1, ["name"] = "1", ["path"] = "1_Pooling", ["type"] = "sentence_transformers.models.Pooling" },
        };
        if (options.Normalize)
            modules.Add(new(StringComparer.Ordinal) { ["idx"] = 2, ["name"] = "2", ["path"] = "2_Normalize", ["type"] = "sentence_transformers.models.Normalize" });
        return modules;
    }

    private static Dictionary<string, object?> PoolingJson(OnnxBertConversionOptions options, OnnxBertConfig c) => new(StringComparer.Ordinal)
    {
        ["word_embedding_dimension"] = c.HiddenSize,
        ["pooling_mode_cls_token"] = !options.MeanPooling,
        ["pooling_mode_mean_tokens"] = options.MeanPooling,
        ["pooling_mode_max_tokens"] = false,
        ["pooling_mode_mean_sqrt_len_tokens"] = false,
        ["pooling_mode_weightedmean_tokens"] = false,
        ["pooling_mode_lasttoken"] = false,
        ["include_prompt"] = true,
    };

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, IndentSize = 2 };

    private static void WriteJson(string path, object value)
        => File.WriteAllText(path, JsonSerializer.Serialize(value, JsonOptions) + "\n", new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));

    // ---- publishing -------------------------------------------------------------------------------------------------

    private static void ThrowIfModelExists(string target)
    {
        if (File.Exists(Path.Combine(target, "model.safetensors")) || File.Exists(Path.Combine(target, "config.json")))
            throw new IOException($"'{target}' already contains a converted model; set {nameof(OnnxBertConversionOptions.Overwrite)} to replace it.");
    }

    private static void MoveIntoPlace(string staging, string target, bool overwrite)
    {
        if (!Directory.Exists(target))
        {
            try
            {
                Directory.Move(staging, target); // one rename: the folder appears complete or not at all
                return;
            }
            catch (IOException) when (Directory.Exists(target))
            {
                // Someone created it meanwhile: fall through to per-file moves.
            }
        }
        if (!overwrite) ThrowIfModelExists(target);
        var files = Directory.GetFiles(staging, "*", SearchOption.AllDirectories)
            .OrderBy(f => Path.GetFileName(f) == "model.safetensors" ? 1 : 0) // weights last: their presence marks a complete folder
            .ThenBy(f => f, StringComparer.Ordinal);
        foreach (string file in files)
        {
            string destination = Path.Combine(target, Path.GetRelativePath(staging, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Move(file, destination, overwrite: true);
        }
    }
}
