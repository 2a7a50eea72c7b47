// The index of a sharded safetensors checkpoint, as transformers' save_pretrained writes it when the weights exceed
// max_shard_size (Qwen3-Reranker-4B and -8B ship this way):
//
//   model.safetensors.index.json
//   {
//     "metadata": { "total_size": 8044936192 },                         informational (see below)
//     "weight_map": {                                                    every tensor name -> the shard file holding it
//       "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
//       "model.layers.0.mlp.down_proj.weight": "model-00001-of-00002.safetensors",
//       ...
//     }
//   }
//   model-00001-of-00002.safetensors, model-00002-of-00002.safetensors   ordinary safetensors files, beside the index
//
// How transformers reads it (utils/hub.py get_checkpoint_shard_files): json.loads the file, the shards are
// sorted(set(weight_map.values())) joined to the model folder, and metadata is passed along but never compared with the
// shards (total_size only sizes device maps). This reader does the same, and is stricter where transformers is silent:
//   * the file is one JSON object (strict JSON, as json.loads) of at most 100,000,000 bytes;
//   * "weight_map" is present, an object, not empty, with string values and no name listed twice;
//   * every shard name is a plain file name in the model folder: no '/' or '\', no ':', no NUL, not "." or ".."
//     (transformers joins whatever the index says to the folder path, so "../x" or "/etc/x" would escape it);
//   * "metadata" may be absent or anything: it is informational; total_size is read when it is a non-negative integer.
// What the shards must then hold (each index entry in its shard, no tensor in two shards or outside the index) is checked
// by SafeTensorsCheckpoint, which opens them.

using System.Text.Encodings.Web;
using System.Text.Json;

namespace CrossEncoder.Native.SafeTensors;

/// <summary>A parsed and validated <c>model.safetensors.index.json</c> (see the file header for the format and the rules).</summary>
internal sealed class SafeTensorsIndex
{
    /// <summary>The index's file name in a model folder.</summary>
    public const string FileName = "model.safetensors.index.json";

    /// <summary>Largest index accepted, in bytes (the safetensors header cap; real indexes are tens of kilobytes).</summary>
    public const int MaxLength = 100_000_000;

    private SafeTensorsIndex(string filePath, Dictionary<string, string> weightMap, string[] shards, long? totalSize)
    {
        FilePath = filePath;
        WeightMap = weightMap;
        Shards = shards;
        TotalSize = totalSize;
    }

    /// <summary>The index file.</summary>
    public string FilePath { get; }

    /// <summary>Tensor name -> shard file name (a plain name in the index's folder), in the file's order.</summary>
    public IReadOnlyDictionary<string, string> WeightMap { get; }

    /// <summary>The distinct shard file names, sorted ordinally (transformers' <c>sorted(set(weight_map.values()))</c>).</summary>
    public IReadOnlyList<string> Shards { get; }

    /// <summary><c>metadata.total_size</c> when it is a non-negative integer, else null. Informational only: never compared
    /// with the shards, as transformers does not either.</summary>
    public long? TotalSize { get; }

    /// <summary>The folder the shards are in: the index's own.</summary>
    public string Directory => Path.GetDirectoryName(Path.GetFullPath(FilePath))!;

    /// <summary>The full path of shard <paramref name="shard"/> (one of <see cref="Shards"/>).</summary>
    public string ShardPath(string shard) => Path.Combine(Directory, shard);

    /// <summary>Reads and validates an index file.</summary>
    /// <exception cref="SafeTensorsFormatException">The index is malformed (the message names the file and the field at fault).</exception>
    /// <exception cref="FileNotFoundException">The file does not exist (other I/O errors pass through as <see cref="IOException"/>).</exception>
    public static SafeTensorsIndex Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var file = new FileInfo(path);
        if (!file.Exists) throw new FileNotFoundException($"Safetensors index '{path}' not found.", path);
        if (file.Length > MaxLength)
            throw SafeTensorsFormatException.ForIndex(path, null, $"the file has {file.Length} bytes, more than the {MaxLength} an index may have.");
        return Parse(path, File.ReadAllBytes(path));
    }

    /// <summary>Validates index JSON read from <paramref name="path"/> (exposed for tests and for callers holding the bytes).</summary>
    /// <exception cref="SafeTensorsFormatException">The index is malformed.</exception>
    public static SafeTensorsIndex Parse(string path, ReadOnlyMemory<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonEscapes.Parse(json);
        }
        catch (JsonException e)
        {
            throw SafeTensorsFormatException.ForIndex(path, null, $"not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw SafeTensorsFormatException.ForIndex(path, null, $"the top level must be a JSON object, found {Describe(root.ValueKind)}.");
            if (!root.TryGetProperty("weight_map", out var map))
                throw SafeTensorsFormatException.ForIndex(path, null, "'weight_map' is missing; the index must map every tensor name to its shard file.");
            if (map.ValueKind != JsonValueKind.Object)
                throw SafeTensorsFormatException.ForIndex(path, null, $"'weight_map' must be an object of tensor name -> shard file name, found {Describe(map.ValueKind)}.");

            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw SafeTensorsFormatException.ForIndex(path, entry.Name, $"'weight_map' value must be a shard file name (a string), found {Describe(entry.Value.ValueKind)}.");
                string shard = entry.Value.GetString()!;
                if (!IsValidShardName(shard))
                    throw SafeTensorsFormatException.ForIndex(path, entry.Name,
                        $"shard name \"{shard}\" is not a plain file name in the model folder (no path separators, ':', \"..\" or \".\"); refusing to look outside the folder.");
                if (!weightMap.TryAdd(entry.Name, shard))
                    throw SafeTensorsFormatException.ForIndex(path, entry.Name, $"'weight_map' lists the tensor twice (\"{weightMap[entry.Name]}\" and \"{shard}\").");
            }
            if (weightMap.Count == 0)
                throw SafeTensorsFormatException.ForIndex(path, null, "'weight_map' is empty: the index names no tensor.");

            long? totalSize = root.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object &&
                metadata.TryGetProperty("total_size", out var total) && total.ValueKind == JsonValueKind.Number && total.TryGetInt64(out long t) && t >= 0 ? t : null;
            string[] shards = [.. weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
            return new SafeTensorsIndex(path, weightMap, shards, totalSize);
        }
    }

    /// <summary>True when <paramref name="name"/> is a plain file name that stays in the model folder on every platform:
    /// not empty, not <c>.</c> or <c>..</c>, without <c>/</c>, <c>\</c>, <c>:</c> (a Windows drive or stream) or NUL.</summary>
    public static bool IsValidShardName(string name) =>
        name.Length > 0 && name is not ("." or "..") && name.IndexOfAny(['/', '\\', ':', '\0']) < 0;

    /// <summary>transformers' shard file name: <c>model-00002-of-00003.safetensors</c> for the second of three.</summary>
    /// <param name="number">1-based shard number.</param>
    /// <param name="count">Number of shards.</param>
    public static string ShardName(int number, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(number, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(number, count);
        return $"model-{number:D5}-of-{count:D5}.safetensors";
    }

    /// <summary>Writes an index as transformers does: <c>{"metadata": {"total_size": N}, "weight_map": {...}}</c>, names sorted,
    /// indented; to a temporary file moved over <paramref name="path"/> at the end.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, string> weightMap, long totalSize)
    {
        ArgumentNullException.ThrowIfNull(weightMap);
        foreach (var (name, shard) in weightMap)
            if (!IsValidShardName(shard)) throw new ArgumentException($"Tensor '{name}': shard name \"{shard}\" is not a plain file name.", nameof(weightMap));
        string fullPath = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                json.WriteStartObject();
                json.WriteStartObject("metadata");
                json.WriteNumber("total_size", totalSize);
                json.WriteEndObject();
                json.WriteStartObject("weight_map");
                foreach (var (name, shard) in weightMap.OrderBy(e => e.Key, StringComparer.Ordinal))
                    json.WriteString(name, shard);
                json.WriteEndObject();
                json.WriteEndObject();
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            try { File.Delete(temporary); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };
}
