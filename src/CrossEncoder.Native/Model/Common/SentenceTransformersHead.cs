using System.Buffers;
using System.Text.Json;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.SafeTensors;
using Names = CrossEncoder.Native.Model.Common.SentenceTransformersWeightNames;

namespace CrossEncoder.Native.Model.Common;

/// <summary>One module of a sentence-transformers chain after the pooling: y[B, out] = f(x[B, in]), row by row.</summary>
internal interface ISentenceVectorModule
{
    /// <summary>Width of each input vector.</summary>
    int InFeatures { get; }

    /// <summary>Width of each output vector.</summary>
    int OutFeatures { get; }

    /// <summary>y[rows, out] = f(x[rows, in]); y does not alias x.</summary>
    void Forward(ReadOnlySpan<float> x, Span<float> y, int rows);
}

/// <summary>
/// The head sentence-transformers builds from a folder's <c>modules.json</c>, for any family: the Transformer's last hidden
/// state [N, H] -> Pooling -> any of Dense (+ activation), LayerNorm, Normalize (Dropout is a no-op at inference) -> [B, out].
/// Examples: a bi-encoder <c>Pooling(mean) -> Normalize</c> (modernbert-embed-base) or <c>Pooling(cls) -> Normalize</c>
/// (gte-modernbert-base); a sentence-transformers 5.x CrossEncoder <c>Pooling(cls) -> Dense(H->H, GELU, no bias) -> LayerNorm
/// -> Dense(H->1, Identity)</c> (the Ettin rerankers), whose output is one raw logit.
/// Head weights are fp32, read from each module folder's <c>model.safetensors</c>; never quantized.
/// </summary>
/// <remarks>
/// For a family: call <see cref="TryLoad"/> at load (null: the folder has no chain, use the family's default, e.g.
/// <see cref="MeanPooling"/> for a bi-encoder); the model is a cross-encoder when <see cref="IsScore"/>, its output width is
/// <see cref="OutputSize"/>; each forward pass calls <see cref="Forward"/> on the last hidden state and reports
/// <c>headHidden</c> [B, <see cref="HeadHiddenSize"/>] as <see cref="ModelTaps.HeadHidden"/>. Immutable after loading and
/// safe to share between threads; <see cref="Forward"/> rents its scratch from the shared array pool.
/// </remarks>
internal sealed class SentenceTransformersHead
{
    private readonly ISentenceVectorModule[] _modules;
    private readonly int _lastDense;   // index in _modules of the last Dense, or -1
    private readonly int _widest;      // widest vector any step produces or reads

    private SentenceTransformersHead(int hiddenSize, SentencePooling pooling, ISentenceVectorModule[] modules, bool isScore)
    {
        HiddenSize = hiddenSize;
        Pooling = pooling;
        _modules = modules;
        IsScore = isScore;
        OutputSize = modules.Length == 0 ? hiddenSize : modules[^1].OutFeatures;
        _lastDense = Array.FindLastIndex(modules, m => m is SentenceDense);
        HeadHiddenSize = _lastDense >= 0 ? modules[_lastDense].InFeatures : OutputSize;
        _widest = modules.Select(m => Math.Max(m.InFeatures, m.OutFeatures)).Append(hiddenSize).Max();
    }

    /// <summary>Width of the hidden states the head reads (H).</summary>
    public int HiddenSize { get; }

    /// <summary>The first step: how token states become one vector per sequence.</summary>
    public SentencePooling Pooling { get; }

    /// <summary>The steps after pooling, in order.</summary>
    public IReadOnlyList<ISentenceVectorModule> Modules => _modules;

    /// <summary>Width of one output row: the last step's output (e.g. 1 for a score, H for an embedding).</summary>
    public int OutputSize { get; }

    /// <summary>True when the output is a cross-encoder's score (logits): <c>config_sentence_transformers.json</c> says
    /// <c>"model_type": "CrossEncoder"</c> and the chain ends in a Dense layer; false for a sentence embedding.</summary>
    public bool IsScore { get; }

    /// <summary>Width of <c>headHidden</c>: what the last Dense reads, or the output itself when the chain has no Dense.</summary>
    public int HeadHiddenSize { get; }

    /// <summary>True when only each sequence's first token is read (CLS pooling): a family may compute its last layer for
    /// those rows only when it needs no other tap.</summary>
    public bool ReadsFirstTokenOnly => Pooling.ReadsFirstTokenOnly;

    /// <summary>The head sentence-transformers assumes for a plain checkpoint without modules.json: mean pooling, nothing else.</summary>
    public static SentenceTransformersHead MeanPooling(int hiddenSize) => new(hiddenSize, new SentencePooling(PoolingMode.Mean), [], isScore: false);

    /// <summary>
    /// Reads the folder's <c>modules.json</c> and each module's folder. Returns null when there is no modules.json or it lists
    /// only the Transformer (the family then uses its own head or default). The Transformer, when listed, must come first and
    /// is the family's encoder; Pooling must come before the vector modules.
    /// </summary>
    /// <param name="folder">The model folder (its config_sentence_transformers.json says whether this is a CrossEncoder).</param>
    /// <param name="hiddenSize">H, the width of the encoder's last hidden state.</param>
    /// <param name="capabilities">The kernel paths the head's layers run on.</param>
    /// <exception cref="ModelFormatException">A file is missing or malformed, a module or setting is unsupported, widths do not
    /// chain, or a CrossEncoder's chain does not end in a Dense layer; the message names the file.</exception>
    public static SentenceTransformersHead? TryLoad(ModelFolder folder, int hiddenSize, KernelCapabilities capabilities)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string modulesPath = Path.Combine(folder.Directory, Names.ModulesFile);
        if (!File.Exists(modulesPath)) return null;
        var entries = ReadModuleList(modulesPath);

        SentencePooling? pooling = null;
        var modules = new List<ISentenceVectorModule>();
        for (int i = 0; i < entries.Count; i++)
        {
            var (type, path) = entries[i];
            string moduleFolder = ModuleFolder(folder.Directory, modulesPath, path);
            string? moduleClass = Names.ModuleClass(type);
            if (moduleClass == "Transformer")
            {
                if (i != 0) throw new ModelFormatException(modulesPath, $"the Transformer module must come first, not at position {i}.");
                continue;
            }
            if ((moduleClass is "Dense" or "LayerNorm" or "Normalize" or "Dropout") && pooling is null)
                throw new ModelFormatException(modulesPath, $"module '{type}' ({path}) comes before any Pooling module; this engine runs modules on the pooled sentence vector only.");
            int width = modules.Count == 0 ? hiddenSize : modules[^1].OutFeatures;
            switch (moduleClass)
            {
                case "Pooling":
                    if (pooling is not null) throw new ModelFormatException(modulesPath, "a second Pooling module is not supported.");
                    pooling = SentencePooling.Load(Path.Combine(moduleFolder, Names.ModuleConfigFile), hiddenSize);
                    break;
                case "Dense": modules.Add(SentenceDense.Load(moduleFolder, width, capabilities)); break;
                case "LayerNorm": modules.Add(SentenceLayerNorm.Load(moduleFolder, width, capabilities)); break;
                case "Normalize": modules.Add(new SentenceNormalize(width)); break;
                case "Dropout": break;   // identity at inference
                default:
                    throw new ModelFormatException(modulesPath,
                        $"sentence-transformers module '{type}' is not supported (supported: Transformer, Pooling, Dense, LayerNorm, Normalize, Dropout).");
            }
        }
        if (pooling is null) return null;   // only the Transformer

        bool crossEncoder = folder.IsSentenceTransformersCrossEncoder;
        if (crossEncoder && (modules.Count == 0 || modules[^1] is not SentenceDense))
            throw new ModelFormatException(modulesPath,
                $"{ModelFolder.SentenceTransformersConfigFile} says CrossEncoder, but the module chain ends in {(modules.Count == 0 ? pooling.ToString() : modules[^1].ToString())}, not in the Dense layer that produces the score.");
        return new SentenceTransformersHead(hiddenSize, pooling, modules.ToArray(), crossEncoder);
    }

    /// <summary>
    /// output[B, <see cref="OutputSize"/>] from the last hidden state hidden[N, H] of <paramref name="batch"/> (sequence b owns
    /// rows [Starts[b], Starts[b+1])). <paramref name="headHidden"/> [B, <see cref="HeadHiddenSize"/>] receives what the last
    /// Dense reads (or the output, when there is no Dense); pass an empty span to skip it.
    /// </summary>
    /// <exception cref="ArgumentException">A span is too short.</exception>
    public void Forward(ReadOnlySpan<float> hidden, PackedBatch batch, Span<float> output, Span<float> headHidden)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int b = batch.Count, h = HiddenSize;
        if (hidden.Length < (long)batch.TotalTokens * h) throw new ArgumentException($"hidden holds {hidden.Length} floats; the batch needs {(long)batch.TotalTokens * h}.", nameof(hidden));
        if (output.Length < b * OutputSize) throw new ArgumentException($"output holds {output.Length} floats; the batch needs {b * OutputSize}.", nameof(output));
        bool tapHidden = !headHidden.IsEmpty;
        if (tapHidden && headHidden.Length < b * HeadHiddenSize) throw new ArgumentException($"headHidden holds {headHidden.Length} floats; the batch needs {b * HeadHiddenSize}.", nameof(headHidden));
        if (b == 0) return;
        if (_modules.Length == 0)
        {
            Pooling.Forward(hidden, batch, h, output);                                  // [B, H]
            if (tapHidden) output[..(b * h)].CopyTo(headHidden);
            return;
        }

        float[] ping = ArrayPool<float>.Shared.Rent(b * _widest), pong = ArrayPool<float>.Shared.Rent(b * _widest);
        try
        {
            Span<float> current = ping.AsSpan(0, b * h);
            Pooling.Forward(hidden, batch, h, current);                                 // [B, H] pooled
            bool inPing = true;
            for (int i = 0; i < _modules.Length; i++)
            {
                var module = _modules[i];
                Span<float> next = i == _modules.Length - 1 ? output[..(b * module.OutFeatures)]
                    : (inPing ? pong : ping).AsSpan(0, b * module.OutFeatures);          // [B, out_i], the other buffer
                if (tapHidden && i == _lastDense) current.CopyTo(headHidden);           // what the last projection reads
                module.Forward(current, next, b);
                current = next;
                inPing = !inPing;
            }
            if (tapHidden && _lastDense < 0) output[..(b * OutputSize)].CopyTo(headHidden);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(ping);
            ArrayPool<float>.Shared.Return(pong);
        }
    }

    /// <summary>The chain, e.g. <c>Pooling(cls) -> Dense(16->16, no bias, Gelu) -> LayerNorm(16) -> Dense(16->1, Identity)</c>.</summary>
    public override string ToString() => string.Join(" -> ", _modules.Select(m => m.ToString()).Prepend(Pooling.ToString()));

    /// <summary>modules.json: an array of {"idx", "name", "path", "type"} objects, run in array order.</summary>
    private static List<(string Type, string Path)> ReadModuleList(string modulesPath)
    {
        try
        {
            using var document = JsonEscapes.Parse(File.ReadAllBytes(modulesPath));
            if (document.RootElement.ValueKind != JsonValueKind.Array) throw new ModelFormatException(modulesPath, "expected a JSON array of modules.");
            var entries = new List<(string, string)>();
            foreach (var module in document.RootElement.EnumerateArray())
            {
                if (module.ValueKind != JsonValueKind.Object || !module.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                    throw new ModelFormatException(modulesPath, $"each module must be an object with a string 'type', got {module.GetRawText()}.");
                string path = module.TryGetProperty("path", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "";
                entries.Add((type.GetString()!, path));
            }
            return entries;
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(modulesPath, $"not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>A module's folder inside the model folder; a path that would leave it is rejected.</summary>
    private static string ModuleFolder(string directory, string modulesPath, string path)
    {
        string root = Path.GetFullPath(directory), full = Path.GetFullPath(Path.Combine(root, path));
        if (Path.IsPathRooted(path) || (full != root && !full.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal)))
            throw new ModelFormatException(modulesPath, $"module path '{path}' leaves the model folder.");
        return full;
    }
}

/// <summary>Typed reads of a module's config.json, each error naming the file and the field.</summary>
internal readonly struct ModuleConfig(string path, JsonElement root)
{
    public JsonElement Root { get; } = root.ValueKind == JsonValueKind.Object ? root : throw new ModelFormatException(path, "the top level must be a JSON object.");

    /// <summary>An integer field that must be present.</summary>
    public int RequiredInt(string name) => OptionalInt(name) ?? throw new ModelFormatException(path, $"field '{name}' is missing.");

    /// <summary>An integer field, or null when absent.</summary>
    public int? OptionalInt(string name) =>
        !Root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
        : throw new ModelFormatException(path, $"field '{name}' must be an integer, got {v.GetRawText()}.");

    /// <summary>A boolean field, or null when absent.</summary>
    public bool? OptionalBool(string name) =>
        !Root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw new ModelFormatException(path, $"field '{name}' must be true or false, got {v.GetRawText()}.");

    /// <summary>A string field, or null when absent.</summary>
    public string? OptionalString(string name) =>
        !Root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString()
        : throw new ModelFormatException(path, $"field '{name}' must be a string, got {v.GetRawText()}.");
}

/// <summary>A module folder's weights: its model.safetensors, read under the module's own tensor names, fp32.</summary>
internal static class ModuleWeights
{
    /// <summary>Opens <c>{folder}/model.safetensors</c>.</summary>
    /// <exception cref="ModelFormatException">It is missing (with a conversion hint when only pytorch_model.bin is there).</exception>
    /// <remarks>sentence-transformers saves a module's state dict as one file (never sharded), so only that is read.</remarks>
    public static SafeTensorsCheckpoint Open(string folder)
    {
        string path = Path.Combine(folder, Names.ModuleWeightsFile), pickle = Path.Combine(folder, Names.ModulePickleFile);
        if (File.Exists(path)) return SafeTensorsCheckpoint.OpenFile(path);
        if (File.Exists(pickle))
            throw new ModelFormatException(pickle,
                "the module's weights are a pickle (pytorch_model.bin), which is never loaded. Convert them once in Python: " +
                $"from safetensors.torch import save_file; import torch; save_file(torch.load(\"{Names.ModulePickleFile}\"), \"{Names.ModuleWeightsFile}\") in this folder " +
                "(or load the model with sentence-transformers and save it again: it writes safetensors).");
        throw new ModelFormatException(path, "the module's weights (model.safetensors) are missing.");
    }

    /// <summary>A weight source over a module file: names as they are (no prefix, no aliases), fp32.</summary>
    public static WeightSource Source(SafeTensorsCheckpoint file, KernelCapabilities capabilities) =>
        new(file, new TensorNaming("", name => [name], _ => false), Precision.Fp32, capabilities);
}
