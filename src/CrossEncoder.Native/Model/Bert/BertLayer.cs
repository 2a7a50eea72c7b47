using CrossEncoder.Native.Model.Common;
namespace CrossEncoder.Native.Model.Bert;

/// <summary>One transformer encoder block: self-attention then feed-forward, each followed by residual + LayerNorm.</summary>
internal sealed class BertLayer
{
    private readonly BertSelfAttention _attention;
    private readonly BertSelfOutput _attentionOutput;
    private readonly BertIntermediate _intermediate;
    private readonly BertOutput _output;
    private readonly ModelTaps.LayerNames _taps;

    public BertLayer(WeightSource weights, BertConfig config, int index)
    {
        var names = new BertWeightNames.Layer(index);
        _attention = new BertSelfAttention(weights, names, config);
        _attentionOutput = new BertSelfOutput(weights, names, config);
        _intermediate = new BertIntermediate(weights, names, config);
        _output = new BertOutput(weights, names, config);
        _taps = new ModelTaps.LayerNames(index);
    }

    /// <summary>hidden[N, H] is updated in place. With a <paramref name="tap"/>, the per-layer taps of <see cref="ModelTaps"/>
    /// are reported (the dense outputs are read from the scratch the fused add + LayerNorm leaves them in).</summary>
    public void Forward(Span<float> hidden, PackedBatch batch, BertWorkspace workspace, ActivationTap? tap = null)
    {
        int tokens = batch.TotalTokens, h = _intermediate.InFeatures, i = _intermediate.OutFeatures;
        _attention.Forward(hidden, batch, workspace, workspace.Context, tap, _taps.AttentionProbabilities);   // context [N, H]
        _attentionOutput.Forward(workspace.Context, hidden, workspace.Projection, tokens);       // hidden = LN(context Wo + hidden)
        tap?.Invoke(_taps.AttentionOutput, workspace.Projection.AsSpan(0, tokens * h), tokens, h);   // context Wo + b
        tap?.Invoke(_taps.AttentionResidual, hidden[..(tokens * h)], tokens, h);
        _intermediate.Forward(hidden, workspace.Intermediate, tokens);                         // inter    [N, I] = GELU(hidden Wi)
        tap?.Invoke(_taps.FeedForwardIntermediate, workspace.Intermediate.AsSpan(0, tokens * i), tokens, i);
        _output.Forward(workspace.Intermediate, hidden, workspace.Projection, tokens);           // hidden = LN(inter Wo2 + hidden)
        tap?.Invoke(_taps.FeedForwardOutput, workspace.Projection.AsSpan(0, tokens * h), tokens, h);   // inter Wo2 + b
    }

    /// <summary>
    /// The same block computed for the first token of each sequence only: all that a head reading [CLS] needs from the last
    /// layer (keys and values still come from every token). Rows hidden[start_b] are updated; the other rows keep their input.
    /// </summary>
    public void ForwardFirstTokens(Span<float> hidden, PackedBatch batch, BertWorkspace workspace)
    {
        int b = batch.Count, h = _intermediate.InFeatures;
        Span<float> first = workspace.ClsRows.AsSpan(0, b * h);                                 // first    [B, H]
        for (int s = 0; s < b; s++) hidden.Slice(batch.Starts[s] * h, h).CopyTo(first.Slice(s * h, h));
        _attention.ForwardFirstTokens(hidden, first, batch, workspace, workspace.Context);       // context  [B, H]
        _attentionOutput.Forward(workspace.Context, first, workspace.Projection, b);            // first = LN(context Wo + first)
        _intermediate.Forward(first, workspace.Intermediate, b);                               // inter    [B, I]
        _output.Forward(workspace.Intermediate, first, workspace.Projection, b);                // first = LN(inter Wo2 + first)
        for (int s = 0; s < b; s++) first.Slice(s * h, h).CopyTo(hidden.Slice(batch.Starts[s] * h, h));
    }
}
