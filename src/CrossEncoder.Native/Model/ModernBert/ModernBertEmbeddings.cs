using CrossEncoder.Native.Model.Common;

namespace CrossEncoder.Native.Model.ModernBert;

/// <summary>
/// ModernBERT's embeddings: the token embedding, then LayerNorm. Unlike BERT there are no position or token-type tables:
/// positions enter every attention layer as rotary embeddings instead (<see cref="ModernBertAttention"/>).
/// </summary>
internal sealed class ModernBertEmbeddings
{
    private readonly float[] _token;   // [V, H]
    private readonly LayerNormParameters _norm;
    private readonly int _hidden;

    public ModernBertEmbeddings(WeightSource weights, ModernBertConfig config)
    {
        _hidden = config.HiddenSize;
        _token = weights.TakeTable(ModernBertWeightNames.Embeddings.Token, [config.VocabSize, config.HiddenSize]);
        _norm = LayerNormParameters.Load(weights, ModernBertWeightNames.Embeddings.Norm, config.HiddenSize, config.NormEps, config.NormBias);
    }

    /// <summary>hidden[N, H] = LayerNorm(tok_embeddings[id]) for every packed token.</summary>
    public void Forward(PackedBatch batch, Span<float> hidden)
    {
        int h = _hidden;
        for (int row = 0; row < batch.TotalTokens; row++)
            _token.AsSpan(batch.InputIds[row] * h, h).CopyTo(hidden.Slice(row * h, h));
        _norm.Forward(hidden, batch.TotalTokens);
    }
}
