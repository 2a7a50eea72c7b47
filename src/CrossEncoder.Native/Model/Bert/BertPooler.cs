using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model.Bert;

/// <summary>BERT's pooler: the final hidden state of each sequence's first token ([CLS]) through dense + tanh.</summary>
internal sealed class BertPooler(WeightSource weights, BertConfig config)
{
    private readonly Linear _dense = Linear.Load(weights, BertWeightNames.Pooler, config.HiddenSize, config.HiddenSize, quantizable: false);   // [H, H]

    /// <summary>pooled[B, H] = tanh(hidden[start_b] W^T + b) for each sequence b.</summary>
    public void Forward(ReadOnlySpan<float> hidden, PackedBatch batch, Span<float> clsRows, Span<float> pooled)
    {
        int h = _dense.InFeatures;
        for (int s = 0; s < batch.Count; s++) hidden.Slice(batch.Starts[s] * h, h).CopyTo(clsRows.Slice(s * h, h));   // [B, H]
        _dense.Forward(clsRows, pooled, batch.Count);
        var active = pooled[..(batch.Count * h)];
        Activations.Tanh(active, active);
    }
}
