using System.Globalization;
using System.Text;

namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// Traces a normalizer's output back to the original text, as Hugging Face's <c>NormalizedString</c> alignments do, for
/// character offsets. Only the offsets path uses it: encoding without offsets never calls it.
/// </summary>
/// <remarks>
/// <para>The text is cut into grapheme clusters (the unit SentencePiece's precompiled charsmap maps; ASCII runs whose
/// length the normalizer keeps go at once) and each cluster is normalized on its own. Within a cluster that normalization
/// changes, output code point k is traced to source code point k, or to the last one when none is left (inserted characters
/// share the previous one's alignment: "ﬁ" -> "fi" both traced to "ﬁ"), by position even when canonical ordering moved a
/// mark; for Unicode normalization forms, a composition absorbs the sources right after the first one (NFC "e" + U+0301 +
/// U+0302 -> "é" + U+0302, traced to "e" and to U+0302). This is tokenizers' alignment for these transforms;
/// lower-casing, accent stripping, clean-up and CJK spacing are per code point; removed characters are traced to
/// nothing. Checked against tokenizers' offsets (OffsetsReferenceTests).</para>
/// <para>Normalizing cluster by cluster must give the whole text's normalization; a normalizer that looks further (a
/// multi-character Replace, a composition across clusters such as Hangul jamo) fails that check, and then the text is cut
/// only before ASCII characters (coarser pieces, each traced to its whole range), and failing that every output unit is
/// traced to the whole text.</para>
/// </remarks>
internal static class NormalizationTrace
{
    /// <summary><paramref name="text"/> normalized, each unit traced to a range of <paramref name="text"/>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="normalize">The normalizer.</param>
    /// <param name="composesIntoFirst">A Unicode normalization form: compositions absorb the marks after a cluster's first character.</param>
    /// <param name="perCodePoint">The normalizer maps each code point on its own (BertNormalizer): clusters are single code points.</param>
    public static TracedWord Normalize(string text, Func<string, string> normalize, bool composesIntoFirst = false, bool perCodePoint = false)
    {
        string whole = normalize(text);
        return ByClusters(text, normalize, whole, composesIntoFirst, perCodePoint)
            ?? ByAsciiCuts(text, normalize, whole)
            ?? new TracedWord(whole, new int[whole.Length], Enumerable.Repeat(text.Length, whole.Length).ToArray());
    }

    /// <summary>text[start..end] normalized by <paramref name="normalizer"/>, traced to ranges of <paramref name="text"/>.</summary>
    public static TracedWord Normalize(string text, int start, int end, TextNormalizer normalizer) =>
        normalizer.NormalizeTraced(text[start..end]).Through(TracedWord.Substring(text, start, end));

    private static TracedWord? ByClusters(string text, Func<string, string> normalize, string whole, bool composesIntoFirst, bool perCodePoint)
    {
        int end = text.Length;
        var builder = new StringBuilder(whole.Length);
        var from = new List<int>(whole.Length);
        var to = new List<int>(whole.Length);
        var sourceStarts = new List<int>(4);   // the cluster's code points: where each starts in text
        for (int i = 0; i < end;)
        {
            // A run of ASCII characters (not the last one when a mark may follow it) at once: kept unit to unit when its
            // length is unchanged (lower-casing, tabs to spaces), else cluster by cluster.
            int run = i;
            while (run < end && text[run] < 0x80) run++;
            if (run < end) run--;
            if (run - i > 1)
            {
                string ascii = text[i..run];
                string normalizedRun = normalize(ascii);
                if (normalizedRun.Length == ascii.Length)
                {
                    builder.Append(normalizedRun);
                    for (int k = i; k < run; k++) { from.Add(k); to.Add(k + 1); }
                    i = run;
                    continue;
                }
            }
            int clusterEnd = i + (perCodePoint ? CodePointLength(text, i, end) : Math.Max(1, StringInfo.GetNextTextElementLength(text.AsSpan(i, end - i))));
            string cluster = text[i..clusterEnd];
            string normalized = normalize(cluster);
            builder.Append(normalized);
            sourceStarts.Clear();
            for (int k = i; k < clusterEnd; k += CodePointLength(text, k, clusterEnd)) sourceStarts.Add(k);
            int outputCodePoints = 0;
            for (int u = 0; u < normalized.Length; u += CodePointLength(normalized, u, normalized.Length)) outputCodePoints++;
            // Composition (n < m code points) absorbs the marks right after the first character.
            int absorbed = composesIntoFirst ? Math.Max(0, sourceStarts.Count - outputCodePoints) : 0;
            int codePoint = 0;
            for (int u = 0; u < normalized.Length; codePoint++)
            {
                int used = CodePointLength(normalized, u, normalized.Length);
                int source = Math.Min(codePoint == 0 ? 0 : codePoint + absorbed, sourceStarts.Count - 1);
                int sourceStart = sourceStarts[source];
                int sourceEnd = source + 1 < sourceStarts.Count ? sourceStarts[source + 1] : clusterEnd;
                if (normalized == cluster) { sourceStart = i + u; sourceEnd = sourceStart + used; }   // unchanged: unit to unit
                for (int k = 0; k < used; k++) { from.Add(sourceStart); to.Add(sourceEnd); }
                u += used;
            }
            i = clusterEnd;
        }
        return builder.ToString() == whole ? new TracedWord(whole, from.ToArray(), to.ToArray()) : null;
    }

    private static TracedWord? ByAsciiCuts(string text, Func<string, string> normalize, string whole)
    {
        int end = text.Length;
        var builder = new StringBuilder(whole.Length);
        var from = new List<int>(whole.Length);
        var to = new List<int>(whole.Length);
        for (int i = 0; i < end;)
        {
            int pieceEnd = i + 1;
            while (pieceEnd < end && text[pieceEnd] >= 0x80) pieceEnd++;   // up to the next ASCII character
            string piece = text[i..pieceEnd];
            string normalizedPiece = normalize(piece);
            builder.Append(normalizedPiece);
            if (normalizedPiece == piece)
            {
                TracedWord same = TracedWord.Substring(text, i, pieceEnd);
                from.AddRange(same.Start);
                to.AddRange(same.End);
            }
            else
                for (int k = 0; k < normalizedPiece.Length; k++) { from.Add(i); to.Add(pieceEnd); }
            i = pieceEnd;
        }
        return builder.ToString() == whole ? new TracedWord(whole, from.ToArray(), to.ToArray()) : null;
    }

    private static int CodePointLength(string text, int i, int end) =>
        char.IsHighSurrogate(text[i]) && i + 1 < end && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
}
