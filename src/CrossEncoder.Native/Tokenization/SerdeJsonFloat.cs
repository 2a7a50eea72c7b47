namespace CrossEncoder.Native.Tokenization;

/// <summary>
/// Reads a JSON number the way Hugging Face tokenizers does: with serde_json's default ("best-effort", no
/// <c>float_roundtrip</c>) float parsing, which is not always correctly rounded.
/// </summary>
/// <remarks>
/// <para>Why it matters: Unigram scores in tokenizer.json are written with 17 significant digits; serde_json accumulates the
/// digits in a u64, converts that to f64 (rounding once when it exceeds 2^53) and divides by the power of ten (rounding
/// again), so e.g. -9.307478904724121 becomes -0x1.29d6ddfffffffp+3 instead of the correctly rounded -0x1.29d6de0000000p+3.
/// Viterbi compares path scores with a strict "greater than", so a one-ulp difference changes which of two equal-looking
/// segmentations wins (seen on a run of 101 identical emoji in the fixtures). .NET's parser rounds correctly, hence this port.</para>
/// <para>The algorithm (serde_json de.rs, parse_integer / parse_decimal / parse_exponent / f64_from_parts): integer digits
/// accumulate into a u64 while they fit, further ones only raise the exponent; fraction digits accumulate while they fit
/// (each lowers the exponent), further ones are ignored; an exponent part adds to the exponent. Then f = (f64)significand,
/// multiplied or divided by 10^|exponent| from a table of f64 powers 1e0..1e308 (dividing by 1e308 first while the exponent
/// is below -308).</para>
/// </remarks>
internal static class SerdeJsonFloat
{
    private static readonly double[] Pow10 = Enumerable.Range(0, 309).Select(k => double.Parse($"1e{k}", System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>Parses the raw JSON number text (as <c>JsonElement.GetRawText()</c> returns it).</summary>
    public static double Parse(ReadOnlySpan<char> text)
    {
        int i = 0;
        bool positive = true;
        if (i < text.Length && text[i] == '-') { positive = false; i++; }
        ulong significand = 0;
        long exponent = 0;
        // Integer digits.
        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            ulong digit = (ulong)(text[i] - '0');
            if (significand > (ulong.MaxValue - digit) / 10) exponent++;   // parse_long_integer: extra digits scale
            else significand = significand * 10 + digit;
            i++;
        }
        if (i < text.Length && text[i] == '.')
        {
            i++;
            bool overflowed = false;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                ulong digit = (ulong)(text[i] - '0');
                if (!overflowed && significand <= (ulong.MaxValue - digit) / 10 && exponent <= 0)
                {
                    significand = significand * 10 + digit;
                    exponent--;
                }
                else overflowed = true;                                      // parse_decimal_overflow: ignored
                i++;
            }
        }
        if (i < text.Length && (text[i] == 'e' || text[i] == 'E'))
        {
            i++;
            bool positiveExponent = true;
            if (i < text.Length && (text[i] == '+' || text[i] == '-')) { positiveExponent = text[i] == '+'; i++; }
            long value = 0;
            while (i < text.Length && char.IsAsciiDigit(text[i])) { value = Math.Min(value * 10 + (text[i] - '0'), 100_000); i++; }
            exponent += positiveExponent ? value : -value;
        }

        double f = significand;
        while (true)
        {
            long magnitude = Math.Abs(exponent);
            if (magnitude < Pow10.Length)
            {
                if (exponent >= 0) f *= Pow10[magnitude];
                else f /= Pow10[magnitude];
                break;
            }
            if (f == 0 || exponent >= 0) break;   // serde_json errors on overflow; scores never get there
            f /= 1e308;
            exponent += 308;
        }
        return positive ? f : -f;
    }
}
