using System.Globalization;

namespace CrossEncoder.Native.Reranking;

/// <summary>
/// Words and sentences of an original text as exact UTF-16 spans (what <see cref="Reranker.Explain"/> occludes), and the
/// text with one span removed. Spans never cut a grapheme (an emoji with its modifiers and joiners, a letter with its
/// combining marks): the text is walked by text elements (<see cref="StringInfo"/>).
/// </summary>
/// <remarks>
/// A word is a run of letters, digits and combining marks, joined across an apostrophe or hyphen between letters
/// (<c>don't</c>, <c>built-in</c>) and a point or comma between digits (<c>3.14</c>); each CJK ideograph is a word of its own
/// (as BERT's tokenizer splits them), and so is each emoji or other pictograph (Unicode category So). Punctuation and
/// whitespace are not words. A sentence ends after <c>. ! ? …</c> (with closing quotes or brackets) followed by whitespace
/// or the end, after a full-width <c>。！？</c>, or at a line break; so <c>e.g. this</c> splits after <c>e.g.</c>.
/// </remarks>
internal static class TextSegmentation
{
    private enum Kind { Word, Joiner, Alone, Other }

    /// <summary>The words of <paramref name="text"/>, in order, as (start, length) in UTF-16 units.</summary>
    public static List<(int Start, int Length)> Words(string text)
    {
        // Text elements with their kind, so a joiner can look at both neighbours.
        var elements = new List<(int Start, int Length, Kind Kind)>();
        var enumerator = StringInfo.GetTextElementEnumerator(text);
        while (enumerator.MoveNext())
        {
            int start = enumerator.ElementIndex;
            int length = ((string)enumerator.Current).Length;
            elements.Add((start, length, Classify(text, start)));
        }
        var words = new List<(int Start, int Length)>();
        int runStart = -1, runEnd = -1;
        for (int e = 0; e < elements.Count; e++)
        {
            var (start, length, kind) = elements[e];
            if (kind == Kind.Word)
            {
                if (runStart < 0) runStart = start;
                runEnd = start + length;
                continue;
            }
            bool joins = kind == Kind.Joiner && runStart >= 0 && runEnd == start && e + 1 < elements.Count && elements[e + 1].Kind == Kind.Word
                         && JoinsNeighbours(text, start, elements[e + 1].Start);
            if (joins) { runEnd = start + length; continue; }
            if (runStart >= 0) { words.Add((runStart, runEnd - runStart)); runStart = -1; }
            if (kind == Kind.Alone) words.Add((start, length));
        }
        if (runStart >= 0) words.Add((runStart, runEnd - runStart));
        return words;
    }

    /// <summary>The sentences of <paramref name="text"/>, in order, as (start, length) without surrounding whitespace.</summary>
    public static List<(int Start, int Length)> Sentences(string text)
    {
        var sentences = new List<(int Start, int Length)>();
        int start = -1;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (start < 0)
            {
                if (!char.IsWhiteSpace(c)) start = i;
                else continue;
            }
            int end = -1;   // one past the sentence's last unit
            if (c is '\n' or '\r' or '\u2028' or '\u2029') end = i;
            else if (c is '。' or '！' or '？' or '｡')
            {
                end = i + 1;
                while (end < text.Length && IsClosing(text[end])) end++;
            }
            else if (c is '.' or '!' or '?' or '…')
            {
                int j = i + 1;
                while (j < text.Length && (text[j] is '.' or '!' or '?' or '…' || IsClosing(text[j]))) j++;
                if (j == text.Length || char.IsWhiteSpace(text[j])) end = j;
            }
            if (end < 0) continue;
            AddTrimmed(sentences, text, start, end);
            start = -1;
            i = Math.Max(i, end - 1);
        }
        if (start >= 0) AddTrimmed(sentences, text, start, text.Length);
        return sentences;
    }

    /// <summary>
    /// <paramref name="text"/> without the span, and without one side's whitespace so no double space is left: the
    /// whitespace after it when the span starts the text or follows whitespace (<c>a foo b</c> -> <c>a b</c>), else the
    /// whitespace before it (<c>a foo, b</c> -> <c>a, b</c>; <c>a foo</c> -> <c>a</c>).
    /// </summary>
    public static string Remove(string text, int start, int length)
    {
        int end = start + length;
        int after = end;
        while (after < text.Length && char.IsWhiteSpace(text[after])) after++;
        if (after > end && (start == 0 || char.IsWhiteSpace(text[start - 1]))) return string.Concat(text.AsSpan(0, start), text.AsSpan(after));
        int before = start;
        while (before > 0 && char.IsWhiteSpace(text[before - 1])) before--;
        if (after == end) return string.Concat(text.AsSpan(0, before), text.AsSpan(end));
        return string.Concat(text.AsSpan(0, start), text.AsSpan(end));
    }

    private static void AddTrimmed(List<(int Start, int Length)> sentences, string text, int start, int end)
    {
        while (end > start && char.IsWhiteSpace(text[end - 1])) end--;
        if (end > start) sentences.Add((start, end - start));
    }

    private static bool IsClosing(char c) => c is '"' or '\'' or ')' or ']' or '}' or '”' or '’' or '»' or '」' or '』' or '）';

    /// <summary>An apostrophe or hyphen joins letters; a point or comma joins digits.</summary>
    private static bool JoinsNeighbours(string text, int joiner, int next)
    {
        bool digits = char.IsDigit(text[joiner - 1]) && char.IsDigit(text[next]);
        return text[joiner] is '.' or ',' ? digits : !digits && char.IsLetter(text[joiner - 1]) && char.IsLetter(text[next]);
    }

    private static Kind Classify(string text, int index)
    {
        int codePoint = char.IsSurrogatePair(text, index) ? char.ConvertToUtf32(text[index], text[index + 1]) : text[index];
        if (IsCjkIdeograph(codePoint)) return Kind.Alone;
        if (text[index] is '\'' or '’' or '-' or '‐' or '.' or ',') return Kind.Joiner;
        return CharUnicodeInfo.GetUnicodeCategory(codePoint) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter
                or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark
                or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber or UnicodeCategory.ConnectorPunctuation => Kind.Word,
            UnicodeCategory.OtherSymbol => Kind.Alone,
            _ => Kind.Other,
        };
    }

    /// <summary>The CJK ideograph blocks BERT's tokenizer puts spaces around (<c>_is_chinese_char</c>).</summary>
    private static bool IsCjkIdeograph(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
