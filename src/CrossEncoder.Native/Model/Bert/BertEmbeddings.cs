using CrossEncoder.Native.Model.Common;
using System.Numerics.Tensors;

namespace CrossEncoder.Native.Model.Bert;

/// <summary>
/// Turns token ids into the first hidden states: the sum of a word embedding, a position embedding (the token's index
/// within its own sequence; RoBERTa counts from <c>padding_idx + 1</c>) and a token-type (segment) embedding, followed by
/// LayerNorm. The tables are E wide: H, except in ELECTRA models whose <see cref="ElectraEmbeddingsProject"/> widens them.
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
        int h = config.EmbeddingSize;   // E
        _word = weights.TakeTable(BertWeightNames.Embeddings.Word, [config.VocabSize, h]);
        _position = weights.Take(BertWeightNames.Embeddings.Position, [config.MaxPositionEmbeddings, h]);
        _tokenType = weights.Take(BertWeightNames.Embeddings.TokenType, [config.TypeVocabSize, h]);
        _layerNorm = LayerNormParameters.Load(weights, BertWeightNames.Embeddings.LayerNorm, h, config.LayerNormEps);
    }

    /// <summary>embedded[N, E] = LayerNorm(word[id] + position[p(t)] + type[typeId]) for every packed token.</summary>
    public void Forward(PackedBatch batch, Span<float> hidden)
    {
        int h = _config.EmbeddingSize;
        int pad = _config.PadTokenId;
        bool roberta = _config.Family == EncoderFamily.Roberta;
        for (int s = 0; s < batch.Count; s++)
        {
            int start = batch.Starts[s], length = batch.Starts[s + 1] - start;
            int nonPadding = 0;
            for (int t = 0; t < length; t++)
            {
                int row = start + t;
                // BERT: p = t. RoBERTa (create_position_ids_from_input_ids): padding_idx + the count of non-padding tokens up to
                // and including this one, and padding_idx itself for a padding token; a packed batch has no padding, so this is
                // padding_idx + 1 + t unless the text itself contained the pad token.
                int position = !roberta ? t : batch.InputIds[row] == pad ? pad : pad + ++nonPadding;
                var destination = hidden.Slice(row * h, h);
                // Same order as modeling_bert.py: (word + token type) + position.
                TensorPrimitives.Add(_word.AsSpan(batch.InputIds[row] * h, h), _tokenType.AsSpan(batch.TokenTypeIds[row] * h, h), destination);
                TensorPrimitives.Add(destination, _position.AsSpan(position * h, h), destination);
            }
        }
        _layerNorm.Forward(hidden, batch.TotalTokens);
    }
}
