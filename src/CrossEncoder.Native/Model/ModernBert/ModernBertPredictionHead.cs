using CrossEncoder.Native.Kernels;
using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.ModernBert;

/// <summary>
/// The head of <c>ModernBertForSequenceClassification</c>: the final hidden states pooled per sequence
/// (<c>classifier_pooling</c>: <c>cls</c> takes the first token, <c>mean</c> averages the sequence's tokens), then
/// <c>head</c> = dense (bias per <c>classifier_bias</c>) -> <c>classifier_activation</c> -> LayerNorm, then
/// <c>classifier</c> [labels, H] with a bias. Dropout is the identity at inference.
/// </summary>
internal sealed class ModernBertPredictionHead
{
    private readonly Linear _dense;        // [H, H]
    private readonly LayerNormParameters _norm;
    private readonly Linear _classifier;   // [labels, H]
    private readonly string _activation;
    private readonly bool _meanPooling;
    private readonly KernelCapabilities _capabilities;
    private readonly int _hidden;

    /// <summary>True for CLS pooling: only the first token of each sequence is read.</summary>
    public bool ReadsFirstTokenOnly => !_meanPooling;

    public ModernBertPredictionHead(WeightSource weights, ModernBertConfig config)
    {
        int h = config.HiddenSize;
        _hidden = h;
        _dense = Linear.Load(weights, ModernBertWeightNames.Head.Dense, h, h, quantizable: false, underModelPrefix: false, hasBias: config.ClassifierBias);
        _norm = LayerNormParameters.Load(weights, ModernBertWeightNames.Head.Norm, h, config.NormEps, config.NormBias, underModelPrefix: false);
        _classifier = Linear.Load(weights, ModernBertWeightNames.Classifier, h, config.NumLabels, quantizable: false, underModelPrefix: false);
        _activation = config.ClassifierActivation;
        _meanPooling = config.ClassifierPooling == "mean";
        _capabilities = weights.Capabilities;
    }

    /// <summary>
    /// logits[B, labels] from the final hidden states hidden[N, H]; pooled[B, H] receives the pooled rows and
    /// headHidden[B, H] what the classifier reads (norm(act(dense(pooled)))).
    /// </summary>
    public void Forward(ReadOnlySpan<float> hidden, PackedBatch batch, Span<float> pooled, Span<float> headHidden, Span<float> logits)
    {
        int b = batch.Count, h = _hidden;
        for (int s = 0; s < b; s++)
        {
            var rows = hidden.Slice(batch.Starts[s] * h, batch.LengthOf(s) * h);
            if (_meanPooling) Pooling.MeanOfRows(rows, batch.LengthOf(s), h, pooled.Slice(s * h, h));   // mean over real tokens
            else rows[..h].CopyTo(pooled.Slice(s * h, h));                                             // [CLS]
        }
        Span<float> dense = headHidden[..(b * h)];
        _dense.Forward(pooled, dense, b);                                             // [B, H]
        switch (_activation)
        {
            case "gelu": Gelu.Apply(dense, dense, _capabilities); break;
            case "tanh": Activations.Tanh(dense, dense); break;
            case "relu": Activations.Relu(dense, dense); break;
            case "silu": Activations.Silu(dense, dense); break;
            default: break;                                                           // "linear": identity
        }
        _norm.Forward(dense, b);                                                      // LayerNorm
        _classifier.Forward(dense, logits, b);                                        // [B, labels]
    }
}
