using System.Buffers;
using System.Text;

namespace CrossEncoder.Native.Tokenization;

/// <summary>A token matched as a whole in the raw (or normalized) text before pre-tokenization, like <c>[CLS]</c>: an entry of tokenizer.json's <c>added_tokens</c>.</summary>
/// <param name="Content">The literal text.</param>
/// <param name="Id">Its id.</param>
/// <param name="SingleWord">Only match when not inside a word.</param>
/// <param name="LStrip">Swallow whitespace on its left.</param>
/// <param name="RStrip">Swallow whitespace on its right.</param>
/// <param name="Normalized">Match against the normalized text instead of the raw text.</param>
internal sealed record AddedToken(string Content, int Id, bool SingleWord = false, bool LStrip = false, bool RStrip = false, bool Normalized = false);

/// <summary>
/// Finds added tokens in text the way tokenizers' AddedVocabulary does: leftmost match first, the longest one when several
/// start at the same place, non-overlapping, case-sensitive.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly AddedToken[] _tokens;          // longest first, so the first hit at a position is the longest
    private readonly SearchValues<char> _firstChars;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _tokens = tokens.Where(t => t.Content.Length > 0).OrderByDescending(t => t.Content.Length).ToArray();
        _firstChars = SearchValues.Create(_tokens.Select(t => t.Content[0]).Distinct().ToArray());
    }

    public bool IsEmpty => _tokens.Length == 0;

    /// <summary>
    /// Finds the next added token in <paramref name="text"/> at or after <paramref name="from"/>. The match range includes
    /// whitespace swallowed by lstrip/rstrip (never reaching back before <paramref name="from"/>). Returns null when none is left.
    /// </summary>
    public AddedToken? FindNext(ReadOnlySpan<char> text, int from, out int matchStart, out int matchEnd)
    {
        int i = from;
        while (i < text.Length)
        {
            int hit = text[i..].IndexOfAny(_firstChars);
            if (hit < 0) break;
            i += hit;
            foreach (AddedToken token in _tokens)
            {
                if (!text[i..].StartsWith(token.Content, StringComparison.Ordinal)) continue;
                int start = i, end = i + token.Content.Length;
                if (token.SingleWord && (EndsWithWordChar(text[..start]) || StartsWithWordChar(text[end..])))
                    continue;
                if (token.LStrip)
                    while (start > from && char.IsWhiteSpace(text[start - 1])) start--;
                if (token.RStrip)
                    while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
                matchStart = start;
                matchEnd = end;
                return token;
            }
            i++;
        }
        matchStart = matchEnd = text.Length;
        return null;
    }

    // tokenizers' single_word boundary test: a neighbouring alphanumeric character or '_' means "inside a word".
    private static bool EndsWithWordChar(ReadOnlySpan<char> text) =>
        text.Length > 0 && Rune.DecodeLastFromUtf16(text, out Rune r, out _) == OperationStatus.Done && IsWordChar(r);

    private static bool StartsWithWordChar(ReadOnlySpan<char> text) =>
        text.Length > 0 && Rune.DecodeFromUtf16(text, out Rune r, out _) == OperationStatus.Done && IsWordChar(r);

    private static bool IsWordChar(Rune r) => Rune.IsLetterOrDigit(r) || r.Value == '_';
}
