using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model;

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

    public BertSelfAttention(WeightSource weights, WeightNames.Layer names, BertConfig config)
    {
        int h = config.HiddenSize;
        _queryKeyValue = Linear.LoadStacked(weights, [names.Query, names.Key, names.Value], h, h);
        _heads = config.NumAttentionHeads;
        _headDim = config.HeadDim;
    }

    /// <summary>context[N, H] = concat over heads of softmax(Q_h K_h^T / sqrt(dH)) V_h, per sequence.</summary>
    public void Forward(ReadOnlySpan<float> hidden, PackedBatch batch, BertWorkspace workspace, Span<float> context)
    {
        int h = _heads * _headDim;
        Span<float> qkv = workspace.QueryKeyValue;                 // [N, 3H]
        _queryKeyValue.Forward(hidden, qkv, batch.TotalTokens);
        float scale = 1f / MathF.Sqrt(_headDim);
        for (int s = 0; s < batch.Count; s++)
        {
            int start = batch.Starts[s], length = batch.Starts[s + 1] - start;
            Span<float> rows = qkv.Slice(start * 3 * h, length * 3 * h);   // [T, 3H] for this sequence
            Attention.MultiHead(rows, rows[h..], rows[(2 * h)..], 3 * h, workspace.ZeroKeyBias.AsSpan(0, length),
                context.Slice(start * h, length * h), length, _heads, _headDim, scale, workspace.AttentionScratch);
        }
    }
}
