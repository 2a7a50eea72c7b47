using System.Text.Json;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model.Common;

/// <summary>How a bi-encoder turns token states into one sentence vector (sentence-transformers' Pooling and Normalize modules).</summary>
internal enum PoolingMode
{
    /// <summary>Average of all token states of the sequence (specials included), as sentence-transformers' mean pooling.</summary>
    Mean,
    /// <summary>The first token's ([CLS]) state.</summary>
    Cls,
}

/// <summary>The sentence-embedding head of a bi-encoder: pooling over tokens, then optional L2 normalisation.</summary>
/// <param name="Mode">Pooling over tokens.</param>
/// <param name="Normalize">Whether the vector is scaled to unit length (a Normalize module follows the pooling).</param>
internal sealed record SentencePooling(PoolingMode Mode, bool Normalize)
{
    /// <summary>Reads sentence-transformers' <c>modules.json</c> and the pooling module's <c>config.json</c> from a model folder;
    /// without them, mean pooling without normalisation (what sentence-transformers assumes for a plain BERT checkpoint).</summary>
    public static SentencePooling FromModelFolder(string directory)
    {
        string modulesPath = Path.Combine(directory, "modules.json");
        if (!File.Exists(modulesPath)) return new SentencePooling(PoolingMode.Mean, Normalize: false);
        try
        {
            using var modules = JsonDocument.Parse(File.ReadAllBytes(modulesPath));
            if (modules.RootElement.ValueKind != JsonValueKind.Array) throw new ModelFormatException(modulesPath, "expected a JSON array of modules.");
            PoolingMode mode = PoolingMode.Mean;
            bool normalize = false;
            foreach (var module in modules.RootElement.EnumerateArray())
            {
                string type = module.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";
                string path = module.TryGetProperty("path", out var p) ? p.GetString() ?? "" : "";
                switch (type)
                {
                    case "sentence_transformers.models.Transformer":
                        break;
                    case "sentence_transformers.models.Pooling":
                        mode = ReadPoolingMode(Path.Combine(directory, path, "config.json"));
                        break;
                    case "sentence_transformers.models.Normalize":
                        normalize = true;
                        break;
                    default:
                        throw new ModelFormatException(modulesPath, $"sentence-transformers module '{type}' is not supported (supported: Transformer, Pooling, Normalize).");
                }
            }
            return new SentencePooling(mode, normalize);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(modulesPath, $"not valid JSON ({e.Message})", e);
        }
    }

    private static PoolingMode ReadPoolingMode(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException(path, "the pooling module's config.json is missing.");
        using var config = JsonDocument.Parse(File.ReadAllBytes(path));
        bool Flag(string name) => config.RootElement.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
        string[] others = ["pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"];
        foreach (string other in others)
            if (Flag(other)) throw new ModelFormatException(path, $"'{other}' is not supported; only mean or CLS pooling is.");
        bool mean = Flag("pooling_mode_mean_tokens"), cls = Flag("pooling_mode_cls_token");
        if (mean == cls) throw new ModelFormatException(path, "exactly one of pooling_mode_mean_tokens and pooling_mode_cls_token must be true.");
        return mean ? PoolingMode.Mean : PoolingMode.Cls;
    }

    /// <summary>embeddings[B, H] from hidden[N, H].</summary>
    internal void Forward(ReadOnlySpan<float> hidden, PackedBatch batch, int h, Span<float> embeddings)
    {
        for (int s = 0; s < batch.Count; s++)
        {
            var rows = hidden.Slice(batch.Starts[s] * h, batch.LengthOf(s) * h);
            var destination = embeddings.Slice(s * h, h);
            if (Mode == PoolingMode.Mean) Pooling.MeanOfRows(rows, batch.LengthOf(s), h, destination);
            else rows[..h].CopyTo(destination);
            if (Normalize) Pooling.L2Normalize(destination);
        }
    }
}
