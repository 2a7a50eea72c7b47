using CrossEncoder.Native.Model.Common;
using CrossEncoder.Native.Kernels;

namespace CrossEncoder.Native.Model.Bert;

/// <summary>
/// The head of RobertaForSequenceClassification (and XLMRoberta...): the first token's (<c>&lt;s&gt;</c>) final hidden state
/// through <c>dense -> tanh -> out_proj</c>. It plays the part of BERT's pooler + classifier, but its dense layer belongs to
/// the head (<c>classifier.dense</c>), and the encoder has no pooler.
/// </summary>
internal sealed class RobertaClassificationHead(WeightSource weights, BertConfig config) : ISequenceClassificationHead
{
    private readonly Linear _dense = Linear.Load(weights, BertWeightNames.ClassificationHead.Dense, config.HiddenSize, config.HiddenSize, quantizable: false, underModelPrefix: false);      // [H, H]
    private readonly Linear _outProj = Linear.Load(weights, BertWeightNames.ClassificationHead.OutProj, config.HiddenSize, config.NumLabels, quantizable: false, underModelPrefix: false);  // [labels, H]

    /// <summary>logits[B, labels] = out_proj(tanh(dense(hidden[start_b]))).</summary>
    public void Forward(ReadOnlySpan<float> hidden, PackedBatch batch, Span<float> firstRows, Span<float> dense, Span<float> logits)
    {
        int h = _dense.InFeatures, b = batch.Count;
        for (int s = 0; s < b; s++) hidden.Slice(batch.Starts[s] * h, h).CopyTo(firstRows.Slice(s * h, h));   // [B, H]
        _dense.Forward(firstRows, dense, b);                                                                   // [B, H]
        Activations.Tanh(dense[..(b * h)], dense[..(b * h)]);
        _outProj.Forward(dense, logits, b);                                                                    // [B, labels]
    }
}
