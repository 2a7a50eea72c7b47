using CrossEncoder.Native.Model;
using CrossEncoder.Native.Reranking;

namespace CrossEncoder.Evaluation.Retrieval;

/// <summary>Sentence embeddings through the public <see cref="Reranker.Embed(IReadOnlyList{string}, Span{float}, int?, CancellationToken)"/>,
/// in chunks so that progress can be reported.</summary>
internal sealed class TextEmbedder
{
    private const int Chunk = 256;
    private readonly Reranker _reranker;

    public TextEmbedder(string modelDirectory, int? maxLength)
    {
        _reranker = Reranker.Load(modelDirectory);
        if (_reranker.Kind != ModelKind.BiEncoder)
            throw new FormatException($"'{modelDirectory}' is a cross-encoder (it scores pairs); dense retrieval needs a bi-encoder that embeds texts (e.g. all-MiniLM-L6-v2).");
        int limit = _reranker.ModelMaxLength;
        MaxLength = maxLength ?? limit;
        if (MaxLength < 2 || MaxLength > limit) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, $"the maximum length must be between 2 and the model's limit {limit}.");
    }

    public int MaxLength { get; }

    /// <summary>Width of one embedding (H).</summary>
    public int Dimension => _reranker.EmbeddingSize;

    /// <summary>Embeds each text; returns [n, H] row-major. <paramref name="progress"/> receives (texts done, tokens done).</summary>
    public float[] Embed(IReadOnlyList<string> texts, Action<int, long>? progress, CancellationToken cancellationToken)
    {
        int h = Dimension;
        var output = new float[(long)texts.Count * h > int.MaxValue ? throw new InvalidOperationException("too many texts for one array") : texts.Count * h];   // [n, H]
        long tokens = 0;
        for (int first = 0; first < texts.Count; first += Chunk)
        {
            var part = texts.Skip(first).Take(Chunk).ToArray();
            var sequences = _reranker.EncodeTexts(part, MaxLength, cancellationToken);
            var block = new float[part.Length * h];
            _reranker.Forward(sequences, block, cancellationToken);
            block.CopyTo(output.AsSpan(first * h));
            tokens += sequences.Sum(s => (long)s.Length);
            progress?.Invoke(first + part.Length, tokens);
        }
        return output;
    }

    /// <summary>Tokens (specials included) of one text as the model reads it.</summary>
    public int CountTokens(string text) => _reranker.Tokenizer.EncodeSingle(text, MaxLength).Length;
}
