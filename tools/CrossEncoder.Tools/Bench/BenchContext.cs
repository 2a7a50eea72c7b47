using System.Reflection;
using System.Text.Json.Nodes;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;
using CrossEncoder.Native.SafeTensors;

namespace CrossEncoder.Tools.Bench;

/// <summary>What the suite runs on: our engine (as a cross-encoder), ONNX Runtime, the workload text and the knobs.</summary>
public sealed class BenchContext : IDisposable
{
    private readonly string? _temporaryFolder;

    private readonly Lazy<ModernBertBench> _modernBert;
    private readonly Lazy<QwenBench> _qwen;

    private BenchContext(Reranker reranker, OrtEncoder ort, string? temporaryFolder, BenchSettings settings, string headNote, Lazy<ModernBertBench> modernBert,
        Lazy<QwenBench> qwen)
    {
        _modernBert = modernBert;
        _qwen = qwen;
        Reranker = reranker;
        Ort = ort;
        _temporaryFolder = temporaryFolder;
        Settings = settings;
        HeadNote = headNote;
    }

    /// <summary>Our engine, loaded as a cross-encoder.</summary>
    public Reranker Reranker { get; }

    /// <summary>Our engine on the same folder in int8 (when <see cref="BenchSettings.Int8"/>), else null.</summary>
    public Reranker? Int8Reranker { get; private init; }

    /// <summary>This context with <see cref="Int8Reranker"/> as the engine (shares ORT; never dispose the view).</summary>
    public BenchContext Int8View() => new(Int8Reranker ?? throw new InvalidOperationException("The suite was opened without int8."), Ort, null, Settings, HeadNote + "; int8", _modernBert, _qwen);

    /// <summary>ONNX Runtime on its own dynamic int8 model of the same export (when <see cref="BenchSettings.Int8"/>), else null.</summary>
    public OrtEncoder? OrtInt8 { get; private init; }

    /// <summary>What the ORT int8 model is (MatMuls quantized, weight type), for the report.</summary>
    public string? OrtInt8Note { get; private init; }

    /// <summary>This context with <see cref="Int8Reranker"/> and <see cref="OrtInt8"/> as the engines (never dispose the view).</summary>
    public BenchContext OrtInt8View() => new(Int8Reranker ?? throw new InvalidOperationException("The suite was opened without int8."),
        OrtInt8 ?? throw new InvalidOperationException("The suite was opened without int8."), null, Settings, HeadNote + "; int8 vs ORT int8", _modernBert, _qwen);

    /// <summary>The ModernBERT cases' model and peer, opened on first use (the random checkpoint is written then) and shared by the views.</summary>
    public ModernBertBench ModernBert => _modernBert.Value;

    /// <summary>True once a ModernBERT case has opened <see cref="ModernBert"/>.</summary>
    public bool ModernBertOpened => _modernBert.IsValueCreated;

    /// <summary>The decoder reranker cases' model and peer, opened on first use (the random checkpoint is written then) and shared by the views.</summary>
    public QwenBench Qwen => _qwen.Value;

    /// <summary>True once a Qwen case has opened <see cref="Qwen"/>.</summary>
    public bool QwenOpened => _qwen.IsValueCreated;

    /// <summary>ONNX Runtime on the same encoder.</summary>
    public OrtEncoder Ort { get; }

    /// <summary>Knobs of this run.</summary>
    public BenchSettings Settings { get; }

    /// <summary>How the cross-encoder head was obtained (the model's own, or a seeded random one on a bi-encoder's encoder).</summary>
    public string HeadNote { get; }

    /// <summary>
    /// Loads the model folder as a cross-encoder: a bi-encoder folder (e.g. all-MiniLM-L6-v2) gets a seeded random one-label
    /// head on its encoder in a temporary folder (BertForSequenceClassification layout), so the timed path is the reranking
    /// one; the head is 385 weights and does not change the cost. ONNX Runtime runs the encoder export as it is.
    /// </summary>
    public static BenchContext Open(string modelDirectory, string onnxPath, BenchSettings settings)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(modelDirectory, "config.json")))!.AsObject();
        bool crossEncoder = config["architectures"]?.AsArray().Any(a => a?.GetValue<string>().EndsWith("ForSequenceClassification", StringComparison.Ordinal) == true) == true;
        string? temporary = null;
        string directory = modelDirectory;
        string note = "the model's own classification head";
        if (!crossEncoder)
        {
            temporary = directory = Path.Combine(Path.GetTempPath(), "crossencoder-bench-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(directory);
            int hidden = config["hidden_size"]!.GetValue<int>();
            var random = new Random(42);
            float[] weight = Enumerable.Range(0, hidden).Select(_ => (float)(random.NextDouble() * 0.2 - 0.1)).ToArray();
            using (var source = SafeTensorsCheckpoint.OpenFolder(modelDirectory))
            {
                var tensors = source.Tensors.Values
                    .Select(t => new KeyValuePair<string, (long[], float[])>(t.Name.StartsWith("bert.", StringComparison.Ordinal) ? t.Name : "bert." + t.Name, (t.Shape.ToArray(), source.ReadFloat32(t.Name))))
                    .ToList();
                tensors.Add(new("classifier.weight", ([1, hidden], weight)));
                tensors.Add(new("classifier.bias", ([1], [0f])));
                SafeTensorsWriter.WriteFloat32(Path.Combine(directory, "model.safetensors"), tensors);
            }
            config["architectures"] = new JsonArray("BertForSequenceClassification");
            config["id2label"] = new JsonObject { ["0"] = "LABEL_0" };
            File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString());
            foreach (string file in new[] { "vocab.txt", "tokenizer_config.json", "tokenizer.json", "special_tokens_map.json" })
                if (File.Exists(Path.Combine(modelDirectory, file))) File.Copy(Path.Combine(modelDirectory, file), Path.Combine(directory, file));
            note = "bi-encoder folder: its encoder with a seeded random one-label head (cross-encoder path)";
        }
        var kernels = KernelCapabilities.Default with { MaxThreads = settings.Threads };
        var reranker = Reranker.Load(directory, new RerankerOptions { Capabilities = kernels });
        var ort = new OrtEncoder(onnxPath, settings.Threads);
        OrtEncoder? ortInt8 = null;
        string? ortInt8Note = null;
        if (settings.Int8)
        {
            // ONNX Runtime's own int8: the model quantize_dynamic(per_channel=True, QInt8, MatMul) writes, built in memory.
            var int8Model = Conversion.Onnx.OnnxGraph.LoadModel(onnxPath);
            var quantization = Conversion.Onnx.OnnxDynamicQuantizer.Quantize(int8Model);
            ortInt8 = new OrtEncoder(Google.Protobuf.MessageExtensions.ToByteArray(int8Model), settings.Threads);
            ortInt8Note = $"ORT int8: quantize_dynamic-equivalent model, {quantization.QuantizedMatMuls} MatMuls per-column QInt8 x dynamic u8, {quantization.SkippedMatMuls} fp32";
        }
        var modernBert = new Lazy<ModernBertBench>(() => ModernBertBench.Open(settings.ModernBertDirectory, settings.Threads));
        var qwen = new Lazy<QwenBench>(() => QwenBench.Open(settings.QwenDirectory, settings.Threads));
        return new BenchContext(reranker, ort, temporary, settings, note, modernBert, qwen)
        {
            Int8Reranker = settings.Int8 ? Reranker.Load(directory, new RerankerOptions { Precision = Native.Model.Precision.Int8, Capabilities = kernels }) : null,
            OrtInt8 = ortInt8,
            OrtInt8Note = ortInt8Note,
        };
    }

    /// <summary>The committed workload: 100 real MEDLINE abstracts and a MEDLINE query (see the file's header).</summary>
    public static (string Query, string[] Documents) DefaultWorkload()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("medline-abstracts.txt")
            ?? throw new InvalidOperationException("the embedded workload medline-abstracts.txt is missing.");
        using var reader = new StreamReader(stream);
        string? query = null;
        var documents = new List<string>();
        for (string? line; (line = reader.ReadLine()) is not null;)
        {
            if (line.StartsWith("# query (MED.QRY 1): ", StringComparison.Ordinal)) query = line["# query (MED.QRY 1): ".Length..];
            else if (!line.StartsWith('#') && line.Length > 0) documents.Add(line);
        }
        return (query ?? throw new InvalidDataException("the workload file has no query line."), documents.ToArray());
    }

    /// <summary>A model's config.json embedded in this assembly (the shapes the random checkpoints of the suite are written at).</summary>
    internal static JsonObject ReadEmbeddedConfig(string resourceName)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"the embedded {resourceName} is missing.");
        return JsonNode.Parse(stream) as JsonObject ?? throw new InvalidDataException($"{resourceName} is not a JSON object.");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Ort.Dispose();
        OrtInt8?.Dispose();
        Reranker.Dispose();
        Int8Reranker?.Dispose();
        if (_modernBert.IsValueCreated) _modernBert.Value.Dispose();
        if (_qwen.IsValueCreated) _qwen.Value.Dispose();
        if (_temporaryFolder is not null)
        {
            try { Directory.Delete(_temporaryFolder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}

/// <summary>Knobs of one suite run.</summary>
/// <param name="Threads">Our kernel threads and ONNX Runtime's intra-op threads.</param>
/// <param name="Seconds">Time per case (both engines together), at least three interleaved rounds.</param>
/// <param name="Query">The workload query.</param>
/// <param name="Documents">The workload passages.</param>
/// <param name="Int8">Also load our engine in int8, ONNX Runtime on its own dynamic int8 model, and add the int8 rows (<see cref="BenchCases.Int8"/>).</param>
/// <param name="ModernBertDirectory">The ModernBERT folder the <c>modernbert</c> cases time; null: random weights at
/// gte-reranker-modernbert-base's shape, written to a temporary folder.</param>
/// <param name="PeakGflops">The FMA peak of <paramref name="Threads"/> cores (GFLOP/s) the cases' % of peak refers to; 0: not measured.</param>
/// <param name="QwenDirectory">The Qwen3 / Qwen2 reranker folder the <c>qwen</c> cases time; null: random weights at
/// Qwen3-Reranker-0.6B's shape, written to a temporary folder.</param>
/// <param name="IntegerPeakGops">The integer peak of <paramref name="Threads"/> cores (G int-ops/s, <see cref="GemmInt8Bench.IntegerPeak"/>)
/// the int8 cases' % of the integer peak refers to; 0: not measured (the run has no int8 rows).</param>
public sealed record BenchSettings(int Threads, double Seconds, string Query, string[] Documents, bool Int8 = false, string? ModernBertDirectory = null,
    double PeakGflops = 0, string? QwenDirectory = null, double IntegerPeakGops = 0);
