using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// One step of a tokenizer.json <c>normalizer</c>: text in, text out. Only token ids are produced downstream (no offsets), so
/// a step is a plain string function; Hugging Face's alignment bookkeeping has no effect on ids and is not reproduced.
/// </summary>
internal abstract class TextNormalizer
{
    public abstract string Normalize(string text);

    /// <summary><see cref="Normalize"/> with each output unit traced to the range of <paramref name="text"/> it comes from
    /// (character offsets; see <see cref="NormalizationTrace"/>).</summary>
    public virtual TracedWord NormalizeTraced(string text) => NormalizationTrace.Normalize(text, Normalize);
}

/// <summary><c>Sequence</c>: the steps in order.</summary>
internal sealed class SequenceNormalizer(IReadOnlyList<TextNormalizer> steps) : TextNormalizer
{
    public override string Normalize(string text)
    {
        foreach (TextNormalizer step in steps) text = step.Normalize(text);
        return text;
    }

    public override TracedWord NormalizeTraced(string text)
    {
        TracedWord traced = TracedWord.Substring(text, 0, text.Length);
        foreach (TextNormalizer step in steps) traced = step.NormalizeTraced(traced.Word).Through(traced);
        return traced;
    }
}

/// <summary><c>BertNormalizer</c>, and <c>Lowercase</c> (BertNormalizer with only its lower-casing on: Rust's per-code-point
/// <c>to_lowercase</c>), through the existing single-pass <see cref="BertNormalizer"/>.</summary>
internal sealed class BertTextNormalizer(BertNormalizer normalizer) : TextNormalizer
{
    public static BertTextNormalizer Lowercase() => new(new BertNormalizer(cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: true));

    public BertNormalizer Inner => normalizer;

    public override string Normalize(string text)
    {
        var buffer = new PooledBuffer<char>(text.Length + 16);
        try
        {
            normalizer.Normalize(text, ref buffer);
            return buffer.Span.ToString();
        }
        finally { buffer.Dispose(); }
    }

    /// <summary>Every step of BertNormalizer maps one code point on its own: traced code point by code point.</summary>
    public override TracedWord NormalizeTraced(string text) => NormalizationTrace.Normalize(text, Normalize, perCodePoint: true);
}

/// <summary><c>StripAccents</c>: removes every combining mark (general category M: Mn, Mc, Me), as tokenizers' strip.rs does
/// with <c>is_combining_mark</c>. It does not decompose: tokenizer.json files put an NFD/NFKD step before it.</summary>
internal sealed class StripAccentsNormalizer : TextNormalizer
{
    public override string Normalize(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (Rune rune in text.EnumerateRunes())
            if (Rune.GetUnicodeCategory(rune) is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark))
                builder.Append(rune.ToString());
        return builder.ToString();
    }
}

/// <summary><c>Replace</c>: every match of a literal string or a regular expression becomes <c>content</c>.</summary>
/// <remarks>tokenizers compiles the pattern with Oniguruma; .NET's engine agrees on the patterns these files use
/// (" {2,}", "\s+", literal strings).</remarks>
internal sealed class ReplaceNormalizer : TextNormalizer
{
    private readonly string? _literal;
    private readonly TimedRegex? _regex;
    private readonly string _content;

    // source: the file the pattern comes from, named when it is invalid or runs away.
    public ReplaceNormalizer(string? literal, string? regex, string content, string source = "(built in)")
    {
        _literal = literal;
        _regex = regex is null ? null : new TimedRegex(regex, source, "Replace normalizer");
        _content = content;
    }

    public override string Normalize(string text) =>
        _regex is not null ? _regex.Replace(text, _content.Replace("$", "$$", StringComparison.Ordinal))
        : _literal!.Length == 0 ? text : text.Replace(_literal, _content, StringComparison.Ordinal);

    /// <summary>Each match's replacement traced as tokenizers' <c>NormalizedString::replace</c> aligns it: the match is removed
    /// and the replacement inserted, and inserted characters take the alignment of the character before them, the match's
    /// last one ("many     inner" -> "many inner": the space is the fifth one). The text between matches unit to unit.</summary>
    public override TracedWord NormalizeTraced(string text)
    {
        var matches = new List<(int Start, int Length, string Replacement)>();
        if (_regex is not null)
            foreach (Match m in _regex.Matches(text)) matches.Add((m.Index, m.Length, m.Result(_content.Replace("$", "$$", StringComparison.Ordinal))));
        else if (_literal!.Length > 0)
            for (int at = text.IndexOf(_literal, StringComparison.Ordinal); at >= 0; at = text.IndexOf(_literal, at + _literal.Length, StringComparison.Ordinal))
                matches.Add((at, _literal.Length, _content));
        var builder = new System.Text.StringBuilder(text.Length);
        var from = new List<int>(text.Length);
        var to = new List<int>(text.Length);
        int position = 0;
        foreach (var (start, length, replacement) in matches.Where(m => m.Length > 0))
        {
            for (int i = position; i < start; i++) { builder.Append(text[i]); from.Add(i); to.Add(i + 1); }
            for (int k = 0; k < replacement.Length; k++) { builder.Append(replacement[k]); int source = start + length - 1; from.Add(source); to.Add(source + 1); }
            position = start + length;
        }
        for (int i = position; i < text.Length; i++) { builder.Append(text[i]); from.Add(i); to.Add(i + 1); }
        string result = builder.ToString();
        return result == Normalize(text) ? new TracedWord(result, from.ToArray(), to.ToArray()) : base.NormalizeTraced(text);
    }
}

/// <summary><c>Strip</c>: removes Unicode whitespace (Rust <c>char::is_whitespace</c>) at the start and/or end.</summary>
internal sealed class StripNormalizer(bool left, bool right) : TextNormalizer
{
    public override string Normalize(string text)
    {
        int start = 0, end = text.Length;
        if (left) while (start < end && char.IsWhiteSpace(text[start])) start++;
        if (right) while (end > start && char.IsWhiteSpace(text[end - 1])) end--;
        return text[start..end];
    }

    public override TracedWord NormalizeTraced(string text)
    {
        int start = 0, end = text.Length;
        if (left) while (start < end && char.IsWhiteSpace(text[start])) start++;
        if (right) while (end > start && char.IsWhiteSpace(text[end - 1])) end--;
        return TracedWord.Substring(text, start, end);
    }
}

/// <summary><c>Prepend</c>: puts a string in front of non-empty text.</summary>
internal sealed class PrependNormalizer(string prefix) : TextNormalizer
{
    public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}

/// <summary><c>NFC</c>, <c>NFD</c>, <c>NFKC</c>, <c>NFKD</c> through <see cref="UnicodeNormalization"/> (our own tables:
/// .NET's string.Normalize is a no-op on non-ASCII text under InvariantGlobalization).</summary>
internal sealed class UnicodeFormNormalizer(NormalizationForm form) : TextNormalizer
{
    public override string Normalize(string text) => UnicodeNormalization.Normalize(text, form);

    /// <summary>Composition absorbs marks into the cluster's first character (see <see cref="NormalizationTrace"/>).</summary>
    public override TracedWord NormalizeTraced(string text) => NormalizationTrace.Normalize(text, Normalize, composesIntoFirst: true);
}
