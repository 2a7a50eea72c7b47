namespace CrossEncoder.Native.Model;

/// <summary>The second half of the feed-forward block: project back to the hidden width, add the residual, LayerNorm.</summary>
internal sealed class BertOutput(WeightSource weights, WeightNames.Layer names, BertConfig config)
{
    private readonly Linear _dense = Linear.Load(weights, names.Output, config.IntermediateSize, config.HiddenSize);   // [H, I]
    private readonly LayerNormParameters _layerNorm = LayerNormParameters.Load(weights, names.OutputLayerNorm, config.HiddenSize, config.LayerNormEps);

    /// <summary>hidden[N, H] = LayerNorm(intermediate W^T + b + hidden).</summary>
    public void Forward(ReadOnlySpan<float> intermediate, Span<float> hidden, Span<float> scratch, int tokens)
    {
        _dense.ForwardAddLayerNorm(intermediate, hidden, scratch, tokens, _layerNorm);   // dense [N, H] in scratch, then residual + LayerNorm per cache-hot row block
    }
}
