using CrossEncoder.Native.Model.Common;
namespace CrossEncoder.Native.Model.Bert;

/// <summary>BertForSequenceClassification's head: one linear layer on the pooled [CLS] vector, giving a logit per label.
/// A cross-encoder has one label: its logit is the relevance of the (query, document) pair.</summary>
internal sealed class BertClassifier(WeightSource weights, BertConfig config)
{
    private readonly Linear _classifier = Linear.Load(weights, BertWeightNames.Classifier, config.HiddenSize, config.NumLabels, quantizable: false, underModelPrefix: false);   // [labels, H]

    /// <summary>logits[B, labels] = pooled[B, H] W^T + b.</summary>
    public void Forward(ReadOnlySpan<float> pooled, Span<float> logits, int sequences) => _classifier.Forward(pooled, logits, sequences);
}
