using System.Numerics.Tensors;

namespace CrossEncoder.Native.Model;

/// <summary>
/// Turns token ids into the first hidden states: the sum of a word embedding, a position embedding (the token's index
/// within its own sequence) and a token-type (segment) embedding, followed by LayerNorm.
/// </summary>
internal sealed class BertEmbeddings
{
    private readonly float[] _word;       // [V, H]
    private readonly float[] _position;   // [maxPositions, H]
    private readonly float[] _tokenType;  // [typeVocab, H]
    private readonly LayerNormParameters _layerNorm;
    private readonly BertConfig _config;

    public BertEmbeddings(WeightSource weights, BertConfig config)
    {
        _config = config;
        int h = config.HiddenSize;
        _word = weights.Take(WeightNames.Embeddings.Word, [config.VocabSize, h]);
        _position = weights.Take(WeightNames.Embeddings.Position, [config.MaxPositionEmbeddings, h]);
        _tokenType = weights.Take(WeightNames.Embeddings.TokenType, [config.TypeVocabSize, h]);
        _layerNorm = LayerNormParameters.Load(weights, WeightNames.Embeddings.LayerNorm, h, config.LayerNormEps);
    }

    /// <summary>hidden[N, H] = LayerNorm(word[id] + position[t] + type[typeId]) for every packed token.</summary>
    public void Forward(PackedBatch batch, Span<float> hidden)
    {
        int h = _config.HiddenSize;
        for (int s = 0; s < batch.Count; s++)
        {
            int start = batch.Starts[s], length = batch.Starts[s + 1] - start;
            for (int t = 0; t < length; t++)
            {
                int row = start + t;
                var destination = hidden.Slice(row * h, h);
                // Same order as modeling_bert.py: (word + token type) + position.
                TensorPrimitives.Add(_word.AsSpan(batch.InputIds[row] * h, h), _tokenType.AsSpan(batch.TokenTypeIds[row] * h, h), destination);
                TensorPrimitives.Add(destination, _position.AsSpan(t * h, h), destination);
            }
        }
        _layerNorm.Forward(hidden, batch.TotalTokens);
    }
}
