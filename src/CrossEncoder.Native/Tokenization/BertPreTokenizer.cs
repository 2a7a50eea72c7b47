using System.Globalization;
using System.Text;

namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// Hugging Face's <c>BertPreTokenizer</c>: splits normalized text into words at whitespace (removed) and punctuation (each
/// punctuation character is a word of its own). Punctuation is every ASCII non-alphanumeric printable character
/// (33-47, 58-64, 91-96, 123-126, so "$", "+", "=", "^", "|", "~" count even though Unicode files them as symbols) plus every
/// Unicode P* category.
/// </summary>
internal static class BertPreTokenizer
{
    private const byte Word = 0, Space = 1, Punctuation = 2;

    /// <summary>What each ASCII char is, from the same predicates as the rest of the code points (so a lookup, not a rule).</summary>
    private static readonly byte[] AsciiClass = Enumerable.Range(0, 128)
        .Select(c => Rune.IsWhiteSpace(new Rune(c)) ? Space : IsPunctuation(new Rune(c)) ? Punctuation : Word).ToArray();

    /// <summary>Finds the next word at or after <paramref name="position"/>; false when only whitespace remains.</summary>
    public static bool NextWord(ReadOnlySpan<char> text, ref int position, out int wordStart, out int wordLength)
    {
        byte[] asciiClass = AsciiClass;
        int i = position;
        // Skip whitespace.
        while (i < text.Length)
        {
            char c = text[i];
            if (c < 0x80)
            {
                if (asciiClass[c] != Space) break;
                i++;
                continue;
            }
            Rune.DecodeFromUtf16(text[i..], out Rune rune, out int used);
            if (!Rune.IsWhiteSpace(rune)) break;
            i += used;
        }
        wordStart = i;
        if (i == text.Length)
        {
            position = i;
            wordLength = 0;
            return false;
        }
        bool punctuation;
        if (text[i] < 0x80) punctuation = asciiClass[text[i++]] == Punctuation;
        else
        {
            Rune.DecodeFromUtf16(text[i..], out Rune first, out int firstUsed);
            i += firstUsed;
            punctuation = IsPunctuation(first);
        }
        if (!punctuation)
        {
            // A word runs until whitespace or punctuation.
            while (i < text.Length)
            {
                char c = text[i];
                if (c < 0x80)
                {
                    if (asciiClass[c] != Word) break;
                    i++;
                    continue;
                }
                Rune.DecodeFromUtf16(text[i..], out Rune rune, out int used);
                if (Rune.IsWhiteSpace(rune) || IsPunctuation(rune)) break;
                i += used;
            }
        }
        wordLength = i - wordStart;
        position = i;
        return true;
    }

    /// <summary>tokenizers' <c>is_bert_punc</c>: <c>char::is_ascii_punctuation</c> or a Unicode punctuation category.</summary>
    public static bool IsPunctuation(Rune rune)
    {
        int cp = rune.Value;
        if (cp < 0x80) return cp is (>= 33 and <= 47) or (>= 58 and <= 64) or (>= 91 and <= 96) or (>= 123 and <= 126);
        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }
}
