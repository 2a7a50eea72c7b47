using CrossEncoder.Native.Model.Common;
namespace CrossEncoder.Native.Model.Bert;

/// <summary>The first half of the feed-forward block: widen each token to the intermediate size and apply exact GELU.</summary>
internal sealed class BertIntermediate(WeightSource weights, BertWeightNames.Layer names, BertConfig config)
{
    private readonly Linear _dense = Linear.Load(weights, names.Intermediate, config.HiddenSize, config.IntermediateSize, quantizable: true);   // [I, H]

    public int InFeatures => _dense.InFeatures;

    public int OutFeatures => _dense.OutFeatures;

    /// <summary>intermediate[N, I] = GELU(hidden W^T + b).</summary>
    public void Forward(ReadOnlySpan<float> hidden, Span<float> intermediate, int tokens) =>
        _dense.ForwardGelu(hidden, intermediate, tokens);   // dense, then GELU on each finished tile (fused: one pass fewer over [N, I])
}
