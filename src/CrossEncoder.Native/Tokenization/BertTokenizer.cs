namespace CrossEncoder.Native.Tokenization;

/// <summary>Hugging Face-compatible BERT tokenizer: basic tokenization, WordPiece, pair encoding with truncation.</summary>
/// <remarks>
/// <para>The pipeline, per input text, is that of Hugging Face's fast tokenizer (the Rust <c>tokenizers</c> library):</para>
/// <list type="number">
/// <item>split out added tokens such as <c>[CLS]</c> or <c>[SEP]</c> written literally in the text (see below);</item>
/// <item><see cref="BertNormalizer"/>: clean text, space out CJK ideographs, strip accents, lower-case;</item>
/// <item><see cref="BertPreTokenizer"/>: split at whitespace and punctuation;</item>
/// <item><see cref="WordPiece"/>: greedy longest-match pieces, "##" marking continuations, [UNK] for the rest
/// (Microsoft.ML.Tokenizers' WordPieceTokenizer, fed our words).</item>
/// </list>
/// <para>
/// Special-token literals: Hugging Face's fast tokenizer registers [PAD] [UNK] [CLS] [SEP] [MASK] as added tokens with
/// <c>normalized: false</c>, so "[SEP]" typed in a query becomes the single id of [SEP] (case-sensitive: "[sep]" is
/// "[", "sep", "]"). @huggingface/transformers does the same (its reference ids are in the test fixture) and so does the
/// slow Python tokenizer (never_split), so we match it, even though it lets a document inject separators.
/// </para>
/// <para>Microsoft.ML.Tokenizers 2.0.1's BertTokenizer is not used (its WordPieceTokenizer is, see <see cref="WordPiece"/>): it merges words across \t \n \r and drops ASCII symbols
/// ($ + = &lt; &gt; ^ | ~), emoji and other symbols instead of splitting them or emitting [UNK] (dotnet/machinelearning#7724,
/// #7725); the tests keep an assertion showing the difference.</para>
/// <para>Instances are immutable and safe to use from many threads at once.</para>
/// </remarks>
public sealed partial class BertTokenizer : ITextPairTokenizer
{
    private const int SpecialTokensInPair = 3;   // [CLS] q [SEP] d [SEP]
    private const int SpecialTokensInSingle = 2; // [CLS] t [SEP]

    private readonly BertNormalizer? _normalizer;
    private readonly WordPiece _wordPiece;
    private readonly AddedTokenMatcher _rawAddedTokens;        // matched before normalization (normalized: false)
    private readonly AddedTokenMatcher _normalizedAddedTokens; // matched after normalization (normalized: true)
    private readonly string?[] _idToToken;
    private readonly Dictionary<string, int> _tokenToId;   // the WordPiece vocabulary, then the added tokens (they win)
    private readonly int _clsId, _sepId;

    private BertTokenizer(BertNormalizer? normalizer, WordPiece wordPiece, IReadOnlyDictionary<string, int> vocabulary, IReadOnlyList<AddedToken> addedTokens,
        string?[] idToToken, int clsId, int sepId, int unkId, int modelMaxLength)
    {
        _tokenToId = new Dictionary<string, int>(vocabulary, StringComparer.Ordinal);
        foreach (AddedToken token in addedTokens) _tokenToId[token.Content] = token.Id;
        _normalizer = normalizer;
        _wordPiece = wordPiece;
        _rawAddedTokens = new AddedTokenMatcher(addedTokens.Where(t => !t.Normalized));
        _normalizedAddedTokens = new AddedTokenMatcher(addedTokens.Where(t => t.Normalized).Select(t => t with { Content = NormalizeToString(normalizer, t.Content) }));
        _idToToken = idToToken;
        _clsId = clsId;
        _sepId = sepId;
        UnknownTokenId = unkId;
        ModelMaxLength = modelMaxLength;
    }

    /// <summary>Vocabulary size: one more than the largest token id (WordPiece vocabulary and added tokens), the row count of the model's word-embedding matrix.</summary>
    public int VocabularySize => _idToToken.Length;

    /// <summary>The model's maximum input length in tokens, specials included: tokenizer.json's <c>truncation.max_length</c>, else tokenizer_config.json's <c>model_max_length</c>, else 512.</summary>
    public int ModelMaxLength { get; }

    /// <summary>Id of <c>[CLS]</c>, the first token of every encoding.</summary>
    public int ClsTokenId => _clsId;

    /// <summary>Id of <c>[SEP]</c>, which ends each sequence.</summary>
    public int SepTokenId => _sepId;

    /// <summary>Id of <c>[UNK]</c>, emitted for words WordPiece cannot split.</summary>
    public int UnknownTokenId { get; }

    /// <summary>Word-piece ids of <paramref name="text"/>, no special tokens.</summary>
    public int[] EncodeToIds(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new PooledBuffer<int>(text.Length / 3 + 8);
        try
        {
            Encode(text, ref ids);
            return ids.Span.ToArray();
        }
        finally { ids.Dispose(); }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Hugging Face's <c>offsets</c> (in UTF-16 units): an added token its match; a word piece the original characters its
    /// normalized characters came from (a "##" piece without the prefix; [UNK] its whole word; an accent stripped or a
    /// letter lower-cased still points at the original character; see <see cref="NormalizationTrace"/>). Checked against
    /// tokenizers' own offsets on the committed fixtures (OffsetsReferenceTests). Allocates: <see cref="EncodeToIds"/> is the
    /// fast path, and this is used only where offsets are needed.
    /// </remarks>
    public (int[] Ids, TokenOffsets[] Offsets) EncodeToIdsWithOffsets(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 8);
        var offsets = new List<TokenOffsets>(text.Length / 3 + 8);
        var pieces = new List<WordToken>();
        int position = 0;
        while (position < text.Length)
        {
            int start = text.Length, end = text.Length;
            AddedToken? token = _rawAddedTokens.IsEmpty ? null : _rawAddedTokens.FindNext(text, position, out start, out end);
            if (start > position)
            {
                TracedWord normalized = _normalizer is null
                    ? TracedWord.Substring(text, position, start)
                    : NormalizationTrace.Normalize(text[position..start], segment => NormalizeToString(_normalizer, segment), perCodePoint: true).Through(TracedWord.Substring(text, position, start));
                string n = normalized.Word;
                int at = 0;
                while (at < n.Length)
                {
                    int addedStart = n.Length, addedEnd = n.Length;
                    AddedToken? added = _normalizedAddedTokens.IsEmpty ? null : _normalizedAddedTokens.FindNext(n, at, out addedStart, out addedEnd);
                    ReadOnlySpan<char> words = n.AsSpan(0, addedStart);
                    int wordPosition = at;
                    while (BertPreTokenizer.NextWord(words, ref wordPosition, out int wordStart, out int wordLength))
                    {
                        pieces.Clear();
                        _wordPiece.EncodeTraced(words.Slice(wordStart, wordLength), pieces);
                        foreach (WordToken piece in pieces)
                        {
                            ids.Add(piece.Id);
                            offsets.Add(new TokenOffsets(normalized.Start[wordStart + piece.Start], normalized.End[wordStart + piece.End - 1]));
                        }
                    }
                    if (added is not null) { ids.Add(added.Id); offsets.Add(new TokenOffsets(normalized.Start[addedStart], normalized.End[addedEnd - 1])); }
                    at = addedEnd;
                }
            }
            if (token is not null) { ids.Add(token.Id); offsets.Add(new TokenOffsets(start, end)); }   // with what lstrip/rstrip swallowed
            position = end;
        }
        return (ids.ToArray(), offsets.ToArray());
    }

    /// <summary>Encodes <c>[CLS] query [SEP] document [SEP]</c>, truncated to <paramref name="maxLength"/> tokens.</summary>
    public EncodedPair EncodePair(string query, string document, int maxLength, TruncationStrategy strategy = TruncationStrategy.LongestFirst)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(document);
        ValidateMaxLength(maxLength, SpecialTokensInPair);
        var queryIds = new PooledBuffer<int>(query.Length / 3 + 8);
        var documentIds = new PooledBuffer<int>(document.Length / 3 + 8);
        try
        {
            Encode(query, ref queryIds);
            Encode(document, ref documentIds);
            return EncodePair(queryIds.Span, documentIds.Span, maxLength, strategy);
        }
        finally
        {
            queryIds.Dispose();
            documentIds.Dispose();
        }
    }

    /// <summary>Same as <see cref="EncodePair(string,string,int,TruncationStrategy)"/> from ids already produced by <see cref="EncodeToIds"/> (lets a caller tokenize the query once).</summary>
    /// <remarks>
    /// Truncation follows Hugging Face tokenizers (truncation.rs) with <c>max_length = maxLength - 3</c>. LongestFirst: if the
    /// shorter sequence fits in half of that budget it is kept whole and the longer one is cut to the rest; otherwise each gets
    /// half and an odd budget gives its extra token to the longer sequence (to the document on a tie). OnlySecond: only the
    /// document is cut, and it must keep at least one token, or <see cref="ArgumentException"/> is thrown.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is less than 3 (room for the special tokens).</exception>
    /// <exception cref="ArgumentException">OnlySecond cannot reach <paramref name="maxLength"/> by cutting the document.</exception>
    public EncodedPair EncodePair(ReadOnlySpan<int> queryIds, ReadOnlySpan<int> documentIds, int maxLength, TruncationStrategy strategy = TruncationStrategy.LongestFirst)
    {
        ValidateMaxLength(maxLength, SpecialTokensInPair);
        (int keepQuery, int keepDocument) = PairTruncation.Keep(queryIds.Length, documentIds.Length, maxLength - SpecialTokensInPair, strategy);

        int length = keepQuery + keepDocument + SpecialTokensInPair;
        var inputIds = new int[length];
        var typeIds = new int[length];
        int at = 0;
        inputIds[at++] = _clsId;
        queryIds[..keepQuery].CopyTo(inputIds.AsSpan(at));
        at += keepQuery;
        inputIds[at++] = _sepId;
        int documentStart = at;
        documentIds[..keepDocument].CopyTo(inputIds.AsSpan(at));
        at += keepDocument;
        inputIds[at] = _sepId;
        typeIds.AsSpan(documentStart).Fill(1); // segment B: the document and its [SEP]
        return new EncodedPair(inputIds, typeIds, ToTokens(inputIds),
            new TruncationInfo(queryIds.Length - keepQuery, documentIds.Length - keepDocument));
    }

    /// <summary>Encodes <c>[CLS] text [SEP]</c>, truncated to <paramref name="maxLength"/> tokens.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is less than 2.</exception>
    public EncodedPair EncodeSingle(string text, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        ValidateMaxLength(maxLength, SpecialTokensInSingle);
        var ids = new PooledBuffer<int>(text.Length / 3 + 8);
        try
        {
            Encode(text, ref ids);
            return EncodeSingle(ids.Span, maxLength);
        }
        finally { ids.Dispose(); }
    }

    /// <summary>Encodes <c>[CLS] ids [SEP]</c> from ids produced by <see cref="EncodeToIds"/>, truncated to <paramref name="maxLength"/> tokens.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is less than 2.</exception>
    public EncodedPair EncodeSingle(ReadOnlySpan<int> ids, int maxLength)
    {
        ValidateMaxLength(maxLength, SpecialTokensInSingle);
        int keep = Math.Min(ids.Length, maxLength - SpecialTokensInSingle);
        var inputIds = new int[keep + SpecialTokensInSingle];
        inputIds[0] = _clsId;
        ids[..keep].CopyTo(inputIds.AsSpan(1));
        inputIds[^1] = _sepId;
        return new EncodedPair(inputIds, new int[inputIds.Length], ToTokens(inputIds), new TruncationInfo(ids.Length - keep, 0));
    }

    /// <inheritdoc/>
    public bool TryGetTokenId(string token, out int id)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _tokenToId.TryGetValue(token, out id);
    }

    /// <summary>The token string of an id.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No token has this id.</exception>
    public string IdToToken(int id) =>
        (uint)id < (uint)_idToToken.Length && _idToToken[id] is { } token
            ? token
            : throw new ArgumentOutOfRangeException(nameof(id), id, $"No token has id {id} (vocabulary size {_idToToken.Length}).");

    /// <summary>Added tokens, then per remaining segment: normalize, pre-tokenize, WordPiece.</summary>
    private void Encode(ReadOnlySpan<char> text, ref PooledBuffer<int> ids)
    {
        int position = 0;
        while (position < text.Length)
        {
            int start = text.Length, end = text.Length;
            AddedToken? token = _rawAddedTokens.IsEmpty ? null : _rawAddedTokens.FindNext(text, position, out start, out end);
            EncodeNormalizedSegment(text[position..start], ref ids);
            if (token is not null) ids.Add(token.Id);
            position = end;
        }
    }

    private void EncodeNormalizedSegment(ReadOnlySpan<char> segment, ref PooledBuffer<int> ids)
    {
        if (segment.IsEmpty) return;
        if (_normalizer is null)
        {
            EncodeWords(segment, ref ids);
            return;
        }
        var normalized = new PooledBuffer<char>(segment.Length + 16);
        try
        {
            _normalizer.Normalize(segment, ref normalized);
            ReadOnlySpan<char> text = normalized.Span;
            int position = 0;
            while (position < text.Length)
            {
                int start = text.Length, end = text.Length;
                AddedToken? token = _normalizedAddedTokens.IsEmpty ? null : _normalizedAddedTokens.FindNext(text, position, out start, out end);
                EncodeWords(text[position..start], ref ids);
                if (token is not null) ids.Add(token.Id);
                position = end;
            }
        }
        finally { normalized.Dispose(); }
    }

    private void EncodeWords(ReadOnlySpan<char> text, ref PooledBuffer<int> ids)
    {
        int position = 0;
        while (BertPreTokenizer.NextWord(text, ref position, out int start, out int length))
            _wordPiece.Encode(text.Slice(start, length), ref ids);
    }

    private string[] ToTokens(int[] ids)
    {
        var tokens = new string[ids.Length];
        for (int i = 0; i < ids.Length; i++) tokens[i] = IdToToken(ids[i]);
        return tokens;
    }

    private static string NormalizeToString(BertNormalizer? normalizer, string text)
    {
        if (normalizer is null) return text;
        var buffer = new PooledBuffer<char>(text.Length + 16);
        try
        {
            normalizer.Normalize(text, ref buffer);
            return buffer.Span.ToString();
        }
        finally { buffer.Dispose(); }
    }

    private static void ValidateMaxLength(int maxLength, int specialTokens)
    {
        if (maxLength < specialTokens)
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength,
                $"maxLength must be at least {specialTokens}: the encoding always holds {specialTokens} special tokens ({(specialTokens == SpecialTokensInPair ? "[CLS] query [SEP] document [SEP]" : "[CLS] text [SEP]")}).");
    }
}
