using CrossEncoder.Native.Model.Common;
namespace CrossEncoder.Native.Model.Bert;

/// <summary>Projects the attention context back to the hidden width, then adds the residual and normalises (post-LN).</summary>
internal sealed class BertSelfOutput(WeightSource weights, BertWeightNames.Layer names, BertConfig config)
{
    private readonly Linear _dense = Linear.Load(weights, names.AttentionOutput, config.HiddenSize, config.HiddenSize, quantizable: true);   // [H, H]
    private readonly LayerNormParameters _layerNorm = LayerNormParameters.Load(weights, names.AttentionLayerNorm, config.HiddenSize, config.LayerNormEps);

    /// <summary>hidden[N, H] = LayerNorm(context W^T + b + hidden).</summary>
    public void Forward(ReadOnlySpan<float> context, Span<float> hidden, Span<float> scratch, int tokens)
    {
        _dense.ForwardAddLayerNorm(context, hidden, scratch, tokens, _layerNorm);   // dense [N, H] in scratch, then residual + LayerNorm per cache-hot row block
    }
}
