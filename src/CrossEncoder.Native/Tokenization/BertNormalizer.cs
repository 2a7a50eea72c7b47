using System.Globalization;
using System.Text;

namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// Hugging Face's <c>BertNormalizer</c> (tokenizers/src/normalizers/bert.rs): clean text, space out CJK ideographs, strip accents,
/// lower-case, in that order. Every step maps one code point to zero or more code points, so all four run in a single pass.
/// </summary>
/// <remarks>
/// Rust definitions reproduced here (they differ slightly from transformers' Python BasicTokenizer):
/// control = any "C*" category (Cc, Cf, Cs, Co, Cn) except \t \n \r; whitespace = \t \n \r or the Unicode White_Space property
/// (so U+2028/U+2029 become spaces); lower-casing is <c>char::to_lowercase</c>, i.e. per code point with no final-sigma rule,
/// where U+0130 "İ" becomes "i" + U+0307; accents are stripped (NFD, drop Mn) before lower-casing.
/// </remarks>
internal sealed class BertNormalizer
{
    private readonly bool _cleanText, _handleChineseChars, _stripAccents, _lowercase;

    public BertNormalizer(bool cleanText, bool handleChineseChars, bool stripAccents, bool lowercase)
    {
        _cleanText = cleanText;
        _handleChineseChars = handleChineseChars;
        _stripAccents = stripAccents;
        _lowercase = lowercase;
    }

    /// <summary>Appends the normalized form of <paramref name="text"/> to <paramref name="output"/>.</summary>
    public void Normalize(ReadOnlySpan<char> text, ref PooledBuffer<char> output)
    {
        int i = 0;
        while (i < text.Length)
        {
            // ASCII runs in bulk (most text is one run): vectorized search for the next non-ASCII char, copy, fix up.
            int run = text[i..].IndexOfAnyExceptInRange('\0', '\x7F');
            if (run < 0) run = text.Length - i;
            if (run > 0)
            {
                AppendAscii(text.Slice(i, run), ref output);
                i += run;
                if (i == text.Length) break;
            }

            // One non-ASCII code point. A lone surrogate decodes as "invalid"; treat it as category Cs (removed by
            // clean_text, kept as-is otherwise).
            char c = text[i];
            if (Rune.DecodeFromUtf16(text[i..], out Rune rune, out int consumed) != System.Buffers.OperationStatus.Done)
            {
                i++;
                if (!_cleanText) output.Add(c);
                continue;
            }
            i += consumed;

            if (_cleanText)
            {
                if (rune.Value == 0xFFFD || IsControl(rune)) continue;
                if (Rune.IsWhiteSpace(rune)) { output.Add(' '); continue; }
            }
            if (_handleChineseChars && IsChineseChar(rune.Value))
            {
                output.Add(' ');
                AppendStrippedAndLowered(rune, ref output); // compatibility ideographs (U+F900..) still decompose
                output.Add(' ');
                continue;
            }
            AppendStrippedAndLowered(rune, ref output);
        }
    }

    /// <summary>
    /// The whole normalizer restricted to ASCII, where it only removes controls, turns tab/CR/LF into spaces and lowers
    /// A-Z (nothing decomposes, nothing is an ideograph), done with vectorized span operations.
    /// </summary>
    private void AppendAscii(ReadOnlySpan<char> ascii, ref PooledBuffer<char> output)
    {
        int start = output.Count;
        Span<char> written = output.AppendSpan(ascii.Length);
        if (_lowercase) Ascii.ToLower(ascii, written, out _);
        else ascii.CopyTo(written);
        if (!_cleanText) return;
        written.Replace('\n', ' ');
        written.Replace('\r', ' ');
        written.Replace('\t', ' ');
        if (written.IndexOfAnyInRange('\0', '\x1F') < 0 && !written.Contains('\x7F')) return;
        int kept = 0; // rare: other C0 controls or DEL, which clean_text removes
        foreach (char c in written)
            if (c >= 0x20 && c != 0x7F) written[kept++] = c;
        output.Truncate(start + kept);
    }

    private void AppendStrippedAndLowered(Rune rune, ref PooledBuffer<char> output)
    {
        if (!_stripAccents)
        {
            AppendLowered(rune, ref output);
            return;
        }
        Span<char> decomposed = stackalloc char[UnicodeDecomposition.MaxChars];
        int length = UnicodeDecomposition.Decompose(rune.Value, decomposed);
        for (int j = 0; j < length;)
        {
            Rune.DecodeFromUtf16(decomposed[j..length], out Rune part, out int used);
            j += used;
            if (Rune.GetUnicodeCategory(part) != UnicodeCategory.NonSpacingMark) AppendLowered(part, ref output);
        }
    }

    private void AppendLowered(Rune rune, ref PooledBuffer<char> output)
    {
        if (_lowercase)
        {
            // Rust's full lower-case mapping has one multi-char case (SpecialCasing.txt): U+0130 -> "i\u0307".
            // .NET's invariant lower-casing leaves U+0130 unchanged, so it is handled here.
            if (rune.Value == 0x130) { output.Add('i'); output.Add('\u0307'); return; }
            rune = Rune.ToLowerInvariant(rune);
        }
        Span<char> utf16 = stackalloc char[2];
        output.Add(utf16[..rune.EncodeToUtf16(utf16)]);
    }

    /// <summary>Rust <c>char::is_other</c> minus \t \n \r: Cc, Cf, Cs, Co, Cn.</summary>
    private static bool IsControl(Rune rune) => Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;

    /// <summary>The CJK Unified Ideographs blocks exactly as in tokenizers' <c>is_chinese_char</c> (Hangul, kana are not included).</summary>
    public static bool IsChineseChar(int cp) =>
        cp is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F)
           or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
