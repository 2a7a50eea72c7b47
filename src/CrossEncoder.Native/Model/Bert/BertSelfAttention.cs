using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model.Bert;

/// <summary>
/// Multi-head self-attention: every token builds a query, key and value vector; each head scores all keys of the same
/// sequence against the query (scaled dot product), turns the scores into weights with softmax, and averages the values.
/// Q, K and V are computed by one fused projection ([3H, H]); sequences are packed without padding, so each attends only
/// to its own tokens and no attention mask is needed.
/// </summary>
internal sealed class BertSelfAttention
{
    private readonly Linear _queryKeyValue;   // [3H, H]: rows 0..H-1 query, H..2H-1 key, 2H..3H-1 value
    private readonly int _heads;
    private readonly int _headDim;
    private readonly KernelCapabilities _capabilities;

    public BertSelfAttention(WeightSource weights, BertWeightNames.Layer names, BertConfig config)
    {
        int h = config.HiddenSize;
        _queryKeyValue = Linear.LoadStacked(weights, [names.Query, names.Key, names.Value], h, h, quantizable: true);
        _heads = config.NumAttentionHeads;
        _headDim = config.HeadDim;
        _capabilities = weights.Capabilities;
    }

    /// <summary>context[N, H] = concat over heads of softmax(Q_h K_h^T / sqrt(dH)) V_h, per sequence. With a
    /// <paramref name="tap"/>, the probabilities are reported under <paramref name="probabilitiesTap"/> ([nH*T, T] per sequence).</summary>
    public void Forward(ReadOnlySpan<float> hidden, PackedBatch batch, BertWorkspace workspace, Span<float> context, ActivationTap? tap = null, string probabilitiesTap = "")
    {
        int h = _heads * _headDim;
        Span<float> qkv = workspace.QueryKeyValue;                 // [N, 3H]
        _queryKeyValue.Forward(hidden, qkv, batch.TotalTokens);
        if (tap is not null) AttentionTap.Report(tap, probabilitiesTap, qkv, 3 * h, h, batch, workspace, _heads, _heads, _headDim, Attention.Global, causal: false, _capabilities);
        // Sequence s is rows [start_s, start_s+1) of qkv: each attends to its own tokens only (no padding, so no mask).
        Attention.MultiHeadBatch(qkv, 3 * h, batch.Starts, batch.Count, context, firstTokenOnly: false, _heads, _headDim, 1f / MathF.Sqrt(_headDim), _capabilities);
    }

    /// <summary>
    /// The first token of each sequence only (a cross-encoder's last layer, whose head reads [CLS]): context[B, H] row b is
    /// that token attending over all tokens of sequence b. Keys and values are projected for every token, the query only for
    /// the first tokens (<paramref name="firstTokens"/>[B, H], their hidden rows).
    /// </summary>
    public void ForwardFirstTokens(ReadOnlySpan<float> hidden, ReadOnlySpan<float> firstTokens, PackedBatch batch, BertWorkspace workspace, Span<float> context)
    {
        int h = _heads * _headDim, n = batch.TotalTokens, b = batch.Count;
        Span<float> qkv = workspace.QueryKeyValue;                 // [N, 3H], Q valid on first-token rows only
        if (_queryKeyValue.CanStartColumnsAt(h))
        {
            _queryKeyValue.ForwardColumns(hidden, qkv, n, 3 * h, h, 2 * h);          // K | V for every token
            Span<float> queries = workspace.Projection.AsSpan(0, b * h);               // [B, H] Q of the first tokens
            _queryKeyValue.ForwardColumns(firstTokens, queries, b, h, 0, h);
            for (int s = 0; s < b; s++) queries.Slice(s * h, h).CopyTo(qkv.Slice(batch.Starts[s] * 3 * h, h));
        }
        else _queryKeyValue.Forward(hidden, qkv, n);                                    // Q | K | V for every token
        Attention.MultiHeadBatch(qkv, 3 * h, batch.Starts, b, context, firstTokenOnly: true, _heads, _headDim, 1f / MathF.Sqrt(_headDim), _capabilities);
    }
}
