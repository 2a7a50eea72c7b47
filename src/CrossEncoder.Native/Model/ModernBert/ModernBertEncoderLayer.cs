using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.ModernBert;

/// <summary>
/// One pre-norm ModernBERT block (<c>ModernBertEncoderLayer</c>):
/// <c>h = h + attn(attn_norm(h))</c>, then <c>h = h + mlp(mlp_norm(h))</c>. Layer 0's <c>attn_norm</c> is the identity (the
/// embeddings end in a LayerNorm already), so its checkpoint has no <c>layers.0.attn_norm</c> tensors.
/// </summary>
internal sealed class ModernBertEncoderLayer
{
    private readonly LayerNormParameters? _attentionNorm;   // null on layer 0
    private readonly ModernBertAttention _attention;
    private readonly LayerNormParameters _mlpNorm;
    private readonly ModernBertMlp _mlp;
    private readonly int _hidden;
    private readonly ModelTaps.LayerNames _taps;

    public ModernBertEncoderLayer(WeightSource weights, ModernBertConfig config, int index, RotaryTable globalRotary, RotaryTable localRotary)
    {
        var names = new ModernBertWeightNames.Layer(index);
        _hidden = config.HiddenSize;
        bool global = config.GlobalLayers[index];
        if (index > 0) _attentionNorm = LayerNormParameters.Load(weights, names.AttentionNorm, config.HiddenSize, config.NormEps, config.NormBias);
        _attention = new ModernBertAttention(weights, names, config, global, global ? globalRotary : localRotary);
        _mlpNorm = LayerNormParameters.Load(weights, names.MlpNorm, config.HiddenSize, config.NormEps, config.NormBias);
        _mlp = new ModernBertMlp(weights, names, config);
        _taps = new ModelTaps.LayerNames(index);
    }

    /// <summary>True for a sliding-window layer.</summary>
    public bool IsLocal => _attention.IsLocal;

    /// <summary>hidden[N, H], the residual stream, is updated in place; a <paramref name="tap"/> gets the per-layer taps of
    /// <see cref="ModelTaps"/>.</summary>
    public void Forward(Span<float> hidden, PackedBatch batch, ModernBertWorkspace workspace, ActivationTap? tap = null)
    {
        int n = batch.TotalTokens;
        Span<float> normed = workspace.Normed.AsSpan(0, n * _hidden);                 // [N, H]
        Span<float> projection = workspace.Projection.AsSpan(0, n * _hidden);         // [N, H]
        ReadOnlySpan<float> attentionInput = hidden[..(n * _hidden)];
        if (_attentionNorm is not null)
        {
            _attentionNorm.Forward(hidden, normed, n);                                 // normed = attn_norm(h)
            attentionInput = normed;
        }
        _attention.Forward(attentionInput, batch, workspace, projection, tap, _taps.AttentionProbabilities);   // projection = attn(...)
        tap?.Invoke(_taps.AttentionOutput, projection, n, _hidden);
        Activations.AddInPlace(hidden[..(n * _hidden)], projection);                   // h += attention
        tap?.Invoke(_taps.AttentionResidual, hidden[..(n * _hidden)], n, _hidden);
        _mlpNorm.Forward(hidden, normed, n);                                           // normed = mlp_norm(h)
        _mlp.Forward(normed, workspace, projection, n, tap, _taps.FeedForwardIntermediate);   // projection = mlp(normed)
        tap?.Invoke(_taps.FeedForwardOutput, projection, n, _hidden);
        Activations.AddInPlace(hidden[..(n * _hidden)], projection);                   // h += feed-forward
    }

    /// <summary>
    /// The same block for the first token of each sequence only: all a head reading [CLS] needs from the last layer (keys and
    /// values still come from every token). Rows hidden[start_b] are updated; the other rows keep their input.
    /// </summary>
    public void ForwardFirstTokens(Span<float> hidden, PackedBatch batch, ModernBertWorkspace workspace)
    {
        int n = batch.TotalTokens, b = batch.Count, h = _hidden;
        Span<float> normed = workspace.Normed.AsSpan(0, n * h);                       // [N, H]
        Span<float> projection = workspace.Projection.AsSpan(0, b * h);               // [B, H]
        Span<float> first = workspace.FirstRows.AsSpan(0, b * h);                     // [B, H] the first tokens' residual rows
        ReadOnlySpan<float> attentionInput = hidden[..(n * h)];
        if (_attentionNorm is not null)
        {
            _attentionNorm.Forward(hidden, normed, n);                                 // K, V need every row normed
            attentionInput = normed;
        }
        _attention.ForwardFirstTokens(attentionInput, batch, workspace, projection);  // projection[B] = attn(first tokens)
        for (int s = 0; s < b; s++) hidden.Slice(batch.Starts[s] * h, h).CopyTo(first.Slice(s * h, h));
        Activations.AddInPlace(first, projection);                                     // first += attention
        Span<float> normedFirst = normed[..(b * h)];
        _mlpNorm.Forward(first, normedFirst, b);                                       // mlp_norm(first)
        _mlp.Forward(normedFirst, workspace, projection, b);                           // projection[B] = mlp(...)
        Activations.AddInPlace(first, projection);                                     // first += feed-forward
        for (int s = 0; s < b; s++) first.Slice(s * h, h).CopyTo(hidden.Slice(batch.Starts[s] * h, h));
    }
}
