using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model.Bert;

/// <summary>
/// The head of ElectraForSequenceClassification: the [CLS] token's final hidden state through <c>dense -> GELU -> out_proj</c>
/// (ELECTRA's authors used GELU where BERT's pooler has tanh). ELECTRA has no pooler.
/// </summary>
internal sealed class ElectraClassificationHead(WeightSource weights, BertConfig config) : ISequenceClassificationHead
{
    private readonly Linear _dense = Linear.Load(weights, BertWeightNames.ClassificationHead.Dense, config.HiddenSize, config.HiddenSize, quantizable: false, underModelPrefix: false);      // [H, H]
    private readonly KernelCapabilities _capabilities = weights.Capabilities;
    private readonly Linear _outProj = Linear.Load(weights, BertWeightNames.ClassificationHead.OutProj, config.HiddenSize, config.NumLabels, quantizable: false, underModelPrefix: false);  // [labels, H]

    /// <summary>logits[B, labels] = out_proj(GELU(dense(hidden[start_b]))).</summary>
    public void Forward(ReadOnlySpan<float> hidden, PackedBatch batch, Span<float> firstRows, Span<float> dense, Span<float> logits)
    {
        int h = _dense.InFeatures, b = batch.Count;
        for (int s = 0; s < b; s++) hidden.Slice(batch.Starts[s] * h, h).CopyTo(firstRows.Slice(s * h, h));   // [B, H]
        _dense.Forward(firstRows, dense, b);                                                                   // [B, H]
        Gelu.Apply(dense[..(b * h)], dense[..(b * h)], _capabilities);
        _outProj.Forward(dense, logits, b);                                                                    // [B, labels]
    }
}
