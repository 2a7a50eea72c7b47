namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// Canonical decomposition (the per-character part of Unicode NFD), needed to strip accents the way Hugging Face does:
/// "é" (U+00E9) -> "e" + U+0301, after which the non-spacing mark is dropped.
/// </summary>
/// <remarks>
/// Why not <see cref="string.Normalize(System.Text.NormalizationForm)"/>: with <c>InvariantGlobalization</c> (this solution's
/// setting, and common in containers) .NET leaves non-ASCII text unchanged, so "café" would keep its accent. The table in
/// <c>UnicodeDecomposition.Data.cs</c> is generated from ICU by tools/reference-tokenizer/make-nfd-table.mjs; Hangul syllables
/// are decomposed arithmetically (Unicode §3.12). Canonical reordering of combining marks is not applied: the tokenizer removes
/// every non-spacing mark right after decomposing, and reordering only moves marks among themselves.
/// </remarks>
internal static partial class UnicodeDecomposition
{
    private const int HangulSBase = 0xAC00, HangulLBase = 0x1100, HangulVBase = 0x1161, HangulTBase = 0x11A7;
    private const int HangulTCount = 28, HangulNCount = 21 * 28, HangulSCount = 19 * HangulNCount;

    /// <summary>Writes the full canonical decomposition of <paramref name="codePoint"/> (itself when it has none); returns the number of chars written (at most <see cref="MaxChars"/>).</summary>
    public static int Decompose(int codePoint, Span<char> destination)
    {
        int s = codePoint - HangulSBase;
        if ((uint)s < HangulSCount)
        {
            destination[0] = (char)(HangulLBase + s / HangulNCount);
            destination[1] = (char)(HangulVBase + s % HangulNCount / HangulTCount);
            int t = s % HangulTCount;
            if (t == 0) return 2;
            destination[2] = (char)(HangulTBase + t);
            return 3;
        }
        if (codePoint >= 0xC0) // nothing below U+00C0 decomposes
        {
            int index = Keys.BinarySearch(codePoint);
            if (index >= 0)
            {
                ReadOnlySpan<char> value = Values.AsSpan(Offsets[index], Offsets[index + 1] - Offsets[index]);
                value.CopyTo(destination);
                return value.Length;
            }
        }
        return new System.Text.Rune(codePoint).EncodeToUtf16(destination);
    }

    /// <summary>Upper bound on the UTF-16 length of one code point's decomposition (the longest in Unicode is 4 code points).</summary>
    public const int MaxChars = 8;
}
