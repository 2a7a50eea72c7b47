using System.Collections.Immutable;
using System.Text.Json;
using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Bert;
using CrossEncoder.Native.Reranking.Verification;
using CrossEncoder.Native.SafeTensors;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Model;

/// <summary>A model family: one folder under Model/ (its config, weight names, workspace and modules) that runs the
/// checkpoints whose <c>config.json</c> names one of its <see cref="ModelTypes"/>.</summary>
internal interface IModelFamily
{
    /// <summary>Short name reported in <see cref="ModelDescription.Family"/>-style messages, e.g. <c>bert</c>.</summary>
    string Name { get; }

    /// <summary>The <c>model_type</c> values of config.json this family runs.</summary>
    IReadOnlyCollection<string> ModelTypes { get; }

    /// <summary>Loads the folder's checkpoint in <paramref name="precision"/> (Fp32 or Int8, never Auto), its kernels to run
    /// on <paramref name="capabilities"/> (a family passes them to its modules through <c>WeightSource</c>; it never picks one).</summary>
    /// <exception cref="ModelFormatException">A file is missing, malformed, or does not match the config.</exception>
    ITransformerModel Load(ModelFolder folder, Precision precision, KernelCapabilities capabilities);
}

/// <summary>
/// The one loader: reads <c>config.json</c>'s <c>model_type</c>, hands the folder to the family that runs it, and is the one
/// place precision enters (Fp32, Int8, or Auto: both loaded and int8 kept only if the built-in accuracy check passes).
/// Adding a family is a folder under Model/ plus one entry in <see cref="BuiltInFamilies"/>.
/// </summary>
internal static class ModelLoader
{
    /// <summary>The families that ship with the library.</summary>
    private static readonly IModelFamily[] BuiltInFamilies = [BertFamily.Instance, ModernBert.ModernBertFamily.Instance, Qwen.QwenFamily.Instance];

    private static ImmutableArray<IModelFamily> _families = [.. BuiltInFamilies];

    /// <summary>The families the loader knows, built-in first.</summary>
    public static ImmutableArray<IModelFamily> Families => _families;

    /// <summary>Adds a family (tests add a toy family to show that a folder is all a new family needs). Thread-safe;
    /// registering the same instance twice is a no-op.</summary>
    public static void Register(IModelFamily family)
    {
        ArgumentNullException.ThrowIfNull(family);
        ImmutableInterlocked.Update(ref _families, list => list.Contains(family) ? list : list.Add(family));
    }

    /// <summary>Loads a model folder in <paramref name="precision"/>, its kernels on <paramref name="capabilities"/> (default:
    /// the best this machine runs). <see cref="Precision.Auto"/> needs the folder's <paramref name="tokenizer"/> to run the
    /// quick accuracy check (a decoder reranker also reads its answer tokens' ids from it); <paramref name="prompt"/> names a
    /// decoder reranker's prompt (<see cref="RerankPrompt"/>) when the folder's name does not reveal it. The note says why Auto
    /// kept fp32 (null otherwise).</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="ModelFormatException">A file is missing, malformed, unsupported, or does not match the config.</exception>
    public static (ITransformerModel Model, string? PrecisionNote) Load(string directory, Precision precision, ITextPairTokenizer? tokenizer = null,
        KernelCapabilities? capabilities = null, string? prompt = null)
    {
        var kernels = capabilities ?? KernelCapabilities.Default;
        ArgumentNullException.ThrowIfNull(directory);
        if (!Enum.IsDefined(precision)) throw new ArgumentOutOfRangeException(nameof(precision), precision, "Precision must be Fp32, Int8 or Auto.");
        if (prompt is not null) RerankPrompt.Named(prompt);   // an unknown name fails before anything is read
        var folder = ModelFolder.Open(directory);
        folder.Tokenizer = tokenizer;
        folder.PromptName = prompt;
        IModelFamily family = FamilyFor(folder);
        if (precision != Precision.Auto) return (family.Load(folder, precision, kernels), null);
        if (tokenizer is null) throw new ArgumentNullException(nameof(tokenizer), "Precision.Auto runs the accuracy check on real text and needs the model's tokenizer.");
        var fp32 = family.Load(folder, Precision.Fp32, kernels);
        var int8 = family.Load(folder, Precision.Int8, kernels);
        var check = PrecisionGate.QuickCheck(fp32, int8, tokenizer);
        if (check.Pass) return (int8, null);
        return (fp32, $"Precision.Auto: int8 failed the quick accuracy check on '{directory}' ({check.Describe()}); using fp32.");
    }

    /// <summary>The family that runs the folder's <c>model_type</c>, or a one-line error naming the supported types.</summary>
    public static IModelFamily FamilyFor(ModelFolder folder)
    {
        foreach (var family in _families)
            if (family.ModelTypes.Contains(folder.ModelType)) return family;
        string supported = string.Join(", ", _families.SelectMany(f => f.ModelTypes));
        throw new ModelFormatException(folder.ConfigPath, $"model_type '{folder.ModelType}' is not supported; this engine runs {supported}.");
    }
}

/// <summary>
/// A Hugging Face model folder as the loader reads it before choosing a family: <c>config.json</c>'s <c>model_type</c> and
/// <c>architectures</c>, the sentence-transformers metadata every family shares (the score activation), and the weights.
/// </summary>
internal sealed class ModelFolder
{
    private ModelFolder(string directory, string modelType, ImmutableArray<string> architectures, string? activation, string? sentenceTransformersModelType)
    {
        Directory = directory;
        ModelType = modelType;
        Architectures = architectures;
        SentenceTransformersActivation = activation;
        SentenceTransformersModelType = sentenceTransformersModelType;
    }

    /// <summary>sentence-transformers' prompt for queries (<c>prompts.query</c> of config_sentence_transformers.json, e.g.
    /// Qwen3-Embedding's <c>Instruct: ...\nQuery:</c>), prepended to a query before it is embedded; null when none.</summary>
    public string? QueryPrompt { get; init; }

    /// <summary>The folder's tokenizer when the caller has loaded it already (a decoder reranker reads its answer tokens' ids).</summary>
    public ITextPairTokenizer? Tokenizer { get; set; }

    /// <summary>The decoder reranking prompt the caller asked for (<see cref="RerankPrompt.Named"/>), or null.</summary>
    public string? PromptName { get; set; }

    /// <summary>sentence-transformers' model-level settings file at the folder's root.</summary>
    public const string SentenceTransformersConfigFile = "config_sentence_transformers.json";

    /// <summary>The folder.</summary>
    public string Directory { get; }

    /// <summary>Path of its config.json.</summary>
    public string ConfigPath => Path.Combine(Directory, "config.json");

    /// <summary>Hugging Face <c>model_type</c> (default <c>bert</c> when absent, as older BERT checkpoints omit it).</summary>
    public string ModelType { get; }

    /// <summary>Hugging Face class names.</summary>
    public ImmutableArray<string> Architectures { get; }

    /// <summary>The activation sentence-transformers applies to a CrossEncoder's logits, if the folder names one. As
    /// sentence-transformers 5.x resolves it: <c>activation_fn</c> in config_sentence_transformers.json first (what 5.x saves),
    /// then config.json's <c>sentence_transformers.activation_fn</c> (4.x), then its older <c>sbert_ce_default_activation_function</c>.
    /// A path outside <c>torch.</c> is skipped, as sentence-transformers does without trust_remote_code.</summary>
    public string? SentenceTransformersActivation { get; }

    /// <summary><c>model_type</c> of config_sentence_transformers.json (<c>SentenceTransformer</c>, <c>CrossEncoder</c>, ...),
    /// or null when the file or field is absent.</summary>
    public string? SentenceTransformersModelType { get; }

    /// <summary>True when config_sentence_transformers.json says <c>"model_type": "CrossEncoder"</c>: a module chain then ends
    /// in the Dense layer that scores the pair.</summary>
    public bool IsSentenceTransformersCrossEncoder => SentenceTransformersModelType == "CrossEncoder";

    /// <summary>The score transform a cross-encoder of this folder intends: Identity when sentence-transformers says so.</summary>
    public ScoreTransform CrossEncoderTransform =>
        SentenceTransformersActivation is { } a && a.EndsWith("Identity", StringComparison.Ordinal) ? ScoreTransform.Identity : ScoreTransform.Sigmoid;

    /// <summary>Reads the folder's config.json header fields.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="ModelFormatException">config.json is missing or not a JSON object with well-typed header fields.</exception>
    public static ModelFolder Open(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) throw new DirectoryNotFoundException($"Model folder '{directory}' does not exist.");
        string path = Path.Combine(directory, "config.json");
        using (var document = ReadConfigJson(path))
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "the top level must be a JSON object.");
            string modelType = "bert";
            if (root.TryGetProperty("model_type", out var type) && type.ValueKind != JsonValueKind.Null)
                modelType = type.ValueKind == JsonValueKind.String ? type.GetString()! : throw new ModelFormatException(path, $"field 'model_type' must be a string, got {type.GetRawText()}.");
            var architectures = ImmutableArray<string>.Empty;
            if (root.TryGetProperty("architectures", out var list) && list.ValueKind != JsonValueKind.Null)
            {
                if (list.ValueKind != JsonValueKind.Array || list.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
                    throw new ModelFormatException(path, $"field 'architectures' must be an array of strings, got {list.GetRawText()}.");
                architectures = [.. list.EnumerateArray().Select(e => e.GetString()!)];
            }
            var (stModelType, stActivation, queryPrompt) = ReadSentenceTransformersConfig(Path.Combine(directory, SentenceTransformersConfigFile));
            string? activation = Trusted(stActivation);
            if (activation is null && root.TryGetProperty("sentence_transformers", out var st) && st.ValueKind == JsonValueKind.Object &&
                st.TryGetProperty("activation_fn", out var fn) && fn.ValueKind == JsonValueKind.String)
                activation = Trusted(fn.GetString());
            else if (activation is null && root.TryGetProperty("sbert_ce_default_activation_function", out var old) && old.ValueKind == JsonValueKind.String)
                activation = Trusted(old.GetString());
            return new ModelFolder(directory, modelType, architectures, activation, stModelType) { QueryPrompt = queryPrompt };
        }
    }

    /// <summary>sentence-transformers imports only <c>torch.*</c> activations unless told to trust remote code.</summary>
    private static string? Trusted(string? activation) => activation is not null && activation.StartsWith("torch.", StringComparison.Ordinal) ? activation : null;

    /// <summary><c>model_type</c> and <c>activation_fn</c> of config_sentence_transformers.json (nulls when absent).</summary>
    /// <exception cref="ModelFormatException">The file exists but is not a JSON object, or a field is not a string.</exception>
    private static (string? ModelType, string? Activation, string? QueryPrompt) ReadSentenceTransformersConfig(string path)
    {
        if (!File.Exists(path)) return (null, null, null);
        using var document = ReadConfigJson(path);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, "the top level must be a JSON object.");
        string? Field(string name) =>
            !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
            : v.ValueKind == JsonValueKind.String ? v.GetString()
            : throw new ModelFormatException(path, $"field '{name}' must be a string, got {v.GetRawText()}.");
        string? queryPrompt = null;
        if (root.TryGetProperty("prompts", out var prompts) && prompts.ValueKind != JsonValueKind.Null)
        {
            if (prompts.ValueKind != JsonValueKind.Object) throw new ModelFormatException(path, $"field 'prompts' must be an object, got {prompts.GetRawText()}.");
            if (prompts.TryGetProperty("query", out var query) && query.ValueKind != JsonValueKind.Null)
                queryPrompt = query.ValueKind == JsonValueKind.String ? query.GetString() : throw new ModelFormatException(path, $"prompts.query must be a string, got {query.GetRawText()}.");
        }
        return (Field("model_type"), Field("activation_fn"), string.IsNullOrEmpty(queryPrompt) ? null : queryPrompt);
    }

    /// <summary>Parses a config.json as Hugging Face writes them (trailing commas and comments tolerated).</summary>
    /// <exception cref="ModelFormatException">The file is missing or not valid JSON.</exception>
    public static JsonDocument ReadConfigJson(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException(path, $"{Path.GetFileName(path)} not found.");
        try
        {
            return JsonEscapes.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>Opens the folder's weights: <c>model.safetensors</c>, or (without it, as transformers chooses)
    /// <c>model.safetensors.index.json</c> and every shard it names; fails with a hint for the weight formats this engine does not read.</summary>
    /// <param name="cancellationToken">Checked between shards.</param>
    /// <exception cref="ModelFormatException">Neither file is there.</exception>
    /// <exception cref="SafeTensorsFormatException">A file violates the format, a shard is missing, or the shards disagree with the index.</exception>
    public SafeTensorsCheckpoint OpenWeights(CancellationToken cancellationToken = default)
    {
        if (!SafeTensorsCheckpoint.ExistsIn(Directory))
        {
            string hint = File.Exists(Path.Combine(Directory, "pytorch_model.bin")) || File.Exists(Path.Combine(Directory, "pytorch_model.bin.index.json"))
                ? " Only safetensors weights are read; pytorch_model.bin is a pickle and is not loaded."
                : System.IO.Directory.EnumerateFiles(Directory, "*.onnx").Any() ? " The folder has an ONNX file: convert it with `crossencoder convert --onnx <file> --vocab <vocab.txt> --out <dir>`."
                : "";
            throw new ModelFormatException(Path.Combine(Directory, SafeTensorsCheckpoint.SingleFileName),
                $"{SafeTensorsCheckpoint.SingleFileName} not found (nor a sharded checkpoint's {SafeTensorsIndex.FileName})." + hint);
        }
        return SafeTensorsCheckpoint.OpenFolder(Directory, cancellationToken);
    }
}
