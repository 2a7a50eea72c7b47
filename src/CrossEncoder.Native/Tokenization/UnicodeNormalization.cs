using System.Text;

namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// Unicode normalization forms NFD, NFKD, NFC, NFKC (UAX #15) from our own tables, for tokenizer.json's NFC/NFD/NFKC/NFKD
/// normalizers.
/// </summary>
/// <remarks>
/// <para>Why not <see cref="string.Normalize(NormalizationForm)"/>: this solution runs with <c>InvariantGlobalization</c>, where
/// .NET has no ICU and leaves non-ASCII text unchanged (checked: "é".Normalize(FormD) keeps one char, "ﬁ" stays under NFKC).
/// The tables in <c>UnicodeNormalization.Data.cs</c> come from Python's unicodedata via tools/unicode/make_normalization_tables.py
/// (the Unicode version is in <see cref="TableUnicodeVersion"/>); Hangul syllables are (de)composed arithmetically.</para>
/// <para>Algorithm: decompose every code point fully (canonical, or compatibility for the K forms), put each run of
/// non-starters in canonical order (stable sort by combining class), and for NFC/NFKC recompose: a character joins the last
/// starter when a primary composite exists and no character between them is a starter or has a combining class at least
/// its own.</para>
/// </remarks>
internal static partial class UnicodeNormalization
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, LCount = 19, VCount = 21, TCount = 28;
    private const int NCount = VCount * TCount, SCount = LCount * NCount;

    public static string Normalize(string text, NormalizationForm form)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Ascii.IsValid(text)) return text;   // ASCII is invariant under every form
        bool compatibility = form is NormalizationForm.FormKC or NormalizationForm.FormKD;
        bool compose = form is NormalizationForm.FormC or NormalizationForm.FormKC;

        var codePoints = new List<int>(text.Length + 8);
        foreach (Rune rune in text.EnumerateRunes()) Decompose(rune.Value, compatibility, codePoints);
        Reorder(codePoints);
        if (compose) Compose(codePoints);

        var builder = new StringBuilder(codePoints.Count + 4);
        foreach (int cp in codePoints) builder.Append(char.ConvertFromUtf32(cp));
        return builder.ToString();
    }

    /// <summary>Canonical combining class of a code point (0 for starters).</summary>
    public static int CombiningClass(int cp)
    {
        int i = CombiningClassKeys.BinarySearch(cp);
        return i >= 0 ? CombiningClassValues[i] : 0;
    }

    private static void Decompose(int cp, bool compatibility, List<int> output)
    {
        int s = cp - SBase;
        if ((uint)s < SCount)
        {
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
            return;
        }
        if (compatibility && Lookup(CompatibilityKeys, CompatibilityOffsets, CompatibilityData, cp, output)) return;
        if (Lookup(CanonicalKeys, CanonicalOffsets, CanonicalData, cp, output)) return;
        output.Add(cp);
    }

    private static bool Lookup(ReadOnlySpan<int> keys, ReadOnlySpan<int> offsets, ReadOnlySpan<int> data, int cp, List<int> output)
    {
        int i = keys.BinarySearch(cp);
        if (i < 0) return false;
        foreach (int part in data[offsets[i]..offsets[i + 1]]) output.Add(part);
        return true;
    }

    /// <summary>Canonical ordering: a stable insertion sort of each run of non-starters by combining class.</summary>
    private static void Reorder(List<int> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int cc = CombiningClass(cps[i]);
            if (cc == 0) continue;
            int j = i;
            while (j > 0 && CombiningClass(cps[j - 1]) > cc)
            {
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
                j--;
            }
        }
    }

    private static void Compose(List<int> cps)
    {
        if (cps.Count == 0) return;
        var output = new List<int>(cps.Count);
        int starter = -1, lastClass = 0;
        foreach (int cp in cps)
        {
            int cc = CombiningClass(cp);
            if (starter >= 0)
            {
                bool adjacent = output.Count - 1 == starter;
                bool blocked = !adjacent && (lastClass == 0 || lastClass >= cc);
                if (!blocked && Composite(output[starter], cp) is int composed)
                {
                    output[starter] = composed;
                    continue;
                }
            }
            if (cc == 0) starter = output.Count;
            lastClass = cc;
            output.Add(cp);
        }
        cps.Clear();
        cps.AddRange(output);
    }

    private static int? Composite(int first, int second)
    {
        int l = first - LBase, v = second - VBase;
        if ((uint)l < LCount && (uint)v < VCount) return SBase + (l * VCount + v) * TCount;
        int s = first - SBase, t = second - TBase;
        if ((uint)s < SCount && s % TCount == 0 && t > 0 && t < TCount) return first + t;
        int i = CompositionPairs.BinarySearch(((long)first << 21) | (uint)second);
        return i >= 0 ? CompositionResults[i] : null;
    }
}
