using System.Globalization;
using System.Text;

namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// GPT-2's byte-to-unicode mapping, shared by the ByteLevel pre-tokenizer (text -> one visible character per UTF-8 byte) and
/// the ByteLevel decoder (tokens -> bytes -> text). Byte-level BPE vocabularies are written in these characters: "Ġ" is the
/// space byte 0x20, "Ċ" the newline 0x0A, and "Ã©" the two bytes C3 A9 of "é".
/// </summary>
/// <remarks>
/// tokenizers' <c>bytes_char</c> (pre_tokenizers/byte_level.rs), from GPT-2's encoder.py: the 188 printable bytes
/// '!'..'~', '¡'..'¬', '®'..'ÿ' map to the character of the same code; the other 68 (control characters, space, DEL,
/// 0x80-0xA0, soft hyphen 0xAD) map, in byte order, to U+0100, U+0101, ... U+0143. Every byte thus has a printable,
/// non-space character, so BPE never sees whitespace or control characters and every string is representable.
/// </remarks>
internal static class ByteLevel
{
    /// <summary>[256] the character standing for each byte.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    private static readonly Dictionary<char, byte> CharToByte = Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    /// <summary>The text's UTF-8 bytes, each as its mapped character (lone surrogates become U+FFFD's bytes, as in any UTF-8 encoder).</summary>
    public static string Encode(ReadOnlySpan<char> text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text)];
        Encoding.UTF8.GetBytes(text, bytes);
        return string.Create(bytes.Length, bytes, static (chars, source) =>
        {
            for (int i = 0; i < source.Length; i++) chars[i] = ByteToChar[source[i]];
        });
    }

    /// <summary>
    /// The ByteLevel decoder (tokenizers' <c>decode_chain</c>): each token's characters back to bytes; a token with any
    /// character outside the mapping (an added token such as "[CLS]" is usually inside it) contributes its own UTF-8 bytes;
    /// then the bytes are read as UTF-8, invalid sequences becoming U+FFFD (<c>String::from_utf8_lossy</c>).
    /// </summary>
    public static string Decode(IEnumerable<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (string token in tokens)
        {
            bool mapped = true;
            foreach (char c in token) if (!CharToByte.ContainsKey(c)) { mapped = false; break; }
            if (mapped) foreach (char c in token) bytes.Add(CharToByte[c]);
            else bytes.AddRange(Encoding.UTF8.GetBytes(token));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}

/// <summary>
/// <c>ByteLevel</c> pre-tokenizer: optionally a space in front (<c>add_prefix_space</c>, unless the text starts with one), the
/// split into GPT-2's words (<c>use_regex</c>), then every word's UTF-8 bytes as <see cref="ByteLevel"/> characters. "Hello
/// world!" -> "Hello", "Ġworld", "!".
/// </summary>
/// <remarks>
/// <para>tokenizers applies the prefix space to each piece it is given: the text between two added tokens, or a word of an
/// earlier step of a Sequence. <c>trim_offsets</c> only moves offsets past the leading space and does not change ids.</para>
/// <para>The split is GPT-2's regular expression <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>
/// (run by tokenizers with Oniguruma), matched here by hand over Unicode scalar values in <see cref="SplitGpt2"/>, because
/// .NET's Regex classifies UTF-16 units and would call each half of an astral letter (𝐀, 𠀀) a non-letter. Every character
/// falls in some alternative, so the matches tile the text.</para>
/// </remarks>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    public override void Split(string text, bool atTextStart, List<string> words)
    {
        if (addPrefixSpace && !text.StartsWith(' ')) text = " " + text;
        if (!useRegex)
        {
            if (text.Length > 0) words.Add(ByteLevel.Encode(text));
            return;
        }
        int position = 0;
        while (position < text.Length)
        {
            int end = MatchGpt2(text, position);
            words.Add(ByteLevel.Encode(text.AsSpan(position, end - position)));
            position = end;
        }
    }

    public override void SplitTraced(string text, bool atTextStart, List<TracedWord> words)
    {
        // The prefix space is traced to the first character, as tokenizers' NormalizedString::prepend aligns it.
        bool prefixed = addPrefixSpace && !text.StartsWith(' ') && text.Length > 0;
        TracedWord source = TracedWord.Substring(text, 0, text.Length);
        if (prefixed) source = new TracedWord(" " + text, [source.Start[0], .. source.Start], [source.End[0], .. source.End]);
        string input = source.Word;
        for (int position = 0; position < input.Length;)
        {
            int end = useRegex ? MatchGpt2(input, position) : input.Length;
            // One mapped character per UTF-8 byte, each traced to the character the byte belongs to.
            var from = new List<int>();
            var to = new List<int>();
            for (int i = position; i < end;)
            {
                Rune.DecodeFromUtf16(input.AsSpan(i), out Rune rune, out int used);
                for (int b = 0; b < rune.Utf8SequenceLength; b++) { from.Add(source.Start[i]); to.Add(source.End[i + used - 1]); }
                i += used;
            }
            words.Add(new TracedWord(ByteLevel.Encode(input.AsSpan(position, end - position)), from.ToArray(), to.ToArray()));
            position = end;
        }
    }

    /// <summary>The pieces of GPT-2's split of <paramref name="text"/>, unmapped (for tests and other pre-tokenizers).</summary>
    public static List<string> SplitGpt2(string text)
    {
        var pieces = new List<string>();
        for (int position = 0; position < text.Length;)
        {
            int end = MatchGpt2(text, position);
            pieces.Add(text[position..end]);
            position = end;
        }
        return pieces;
    }

    private enum Kind { Space, Letter, Number, Other }

    private static Kind KindAt(string text, int index, out int length)
    {
        Rune.DecodeFromUtf16(text.AsSpan(index), out Rune r, out length);
        if (Rune.IsWhiteSpace(r)) return Kind.Space;   // Oniguruma's \s: Unicode White_Space, the same set
        return Rune.GetUnicodeCategory(r) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Kind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Kind.Number,
            _ => Kind.Other,
        };
    }

    /// <summary>End of the GPT-2 regex match starting at <paramref name="start"/>: its alternatives tried in order, first wins.</summary>
    private static int MatchGpt2(string text, int start)
    {
        int n = text.Length;
        // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
        if (text[start] == '\'' && start + 1 < n)
        {
            char c = text[start + 1];
            if (c is 's' or 't' or 'm' or 'd') return start + 2;
            if (start + 2 < n && ((c == 'r' && text[start + 2] == 'e') || (c == 'v' && text[start + 2] == 'e') || (c == 'l' && text[start + 2] == 'l')))
                return start + 3;
        }
        // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': an optional space, then a run of one class.
        int runStart = start;
        if (text[start] == ' ' && start + 1 < n) runStart = start + 1;
        Kind kind = KindAt(text, runStart, out int used);
        if (kind == Kind.Space && runStart != start) { runStart = start; kind = Kind.Space; }   // "  ": the space is not a prefix
        if (kind != Kind.Space)
        {
            int end = runStart + used;
            while (end < n && KindAt(text, end, out int u) == kind) end += u;
            return end;
        }
        // '\s+(?!\S)': the whitespace run, less its last character when a non-space follows; else '\s+': the whole run.
        int runEnd = start;
        int last = start;
        while (runEnd < n && KindAt(text, runEnd, out int u) == Kind.Space) { last = runEnd; runEnd += u; }
        if (runEnd == n) return runEnd;
        return last > start ? last : runEnd;
    }
}
