using System.Text;
using Microsoft.ML.Tokenizers;

namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// The WordPiece model: splits one word into the longest vocabulary pieces, left to right ("unaffable" -> "un", "##aff",
/// "##able"); a word with any unmatchable rest, or longer than <c>max_input_chars_per_word</c> code points, becomes [UNK].
/// </summary>
/// <remarks>
/// <para>
/// The search is Microsoft.ML.Tokenizers' <see cref="WordPieceTokenizer"/>, called once per word with its own
/// pre-tokenization and normalization switched off, so it sees exactly the words our Hugging Face-exact
/// <see cref="BertNormalizer"/> and <see cref="BertPreTokenizer"/> produced. Decision record: created straight from the
/// all-MiniLM-L6-v2 vocab.txt and fed those words, it gives Hugging Face's ids on every case of
/// Fixtures/tokenization/minilm-reference.json: 91 texts (accents, CJK, emoji, symbols, control characters, words of 99,
/// 100 and 101 letters and of 101 emoji, special-token literals, 32 Cranfield/CISI/MEDLINE abstracts) and both sides of 39
/// pairs (WordPieceTests.Ml_tokenizers_wordpiece_alone_gives_the_hugging_face_ids_of_every_reference_case). Wrapped as below it
/// also equals a line-by-line port of tokenizers/src/models/wordpiece/mod.rs on every word of those texts and on awkward
/// vocabularies (WordPieceTests), and the full tokenizer passes BertTokenizerReferenceTests through vocab.txt and tokenizer.json.
/// </para>
/// <para>What this class does itself, because ML.Tokenizers 2.0.1 differs from Hugging Face there (MlTokenizersDefectTests):</para>
/// <list type="bullet">
/// <item>The word-length limit. Hugging Face counts code points (<c>chars().count()</c>), ML.Tokenizers UTF-16 units, so a
/// word of 51-100 astral characters would become [UNK] there only. We apply the code-point rule and give ML.Tokenizers a
/// limit (2 x max) that no word we pass can reach. It sizes a scratch buffer by that limit, hence
/// <see cref="MaxInputCharsPerWordLimit"/>.</item>
/// <item>The vocabulary. WordPieceTokenizer reads a vocab.txt stream and throws on a repeated token, while our loaders
/// already resolved vocab.txt (CRLF, BOM, empty lines, last duplicate wins) and tokenizer.json (ids may have gaps, two tokens
/// may share an id). So it gets one line per id of the parsed vocabulary: gaps, empty tokens, shadowed duplicates and tokens
/// holding a line break or space (never inside a pre-tokenized word) become empty lines, which it skips but counts; a token
/// sharing an id already written goes after the last id, and its stand-in id is mapped back.</item>
/// <item>Whole words. The greedy search tries the whole word first, and most words of English prose are in the vocabulary
/// (94% in Cranfield), so a span lookup answers those before ML.Tokenizers is called: its result is a new list per call
/// (about 80 bytes), and its dictionary hashes every candidate. Only words that need splitting, or are unknown, reach it.</item>
/// </list>
/// </remarks>
internal sealed class WordPiece
{
    private readonly WordPieceTokenizer _model;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _wholeWords; // the vocabulary, looked up by span
    private readonly int[] _aliases;   // id - _aliasBase -> real id, for tokens sharing an id with another token
    private readonly int _aliasBase;
    private readonly int _unkId;
    private readonly int _maxInputCharsPerWord;
    private readonly string _continuingSubwordPrefix;

    /// <summary>Largest <c>max_input_chars_per_word</c> accepted: ML.Tokenizers sizes a per-call scratch buffer by its limit.</summary>
    public const int MaxInputCharsPerWordLimit = 1 << 19;

    /// <param name="vocabulary">token -> id, as resolved by the loader.</param>
    /// <param name="unkId">Id of the unknown token.</param>
    /// <param name="continuingSubwordPrefix">Marks a piece that continues a word, "##" for BERT.</param>
    /// <param name="maxInputCharsPerWord">Words of more code points become [UNK]; 1 to <see cref="MaxInputCharsPerWordLimit"/>.</param>
    public WordPiece(IReadOnlyDictionary<string, int> vocabulary, int unkId, string continuingSubwordPrefix, int maxInputCharsPerWord)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInputCharsPerWord, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxInputCharsPerWord, MaxInputCharsPerWordLimit);
        int size = vocabulary.Values.Max() + 1;
        var lines = new string[size];
        Array.Fill(lines, "");
        var aliases = new List<(string Token, int Id)>();
        foreach ((string token, int id) in vocabulary)
        {
            if (token.Length == 0 || token.AsSpan().ContainsAny('\r', '\n', ' ')) continue; // never equal to a word
            if (lines[id].Length == 0) lines[id] = token;
            else aliases.Add((token, id));
        }
        // ML.Tokenizers needs its unknown token in the vocabulary; a stand-in with a space can never match a word.
        string unknownToken = lines[unkId];
        if (unknownToken.Length == 0) aliases.Add((unknownToken = "[UNK] (stand-in)", unkId));

        using var stream = new MemoryStream();
        using (var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: true), leaveOpen: true))
        {
            // With a byte-order mark first, StreamReader strips that one and keeps a token's own leading U+FEFF.
            foreach (string line in lines) { writer.Write(line); writer.Write('\n'); }
            foreach ((string token, _) in aliases) { writer.Write(token); writer.Write('\n'); }
        }
        stream.Position = 0;
        _model = WordPieceTokenizer.Create(stream, new WordPieceOptions
        {
            PreTokenizer = null, // would mean "split at whitespace"; never used, every call passes considerPreTokenization: false
            Normalizer = null,
            UnknownToken = unknownToken,
            ContinuingSubwordPrefix = continuingSubwordPrefix,
            MaxInputCharsPerWord = 2 * maxInputCharsPerWord, // a word we pass has at most 2 UTF-16 units per code point
        });
        _wholeWords = new Dictionary<string, int>(vocabulary, StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
        _aliasBase = size;
        _aliases = aliases.Select(a => a.Id).ToArray();
        _unkId = unkId;
        _maxInputCharsPerWord = maxInputCharsPerWord;
        _continuingSubwordPrefix = continuingSubwordPrefix;
    }

    /// <summary>Appends the piece ids of one pre-tokenized word.</summary>
    public void Encode(ReadOnlySpan<char> word, ref PooledBuffer<int> ids)
    {
        if (word.Length > _maxInputCharsPerWord && CountCodePoints(word) > _maxInputCharsPerWord)
        {
            ids.Add(_unkId);
            return;
        }
        if (_wholeWords.TryGetValue(word, out int wholeWordId)) // the search's first candidate; see the remarks
        {
            ids.Add(wholeWordId);
            return;
        }
        IReadOnlyList<int> pieces = _model.EncodeToIds(word, considerPreTokenization: false, considerNormalization: false);
        for (int i = 0; i < pieces.Count; i++) // indexed: foreach over the interface would box an enumerator
        {
            int id = pieces[i];
            ids.Add(id < _aliasBase ? id : _aliases[id - _aliasBase]);
        }
    }

    /// <summary>
    /// Appends the pieces of one word with the range of the word each covers (a "##" piece its characters without the
    /// prefix, [UNK] the whole word), for character offsets. tokenizers' greedy search (models/wordpiece/mod.rs) read
    /// directly: the longest prefix in the vocabulary, ends stepped back one code point at a time. Gives the ids of
    /// <see cref="Encode"/> (the offsets tests check both on every text); allocates, and is used only when offsets are asked.
    /// </summary>
    public void EncodeTraced(ReadOnlySpan<char> word, List<WordToken> tokens)
    {
        if (word.IsEmpty) return;
        if (word.Length > _maxInputCharsPerWord && CountCodePoints(word) > _maxInputCharsPerWord)
        {
            tokens.Add(new WordToken(_unkId, 0, word.Length));
            return;
        }
        int first = tokens.Count;
        var candidate = new char[_continuingSubwordPrefix.Length + word.Length];   // prefix + word[start..end]
        _continuingSubwordPrefix.CopyTo(candidate);
        for (int start = 0; start < word.Length;)
        {
            int prefix = start > 0 ? _continuingSubwordPrefix.Length : 0;
            int offset = _continuingSubwordPrefix.Length - prefix;   // candidate[offset..] is (prefix) + word[start..]
            word[start..].CopyTo(candidate.AsSpan(_continuingSubwordPrefix.Length));
            int end = word.Length;
            int found = -1;
            while (end > start)
            {
                if (_wholeWords.TryGetValue(candidate.AsSpan(offset, prefix + end - start), out int id)) { found = id; break; }
                end -= end - 2 >= start && char.IsLowSurrogate(word[end - 1]) && char.IsHighSurrogate(word[end - 2]) ? 2 : 1;
            }
            if (found < 0)   // some rest matches nothing: the whole word is [UNK]
            {
                tokens.RemoveRange(first, tokens.Count - first);
                tokens.Add(new WordToken(_unkId, 0, word.Length));
                return;
            }
            tokens.Add(new WordToken(found, start, end));
            start = end;
        }
    }

    private static int CountCodePoints(ReadOnlySpan<char> word)
    {
        int count = 0;
        foreach (Rune _ in word.EnumerateRunes()) count++;
        return count;
    }
}
