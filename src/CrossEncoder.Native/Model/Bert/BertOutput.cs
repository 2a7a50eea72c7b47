using CrossEncoder.Native.Model.Common;
namespace CrossEncoder.Native.Model.Bert;

/// <summary>The second half of the feed-forward block: project back to the hidden width, add the residual, LayerNorm.</summary>
internal sealed class BertOutput(WeightSource weights, BertWeightNames.Layer names, BertConfig config)
{
    private readonly Linear _dense = Linear.Load(weights, names.Output, config.IntermediateSize, config.HiddenSize, quantizable: true);   // [H, I]
    private readonly LayerNormParameters _layerNorm = LayerNormParameters.Load(weights, names.OutputLayerNorm, config.HiddenSize, config.LayerNormEps);

    /// <summary>hidden[N, H] = LayerNorm(intermediate W^T + b + hidden).</summary>
    public void Forward(ReadOnlySpan<float> intermediate, Span<float> hidden, Span<float> scratch, int tokens)
    {
        _dense.ForwardAddLayerNorm(intermediate, hidden, scratch, tokens, _layerNorm);   // dense [N, H] in scratch, then residual + LayerNorm per cache-hot row block
    }
}
