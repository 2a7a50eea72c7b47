using System.Text.Json;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model.Common;

/// <summary>How sentence-transformers' Pooling module turns a sequence's token states into one vector.</summary>
internal enum PoolingMode
{
    /// <summary>Average of all token states of the sequence (specials included), as sentence-transformers' mean pooling.</summary>
    Mean,
    /// <summary>The first token's ([CLS]) state.</summary>
    Cls,
    /// <summary>Element-wise maximum over the sequence's token states.</summary>
    Max,
    /// <summary>The last token's state (decoder-style embedders).</summary>
    LastToken,
}

/// <summary>
/// sentence-transformers' Pooling module, the first step of a <see cref="SentenceTransformersHead"/>: pooled[B, H] from the
/// last hidden state [N, H] of a packed batch. Every token of a sequence counts (a packed batch has no padding; special
/// tokens are included, as sentence-transformers' attention mask includes them).
/// </summary>
/// <param name="Mode">How the tokens are pooled.</param>
internal sealed record SentencePooling(PoolingMode Mode)
{
    /// <summary>Reads a Pooling module's <c>config.json</c>. Both layouts: 5.x writes <c>"pooling_mode": "cls"</c> (or a list)
    /// and <c>embedding_dimension</c>; older saves write one boolean per mode (<c>pooling_mode_cls_token</c>,
    /// <c>pooling_mode_mean_tokens</c>, ...) and <c>word_embedding_dimension</c>; with no mode set, the mode is mean (the
    /// module's default). Several modes at once (a concatenation) and the mean_sqrt_len_tokens / weightedmean modes are not
    /// supported. <c>include_prompt</c> has no effect here: this engine never prepends prompts.</summary>
    /// <exception cref="ModelFormatException">The file is missing or malformed, its dimension is not
    /// <paramref name="hiddenSize"/>, or the mode is unsupported.</exception>
    public static SentencePooling Load(string configPath, int hiddenSize)
    {
        using var document = ModelFolder.ReadConfigJson(configPath);
        var config = new ModuleConfig(configPath, document.RootElement);
        int? dimension = config.OptionalInt("embedding_dimension") ?? config.OptionalInt("word_embedding_dimension");
        if (dimension is { } d && d != hiddenSize)
            throw new ModelFormatException(configPath, $"the pooling dimension is {d}, but the transformer's hidden size is {hiddenSize}.");

        var modes = new List<string>();
        if (config.Root.TryGetProperty("pooling_mode", out var mode) && mode.ValueKind != JsonValueKind.Null)
        {
            if (mode.ValueKind == JsonValueKind.String) modes.Add(mode.GetString()!);
            else if (mode.ValueKind == JsonValueKind.Array && mode.EnumerateArray().All(m => m.ValueKind == JsonValueKind.String))
                modes.AddRange(mode.EnumerateArray().Select(m => m.GetString()!));
            else throw new ModelFormatException(configPath, $"field 'pooling_mode' must be a string or a list of strings, got {mode.GetRawText()}.");
        }
        else
        {
            foreach (var (flag, name) in LegacyFlags)
                if (config.OptionalBool(flag) == true) modes.Add(name);
            if (modes.Count == 0) modes.Add("mean");
        }
        if (modes.Count != 1)
            throw new ModelFormatException(configPath, $"pooling modes {string.Join(" + ", modes)} concatenate several vectors, which is not supported; use one mode (mean, cls, max or lasttoken).");
        return modes[0].ToLowerInvariant() switch
        {
            "mean" => new SentencePooling(PoolingMode.Mean),
            "cls" => new SentencePooling(PoolingMode.Cls),
            "max" => new SentencePooling(PoolingMode.Max),
            "lasttoken" => new SentencePooling(PoolingMode.LastToken),
            _ => throw new ModelFormatException(configPath, $"pooling mode '{modes[0]}' is not supported (supported: mean, cls, max, lasttoken)."),
        };
    }

    /// <summary>The boolean keys of older Pooling configs, in sentence-transformers' concatenation order.</summary>
    private static readonly (string Flag, string Mode)[] LegacyFlags =
    [
        ("pooling_mode_cls_token", "cls"), ("pooling_mode_max_tokens", "max"), ("pooling_mode_mean_tokens", "mean"),
        ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"), ("pooling_mode_weightedmean_tokens", "weightedmean"),
        ("pooling_mode_lasttoken", "lasttoken"),
    ];

    /// <summary>True when only each sequence's first row is read (a family may then compute its last layer for those rows only).</summary>
    public bool ReadsFirstTokenOnly => Mode == PoolingMode.Cls;

    /// <summary>pooled[B, H] from hidden[N, H]: sequence b's rows are [Starts[b], Starts[b+1]).</summary>
    public void Forward(ReadOnlySpan<float> hidden, PackedBatch batch, int h, Span<float> pooled)
    {
        for (int s = 0; s < batch.Count; s++)
        {
            int length = batch.LengthOf(s);
            var rows = hidden.Slice(batch.Starts[s] * h, length * h);   // [T_b, H]
            var destination = pooled.Slice(s * h, h);                     // [H]
            switch (Mode)
            {
                case PoolingMode.Mean: Pooling.MeanOfRows(rows, length, h, destination); break;
                case PoolingMode.Max: Pooling.MaxOfRows(rows, length, h, destination); break;
                case PoolingMode.Cls: rows[..h].CopyTo(destination); break;
                default: rows[((length - 1) * h)..].CopyTo(destination); break;   // LastToken
            }
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"Pooling({Mode switch { PoolingMode.LastToken => "lasttoken", _ => Mode.ToString().ToLowerInvariant() }})";
}
