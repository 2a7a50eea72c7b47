using System.Globalization;
using System.Text;

namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// One tokenizer.json <c>pre_tokenizer</c>: splits normalized text into words, each of which the model encodes on its own.
/// The <c>atTextStart</c> argument of <see cref="Split"/> tells whether the text begins the input (Metaspace's "first" scheme).
/// </summary>
internal abstract class PreTokenizer
{
    /// <summary>Appends the words of <paramref name="text"/> to <paramref name="words"/>.</summary>
    public abstract void Split(string text, bool atTextStart, List<string> words);

    /// <summary>Like <see cref="Split"/>, with every UTF-16 unit of every word traced to the range of <paramref name="text"/>
    /// it comes from (for character offsets).</summary>
    /// <remarks>This default serves the pre-tokenizers whose words are pieces of the text, in order (BertPreTokenizer,
    /// Whitespace, WhitespaceSplit, Punctuation): each word is found at or after the previous word's end. What lies between
    /// two words is removed whitespace or delimiters, which no word contains, so the first occurrence is the word's own.
    /// Pre-tokenizers that change the text (ByteLevel, Metaspace) override it.</remarks>
    public virtual void SplitTraced(string text, bool atTextStart, List<TracedWord> words)
    {
        var plain = new List<string>();
        Split(text, atTextStart, plain);
        int position = 0;
        foreach (string word in plain)
        {
            int at = text.IndexOf(word, position, StringComparison.Ordinal);
            if (at < 0) throw new InvalidOperationException($"The {GetType().Name} word '{word}' is not a piece of its text.");
            words.Add(TracedWord.Substring(text, at, at + word.Length));
            position = at + word.Length;
        }
    }

    /// <summary>tokenizers' <c>is_punctuation</c> (pre_tokenizers/punctuation.rs and BertPreTokenizer): ASCII punctuation or any P* category.</summary>
    protected static bool IsPunctuation(Rune r) =>
        (r.Value < 0x80 && char.IsAsciiLetterOrDigit((char)r.Value) is false && r.Value is > 0x20 and < 0x7F)
        || Rune.GetUnicodeCategory(r) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
            or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
}

/// <summary>A model token of one word: its id and the UTF-16 units [Start, End) of the word it covers.</summary>
internal readonly record struct WordToken(int Id, int Start, int End);

/// <summary>A word and, for each of its UTF-16 units i, the range [Start[i], End[i]) of the text it was cut from.</summary>
internal sealed record TracedWord(string Word, int[] Start, int[] End)
{
    /// <summary><paramref name="text"/>[start..end] unchanged: each unit traced to its code point (both halves of a pair to the pair).</summary>
    public static TracedWord Substring(string text, int start, int end)
    {
        var from = new int[end - start];
        var to = new int[end - start];
        for (int i = start; i < end;)
        {
            int used = char.IsHighSurrogate(text[i]) && i + 1 < end && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            for (int k = 0; k < used; k++) { from[i - start + k] = i; to[i - start + k] = i + used; }
            i += used;
        }
        return new TracedWord(text[start..end], from, to);
    }

    /// <summary>This word, cut from <paramref name="parent"/>'s word, traced through it to the parent's source.</summary>
    public TracedWord Through(TracedWord parent)
    {
        var from = new int[Word.Length];
        var to = new int[Word.Length];
        for (int i = 0; i < Word.Length; i++) { from[i] = parent.Start[Start[i]]; to[i] = parent.End[End[i] - 1]; }
        return new TracedWord(Word, from, to);
    }
}

/// <summary><c>Sequence</c>: each pre-tokenizer splits every word the previous one produced.</summary>
internal sealed class SequencePreTokenizer(IReadOnlyList<PreTokenizer> steps) : PreTokenizer
{
    public override void Split(string text, bool atTextStart, List<string> words)
    {
        List<string> current = [text];
        foreach (PreTokenizer step in steps)
        {
            var next = new List<string>();
            for (int i = 0; i < current.Count; i++) step.Split(current[i], atTextStart && i == 0, next);
            current = next;
        }
        words.AddRange(current);
    }

    public override void SplitTraced(string text, bool atTextStart, List<TracedWord> words)
    {
        List<TracedWord> current = [TracedWord.Substring(text, 0, text.Length)];
        foreach (PreTokenizer step in steps)
        {
            var next = new List<TracedWord>();
            var parts = new List<TracedWord>();
            for (int i = 0; i < current.Count; i++)
            {
                parts.Clear();
                step.SplitTraced(current[i].Word, atTextStart && i == 0, parts);
                foreach (TracedWord part in parts) next.Add(part.Through(current[i]));
            }
            current = next;
        }
        words.AddRange(current);
    }
}

/// <summary><c>BertPreTokenizer</c>: whitespace removed, each punctuation character its own word (<see cref="Tokenization.BertPreTokenizer"/>).</summary>
internal sealed class BertWordsPreTokenizer : PreTokenizer
{
    public override void Split(string text, bool atTextStart, List<string> words)
    {
        int position = 0;
        while (BertPreTokenizer.NextWord(text, ref position, out int start, out int length)) words.Add(text.Substring(start, length));
    }
}

/// <summary><c>WhitespaceSplit</c>: split at Unicode whitespace, which is removed.</summary>
internal sealed class WhitespaceSplitPreTokenizer : PreTokenizer
{
    public override void Split(string text, bool atTextStart, List<string> words)
    {
        int i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            int start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i])) i++;
            if (i > start) words.Add(text[start..i]);
        }
    }
}

/// <summary><c>Whitespace</c>: the matches of <c>\w+|[^\w\s]+</c> (runs of word characters, runs of other non-space
/// characters). Rust's Unicode <c>\w</c> is Alphabetic, marks, decimal digits, connector punctuation and the joiners; here
/// Alphabetic is approximated by the letter categories and letter numbers (Nl) — the few Other_Alphabetic symbols such as
/// circled letters differ.</summary>
internal sealed class WhitespacePreTokenizer : PreTokenizer
{
    private enum Kind { Space, Word, Other }

    private static Kind KindOf(Rune r)
    {
        if (Rune.IsWhiteSpace(r)) return Kind.Space;
        if (r.Value is 0x200C or 0x200D) return Kind.Word;
        return Rune.GetUnicodeCategory(r) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter
                or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark
                or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.ConnectorPunctuation => Kind.Word,
            _ => Kind.Other,
        };
    }

    public override void Split(string text, bool atTextStart, List<string> words)
    {
        int i = 0;
        while (i < text.Length)
        {
            Rune.DecodeFromUtf16(text.AsSpan(i), out Rune r, out int used);
            Kind kind = KindOf(r);
            if (kind == Kind.Space) { i += used; continue; }
            int start = i;
            i += used;
            while (i < text.Length)
            {
                Rune.DecodeFromUtf16(text.AsSpan(i), out Rune next, out int n);
                if (KindOf(next) != kind) break;
                i += n;
            }
            words.Add(text[start..i]);
        }
    }
}

/// <summary>How a pre-tokenizer treats the delimiters it splits at (tokenizers' <c>SplitDelimiterBehavior</c>).</summary>
internal enum DelimiterBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary><c>Punctuation</c>: split at punctuation characters, by default each one isolated as its own word.</summary>
internal sealed class PunctuationPreTokenizer(DelimiterBehavior behavior) : PreTokenizer
{
    public override void Split(string text, bool atTextStart, List<string> words) =>
        SplitAt(text, behavior, words, static r => IsPunctuation(r));

    /// <summary>tokenizers' <c>NormalizedString::split</c> with a character predicate.</summary>
    internal static void SplitAt(string text, DelimiterBehavior behavior, List<string> words, Func<Rune, bool> isDelimiter)
    {
        // Pieces: (start, end, isDelimiter), delimiters one character each (Contiguous merges runs of them).
        var pieces = new List<(int Start, int End, bool Delimiter)>();
        int i = 0, last = 0;
        while (i < text.Length)
        {
            Rune.DecodeFromUtf16(text.AsSpan(i), out Rune r, out int used);
            if (isDelimiter(r))
            {
                if (i > last) pieces.Add((last, i, false));
                if (behavior == DelimiterBehavior.Contiguous && pieces.Count > 0 && pieces[^1].Delimiter && pieces[^1].End == i)
                    pieces[^1] = (pieces[^1].Start, i + used, true);
                else pieces.Add((i, i + used, true));
                last = i + used;
            }
            i += used;
        }
        if (last < text.Length) pieces.Add((last, text.Length, false));

        switch (behavior)
        {
            case DelimiterBehavior.Removed:
                foreach (var p in pieces) if (!p.Delimiter) words.Add(text[p.Start..p.End]);
                break;
            case DelimiterBehavior.Isolated or DelimiterBehavior.Contiguous:
                foreach (var p in pieces) words.Add(text[p.Start..p.End]);
                break;
            case DelimiterBehavior.MergedWithPrevious:
            {
                int start = 0;
                foreach (var p in pieces)
                    if (p.Delimiter) { words.Add(text[start..p.End]); start = p.End; }
                if (start < text.Length) words.Add(text[start..]);
                break;
            }
            case DelimiterBehavior.MergedWithNext:
            {
                int start = 0;
                foreach (var p in pieces)
                    if (p.Delimiter && p.Start > start) { words.Add(text[start..p.Start]); start = p.Start; }
                if (start < text.Length) words.Add(text[start..]);
                break;
            }
        }
    }
}

/// <summary>How Metaspace puts its replacement character in front of a text.</summary>
internal enum PrependScheme { Always, First, Never }

/// <summary>
/// <c>Metaspace</c> (SentencePiece's whitespace handling): every space becomes the replacement character (U+2581 "▁"), one
/// is put in front (always, on the first segment only, or never) unless the text already starts with it, and with
/// <c>split</c> the text is cut before each replacement character ("▁Hello▁world" -> "▁Hello", "▁world").
/// </summary>
internal sealed class MetaspacePreTokenizer(char replacement, PrependScheme prependScheme, bool split) : PreTokenizer
{
    public override void Split(string text, bool atTextStart, List<string> words)
    {
        string replaced = text.Replace(' ', replacement);
        bool prepend = prependScheme == PrependScheme.Always || (prependScheme == PrependScheme.First && atTextStart);
        if (prepend && !replaced.StartsWith(replacement)) replaced = replacement + replaced;
        if (!split)
        {
            if (replaced.Length > 0) words.Add(replaced);
            return;
        }
        PunctuationPreTokenizer.SplitAt(replaced, DelimiterBehavior.MergedWithNext, words, r => r.Value == replacement);
    }

    /// <summary>Each "▁" traced to the space it replaces; a prepended one to the text's first character, as tokenizers'
    /// <c>NormalizedString::prepend</c> aligns it. The words tile the replaced text, so they are traced in order.</summary>
    public override void SplitTraced(string text, bool atTextStart, List<TracedWord> words)
    {
        var plain = new List<string>();
        Split(text, atTextStart, plain);
        TracedWord original = TracedWord.Substring(text, 0, text.Length);
        int total = plain.Sum(w => w.Length);
        int prepended = total - text.Length;   // 1 when a "▁" was put in front, else 0
        var from = new int[total];
        var to = new int[total];
        for (int i = 0; i < total; i++)
        {
            int source = Math.Max(i - prepended, 0);
            from[i] = text.Length == 0 ? 0 : original.Start[source];
            to[i] = text.Length == 0 ? 0 : original.End[source];
        }
        int position = 0;
        foreach (string word in plain)
        {
            words.Add(new TracedWord(word, from[position..(position + word.Length)], to[position..(position + word.Length)]));
            position += word.Length;
        }
    }
}

/// <summary>
/// <c>Split</c>: cuts at the matches of a literal string or a regular expression (Qwen2/3's word pattern, for example), the
/// matches treated by <c>behavior</c> (Isolated: each match its own word; Removed; MergedWithPrevious/Next; Contiguous), or
/// with <c>invert</c> the text between matches treated so. Empty pieces are dropped, as tokenizers' PreTokenizedString does.
/// </summary>
/// <remarks>tokenizers compiles the pattern with Oniguruma; here it is .NET's Regex, which agrees on the constructs these
/// files use (alternation, <c>\p{L}</c>, <c>\p{N}</c>, <c>\s</c>, <c>(?i:...)</c>, <c>(?!\S)</c>) except that .NET sees
/// UTF-16 units: the two halves of an astral character (𝐀, 𠀀, 😀) would be two unassigned units, neither a letter nor one
/// character. So a text with astral characters is matched through a stand-in string in which each astral character is one
/// BMP character of the same general category (<see cref="StandIn"/>), and the match offsets are mapped back. This is
/// exact for patterns that see astral characters only through categories and negated classes, as these files' patterns do;
/// a pattern naming an astral character literally, or a case-insensitive astral letter, is not covered.</remarks>
internal sealed class SplitPreTokenizer : PreTokenizer
{
    private readonly TimedRegex? _regex;
    private readonly string? _literal;
    private readonly DelimiterBehavior _behavior;
    private readonly bool _invert;

    /// <summary>For each <see cref="UnicodeCategory"/>, a BMP character of that category (the highest one, an obscure
    /// character no pattern names), standing in for astral characters.</summary>
    internal static readonly char[] StandIn = BuildStandIns();

    private static char[] BuildStandIns()
    {
        var standIn = new char[32];
        for (int c = 0xFFFD; c >= 0x100; c--)
        {
            if (c is >= 0xD800 and <= 0xDFFF) continue;
            int category = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
            if (standIn[category] == '\0') standIn[category] = (char)c;
        }
        return standIn;
    }

    // source: the file the pattern comes from, named when it is invalid or runs away.
    public SplitPreTokenizer(string? literal, string? regex, DelimiterBehavior behavior, bool invert, string source = "(built in)")
    {
        _literal = literal;
        _regex = regex is null ? null : new TimedRegex(regex, source, "Split pre_tokenizer");
        _behavior = behavior;
        _invert = invert;
    }

    public override void Split(string text, bool atTextStart, List<string> words)
    {
        foreach (var (start, end) in Pieces(text)) words.Add(text[start..end]);
    }

    public override void SplitTraced(string text, bool atTextStart, List<TracedWord> words)
    {
        foreach (var (start, end) in Pieces(text)) words.Add(TracedWord.Substring(text, start, end));
    }

    private List<(int Start, int End)> Pieces(string text)
    {
        // tokenizers' Pattern::find_matches: the text tiled into (range, isMatch) pieces.
        var pieces = new List<(int Start, int End, bool Match)>();
        int previous = 0;
        foreach ((int start, int end) in Matches(text))
        {
            if (start > previous) pieces.Add((previous, start, false));
            pieces.Add((start, end, true));
            previous = end;
        }
        if (previous < text.Length || pieces.Count == 0) pieces.Add((previous, text.Length, false));
        if (_invert) for (int i = 0; i < pieces.Count; i++) pieces[i] = pieces[i] with { Match = !pieces[i].Match };

        // NormalizedString::split: which pieces are kept, and which are glued to a neighbour.
        var kept = new List<(int Start, int End)>();
        bool previousMatch = false;
        switch (_behavior)
        {
            case DelimiterBehavior.Isolated:
                foreach (var p in pieces) kept.Add((p.Start, p.End));
                break;
            case DelimiterBehavior.Removed:
                foreach (var p in pieces) if (!p.Match) kept.Add((p.Start, p.End));
                break;
            case DelimiterBehavior.Contiguous:
                foreach (var p in pieces)
                {
                    if (p.Match == previousMatch && kept.Count > 0) kept[^1] = (kept[^1].Start, p.End);
                    else kept.Add((p.Start, p.End));
                    previousMatch = p.Match;
                }
                break;
            case DelimiterBehavior.MergedWithPrevious:
                foreach (var p in pieces)
                {
                    if (p.Match && !previousMatch && kept.Count > 0) kept[^1] = (kept[^1].Start, p.End);
                    else kept.Add((p.Start, p.End));
                    previousMatch = p.Match;
                }
                break;
            case DelimiterBehavior.MergedWithNext:
                for (int i = pieces.Count - 1; i >= 0; i--)
                {
                    var p = pieces[i];
                    if (p.Match && !previousMatch && kept.Count > 0) kept[^1] = (p.Start, kept[^1].End);
                    else kept.Add((p.Start, p.End));
                    previousMatch = p.Match;
                }
                kept.Reverse();
                break;
        }
        kept.RemoveAll(p => p.End <= p.Start);
        return kept;
    }

    private IEnumerable<(int Start, int End)> Matches(string text)
    {
        if (text.Length == 0) yield break;
        if (_regex is not null)
        {
            if (!text.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF'))
            {
                foreach (System.Text.RegularExpressions.Match m in _regex.Matches(text)) yield return (m.Index, m.Index + m.Length);
                yield break;
            }
            // Astral characters: match a stand-in with one UTF-16 unit per code point; at[i] = where stand-in unit i starts in text.
            var proxy = new StringBuilder(text.Length);
            var at = new List<int>(text.Length + 1);
            for (int i = 0; i < text.Length;)
            {
                Rune.DecodeFromUtf16(text.AsSpan(i), out Rune rune, out int used);
                at.Add(i);
                proxy.Append(used == 2 ? StandIn[(int)Rune.GetUnicodeCategory(rune)] : text[i]);
                i += used;
            }
            at.Add(text.Length);
            foreach (System.Text.RegularExpressions.Match m in _regex.Matches(proxy.ToString())) yield return (at[m.Index], at[m.Index + m.Length]);
            yield break;
        }
        if (_literal!.Length == 0) yield break;
        for (int at = text.IndexOf(_literal, StringComparison.Ordinal); at >= 0; at = text.IndexOf(_literal, at + _literal.Length, StringComparison.Ordinal))
            yield return (at, at + _literal.Length);
    }
}
