using CrossEncoder.Native.Model;
using CrossEncoder.Native.Tokenization;

namespace CrossEncoder.Native.Reranking;

/// <summary>Sentence embeddings from a bi-encoder folder: the first stage of a retrieve-then-rerank pipeline on the same engine.</summary>
public sealed partial class Reranker
{
    /// <summary>The length of one embedding (the hidden size) for a bi-encoder; 0 for a cross-encoder, which has no embeddings.</summary>
    public int EmbeddingSize => Kind == ModelKind.BiEncoder ? OutputSize : 0;

    /// <summary>
    /// Embeds each text on its own ([CLS] text [SEP]), pooled, projected and normalised as the folder's sentence-transformers
    /// module chain says (modules.json and its module folders), in token-budgeted batches like <see cref="Rerank"/>: <see cref="EncodeTexts"/>
    /// then <see cref="Forward"/>. Texts longer than <paramref name="maxLength"/> (default: the model's limit) are truncated,
    /// as sentence-transformers does.
    /// </summary>
    /// <returns>One vector of <see cref="EmbeddingSize"/> floats per text, in input order.</returns>
    /// <exception cref="InvalidOperationException">The model is a cross-encoder (it scores pairs; it has no sentence embedding).</exception>
    /// <exception cref="ArgumentNullException">texts or one text is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">maxLength is below 2 or above the model's limit.</exception>
    /// <exception cref="ModelComputationException">An embedding holds a NaN or an infinity (an activation overflowed); the
    /// message names the stage.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public float[][] Embed(IReadOnlyList<string> texts, int? maxLength = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var block = new float[texts.Count * Math.Max(EmbeddingSize, 1)];
        Embed(texts, block, maxLength, cancellationToken);
        int h = EmbeddingSize;
        var vectors = new float[texts.Count][];
        for (int i = 0; i < vectors.Length; i++) vectors[i] = block.AsSpan(i * h, h).ToArray();
        return vectors;
    }

    /// <summary>
    /// <see cref="Embed(IReadOnlyList{string}, int?, CancellationToken)"/> into one contiguous block: row i of
    /// <paramref name="destination"/> [texts.Count, <see cref="EmbeddingSize"/>] is the embedding of texts[i].
    /// </summary>
    /// <exception cref="ArgumentException">destination is shorter than texts.Count x EmbeddingSize.</exception>
    public void Embed(IReadOnlyList<string> texts, Span<float> destination, int? maxLength = null, CancellationToken cancellationToken = default)
    {
        var inputs = EncodeTexts(texts, maxLength, cancellationToken);
        int h = EmbeddingSize;
        if (destination.Length < texts.Count * h)
            throw new ArgumentException($"destination holds {destination.Length} floats; {texts.Count} embeddings of {h} need {texts.Count * h}.", nameof(destination));
        RunBatched(inputs, destination, cancellationToken);
    }

    /// <summary>
    /// The encoding step of <see cref="Embed(IReadOnlyList{string}, int?, CancellationToken)"/>: each text on its own, cut to
    /// <paramref name="maxLength"/> tokens (default: the model's limit). Run the sequences with <see cref="Forward"/> (possibly
    /// batched with other requests' sequences) to get one embedding row each.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model is a cross-encoder.</exception>
    /// <exception cref="ArgumentNullException">texts or one text is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">maxLength is below 2 or above the model's limit.</exception>
    public IReadOnlyList<EncodedPair> EncodeTexts(IReadOnlyList<string> texts, int? maxLength = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (Kind != ModelKind.BiEncoder)
            throw new InvalidOperationException("This model is a cross-encoder: it scores (query, document) pairs and has no sentence embedding; load a bi-encoder (sentence-transformers) folder to embed.");
        for (int i = 0; i < texts.Count; i++)
            if (texts[i] is null) throw new ArgumentNullException(nameof(texts), $"Text {i} is null.");
        return EncodeTextsCore(texts, ResolveMaxLength(maxLength, 2, nameof(maxLength)), cancellationToken);
    }

    /// <summary>Each text on its own, cut to <paramref name="maxLength"/> tokens (validated by the caller).</summary>
    private EncodedPair[] EncodeTextsCore(IReadOnlyList<string> texts, int maxLength, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var inputs = new EncodedPair[texts.Count];
        for (int i = 0; i < inputs.Length; i++)
        {
            if ((i & 15) == 0) cancellationToken.ThrowIfCancellationRequested();
            inputs[i] = Tokenizer.EncodeSingle(texts[i], maxLength);
        }
        return inputs;
    }

    /// <summary>Asynchronous <see cref="Embed(IReadOnlyList{string}, int?, CancellationToken)"/>: runs on the thread pool.</summary>
    public Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, int? maxLength = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        return Task.Run(() => Embed(texts, maxLength, cancellationToken), cancellationToken);
    }
}
