namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// What the reranker needs from a tokenizer: text to ids, and (query, document) pairs or single texts with the model's
/// special tokens, segment ids and truncation. Implemented by <see cref="BertTokenizer"/> (BERT WordPiece, tuned) and
/// <see cref="PipelineTokenizer"/> (any supported tokenizer.json or SentencePiece model).
/// </summary>
public interface ITextPairTokenizer
{
    /// <summary>One more than the largest token id: the rows the model's word-embedding table needs.</summary>
    int VocabularySize { get; }

    /// <summary>The model's maximum input length in tokens, specials included.</summary>
    int ModelMaxLength { get; }

    /// <summary>Ids of <paramref name="text"/>, no special tokens.</summary>
    int[] EncodeToIds(string text);

    /// <summary>
    /// The ids of <paramref name="text"/> (as <see cref="EncodeToIds"/>, no special tokens) with each token's place in the
    /// original text: the UTF-16 units [Start, End) of <paramref name="text"/> it comes from, before normalization
    /// (lower-casing, accent stripping, Unicode or precompiled normalization, byte-level mapping). These are Hugging Face
    /// tokenizers' <c>offsets</c> (which count Unicode scalar values; here an astral character is its two units).
    /// </summary>
    /// <remarks>Slower than <see cref="EncodeToIds"/> and allocating; ask for offsets only where they are used.</remarks>
    (int[] Ids, TokenOffsets[] Offsets) EncodeToIdsWithOffsets(string text);

    /// <summary>The pair with the model's special tokens, truncated to <paramref name="maxLength"/> tokens.</summary>
    EncodedPair EncodePair(string query, string document, int maxLength, TruncationStrategy strategy = TruncationStrategy.LongestFirst);

    /// <summary>The same from ids already produced by <see cref="EncodeToIds"/> (lets a caller tokenize the query once).</summary>
    EncodedPair EncodePair(ReadOnlySpan<int> queryIds, ReadOnlySpan<int> documentIds, int maxLength, TruncationStrategy strategy = TruncationStrategy.LongestFirst);

    /// <summary>One text with the model's special tokens, truncated to <paramref name="maxLength"/> tokens.</summary>
    EncodedPair EncodeSingle(string text, int maxLength);

    /// <summary>The same from ids already produced by <see cref="EncodeToIds"/> (a bi-encoder's document chunks).</summary>
    EncodedPair EncodeSingle(ReadOnlySpan<int> ids, int maxLength);

    /// <summary>The token string of an id.</summary>
    string IdToToken(int id);

    /// <summary>
    /// The id of a token given by its exact string, as <see cref="IdToToken"/> spells it: an added token's content
    /// (<c>&lt;|im_start|&gt;</c>, <c>[CLS]</c>) or a vocabulary entry (byte-level BPE entries are in the byte alphabet, so " yes"
    /// is "Ġyes"). Added tokens win over a vocabulary entry with the same text, as in Hugging Face's <c>token_to_id</c>. No text
    /// is tokenized: a string that is not one token gives false.
    /// </summary>
    bool TryGetTokenId(string token, out int id);
}
