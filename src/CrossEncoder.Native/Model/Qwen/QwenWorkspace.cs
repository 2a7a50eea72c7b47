using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.Qwen;

/// <summary>
/// Every activation buffer one Qwen forward pass needs, allocated once for a token and sequence capacity, plus the prefix's
/// key/value cache (one <see cref="KeyValuePrefix"/> per layer, grown to the longest prefix seen, at most the workspace's
/// sequence length). N = token capacity, B = sequence capacity, H hidden, I intermediate.
/// </summary>
internal sealed class QwenWorkspace : ModelWorkspace
{
    private readonly QwenConfig _config;
    private KeyValuePrefix[]? _cache;

    internal QwenWorkspace(QwenConfig config, int maxTokens, int maxSequences, int outputSize, int maxSequenceLength, int headHiddenSize)
        : base(PackedBatch.Create(maxTokens, maxSequences, maxSequenceLength, config.MaxPositionEmbeddings, config.VocabSize, typeVocabSize: 1), outputSize)
    {
        _config = config;
        int h = config.HiddenSize;
        long widest = Math.Max(Math.Max(config.QueryKeyValueWidth, config.IntermediateSize), (long)config.NumAttentionHeads * config.HeadDim);
        if ((long)maxTokens * widest > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "The token capacity is too large for one workspace.");
        Hidden = new float[maxTokens * h];                                            // [N, H]  the residual stream
        Normed = new float[maxTokens * h];                                            // [N, H]  an RMSNorm's output
        QueryKeyValue = new float[maxTokens * config.QueryKeyValueWidth];             // [N, (nH + 2 nKV) dH]
        Context = new float[maxTokens * config.NumAttentionHeads * config.HeadDim];   // [N, nH dH] attention before o_proj
        Projection = new float[maxTokens * h];                                        // [N, H]  a sublayer's output
        Intermediate = new float[maxTokens * config.IntermediateSize];                // [N, I]  SiLU(gate) * up
        LastRows = new float[maxSequences * h];                                       // [B, H]  the last tokens' residual rows
        FinalRows = new float[maxSequences * Math.Max(h, headHiddenSize)];            // [B, H]  final norm of the last tokens
        Output = new float[maxSequences * outputSize];                                // [B, out]
    }

    internal float[] Hidden { get; }
    internal float[] Normed { get; }
    internal float[] QueryKeyValue { get; }
    internal float[] Context { get; }
    internal float[] Projection { get; }
    internal float[] Intermediate { get; }
    internal float[] LastRows { get; }
    internal float[] FinalRows { get; }
    internal float[] Output { get; }

    /// <summary>Tokens of the cached prefix the batch continues (0: none).</summary>
    internal int PrefixLength { get; set; }

    /// <summary>Layer <paramref name="layer"/>'s cache of the current prefix, or null when there is none.</summary>
    internal KeyValuePrefix? PrefixOf(int layer) => PrefixLength > 0 ? _cache![layer] : null;

    /// <summary>The per-layer caches, able to hold <paramref name="tokens"/> prefix tokens (reallocated when too small).</summary>
    internal KeyValuePrefix[] CacheFor(int tokens)
    {
        if (_cache is null || _cache[0].Capacity < tokens)
        {
            int capacity = Math.Min(Batch.MaxSequenceLength, Math.Max(tokens, (int)Math.Min(int.MaxValue, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)tokens))));
            _cache = null;   // let the old one go before the new one is allocated
            _cache = [.. Enumerable.Range(0, _config.NumHiddenLayers).Select(_ => new KeyValuePrefix(_config.NumKeyValueHeads, _config.HeadDim, capacity))];
        }
        return _cache;
    }
}
