using System.Text;

namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// The WordPiece model: splits one word into the longest vocabulary pieces, left to right ("unaffable" -> "un", "##aff",
/// "##able"); a word with any unmatchable rest, or longer than <c>max_input_chars_per_word</c> code points, becomes [UNK].
/// </summary>
/// <remarks>
/// Implemented here rather than through Microsoft.ML.Tokenizers' WordPieceTokenizer: that class runs its own pre-tokenizer and
/// normalizer per call and cannot be handed words our Hugging Face-exact pre-tokenizer produced without re-splitting them,
/// while this loop is ~30 lines, allocation-free, and equal to tokenizers/src/models/wordpiece/mod.rs on every reference case.
/// Lookups take spans (<see cref="Dictionary{TKey,TValue}.GetAlternateLookup{TAlternateKey}"/>); continuation pieces are kept
/// in a second dictionary keyed without their "##" so "##" + piece never has to be built.
/// </remarks>
internal sealed class WordPiece
{
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _pieces;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _continuations;
    private readonly int _unkId;
    private readonly int _maxInputCharsPerWord;
    private readonly int _longestPiece, _longestContinuation; // no longer candidate can match, so the search starts there

    /// <param name="vocabulary">token -> id.</param>
    /// <param name="unkId">Id of the unknown token.</param>
    /// <param name="continuingSubwordPrefix">Marks a piece that continues a word, "##" for BERT.</param>
    /// <param name="maxInputCharsPerWord">Longer words become [UNK].</param>
    public WordPiece(IReadOnlyDictionary<string, int> vocabulary, int unkId, string continuingSubwordPrefix, int maxInputCharsPerWord)
    {
        var pieces = new Dictionary<string, int>(vocabulary.Count, StringComparer.Ordinal);
        var continuations = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach ((string token, int id) in vocabulary)
        {
            pieces[token] = id;
            if (continuingSubwordPrefix.Length > 0 && token.StartsWith(continuingSubwordPrefix, StringComparison.Ordinal))
                continuations[token[continuingSubwordPrefix.Length..]] = id;
        }
        _pieces = pieces.GetAlternateLookup<ReadOnlySpan<char>>();
        _continuations = continuingSubwordPrefix.Length > 0 ? continuations.GetAlternateLookup<ReadOnlySpan<char>>() : _pieces;
        _unkId = unkId;
        _maxInputCharsPerWord = maxInputCharsPerWord;
        _longestPiece = pieces.Keys.Max(k => k.Length);
        _longestContinuation = continuingSubwordPrefix.Length > 0 ? continuations.Keys.DefaultIfEmpty("").Max(k => k!.Length) : _longestPiece;
    }

    /// <summary>Appends the piece ids of one pre-tokenized word.</summary>
    public void Encode(ReadOnlySpan<char> word, ref PooledBuffer<int> ids)
    {
        if (word.Length > _maxInputCharsPerWord && CountCodePoints(word) > _maxInputCharsPerWord)
        {
            ids.Add(_unkId);
            return;
        }
        int rollback = ids.Count;
        int start = 0;
        while (start < word.Length)
        {
            // Greedy longest match: shrink the candidate from the right, one code point at a time.
            int end = Math.Min(word.Length, start + (start == 0 ? _longestPiece : _longestContinuation));
            if (end < word.Length && char.IsLowSurrogate(word[end]) && char.IsHighSurrogate(word[end - 1])) end--;
            int id = -1;
            while (start < end)
            {
                var lookup = start == 0 ? _pieces : _continuations;
                if (lookup.TryGetValue(word[start..end], out id)) break;
                id = -1;
                end--;
                if (end > start && char.IsLowSurrogate(word[end]) && char.IsHighSurrogate(word[end - 1])) end--;
            }
            if (id < 0)
            {
                ids.Truncate(rollback); // the whole word is unknown, not just its rest
                ids.Add(_unkId);
                return;
            }
            ids.Add(id);
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
