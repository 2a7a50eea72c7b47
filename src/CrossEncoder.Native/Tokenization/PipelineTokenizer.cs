namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// A tokenizer assembled from a Hugging Face <c>tokenizer.json</c> (or a SentencePiece <c>.model</c>): added tokens, then per
/// remaining segment normalizer -> pre-tokenizer -> model (WordPiece, Unigram or BPE), then the post-processor's special tokens,
/// with tokenizers' pair truncation. Used for XLM-RoBERTa (Precompiled + Metaspace + Unigram + RobertaProcessing), ModernBERT
/// (NFC + ByteLevel + BPE + TemplateProcessing) and any
/// other combination of the supported pieces; BERT WordPiece folders keep the tuned <see cref="BertTokenizer"/>.
/// </summary>
/// <remarks>
/// Supported: normalizers BertNormalizer, Precompiled, NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Replace, Strip, Prepend,
/// Sequence; pre-tokenizers BertPreTokenizer, Metaspace, WhitespaceSplit, Whitespace, Punctuation, ByteLevel, Split, Sequence;
/// models WordPiece, Unigram, BPE (byte-level as in GPT-2/RoBERTa/ModernBERT/Qwen, or character-level with byte fallback);
/// post-processors BertProcessing, RobertaProcessing, TemplateProcessing, ByteLevel, Sequence (of those, at most one not
/// ByteLevel). Anything else is rejected when loading,
/// naming the piece. The <c>decoder</c> is not read (only ids are produced). Instances are immutable and thread-safe (the
/// BPE word cache is a concurrent dictionary).
/// </remarks>
public sealed partial class PipelineTokenizer : ITextPairTokenizer
{
    private readonly TextNormalizer? _normalizer;
    private readonly PreTokenizer? _preTokenizer;
    private readonly Func<string, List<int>, bool>? _encodeWord;   // model: appends a word's ids
    private readonly AddedTokenMatcher _rawAddedTokens;
    private readonly AddedTokenMatcher _normalizedAddedTokens;
    private readonly PostProcessor _postProcessor;
    private readonly string?[] _idToToken;

    private PipelineTokenizer(TextNormalizer? normalizer, PreTokenizer? preTokenizer, Func<string, List<int>, bool> encodeWord,
        IReadOnlyList<AddedToken> addedTokens, PostProcessor postProcessor, string?[] idToToken, int modelMaxLength)
    {
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _encodeWord = encodeWord;
        _rawAddedTokens = new AddedTokenMatcher(addedTokens.Where(t => !t.Normalized));
        _normalizedAddedTokens = new AddedTokenMatcher(addedTokens.Where(t => t.Normalized).Select(t => t with { Content = normalizer?.Normalize(t.Content) ?? t.Content }));
        _postProcessor = postProcessor;
        _idToToken = idToToken;
        ModelMaxLength = modelMaxLength;
    }

    /// <inheritdoc/>
    public int VocabularySize => _idToToken.Length;

    /// <inheritdoc/>
    public int ModelMaxLength { get; }

    /// <inheritdoc/>
    public int[] EncodeToIds(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 8);
        int position = 0;
        while (position < text.Length)
        {
            int start = text.Length, end = text.Length;
            AddedToken? token = _rawAddedTokens.IsEmpty ? null : _rawAddedTokens.FindNext(text, position, out start, out end);
            EncodeSegment(text[position..start], atTextStart: position == 0, ids);
            if (token is not null) ids.Add(token.Id);
            position = end;
        }
        return ids.ToArray();
    }

    /// <summary>Normalize, split at normalized added tokens, pre-tokenize, run the model on each word.</summary>
    private void EncodeSegment(string segment, bool atTextStart, List<int> ids)
    {
        if (segment.Length == 0) return;
        string text = _normalizer?.Normalize(segment) ?? segment;
        var words = new List<string>();
        int position = 0;
        while (position < text.Length)
        {
            int start = text.Length, end = text.Length;
            AddedToken? token = _normalizedAddedTokens.IsEmpty ? null : _normalizedAddedTokens.FindNext(text, position, out start, out end);
            string piece = text[position..start];
            if (piece.Length > 0)
            {
                words.Clear();
                if (_preTokenizer is null) words.Add(piece);
                else _preTokenizer.Split(piece, atTextStart && position == 0, words);
                foreach (string word in words) _encodeWord!(word, ids);
            }
            if (token is not null) ids.Add(token.Id);
            position = end;
        }
    }

    /// <inheritdoc/>
    public EncodedPair EncodePair(string query, string document, int maxLength, TruncationStrategy strategy = TruncationStrategy.LongestFirst)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(document);
        ValidateMaxLength(maxLength, isPair: true);
        return EncodePair(EncodeToIds(query), EncodeToIds(document), maxLength, strategy);
    }

    /// <inheritdoc/>
    /// <remarks>Truncation is tokenizers' (truncation.rs) with <c>max_length</c> less the template's special tokens; see
    /// <see cref="BertTokenizer.EncodePair(ReadOnlySpan{int}, ReadOnlySpan{int}, int, TruncationStrategy)"/>.</remarks>
    public EncodedPair EncodePair(ReadOnlySpan<int> queryIds, ReadOnlySpan<int> documentIds, int maxLength, TruncationStrategy strategy = TruncationStrategy.LongestFirst)
    {
        int added = ValidateMaxLength(maxLength, isPair: true);
        (int keepQuery, int keepDocument) = PairTruncation.Keep(queryIds.Length, documentIds.Length, maxLength - added, strategy);
        var (ids, types) = _postProcessor.Apply(queryIds[..keepQuery], documentIds[..keepDocument], isPair: true);
        return new EncodedPair(ids, types, ToTokens(ids), new TruncationInfo(queryIds.Length - keepQuery, documentIds.Length - keepDocument));
    }

    /// <inheritdoc/>
    public EncodedPair EncodeSingle(string text, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        int added = ValidateMaxLength(maxLength, isPair: false);
        int[] all = EncodeToIds(text);
        int keep = Math.Min(all.Length, maxLength - added);
        var (ids, types) = _postProcessor.Apply(all.AsSpan(0, keep), [], isPair: false);
        return new EncodedPair(ids, types, ToTokens(ids), new TruncationInfo(all.Length - keep, 0));
    }

    /// <inheritdoc/>
    public string IdToToken(int id) =>
        (uint)id < (uint)_idToToken.Length && _idToToken[id] is { } token
            ? token
            : throw new ArgumentOutOfRangeException(nameof(id), id, $"No token has id {id} (vocabulary size {_idToToken.Length}).");

    private string[] ToTokens(int[] ids) => Array.ConvertAll(ids, IdToToken);

    private int ValidateMaxLength(int maxLength, bool isPair)
    {
        int added = _postProcessor.AddedTokens(isPair);
        if (maxLength < added)
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength,
                $"maxLength must be at least {added}: the encoding always holds {added} special tokens.");
        return added;
    }
}
