using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.ModernBert;

/// <summary>
/// ModernBERT self-attention (transformers' <c>ModernBertAttention</c>): a fused Wqkv [3H, H] projection; rotary position
/// embeddings on Q and K; scaled dot-product attention, global or in a sliding window; the output projection Wo [H, H].
/// <list type="bullet">
/// <item>Rotary convention: <b>rotate-half</b> (GPT-NeoX), not interleaved pairs. Head vector halves x1 = x[:dH/2] and
/// x2 = x[dH/2:] form the rotated pairs: <c>x*cos + rotate_half(x)*sin</c> with <c>rotate_half(x) = [-x2, x1]</c>
/// (<c>apply_rotary_pos_emb</c>; flash-attn's <c>apply_rotary(..., interleaved=False)</c> on the unpadded path). The angle of
/// pair j at position p is p * theta^(-2j/dH), theta = <c>global_rope_theta</c> (160,000) on global layers and
/// <c>local_rope_theta</c> (10,000) on local ones; p counts from 0 in each sequence.</item>
/// <item>Window: a local layer (<c>layer_id % global_attn_every_n_layers != 0</c>, or <c>"sliding_attention"</c> in
/// <c>layer_types</c>) lets query i see key j when <c>|i - j| &lt;= local_attention // 2</c>: 64 keys on each side plus itself,
/// 129 in all, both edges inclusive. That is transformers' eager/sdpa mask (<c>distance &lt;= local_attention // 2</c>) and
/// flash-attn's <c>window_size=(64, 64)</c>.</item>
/// <item>Scale 1/sqrt(dH); no attention mask beyond the window because sequences are packed without padding.</item>
/// </list>
/// </summary>
internal sealed class ModernBertAttention
{
    private readonly Linear _wqkv;     // [3H, H]: rows 0..H-1 query, H..2H-1 key, 2H..3H-1 value
    private readonly Linear _wo;       // [H, H]
    private readonly RotaryTable _rotary;
    private readonly int _window;      // keys on each side, or Attention.Global
    private readonly int _heads, _headDim;
    private readonly KernelCapabilities _capabilities;

    public ModernBertAttention(WeightSource weights, ModernBertWeightNames.Layer names, ModernBertConfig config, bool global, RotaryTable rotary)
    {
        int h = config.HiddenSize;
        _wqkv = Linear.Load(weights, names.Wqkv, h, 3 * h, quantizable: true, hasBias: config.AttentionBias);
        _wo = Linear.Load(weights, names.AttentionOutput, h, h, quantizable: true, hasBias: config.AttentionBias);
        _rotary = rotary;
        _window = global ? Attention.Global : config.WindowRadius;
        _heads = config.NumAttentionHeads;
        _headDim = config.HeadDim;
        _capabilities = weights.Capabilities;
    }

    /// <summary>True for a sliding-window layer.</summary>
    public bool IsLocal => _window != Attention.Global;

    /// <summary>output[N, H] = Wo(attention(rotary(Wqkv x))) for the packed batch; x is the normed input [N, H]. With a
    /// <paramref name="tap"/>, the probabilities are reported under <paramref name="probabilitiesTap"/> ([nH*T, T] per sequence).</summary>
    public void Forward(ReadOnlySpan<float> x, PackedBatch batch, ModernBertWorkspace workspace, Span<float> output, ActivationTap? tap = null, string probabilitiesTap = "")
    {
        int n = batch.TotalTokens, h = _heads * _headDim;
        Span<float> qkv = workspace.QueryKeyValue.AsSpan(0, n * 3 * h);                 // [N, 3H]
        _wqkv.Forward(x, qkv, n);
        Rotary.ApplyBatch(qkv, 3 * h, batch.Starts, batch.Count, _heads, _rotary, _capabilities);   // Q, K rotated by position
        if (tap is not null) AttentionTap.Report(tap, probabilitiesTap, qkv, 3 * h, h, batch, workspace, _heads, _heads, _headDim, _window, causal: false, _capabilities);
        Span<float> context = workspace.Context.AsSpan(0, n * h);                        // [N, H]
        Attention.MultiHeadBatch(qkv, 3 * h, batch.Starts, batch.Count, context, firstTokenOnly: false, _heads, _headDim,
            1f / MathF.Sqrt(_headDim), _window, _capabilities);
        _wo.Forward(context, output, n);
    }

    /// <summary>
    /// The first token of each sequence only (a last layer whose head reads [CLS]): output[B, H] row b is Wo of token 0 of
    /// sequence b attending over its keys (all of them, or its window [0, radius]). Q, K, V are projected and rotated for
    /// every token, as only K and V of the other rows are needed but the fused Wqkv makes them in one product.
    /// </summary>
    public void ForwardFirstTokens(ReadOnlySpan<float> x, PackedBatch batch, ModernBertWorkspace workspace, Span<float> output)
    {
        int n = batch.TotalTokens, b = batch.Count, h = _heads * _headDim;
        Span<float> qkv = workspace.QueryKeyValue.AsSpan(0, n * 3 * h);                 // [N, 3H]
        _wqkv.Forward(x, qkv, n);
        Rotary.ApplyBatch(qkv, 3 * h, batch.Starts, batch.Count, _heads, _rotary, _capabilities);
        Span<float> context = workspace.Context.AsSpan(0, b * h);                        // [B, H] first tokens only
        Attention.MultiHeadBatch(qkv, 3 * h, batch.Starts, batch.Count, context, firstTokenOnly: true, _heads, _headDim,
            1f / MathF.Sqrt(_headDim), _window, _capabilities);
        _wo.Forward(context, output, b);
    }
}
