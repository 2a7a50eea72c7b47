using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CrossEncoder.Evaluation.Data;

namespace CrossEncoder.Evaluation.Retrieval;

/// <summary>What a first stage produced and what it cost.</summary>
/// <param name="Run">The ranked candidates per query.</param>
/// <param name="IndexSeconds">Time spent building (or loading) the index or document embeddings.</param>
/// <param name="IndexFromCache">True when the index or embeddings came from the on-disk cache.</param>
/// <param name="SearchSeconds">Time spent answering the queries.</param>
/// <param name="Tokens">Tokens run through a model (dense: documents embedded now plus queries; 0 for BM25 and run files).</param>
public sealed record FirstStageResult(TrecRun Run, double IndexSeconds, bool IndexFromCache, double SearchSeconds, long Tokens);

/// <summary>Progress of a long step: a label, units done, units in total, tokens so far.</summary>
public readonly record struct StageProgress(string Stage, long Done, long Total, long Tokens);

/// <summary>A retrieval system that returns the top candidates of each query from a corpus.</summary>
public interface IFirstStage
{
    /// <summary>A short name for tables and run-file tags (e.g. <c>bm25</c>).</summary>
    string Name { get; }

    /// <summary>Retrieves the top <paramref name="depth"/> documents for each query.</summary>
    FirstStageResult Retrieve(IReadOnlyList<BeirQuery> queries, int depth, IProgress<StageProgress>? progress, CancellationToken cancellationToken);
}

/// <summary>A first stage read from a TREC run file produced by any other system.</summary>
public sealed class RunFileFirstStage(string path) : IFirstStage
{
    /// <inheritdoc/>
    public string Name => "run:" + Path.GetFileName(path);

    /// <inheritdoc/>
    public FirstStageResult Retrieve(IReadOnlyList<BeirQuery> queries, int depth, IProgress<StageProgress>? progress, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var file = TrecRun.Read(path);
        var run = new TrecRun();
        foreach (var q in queries) run.Set(q.Id, file.For(q.Id).Take(depth));
        return new FirstStageResult(run, 0, false, started.Elapsed.TotalSeconds, 0);
    }
}

/// <summary>Content keys for on-disk caches: the same corpus (ids, titles, texts) always gives the same key.</summary>
public static class ContentKey
{
    /// <summary>SHA-256 over every document's id, title and text (length-prefixed), as 16 hex digits.</summary>
    public static string Of(IReadOnlyList<BeirDocument> corpus)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[4];
        foreach (var d in corpus)
            foreach (string part in (ReadOnlySpan<string>)[d.Id, d.Title, d.Text])
            {
                byte[] bytes = Encoding.UTF8.GetBytes(part);
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
                hash.AppendData(length);
                hash.AppendData(bytes);
            }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    /// <summary>
    /// SHA-256 over the files of a model folder that decide its embeddings, as 16 hex digits: config.json, the tokenizer
    /// (vocab.txt, tokenizer.json, sentencepiece.bpe.model, tokenizer_config.json), sentence-transformers' modules.json and
    /// 1_Pooling/config.json (and the other module folders' config.json and model.safetensors, when present), and the weights
    /// (model.safetensors, or model.safetensors.index.json and every shard it names).
    /// </summary>
    public static string OfModel(string modelDirectory)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string name)
        {
            string path = Path.Combine(modelDirectory, name);
            hash.AppendData(Encoding.UTF8.GetBytes(name + "\0"));
            if (!File.Exists(path)) return;
            using var stream = File.OpenRead(path);
            var buffer = new byte[1 << 20];
            int read;
            while ((read = stream.Read(buffer)) > 0) hash.AppendData(buffer.AsSpan(0, read));
        }
        foreach (string name in new[] { "config.json", "vocab.txt", "tokenizer.json", "modules.json", "1_Pooling/config.json", "model.safetensors" })
            Add(name);
        // Files hashed since the library loads more than BERT folders: only when present, so the keys (and cached
        // embeddings) of folders without them stay what they were.
        foreach (string name in new[] { "sentencepiece.bpe.model", "tokenizer_config.json", WeightsIndex }.Concat(Shards(modelDirectory)).Concat(ModuleFiles(modelDirectory)))
            if (File.Exists(Path.Combine(modelDirectory, name))) Add(name);
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    private const string WeightsIndex = "model.safetensors.index.json";

    /// <summary>The files of the sentence-transformers modules modules.json lists (a Dense layer's config and weights decide the
    /// embeddings too), in modules.json order: each module folder's config.json and model.safetensors, except
    /// 1_Pooling/config.json, which the key always covered.</summary>
    private static IEnumerable<string> ModuleFiles(string modelDirectory)
    {
        string modules = Path.Combine(modelDirectory, "modules.json");
        if (!File.Exists(modules)) return [];
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(modules));
            if (json.RootElement.ValueKind != JsonValueKind.Array) return [];
            return json.RootElement.EnumerateArray()
                .Select(m => m.ValueKind == JsonValueKind.Object && m.TryGetProperty("path", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()!.TrimEnd('/') : "")
                .Where(p => p.Length > 0 && !p.Contains("..", StringComparison.Ordinal))
                .SelectMany(p => new[] { p + "/config.json", p + "/model.safetensors" })
                .Where(f => f != "1_Pooling/config.json").ToList();
        }
        catch (JsonException)
        {
            return [];   // the loader reports a malformed modules.json; the key still covers its bytes
        }
    }

    /// <summary>The shard files model.safetensors.index.json names in its weight_map, in order, each once.</summary>
    private static IEnumerable<string> Shards(string modelDirectory)
    {
        string index = Path.Combine(modelDirectory, WeightsIndex);
        if (!File.Exists(index)) return [];
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(index));
            return json.RootElement.TryGetProperty("weight_map", out var map) && map.ValueKind == JsonValueKind.Object
                ? map.EnumerateObject().Select(p => p.Value.GetString() ?? "").Where(f => f.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList()
                : [];
        }
        catch (JsonException)
        {
            return [];   // the loader reports a malformed index; the key still covers its bytes
        }
    }
}
