using System.Text.Json;
using CrossEncoder.Native.SafeTensors;
using Names = CrossEncoder.Native.Model.Common.SentenceTransformersWeightNames;

namespace CrossEncoder.Native.Hub;

/// <summary>
/// Which files of a repository a model needs, so a download never pulls pickles, ONNX exports or other frameworks' weights:
/// config.json, model.safetensors (or the index and its shards), the tokenizer files, and sentence-transformers' module files.
/// </summary>
internal static class ModelFiles
{
    public const string Config = "config.json", Weights = SafeTensorsCheckpoint.SingleFileName, WeightsIndex = SafeTensorsIndex.FileName, Modules = "modules.json";

    private static readonly string[] TokenizerModels = ["tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "vocab.json"];

    /// <summary>A byte-level BPE's vocabulary (GPT-2 / Qwen2 layout) needs its merges beside it.</summary>
    private const string BpeVocabulary = "vocab.json", BpeMerges = "merges.txt";
    private static readonly string[] Optional =
        ["tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", Modules, "config_sentence_transformers.json", "sentence_bert_config.json"];
    private static readonly string[] UnloadableWeights =
        ["pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack", "model.onnx", "onnx/model.onnx"];

    /// <summary>The files to fetch first, from the repository's file list; throws when the repository cannot load here.</summary>
    public static List<string> Select(IReadOnlySet<string> repoFiles, HubModelId id)
    {
        if (!repoFiles.Contains(Config))
            throw new HubException(HubErrorKind.Unsupported, $"{id} has no config.json: it is not a Transformers model this library can load.");
        var files = new List<string> { Config };
        if (repoFiles.Contains(Weights)) files.Add(Weights);
        else if (repoFiles.Contains(WeightsIndex)) files.Add(WeightsIndex);
        else
        {
            var present = UnloadableWeights.Where(repoFiles.Contains).ToList();
            string only = present.Count > 0 ? $" (it has only {string.Join(", ", present)})" : "";
            throw new HubException(HubErrorKind.Unsupported,
                $"{id} has no model.safetensors{only}: pickled PyTorch weights are never loaded. Use a safetensors revision if the Hub has one " +
                $"(the safetensors conversion bot opens a pull request: load {id.RepoId}@refs/pr/<N>), or convert once in Python with " +
                $"AutoModelForSequenceClassification.from_pretrained(\"{id.RepoId}\").save_pretrained(\"<dir>\", safe_serialization=True) and load <dir>.");
        }
        if (!TokenizerModels.Any(repoFiles.Contains))
            throw new HubException(HubErrorKind.Unsupported, $"{id} has no tokenizer (none of {string.Join(", ", TokenizerModels)}).");
        // vocab.json + merges.txt only without tokenizer.json, which holds both (Qwen repositories ship all three).
        files.AddRange(TokenizerModels.Where(name => repoFiles.Contains(name) && !(name == BpeVocabulary && repoFiles.Contains("tokenizer.json"))));
        if (files.Contains(BpeVocabulary))
        {
            if (!repoFiles.Contains(BpeMerges)) throw new HubException(HubErrorKind.Unsupported, $"{id} has vocab.json but no merges.txt beside it, and no tokenizer.json.");
            files.Add(BpeMerges);
        }
        files.AddRange(Optional.Where(repoFiles.Contains));
        return files;
    }

    /// <summary>Files named by files already fetched: the shards of model.safetensors.index.json and, for each
    /// sentence-transformers module folder of modules.json, its config.json and model.safetensors (e.g. 1_Pooling/config.json,
    /// 2_Dense/config.json + 2_Dense/model.safetensors). A Dense or LayerNorm module without model.safetensors fails here,
    /// before anything large is downloaded.</summary>
    public static List<string> Dependents(string snapshotFolder, IReadOnlySet<string> repoFiles, HubModelId id)
    {
        var files = new List<string>();
        string index = Path.Combine(snapshotFolder, WeightsIndex);
        if (File.Exists(index))
        {
            // The loader's own validation (shard names must be plain file names in the folder, ...): a shard it would refuse
            // is never downloaded.
            SafeTensorsIndex parsed;
            try
            {
                parsed = SafeTensorsIndex.Read(index);
            }
            catch (SafeTensorsFormatException e)
            {
                throw new HubException(HubErrorKind.Unsupported, $"{WeightsIndex} of {id} cannot be used: {(e.TensorName is null ? "" : $"tensor '{e.TensorName}': ")}{e.Problem}", e);
            }
            foreach (string shard in parsed.Shards)
            {
                if (!repoFiles.Contains(shard))
                    throw new HubException(HubErrorKind.NotFound, $"{WeightsIndex} of {id} names shard '{shard}', which the repository does not have.");
                files.Add(shard);
            }
        }
        string modules = Path.Combine(snapshotFolder, Modules);
        if (File.Exists(modules))
        {
            foreach (var (path, type) in ReadJson(modules, root => root.ValueKind == JsonValueKind.Array
                ? root.EnumerateArray().Where(m => m.ValueKind == JsonValueKind.Object).Select(m => (Path: String(m, "path"), Type: String(m, "type"))).ToList()
                : []))
            {
                string folder = path.TrimEnd('/');
                if (folder.Length == 0 || Names.ModuleClass(type) == "Transformer") continue;   // the encoder: the model's own files
                string config = $"{folder}/{Names.ModuleConfigFile}", weights = $"{folder}/{Names.ModuleWeightsFile}";
                if (!IsSafeRelativePath(weights)) continue;
                if (repoFiles.Contains(config)) files.Add(config);
                if (repoFiles.Contains(weights)) files.Add(weights);
                else if (Names.ModuleClass(type) is "Dense" or "LayerNorm")
                {
                    string pickle = $"{folder}/{Names.ModulePickleFile}";
                    throw repoFiles.Contains(pickle)
                        ? new HubException(HubErrorKind.Unsupported,
                            $"{id}'s module {folder} ({type}) has only {pickle}: pickled PyTorch weights are never loaded. Convert it once in Python " +
                            $"(save_file(torch.load(\"{pickle}\"), \"{weights}\") with safetensors.torch) or load and save the model with " +
                            "sentence-transformers (it writes safetensors), and load the converted folder.")
                        : new HubException(HubErrorKind.NotFound, $"{id}'s module {folder} ({type}) has no {weights}.");
                }
            }
        }
        return files;
    }

    private static string String(JsonElement module, string name) =>
        module.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";

    /// <summary>A repository path that stays inside the snapshot folder: '/'-separated, no empty, '.' or '..' segment, no backslash.</summary>
    public static bool IsSafeRelativePath(string path) =>
        path.Length > 0 && !path.Contains('\\') && !path.Contains(':') && path.Split('/').All(s => s.Length > 0 && s != "." && s != "..");

    private static T ReadJson<T>(string path, Func<JsonElement, T> read)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            return read(document.RootElement);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new HubException(HubErrorKind.Unsupported, $"'{Path.GetFileName(path)}' is not valid JSON ({e.Message}).", e);
        }
    }
}
