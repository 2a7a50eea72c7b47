using CrossEncoder.Native.Model.Common;
namespace CrossEncoder.Native.Model.Bert;

/// <summary>A two-layer classification head on each sequence's first token (RoBERTa's and ELECTRA's; BERT's is
/// <see cref="BertPooler"/> + <see cref="BertClassifier"/>).</summary>
internal interface ISequenceClassificationHead
{
    /// <summary>logits[B, labels] from hidden[N, H]; <paramref name="firstRows"/> and <paramref name="dense"/> are [B, H] scratch.</summary>
    void Forward(ReadOnlySpan<float> hidden, PackedBatch batch, Span<float> firstRows, Span<float> dense, Span<float> logits);
}
