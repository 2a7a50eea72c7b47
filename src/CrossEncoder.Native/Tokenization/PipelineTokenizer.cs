namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// A tokenizer assembled from a Hugging Face <c>tokenizer.json</c> (or a SentencePiece <c>.model</c>, or a Qwen2 folder's
/// <c>vocab.json</c> + <c>merges.txt</c>: <see cref="FromVocabularyAndMerges"/>): added tokens, then per
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
/// naming the piece. The <c>decoder</c> is not read (only ids are produced; <see cref="ByteLevel"/> has the ByteLevel decoder's
/// byte mapping). Every pipeline also gives character offsets (<see cref="EncodeToIdsWithOffsets"/>). Instances are immutable and thread-safe (the
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
    private readonly Dictionary<string, int> _tokenToId;   // the model's vocabulary, then the added tokens (they win, as in tokenizers)
    private Action<string, List<WordToken>>? TraceWord { get; init; }   // the model behind _encodeWord, with each token's range (offsets)

    // vocabulary: the model's (token, id) entries. Ids may have gaps; two tokens may share an id (the first keeps the id's
    // text); a token listed twice maps to its last id.
    private PipelineTokenizer(TextNormalizer? normalizer, PreTokenizer? preTokenizer, Func<string, List<int>, bool> encodeWord,
        IEnumerable<KeyValuePair<string, int>> vocabulary, IReadOnlyList<AddedToken> addedTokens, PostProcessor postProcessor, int modelMaxLength)
    {
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _encodeWord = encodeWord;
        _rawAddedTokens = new AddedTokenMatcher(addedTokens.Where(t => !t.Normalized));
        _normalizedAddedTokens = new AddedTokenMatcher(addedTokens.Where(t => t.Normalized).Select(t => t with { Content = normalizer?.Normalize(t.Content) ?? t.Content }));
        _postProcessor = postProcessor;
        _tokenToId = new Dictionary<string, int>(StringComparer.Ordinal);
        int size = 0;   // one more than the largest id of either table: the model's embedding rows
        foreach ((string token, int id) in vocabulary) { _tokenToId[token] = id; size = Math.Max(size, id + 1); }   // a repeated piece: the last id
        foreach (AddedToken token in addedTokens) { _tokenToId[token.Content] = token.Id; size = Math.Max(size, token.Id + 1); }
        _idToToken = new string?[size];
        foreach ((string token, int id) in vocabulary) _idToToken[id] ??= token;
        foreach (AddedToken token in addedTokens) _idToToken[token.Id] ??= token.Content;
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
    /// <remarks>
    /// Hugging Face tokenizers' offsets for every supported model and pre-tokenizer: an added token its match (with the
    /// whitespace lstrip/rstrip swallowed); a model token the original characters its normalized characters came from, the
    /// normalizer traced as tokenizers' alignments (<see cref="NormalizationTrace"/>); a byte of a multi-byte character
    /// covers the whole character (neighbouring byte-level tokens can share it); a byte-level token with its "Ġ" includes
    /// the space; Metaspace's "▁" points at the space it replaced (a prepended one at the first character); then the
    /// post-processor's <c>trim_offsets</c> (RobertaProcessing, ByteLevel). Checked against tokenizers' own offsets on
    /// ModernBERT, Qwen3, an XLM-R-style Unigram and BERT WordPiece (OffsetsReferenceTests). Allocates; used only where
    /// offsets are needed.
    /// </remarks>
    public (int[] Ids, TokenOffsets[] Offsets) EncodeToIdsWithOffsets(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        var offsets = new List<TokenOffsets>();
        List<string>? values = OffsetTrimming.Trim ? [] : null;   // the tokens' text, for the post-processor's trimming
        int position = 0;
        while (position < text.Length)
        {
            int start = text.Length, end = text.Length;
            AddedToken? token = _rawAddedTokens.IsEmpty ? null : _rawAddedTokens.FindNext(text, position, out start, out end);
            EncodeSegmentTraced(text, position, start, atTextStart: position == 0, ids, offsets, values);
            if (token is not null)
            {
                ids.Add(token.Id);
                offsets.Add(new TokenOffsets(start, end));   // with what lstrip/rstrip swallowed
                values?.Add(text[start..end]);
            }
            position = end;
        }
        if (values is not null) TrimOffsets(offsets, values, OffsetTrimming.AddPrefixSpace);
        return (ids.ToArray(), offsets.ToArray());
    }

    /// <summary>Whether the post-processor trims offsets (RobertaProcessing or ByteLevel with <c>trim_offsets</c>), and its
    /// <c>add_prefix_space</c>.</summary>
    private (bool Trim, bool AddPrefixSpace) OffsetTrimming { get; init; }

    /// <summary>tokenizers' <c>process_offsets</c> (processors/byte_level.rs): a token whose text begins or ends with
    /// spaces ("Ġ" or whitespace) has its offsets shrunk by them, except the one space a prefix-space setting put in front
    /// of the first token.</summary>
    private static void TrimOffsets(List<TokenOffsets> offsets, List<string> values, bool addPrefixSpace)
    {
        static bool IsSpace(char c) => c == '\u0120' || char.IsWhiteSpace(c);
        for (int i = 0; i < offsets.Count; i++)
        {
            string value = values[i];
            int leading = 0, trailing = 0;
            while (leading < value.Length && IsSpace(value[leading])) leading++;
            while (trailing < value.Length && IsSpace(value[value.Length - 1 - trailing])) trailing++;
            if (leading == 0 && trailing == 0) continue;
            var (start, end) = (offsets[i].Start, offsets[i].End);
            if (leading > 0)
            {
                bool isFirst = i == 0 || start == 0;
                if (!(isFirst && addPrefixSpace && leading == 1)) start = Math.Min(start + leading, end);
            }
            if (trailing > 0 && end >= trailing) end = Math.Max(end - trailing, start);
            offsets[i] = new TokenOffsets(start, end);
        }
    }

    private void EncodeSegmentTraced(string text, int segmentStart, int segmentEnd, bool atTextStart, List<int> ids, List<TokenOffsets> offsets, List<string>? values)
    {
        if (segmentEnd <= segmentStart) return;
        TracedWord normalized = NormalizeTraced(text, segmentStart, segmentEnd);   // traced to positions in text
        string n = normalized.Word;
        var words = new List<TracedWord>();
        var tokens = new List<WordToken>();
        int position = 0;
        while (position < n.Length)
        {
            int start = n.Length, end = n.Length;
            AddedToken? token = _normalizedAddedTokens.IsEmpty ? null : _normalizedAddedTokens.FindNext(n, position, out start, out end);
            if (start > position)
            {
                TracedWord piece = TracedWord.Substring(n, position, start).Through(normalized);
                words.Clear();
                if (_preTokenizer is null) words.Add(piece);
                else _preTokenizer.SplitTraced(piece.Word, atTextStart && position == 0, words);
                foreach (TracedWord word in words)
                {
                    TracedWord traced = _preTokenizer is null ? word : word.Through(piece);
                    tokens.Clear();
                    TraceWord!(traced.Word, tokens);
                    foreach (WordToken t in tokens)
                    {
                        ids.Add(t.Id);
                        offsets.Add(new TokenOffsets(traced.Start[t.Start], traced.End[t.End - 1]));
                        values?.Add(traced.Word[t.Start..t.End]);
                    }
                }
            }
            if (token is not null)
            {
                ids.Add(token.Id);
                offsets.Add(new TokenOffsets(normalized.Start[start], normalized.End[end - 1]));
                values?.Add(n[start..end]);
            }
            position = end;
        }
    }

    /// <summary>The normalized text[start..end], each unit traced to the range of text it came from.</summary>
    private TracedWord NormalizeTraced(string text, int start, int end) =>
        _normalizer is null ? TracedWord.Substring(text, start, end) : NormalizationTrace.Normalize(text, start, end, _normalizer);

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
        ValidateMaxLength(maxLength, isPair: false);
        return EncodeSingle(EncodeToIds(text), maxLength);
    }

    /// <inheritdoc/>
    public EncodedPair EncodeSingle(ReadOnlySpan<int> all, int maxLength)
    {
        int added = ValidateMaxLength(maxLength, isPair: false);
        int keep = Math.Min(all.Length, maxLength - added);
        var (ids, types) = _postProcessor.Apply(all[..keep], [], isPair: false);
        return new EncodedPair(ids, types, ToTokens(ids), new TruncationInfo(all.Length - keep, 0));
    }

    /// <inheritdoc/>
    public string IdToToken(int id) =>
        (uint)id < (uint)_idToToken.Length && _idToToken[id] is { } token
            ? token
            : throw new ArgumentOutOfRangeException(nameof(id), id, $"No token has id {id} (vocabulary size {_idToToken.Length}).");

    /// <inheritdoc/>
    public bool TryGetTokenId(string token, out int id)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _tokenToId.TryGetValue(token, out id);
    }

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
